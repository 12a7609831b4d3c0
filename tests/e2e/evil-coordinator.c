/*
 * tests/e2e/evil-coordinator.c — a compromised coordinator, for the incident
 * tests (tests/e2e/incident-*.sh).
 *
 * It does what kura-server will do — build the signing package for an
 * approved intent: a PSBT spending synthetic coins of the wallet (funding
 * transactions made up here, paying the wallet's own receive addresses), the
 * intent's outputs and change, every input and the change updated from the
 * wallet descriptor (kura_wallet_create_psbt), and kura's records (intent,
 * approvals, optional policy and its signatures). With --tamper it does what
 * an attacker holding the coordinator would do instead: each mode is one of
 * the attacks of DESIGN.md's threat model, applied to an otherwise legitimate
 * package. The scripts check that kura-cold refuses each, with its reason.
 *
 *   evil-coordinator --descriptor DESC --intent FILE -o OUT
 *       [--tx-intent FILE]     build the transaction from this intent (default
 *                              the package's; lets the package carry a text
 *                              the builder could not parse)
 *       [--approval FILE]...   approval files, added in order, verbatim
 *       [--policy FILE] [--policy-sig FILE]...
 *       [--tamper MODE]        see `modes` below; default none
 *       [--fee SATS]           default 2000 (the change is 0.5 BTC, at change index 0)
 *       [--coins N]            how many coins to spend, default 2
 *       [--change-index I]     the change's index on the change branch, default 0
 *       [--seed TEXT]          makes the funding transactions unique
 *
 * Exit 0 written, 2 could not build (message on stderr).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kura/check.h"
#include "kura/descriptor.h"
#include "kura/hash.h"
#include "kura/intent.h"
#include "kura/keys.h"
#include "kura/psbt.h"
#include "kura/script.h"
#include "kura/sighash.h"
#include "kura/tx.h"
#include "kura/wallet.h"

#include "e2e-util.h"

#define MAX_FILES 64
#define MAX_COINS 16
#define MAX_PAYMENTS (KURA_INTENT_OUTPUTS_MAX + 4)
/* What moving value between outputs moves, in the modes that do. */
#define SKIM 1000000u
/* How much a lying input amount understates the coin. */
#define LIE 5000000u
/* The change of a legitimate package. */
#define CHANGE 50000000u

static const char *const modes[] = {
    "none",
    "swap-destination",     /* intent output 0 paid to the attacker instead */
    "amount-changed",       /* intent output 0 gets SKIM more, change SKIM less */
    "output-added",         /* an extra output of SKIM to the attacker, from change */
    "output-dropped",       /* the last intent output left out, its amount kept as change */
    "output-duplicated",    /* intent output 0 paid twice, from change */
    "change-foreign",       /* change paid to the attacker, with the real change's derivation */
    "change-unclaimed",     /* change paid to the attacker, no derivation records */
    "change-receive",       /* change to the wallet's receive branch (index 7) */
    "change-beyond-gap",    /* change at index 2^31-1 of the change branch */
    "change-outside-path",  /* change to the wallet's keys at .../7/0, off both branches */
    "fake-derivation",      /* an added attacker output claiming to be change index 3 */
    "input-amount-lie",     /* input 0's witness UTXO understates it by LIE; funding tx kept */
    "input-amount-lie-nofunding", /* the same, with no funding transactions at all */
    "foreign-input",        /* an extra input spending someone else's coin */
    "sighash-single-acp",   /* input 0 asks for SIGHASH_SINGLE|ANYONECANPAY */
    "sighash-none",         /* input 0 asks for SIGHASH_NONE */
    "unknown-input-field",  /* input 0 carries a record of a type kura does not know */
    "locktime",             /* nLockTime 500000 */
    "sequence",             /* input 0's nSequence 10 (a relative lock time) */
    "tx-version",           /* transaction version 3 */
    "foreign-leaf",         /* input 0 carries a tapscript leaf the wallet does not have */
    "unknown-kura-record",  /* a kura record of an unknown subtype */
    "no-intent",            /* the intent record left out */
    "malleate-approval",    /* approval 1 (ECDSA) added again as (r, n - s) */
    "psbt-v2",              /* the same package as a BIP370 version 2 PSBT */
    NULL,
};

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int fail(const char *fmt, ...)
{
    va_list ap;
    fputs("evil-coordinator: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return 2;
}

/* ---- base64 and SSHSIG surgery, for the malleated ECDSA approval ---- */

static const char b64chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static size_t b64_decode(uint8_t *out, const char *in, size_t in_len)
{
    uint32_t acc = 0;
    int bits = 0;
    size_t n = 0;
    for (size_t i = 0; i < in_len; i++) {
        const char *p = in[i] != '\0' ? strchr(b64chars, in[i]) : NULL;
        if (p == NULL) continue; /* newlines and '=' */
        acc = (acc << 6) | (uint32_t)(p - b64chars);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[n++] = (uint8_t)(acc >> bits);
        }
    }
    return n;
}

