/* Fuzz the signer's check. A fixed signer state (four wallets, one of each
 * kura kind, their policies, a journal) and, for each, a valid package built
 * here from fixed keys: the PSBT from kura's updater, the intent from its
 * builder, approvals by ssh-ed25519 keys from fixed seeds, signed in-process
 * with libsodium and wrapped in SSHSIG armour written below (ssh-keygen
 * cannot run inside the fuzzer).
 *
 * Input: byte 0 picks the wallet (mod 4), the rest is the PSBT. Whatever the
 * bytes, the check must not crash or leak; and whenever it ACCEPTS, the
 * harness recomputes, independently of src/check, what DESIGN promises:
 *  - every intent output appears in the transaction with its amount, one
 *    transaction output for each (multiset);
 *  - every other output pays the wallet's change branch at an index within
 *    the gap limit (compared with scripts precomputed here);
 *  - every input's amount comes from a funding transaction whose txid is the
 *    outpoint's, paying one of the wallet's own scripts;
 *  - fee = inputs - outputs is within the intent's and the policy's caps;
 *  - version 2, lock time 0, and the approvals' quorum under the policy.
 * Any violation aborts.
 *
 * Seeds: with KURA_FUZZ_CHECK_WRITE_SEEDS=<dir> in the environment the
 * initializer writes the valid packages and a few refusals there (that is
 * how tests/fuzz/corpus/fuzz_check_package was made). It always checks
 * that each valid package is accepted and each refusal refused, so a broken
 * harness cannot pass for a quiet fuzzer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "kura/check.h"
#include "kura/descriptor.h"
#include "kura/hash.h"
#include "kura/intent.h"
#include "kura/keys.h"
#include "kura/policy.h"
#include "kura/psbt.h"
#include "kura/script.h"
#include "kura/tx.h"
#include "kura/wallet.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define H KURA_BIP32_HARDENED
#define NOW 1795000000LL
#define MAX_CHANGE 40u /* the state's gap limit for change */
#define SCAN 41u       /* wallet scripts precomputed per branch: 0..40 */
#define KINDS 4
#define COIN0 200000000ull
#define COIN1 70000000ull

#define D1 "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"
#define D2 "bc1p5d7rjq7g6rdk2yhzks9smlaqtedr4dekq08ge8ztwac72sfr9rusxg3297"
#define D3 "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy"
#define D4 "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2"

