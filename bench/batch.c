/* bench/batch.c — measurement 7 of bench/run (see bench/README.md): the
 * issue's "full check plus signing of a 100-input, 500-output batch", as a
 * ratio to the raw libsecp256k1 signing cost of the same inputs.
 *
 * Built here, outside the timed region, from fixed seeds: a wallet (P2WPKH,
 * and a P2WSH 2-of-3 variant), its policy in force, and one signing package
 * (a PSBT made by kura's wallet Updater, each input with its whole funding
 * transaction) paying 499 intent outputs to varied destinations (P2WPKH,
 * P2WSH, P2TR, P2PKH, in turn) and one change output, with the intent text
 * and two approvals by ssh-ed25519 approvers (SSHSIG armour written below,
 * signed with libsodium in-process). The policy requires the allowlist and
 * lists all 499 destinations (past their waiting time), so step 6 of the
 * check does its full work.
 *
 * Timed, per signing device: bytes -> kura_psbt_parse -> kura_check_package
 * -> kura_psbt_sign_bip32 with the master xprv -> kura_psbt_serialize ->
 * bytes, with what kura-cold does besides (the intent's hash, which names
 * the request in the journal: the check's own; the unsigned transaction's
 * txid, for the journal entry; freeing). The journal callbacks are trivial
 * in-memory functions (nothing signed before, every allowlist entry accepted
 * long ago), so no disk I/O is timed. The floor: secp256k1_ecdsa_sign of
 * each input's own sighash with its own child key, both precomputed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <secp256k1.h>
#include <sodium.h>

#include "kura/check.h"
#include "kura/descriptor.h"
#include "kura/hash.h"
#include "kura/intent.h"
#include "kura/keys.h"
#include "kura/policy.h"
#include "kura/psbt.h"
#include "kura/script.h"
#include "kura/sighash.h"
#include "kura/tx.h"
#include "kura/wallet.h"

#include "batch.h"
#include "bench.h"

#define H KURA_BIP32_HARDENED
#define B_INPUTS 100
#define B_PAYMENTS 499                  /* intent outputs; the change makes 500 */
#define B_NOW 1795000000LL              /* the signer's clock (fixed) */
#define B_CHANGE_INDEX 7u
#define B_FEE 260000u                   /* about 10 sat/vB for the P2WPKH batch */
#define B_MAX_KEYS 3
#define B_CACHE_COUNT 1000u             /* kura-cold's derivation cache, per branch */
/* Rows timed: bit 0 KURA_PSBT_SIGN_VERIFY, bit 1 the derivation cache. */
#define B_VARIANTS 4
#define B_APPROVERS 3
#define B_ADMINS 2

enum { W_P2WPKH, W_P2WSH, W_COUNT };
static const char *const wallet_case[W_COUNT] = {"p2wpkh", "p2wsh"};

/* Timed phases of one signer pass. OTHER is what kura-cold does besides the
 * four named calls: the journal's name for the request (the check's intent
 * hash; kura-cold hashes the record itself only when the intent does not
 * parse), kura_psbt_unsigned_tx + kura_tx_txid (the journal
 * entry), and freeing the PSBT, the result and the transaction. */
enum { P_TOTAL, P_PARSE, P_CHECK, P_SIGN, P_SERIALIZE, P_OTHER, P_COUNT };
static const char *const phase_name[P_COUNT] = {"total", "parse",     "check",
                                                "sign",  "serialize", "other"};

typedef struct approver {
    const char *name;
    uint8_t pk[32];
    uint8_t sk[64];
    char pub[128]; /* "ssh-ed25519 BASE64" */
} approver;

typedef struct batch {
    int which;
    const kura_ctx *ctx;
    kura_bip32_key master[B_MAX_KEYS];
    size_t nkeys, nsign;
    kura_descriptor *desc;
    char checksum[9];
    kura_policy *policy;
    kura_signer_state state;        /* no derivation cache: every script derived */
    kura_signer_state state_cached; /* the same with kura-cold's derivation cache */
    kura_descriptor_cache *cache;   /* built, serialised and parsed back outside the timing */
    uint8_t *package;
    size_t package_len, intent_len;
    uint8_t intent_hash[32]; /* SHA-256 of the intent text, for checking the result */
    uint64_t total_out, change;
    /* The floor's inputs: each input's sighash, each signer's child key. */
    uint8_t sighash[B_INPUTS][32];
    uint8_t priv[B_MAX_KEYS][B_INPUTS][32];
} batch;

/* alice, bob, carol approve; admin1, admin2 administer. */
static approver people[B_APPROVERS + B_ADMINS] = {
    {"alice", {0}, {0}, ""}, {"bob", {0}, {0}, ""}, {"carol", {0}, {0}, ""},
    {"admin1", {0}, {0}, ""}, {"admin2", {0}, {0}, ""}};