static size_t b64_encode(char *out, const uint8_t *in, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        if (i + 1 < len) v |= (uint32_t)in[i + 1] << 8;
        if (i + 2 < len) v |= in[i + 2];
        out[n++] = b64chars[(v >> 18) & 63];
        out[n++] = b64chars[(v >> 12) & 63];
        out[n++] = i + 1 < len ? b64chars[(v >> 6) & 63] : '=';
        out[n++] = i + 2 < len ? b64chars[v & 63] : '=';
    }
    return n;
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* Reads an SSH string at *off; returns its start and length, or -1. */
static int ssh_string(size_t *start, size_t *len, const uint8_t *b, size_t b_len, size_t *off)
{
    if (*off + 4 > b_len) return -1;
    *len = be32(b + *off);
    if (*len > b_len - *off - 4) return -1;
    *start = *off + 4;
    *off += 4 + *len;
    return 0;
}

/* Writes an SSH mpint of the 32-byte big-endian value v; returns its size. */
static size_t put_mpint(uint8_t *out, const uint8_t v[32])
{
    size_t skip = 0, n;
    while (skip < 32 && v[skip] == 0) skip++;
    n = 32 - skip;
    if (n > 0 && (v[skip] & 0x80)) {
        put_be32(out, (uint32_t)n + 1);
        out[4] = 0;
        memcpy(out + 5, v + skip, n);
        return 5 + n;
    }
    put_be32(out, (uint32_t)n);
    memcpy(out + 4, v + skip, n);
    return 4 + n;
}

/* The ECDSA P-256 approval `armor` with its s replaced by n - s: a second,
 * different-looking signature by the same key over the same bytes. A
 * coordinator that counts approvals by their bytes would count it twice. */
static char *malleate(const uint8_t *armor, size_t armor_len)
{
    static const uint8_t order[32] = { /* of the P-256 group */
        0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff,
        0xff, 0xff, 0xff, 0xff, 0xff, 0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17,
        0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51};
    static const char begin[] = "-----BEGIN SSH SIGNATURE-----\n";
    static const char end[] = "-----END SSH SIGNATURE-----\n";
    uint8_t blob[4096], out[4096], r[32], s[32], ns[32];
    size_t blob_len, off = 6 + 4, st, ln, sig_start, sig_len, o;
    size_t inner_off, t_start, t_len, rs_start, rs_len, r_start, r_len, s_start, s_len;
    const char *a = (const char *)armor;
    char *text;

    if (armor_len > 3000 || armor_len < sizeof(begin)) return NULL;
    blob_len = b64_decode(blob, a + sizeof(begin) - 1, armor_len - (sizeof(begin) - 1));
    /* base64 of the END line's letters decodes to junk after the blob; the
     * blob's own fields say where it ends. */
    if (blob_len < 10 || memcmp(blob, "SSHSIG", 6) != 0) return NULL;
    for (int field = 0; field < 4; field++) /* key, namespace, reserved, hash */
        if (ssh_string(&st, &ln, blob, blob_len, &off) != 0) return NULL;
    sig_start = off;
    if (ssh_string(&st, &sig_len, blob, blob_len, &off) != 0 || sig_len == 0) return NULL;
    blob_len = off;
    inner_off = st;
    if (ssh_string(&t_start, &t_len, blob, blob_len, &inner_off) != 0 ||
        t_len != strlen("ecdsa-sha2-nistp256") ||
        memcmp(blob + t_start, "ecdsa-sha2-nistp256", t_len) != 0)
        return NULL;
    if (ssh_string(&rs_start, &rs_len, blob, blob_len, &inner_off) != 0) return NULL;
    o = rs_start;
    if (ssh_string(&r_start, &r_len, blob, blob_len, &o) != 0 ||
        ssh_string(&s_start, &s_len, blob, blob_len, &o) != 0)
        return NULL;
    if (r_len > 33 || s_len > 33) return NULL;
    memset(r, 0, 32);
    memset(s, 0, 32);
    memcpy(r + 32 - (r_len > 32 ? 32 : r_len), blob + r_start + (r_len > 32 ? 1 : 0),
           r_len > 32 ? 32 : r_len);
    memcpy(s + 32 - (s_len > 32 ? 32 : s_len), blob + s_start + (s_len > 32 ? 1 : 0),
           s_len > 32 ? 32 : s_len);
    { /* ns = order - s */
        int borrow = 0;
        for (int i = 31; i >= 0; i--) {
            int d = (int)order[i] - (int)s[i] - borrow;
            borrow = d < 0;
            ns[i] = (uint8_t)(d + (borrow ? 256 : 0));
        }
    }
    /* Rebuild: everything before the signature, then the new signature blob. */
    {
        uint8_t rs[80], sigblob[160];
        size_t rs_n = 0, sb = 0, total;
        rs_n += put_mpint(rs + rs_n, r);
        rs_n += put_mpint(rs + rs_n, ns);
        put_be32(sigblob, (uint32_t)t_len);
        memcpy(sigblob + 4, blob + t_start, t_len);
        sb = 4 + t_len;
        put_be32(sigblob + sb, (uint32_t)rs_n);
        memcpy(sigblob + sb + 4, rs, rs_n);
        sb += 4 + rs_n;
        memcpy(out, blob, sig_start);
        put_be32(out + sig_start, (uint32_t)sb);
        memcpy(out + sig_start + 4, sigblob, sb);
        total = sig_start + 4 + sb;
        {
            char b64[8192];
            size_t b64_len = b64_encode(b64, out, total), pos = 0, at;
            text = malloc(sizeof(begin) + sizeof(end) + b64_len + b64_len / 70 + 2);
            if (text == NULL) return NULL;
            memcpy(text, begin, sizeof(begin) - 1);
            at = sizeof(begin) - 1;
            while (pos < b64_len) {
                size_t n = b64_len - pos > 70 ? 70 : b64_len - pos;
                memcpy(text + at, b64 + pos, n);
                at += n;
                text[at++] = '\n';
                pos += n;
            }
            memcpy(text + at, end, sizeof(end));
        }
    }
    return text;
}