#define NEED(x)                                                                                    \
    do {                                                                                           \
        if (!(x)) {                                                                                \
            fprintf(stderr, "fuzz_check_package: %s:%d: %s\n", __FILE__, __LINE__, #x);            \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

typedef struct sshkey_seed {
    const char *name;
    uint8_t pk[32];
    uint8_t sk[64];
    char pub[128]; /* "ssh-ed25519 BASE64" */
} sshkey_seed;

/* alice, bob, carol: approvers; admin1, admin2: administrators. */
static sshkey_seed keys[5] = {{"alice", {0}, {0}, ""},
                              {"bob", {0}, {0}, ""},
                              {"carol", {0}, {0}, ""},
                              {"admin1", {0}, {0}, ""},
                              {"admin2", {0}, {0}, ""}};

typedef struct world {
    kura_descriptor *desc;
    char checksum[9];
    kura_policy *policy;
    kura_signer_state state;
    uint8_t scripts[2][SCAN][KURA_SCRIPT_PUBKEY_MAX]; /* [branch][index] */
    size_t script_lens[2][SCAN];
} world;

static kura_ctx *ctx;
static world worlds[KINDS];
/* KURA_FUZZ_CHECK_STATS=1: count the outcomes and print them at exit, to see
 * how deep the mutations reach. */
static unsigned long outcomes[KURA_REFUSAL_COUNT + 1]; /* last: did not parse */
static int stats;

static void print_stats(void)
{
    fprintf(stderr, "fuzz_check_package outcomes:\n  unparsed PSBT: %lu\n",
            outcomes[KURA_REFUSAL_COUNT]);
    for (int i = 0; i < KURA_REFUSAL_COUNT; i++)
        if (outcomes[i] > 0)
            fprintf(stderr, "  %s: %lu\n", kura_refusal_name((kura_refusal)i), outcomes[i]);
}

/* ---- the journal: nothing signed, the allowlist known since long ago ---- */

static int j_signed(void *arg, const uint8_t hash[32], const char *id)
{
    (void)arg;
    (void)hash;
    (void)id;
    return 0;
}

static uint64_t j_since(void *arg, int64_t since)
{
    (void)arg;
    (void)since;
    return 0;
}

static int64_t j_allow(void *arg, const uint8_t *script, size_t len)
{
    (void)arg;
    (void)script;
    (void)len;
    return NOW - 30 * 86400;
}

/* ---- SSH keys and SSHSIG, in-process ---- */

static void put_u32be(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* Appends an SSH "string" (uint32 length, bytes) at buf[*len]. */
static void put_string(uint8_t *buf, size_t cap, size_t *len, const void *data, size_t n)
{
    NEED(*len + 4 + n <= cap);
    put_u32be(buf + *len, (uint32_t)n);
    memcpy(buf + *len + 4, data, n);
    *len += 4 + n;
}

static void put_raw(uint8_t *buf, size_t cap, size_t *len, const void *data, size_t n)
{
    NEED(*len + n <= cap);
    memcpy(buf + *len, data, n);
    *len += n;
}

/* The public key blob (RFC 8709): string "ssh-ed25519", string key. */
static size_t key_blob(uint8_t out[64], const uint8_t pk[32])
{
    size_t len = 0;
    put_string(out, 64, &len, "ssh-ed25519", 11);
    put_string(out, 64, &len, pk, 32);
    return len;
}

static void make_key(sshkey_seed *k, uint8_t seed_byte)
{
    uint8_t seed[32], blob[64];
    char b64[128];
    size_t n;
    memset(seed, seed_byte, sizeof(seed));
    NEED(crypto_sign_seed_keypair(k->pk, k->sk, seed) == 0);
    n = key_blob(blob, k->pk);
    sodium_bin2base64(b64, sizeof(b64), blob, n, sodium_base64_VARIANT_ORIGINAL);
    snprintf(k->pub, sizeof(k->pub), "ssh-ed25519 %s", b64);
}

/* An armoured SSHSIG (OpenSSH PROTOCOL.sshsig) by k over msg in namespace
 * ns, hash sha512, as `ssh-keygen -Y sign` writes it. Returns a malloc'd
 * string. */
static char *sshsig(const sshkey_seed *k, const char *ns, const uint8_t *msg, size_t msg_len,
                    size_t *out_len)
{
    uint8_t digest[64], tosign[512], sig[64], sigblob[128], blob[1024], kb[64];
    size_t tl = 0, sbl = 0, bl = 0, kbl;
    char b64[2048], *out;
    size_t b64len, pos = 0, cap;
    uint8_t ver[4];

    crypto_hash_sha512(digest, msg, msg_len);
    /* The signed data: MAGIC, namespace, reserved, hash algorithm, H(msg). */
    put_raw(tosign, sizeof(tosign), &tl, "SSHSIG", 6);
    put_string(tosign, sizeof(tosign), &tl, ns, strlen(ns));
    put_string(tosign, sizeof(tosign), &tl, "", 0);
    put_string(tosign, sizeof(tosign), &tl, "sha512", 6);
    put_string(tosign, sizeof(tosign), &tl, digest, 64);
    NEED(crypto_sign_detached(sig, NULL, tosign, tl, k->sk) == 0);
    put_string(sigblob, sizeof(sigblob), &sbl, "ssh-ed25519", 11);
    put_string(sigblob, sizeof(sigblob), &sbl, sig, 64);
    /* The blob: MAGIC, version 1, public key, namespace, reserved, hash
     * algorithm, signature. */
    kbl = key_blob(kb, k->pk);
    put_raw(blob, sizeof(blob), &bl, "SSHSIG", 6);
    put_u32be(ver, 1);
    put_raw(blob, sizeof(blob), &bl, ver, 4);
    put_string(blob, sizeof(blob), &bl, kb, kbl);
    put_string(blob, sizeof(blob), &bl, ns, strlen(ns));
    put_string(blob, sizeof(blob), &bl, "", 0);
    put_string(blob, sizeof(blob), &bl, "sha512", 6);
    put_string(blob, sizeof(blob), &bl, sigblob, sbl);
    sodium_bin2base64(b64, sizeof(b64), blob, bl, sodium_base64_VARIANT_ORIGINAL);
    b64len = strlen(b64);
    /* Armour: lines of 70 characters, as ssh-keygen writes them. */
    cap = 64 + b64len + b64len / 70 + 2;
    out = malloc(cap);
    NEED(out != NULL);
    pos += (size_t)snprintf(out, cap, "-----BEGIN SSH SIGNATURE-----\n");
    for (size_t i = 0; i < b64len; i += 70) {
        size_t n = b64len - i < 70 ? b64len - i : 70;
        memcpy(out + pos, b64 + i, n);
        pos += n;
        out[pos++] = '\n';
    }
    pos += (size_t)snprintf(out + pos, cap - pos, "-----END SSH SIGNATURE-----\n");
    *out_len = pos;
    return out;
}

/* ---- wallets, policies, packages ---- */

static void origin_xpub(char *out, size_t cap, uint8_t seed_byte, const uint32_t *path,
                        size_t path_len, const char *path_text)
{
    uint8_t seed[32], fp[4];
    kura_bip32_key master, acct;
    char xpub[KURA_BIP32_SERIALIZED_LEN];
    memset(seed, seed_byte, sizeof(seed));
    NEED(kura_bip32_from_seed(ctx, &master, seed, 32, KURA_NETWORK_MAINNET) == KURA_OK);
    NEED(kura_bip32_derive_path(ctx, &acct, &master, path, path_len) == KURA_OK);
    kura_bip32_neuter(&acct, &acct);
    NEED(kura_bip32_serialize(xpub, sizeof(xpub), &acct, 0) == KURA_OK);
    NEED(kura_bip32_fingerprint(fp, &master) == KURA_OK);
    snprintf(out, cap, "[%02x%02x%02x%02x/%s]%s", fp[0], fp[1], fp[2], fp[3], path_text, xpub);
    kura_bip32_wipe(&master);
}

static kura_tx *funding(const world *w, size_t branch, uint32_t index, uint64_t amount, uint8_t tag)
{
    uint8_t prev[32];
    kura_tx *tx = kura_tx_new();
    NEED(tx != NULL);
    memset(prev, tag, 32);
    NEED(kura_tx_add_input(tx, prev, 0, 0xffffffff, NULL, 0) == KURA_OK);
    NEED(kura_tx_add_output(tx, 1000, (const uint8_t *)"\x6a", 1) == KURA_OK);
    NEED(kura_tx_add_output(tx, amount, w->scripts[branch][index], w->script_lens[branch][index]) ==
         KURA_OK);
    return tx;
}

static kura_policy *make_policy(const world *w, uint64_t version)
{
    kura_policy *p = kura_policy_new();
    NEED(p != NULL);
    p->version = version;
    p->chain = KURA_CHAIN_BITCOIN;
    strcpy(p->wallet.name, "treasury");
    strcpy(p->wallet.checksum, w->checksum);
    NEED(kura_policy_add_admin(p, keys[3].name, keys[3].pub, NULL) == KURA_OK);
    NEED(kura_policy_add_admin(p, keys[4].name, keys[4].pub, NULL) == KURA_OK);
    p->admin_quorum = 2;
    for (size_t i = 0; i < 3; i++)
        NEED(kura_policy_add_approver(p, keys[i].name, keys[i].pub, NULL) == KURA_OK);
    NEED(kura_policy_add_tier(p, 50000000, 1, NULL) == KURA_OK);
    NEED(kura_policy_add_tier(p, KURA_POLICY_TIER_UNBOUNDED, 2, NULL) == KURA_OK);
    p->allowlist_required = 1;
    p->allowlist_delay = 86400;
    NEED(kura_policy_add_allow(p, D1, "exchange", NULL) == KURA_OK);
    NEED(kura_policy_add_allow(p, D2, "cold storage", NULL) == KURA_OK);
    NEED(kura_policy_add_allow(p, D3, "payroll", NULL) == KURA_OK);
    p->max_per_transfer = 300000000;
    p->max_per_24h = 1000000000;
    p->max_fee = 100000;
    p->max_fee_rate = 200;
    p->max_lifetime = 86400;
    return p;
}

static void make_world(world *w, const char *desc_text)
{
    char *canon = NULL;
    NEED(kura_descriptor_parse(ctx, &w->desc, desc_text, strlen(desc_text), NULL) == KURA_OK);
    NEED(kura_descriptor_to_string(ctx, &canon, w->desc, KURA_DESCRIPTOR_ALL_BRANCHES,
                                   KURA_DESCRIPTOR_PUBLIC, NULL) == KURA_OK);
    snprintf(w->checksum, sizeof(w->checksum), "%s", strrchr(canon, '#') + 1);
    kura_descriptor_string_free(canon);
    for (size_t b = 0; b < 2; b++)
        for (uint32_t i = 0; i < SCAN; i++)
            NEED(kura_descriptor_script_pubkey(ctx, w->scripts[b][i], KURA_SCRIPT_PUBKEY_MAX,
                                               &w->script_lens[b][i], w->desc, b, i,
                                               NULL) == KURA_OK);
    w->policy = make_policy(w, 5);
    w->state.wallet = w->desc;
    w->state.wallet_name = "treasury";
    strcpy(w->state.wallet_checksum, w->checksum);
    w->state.chain = KURA_CHAIN_BITCOIN;
    w->state.policy = w->policy;
    w->state.journal.intent_signed = j_signed;
    w->state.journal.signed_since = j_since;
    w->state.journal.allow_accepted_at = j_allow;
    w->state.now = NOW;
    w->state.max_clock_skew = 300;
    w->state.max_change_index = MAX_CHANGE;
}

/* What a package variant changes from the valid one. */
enum variant {
    V_VALID,
    V_POLICY_UPDATE,  /* valid, with a newer policy signed by both admins */
    V_AMOUNT_CHANGED, /* output 0 pays 1000 sat more, change 1000 less */
    V_OUTPUT_ADDED,   /* an extra output to D4 */
    V_ONE_APPROVAL,   /* only alice */
    V_FEE_INFLATED,   /* fee over the intent's cap */
    V_CHANGE_RECEIVE, /* change on the receive branch */
    V_COUNT
};
static const char *const VARIANT_NAMES[V_COUNT] = {
    "valid",        "policy-update", "amount-changed", "output-added",
    "one-approval", "fee-inflated",  "change-receive"};
static const kura_refusal VARIANT_REASON[V_COUNT] = {KURA_REFUSE_NONE,
                                                     KURA_REFUSE_NONE,
                                                     KURA_REFUSE_OUTPUT_MISSING,
                                                     KURA_REFUSE_OUTPUT_UNEXPECTED,
                                                     KURA_REFUSE_APPROVALS_INSUFFICIENT,
                                                     KURA_REFUSE_FEE_INTENT,
                                                     KURA_REFUSE_CHANGE_FOREIGN};

/* Builds package `v` for world w; returns the serialised PSBT. */
static uint8_t *make_package(const world *w, int kind, enum variant v, size_t *len)
{
    static const char *const addr[3] = {D1, D2, D3};
    static const uint64_t amount[3] = {30000000, 20000000, 10000000};
    kura_intent *it = kura_intent_new();
    kura_wallet_coin coins[2];
    kura_wallet_payment pay[5];
    uint8_t scripts[4][KURA_SCRIPT_PUBKEY_MAX];
    kura_tx *f0, *f1;
    kura_psbt *psbt = NULL;
    kura_descriptor_output *work = kura_descriptor_output_new();
    char *text = NULL, *sig;
    size_t text_len = 0, sig_len, n = 0, change_branch = v == V_CHANGE_RECEIVE ? 0 : 1;
    uint64_t fee = v == V_FEE_INFLATED ? 60000 : 10000, sum = 0;
    uint8_t *bytes = NULL;

    NEED(it != NULL && work != NULL);
    snprintf(it->id, sizeof(it->id), "%032x", (unsigned)kind + 1);
    it->chain = KURA_CHAIN_BITCOIN;
    strcpy(it->wallet.name, "treasury");
    strcpy(it->wallet.checksum, w->checksum);
    strcpy(it->initiator, "ops");
    it->policy_version = 5;
    it->created = NOW - 600;
    it->expires = NOW + 3600;
    it->max_fee = 50000;
    for (size_t i = 0; i < 3; i++)
        NEED(kura_intent_add_output(it, addr[i], amount[i], i == 0 ? "withdrawal 1" : NULL, NULL) ==
             KURA_OK);
    NEED(kura_intent_write(&text, &text_len, it, NULL) == KURA_OK);

    f0 = funding(w, 0, 3, COIN0, (uint8_t)(0x10 * kind + 1));
    f1 = funding(w, 1, 0, COIN1, (uint8_t)(0x10 * kind + 2));
    coins[0] = (kura_wallet_coin){{0}, 1, COIN0, 0, 3, f0, 0};
    coins[1] = (kura_wallet_coin){{0}, 1, COIN1, 1, 0, f1, 0};
    NEED(kura_tx_txid(coins[0].txid, f0) == KURA_OK);
    NEED(kura_tx_txid(coins[1].txid, f1) == KURA_OK);
    for (size_t i = 0; i < 3; i++) {
        size_t sl;
        uint64_t a = amount[i] + (v == V_AMOUNT_CHANGED && i == 0 ? 1000 : 0);
        NEED(kura_address_to_script(scripts[i], KURA_SCRIPT_PUBKEY_MAX, &sl, addr[i],
                                    KURA_NETWORK_MAINNET, NULL) == KURA_OK);
        pay[n++] = (kura_wallet_payment){scripts[i], sl, a};
        sum += a;
    }
    if (v == V_OUTPUT_ADDED) {
        size_t sl;
        NEED(kura_address_to_script(scripts[3], KURA_SCRIPT_PUBKEY_MAX, &sl, D4,
                                    KURA_NETWORK_MAINNET, NULL) == KURA_OK);
        pay[n++] = (kura_wallet_payment){scripts[3], sl, 5000};
        sum += 5000;
    }
    pay[n++] = (kura_wallet_payment){w->scripts[change_branch][7], w->script_lens[change_branch][7],
                                     COIN0 + COIN1 - sum - fee};
    NEED(kura_wallet_create_psbt(ctx, &psbt, w->desc, coins, 2, pay, n, 0, 0, 0, NULL) == KURA_OK);
    NEED(kura_wallet_update_output(ctx, psbt, n - 1, work, w->desc, change_branch, 7, NULL) ==
         KURA_OK);
    NEED(kura_package_set_intent(psbt, (const uint8_t *)text, text_len) == KURA_OK);
    for (size_t k = 0; k < (v == V_ONE_APPROVAL ? 1u : 2u); k++) {
        sig = sshsig(&keys[k], "kura-intent-v1", (const uint8_t *)text, text_len, &sig_len);
        NEED(kura_package_add_approval(psbt, (const uint8_t *)sig, sig_len) == KURA_OK);
        free(sig);
    }
    if (v == V_POLICY_UPDATE) {
        kura_policy *next = make_policy(w, 6);
        char *ptext = NULL;
        size_t plen = 0;
        next->max_fee_rate = 250;
        NEED(kura_policy_write(&ptext, &plen, next, NULL) == KURA_OK);
        NEED(kura_package_set_policy(psbt, (const uint8_t *)ptext, plen) == KURA_OK);
        for (size_t k = 3; k < 5; k++) {
            sig = sshsig(&keys[k], KURA_POLICY_NAMESPACE, (const uint8_t *)ptext, plen, &sig_len);
            NEED(kura_package_add_policy_signature(psbt, (const uint8_t *)sig, sig_len) == KURA_OK);
            free(sig);
        }
        free(ptext);
        kura_policy_free(next);
    }
    NEED(kura_psbt_serialize(&bytes, len, psbt) == KURA_OK);
    kura_psbt_free(psbt);
    kura_tx_free(f0);
    kura_tx_free(f1);
    kura_descriptor_output_free(work);
    kura_intent_free(it);
    free(text);
    return bytes;
}

/* ---- the invariant ---- */

static int is_wallet_script(const world *w, size_t branch, const uint8_t *s, size_t len,
                            uint32_t max_index)
{
    for (uint32_t i = 0; i <= max_index && i < SCAN; i++)
        if (w->script_lens[branch][i] == len && memcmp(w->scripts[branch][i], s, len) == 0)
            return 1;
    return 0;
}

/* Called only for accepted packages: recomputes the promise from scratch. */
static void assert_promise(const world *w, const kura_psbt *psbt, const kura_check_result *res)
{
    kura_package_view view;
    kura_intent *it = NULL;
    kura_policy *pol;
    unsigned char used[KURA_INTENT_OUTPUTS_MAX];
    uint64_t in_total = 0, out_total = 0, fee, rate_cap;
    unsigned required = 0;

    NEED(psbt->version == 0 && psbt->tx_version == 2 && psbt->locktime == 0);
    NEED(kura_package_read(&view, psbt, NULL) == KURA_OK && view.intent != NULL);
    NEED(kura_intent_parse(&it, view.intent, view.intent_len, NULL) == KURA_OK);
    NEED(strcmp(it->wallet.checksum, w->checksum) == 0 && it->chain == KURA_CHAIN_BITCOIN);
    NEED(it->created <= NOW + 300 && NOW < it->expires);
    /* The policy that governed: the package's accepted update, or ours. */
    pol = res->new_policy != NULL ? res->new_policy : w->policy;
    NEED(res->new_policy == NULL || res->new_policy->version > w->policy->version);
    NEED(kura_policy_tier_required(&required, pol, kura_intent_total(it)) == KURA_OK);
    NEED(res->approval_count >= required && required >= 1);
    NEED(view.approval_count >= required);

    memset(used, 0, sizeof(used));
    for (size_t o = 0; o < psbt->output_count; o++) {
        const kura_psbt_output *out = &psbt->outputs[o];
        int matched = 0;
        out_total += out->amount;
        for (size_t j = 0; j < it->output_count && !matched; j++) {
            if (used[j] || it->outputs[j].amount != out->amount ||
                it->outputs[j].script_len != out->script_pubkey.len ||
                memcmp(it->outputs[j].script, out->script_pubkey.data, out->script_pubkey.len) != 0)
                continue;
            used[j] = 1;
            matched = 1;
        }
        if (!matched)
            NEED(is_wallet_script(w, 1, out->script_pubkey.data, out->script_pubkey.len,
                                  MAX_CHANGE));
    }
    for (size_t j = 0; j < it->output_count; j++) NEED(used[j]);

    for (size_t i = 0; i < psbt->input_count; i++) {
        const kura_psbt_input *in = &psbt->inputs[i];
        const kura_txout *spent;
        uint8_t txid[32];
        NEED(in->non_witness_utxo != NULL);
        NEED(kura_tx_txid(txid, in->non_witness_utxo) == KURA_OK);
        NEED(memcmp(txid, in->prev_txid, 32) == 0);
        NEED(in->prev_vout < in->non_witness_utxo->output_count);
        spent = &in->non_witness_utxo->outputs[in->prev_vout];
        NEED(is_wallet_script(w, 0, spent->script_pubkey.data, spent->script_pubkey.len, SCAN) ||
             is_wallet_script(w, 1, spent->script_pubkey.data, spent->script_pubkey.len, SCAN));
        in_total += spent->amount;
    }
    NEED(in_total >= out_total);
    fee = in_total - out_total;
    NEED(fee == res->fee);
    NEED(fee <= it->max_fee);
    NEED(fee <= pol->max_fee);
    /* The rate: the unsigned transaction (no witnesses) is smaller than
     * the finalized one, so the check's estimate is at least its size, and
     * the fee is within the rate cap at that estimate. */
    {
        kura_tx *tx = NULL;
        NEED(kura_psbt_unsigned_tx(&tx, psbt, NULL) == KURA_OK);
        NEED(res->vsize_estimate >= kura_tx_vsize(tx));
        kura_tx_free(tx);
    }
    rate_cap = pol->max_fee_rate * res->vsize_estimate;
    NEED(fee <= rate_cap);
    /* SIGHASH_ALL (or DEFAULT) only. */
    for (size_t i = 0; i < psbt->input_count; i++)
        NEED(!psbt->inputs[i].has_sighash_type || psbt->inputs[i].sighash_type == 0x01 ||
             psbt->inputs[i].sighash_type == 0x00);
    NEED(kura_intent_total(it) <= pol->max_per_transfer);
    kura_intent_free(it);
}

/* ---- libFuzzer ---- */

static kura_refusal check_bytes(int kind, const uint8_t *data, size_t size, int *parsed)
{
    kura_psbt *psbt = NULL;
    kura_check_result res;
    kura_refusal reason;
    int rc;
    *parsed = 0;
    if (kura_psbt_parse(&psbt, data, size, NULL) != KURA_OK) return KURA_REFUSE_PACKAGE_MALFORMED;
    *parsed = 1;
    memset(&res, 0, sizeof(res));
    rc = kura_check_package(ctx, &res, &worlds[kind].state, psbt);
    reason = res.reason;
    if (rc == KURA_OK) {
        NEED(reason == KURA_REFUSE_NONE && res.summary != NULL && res.message[0] == '\0');
        assert_promise(&worlds[kind], psbt, &res);
    } else {
        NEED(rc == KURA_EDATA || rc == KURA_ENOMEM);
        NEED(res.summary == NULL && res.new_policy == NULL);
        if (rc == KURA_EDATA) NEED(reason != KURA_REFUSE_NONE && res.message[0] != '\0');
    }
    kura_check_result_clear(&res);
    kura_psbt_free(psbt);
    return reason;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char text[2048], o[3][256];
    const char *seed_dir = getenv("KURA_FUZZ_CHECK_WRITE_SEEDS");
    const uint32_t p84[] = {84 | H, 0 | H, 0 | H}, p48_2[] = {48 | H, 0 | H, 0 | H, 2 | H},
                   p86[] = {86 | H, 0 | H, 0 | H}, p48_3[] = {48 | H, 0 | H, 0 | H, 3 | H};
    (void)argc;
    (void)argv;
    NEED(sodium_init() >= 0);
    if (getenv("KURA_FUZZ_CHECK_STATS") != NULL) {
        stats = 1;
        atexit(print_stats);
    }
    ctx = kura_ctx_new();
    NEED(ctx != NULL);
    for (size_t i = 0; i < 5; i++) make_key(&keys[i], (uint8_t)(0xa1 + i));

    origin_xpub(o[0], 256, 1, p84, 3, "84h/0h/0h");
    snprintf(text, sizeof(text), "wpkh(%s/<0;1>/*)", o[0]);
    make_world(&worlds[0], text);
    for (size_t i = 0; i < 3; i++)
        origin_xpub(o[i], 256, (uint8_t)(1 + i), p48_2, 4, "48h/0h/0h/2h");
    snprintf(text, sizeof(text), "wsh(sortedmulti(2,%s/<0;1>/*,%s/<0;1>/*,%s/<0;1>/*))", o[0], o[1],
             o[2]);
    make_world(&worlds[1], text);
    origin_xpub(o[0], 256, 4, p86, 3, "86h/0h/0h");
    snprintf(text, sizeof(text), "tr(%s/<0;1>/*)", o[0]);
    make_world(&worlds[2], text);
    for (size_t i = 0; i < 3; i++)
        origin_xpub(o[i], 256, (uint8_t)(5 + i), p48_3, 4, "48h/0h/0h/3h");
    snprintf(text, sizeof(text),
             "tr(50929b74c1a04954b78b4b6035e97a5e078a5a0f28ec96d547bfee9ace803ac0,"
             "sortedmulti_a(2,%s/<0;1>/*,%s/<0;1>/*,%s/<0;1>/*))",
             o[0], o[1], o[2]);
    make_world(&worlds[3], text);

    /* Every variant of every kind: accepted or refused as designed. */
    for (int kind = 0; kind < KINDS; kind++) {
        for (int v = 0; v < V_COUNT; v++) {
            size_t len = 0;
            uint8_t *bytes = make_package(&worlds[kind], kind, (enum variant)v, &len);
            uint8_t *input = malloc(len + 1);
            int parsed;
            kura_refusal got;
            NEED(input != NULL);
            input[0] = (uint8_t)kind;
            memcpy(input + 1, bytes, len);
            got = check_bytes(kind, bytes, len, &parsed);
            if (got != VARIANT_REASON[v]) {
                fprintf(stderr, "fuzz_check_package: kind %d %s: got %s\n", kind, VARIANT_NAMES[v],
                        kura_refusal_name(got));
                abort();
            }
            if (seed_dir != NULL) {
                char path[512];
                FILE *f;
                snprintf(path, sizeof(path), "%s/kind%d-%s", seed_dir, kind, VARIANT_NAMES[v]);
                f = fopen(path, "wb");
                NEED(f != NULL && fwrite(input, 1, len + 1, f) == len + 1);
                fclose(f);
            }
            free(input);
            free(bytes);
        }
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int parsed;
    kura_refusal r;
    if (size < 1) return 0;
    r = check_bytes(data[0] % KINDS, data + 1, size - 1, &parsed);
    if (stats) outcomes[parsed ? (unsigned)r % KURA_REFUSAL_COUNT : KURA_REFUSAL_COUNT]++;
    return 0;
}