/* ---- the journal: trivial, in memory ---- */

static int j_intent_signed(void *arg, const uint8_t intent_hash[32], const char *intent_id)
{
    (void)arg;
    (void)intent_hash;
    (void)intent_id;
    return 0; /* nothing signed before */
}

static uint64_t j_signed_since(void *arg, int64_t since)
{
    (void)arg;
    (void)since;
    return 0;
}

static int64_t j_allow_accepted_at(void *arg, const uint8_t *script, size_t script_len)
{
    (void)arg;
    (void)script;
    (void)script_len;
    return B_NOW - 30 * 86400; /* at the ceremony, a month ago */
}

/* ---- OpenSSH keys and SSHSIG (PROTOCOL.sshsig), in-process ---- */

typedef struct sshbuf {
    uint8_t d[1024];
    size_t n;
} sshbuf;

static void sb_raw(sshbuf *b, const void *p, size_t n)
{
    if (n > sizeof(b->d) - b->n) die("sshsig: buffer full");
    memcpy(b->d + b->n, p, n);
    b->n += n;
}

static void sb_u32(sshbuf *b, uint32_t v)
{
    uint8_t x[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    sb_raw(b, x, 4);
}

static void sb_string(sshbuf *b, const void *p, size_t n)
{
    sb_u32(b, (uint32_t)n);
    sb_raw(b, p, n);
}

/* The ssh-ed25519 public key blob (RFC 8709). */
static void sb_pubkey(sshbuf *b, const uint8_t pk[32])
{
    sshbuf k = {{0}, 0};
    sb_string(&k, "ssh-ed25519", 11);
    sb_string(&k, pk, 32);
    sb_raw(b, k.d, k.n);
}

static void approver_init(approver *a, uint8_t seed_byte)
{
    uint8_t seed[32];
    char b64[100]; /* 68 characters and a NUL */
    sshbuf blob = {{0}, 0};
    memset(seed, seed_byte, sizeof(seed));
    if (crypto_sign_seed_keypair(a->pk, a->sk, seed) != 0) die("ed25519 key");
    sb_pubkey(&blob, a->pk);
    sodium_bin2base64(b64, sizeof(b64), blob.d, blob.n, sodium_base64_VARIANT_ORIGINAL);
    snprintf(a->pub, sizeof(a->pub), "ssh-ed25519 %s", b64);
}

/* What `ssh-keygen -Y sign -n NS` writes: an armoured SSHSIG by a over
 * msg, message hash sha512. Returns a malloc'd text of *len bytes. */
static char *sshsig_sign(const approver *a, const char *ns, const uint8_t *msg, size_t msg_len,
                         size_t *len)
{
    uint8_t digest[64], sig[64];
    sshbuf tosign = {{0}, 0}, sigblob = {{0}, 0}, blob = {{0}, 0}, key = {{0}, 0};
    char b64[2048], *out;
    size_t b64_len, pos, cap;
    crypto_hash_sha512(digest, msg, msg_len);
    sb_raw(&tosign, "SSHSIG", 6);
    sb_string(&tosign, ns, strlen(ns));
    sb_string(&tosign, "", 0);
    sb_string(&tosign, "sha512", 6);
    sb_string(&tosign, digest, sizeof(digest));
    if (crypto_sign_detached(sig, NULL, tosign.d, tosign.n, a->sk) != 0) die("ed25519 sign");
    sb_string(&sigblob, "ssh-ed25519", 11);
    sb_string(&sigblob, sig, sizeof(sig));
    sb_pubkey(&key, a->pk);
    sb_raw(&blob, "SSHSIG", 6);
    sb_u32(&blob, 1);
    sb_string(&blob, key.d, key.n);
    sb_string(&blob, ns, strlen(ns));
    sb_string(&blob, "", 0);
    sb_string(&blob, "sha512", 6);
    sb_string(&blob, sigblob.d, sigblob.n);
    sodium_bin2base64(b64, sizeof(b64), blob.d, blob.n, sodium_base64_VARIANT_ORIGINAL);
    b64_len = strlen(b64);
    cap = 64 + b64_len + b64_len / 70 + 2;
    if ((out = malloc(cap)) == NULL) die("out of memory");
    pos = (size_t)snprintf(out, cap, "-----BEGIN SSH SIGNATURE-----\n");
    for (size_t i = 0; i < b64_len; i += 70) { /* 70-character lines, as ssh-keygen */
        size_t n = b64_len - i < 70 ? b64_len - i : 70;
        memcpy(out + pos, b64 + i, n);
        pos += n;
        out[pos++] = '\n';
    }
    pos += (size_t)snprintf(out + pos, cap - pos, "-----END SSH SIGNATURE-----\n");
    *len = pos;
    return out;
}

/* ---- the wallet, the destinations, the policy, the package ---- */

static void batch_keys(batch *b)
{
    static const uint32_t p84[] = {84 | H, 0 | H, 0 | H}, p48[] = {48 | H, 0 | H, 0 | H, 2 | H};
    const uint32_t *path = b->which == W_P2WSH ? p48 : p84;
    size_t path_len = b->which == W_P2WSH ? 4 : 3;
    const char *path_text = b->which == W_P2WSH ? "48h/0h/0h/2h" : "84h/0h/0h";
    char keys[B_MAX_KEYS][300], text[1200], *canon = NULL;
    kura_error err;
    b->nkeys = b->which == W_P2WSH ? 3 : 1;
    b->nsign = b->which == W_P2WSH ? 2 : 1;
    for (size_t k = 0; k < b->nkeys; k++) {
        uint8_t seed[32], fp[4];
        char xpub[KURA_BIP32_SERIALIZED_LEN];
        kura_bip32_key acct;
        memset(seed, 0x70 + 8 * b->which + (int)k, sizeof(seed));
        check(kura_bip32_from_seed(b->ctx, &b->master[k], seed, sizeof(seed),
                                   KURA_NETWORK_MAINNET),
              "batch master key", NULL);
        check(kura_bip32_derive_path(b->ctx, &acct, &b->master[k], path, path_len),
              "batch account key", NULL);
        kura_bip32_neuter(&acct, &acct);
        check(kura_bip32_serialize(xpub, sizeof(xpub), &acct, 0), "batch xpub", NULL);
        check(kura_bip32_fingerprint(fp, &b->master[k]), "batch fingerprint", NULL);
        snprintf(keys[k], sizeof(keys[k]), "[%02x%02x%02x%02x/%s]%s/<0;1>/*", fp[0], fp[1], fp[2],
                 fp[3], path_text, xpub);
    }
    if (b->which == W_P2WSH)
        snprintf(text, sizeof(text), "wsh(sortedmulti(2,%s,%s,%s))", keys[0], keys[1], keys[2]);
    else
        snprintf(text, sizeof(text), "wpkh(%s)", keys[0]);
    check(kura_descriptor_parse(b->ctx, &b->desc, text, strlen(text), &err), "batch descriptor",
          &err);
    check(kura_descriptor_to_string(b->ctx, &canon, b->desc, KURA_DESCRIPTOR_ALL_BRANCHES,
                                    KURA_DESCRIPTOR_PUBLIC, &err),
          "batch descriptor text", &err);
    snprintf(b->checksum, sizeof(b->checksum), "%s", strrchr(canon, '#') + 1);
    kura_descriptor_string_free(canon);
}

/* Destination i: P2WPKH, P2WSH, P2TR, P2PKH in turn, from hashes of i (the
 * P2TR key a real x-only point). */
static void destination(const kura_ctx *ctx, char addr[KURA_ADDRESS_MAX], size_t i)
{
    uint8_t h[32], priv[32], script[KURA_SCRIPT_PUBKEY_MAX], tag[8] = "dest";
    size_t len = 0;
    kura_error err;
    tag[4] = (uint8_t)i, tag[5] = (uint8_t)(i >> 8);
    kura_sha256(h, tag, sizeof(tag));
    switch (i % 4) {
    case 0:
        check(kura_script_p2wpkh(script, sizeof(script), &len, h), "p2wpkh", NULL);
        break;
    case 1:
        check(kura_script_p2wsh(script, sizeof(script), &len, h), "p2wsh", NULL);
        break;
    case 2:
        kura_sha256(priv, h, sizeof(h));
        check(kura_xonly_from_privkey(ctx, h, priv), "x-only key", NULL);
        check(kura_script_p2tr(script, sizeof(script), &len, h), "p2tr", NULL);
        break;
    default:
        check(kura_script_p2pkh(script, sizeof(script), &len, h), "p2pkh", NULL);
        break;
    }
    check(kura_address_from_script(addr, KURA_ADDRESS_MAX, script, len, KURA_NETWORK_MAINNET,
                                   &err),
          "destination address", &err);
}

static void batch_policy(batch *b, char (*addr)[KURA_ADDRESS_MAX])
{
    kura_policy *p = kura_policy_new();
    kura_error err;
    char *text = NULL;
    size_t text_len = 0;
    if (p == NULL) die("out of memory");
    p->version = 3;
    p->chain = KURA_CHAIN_BITCOIN;
    snprintf(p->wallet.name, sizeof(p->wallet.name), "payouts");
    snprintf(p->wallet.checksum, sizeof(p->wallet.checksum), "%s", b->checksum);
    p->mode = KURA_POLICY_COLD;
    for (size_t i = 0; i < B_ADMINS; i++)
        check(kura_policy_add_admin(p, people[B_APPROVERS + i].name, people[B_APPROVERS + i].pub,
                                    &err),
              "policy admin", &err);
    p->admin_quorum = 2;
    for (size_t i = 0; i < B_APPROVERS; i++)
        check(kura_policy_add_approver(p, people[i].name, people[i].pub, &err), "policy approver",
              &err);
    check(kura_policy_add_tier(p, 10000000, 1, &err), "policy tier", &err);
    check(kura_policy_add_tier(p, KURA_POLICY_TIER_UNBOUNDED, 2, &err), "policy tier", &err);
    p->initiator_may_approve = 0;
    p->allowlist_required = 1;
    p->allowlist_delay = 86400;
    for (size_t i = 0; i < B_PAYMENTS; i++) {
        char label[32];
        snprintf(label, sizeof(label), "customer %zu", 7000 + i);
        check(kura_policy_add_allow(p, addr[i], label, &err), "policy allowlist", &err);
    }
    p->max_per_transfer = 1000000000;  /* 10 BTC */
    p->max_per_24h = 10000000000;      /* 100 BTC */
    p->max_fee = 1000000;
    p->max_fee_rate = 50;
    p->max_lifetime = 86400;
    /* The writer parses its text back: the policy is valid as a signer
     * would load it. */
    check(kura_policy_write(&text, &text_len, p, &err), "policy text", &err);
    free(text);
    b->policy = p;
}

/* A funding transaction: one input, two outputs, output 1 paying `amount`
 * to `script`. */
static kura_tx *funding_tx(const uint8_t *script, size_t script_len, uint64_t amount, uint32_t tag)
{
    static const uint8_t other[22] = {0x00, 0x14, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a,
                                      0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a,
                                      0x5a, 0x5a};
    uint8_t prev[32], t[4] = {(uint8_t)tag, (uint8_t)(tag >> 8), (uint8_t)(tag >> 16), 0xba};
    kura_tx *tx = kura_tx_new();
    if (tx == NULL) die("out of memory");
    kura_sha256(prev, t, sizeof(t));
    check(kura_tx_add_input(tx, prev, tag % 3, 0xfffffffdu, NULL, 0), "funding input", NULL);
    check(kura_tx_add_output(tx, 80000 + tag, other, sizeof(other)), "funding output", NULL);
    check(kura_tx_add_output(tx, amount, script, script_len), "funding output", NULL);
    return tx;
}

/* The floor's inputs: every input's BIP143 sighash (SIGHASH_ALL) and each
 * signer's child key for it, derived along the input's recorded path. */
static void batch_floor_inputs(batch *b)
{
    kura_psbt *psbt = NULL;
    kura_tx *tx = NULL;
    kura_txout *spent = calloc(B_INPUTS, sizeof(*spent));
    kura_sighash_cache cache;
    kura_error err;
    if (spent == NULL) die("out of memory");
    check(kura_psbt_parse(&psbt, b->package, b->package_len, &err), "parse batch", &err);
    check(kura_psbt_unsigned_tx(&tx, psbt, &err), "batch unsigned tx", &err);
    for (size_t i = 0; i < B_INPUTS; i++) spent[i] = psbt->inputs[i].witness_utxo;
    check(kura_sighash_cache_init(&cache, tx, spent), "sighash cache", NULL);
    for (size_t i = 0; i < B_INPUTS; i++) {
        const kura_psbt_input *in = &psbt->inputs[i];
        uint8_t code_buf[25];
        const uint8_t *code = code_buf, *prog;
        size_t code_len = 0, prog_len;
        unsigned ver;
        if (b->which == W_P2WSH) {
            code = in->witness_script.data;
            code_len = in->witness_script.len;
        } else {
            if (kura_script_classify(spent[i].script_pubkey.data, spent[i].script_pubkey.len, &prog,
                                     &prog_len, &ver) != KURA_SCRIPT_P2WPKH)
                die("batch input %zu is not P2WPKH", i);
            check(kura_script_p2pkh(code_buf, sizeof(code_buf), &code_len, prog), "code", NULL);
        }
        check(kura_sighash_segwit_v0(b->sighash[i], tx, &cache, i, code, code_len,
                                     spent[i].amount, KURA_SIGHASH_ALL),
              "sighash", NULL);
        for (size_t s = 0; s < b->nsign; s++) {
            uint8_t fp[4];
            const kura_psbt_keyorigin *o = NULL;
            kura_bip32_key child;
            check(kura_bip32_fingerprint(fp, &b->master[s]), "fingerprint", NULL);
            for (size_t j = 0; j < in->bip32_count && o == NULL; j++)
                if (memcmp(in->bip32[j].origin.fingerprint, fp, 4) == 0) o = &in->bip32[j].origin;
            if (o == NULL) die("batch input %zu has no key of signer %zu", i, s);
            check(kura_bip32_derive_path(b->ctx, &child, &b->master[s], o->path, o->path_len),
                  "derive", NULL);
            memcpy(b->priv[s][i], child.priv, 32);
            kura_bip32_wipe(&child);
        }
    }
    kura_tx_free(tx);
    kura_psbt_free(psbt);
    free(spent);
}

static void batch_init(batch *b, const kura_ctx *ctx, int which)
{
    char(*addr)[KURA_ADDRESS_MAX] = calloc(B_PAYMENTS, KURA_ADDRESS_MAX);
    uint8_t(*scripts)[KURA_SCRIPT_PUBKEY_MAX] = calloc(B_PAYMENTS, KURA_SCRIPT_PUBKEY_MAX);
    kura_wallet_payment *pay = calloc(B_PAYMENTS, sizeof(*pay));
    kura_wallet_coin coins[B_INPUTS];
    kura_tx *funding[B_INPUTS];
    kura_intent *it = kura_intent_new();
    kura_psbt *psbt = NULL;
    kura_error err;
    char *text = NULL;
    uint64_t in_total = 0;

    if (addr == NULL || scripts == NULL || pay == NULL || it == NULL) die("out of memory");
    memset(b, 0, sizeof(*b));
    b->which = which;
    b->ctx = ctx;
    if (people[0].pub[0] == '\0')
        for (size_t i = 0; i < B_APPROVERS + B_ADMINS; i++)
            approver_init(&people[i], (uint8_t)(0xc1 + i));
    batch_keys(b);
    for (size_t i = 0; i < B_PAYMENTS; i++) destination(ctx, addr[i], i);
    batch_policy(b, addr);

    /* The intent: 499 withdrawals, about 1.17 BTC in all (the 2-approval tier). */
    snprintf(it->id, sizeof(it->id), "5eed0b47c4a1%020d", which + 1);
    it->chain = KURA_CHAIN_BITCOIN;
    snprintf(it->wallet.name, sizeof(it->wallet.name), "payouts");
    snprintf(it->wallet.checksum, sizeof(it->wallet.checksum), "%s", b->checksum);
    snprintf(it->initiator, sizeof(it->initiator), "ops-batch");
    it->policy_version = 3;
    it->created = B_NOW - 600;
    it->expires = B_NOW + 3600;
    it->max_fee = 400000;
    for (size_t i = 0; i < B_PAYMENTS; i++) {
        char label[32];
        snprintf(label, sizeof(label), "withdrawal %zu", 880000 + i);
        check(kura_intent_add_output(it, addr[i], 200000u + 137u * i, label, &err),
              "intent output", &err);
    }
    check(kura_intent_write(&text, &b->intent_len, it, &err), "intent text", &err);
    b->total_out = kura_intent_total(it);

    for (size_t i = 0; i < B_INPUTS; i++) {
        uint8_t script[KURA_SCRIPT_PUBKEY_MAX];
        size_t slen;
        uint64_t amount = 5000000u + 10u * i;
        check(kura_descriptor_script_pubkey(ctx, script, sizeof(script), &slen, b->desc,
                                            KURA_DESCRIPTOR_BRANCH_RECEIVE, (uint32_t)i, &err),
              "coin script", &err);
        funding[i] = funding_tx(script, slen, amount, (uint32_t)(which * 1000 + (int)i));
        memset(&coins[i], 0, sizeof(coins[i]));
        check(kura_tx_txid(coins[i].txid, funding[i]), "txid", NULL);
        coins[i].vout = 1;
        coins[i].amount = amount;
        coins[i].branch = KURA_DESCRIPTOR_BRANCH_RECEIVE;
        coins[i].index = (uint32_t)i;
        coins[i].prev_tx = funding[i];
        in_total += amount;
    }
    /* The transaction pays the intent's outputs in another order (the
     * coordinator may shuffle them): output j pays intent output j*211 mod
     * 499 (499 is prime). The change comes last. */
    for (size_t j = 0; j < B_PAYMENTS; j++) {
        const kura_intent_output *o = &it->outputs[(j * 211) % B_PAYMENTS];
        memcpy(scripts[j], o->script, o->script_len);
        pay[j].script_pubkey = scripts[j];
        pay[j].script_pubkey_len = o->script_len;
        pay[j].amount = o->amount;
    }
    b->change = in_total - b->total_out - B_FEE;
    check(kura_wallet_create_psbt(ctx, &psbt, b->desc, coins, B_INPUTS, pay, B_PAYMENTS, b->change,
                                  B_CHANGE_INDEX, 0, &err),
          "batch PSBT", &err);
    kura_intent_hash(b->intent_hash, (const uint8_t *)text, b->intent_len);
    check(kura_package_set_intent(psbt, (const uint8_t *)text, b->intent_len), "intent record",
          NULL);
    for (size_t k = 0; k < 3; k += 2) { /* alice and carol approve */
        size_t sig_len;
        char *sig = sshsig_sign(&people[k], "kura-intent-v1", (const uint8_t *)text,
                                b->intent_len, &sig_len);
        check(kura_package_add_approval(psbt, (const uint8_t *)sig, sig_len), "approval", NULL);
        free(sig);
    }
    check(kura_psbt_serialize(&b->package, &b->package_len, psbt), "serialize batch", NULL);

    b->state.wallet = b->desc;
    b->state.wallet_name = "payouts";
    memcpy(b->state.wallet_checksum, b->checksum, sizeof(b->state.wallet_checksum));
    b->state.chain = KURA_CHAIN_BITCOIN;
    b->state.policy = b->policy;
    b->state.journal.arg = NULL;
    b->state.journal.intent_signed = j_intent_signed;
    b->state.journal.signed_since = j_signed_since;
    b->state.journal.allow_accepted_at = j_allow_accepted_at;
    b->state.now = B_NOW;
    b->state.max_clock_skew = 600;           /* kura-cold's */
    b->state.max_change_index = 1000000u;    /* kura-cold's */
    batch_floor_inputs(b);
    /* kura-cold's derivation cache (1,000 indexes per branch), loaded as
     * kura-cold loads it: serialised at the ceremony, parsed at start. */
    {
        kura_descriptor_cache *built = NULL;
        uint8_t *bytes = NULL;
        size_t bytes_len = 0;
        check(kura_descriptor_cache_build(ctx, &built, b->desc, B_CACHE_COUNT, &err),
              "derivation cache", &err);
        check(kura_descriptor_cache_serialize(&bytes, &bytes_len, built), "cache serialize", NULL);
        check(kura_descriptor_cache_parse(ctx, &b->cache, b->desc, bytes, bytes_len, &err),
              "cache parse", &err);
        kura_descriptor_cache_free(built);
        free(bytes);
    }
    b->state_cached = b->state;
    b->state_cached.cache = b->cache;

    kura_psbt_free(psbt);
    for (size_t i = 0; i < B_INPUTS; i++) kura_tx_free(funding[i]);
    kura_intent_free(it);
    free(text);
    free(addr);
    free(scripts);
    free(pay);
}

static void batch_free(batch *b)
{
    for (size_t k = 0; k < B_MAX_KEYS; k++) kura_bip32_wipe(&b->master[k]);
    sodium_memzero(b->priv, sizeof(b->priv));
    kura_descriptor_cache_free(b->cache);
    kura_descriptor_free(b->desc);
    kura_policy_free(b->policy);
    free(b->package);
}

/* ---- kura-cold's work, timed by phase ---- */

typedef struct stamp {
    uint64_t wall, cpu;
} stamp;

static stamp stamp_now(void)
{
    stamp s;
    s.cpu = cpu_ns();
    s.wall = now_ns();
    return s;
}

/* Adds b - a to phase p of (wall, cpu). */
static void add_phase(uint64_t *wall, uint64_t *cpu, int p, stamp a, stamp b)
{
    wall[p] += b.wall - a.wall;
    cpu[p] += b.cpu - a.cpu;
}

/* One signing device's pass, as kura-cold signs: bytes in -> parse -> check
 * -> sign -> serialise -> bytes out (*out, malloc'd). Adds each phase's time
 * to wall[] and cpu[] (P_TOTAL included); returns the signatures added. */
static size_t cold_pass(uint64_t *wall, uint64_t *cpu, uint8_t **out, size_t *out_len,
                        const batch *b, const uint8_t *in, size_t in_len,
                        const kura_bip32_key *master, unsigned flags, int cached)
{
    kura_psbt *psbt = NULL;
    kura_package_view view;
    kura_check_result res;
    kura_tx *utx = NULL;
    kura_error err;
    uint8_t intent_hash[32], txid[32];
    size_t count = 0;
    int rc;
    stamp t0 = stamp_now(), t1, t2, t3, t4, t5, t6, t7;

    check(kura_psbt_parse(&psbt, in, in_len, &err), "parse", &err);
    t1 = stamp_now();
    t2 = stamp_now();
    memset(&res, 0, sizeof(res));
    rc = kura_check_package(b->ctx, &res, cached ? &b->state_cached : &b->state, psbt);
    t3 = stamp_now();
    /* kura-cold names the request by the check's intent hash once the
     * intent parsed, and hashes the record itself only when it did not. */
    if (res.intent_id[0] != '\0') {
        memcpy(intent_hash, res.intent_hash, 32);
    } else {
        check(kura_package_read(&view, psbt, &err), "package read", &err);
        if (view.intent == NULL) die("batch: no intent");
        kura_intent_hash(intent_hash, view.intent, view.intent_len);
    }
    if (rc != KURA_OK || res.reason != KURA_REFUSE_NONE)
        die("batch %s: the check refused: %s: %s", wallet_case[b->which],
            kura_refusal_name(res.reason), res.message);
    if (res.approval_count != 2 || res.fee != B_FEE || res.change != b->change ||
        res.total_out != b->total_out || memcmp(intent_hash, b->intent_hash, 32) != 0)
        die("batch %s: the check's result is not the package's", wallet_case[b->which]);
    check(kura_psbt_unsigned_tx(&utx, psbt, &err), "unsigned tx", &err);
    check(kura_tx_txid(txid, utx), "txid", NULL);
    t4 = stamp_now();
    check(kura_psbt_sign_bip32(b->ctx, psbt, &count, master, flags, &err), "sign", &err);
    t5 = stamp_now();
    check(kura_psbt_serialize(out, out_len, psbt), "serialize", NULL);
    t6 = stamp_now();
    kura_check_result_clear(&res);
    kura_tx_free(utx);
    kura_psbt_free(psbt);
    t7 = stamp_now();
    add_phase(wall, cpu, P_PARSE, t0, t1);
    add_phase(wall, cpu, P_OTHER, t1, t2);
    add_phase(wall, cpu, P_CHECK, t2, t3);
    add_phase(wall, cpu, P_OTHER, t3, t4);
    add_phase(wall, cpu, P_SIGN, t4, t5);
    add_phase(wall, cpu, P_SERIALIZE, t5, t6);
    add_phase(wall, cpu, P_OTHER, t6, t7);
    add_phase(wall, cpu, P_TOTAL, t0, t7);
    return count;
}

/* Every device's pass in turn (the P2WSH batch: two devices, the second
 * reading what the first wrote). *out gets the last device's bytes. */
static void cold_all(uint64_t *wall, uint64_t *cpu, uint8_t **out, size_t *out_len,
                     const batch *b, unsigned flags, int cached)
{
    const uint8_t *cur = b->package;
    size_t cur_len = b->package_len, sigs = 0;
    uint8_t *prev = NULL;
    memset(wall, 0, P_COUNT * sizeof(*wall));
    memset(cpu, 0, P_COUNT * sizeof(*cpu));
    for (size_t s = 0; s < b->nsign; s++) {
        sigs += cold_pass(wall, cpu, out, out_len, b, cur, cur_len, &b->master[s], flags,
                          cached);
        free(prev);
        prev = *out;
        cur = *out;
        cur_len = *out_len;
    }
    if (sigs != B_INPUTS * b->nsign)
        die("batch %s: %zu signatures, expected %zu", wallet_case[b->which], sigs,
            (size_t)B_INPUTS * b->nsign);
}

/* Every signature in the signed PSBT verifies (kura_wallet_verify_psbt
 * recomputes each sighash), and each input holds one per signer. */
static void verify_signed(const batch *b, const uint8_t *bytes, size_t len, const char *what)
{
    kura_psbt *psbt = NULL;
    kura_error err;
    size_t checked = 0;
    check(kura_psbt_parse(&psbt, bytes, len, &err), what, &err);
    check(kura_wallet_verify_psbt(b->ctx, &checked, psbt, &err), what, &err);
    if (checked != B_INPUTS * b->nsign) die("%s: %zu signatures verified", what, checked);
    for (size_t i = 0; i < psbt->input_count; i++)
        if (psbt->inputs[i].partial_sig_count != b->nsign)
            die("%s: input %zu holds %zu signatures", what, i, psbt->inputs[i].partial_sig_count);
    kura_psbt_free(psbt);
}

static void print_phases(const char *name, uint64_t (*wall)[MAX_RUNS], uint64_t (*cpu)[MAX_RUNS],
                         size_t runs)
{
    printf("\"%s\":{", name);
    for (int p = 0; p < P_COUNT; p++) {
        printf("%s\"%s\":{\"runs_ns\":", p ? "," : "", phase_name[p]);
        print_runs(wall[p], runs);
        printf(",\"cpu_ns\":");
        print_runs(cpu[p], runs);
        printf("}");
    }
    printf("}");
}

void batch_time(const kura_ctx *ctx, const char *dir, size_t runs)
{
    static uint64_t fw[MAX_RUNS], fc[MAX_RUNS];
    static uint64_t kw[B_VARIANTS][P_COUNT][MAX_RUNS], kc[B_VARIANTS][P_COUNT][MAX_RUNS];
    static const unsigned flag_of[2] = {0, KURA_PSBT_SIGN_VERIFY};
    static const char *const variant_name[B_VARIANTS] = {"kura", "kura-verify", "kura-cache",
                                                         "kura-cache-verify"};
    secp256k1_context *sctx = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
    uint8_t rnd[32];
    if (runs == 0 || runs > MAX_RUNS) die("runs must be 1..%d", MAX_RUNS);
    randombytes_buf(rnd, sizeof(rnd));
    if (sctx == NULL || !secp256k1_context_randomize(sctx, rnd)) die("libsecp256k1 setup failed");
    printf("\"batch\":{");
    for (int which = 0; which < W_COUNT; which++) {
        batch b;
        uint8_t *out[B_VARIANTS] = {NULL, NULL, NULL, NULL};
        size_t out_len[B_VARIANTS] = {0, 0, 0, 0};
        batch_init(&b, ctx, which);
        for (size_t r = 0; r <= runs; r++) { /* run 0 is the warm-up */
            uint64_t w[P_COUNT], c[P_COUNT];
            secp256k1_ecdsa_signature sig;
            stamp f0 = stamp_now(), f1;
            for (size_t s = 0; s < b.nsign; s++)
                for (size_t i = 0; i < B_INPUTS; i++)
                    if (!secp256k1_ecdsa_sign(sctx, &sig, b.sighash[i], b.priv[s][i], NULL, NULL))
                        die("secp256k1_ecdsa_sign");
            f1 = stamp_now();
            if (r > 0) fw[r - 1] = f1.wall - f0.wall, fc[r - 1] = f1.cpu - f0.cpu;
            for (int v = 0; v < B_VARIANTS; v++) {
                free(out[v]);
                out[v] = NULL;
                cold_all(w, c, &out[v], &out_len[v], &b, flag_of[v & 1], v >> 1);
                for (int p = 0; p < P_COUNT && r > 0; p++)
                    kw[v][p][r - 1] = w[p], kc[v][p][r - 1] = c[p];
            }
        }
        for (int v = 0; v < B_VARIANTS; v++) {
            char name[64], *p;
            snprintf(name, sizeof(name), "kura-batch-%s%s%s.psbt", wallet_case[which],
                     v >> 1 ? "-cache" : "", v & 1 ? "-verify" : "");
            verify_signed(&b, out[v], out_len[v], name);
            if (v >> 1) continue; /* kura-bench verify checks the uncached rows' files */
            p = path_join(dir, name);
            write_file(p, out[v], out_len[v]);
            free(p);
        }
        {
            char name[64], *p;
            snprintf(name, sizeof(name), "batch-%s.psbt", wallet_case[which]);
            p = path_join(dir, name);
            write_file(p, b.package, b.package_len);
            free(p);
        }
        printf("%s\"%s\":{\"inputs\":%d,\"outputs\":%d,\"intent_outputs\":%d,\"signers\":%zu,"
               "\"signatures\":%zu,\"package_bytes\":%zu,\"signed_bytes\":%zu,"
               "\"intent_bytes\":%zu,\"allowlisted\":%d,\"fee\":%u,\"floor\":{\"runs_ns\":",
               which ? "," : "", wallet_case[which], B_INPUTS, B_PAYMENTS + 1, B_PAYMENTS,
               b.nsign, (size_t)B_INPUTS * b.nsign, b.package_len, out_len[1], b.intent_len,
               B_PAYMENTS, B_FEE);
        print_runs(fw, runs);
        printf(",\"cpu_ns\":");
        print_runs(fc, runs);
        printf("},");
        for (int v = 0; v < B_VARIANTS; v++) {
            if (v > 0) printf(",");
            print_phases(variant_name[v], kw[v], kc[v], runs);
        }
        printf("}");
        for (int v = 0; v < B_VARIANTS; v++) free(out[v]);
        batch_free(&b);
    }
    printf("}");
    secp256k1_context_destroy(sctx);
}

int batch_profile(const kura_ctx *ctx, const char *name, size_t runs)
{
    static const unsigned flag_of_profile[2] = {0, KURA_PSBT_SIGN_VERIFY};
    for (int which = 0; which < W_COUNT; which++)
        for (int v = 0; v < B_VARIANTS; v++) {
            char n[64];
            batch b;
            snprintf(n, sizeof(n), "batch-%s%s%s", wallet_case[which], v >> 1 ? "-cache" : "",
                     v & 1 ? "-verify" : "");
            if (strcmp(name, n) != 0) continue;
            if (runs == 0 || runs > MAX_RUNS) die("runs must be 1..%d", MAX_RUNS);
            batch_init(&b, ctx, which);
            for (size_t r = 0; r < runs; r++) {
                uint64_t w[P_COUNT], c[P_COUNT];
                uint8_t *out = NULL;
                size_t out_len = 0;
                cold_all(w, c, &out, &out_len, &b, flag_of_profile[v & 1], v >> 1);
                free(out);
            }
            batch_free(&b);
            return 0;
        }
    return -1;
}