/* ---- PSBT surgery ---- */

static int read_compact(uint64_t *v, const uint8_t *b, size_t len, size_t *off)
{
    if (*off >= len) return -1;
    uint8_t first = b[(*off)++];
    size_t n = first < 0xfd ? 0 : first == 0xfd ? 2 : first == 0xfe ? 4 : 8;
    if (n == 0) {
        *v = first;
        return 0;
    }
    if (*off + n > len) return -1;
    *v = 0;
    for (size_t i = 0; i < n; i++) *v |= (uint64_t)b[*off + i] << (8 * i);
    *off += n;
    return 0;
}

/* Skips one key-value map; *off ends just past its 0x00 separator, *sep at it. */
static int skip_map(const uint8_t *b, size_t len, size_t *off, size_t *sep)
{
    for (;;) {
        uint64_t klen, vlen;
        size_t at = *off;
        if (read_compact(&klen, b, len, off) != 0) return -1;
        if (klen == 0) {
            *sep = at;
            return 0;
        }
        if (klen > len - *off) return -1;
        *off += (size_t)klen;
        if (read_compact(&vlen, b, len, off) != 0 || vlen > len - *off) return -1;
        *off += (size_t)vlen;
    }
}

/* Inserts, at the end of input 0's map, a record of key type 0x40 — a type
 * BIP174 does not define — that a signer might hash or act upon. The PSBT API
 * cannot add one (it only keeps what it parses), so it goes in as bytes. */
static int add_unknown_input_record(uint8_t **bytes, size_t *len)
{
    static const uint8_t rec[] = {0x01, 0x40, 0x04, 'e', 'v', 'i', 'l'};
    size_t off = 5, sep;
    uint8_t *n;
    if (skip_map(*bytes, *len, &off, &sep) != 0) return -1; /* global */
    if (skip_map(*bytes, *len, &off, &sep) != 0) return -1; /* input 0 */
    n = malloc(*len + sizeof(rec));
    if (n == NULL) return -1;
    memcpy(n, *bytes, sep);
    memcpy(n + sep, rec, sizeof(rec));
    memcpy(n + sep + sizeof(rec), *bytes + sep, *len - sep);
    free(*bytes);
    *bytes = n;
    *len += sizeof(rec);
    return 0;
}

/* Records on output `index` that claim it derives from `work` (a derivation
 * of the wallet): BIP32 origins, or for taproot the internal key and its
 * origin. Nothing checks the claim here — that is the point. */
static int claim_derivation(kura_psbt *psbt, size_t index, const kura_descriptor_output *work)
{
    int rc = KURA_OK;
    if (work->is_taproot) {
        rc = kura_psbt_output_set_tap_internal_key(psbt, index, work->internal_key);
        for (size_t k = 0; rc == KURA_OK && k < work->n_keys; k++) {
            const kura_descriptor_key_info *ki = &work->keys[k];
            const uint8_t *leaf = ki->leaf == KURA_DESCRIPTOR_NO_LEAF
                                      ? NULL
                                      : work->leaves[ki->leaf].leaf_hash;
            rc = kura_psbt_output_add_tap_bip32(psbt, index, ki->pubkey, leaf, leaf ? 1 : 0,
                                                ki->fingerprint, ki->path, ki->path_len);
        }
        return rc;
    }
    if (work->scripts[0].witness_script != NULL)
        rc = kura_psbt_output_set_witness_script(psbt, index, work->scripts[0].witness_script,
                                                 work->scripts[0].witness_script_len);
    for (size_t k = 0; rc == KURA_OK && k < work->n_keys; k++) {
        const kura_descriptor_key_info *ki = &work->keys[k];
        rc = kura_psbt_output_add_bip32(psbt, index, ki->pubkey, ki->pubkey_len, ki->fingerprint,
                                        ki->path, ki->path_len);
    }
    return rc;
}

/* ---- the builder ---- */

typedef struct build {
    kura_ctx *ctx;
    kura_descriptor *desc;
    kura_descriptor_output *work;
    kura_network network;
    const char *mode;
    kura_wallet_coin coins[MAX_COINS];
    kura_tx *funding[MAX_COINS];
    size_t coin_count;
    kura_wallet_payment payments[MAX_PAYMENTS];
    size_t payment_count;
    uint64_t change;
    uint32_t change_index;
    uint8_t attacker[KURA_SCRIPT_PUBKEY_MAX];
    size_t attacker_len;
    uint8_t extra[KURA_SCRIPT_PUBKEY_MAX]; /* a second made-up script, per mode */
    size_t extra_len;
    kura_error err;
} build;

static int is(const build *b, const char *mode)
{
    return strcmp(b->mode, mode) == 0;
}

/* The attacker's own P2WPKH (key 0x66..66): where stolen coins go. */
static int attacker_script(build *b)
{
    uint8_t priv[32], pub[33], h[20];
    memset(priv, 0x66, sizeof(priv));
    if (kura_pubkey_from_privkey(b->ctx, pub, priv) != KURA_OK ||
        kura_hash160(h, pub, 33) != KURA_OK)
        return -1;
    return kura_script_p2wpkh(b->attacker, sizeof(b->attacker), &b->attacker_len, h) == KURA_OK
               ? 0
               : -1;
}

/* A funding transaction paying `amount` to the wallet's receive address i. */
static int make_coin(build *b, size_t i, uint64_t amount, const char *seed, int with_funding)
{
    uint8_t prev[32];
    char tag[256];
    kura_wallet_coin *c = &b->coins[i];
    snprintf(tag, sizeof(tag), "%s/%zu", seed, i);
    kura_sha256(prev, (const uint8_t *)tag, strlen(tag));
    if (e2e_funding_tx(&b->funding[i], b->ctx, b->desc, KURA_DESCRIPTOR_BRANCH_RECEIVE,
                       (uint32_t)i, prev, (uint32_t)i, amount, &b->err) != 0 ||
        kura_tx_txid(c->txid, b->funding[i]) != KURA_OK)
        return -1;
    c->vout = 0;
    c->amount = amount;
    c->branch = KURA_DESCRIPTOR_BRANCH_RECEIVE;
    c->index = (uint32_t)i;
    c->prev_tx = with_funding ? b->funding[i] : NULL;
    c->sequence = 0;
    return 0;
}

static int add_payment(build *b, const uint8_t *script, size_t len, uint64_t amount)
{
    if (b->payment_count >= MAX_PAYMENTS) return -1;
    b->payments[b->payment_count].script_pubkey = script;
    b->payments[b->payment_count].script_pubkey_len = len;
    b->payments[b->payment_count].amount = amount;
    b->payment_count++;
    return 0;
}

/* Moves SKIM sats out of the change (for an output the attacker adds). */
static int take_skim(build *b)
{
    if (b->change < SKIM) return fail("mode %s needs a change of at least %u sat", b->mode, SKIM);
    b->change -= SKIM;
    return 0;
}

/* The transaction by hand, for what kura_wallet_create_psbt will not make:
 * another transaction version, or an input that is not the wallet's. */
static int build_by_hand(build *b, kura_psbt **out, uint32_t version, const kura_tx *foreign,
                         const kura_descriptor *foreign_desc)
{
    kura_tx *tx = kura_tx_new();
    size_t n_in = 0;
    int rc = -1;
    if (tx == NULL) return -1;
    tx->version = version;
    for (size_t i = 0; i < b->coin_count; i++, n_in++)
        if (kura_tx_add_input(tx, b->coins[i].txid, b->coins[i].vout, 0xfffffffdu, NULL, 0) !=
            KURA_OK)
            goto done;
    if (foreign != NULL) {
        uint8_t txid[32];
        kura_tx_txid(txid, foreign);
        if (kura_tx_add_input(tx, txid, 0, 0xfffffffdu, NULL, 0) != KURA_OK) goto done;
    }
    for (size_t i = 0; i < b->payment_count; i++)
        if (kura_tx_add_output(tx, b->payments[i].amount, b->payments[i].script_pubkey,
                               b->payments[i].script_pubkey_len) != KURA_OK)
            goto done;
    if (b->change > 0) {
        uint8_t script[KURA_SCRIPT_PUBKEY_MAX];
        size_t len;
        if (kura_descriptor_script_pubkey(b->ctx, script, sizeof(script), &len, b->desc,
                                          KURA_DESCRIPTOR_BRANCH_CHANGE, b->change_index,
                                          &b->err) != KURA_OK ||
            kura_tx_add_output(tx, b->change, script, len) != KURA_OK)
            goto done;
    }
    if (kura_psbt_from_tx(out, tx, 0, &b->err) != KURA_OK) goto done;
    for (size_t i = 0; i < b->coin_count; i++)
        if (kura_wallet_update_input(b->ctx, *out, i, b->work, b->desc, b->coins[i].branch,
                                     b->coins[i].index, b->coins[i].amount, b->coins[i].prev_tx,
                                     &b->err) != KURA_OK)
            goto done;
    if (foreign != NULL &&
        kura_wallet_update_input(b->ctx, *out, n_in, b->work, foreign_desc,
                                 KURA_DESCRIPTOR_BRANCH_RECEIVE, 0, foreign->outputs[0].amount,
                                 foreign, &b->err) != KURA_OK)
        goto done;
    if (b->change > 0 &&
        kura_wallet_update_output(b->ctx, *out, b->payment_count, b->work, b->desc,
                                  KURA_DESCRIPTOR_BRANCH_CHANGE, b->change_index,
                                  &b->err) != KURA_OK)
        goto done;
    rc = 0;
done:
    if (rc != 0) {
        kura_psbt_free(*out);
        *out = NULL;
    }
    kura_tx_free(tx);
    return rc;
}

/* Someone else's coin: wpkh of a key the wallet does not hold, 0.1 BTC. */
static int foreign_coin(build *b, kura_descriptor **fdesc, kura_tx **ftx)
{
    uint8_t seed[32], prev[32];
    kura_bip32_key master, pub;
    char xpub[KURA_BIP32_SERIALIZED_LEN], text[256];
    memset(seed, 0x77, sizeof(seed));
    memset(prev, 0x78, sizeof(prev));
    if (kura_bip32_from_seed(b->ctx, &master, seed, sizeof(seed), b->network) != KURA_OK) return -1;
    kura_bip32_neuter(&pub, &master);
    kura_bip32_wipe(&master);
    if (kura_bip32_serialize(xpub, sizeof(xpub), &pub, 0) != KURA_OK) return -1;
    snprintf(text, sizeof(text), "wpkh(%s/0/*)", xpub);
    if (kura_descriptor_parse(b->ctx, fdesc, text, strlen(text), &b->err) != KURA_OK) return -1;
    return e2e_funding_tx(ftx, b->ctx, *fdesc, 0, 0, prev, 0, 10000000u, &b->err);
}

/* The descriptor with its <0;1> steps replaced by <0;7>: same keys, same
 * script type, a branch the wallet never watches. */
static int outside_descriptor(build *b, kura_descriptor **out)
{
    char *text = NULL, *hash, *p;
    int rc = -1;
    if (kura_descriptor_to_string(b->ctx, &text, b->desc, KURA_DESCRIPTOR_ALL_BRANCHES,
                                  KURA_DESCRIPTOR_PUBLIC, &b->err) != KURA_OK)
        return -1;
    if ((hash = strchr(text, '#')) != NULL) *hash = '\0';
    for (p = text; (p = strstr(p, "<0;1>")) != NULL; p += 5) p[3] = '7';
    if (kura_descriptor_parse(b->ctx, out, text, strlen(text), &b->err) == KURA_OK) rc = 0;
    kura_descriptor_string_free(text);
    return rc;
}

int main(int argc, char **argv)
{
    const char *desc_text = NULL, *intent_path = NULL, *tx_intent_path = NULL, *out_path = NULL;
    const char *policy_path = NULL, *seed = "kura-e2e", *mode = "none";
    const char *approvals[MAX_FILES], *policy_sigs[MAX_FILES];
    size_t approval_count = 0, policy_sig_count = 0, coin_count = 2;
    uint64_t fee = 2000, total_in, extra_in = 0;
    uint32_t locktime = 0, change_index = 0;
    int rc = 2, known = 0;
    uint8_t *intent_bytes = NULL, *tx_intent_bytes = NULL, *bytes = NULL;
    size_t intent_len = 0, tx_intent_len = 0, bytes_len = 0;
    kura_intent *intent = NULL;
    kura_psbt *psbt = NULL;
    kura_descriptor *fdesc = NULL, *odesc = NULL;
    kura_tx *ftx = NULL;
    build b;

    memset(&b, 0, sizeof(b));
    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (v == NULL) return fail("%s needs a value", argv[i]);
        i++;
        if (strcmp(argv[i - 1], "--descriptor") == 0) desc_text = v;
        else if (strcmp(argv[i - 1], "--intent") == 0) intent_path = v;
        else if (strcmp(argv[i - 1], "--tx-intent") == 0) tx_intent_path = v;
        else if (strcmp(argv[i - 1], "-o") == 0) out_path = v;
        else if (strcmp(argv[i - 1], "--policy") == 0) policy_path = v;
        else if (strcmp(argv[i - 1], "--seed") == 0) seed = v;
        else if (strcmp(argv[i - 1], "--tamper") == 0) mode = v;
        else if (strcmp(argv[i - 1], "--approval") == 0 && approval_count < MAX_FILES)
            approvals[approval_count++] = v;
        else if (strcmp(argv[i - 1], "--policy-sig") == 0 && policy_sig_count < MAX_FILES)
            policy_sigs[policy_sig_count++] = v;
        else if (strcmp(argv[i - 1], "--fee") == 0) fee = strtoull(v, NULL, 10);
        else if (strcmp(argv[i - 1], "--coins") == 0) coin_count = strtoul(v, NULL, 10);
        else if (strcmp(argv[i - 1], "--change-index") == 0)
            change_index = (uint32_t)strtoul(v, NULL, 10);
        else return fail("unknown option %s", argv[i - 1]);
    }
    for (size_t m = 0; modes[m] != NULL; m++) known |= strcmp(modes[m], mode) == 0;
    if (!known) {
        fprintf(stderr, "evil-coordinator: unknown mode %s; modes:", mode);
        for (size_t m = 0; modes[m] != NULL; m++) fprintf(stderr, " %s", modes[m]);
        fputc('\n', stderr);
        return 2;
    }
    if (desc_text == NULL || intent_path == NULL || out_path == NULL)
        return fail("usage: --descriptor DESC --intent FILE -o OUT [options]");
    if (coin_count < 1 || coin_count > MAX_COINS) return fail("--coins: 1..%d", MAX_COINS);
    b.mode = mode;
    b.ctx = kura_ctx_new();
    b.work = kura_descriptor_output_new();
    if (b.ctx == NULL || b.work == NULL) {
        fail("out of memory");
        goto done;
    }
    if (kura_descriptor_parse(b.ctx, &b.desc, desc_text, strlen(desc_text), &b.err) != KURA_OK) {
        fail("descriptor: %s", b.err.message);
        goto done;
    }
    intent_bytes = e2e_read_file(intent_path, &intent_len);
    if (intent_bytes == NULL) {
        fail("cannot read %s: %s", intent_path, strerror(errno));
        goto done;
    }
    tx_intent_path = tx_intent_path != NULL ? tx_intent_path : intent_path;
    tx_intent_bytes = e2e_read_file(tx_intent_path, &tx_intent_len);
    if (tx_intent_bytes == NULL) {
        fail("cannot read %s: %s", tx_intent_path, strerror(errno));
        goto done;
    }
    if (kura_intent_parse(&intent, tx_intent_bytes, tx_intent_len, &b.err) != KURA_OK) {
        fail("%s: %s", tx_intent_path, b.err.message);
        goto done;
    }
    kura_intent_chain_network(&b.network, intent->chain);
    if (attacker_script(&b) != 0) {
        fail("cannot make the attacker's script");
        goto done;
    }

    /* Outputs: the intent's, in its order; then the mode moves value between
     * outputs or adds coins, so the fee stays `fee`, whatever the mode does. */
    for (size_t i = 0; i < intent->output_count; i++)
        add_payment(&b, intent->outputs[i].script, intent->outputs[i].script_len,
                    intent->outputs[i].amount);
    b.change = CHANGE;
    b.change_index = change_index;
    if (is(&b, "swap-destination")) {
        b.payments[0].script_pubkey = b.attacker;
        b.payments[0].script_pubkey_len = b.attacker_len;
    } else if (is(&b, "amount-changed")) {
        b.payments[0].amount += SKIM;
        if (take_skim(&b) != 0) goto done;
    } else if (is(&b, "output-added")) {
        add_payment(&b, b.attacker, b.attacker_len, SKIM);
        if (take_skim(&b) != 0) goto done;
    } else if (is(&b, "output-dropped")) {
        if (b.payment_count < 2) {
            fail("output-dropped needs an intent of two outputs or more");
            goto done;
        }
        b.change += b.payments[--b.payment_count].amount;
    } else if (is(&b, "output-duplicated")) {
        /* Paid from more coins, not from the change. */
        add_payment(&b, b.payments[0].script_pubkey, b.payments[0].script_pubkey_len,
                    b.payments[0].amount);
    } else if (is(&b, "change-foreign") || is(&b, "change-unclaimed")) {
        add_payment(&b, b.attacker, b.attacker_len, b.change);
        b.change = 0;
    } else if (is(&b, "change-receive")) {
        if (kura_descriptor_script_pubkey(b.ctx, b.extra, sizeof(b.extra), &b.extra_len, b.desc,
                                          KURA_DESCRIPTOR_BRANCH_RECEIVE, 7, &b.err) != KURA_OK) {
            fail("%s", b.err.message);
            goto done;
        }
        add_payment(&b, b.extra, b.extra_len, b.change);
        b.change = 0;
    } else if (is(&b, "change-beyond-gap")) {
        b.change_index = KURA_BIP32_HARDENED - 1;
    } else if (is(&b, "change-outside-path")) {
        if (outside_descriptor(&b, &odesc) != 0 ||
            kura_descriptor_script_pubkey(b.ctx, b.extra, sizeof(b.extra), &b.extra_len, odesc,
                                          KURA_DESCRIPTOR_BRANCH_CHANGE, 0, &b.err) != KURA_OK) {
            fail("%s", b.err.message);
            goto done;
        }
        add_payment(&b, b.extra, b.extra_len, b.change);
        b.change = 0;
    } else if (is(&b, "fake-derivation")) {
        add_payment(&b, b.attacker, b.attacker_len, SKIM);
        if (take_skim(&b) != 0) goto done;
    } else if (is(&b, "input-amount-lie") || is(&b, "input-amount-lie-nofunding")) {
        /* The coin really holds LIE more than the PSBT says and no output
         * gets it: the real fee is fee + LIE while the PSBT shows fee. */
        extra_in = LIE;
    } else if (is(&b, "locktime")) {
        locktime = 500000;
    }

    /* Coins: what the outputs and the fee need, split over coin_count
     * receive addresses. */
    total_in = fee + b.change + extra_in;
    for (size_t i = 0; i < b.payment_count; i++) total_in += b.payments[i].amount;
    b.coin_count = coin_count;
    for (size_t i = 0; i < coin_count; i++) {
        uint64_t amount = total_in / coin_count + (i == 0 ? total_in % coin_count : 0);
        if (make_coin(&b, i, amount, seed, !is(&b, "input-amount-lie-nofunding")) != 0) {
            fail("cannot make coin %zu: %s", i, b.err.message);
            goto done;
        }
    }
    if (is(&b, "sequence")) b.coins[0].sequence = 10;

    if (is(&b, "tx-version") || is(&b, "foreign-input")) {
        if (is(&b, "foreign-input")) {
            if (foreign_coin(&b, &fdesc, &ftx) != 0) {
                fail("cannot make the foreign coin: %s", b.err.message);
                goto done;
            }
            b.change += ftx->outputs[0].amount;
        }
        if (build_by_hand(&b, &psbt, is(&b, "tx-version") ? 3 : 2, ftx, fdesc) != 0) {
            fail("cannot build the transaction: %s", b.err.message);
            goto done;
        }
    } else if (kura_wallet_create_psbt(b.ctx, &psbt, b.desc, b.coins, b.coin_count, b.payments,
                                       b.payment_count, b.change, b.change_index, locktime,
                                       &b.err) != KURA_OK) {
        fail("kura_wallet_create_psbt: %s", b.err.message);
        goto done;
    }

    /* Tampering after the updater. */
    if (is(&b, "change-foreign") || is(&b, "fake-derivation")) {
        uint32_t index = is(&b, "fake-derivation") ? 3 : b.change_index;
        if (kura_descriptor_derive(b.ctx, b.work, b.desc, KURA_DESCRIPTOR_BRANCH_CHANGE, index,
                                   &b.err) != KURA_OK ||
            claim_derivation(psbt, b.payment_count - 1, b.work) != KURA_OK) {
            fail("cannot forge the change records");
            goto done;
        }
    } else if (is(&b, "change-receive")) {
        if (kura_wallet_update_output(b.ctx, psbt, b.payment_count - 1, b.work, b.desc,
                                      KURA_DESCRIPTOR_BRANCH_RECEIVE, 7, &b.err) != KURA_OK) {
            fail("%s", b.err.message);
            goto done;
        }
    } else if (is(&b, "change-outside-path")) {
        if (kura_wallet_update_output(b.ctx, psbt, b.payment_count - 1, b.work, odesc,
                                      KURA_DESCRIPTOR_BRANCH_CHANGE, 0, &b.err) != KURA_OK) {
            fail("%s", b.err.message);
            goto done;
        }
    } else if (is(&b, "input-amount-lie") || is(&b, "input-amount-lie-nofunding")) {
        const kura_txout *o = &b.funding[0]->outputs[0];
        if (kura_psbt_input_set_witness_utxo(psbt, 0, o->amount - LIE, o->script_pubkey.data,
                                             o->script_pubkey.len) != KURA_OK) {
            fail("cannot set the lying witness UTXO");
            goto done;
        }
    } else if (is(&b, "sighash-single-acp") || is(&b, "sighash-none")) {
        uint32_t t = is(&b, "sighash-none") ? KURA_SIGHASH_NONE
                                            : KURA_SIGHASH_SINGLE | KURA_SIGHASH_ANYONECANPAY;
        if (kura_psbt_input_set_sighash_type(psbt, 0, t) != KURA_OK) {
            fail("cannot set the sighash type");
            goto done;
        }
    } else if (is(&b, "foreign-leaf")) {
        /* <attacker x-only key> OP_CHECKSIG, under a control block naming the
         * attacker's key as internal key. */
        uint8_t priv[32], xonly[32], leaf[34], control[33];
        memset(priv, 0x66, sizeof(priv));
        if (kura_xonly_from_privkey(b.ctx, xonly, priv) != KURA_OK) goto done;
        leaf[0] = 0x20;
        memcpy(leaf + 1, xonly, 32);
        leaf[33] = 0xac;
        control[0] = KURA_TAPSCRIPT_LEAF_VERSION;
        memcpy(control + 1, xonly, 32);
        if (kura_psbt_input_add_tap_leaf_script(psbt, 0, control, sizeof(control), leaf,
                                                sizeof(leaf),
                                                KURA_TAPSCRIPT_LEAF_VERSION) != KURA_OK) {
            fail("cannot add the leaf");
            goto done;
        }
    } else if (is(&b, "psbt-v2")) {
        if (kura_psbt_set_version(psbt, 2, &b.err) != KURA_OK) {
            fail("cannot convert to PSBT version 2: %s", b.err.message);
            goto done;
        }
    } else if (is(&b, "unknown-kura-record")) {
        static const uint8_t kd[4] = {0, 0, 0, 1};
        if (kura_psbt_proprietary_set(psbt, (const uint8_t *)KURA_PACKAGE_IDENTIFIER, 4, 0x09, kd,
                                      sizeof(kd), (const uint8_t *)"evil", 4) != KURA_OK) {
            fail("cannot add the record");
            goto done;
        }
    }

    /* kura's records. */
    if (!is(&b, "no-intent") &&
        kura_package_set_intent(psbt, intent_bytes, intent_len) != KURA_OK) {
        fail("cannot set the intent");
        goto done;
    }
    for (size_t i = 0; i < approval_count; i++) {
        size_t len;
        uint8_t *sig = e2e_read_file(approvals[i], &len);
        int ok;
        if (sig == NULL) {
            fail("cannot read %s: %s", approvals[i], strerror(errno));
            goto done;
        }
        ok = kura_package_add_approval(psbt, sig, len) == KURA_OK;
        if (ok && i == 0 && is(&b, "malleate-approval")) {
            char *twin = malleate(sig, len);
            ok = twin != NULL && kura_package_add_approval(psbt, (const uint8_t *)twin,
                                                           strlen(twin)) == KURA_OK;
            if (twin == NULL) fail("approval 1 is not an ECDSA P-256 SSHSIG");
            free(twin);
        }
        free(sig);
        if (!ok) {
            fail("cannot add approval %s", approvals[i]);
            goto done;
        }
    }
    if (policy_path != NULL) {
        size_t len;
        uint8_t *text = e2e_read_file(policy_path, &len);
        int ok = text != NULL && kura_package_set_policy(psbt, text, len) == KURA_OK;
        free(text);
        if (!ok) {
            fail("cannot add the policy %s", policy_path);
            goto done;
        }
    }
    for (size_t i = 0; i < policy_sig_count; i++) {
        size_t len;
        uint8_t *sig = e2e_read_file(policy_sigs[i], &len);
        int ok = sig != NULL && kura_package_add_policy_signature(psbt, sig, len) == KURA_OK;
        free(sig);
        if (!ok) {
            fail("cannot add the policy signature %s", policy_sigs[i]);
            goto done;
        }
    }

    if (kura_psbt_serialize(&bytes, &bytes_len, psbt) != KURA_OK) {
        fail("cannot serialise");
        goto done;
    }
    if (is(&b, "unknown-input-field")) {
        kura_psbt *check = NULL;
        if (add_unknown_input_record(&bytes, &bytes_len) != 0 ||
            kura_psbt_parse(&check, bytes, bytes_len, &b.err) != KURA_OK ||
            check->inputs[0].unknown_count != psbt->inputs[0].unknown_count + 1) {
            kura_psbt_free(check);
            fail("cannot add the unknown record");
            goto done;
        }
        kura_psbt_free(check);
    }
    if (e2e_write_file(out_path, bytes, bytes_len) != 0) {
        fail("cannot write %s: %s", out_path, strerror(errno));
        goto done;
    }
    rc = 0;
done:
    free(bytes);
    free(intent_bytes);
    free(tx_intent_bytes);
    kura_intent_free(intent);
    kura_psbt_free(psbt);
    kura_descriptor_free(fdesc);
    kura_descriptor_free(odesc);
    kura_tx_free(ftx);
    for (size_t i = 0; i < MAX_COINS; i++) kura_tx_free(b.funding[i]);
    kura_descriptor_free(b.desc);
    kura_descriptor_output_free(b.work);
    kura_ctx_free(b.ctx);
    return rc;
}
