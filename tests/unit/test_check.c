/* The signer's check against real packages: wallets from fixed seeds (the
 * four kura wallet kinds), PSBTs from kura's own updater, intents and
 * policies from their builders, and approvals and policy signatures made by
 * the real OpenSSH (`ssh-keygen -Y sign`) with keys generated at test time.
 *
 * A legitimate batch is accepted for each wallet kind (and signed, finalized
 * and measured against the size estimate); then every refusal reason the
 * check can return (1 to 31) is provoked by the attack it stops, and the
 * exact reason is asserted. Signatures are cached by (key, namespace, text)
 * so that the many tests that share the default intent share its approvals. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kura/check.h"
#include "kura/descriptor.h"
#include "kura/hash.h"
#include "kura/intent.h"
#include "kura/keys.h"
#include "kura/policy.h"
#include "kura/psbt.h"
#include "kura/script.h"
#include "kura/sighash.h"
#include "kura/sshsig.h"
#include "kura/tx.h"
#include "kura/wallet.h"
#include "testutil_keys.h"
#include "testutil_sshsig.h"
#include "testutil_wallet.h"

#define H KURA_BIP32_HARDENED

/* ---- the world: keys, wallets, destinations ---- */

enum { K_WPKH, K_WSH, K_TR, K_TRMS, K_FOREIGN, K_COUNT };

typedef struct wallet {
    kura_descriptor *desc;
    char checksum[9];
    kura_bip32_key masters[3];
    size_t nmasters;
    size_t nsign;        /* signatures the wallet needs */
    kura_tx *funding[2]; /* coin 0: (0,3) 2 BTC; coin 1: (1,0) 0.7 BTC */
    uint8_t fingerprint[4];
} wallet;

#define COIN0 200000000ull
#define COIN1 70000000ull
#define NOW 1795000000LL /* 2026-11-18 */
#define WALLET_NAME "treasury"
#define INTENT_ID "4f1c2a9e7b3d4c58a1e0f6b2d9c3e7a1"

/* Destinations (mainnet). D1-D3 are on the allowlist of the policy in force. */
#define D1 "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"
#define D2 "bc1p5d7rjq7g6rdk2yhzks9smlaqtedr4dekq08ge8ztwac72sfr9rusxg3297"
#define D3 "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy"
#define D4 "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2"                             /* never allowlisted */
#define D5 "bc1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3qccfmv3" /* added by v6 */

static kura_ctx *ctx;
static char keydir[64];
static wallet wallets[K_COUNT];

/* SSH keys: approvers alice, bob, carol (ed25519), dave (ECDSA P-256);
 * administrators admin1..admin3; mallory is nobody. */
static const char *const KEYS[] = {"alice",  "bob",    "carol",  "dave",
                                   "admin1", "admin2", "admin3", "mallory"};
#define NKEYS (sizeof(KEYS) / sizeof(KEYS[0]))
static char pubkeys[NKEYS][KURA_SSHKEY_STRING_MAX];

/* ---- keys ---- */

static size_t key_index(const char *name)
{
    for (size_t i = 0; i < NKEYS; i++)
        if (strcmp(KEYS[i], name) == 0) return i;
    fail_msg("no key %s", name);
    return 0;
}

/* ---- signatures, cached ---- */

typedef struct cached_sig {
    size_t key;
    char ns[32];
    uint8_t text_hash[32];
    char *sig;
    size_t len;
} cached_sig;

static cached_sig cache[512];
static size_t cache_count;

/* The cached signature (owned by the cache). */
static const char *sign(const char *name, const char *ns, const void *text, size_t len,
                        size_t *sig_len)
{
    uint8_t h[32];
    size_t k = key_index(name);
    kura_sha256(h, text, len);
    for (size_t i = 0; i < cache_count; i++) {
        if (cache[i].key == k && strcmp(cache[i].ns, ns) == 0 &&
            memcmp(cache[i].text_hash, h, 32) == 0) {
            *sig_len = cache[i].len;
            return cache[i].sig;
        }
    }
    assert_true(cache_count < sizeof(cache) / sizeof(cache[0]));
    cached_sig *c = &cache[cache_count++];
    c->key = k;
    snprintf(c->ns, sizeof(c->ns), "%s", ns);
    memcpy(c->text_hash, h, 32);
    c->sig = tu_ssh_sign(keydir, name, ns, text, len, &c->len);
    *sig_len = c->len;
    return c->sig;
}

/* ---- wallets ---- */

static void make_wallet(wallet *w, const char *kind, uint8_t seed0, size_t nkeys, size_t nsign,
                        uint8_t tag)
{
    char origin[3][256], text[2048];
    kura_error err;
    char *canon = NULL;
    const uint32_t p84[] = {84 | H, 0 | H, 0 | H}, p48_2[] = {48 | H, 0 | H, 0 | H, 2 | H},
                   p86[] = {86 | H, 0 | H, 0 | H}, p48_3[] = {48 | H, 0 | H, 0 | H, 3 | H};
    for (size_t i = 0; i < nkeys; i++) {
        uint8_t s = (uint8_t)(seed0 + i);
        if (strcmp(kind, "wpkh") == 0)
            tu_make_master(ctx, &w->masters[i], origin[i], 256, s, p84, 3, "84h/0h/0h");
        else if (strcmp(kind, "wsh") == 0)
            tu_make_master(ctx, &w->masters[i], origin[i], 256, s, p48_2, 4, "48h/0h/0h/2h");
        else if (strcmp(kind, "tr") == 0)
            tu_make_master(ctx, &w->masters[i], origin[i], 256, s, p86, 3, "86h/0h/0h");
        else
            tu_make_master(ctx, &w->masters[i], origin[i], 256, s, p48_3, 4, "48h/0h/0h/3h");
    }
    if (strcmp(kind, "wpkh") == 0)
        snprintf(text, sizeof(text), "wpkh(%s/<0;1>/*)", origin[0]);
    else if (strcmp(kind, "wsh") == 0)
        snprintf(text, sizeof(text), "wsh(sortedmulti(2,%s/<0;1>/*,%s/<0;1>/*,%s/<0;1>/*))",
                 origin[0], origin[1], origin[2]);
    else if (strcmp(kind, "tr") == 0)
        snprintf(text, sizeof(text), "tr(%s/<0;1>/*)", origin[0]);
    else
        snprintf(text, sizeof(text),
                 "tr(50929b74c1a04954b78b4b6035e97a5e078a5a0f28ec96d547bfee9ace803ac0,"
                 "sortedmulti_a(2,%s/<0;1>/*,%s/<0;1>/*,%s/<0;1>/*))",
                 origin[0], origin[1], origin[2]);
    if (kura_descriptor_parse(ctx, &w->desc, text, strlen(text), &err) != KURA_OK)
        fail_msg("descriptor: %s", err.message);
    assert_int_equal(kura_descriptor_to_string(ctx, &canon, w->desc, KURA_DESCRIPTOR_ALL_BRANCHES,
                                               KURA_DESCRIPTOR_PUBLIC, NULL),
                     KURA_OK);
    snprintf(w->checksum, sizeof(w->checksum), "%s", strrchr(canon, '#') + 1);
    kura_descriptor_string_free(canon);
    w->nmasters = nkeys;
    w->nsign = nsign;
    assert_int_equal(kura_bip32_fingerprint(w->fingerprint, &w->masters[0]), KURA_OK);
    w->funding[0] = tu_funding_tx(ctx, w->desc, 0, 3, COIN0, tag, 1000);
    w->funding[1] = tu_funding_tx(ctx, w->desc, 1, 0, COIN1, (uint8_t)(tag + 1), 1000);
}

static void script_of(uint8_t *script, size_t *len, const char *address)
{
    kura_error err;
    if (kura_address_to_script(script, KURA_SCRIPT_PUBKEY_MAX, len, address, KURA_NETWORK_MAINNET,
                               &err) != KURA_OK)
        fail_msg("address %s: %s", address, err.message);
}

/* ---- the policy ---- */

/* The policy in force for wallet kind k, version `version`. */
static kura_policy *make_policy(int k, uint64_t version)
{
    kura_policy *p = kura_policy_new();
    kura_error err;
    assert_non_null(p);
    p->version = version;
    p->chain = KURA_CHAIN_BITCOIN;
    strcpy(p->wallet.name, WALLET_NAME);
    strcpy(p->wallet.checksum, wallets[k].checksum);
    p->mode = KURA_POLICY_COLD;
    for (size_t i = 4; i <= 6; i++)
        if (kura_policy_add_admin(p, KEYS[i], pubkeys[i], &err) != KURA_OK)
            fail_msg("admin: %s", err.message);
    p->admin_quorum = 2;
    for (size_t i = 0; i <= 3; i++)
        if (kura_policy_add_approver(p, KEYS[i], pubkeys[i], &err) != KURA_OK)
            fail_msg("approver: %s", err.message);
    assert_int_equal(kura_policy_add_tier(p, 50000000, 1, &err), KURA_OK);
    assert_int_equal(kura_policy_add_tier(p, 500000000, 2, &err), KURA_OK);
    assert_int_equal(kura_policy_add_tier(p, KURA_POLICY_TIER_UNBOUNDED, 3, &err), KURA_OK);
    p->initiator_may_approve = 0;
    p->allowlist_required = 1;
    p->allowlist_delay = 86400;
    assert_int_equal(kura_policy_add_allow(p, D1, "exchange deposit", &err), KURA_OK);
    assert_int_equal(kura_policy_add_allow(p, D2, "cold storage", &err), KURA_OK);
    assert_int_equal(kura_policy_add_allow(p, D3, "payroll", &err), KURA_OK);
    p->max_per_transfer = 300000000;
    p->max_per_24h = 1000000000;
    p->max_fee = 1000000;
    p->max_fee_rate = 200;
    p->max_lifetime = 86400;
    return p;
}

/* ---- the journal ---- */

typedef struct journal {
    uint8_t signed_hash[32];
    int has_signed_hash;
    char signed_id[33];
    uint64_t rolling;
    int64_t rolling_since; /* what the check asked */
    struct {
        uint8_t script[KURA_SCRIPT_PUBKEY_MAX];
        size_t len;
        int64_t at;
    } allow[8];
    size_t allow_count;
    /* Fee bumps: the earlier signatures of signed_hash, when prior_set. */
    int prior_set;
    int prior_fails; /* the callback reports that it cannot answer */
    kura_check_prior prior;
    kura_check_outpoint prior_inputs[8];
    int64_t prior_since; /* what the check asked */
} journal;

static int j_intent_signed(void *arg, const uint8_t hash[32], const char *id)
{
    journal *j = arg;
    return (j->has_signed_hash && memcmp(j->signed_hash, hash, 32) == 0) ||
           (j->signed_id[0] != '\0' && strcmp(j->signed_id, id) == 0);
}

static uint64_t j_signed_since(void *arg, int64_t since)
{
    journal *j = arg;
    j->rolling_since = since;
    return j->rolling;
}

static int j_prior_signatures(void *arg, kura_check_prior *prior, kura_check_outpoint *inputs,
                              size_t cap, const uint8_t hash[32], int64_t since)
{
    journal *j = arg;
    memset(prior, 0, sizeof(*prior));
    j->prior_since = since;
    if (j->prior_fails) return -1;
    if (!j->has_signed_hash || memcmp(j->signed_hash, hash, 32) != 0) return 0;
    *prior = j->prior;
    for (size_t i = 0; i < cap && i < j->prior.input_count; i++) inputs[i] = j->prior_inputs[i];
    return 0;
}

static int64_t j_allow_accepted_at(void *arg, const uint8_t *script, size_t len)
{
    journal *j = arg;
    for (size_t i = 0; i < j->allow_count; i++)
        if (j->allow[i].len == len && memcmp(j->allow[i].script, script, len) == 0)
            return j->allow[i].at;
    return -1;
}

static void journal_allow(journal *j, const char *address, int64_t at)
{
    for (size_t i = 0; i < j->allow_count; i++) {
        uint8_t s[KURA_SCRIPT_PUBKEY_MAX];
        size_t len;
        script_of(s, &len, address);
        if (j->allow[i].len == len && memcmp(j->allow[i].script, s, len) == 0) {
            j->allow[i].at = at;
            return;
        }
    }
    assert_true(j->allow_count < 8);
    script_of(j->allow[j->allow_count].script, &j->allow[j->allow_count].len, address);
    j->allow[j->allow_count].at = at;
    j->allow_count++;
}

/* ---- packages ---- */

typedef struct out_spec {
    const char *address;
    uint64_t amount;
    const char *label;
} out_spec;

typedef struct pkg {
    int kind;
    /* intent */
    char id[33];
    kura_intent_chain chain;
    char wallet_name[33];
    char checksum[9];
    char initiator[65];
    uint64_t policy_version; /* the version the approvers saw */
    int64_t created, expires;
    uint64_t max_fee;
    out_spec outs[8];
    size_t n_outs;
    /* transaction */
    out_spec tx_outs[8];
    size_t n_tx;
    int tx_set; /* tx_outs given; else the intent's outputs */
    uint64_t fee;
    int no_change;
    size_t change_branch;
    uint32_t change_index;
    int change_kind;   /* whose descriptor the change pays */
    int input_kind;    /* whose coins are spent */
    int no_funding[2]; /* leave out coin i's funding transaction */
    uint32_t sequence;
    uint32_t locktime;
    /* built */
    char *intent_text;
    size_t intent_len;
    kura_psbt *psbt;
    /* signer state */
    kura_policy *policy;
    kura_policy *rules; /* the rules in force (NULL: policy) */
    journal jnl;
    uint32_t max_change_index;
    int64_t now;
    kura_check_result result;
} pkg;

static void pkg_init(pkg *pk, int kind)
{
    memset(pk, 0, sizeof(*pk));
    pk->kind = kind;
    strcpy(pk->id, INTENT_ID);
    pk->chain = KURA_CHAIN_BITCOIN;
    strcpy(pk->wallet_name, WALLET_NAME);
    strcpy(pk->checksum, wallets[kind].checksum);
    strcpy(pk->initiator, "ops-tanaka");
    pk->policy_version = 5;
    pk->created = NOW - 600;
    pk->expires = NOW + 3600;
    pk->max_fee = 40000;
    pk->outs[0] = (out_spec){D1, 30000000, "withdrawal 8812"};
    pk->outs[1] = (out_spec){D2, 20000000, "withdrawal 8813"};
    pk->outs[2] = (out_spec){D3, 10000000, NULL};
    pk->n_outs = 3;
    pk->fee = 10000;
    pk->change_branch = KURA_DESCRIPTOR_BRANCH_CHANGE;
    pk->change_index = 7;
    pk->change_kind = kind;
    pk->input_kind = kind;
    pk->policy = make_policy(kind, 5);
    pk->max_change_index = 1000;
    pk->now = NOW;
    journal_allow(&pk->jnl, D1, NOW - 30 * 86400);
    journal_allow(&pk->jnl, D2, NOW - 30 * 86400);
    journal_allow(&pk->jnl, D3, NOW - 30 * 86400);
}

static void pkg_free(pkg *pk)
{
    free(pk->intent_text);
    kura_psbt_free(pk->psbt);
    kura_policy_free(pk->policy);
    kura_policy_free(pk->rules);
    kura_check_result_clear(&pk->result);
}

/* The canonical intent text for pk's intent fields and outputs. */
static char *intent_text(const pkg *pk, size_t *len)
{
    kura_intent *it = kura_intent_new();
    kura_error err;
    char *text = NULL;
    assert_non_null(it);
    strcpy(it->id, pk->id);
    it->chain = pk->chain;
    strcpy(it->wallet.name, pk->wallet_name);
    strcpy(it->wallet.checksum, pk->checksum);
    strcpy(it->initiator, pk->initiator);
    it->policy_version = pk->policy_version;
    it->created = pk->created;
    it->expires = pk->expires;
    it->max_fee = pk->max_fee;
    for (size_t i = 0; i < pk->n_outs; i++)
        if (kura_intent_add_output(it, pk->outs[i].address, pk->outs[i].amount, pk->outs[i].label,
                                   &err) != KURA_OK)
            fail_msg("intent output: %s", err.message);
    if (kura_intent_write(&text, len, it, &err) != KURA_OK) fail_msg("intent: %s", err.message);
    kura_intent_free(it);
    return text;
}

static void set_intent(pkg *pk, const char *text, size_t len)
{
    assert_int_equal(kura_package_set_intent(pk->psbt, (const uint8_t *)text, len), KURA_OK);
}

/* Builds the intent text and the PSBT (kura's updater), and puts the intent
 * into the package. */
static void pkg_build(pkg *pk)
{
    const wallet *win = &wallets[pk->input_kind];
    const out_spec *tx = pk->tx_set ? pk->tx_outs : pk->outs;
    size_t ntx = pk->tx_set ? pk->n_tx : pk->n_outs;
    uint8_t scripts[9][KURA_SCRIPT_PUBKEY_MAX];
    kura_wallet_payment pay[9];
    kura_wallet_coin coins[2];
    kura_descriptor_output *work;
    uint64_t sum = 0;
    kura_error err;
    size_t n = 0;

    pk->intent_text = intent_text(pk, &pk->intent_len);
    memset(coins, 0, sizeof(coins));
    for (size_t i = 0; i < 2; i++) {
        assert_int_equal(kura_tx_txid(coins[i].txid, win->funding[i]), KURA_OK);
        coins[i].vout = 1;
        coins[i].amount = i == 0 ? COIN0 : COIN1;
        coins[i].branch = i == 0 ? 0 : 1;
        coins[i].index = i == 0 ? 3 : 0;
        coins[i].prev_tx = pk->no_funding[i] ? NULL : win->funding[i];
        coins[i].sequence = pk->sequence;
    }
    for (size_t i = 0; i < ntx; i++) {
        size_t len;
        script_of(scripts[n], &len, tx[i].address);
        pay[n] = (kura_wallet_payment){scripts[n], len, tx[i].amount};
        sum += tx[i].amount;
        n++;
    }
    if (!pk->no_change) {
        size_t len;
        assert_int_equal(kura_descriptor_script_pubkey(ctx, scripts[n], KURA_SCRIPT_PUBKEY_MAX,
                                                       &len, wallets[pk->change_kind].desc,
                                                       pk->change_branch, pk->change_index, NULL),
                         KURA_OK);
        pay[n] = (kura_wallet_payment){scripts[n], len, COIN0 + COIN1 - sum - pk->fee};
        n++;
    }
    if (kura_wallet_create_psbt(ctx, &pk->psbt, win->desc, coins, 2, pay, n, 0, 0, pk->locktime,
                                &err) != KURA_OK)
        fail_msg("create psbt: %s", err.message);
    if (!pk->no_change) {
        work = kura_descriptor_output_new();
        assert_non_null(work);
        if (kura_wallet_update_output(ctx, pk->psbt, n - 1, work, wallets[pk->change_kind].desc,
                                      pk->change_branch, pk->change_index, &err) != KURA_OK)
            fail_msg("change: %s", err.message);
        kura_descriptor_output_free(work);
    }
    set_intent(pk, pk->intent_text, pk->intent_len);
}

static void add_approval_text(pkg *pk, const char *sig, size_t len)
{
    assert_int_equal(kura_package_add_approval(pk->psbt, (const uint8_t *)sig, len), KURA_OK);
}

/* `name` approves the package's intent text. */
static void approve(pkg *pk, const char *name)
{
    size_t len;
    const char *sig = sign(name, "kura-intent-v1", pk->intent_text, pk->intent_len, &len);
    add_approval_text(pk, sig, len);
}

/* The default quorum for the default intent (0.6 BTC: tier 2). */
static void approve_default(pkg *pk)
{
    approve(pk, "alice");
    approve(pk, "bob");
}

/* Every reason any test saw, for test_every_reason_seen. */
static int seen[KURA_REFUSAL_COUNT];

/* Serialises and re-parses the PSBT (what travels to the signer), runs the
 * check, and returns the reason; the result stays in pk->result. */
static kura_refusal pkg_check(pkg *pk)
{
    kura_signer_state st;
    uint8_t *bytes = NULL;
    size_t len = 0;
    kura_psbt *again = NULL;
    kura_error err;
    int rc;

    assert_int_equal(kura_psbt_serialize(&bytes, &len, pk->psbt), KURA_OK);
    if (kura_psbt_parse(&again, bytes, len, &err) != KURA_OK) fail_msg("reparse: %s", err.message);
    free(bytes);
    memset(&st, 0, sizeof(st));
    st.wallet = wallets[pk->kind].desc;
    st.wallet_name = WALLET_NAME;
    strcpy(st.wallet_checksum, wallets[pk->kind].checksum);
    st.chain = KURA_CHAIN_BITCOIN;
    st.policy = pk->policy;
    st.rules = pk->rules;
    st.journal.arg = &pk->jnl;
    st.journal.intent_signed = j_intent_signed;
    st.journal.signed_since = j_signed_since;
    st.journal.allow_accepted_at = j_allow_accepted_at;
    if (pk->jnl.prior_set) st.journal.prior_signatures = j_prior_signatures;
    st.now = pk->now;
    st.max_clock_skew = 300;
    st.max_change_index = pk->max_change_index;
    kura_check_result_clear(&pk->result);
    rc = kura_check_package(ctx, &pk->result, &st, again);
    kura_psbt_free(again);
    seen[pk->result.reason] = 1;
    if (pk->result.reason == KURA_REFUSE_NONE) {
        if (rc != KURA_OK)
            fail_msg("check failed without a refusal: %d %s", rc, pk->result.message);
        assert_non_null(pk->result.summary);
    } else {
        assert_int_equal(rc, KURA_EDATA);
        assert_null(pk->result.summary);
        assert_null(pk->result.new_policy);
        assert_true(pk->result.message[0] != '\0');
    }
    return pk->result.reason;
}

#define expect(pk, want)                                                                           \
    do {                                                                                           \
        kura_refusal got_ = pkg_check(pk);                                                         \
        if (got_ != (want))                                                                        \
            fail_msg("expected %s, got %s: %s", kura_refusal_name(want), kura_refusal_name(got_),  \
                     (pk)->result.message);                                                        \
    } while (0)

/* The common case: build the package as set up, approve it with the default
 * quorum, require `want`, and free it. A macro, so that a failure names the
 * test's own line. */
#define expect_built(pk, want)                                                                     \
    do {                                                                                           \
        pkg_build(pk);                                                                             \
        approve_default(pk);                                                                       \
        expect(pk, want);                                                                          \
        pkg_free(pk);                                                                              \
    } while (0)

/* ---- acceptance: a batch with change, for every wallet kind ---- */

/* Signs the accepted package with the wallet's keys, finalizes it, and
 * compares the real virtual size with the estimate (a floor). */
static void sign_and_measure(pkg *pk)
{
    const wallet *w = &wallets[pk->kind];
    kura_tx *final = NULL;
    kura_error err;
    uint64_t real, est = pk->result.vsize_estimate;
    for (size_t i = 0; i < w->nsign; i++) {
        size_t count = 0;
        if (kura_psbt_sign_bip32(ctx, pk->psbt, &count, &w->masters[i], 0, &err) != KURA_OK)
            fail_msg("sign: %s", err.message);
        assert_int_equal(count, 2);
        /* Another signer's partial signatures do not disturb the check. */
        expect(pk, KURA_REFUSE_NONE);
    }
    if (kura_psbt_finalize(pk->psbt, &err) != KURA_OK) fail_msg("finalize: %s", err.message);
    assert_int_equal(kura_psbt_extract(&final, pk->psbt, &err), KURA_OK);
    real = kura_tx_vsize(final);
    /* Never above the real size (so the fee rate is never underestimated),
     * and close to it: ECDSA signatures are 71 or 72 bytes, a quarter
     * vbyte each. */
    if (est > real || real - est > 2)
        fail_msg("estimate %llu vB, real %llu vB", (unsigned long long)est,
                 (unsigned long long)real);
    kura_tx_free(final);
    /* A finalized input is no longer something kura signs. */
    expect(pk, KURA_REFUSE_UNKNOWN_FIELD);
}

static void accept_kind(int kind)
{
    pkg pk;
    uint8_t h[32];
    pkg_init(&pk, kind);
    pkg_build(&pk);
    approve_default(&pk);
    expect(&pk, KURA_REFUSE_NONE);
    assert_int_equal(pk.result.total_out, 60000000);
    assert_int_equal(pk.result.fee, 10000);
    assert_int_equal(pk.result.change, COIN0 + COIN1 - 60000000 - 10000);
    assert_int_equal(pk.result.approval_count, 2);
    assert_int_equal(pk.result.approvals_required, 2);
    assert_null(pk.result.new_policy);
    assert_string_equal(pk.result.intent_id, INTENT_ID);
    kura_intent_hash(h, (const uint8_t *)pk.intent_text, pk.intent_len);
    assert_memory_equal(pk.result.intent_hash, h, 32);
    assert_true(pk.result.vsize_estimate > 100 && pk.result.vsize_estimate < 1000);
    assert_int_equal(pk.jnl.rolling_since, NOW - 86400);
    /* What kura-cold shows: every destination with address, amounts,
     * labels; change; fee; approvers by name; id and expiry. */
    const char *s = pk.result.summary;
    if (getenv("KURA_TEST_SHOW_SUMMARY") != NULL) fprintf(stderr, "%s\n", s);
    assert_non_null(strstr(s, D1));
    assert_non_null(strstr(s, D2));
    assert_non_null(strstr(s, D3));
    assert_non_null(strstr(s, "0.30000000 BTC (30000000 sat)"));
    assert_non_null(strstr(s, "label: withdrawal 8812"));
    assert_non_null(strstr(s, "allowlisted as: exchange deposit"));
    assert_non_null(strstr(s, "allowlisted as: payroll"));
    assert_non_null(strstr(s, "Change back to this wallet: 2.09990000 BTC (209990000 sat)"));
    assert_non_null(strstr(s, "change index 7"));
    assert_non_null(strstr(s, "(10000 sat)"));
    assert_non_null(strstr(s, "Approved by: alice, bob (2 approvals, 2 required for this amount)"));
    assert_non_null(strstr(s, INTENT_ID));
    assert_non_null(strstr(s, "2026-11-18"));
    assert_non_null(strstr(s, "version 5"));
    sign_and_measure(&pk);
    pkg_free(&pk);
}

static void test_accept_wpkh(void **state)
{
    pkg pk;
    (void)state;
    accept_kind(K_WPKH);
    /* The highest change index is reported, for the signer's journal. */
    pkg_init(&pk, K_WPKH);
    pk.change_index = 42;
    pkg_build(&pk);
    approve_default(&pk);
    expect(&pk, KURA_REFUSE_NONE);
    assert_int_equal(pk.result.has_change, 1);
    assert_int_equal(pk.result.change_index_max, 42);
    pkg_free(&pk);
    pkg_init(&pk, K_WPKH);
    pk.no_change = 1;
    pk.fee = COIN0 + COIN1 - 60000000;
    pk.max_fee = pk.fee;
    pkg_build(&pk);
    approve_default(&pk);
    expect(&pk, KURA_REFUSE_FEE_POLICY); /* only that no change is never reported */
    assert_int_equal(pk.result.has_change, 0);
    pkg_free(&pk);
}

static void test_accept_wsh_multisig(void **state)
{
    (void)state;
    accept_kind(K_WSH);
}

static void test_accept_tr_keypath(void **state)
{
    (void)state;
    accept_kind(K_TR);
}

static void test_accept_tr_multi_a(void **state)
{
    (void)state;
    accept_kind(K_TRMS);
}

/* The transaction's output order need not be the intent's. */
static void test_accept_other_output_order(void **state)
{
    pkg pk;
    (void)state;
    pkg_init(&pk, K_WSH);
    pk.tx_set = 1;
    pk.tx_outs[0] = pk.outs[2];
    pk.tx_outs[1] = pk.outs[0];
    pk.tx_outs[2] = pk.outs[1];
    pk.n_tx = 3;
    expect_built(&pk, KURA_REFUSE_NONE);
}

/* ---- 1. the package ---- */

static void test_package_malformed(void **state)
{
    pkg pk;
    const uint8_t kura[] = {'k', 'u', 'r', 'a'}, key3[] = {0, 0, 1};
    (void)state;
    pkg_init(&pk, K_WPKH);
    pkg_build(&pk);
    approve_default(&pk);
    /* No intent. */
    assert_int_equal(kura_psbt_proprietary_remove(pk.psbt, kura, 4, KURA_PACKAGE_INTENT, NULL, 0),
                     KURA_OK);
    expect(&pk, KURA_REFUSE_PACKAGE_MALFORMED);
    set_intent(&pk, pk.intent_text, pk.intent_len);
    expect(&pk, KURA_REFUSE_NONE);
    /* A kura record of a subtype this signer does not know. */
    assert_int_equal(
        kura_psbt_proprietary_set(pk.psbt, kura, 4, 9, NULL, 0, (const uint8_t *)"x", 1), KURA_OK);
    expect(&pk, KURA_REFUSE_PACKAGE_MALFORMED);
    assert_int_equal(kura_psbt_proprietary_remove(pk.psbt, kura, 4, 9, NULL, 0), KURA_OK);
    /* An approval keyed by 3 bytes. */
    assert_int_equal(kura_psbt_proprietary_set(pk.psbt, kura, 4, KURA_PACKAGE_APPROVAL, key3, 3,
                                               (const uint8_t *)"x", 1),
                     KURA_OK);
    expect(&pk, KURA_REFUSE_PACKAGE_MALFORMED);
    assert_int_equal(kura_psbt_proprietary_remove(pk.psbt, kura, 4, KURA_PACKAGE_APPROVAL, key3, 3),
                     KURA_OK);
    /* Policy signatures without a policy. */
    assert_int_equal(kura_package_add_policy_signature(pk.psbt, (const uint8_t *)"sig", 3),
                     KURA_OK);
    expect(&pk, KURA_REFUSE_PACKAGE_MALFORMED);
    pkg_free(&pk);
}

static void put_policy(pkg *pk, const kura_policy *p, const char *const *signers, size_t n);
static const char *const ADMINS12[2];

static void test_network_mismatch(void **state)
{
    pkg pk;
    (void)state;
    pkg_init(&pk, K_WPKH);
    pkg_build(&pk);
    /* The same intent for signet, paying a test-network address: a mainnet
     * signer must not read it, whatever it approves. */
    pk.chain = KURA_CHAIN_SIGNET;
    pk.outs[0] = (out_spec){"tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx", 30000000, NULL};
    pk.n_outs = 1;
    free(pk.intent_text);
    pk.intent_text = intent_text(&pk, &pk.intent_len);
    set_intent(&pk, pk.intent_text, pk.intent_len);
    approve_default(&pk);
    expect(&pk, KURA_REFUSE_NETWORK_MISMATCH);
    assert_non_null(strstr(pk.result.message, "signet"));
    pkg_free(&pk);
    /* A policy update for another chain, properly signed. */
    pkg_init(&pk, K_WPKH);
    pkg_build(&pk);
    approve_default(&pk);
    {
        kura_policy *p = make_policy(K_WPKH, 6);
        p->chain = KURA_CHAIN_TESTNET4;
        p->allow_count = 0; /* mainnet addresses have no place in it */
        put_policy(&pk, p, ADMINS12, 2);
        kura_policy_free(p);
    }
    expect(&pk, KURA_REFUSE_NETWORK_MISMATCH);
    assert_non_null(strstr(pk.result.message, "testnet4"));
    pkg_free(&pk);
}

/* ---- 2. the policy ---- */

/* Puts policy p (text) and signatures by `signers` into the package. */
static void put_policy(pkg *pk, const kura_policy *p, const char *const *signers, size_t n)
{
    char *text = NULL;
    size_t len = 0;
    kura_error err;
    if (kura_policy_write(&text, &len, p, &err) != KURA_OK) fail_msg("policy: %s", err.message);
    assert_int_equal(kura_package_set_policy(pk->psbt, (const uint8_t *)text, len), KURA_OK);
    for (size_t i = 0; i < n; i++) {
        size_t sl;
        const char *sig = sign(signers[i], KURA_POLICY_NAMESPACE, text, len, &sl);
        assert_int_equal(kura_package_add_policy_signature(pk->psbt, (const uint8_t *)sig, sl),
                         KURA_OK);
    }
    free(text);
}

static const char *const ADMINS12[2] = {"admin1", "admin2"};

static void test_policy_update_accepted(void **state)
{
    pkg pk;
    kura_policy *next;
    (void)state;
    pkg_init(&pk, K_WPKH);
    pkg_build(&pk);
    approve_default(&pk);
    next = make_policy(K_WPKH, 6);
    next->max_fee_rate = 300;
    put_policy(&pk, next, ADMINS12, 2);
    expect(&pk, KURA_REFUSE_NONE);
    assert_non_null(pk.result.new_policy);
    assert_true(kura_policy_equal(pk.result.new_policy, next));
    assert_non_null(strstr(pk.result.summary, "version 6, NEW"));
    kura_policy_free(next);
    pkg_free(&pk);
}

static void test_policy_malformed(void **state)
{
    pkg pk;
    const char *bad = "kura-policy 1\nversion: 6\nnot a policy\n";
    (void)state;
    pkg_init(&pk, K_WPKH);
    pkg_build(&pk);
    approve_default(&pk);
    assert_int_equal(kura_package_set_policy(pk.psbt, (const uint8_t *)bad, strlen(bad)), KURA_OK);
    expect(&pk, KURA_REFUSE_POLICY_MALFORMED);
    pkg_free(&pk);
}

static void test_policy_stale(void **state)
{
    pkg pk;
    kura_policy *p;
    (void)state;
    pkg_init(&pk, K_WPKH);
    pkg_build(&pk);
    approve_default(&pk);
    /* An older policy, properly signed in its day: replaying it would undo
     * the changes made since. */
    p = make_policy(K_WPKH, 4);
    p->max_per_transfer = 1000000000;
    put_policy(&pk, p, ADMINS12, 2);
    expect(&pk, KURA_REFUSE_POLICY_STALE);
    kura_policy_free(p);
    /* The version in force with other rules. */
    p = make_policy(K_WPKH, 5);
    p->max_per_transfer = 1000000000;
    put_policy(&pk, p, ADMINS12, 2);
    expect(&pk, KURA_REFUSE_POLICY_STALE);
    kura_policy_free(p);
    /* The policy in force itself: as if absent, even unsigned. */
    p = make_policy(K_WPKH, 5);
    put_policy(&pk, p, NULL, 0);
    expect(&pk, KURA_REFUSE_NONE);
    assert_null(pk.result.new_policy);
    kura_policy_free(p);
    pkg_free(&pk);
}

static void test_policy_signatures(void **state)
{
    pkg pk;
    kura_policy *p;
    const char *one[] = {"admin1"}, *same[] = {"admin1", "admin1"}, *approvers[] = {"alice", "bob"};
    (void)state;
    pkg_init(&pk, K_WPKH);
    pkg_build(&pk);
    approve_default(&pk);
    p = make_policy(K_WPKH, 6);
    p->max_per_transfer = 1000000000;
    /* One administrator of a quorum of two. */
    put_policy(&pk, p, one, 1);
    expect(&pk, KURA_REFUSE_POLICY_SIGNATURES);
    kura_policy_free(p);
    pkg_free(&pk);

    /* One administrator twice, and approvers instead of administrators. */
    pkg_init(&pk, K_WPKH);
    pkg_build(&pk);
    approve_default(&pk);
    p = make_policy(K_WPKH, 6);
    p->max_per_transfer = 1000000000;
    put_policy(&pk, p, same, 2);
    expect(&pk, KURA_REFUSE_POLICY_SIGNATURES);
    pkg_free(&pk);
    pkg_init(&pk, K_WPKH);
    pkg_build(&pk);
    approve_default(&pk);
    put_policy(&pk, p, approvers, 2);
    expect(&pk, KURA_REFUSE_POLICY_SIGNATURES);
    kura_policy_free(p);
    pkg_free(&pk);
}

static void test_policy_wallet(void **state)
{
    pkg pk;
    kura_policy *p;
    (void)state;
    pkg_init(&pk, K_WPKH);
    pkg_build(&pk);
    approve_default(&pk);
    /* Properly signed, newer, but the rules of another wallet. */
    p = make_policy(K_WPKH, 6);
    strcpy(p->wallet.name, "hot-payouts");
    put_policy(&pk, p, ADMINS12, 2);
    expect(&pk, KURA_REFUSE_POLICY_WALLET);
    kura_policy_free(p);
    /* And another descriptor under the same name. */
    p = make_policy(K_WSH, 6);
    put_policy(&pk, p, ADMINS12, 2);
    expect(&pk, KURA_REFUSE_POLICY_WALLET);
    kura_policy_free(p);
    pkg_free(&pk);
}

/* ---- 3. the intent ---- */

static void test_intent_malformed(void **state)
{
    pkg pk;
    char *crlf;
    (void)state;
    pkg_init(&pk, K_WPKH);
    pkg_build(&pk);
    approve_default(&pk);
    /* CRLF line endings: another spelling of the same words, refused. */
    crlf = malloc(pk.intent_len + 2);
    assert_non_null(crlf);
    memcpy(crlf, pk.intent_text, pk.intent_len - 1);
    memcpy(crlf + pk.intent_len - 1, "\r\n", 2);
    set_intent(&pk, crlf, pk.intent_len + 1);
    expect(&pk, KURA_REFUSE_INTENT_MALFORMED);
    free(crlf);
    pkg_free(&pk);
}

static void test_intent_wallet(void **state)
{
    pkg pk;
    (void)state;
    pkg_init(&pk, K_WPKH);
    strcpy(pk.checksum, wallets[K_WSH].checksum); /* names the multisig wallet */
    expect_built(&pk, KURA_REFUSE_INTENT_WALLET);
    pkg_init(&pk, K_WPKH);
    strcpy(pk.wallet_name, "hot-payouts");
    expect_built(&pk, KURA_REFUSE_INTENT_WALLET);
}

/* Finding 3: a withheld revocation. The approvers saw policy version 6 (which
 * removes bob's key, stolen); the coordinator keeps v6 from the signer and
 * sends the intent with v5 in force, approved by alice and the thief with
 * bob's key. The signer, behind the version the intent names, refuses; with
 * v6 in the package, bob's approval no longer counts. An intent naming an
 * older version than the signer's is fine (the signer's rules are newer). */
static void test_policy_behind(void **state)
{
    pkg pk;
    kura_policy *v6;
    kura_error err;
    (void)state;
    pkg_init(&pk, K_WPKH);
    pk.policy_version = 6;
    pkg_build(&pk);
    approve_default(&pk);
    expect(&pk, KURA_REFUSE_POLICY_BEHIND);
    assert_non_null(strstr(pk.result.message, "approvers saw policy version 6"));
    v6 = make_policy(K_WPKH, 6);
    for (size_t i = 0; i < v6->approver_count; i++) {
        if (strcmp(v6->approvers[i].name, "bob") != 0) continue;
        memmove(&v6->approvers[i], &v6->approvers[i + 1],
                (v6->approver_count - i - 1) * sizeof(v6->approvers[0]));
        v6->approver_count--;
        break;
    }
    put_policy(&pk, v6, ADMINS12, 2);
    expect(&pk, KURA_REFUSE_APPROVER_UNKNOWN);
    assert_non_null(strstr(pk.result.message, "approval 2"));
    kura_policy_free(v6);
    pkg_free(&pk);
    /* Named an older version: the signer's newer rules govern. */
    pkg_init(&pk, K_WPKH);
    pk.policy_version = 4;
    pkg_build(&pk);
    approve_default(&pk);
    expect(&pk, KURA_REFUSE_NONE);
    pkg_free(&pk);
    (void)err;
}

static void test_intent_expired(void **state)
{
    pkg pk;
    (void)state;
    pkg_init(&pk, K_WPKH);
    pkg_build(&pk);
    approve_default(&pk);
    pk.now = NOW + 3600; /* now == expires */
    expect(&pk, KURA_REFUSE_INTENT_EXPIRED);
    pk.now = NOW + 3599;
    expect(&pk, KURA_REFUSE_NONE);
    pkg_free(&pk);
}

static void test_intent_not_yet(void **state)
{
    pkg pk;
    (void)state;
    pkg_init(&pk, K_WPKH);
    pk.created = NOW + 301; /* skew allowed: 300 s */
    expect_built(&pk, KURA_REFUSE_INTENT_NOT_YET);
    pkg_init(&pk, K_WPKH);
    pk.created = NOW + 300;
    expect_built(&pk, KURA_REFUSE_NONE);
}

static void test_intent_lifetime(void **state)
{
    pkg pk;
    (void)state;
    pkg_init(&pk, K_WPKH);
    pk.created = NOW - 100;
    pk.expires = NOW - 100 + 86401; /* max-lifetime 86400 */
    expect_built(&pk, KURA_REFUSE_INTENT_LIFETIME);
}

static void test_intent_replay(void **state)
{
    pkg pk;
    (void)state;
    pkg_init(&pk, K_WPKH);
    pkg_build(&pk);
    approve_default(&pk);
    /* By hash: this very text was signed. */
    kura_intent_hash(pk.jnl.signed_hash, (const uint8_t *)pk.intent_text, pk.intent_len);
    pk.jnl.has_signed_hash = 1;
    expect(&pk, KURA_REFUSE_INTENT_REPLAY);
    /* By id: the same instruction re-spelled (another text, same id). */
    pk.jnl.has_signed_hash = 0;
    strcpy(pk.jnl.signed_id, INTENT_ID);
    expect(&pk, KURA_REFUSE_INTENT_REPLAY);
    pk.jnl.signed_id[0] = '\0';
    expect(&pk, KURA_REFUSE_NONE);
    pkg_free(&pk);
}

/* ---- 4. the approvals ---- */

static void test_approval_invalid(void **state)
{
    pkg pk;
    char *edited, *other;
    size_t elen, olen, sl;
    const char *sig;
    (void)state;

    /* Edited after approval (the DMM attack): the approvers signed 0.3 BTC
     * to D1; the coordinator changes the intent and the transaction to pay
     * D1 0.35 BTC. */
    pkg_init(&pk, K_WPKH);
    pkg_build(&pk);
    approve_default(&pk);
    pk.outs[0].amount = 35000000;
    edited = intent_text(&pk, &elen);
    set_intent(&pk, edited, elen);
    expect(&pk, KURA_REFUSE_APPROVAL_INVALID);
    free(edited);
    pkg_free(&pk);

    /* Approvals copied from another intent (another id). */
    pkg_init(&pk, K_WPKH);
    strcpy(pk.id, "00000000000000000000000000000001");
    other = intent_text(&pk, &olen);
    strcpy(pk.id, INTENT_ID);
    pkg_build(&pk);
    sig = sign("alice", "kura-intent-v1", other, olen, &sl);
    add_approval_text(&pk, sig, sl);
    approve(&pk, "bob");
    expect(&pk, KURA_REFUSE_APPROVAL_INVALID);
    free(other);
    pkg_free(&pk);

    /* The right text in the wrong namespace (a policy signature). */
    pkg_init(&pk, K_WPKH);
    pkg_build(&pk);
    approve(&pk, "alice");
    sig = sign("bob", KURA_POLICY_NAMESPACE, pk.intent_text, pk.intent_len, &sl);
    add_approval_text(&pk, sig, sl);
    expect(&pk, KURA_REFUSE_APPROVAL_INVALID);
    assert_non_null(strstr(pk.result.message, "approval 2"));
    pkg_free(&pk);

    /* Garbage. */
    pkg_init(&pk, K_WPKH);
    pkg_build(&pk);
    approve_default(&pk);
    add_approval_text(&pk, "-----BEGIN SSH SIGNATURE-----\nAAAA\n-----END SSH SIGNATURE-----\n",
                      62);
    expect(&pk, KURA_REFUSE_APPROVAL_INVALID);
    pkg_free(&pk);
}

static void test_approver_unknown(void **state)
{
    pkg pk;
    (void)state;
    pkg_init(&pk, K_WPKH);
    pkg_build(&pk);
    approve(&pk, "alice");
    approve(&pk, "mallory");
    expect(&pk, KURA_REFUSE_APPROVER_UNKNOWN);
    pkg_free(&pk);
    /* An administrator's key is not an approver's. */
    pkg_init(&pk, K_WPKH);
    pkg_build(&pk);
    approve(&pk, "alice");
    approve(&pk, "admin1");
    expect(&pk, KURA_REFUSE_APPROVER_UNKNOWN);
    assert_non_null(strstr(pk.result.message, "administrator 'admin1'"));
    pkg_free(&pk);
}

static void test_approver_duplicate(void **state)
{
    pkg pk;
    char *s1, *s2;
    size_t l1, l2;
    (void)state;
    /* The same signature twice. */
    pkg_init(&pk, K_WPKH);
    pkg_build(&pk);
    approve(&pk, "alice");
    approve(&pk, "alice");
    expect(&pk, KURA_REFUSE_APPROVER_DUPLICATE);
    pkg_free(&pk);
    /* Two different signatures by one (ECDSA) key: counted by key. */
    pkg_init(&pk, K_WPKH);
    pkg_build(&pk);
    s1 = tu_ssh_sign(keydir, "dave", "kura-intent-v1", pk.intent_text, pk.intent_len, &l1);
    s2 = tu_ssh_sign(keydir, "dave", "kura-intent-v1", pk.intent_text, pk.intent_len, &l2);
    assert_true(l1 != l2 || memcmp(s1, s2, l1) != 0);
    add_approval_text(&pk, s1, l1);
    add_approval_text(&pk, s2, l2);
    expect(&pk, KURA_REFUSE_APPROVER_DUPLICATE);
    assert_non_null(strstr(pk.result.message, "'dave'"));
    free(s1);
    free(s2);
    pkg_free(&pk);
}

/* Finding 1: one key counted as several people. A policy in force that names
 * one Ed25519 (or P-256) key twice — once plain, once as a security key
 * (written before the parser refused it) — and approvals signed in both
 * forms by the one holder of the private key: they count once, the second
 * form is refused. An administrator's key in security-key form is still the
 * administrator's. */
static void test_approver_aliased_key(void **state)
{
    (void)state;
    for (int ec = 0; ec <= 1; ec++) {
        pkg pk;
        tu_sshkey k;
        char plain[KURA_SSHKEY_STRING_MAX], sk[KURA_SSHKEY_STRING_MAX];
        char *s1, *s2;
        size_t l1, l2;
        kura_error err;
        tu_sshkey_new(&k, ec);
        tu_sshkey_line(plain, &k, NULL);
        tu_sshkey_line(sk, &k, "ssh:yubikey");
        pkg_init(&pk, K_WPKH);
        assert_int_equal(kura_policy_add_approver(pk.policy, "zed", plain, &err), KURA_OK);
        assert_int_equal(kura_policy_add_approver(pk.policy, "zed-sk", sk, &err), KURA_EDATA);
        /* As an older policy could hold it: the slot of 'carol' re-keyed. */
        for (size_t i = 0; i < pk.policy->approver_count; i++)
            if (strcmp(pk.policy->approvers[i].name, "carol") == 0)
                assert_int_equal(
                    kura_sshkey_parse(&pk.policy->approvers[i].key, sk, strlen(sk), &err),
                    KURA_OK);
        pkg_build(&pk);
        s1 = tu_sshkey_sign(&l1, &k, NULL, "kura-intent-v1", pk.intent_text, pk.intent_len);
        s2 = tu_sshkey_sign(&l2, &k, "ssh:yubikey", "kura-intent-v1", pk.intent_text,
                            pk.intent_len);
        add_approval_text(&pk, s1, l1);
        add_approval_text(&pk, s2, l2);
        expect(&pk, KURA_REFUSE_APPROVER_DUPLICATE);
        assert_non_null(strstr(pk.result.message, "second approval by the holder of the key of"));
        pkg_free(&pk);
        /* The same key listed once (plain): the other form counts for no one. */
        pkg_init(&pk, K_WPKH);
        assert_int_equal(kura_policy_add_approver(pk.policy, "zed", plain, &err), KURA_OK);
        pkg_build(&pk);
        add_approval_text(&pk, s1, l1);
        approve(&pk, "bob");
        expect(&pk, KURA_REFUSE_NONE);
        pkg_free(&pk);
        pkg_init(&pk, K_WPKH);
        assert_int_equal(kura_policy_add_approver(pk.policy, "zed", plain, &err), KURA_OK);
        pkg_build(&pk);
        approve(&pk, "bob");
        add_approval_text(&pk, s2, l2);
        expect(&pk, KURA_REFUSE_APPROVER_UNKNOWN);
        assert_non_null(strstr(pk.result.message, "approval 2 is signed with the key of approver 'zed'"));
        free(s1);
        free(s2);
        pkg_free(&pk);

        /* An administrator's key as a security key is no approver's. */
        pkg_init(&pk, K_WPKH);
        assert_int_equal(kura_policy_add_admin(pk.policy, "admin4", plain, &err), KURA_OK);
        pkg_build(&pk);
        approve(&pk, "alice");
        s2 = tu_sshkey_sign(&l2, &k, "ssh:", "kura-intent-v1", pk.intent_text, pk.intent_len);
        add_approval_text(&pk, s2, l2);
        expect(&pk, KURA_REFUSE_APPROVER_UNKNOWN);
        assert_non_null(strstr(pk.result.message, "administrator 'admin4'"));
        free(s2);
        pkg_free(&pk);
        tu_sshkey_free(&k);
    }
}

static void test_approver_initiator(void **state)
{
    pkg pk;
    (void)state;
    pkg_init(&pk, K_WPKH);
    strcpy(pk.initiator, "alice");
    pkg_build(&pk);
    approve(&pk, "bob");
    approve(&pk, "alice");
    expect(&pk, KURA_REFUSE_APPROVER_INITIATOR);
    /* Allowed where the policy says so. */
    pk.policy->initiator_may_approve = 1;
    expect(&pk, KURA_REFUSE_NONE);
    pkg_free(&pk);
}

static void test_approvals_insufficient(void **state)
{
    pkg pk;
    (void)state;
    /* 0.6 BTC needs two approvals. */
    pkg_init(&pk, K_WPKH);
    pkg_build(&pk);
    approve(&pk, "carol");
    expect(&pk, KURA_REFUSE_APPROVALS_INSUFFICIENT);
    assert_int_equal(pk.result.approval_count, 1);
    assert_int_equal(pk.result.approvals_required, 2);
    assert_non_null(strstr(pk.result.message, "carol"));
    pkg_free(&pk);
    /* None at all. */
    pkg_init(&pk, K_WPKH);
    pkg_build(&pk);
    expect(&pk, KURA_REFUSE_APPROVALS_INSUFFICIENT);
    pkg_free(&pk);
    /* 0.4 BTC is in the lower tier: one is enough. */
    pkg_init(&pk, K_WPKH);
    pk.outs[0].amount = 20000000;
    pkg_build(&pk);
    approve(&pk, "carol");
    expect(&pk, KURA_REFUSE_NONE);
    assert_int_equal(pk.result.approvals_required, 1);
    pkg_free(&pk);
}

/* kura_check_approvals, step 4 alone (kura-approve, the coordinator). */
static void test_check_approvals_alone(void **state)
{
    pkg pk;
    kura_intent *it = NULL;
    kura_check_result res;
    const uint8_t *sigs[2];
    size_t lens[2];
    (void)state;
    pkg_init(&pk, K_WPKH);
    pk.intent_text = intent_text(&pk, &pk.intent_len);
    assert_int_equal(kura_intent_parse(&it, (const uint8_t *)pk.intent_text, pk.intent_len, NULL),
                     KURA_OK);
    sigs[0] =
        (const uint8_t *)sign("alice", "kura-intent-v1", pk.intent_text, pk.intent_len, &lens[0]);
    sigs[1] =
        (const uint8_t *)sign("dave", "kura-intent-v1", pk.intent_text, pk.intent_len, &lens[1]);
    assert_int_equal(kura_check_approvals(&res, pk.policy, it, (const uint8_t *)pk.intent_text,
                                          pk.intent_len, sigs, lens, 2),
                     KURA_OK);
    assert_int_equal(res.reason, KURA_REFUSE_NONE);
    assert_int_equal(res.approval_count, 2);
    assert_int_equal(res.approvals_required, 2);
    assert_int_equal(kura_check_approvals(&res, pk.policy, it, (const uint8_t *)pk.intent_text,
                                          pk.intent_len, sigs, lens, 1),
                     KURA_EDATA);
    assert_int_equal(res.reason, KURA_REFUSE_APPROVALS_INSUFFICIENT);
    /* The intent must be the text's. */
    it->max_fee++;
    assert_int_equal(kura_check_approvals(&res, pk.policy, it, (const uint8_t *)pk.intent_text,
                                          pk.intent_len, sigs, lens, 2),
                     KURA_EINVAL);
    assert_int_equal(res.reason, KURA_REFUSE_NONE);
    assert_int_equal(kura_check_approvals(NULL, pk.policy, it, NULL, 0, NULL, NULL, 0),
                     KURA_EINVAL);
    kura_intent_free(it);
    pkg_free(&pk);
}

/* ---- 5. the transaction equals the intent ---- */

static void tx_as(pkg *pk, const out_spec *outs, size_t n)
{
    pk->tx_set = 1;
    memcpy(pk->tx_outs, outs, n * sizeof(*outs));
    pk->n_tx = n;
}

static void test_output_missing(void **state)
{
    pkg pk;
    out_spec t[3];
    (void)state;
    /* Destination swapped: D1's 0.3 BTC goes to D4. */
    pkg_init(&pk, K_WPKH);
    memcpy(t, pk.outs, sizeof(t));
    t[0].address = D4;
    tx_as(&pk, t, 3);
    pkg_build(&pk);
    approve_default(&pk);
    expect(&pk, KURA_REFUSE_OUTPUT_MISSING);
    assert_non_null(strstr(pk.result.message, "intent output 1"));
    pkg_free(&pk);
    /* Amount changed: D1 gets 0.35 BTC. */
    pkg_init(&pk, K_WPKH);
    memcpy(t, pk.outs, sizeof(t));
    t[0].amount = 35000000;
    tx_as(&pk, t, 3);
    pkg_build(&pk);
    approve_default(&pk);
    expect(&pk, KURA_REFUSE_OUTPUT_MISSING);
    assert_non_null(strstr(pk.result.message, "pays that address 35000000 sat"));
    pkg_free(&pk);
    /* Output dropped. */
    pkg_init(&pk, K_WPKH);
    tx_as(&pk, pk.outs, 2);
    pkg_build(&pk);
    approve_default(&pk);
    expect(&pk, KURA_REFUSE_OUTPUT_MISSING);
    assert_non_null(strstr(pk.result.message, "intent output 3"));
    pkg_free(&pk);
}

static void test_output_duplicate_and_multiset(void **state)
{
    pkg pk;
    out_spec t[4];
    (void)state;
    /* An intent output paid twice. */
    pkg_init(&pk, K_WPKH);
    memcpy(t, pk.outs, 3 * sizeof(*t));
    t[3] = pk.outs[0];
    tx_as(&pk, t, 4);
    expect_built(&pk, KURA_REFUSE_OUTPUT_DUPLICATE);
    /* Two identical intent outputs need two transaction outputs... */
    pkg_init(&pk, K_WPKH);
    pk.outs[2] = pk.outs[0];
    expect_built(&pk, KURA_REFUSE_NONE);
    /* ...and one is not enough. */
    pkg_init(&pk, K_WPKH);
    pk.outs[2] = pk.outs[0];
    tx_as(&pk, pk.outs, 2);
    expect_built(&pk, KURA_REFUSE_OUTPUT_MISSING);
}

static void test_output_unexpected(void **state)
{
    pkg pk;
    out_spec t[4];
    (void)state;
    pkg_init(&pk, K_WPKH);
    memcpy(t, pk.outs, 3 * sizeof(*t));
    t[3] = (out_spec){D4, 1000000, NULL};
    tx_as(&pk, t, 4);
    expect_built(&pk, KURA_REFUSE_OUTPUT_UNEXPECTED);
}

static void test_change_foreign(void **state)
{
    pkg pk;
    (void)state;
    /* Change to a foreign key, with that key's derivation records. */
    pkg_init(&pk, K_WPKH);
    pk.change_kind = K_FOREIGN;
    expect_built(&pk, KURA_REFUSE_CHANGE_FOREIGN);
    /* Change on the receive branch. */
    pkg_init(&pk, K_WPKH);
    pk.change_branch = KURA_DESCRIPTOR_BRANCH_RECEIVE;
    pkg_build(&pk);
    approve_default(&pk);
    expect(&pk, KURA_REFUSE_CHANGE_FOREIGN);
    assert_non_null(strstr(pk.result.message, "receive"));
    pkg_free(&pk);
    /* Change beyond the gap limit (and just inside it). */
    pkg_init(&pk, K_WSH);
    pk.change_index = 1001;
    pkg_build(&pk);
    approve_default(&pk);
    expect(&pk, KURA_REFUSE_CHANGE_FOREIGN);
    assert_non_null(strstr(pk.result.message, "beyond"));
    pk.max_change_index = 1001;
    expect(&pk, KURA_REFUSE_NONE);
    pkg_free(&pk);
}

/* Nothing the PSBT claims makes the check accept: a foreign output dressed
 * as change with derivation records naming the wallet's fingerprint and
 * even the wallet's real change key. */
static void test_fake_change_claims(void **state)
{
    pkg pk;
    out_spec t[4];
    (void)state;
    pkg_init(&pk, K_WPKH);
    memcpy(t, pk.outs, 3 * sizeof(*t));
    t[3] = (out_spec){D4, 1000000, NULL};
    tx_as(&pk, t, 4);
    pk.fee = 10000;
    pkg_build(&pk);
    approve_default(&pk);
    /* Output 3 pays D4; output 4 is the real change. Copy the change's
     * record (wallet fingerprint, path .../1/7, the change key) onto D4. */
    {
        const kura_psbt_bip32 *b = &pk.psbt->outputs[4].bip32[0];
        assert_int_equal(kura_psbt_output_add_bip32(pk.psbt, 3, b->pubkey, b->pubkey_len,
                                                    b->origin.fingerprint, b->origin.path,
                                                    b->origin.path_len),
                         KURA_OK);
        assert_memory_equal(b->origin.fingerprint, wallets[K_WPKH].fingerprint, 4);
    }
    expect(&pk, KURA_REFUSE_CHANGE_FOREIGN);
    pkg_free(&pk);
    /* A record with a path too short to name a branch and an index still
     * claims change, and is refused as such. */
    pkg_init(&pk, K_WPKH);
    memcpy(t, pk.outs, 3 * sizeof(*t));
    t[3] = (out_spec){D4, 1000000, NULL};
    tx_as(&pk, t, 4);
    pkg_build(&pk);
    approve_default(&pk);
    {
        const kura_psbt_bip32 *b = &pk.psbt->outputs[4].bip32[0];
        const uint32_t path[] = {1};
        assert_int_equal(kura_psbt_output_add_bip32(pk.psbt, 3, b->pubkey, b->pubkey_len,
                                                    wallets[K_WPKH].fingerprint, path, 1),
                         KURA_OK);
    }
    expect(&pk, KURA_REFUSE_CHANGE_FOREIGN);
    pkg_free(&pk);
}

static void test_input_foreign(void **state)
{
    pkg pk;
    (void)state;
    /* Every input is another wallet's coin, with its own derivation records. */
    pkg_init(&pk, K_WPKH);
    pk.input_kind = K_FOREIGN;
    expect_built(&pk, KURA_REFUSE_INPUT_FOREIGN);
    /* The wallet's multisig coin claimed at another index. */
    pkg_init(&pk, K_WSH);
    pkg_build(&pk);
    approve_default(&pk);
    for (size_t k = 0; k < pk.psbt->inputs[0].bip32_count; k++)
        pk.psbt->inputs[0].bip32[k].origin.path[5] = 4; /* .../0/3 -> .../0/4 */
    expect(&pk, KURA_REFUSE_INPUT_FOREIGN);
    pkg_free(&pk);
}

static void test_input_unproven(void **state)
{
    pkg pk;
    (void)state;
    /* No funding transaction: only the coordinator's word for the amount. */
    pkg_init(&pk, K_WPKH);
    pk.no_funding[1] = 1;
    pkg_build(&pk);
    approve_default(&pk);
    expect(&pk, KURA_REFUSE_INPUT_UNPROVEN);
    assert_non_null(strstr(pk.result.message, "input 1"));
    pkg_free(&pk);
    /* Taproot too. */
    pkg_init(&pk, K_TR);
    pk.no_funding[0] = 1;
    expect_built(&pk, KURA_REFUSE_INPUT_UNPROVEN);
    /* The fee attack: a witness UTXO that inflates the amount. */
    pkg_init(&pk, K_WPKH);
    pkg_build(&pk);
    approve_default(&pk);
    {
        const kura_txout *w = &pk.psbt->inputs[0].witness_utxo;
        uint8_t script[64];
        size_t len = w->script_pubkey.len;
        memcpy(script, w->script_pubkey.data, len);
        assert_int_equal(kura_psbt_input_set_witness_utxo(pk.psbt, 0, COIN0 + 500000, script, len),
                         KURA_OK);
    }
    expect(&pk, KURA_REFUSE_INPUT_UNPROVEN);
    pkg_free(&pk);
    /* Funding transactions that are not the outpoints'. */
    pkg_init(&pk, K_WPKH);
    pkg_build(&pk);
    approve_default(&pk);
    {
        kura_tx *t = pk.psbt->inputs[0].non_witness_utxo;
        pk.psbt->inputs[0].non_witness_utxo = pk.psbt->inputs[1].non_witness_utxo;
        pk.psbt->inputs[1].non_witness_utxo = t;
    }
    expect(&pk, KURA_REFUSE_INPUT_UNPROVEN);
    pkg_free(&pk);
}

static void test_fee_intent(void **state)
{
    pkg pk;
    (void)state;
    pkg_init(&pk, K_WPKH);
    pk.fee = 40001; /* the intent allows 40000 */
    expect_built(&pk, KURA_REFUSE_FEE_INTENT);
    pkg_init(&pk, K_WPKH);
    pk.fee = 40000;
    expect_built(&pk, KURA_REFUSE_NONE);
}

static void test_fee_policy(void **state)
{
    pkg pk;
    uint64_t v, rate;
    (void)state;
    /* Over the policy's fee cap (the intent allows more). */
    pkg_init(&pk, K_WPKH);
    pk.max_fee = 2000000;
    pk.fee = 1000001;
    expect_built(&pk, KURA_REFUSE_FEE_POLICY);
    /* Over the fee-rate cap, at the exact boundary. */
    pkg_init(&pk, K_TRMS);
    pkg_build(&pk);
    approve_default(&pk);
    expect(&pk, KURA_REFUSE_NONE);
    v = pk.result.vsize_estimate;
    rate = (10000 + v - 1) / v; /* the least whole rate that allows the fee */
    pk.policy->max_fee_rate = rate;
    expect(&pk, KURA_REFUSE_NONE);
    pk.policy->max_fee_rate = rate - 1;
    expect(&pk, KURA_REFUSE_FEE_POLICY);
    assert_non_null(strstr(pk.result.message, "sat/vB"));
    pkg_free(&pk);
}

static void test_sighash(void **state)
{
    pkg pk;
    (void)state;
    pkg_init(&pk, K_WPKH);
    pkg_build(&pk);
    approve_default(&pk);
    assert_int_equal(kura_psbt_input_set_sighash_type(pk.psbt, 1, KURA_SIGHASH_NONE), KURA_OK);
    expect(&pk, KURA_REFUSE_SIGHASH);
    assert_int_equal(
        kura_psbt_input_set_sighash_type(pk.psbt, 1, KURA_SIGHASH_ALL | KURA_SIGHASH_ANYONECANPAY),
        KURA_OK);
    expect(&pk, KURA_REFUSE_SIGHASH);
    assert_int_equal(kura_psbt_input_set_sighash_type(pk.psbt, 1, KURA_SIGHASH_ALL), KURA_OK);
    expect(&pk, KURA_REFUSE_NONE);
    pkg_free(&pk);
    /* Taproot: DEFAULT and ALL pass, SINGLE does not. */
    pkg_init(&pk, K_TR);
    pkg_build(&pk);
    approve_default(&pk);
    assert_int_equal(kura_psbt_input_set_sighash_type(pk.psbt, 0, KURA_SIGHASH_DEFAULT), KURA_OK);
    expect(&pk, KURA_REFUSE_NONE);
    assert_int_equal(kura_psbt_input_set_sighash_type(pk.psbt, 0, KURA_SIGHASH_SINGLE), KURA_OK);
    expect(&pk, KURA_REFUSE_SIGHASH);
    pkg_free(&pk);
}

/* Appends an unknown record (key type `type`) to input i's map. The PSBT
 * keeps key and value in one allocation it frees through the key. */
static void add_input_unknown(kura_psbt *psbt, size_t i, uint8_t type)
{
    kura_psbt_input *in = &psbt->inputs[i];
    kura_psbt_kv *arr = realloc(in->unknowns, (in->unknown_count + 1) * sizeof(*arr));
    uint8_t *block = malloc(3);
    assert_non_null(arr);
    assert_non_null(block);
    block[0] = type;
    block[1] = 0x42;
    block[2] = 0x01; /* value */
    in->unknowns = arr;
    arr[in->unknown_count].key = block;
    arr[in->unknown_count].key_len = 2;
    arr[in->unknown_count].value = block + 2;
    arr[in->unknown_count].value_len = 1;
    in->unknown_count++;
}

static void test_unknown_fields(void **state)
{
    pkg pk;
    kura_error err;
    (void)state;
    /* An unknown input record. */
    pkg_init(&pk, K_WPKH);
    pkg_build(&pk);
    approve_default(&pk);
    add_input_unknown(pk.psbt, 1, 0x40);
    expect(&pk, KURA_REFUSE_UNKNOWN_FIELD);
    assert_non_null(strstr(pk.result.message, "input 1"));
    pkg_free(&pk);
    /* Transaction version 1 (no BIP68), and 3. */
    pkg_init(&pk, K_WPKH);
    pkg_build(&pk);
    approve_default(&pk);
    pk.psbt->tx_version = 1;
    expect(&pk, KURA_REFUSE_UNKNOWN_FIELD);
    pk.psbt->tx_version = 3;
    expect(&pk, KURA_REFUSE_UNKNOWN_FIELD);
    pk.psbt->tx_version = 2;
    expect(&pk, KURA_REFUSE_NONE);
    /* PSBT version 2. */
    assert_int_equal(kura_psbt_set_version(pk.psbt, 2, &err), KURA_OK);
    expect(&pk, KURA_REFUSE_UNKNOWN_FIELD);
    pkg_free(&pk);
    /* A lock time. */
    pkg_init(&pk, K_WPKH);
    pk.locktime = 900000;
    expect_built(&pk, KURA_REFUSE_UNKNOWN_FIELD);
    /* A relative lock time (BIP68 sequence), and 0xfffffffe; 0xffffffff passes. */
    pkg_init(&pk, K_WPKH);
    pk.sequence = 144;
    expect_built(&pk, KURA_REFUSE_UNKNOWN_FIELD);
    pkg_init(&pk, K_WPKH);
    pk.sequence = 0xfffffffe;
    expect_built(&pk, KURA_REFUSE_UNKNOWN_FIELD);
    pkg_init(&pk, K_WPKH);
    pk.sequence = 0xffffffff;
    expect_built(&pk, KURA_REFUSE_NONE);
}

/* Finding 7: the check is complete. Every record the PSBT signer needs is
 * required by the check, so a package the signer would refuse after the
 * operator's "yes" is refused before the question: a missing witness script,
 * taproot internal key, merkle root, leaf, or a cosigner's derivation record
 * (each is accepted on main and fails only at signing). */
static void test_incomplete_inputs(void **state)
{
    pkg pk;
    (void)state;
    /* P2WSH without its witness script. */
    pkg_init(&pk, K_WSH);
    pkg_build(&pk);
    approve_default(&pk);
    {
        kura_psbt_input *in = &pk.psbt->inputs[1];
        assert_true(in->has_witness_script);
        free(in->witness_script.data);
        memset(&in->witness_script, 0, sizeof(in->witness_script));
        in->has_witness_script = 0;
    }
    expect(&pk, KURA_REFUSE_PACKAGE_MALFORMED);
    assert_non_null(strstr(pk.result.message, "input 1: no witness script"));
    pkg_free(&pk);
    /* P2WSH with one cosigner's derivation record dropped. */
    pkg_init(&pk, K_WSH);
    pkg_build(&pk);
    approve_default(&pk);
    {
        kura_psbt_input *in = &pk.psbt->inputs[0];
        assert_int_equal(in->bip32_count, 3);
        free(in->bip32[2].origin.path);
        in->bip32_count = 2;
    }
    expect(&pk, KURA_REFUSE_PACKAGE_MALFORMED);
    assert_non_null(strstr(pk.result.message, "input 0: no derivation record for key expression"));
    pkg_free(&pk);
    /* P2WPKH without any derivation record is foreign (nothing to re-derive). */
    /* tr(NUMS, multi_a): no merkle root; no internal key; a leaf missing; a
     * key's record not naming its leaf. */
    for (int what = 0; what < 4; what++) {
        static const char *const needles[] = {"no taproot merkle root", "no taproot internal key",
                                              "tap leaf 1 is missing", "naming its leaf"};
        pkg_init(&pk, K_TRMS);
        pkg_build(&pk);
        approve_default(&pk);
        {
            kura_psbt_input *in = &pk.psbt->inputs[0];
            if (what == 0) {
                assert_true(in->has_tap_merkle_root);
                in->has_tap_merkle_root = 0;
            } else if (what == 1) {
                assert_true(in->has_tap_internal_key);
                in->has_tap_internal_key = 0;
            } else if (what == 2) {
                assert_int_equal(in->tap_leaf_script_count, 1);
                free(in->tap_leaf_scripts[0].control_block.data);
                free(in->tap_leaf_scripts[0].script.data);
                in->tap_leaf_script_count = 0;
            } else {
                size_t k = 0;
                while (k < in->tap_bip32_count && in->tap_bip32[k].leaf_hash_count == 0) k++;
                assert_true(k < in->tap_bip32_count);
                free(in->tap_bip32[k].leaf_hashes);
                in->tap_bip32[k].leaf_hashes = NULL;
                in->tap_bip32[k].leaf_hash_count = 0;
            }
        }
        expect(&pk, KURA_REFUSE_PACKAGE_MALFORMED);
        if (strstr(pk.result.message, needles[what]) == NULL)
            fail_msg("case %d: %s", what, pk.result.message);
        pkg_free(&pk);
    }
    /* tr(KEY): no internal key. */
    pkg_init(&pk, K_TR);
    pkg_build(&pk);
    approve_default(&pk);
    pk.psbt->inputs[0].has_tap_internal_key = 0;
    expect(&pk, KURA_REFUSE_PACKAGE_MALFORMED);
    assert_non_null(strstr(pk.result.message, "no taproot internal key"));
    pkg_free(&pk);
}

static void test_foreign_tap_leaf(void **state)
{
    pkg pk;
    (void)state;
    pkg_init(&pk, K_TRMS);
    pkg_build(&pk);
    approve_default(&pk);
    expect(&pk, KURA_REFUSE_NONE);
    /* A leaf `<signer key> OP_CHECKSIG` beside the wallet's multi_a leaf:
     * a signer that follows the PSBT would sign for it alone. */
    {
        const kura_psbt_input *in = &pk.psbt->inputs[0];
        uint8_t script[34], control[65];
        assert_int_equal(in->tap_leaf_script_count, 1);
        assert_true(in->tap_bip32_count >= 2);
        script[0] = 0x20;
        memcpy(script + 1, in->tap_bip32[1].xonly, 32);
        script[33] = 0xac;
        memcpy(control, in->tap_leaf_scripts[0].control_block.data, 33);
        memset(control + 33, 0x5a, 32); /* a made-up sibling */
        assert_int_equal(
            kura_psbt_input_add_tap_leaf_script(pk.psbt, 0, control, 65, script, 34, 0xc0),
            KURA_OK);
    }
    expect(&pk, KURA_REFUSE_UNKNOWN_FIELD);
    assert_non_null(strstr(pk.result.message, "leaf"));
    pkg_free(&pk);
    /* A merkle root that is not the wallet's. */
    pkg_init(&pk, K_TRMS);
    pkg_build(&pk);
    approve_default(&pk);
    {
        uint8_t root[32];
        memset(root, 7, 32);
        assert_int_equal(kura_psbt_input_set_tap_merkle_root(pk.psbt, 1, root), KURA_OK);
    }
    expect(&pk, KURA_REFUSE_UNKNOWN_FIELD);
    pkg_free(&pk);
    /* A witness script that is not the wallet's (another multisig). */
    pkg_init(&pk, K_WSH);
    pkg_build(&pk);
    approve_default(&pk);
    {
        kura_psbt_input *in = &pk.psbt->inputs[0];
        uint8_t ws[128];
        size_t len = in->witness_script.len;
        memcpy(ws, in->witness_script.data, len);
        ws[0] = 0x51; /* 2-of-3 becomes 1-of-3 */
        assert_int_equal(kura_psbt_input_set_witness_script(pk.psbt, 0, ws, len), KURA_OK);
    }
    expect(&pk, KURA_REFUSE_UNKNOWN_FIELD);
    pkg_free(&pk);
}

/* ---- 6. destinations and limits ---- */

static void test_destination_not_allowed(void **state)
{
    pkg pk;
    (void)state;
    pkg_init(&pk, K_WPKH);
    pk.outs[2].address = D4;
    pkg_build(&pk);
    approve_default(&pk);
    expect(&pk, KURA_REFUSE_DESTINATION_NOT_ALLOWED);
    assert_non_null(strstr(pk.result.message, D4));
    /* Where the policy does not require the allowlist, it only labels. */
    pk.policy->allowlist_required = 0;
    expect(&pk, KURA_REFUSE_NONE);
    assert_non_null(strstr(pk.result.summary, "NOT ON THE ALLOWLIST"));
    pkg_free(&pk);
}

static void test_destination_waiting(void **state)
{
    pkg pk;
    kura_policy *next;
    (void)state;
    /* Accepted by this signer an hour ago; the delay is a day. */
    pkg_init(&pk, K_WPKH);
    pkg_build(&pk);
    approve_default(&pk);
    journal_allow(&pk.jnl, D2, NOW - 3600);
    expect(&pk, KURA_REFUSE_DESTINATION_WAITING);
    journal_allow(&pk.jnl, D2, NOW - 86400);
    expect(&pk, KURA_REFUSE_NONE);
    pkg_free(&pk);
    /* Added by a newer policy in this very package: accepted now, so it
     * waits, however properly the update is signed. */
    pkg_init(&pk, K_WPKH);
    pk.outs[2].address = D5;
    pkg_build(&pk);
    approve_default(&pk);
    next = make_policy(K_WPKH, 6);
    assert_int_equal(kura_policy_add_allow(next, D5, "new exchange", NULL), KURA_OK);
    put_policy(&pk, next, ADMINS12, 2);
    expect(&pk, KURA_REFUSE_DESTINATION_WAITING);
    assert_non_null(strstr(pk.result.message, "new exchange"));
    kura_policy_free(next);
    pkg_free(&pk);
    /* Finding 2, the rushed loosening: one update sets the delay to 0,
     * adds D5 and pays it in the same package. The new entry waits the
     * delay of the policy in force when the signer accepts the update (a
     * day), not the update's own. */
    pkg_init(&pk, K_WPKH);
    pk.outs[2].address = D5;
    pkg_build(&pk);
    approve_default(&pk);
    next = make_policy(K_WPKH, 6);
    next->allowlist_delay = 0;
    assert_int_equal(kura_policy_add_allow(next, D5, "new exchange", NULL), KURA_OK);
    put_policy(&pk, next, ADMINS12, 2);
    expect(&pk, KURA_REFUSE_DESTINATION_WAITING);
    assert_non_null(strstr(pk.result.message, "policy version 6 adds to the allowlist"));
    /* Where the rules in force have no waiting period, it counts at once. */
    pk.policy->allowlist_delay = 0;
    expect(&pk, KURA_REFUSE_NONE);
    assert_non_null(pk.result.new_policy);
    kura_policy_free(next);
    pkg_free(&pk);
}

/* Finding 2: every change that widens what can be spent waits the waiting
 * period of the policy in force (version 5, a day) when it arrives in a
 * package, and counts once the signer's record says that period has passed
 * (state.rules from kura_policy_in_force); a tightening counts at once. */
static void test_loosening_waits(void **state)
{
    enum {
        L_APPROVER, L_TRANSFER, L_TIER, L_INITIATOR, L_ALLOW_REQUIRED, L_FEE, L_FEE_RATE,
        L_ROLLING, L_LIFETIME, L_TIGHTEN, L_COUNT
    };
    static const kura_refusal refused[L_COUNT] = {
        KURA_REFUSE_APPROVER_UNKNOWN,     KURA_REFUSE_LIMIT_TRANSFER,
        KURA_REFUSE_APPROVALS_INSUFFICIENT, KURA_REFUSE_APPROVER_INITIATOR,
        KURA_REFUSE_DESTINATION_NOT_ALLOWED, KURA_REFUSE_FEE_POLICY,
        KURA_REFUSE_FEE_POLICY,           KURA_REFUSE_LIMIT_ROLLING,
        KURA_REFUSE_INTENT_LIFETIME,      KURA_REFUSE_LIMIT_TRANSFER};
    (void)state;
    for (int c = 0; c < L_COUNT; c++) {
        pkg pk;
        kura_policy *next;
        kura_error err;
        pkg_init(&pk, K_WPKH);
        next = make_policy(K_WPKH, 6);
        switch (c) {
        case L_APPROVER: /* mallory becomes an approver and approves */
            assert_int_equal(kura_policy_add_approver(next, "mallory", pubkeys[7], &err), KURA_OK);
            break;
        case L_TRANSFER:
            pk.policy->max_per_transfer = 50000000;
            break;
        case L_TIER: /* 0.6 BTC needs 2 approvals in v5, 1 in v6 */
            kura_policy_free(next);
            next = make_policy(K_WPKH, 6);
            next->tiers[0].up_to = 100000000;
            next->tiers[1].up_to = 500000001;
            break;
        case L_INITIATOR:
            strcpy(pk.initiator, "alice");
            next->initiator_may_approve = 1;
            break;
        case L_ALLOW_REQUIRED:
            pk.outs[2].address = D4;
            next->allowlist_required = 0;
            break;
        case L_FEE: pk.policy->max_fee = 5000; break;
        case L_FEE_RATE: pk.policy->max_fee_rate = 1; break;
        case L_ROLLING:
            pk.jnl.rolling = 950000000;
            next->max_per_24h = 2000000000;
            break;
        case L_LIFETIME:
            pk.expires = pk.created + 2 * 86400;
            next->max_lifetime = 3 * 86400;
            break;
        case L_TIGHTEN: next->max_per_transfer = 50000000; break;
        }
        pkg_build(&pk);
        if (c == L_APPROVER) {
            approve(&pk, "alice");
            approve(&pk, "mallory");
        } else if (c == L_TIER) {
            approve(&pk, "alice");
        } else {
            approve_default(&pk);
        }
        /* Without the update: refused by v5's rule. */
        expect(&pk, refused[c] == KURA_REFUSE_LIMIT_TRANSFER && c == L_TIGHTEN
                        ? KURA_REFUSE_NONE
                        : refused[c]);
        /* With it, in the package: still refused — the loosening waits
         * (and the tightening counts at once). */
        put_policy(&pk, next, ADMINS12, 2);
        expect(&pk, refused[c]);
        if (c == L_APPROVER)
            assert_non_null(strstr(pk.result.message, "whom policy version 6 adds as an approver"));
        /* Accepted a day ago (and the package no longer carries it): the
         * rules in force are v6's for a loosening, so the transfer passes;
         * a tightening stays. */
        {
            kura_policy_accepted h[2];
            kura_policy *v5 = pk.policy;
            int64_t at = 0;
            h[0] = (kura_policy_accepted){v5, NOW - 30 * 86400};
            h[1] = (kura_policy_accepted){next, NOW - 86400 + 1};
            assert_int_equal(kura_policy_in_force(&pk.rules, &at, h, 2, NOW, &err), KURA_OK);
            assert_int_equal(at, NOW + 1);
            pk.policy = next;
            /* The package without the update; one second early: not yet. */
            assert_int_equal(kura_psbt_proprietary_remove(pk.psbt, (const uint8_t *)"kura", 4,
                                                          KURA_PACKAGE_POLICY, NULL, 0),
                             KURA_OK);
            for (uint32_t k = 0; k < 2; k++) {
                uint8_t key[4] = {0, 0, 0, (uint8_t)k};
                (void)kura_psbt_proprietary_remove(pk.psbt, (const uint8_t *)"kura", 4,
                                                   KURA_PACKAGE_POLICY_SIGNATURE, key, 4);
            }
            expect(&pk, refused[c]);
            kura_policy_free(pk.rules);
            pk.rules = NULL;
            h[1].accepted_at = NOW - 86400;
            assert_int_equal(kura_policy_in_force(&pk.rules, &at, h, 2, NOW, &err), KURA_OK);
            assert_int_equal(at, NOW);
            expect(&pk, c == L_TIGHTEN ? refused[c] : KURA_REFUSE_NONE);
            pk.policy = v5;
        }
        kura_policy_free(next);
        pkg_free(&pk);
    }
}

static void test_limit_transfer(void **state)
{
    pkg pk;
    (void)state;
    pkg_init(&pk, K_WPKH);
    pkg_build(&pk);
    approve_default(&pk);
    pk.policy->max_per_transfer = 59999999;
    expect(&pk, KURA_REFUSE_LIMIT_TRANSFER);
    pk.policy->max_per_transfer = 60000000;
    expect(&pk, KURA_REFUSE_NONE);
    pkg_free(&pk);
}

static void test_limit_rolling(void **state)
{
    pkg pk;
    (void)state;
    pkg_init(&pk, K_WPKH);
    pkg_build(&pk);
    approve_default(&pk);
    /* Finding 5: the fee (10000 sat) leaves the wallet too and counts. */
    pk.jnl.rolling = 1000000000 - 60000000 - 10000 + 1;
    expect(&pk, KURA_REFUSE_LIMIT_ROLLING);
    assert_non_null(strstr(pk.result.message, "fee 10000 sat"));
    pk.jnl.rolling = 1000000000 - 60000000 - 10000;
    expect(&pk, KURA_REFUSE_NONE);
    pk.jnl.rolling = UINT64_MAX; /* a broken journal does not wrap around */
    expect(&pk, KURA_REFUSE_LIMIT_ROLLING);
    pkg_free(&pk);
}

/* ---- fee bumps ---- */

/* pk's intent recorded as signed once, spending both of pk's coins, with
 * `fee`, signalling BIP125: what the journal holds after the original. */
static void prior_original(pkg *pk, uint64_t fee)
{
    const wallet *w = &wallets[pk->input_kind];
    kura_intent_hash(pk->jnl.signed_hash, (const uint8_t *)pk->intent_text, pk->intent_len);
    pk->jnl.has_signed_hash = 1;
    pk->jnl.prior_set = 1;
    memset(&pk->jnl.prior, 0, sizeof(pk->jnl.prior));
    pk->jnl.prior.signatures = 1;
    pk->jnl.prior.inputs_known = 1;
    pk->jnl.prior.replaceable = 1;
    pk->jnl.prior.fee_max = fee;
    memset(pk->jnl.prior.last_txid, 0x5a, 32);
    pk->jnl.prior.last_entry = 7;
    pk->jnl.prior.counted = 60000000 + fee;
    pk->jnl.prior.input_count = 2;
    for (size_t i = 0; i < 2; i++) {
        assert_int_equal(kura_tx_txid(pk->jnl.prior_inputs[i].txid, w->funding[1 - i]), KURA_OK);
        pk->jnl.prior_inputs[i].vout = 1;
    }
}

static void test_bump_accepted(void **state)
{
    pkg pk;
    (void)state;
    pkg_init(&pk, K_WSH);
    pk.fee = 20000;
    pkg_build(&pk);
    approve_default(&pk);
    prior_original(&pk, 10000);
    expect(&pk, KURA_REFUSE_NONE);
    assert_int_equal(pk.result.is_bump, 1);
    assert_int_equal(pk.result.replaced_fee, 10000);
    assert_int_equal(pk.result.replaced_entry, 7);
    assert_int_equal(pk.result.fee, 20000);
    assert_int_equal(pk.result.bip125, 1);
    assert_non_null(strstr(pk.result.summary, "FEE BUMP"));
    assert_non_null(strstr(pk.result.summary, "10000 sat -> 20000 sat"));
    assert_int_equal(pk.jnl.prior_since, NOW - 86400);
    /* Two earlier signatures (a bump of a bump): the highest fee counts. */
    pk.jnl.prior.signatures = 2;
    pk.jnl.prior.fee_max = 15000;
    expect(&pk, KURA_REFUSE_NONE);
    assert_int_equal(pk.result.replaced_fee, 15000);
    /* An intent never signed is no bump, with the callback present. */
    pk.jnl.has_signed_hash = 0;
    expect(&pk, KURA_REFUSE_NONE);
    assert_int_equal(pk.result.is_bump, 0);
    pkg_free(&pk);
}

/* A "replacement" that spends other coins, or only some of the earlier
 * ones, could confirm beside the original: a second payment, refused as a
 * replay. */
static void test_bump_different_coins_is_replay(void **state)
{
    pkg pk;
    (void)state;
    pkg_init(&pk, K_WPKH);
    pk.fee = 20000;
    pkg_build(&pk);
    approve_default(&pk);
    prior_original(&pk, 10000);
    expect(&pk, KURA_REFUSE_NONE);
    /* Different coins: the original spent a coin this one does not. */
    pk.jnl.prior_inputs[1].vout = 0;
    expect(&pk, KURA_REFUSE_INTENT_REPLAY);
    assert_non_null(strstr(pk.result.message, "second payment"));
    pk.jnl.prior_inputs[1].vout = 1;
    memset(pk.jnl.prior_inputs[0].txid, 0x11, 32);
    expect(&pk, KURA_REFUSE_INTENT_REPLAY);
    prior_original(&pk, 10000);
    /* A subset: the original spent three coins, this one two of them. */
    pk.jnl.prior.input_count = 3;
    memset(pk.jnl.prior_inputs[2].txid, 0x22, 32);
    pk.jnl.prior_inputs[2].vout = 4;
    expect(&pk, KURA_REFUSE_INTENT_REPLAY);
    prior_original(&pk, 10000);
    /* A journal that did not record the inputs (a version-1 entry). */
    pk.jnl.prior.inputs_known = 0;
    expect(&pk, KURA_REFUSE_INTENT_REPLAY);
    assert_non_null(strstr(pk.result.message, "does not record"));
    prior_original(&pk, 10000);
    pk.jnl.prior.input_count = 0;
    expect(&pk, KURA_REFUSE_INTENT_REPLAY);
    prior_original(&pk, 10000);
    /* A journal that cannot answer. */
    pk.jnl.prior_fails = 1;
    expect(&pk, KURA_REFUSE_INTENT_REPLAY);
    pk.jnl.prior_fails = 0;
    /* The id signed with another text: a re-spelled instruction. */
    pk.jnl.has_signed_hash = 0;
    strcpy(pk.jnl.signed_id, INTENT_ID);
    expect(&pk, KURA_REFUSE_INTENT_REPLAY);
    assert_non_null(strstr(pk.result.message, "another intent text"));
    pk.jnl.signed_id[0] = '\0';
    /* A signer without the callback refuses every second signature. */
    prior_original(&pk, 10000);
    pk.jnl.prior_set = 0;
    expect(&pk, KURA_REFUSE_INTENT_REPLAY);
    pkg_free(&pk);
}

static void test_bump_fee_not_higher(void **state)
{
    pkg pk;
    (void)state;
    pkg_init(&pk, K_TR);
    pk.fee = 20000;
    pkg_build(&pk);
    approve_default(&pk);
    prior_original(&pk, 20000); /* equal */
    expect(&pk, KURA_REFUSE_BUMP_FEE_NOT_HIGHER);
    assert_non_null(strstr(pk.result.message, "not above 20000 sat"));
    prior_original(&pk, 25000); /* lower */
    expect(&pk, KURA_REFUSE_BUMP_FEE_NOT_HIGHER);
    prior_original(&pk, 19999);
    expect(&pk, KURA_REFUSE_NONE);
    /* The very transaction signed last, again: a replay, not a bump. */
    {
        kura_tx *utx = NULL;
        prior_original(&pk, 20000);
        assert_int_equal(kura_psbt_unsigned_tx(&utx, pk.psbt, NULL), KURA_OK);
        assert_int_equal(kura_tx_txid(pk.jnl.prior.last_txid, utx), KURA_OK);
        kura_tx_free(utx);
        expect(&pk, KURA_REFUSE_INTENT_REPLAY);
        assert_non_null(strstr(pk.result.message, "this very transaction"));
    }
    pkg_free(&pk);
}

/* Higher, but over the intent's max-fee (40000) or the policy's caps:
 * refused as for any signature; a bump buys no fee the approvers did not. */
static void test_bump_fee_over_caps(void **state)
{
    pkg pk;
    (void)state;
    pkg_init(&pk, K_WPKH);
    pk.fee = 40001;
    pkg_build(&pk);
    approve_default(&pk);
    prior_original(&pk, 10000);
    expect(&pk, KURA_REFUSE_FEE_INTENT);
    pkg_free(&pk);
    pkg_init(&pk, K_WPKH);
    pk.max_fee = 2000000;
    pk.fee = 1000001; /* over the policy's max-fee */
    pkg_build(&pk);
    approve_default(&pk);
    prior_original(&pk, 10000);
    expect(&pk, KURA_REFUSE_FEE_POLICY);
    pkg_free(&pk);
}

static void test_bump_not_replaceable(void **state)
{
    pkg pk;
    (void)state;
    /* The replacement does not signal. */
    pkg_init(&pk, K_WPKH);
    pk.fee = 20000;
    pk.sequence = 0xffffffff;
    pkg_build(&pk);
    approve_default(&pk);
    expect(&pk, KURA_REFUSE_NONE); /* a first signature may be final */
    assert_int_equal(pk.result.bip125, 0);
    prior_original(&pk, 10000);
    expect(&pk, KURA_REFUSE_BUMP_NOT_REPLACEABLE);
    /* The very (final) transaction signed before, again: a replay, not
     * a bump that does not signal. */
    {
        kura_tx *utx = NULL;
        assert_int_equal(kura_psbt_unsigned_tx(&utx, pk.psbt, NULL), KURA_OK);
        assert_int_equal(kura_tx_txid(pk.jnl.prior.last_txid, utx), KURA_OK);
        kura_tx_free(utx);
        pk.jnl.prior.replaceable = 0;
        expect(&pk, KURA_REFUSE_INTENT_REPLAY);
    }
    pkg_free(&pk);
    /* The original did not signal. */
    pkg_init(&pk, K_WPKH);
    pk.fee = 20000;
    pkg_build(&pk);
    approve_default(&pk);
    prior_original(&pk, 10000);
    pk.jnl.prior.replaceable = 0;
    expect(&pk, KURA_REFUSE_BUMP_NOT_REPLACEABLE);
    assert_non_null(strstr(pk.result.message, "signed before"));
    pkg_free(&pk);
}

/* The rolling limit counts the intent once: what the earlier signature
 * counts comes out, and the bump counts the amount with its own (highest)
 * fee. Cap 10 BTC; the intent sends 0.6 BTC. */
static void test_bump_rolling_counts_once(void **state)
{
    pkg pk;
    (void)state;
    pkg_init(&pk, K_WPKH);
    pk.fee = 20000;
    pkg_build(&pk);
    approve_default(&pk);
    prior_original(&pk, 10000); /* counted: 60010000 */
    /* 9.9999 BTC left the wallet, the original's 0.6001 among them: the
     * bump fits exactly (others 9.3998 + 0.6 + fee 0.0002), though counting
     * the intent twice would not. */
    pk.jnl.rolling = 1000000000 - 20000 + 10000;
    expect(&pk, KURA_REFUSE_NONE);
    assert_int_equal(pk.result.is_bump, 1);
    /* One satoshi more and it does not: the bump's higher fee counts. */
    pk.jnl.rolling = 1000000000 - 20000 + 10000 + 1;
    expect(&pk, KURA_REFUSE_LIMIT_ROLLING);
    /* The original outside the window (counted 0): the whole intent counts. */
    pk.jnl.prior.counted = 0;
    pk.jnl.rolling = 1000000000 - 60000000 - 20000;
    expect(&pk, KURA_REFUSE_NONE);
    pk.jnl.rolling += 1;
    expect(&pk, KURA_REFUSE_LIMIT_ROLLING);
    /* A journal whose count is below what it says the intent counts does
     * not wrap around. */
    pk.jnl.prior.counted = UINT64_MAX;
    pk.jnl.rolling = 5;
    expect(&pk, KURA_REFUSE_NONE);
    pkg_free(&pk);
}

/* ---- the order of the steps ---- */

/* Several faults at once: the earliest step's reason is reported. */
static void test_first_failure_wins(void **state)
{
    pkg pk;
    out_spec t[3];
    (void)state;
    pkg_init(&pk, K_WPKH);
    memcpy(t, pk.outs, sizeof(t));
    t[0].address = D4; /* step 5 */
    tx_as(&pk, t, 3);
    pk.outs[2].address = D4; /* step 6 */
    pkg_build(&pk);
    approve(&pk, "alice"); /* step 4 */
    expect(&pk, KURA_REFUSE_APPROVALS_INSUFFICIENT);
    approve(&pk, "bob");
    expect(&pk, KURA_REFUSE_OUTPUT_MISSING);
    pk.now = NOW + 7200; /* step 3 */
    expect(&pk, KURA_REFUSE_INTENT_EXPIRED);
    pkg_free(&pk);
}

static void test_misuse(void **state)
{
    pkg pk;
    kura_check_result res;
    kura_signer_state st;
    (void)state;
    pkg_init(&pk, K_WPKH);
    pkg_build(&pk);
    memset(&st, 0, sizeof(st));
    assert_int_equal(kura_check_package(ctx, NULL, &st, pk.psbt), KURA_EINVAL);
    assert_int_equal(kura_check_package(ctx, &res, NULL, pk.psbt), KURA_EINVAL);
    assert_int_equal(res.reason, KURA_REFUSE_NONE);
    /* A state without journal callbacks is not a state. */
    st.wallet = wallets[K_WPKH].desc;
    st.wallet_name = WALLET_NAME;
    st.policy = pk.policy;
    assert_int_equal(kura_check_package(ctx, &res, &st, pk.psbt), KURA_EINVAL);
    assert_int_equal(res.reason, KURA_REFUSE_NONE);
    assert_null(res.summary);
    pkg_free(&pk);
}

/* Runs last: the tests above provoked every reason the check can return
 * (1 to 31); the rest belong to the signer program. */
static void test_every_reason_seen(void **state)
{
    (void)state;
    for (int r = KURA_REFUSE_NONE; r <= KURA_REFUSE_LIMIT_ROLLING; r++)
        if (!seen[r]) fail_msg("no test provoked %s", kura_refusal_name((kura_refusal)r));
    if (!seen[KURA_REFUSE_POLICY_BEHIND]) fail_msg("no test provoked KURA_REFUSE_POLICY_BEHIND");
    for (int r = KURA_REFUSE_BUMP_FEE_NOT_HIGHER; r <= KURA_REFUSE_BUMP_NOT_REPLACEABLE; r++)
        if (!seen[r]) fail_msg("no test provoked %s", kura_refusal_name((kura_refusal)r));
}

/* ---- setup ---- */

static int setup(void **state)
{
    (void)state;
    ctx = kura_ctx_new();
    assert_non_null(ctx);
    strcpy(keydir, "/tmp/kura-check-XXXXXX");
    if (mkdtemp(keydir) == NULL) fail_msg("mkdtemp failed");
    for (size_t i = 0; i < NKEYS; i++) {
        tu_ssh_keygen(keydir, KEYS[i], strcmp(KEYS[i], "dave") == 0 ? "ecdsa -b 256" : "ed25519");
        tu_ssh_pubkey(pubkeys[i], keydir, KEYS[i]);
    }
    make_wallet(&wallets[K_WPKH], "wpkh", 1, 1, 1, 0x11);
    make_wallet(&wallets[K_WSH], "wsh", 1, 3, 2, 0x21);
    make_wallet(&wallets[K_TR], "tr", 4, 1, 1, 0x31);
    make_wallet(&wallets[K_TRMS], "trms", 5, 3, 2, 0x41);
    make_wallet(&wallets[K_FOREIGN], "wpkh", 9, 1, 1, 0x51);
    return 0;
}

static int teardown(void **state)
{
    char cmd[128];
    (void)state;
    snprintf(cmd, sizeof(cmd), "rm -rf %s", keydir);
    tu_run(cmd);
    for (size_t i = 0; i < cache_count; i++) free(cache[i].sig);
    for (size_t k = 0; k < K_COUNT; k++) {
        kura_descriptor_free(wallets[k].desc);
        for (size_t i = 0; i < wallets[k].nmasters; i++) kura_bip32_wipe(&wallets[k].masters[i]);
        kura_tx_free(wallets[k].funding[0]);
        kura_tx_free(wallets[k].funding[1]);
    }
    kura_ctx_free(ctx);
    return 0;
}

/* ---- approvals hashed with SHA-256 (the check hashes the intent once) ---- */

/* `name`'s SSHSIG over text made with `ssh-keygen -O hashalg=sha256`. */
static char *sign_sha256(const char *name, const void *text, size_t len, size_t *sig_len)
{
    char msg[128], sig[128], cmd[512];
    snprintf(msg, sizeof(msg), "%s/msg-sha256", keydir);
    snprintf(sig, sizeof(sig), "%s/sig-sha256", keydir);
    tu_spit(msg, text, len);
    snprintf(cmd, sizeof(cmd),
             "ssh-keygen -Y sign -f %s/%s -n kura-intent-v1 -O hashalg=sha256 < %s > %s "
             "2>/dev/null",
             keydir, name, msg, sig);
    tu_run(cmd);
    return tu_slurp(sig, sig_len);
}

static void test_approval_sha256(void **state)
{
    pkg pk;
    char *sig, *edited;
    size_t sl, elen;
    (void)state;

    /* One approval hashed with sha256, one with sha512: both verify. */
    pkg_init(&pk, K_WPKH);
    pkg_build(&pk);
    sig = sign_sha256("alice", pk.intent_text, pk.intent_len, &sl);
    assert_non_null(strstr(sig, "-----BEGIN SSH SIGNATURE-----"));
    add_approval_text(&pk, sig, sl);
    approve(&pk, "bob");
    expect(&pk, KURA_REFUSE_NONE);
    assert_int_equal(pk.result.approval_count, 2);
    pkg_free(&pk);

    /* A sha256 approval of the text before an edit does not verify. */
    pkg_init(&pk, K_WPKH);
    pkg_build(&pk);
    approve(&pk, "alice");
    add_approval_text(&pk, sig, sl);
    pk.outs[0].amount = 35000000;
    edited = intent_text(&pk, &elen);
    set_intent(&pk, edited, elen);
    expect(&pk, KURA_REFUSE_APPROVAL_INVALID);
    free(edited);
    free(sig);
    pkg_free(&pk);
}

/* ---- the derivation cache (kura_signer_state.cache) ---- */

/* pkg_check's check with state.cache = cache, into *res (cleared first). */
static int check_cached(pkg *pk, const kura_descriptor_cache *dc, kura_check_result *res)
{
    kura_signer_state st;
    uint8_t *bytes = NULL;
    size_t len = 0;
    kura_psbt *again = NULL;
    int rc;
    assert_int_equal(kura_psbt_serialize(&bytes, &len, pk->psbt), KURA_OK);
    assert_int_equal(kura_psbt_parse(&again, bytes, len, NULL), KURA_OK);
    free(bytes);
    memset(&st, 0, sizeof(st));
    st.wallet = wallets[pk->kind].desc;
    st.wallet_name = WALLET_NAME;
    strcpy(st.wallet_checksum, wallets[pk->kind].checksum);
    st.chain = KURA_CHAIN_BITCOIN;
    st.policy = pk->policy;
    st.journal.arg = &pk->jnl;
    st.journal.intent_signed = j_intent_signed;
    st.journal.signed_since = j_signed_since;
    st.journal.allow_accepted_at = j_allow_accepted_at;
    if (pk->jnl.prior_set) st.journal.prior_signatures = j_prior_signatures;
    st.now = pk->now;
    st.max_clock_skew = 300;
    st.max_change_index = pk->max_change_index;
    st.cache = dc;
    kura_check_result_clear(res);
    rc = kura_check_package(ctx, res, &st, again);
    kura_psbt_free(again);
    return rc;
}

/* One package checked without a cache, with a cache of 8 indexes (change 7
 * and the coins at (0,3), (1,0) hit; index 1001 misses) and with a cache
 * that went through serialize/parse: the same result every time. */
static void same_with_cache(pkg *pk, kura_refusal want)
{
    kura_descriptor_cache *dc = NULL, *dc2 = NULL;
    kura_check_result a, b, c;
    uint8_t *bytes = NULL;
    size_t len = 0;
    int ra, rb, rcc;
    const kura_descriptor *d = wallets[pk->kind].desc;
    memset(&a, 0, sizeof(a));
    memset(&b, 0, sizeof(b));
    memset(&c, 0, sizeof(c));
    assert_int_equal(kura_descriptor_cache_build(ctx, &dc, d, 8, NULL), KURA_OK);
    assert_int_equal(kura_descriptor_cache_serialize(&bytes, &len, dc), KURA_OK);
    assert_int_equal(kura_descriptor_cache_parse(ctx, &dc2, d, bytes, len, NULL), KURA_OK);
    free(bytes);
    ra = check_cached(pk, NULL, &a);
    rb = check_cached(pk, dc, &b);
    rcc = check_cached(pk, dc2, &c);
    assert_int_equal(a.reason, want);
    const kura_check_result *r[2] = {&b, &c};
    const int rr[2] = {rb, rcc};
    for (size_t i = 0; i < 2; i++) {
        assert_int_equal(ra, rr[i]);
        assert_int_equal(a.reason, r[i]->reason);
        assert_string_equal(a.message, r[i]->message);
        assert_int_equal(a.total_out, r[i]->total_out);
        assert_int_equal(a.change, r[i]->change);
        assert_int_equal(a.fee, r[i]->fee);
        assert_int_equal(a.vsize_estimate, r[i]->vsize_estimate);
        assert_int_equal(a.approval_count, r[i]->approval_count);
        assert_true((a.summary == NULL) == (r[i]->summary == NULL));
        if (a.summary != NULL) assert_string_equal(a.summary, r[i]->summary);
    }
    kura_check_result_clear(&a);
    kura_check_result_clear(&b);
    kura_check_result_clear(&c);
    kura_descriptor_cache_free(dc);
    kura_descriptor_cache_free(dc2);
}

static void test_derivation_cache_same_results(void **state)
{
    pkg pk;
    (void)state;
    /* Accepted, every wallet kind (tr: the cache is empty, all misses). */
    for (int kind = K_WPKH; kind <= K_TRMS; kind++) {
        pkg_init(&pk, kind);
        pkg_build(&pk);
        approve_default(&pk);
        same_with_cache(&pk, KURA_REFUSE_NONE);
        pkg_free(&pk);
    }
    /* Change on the receive branch. */
    pkg_init(&pk, K_WPKH);
    pk.change_branch = KURA_DESCRIPTOR_BRANCH_RECEIVE;
    pkg_build(&pk);
    approve_default(&pk);
    same_with_cache(&pk, KURA_REFUSE_CHANGE_FOREIGN);
    pkg_free(&pk);
    /* Change to a foreign key. */
    pkg_init(&pk, K_WSH);
    pk.change_kind = K_FOREIGN;
    pkg_build(&pk);
    approve_default(&pk);
    same_with_cache(&pk, KURA_REFUSE_CHANGE_FOREIGN);
    pkg_free(&pk);
    /* Change beyond the cache (a miss), refused by the gap limit, then accepted. */
    pkg_init(&pk, K_WSH);
    pk.change_index = 1001;
    pkg_build(&pk);
    approve_default(&pk);
    same_with_cache(&pk, KURA_REFUSE_CHANGE_FOREIGN);
    pk.max_change_index = 1001;
    same_with_cache(&pk, KURA_REFUSE_NONE);
    pkg_free(&pk);
    /* The wallet's coin claimed at another (cached) index; foreign coins. */
    pkg_init(&pk, K_WSH);
    pkg_build(&pk);
    approve_default(&pk);
    for (size_t k = 0; k < pk.psbt->inputs[0].bip32_count; k++)
        pk.psbt->inputs[0].bip32[k].origin.path[5] = 4;
    same_with_cache(&pk, KURA_REFUSE_INPUT_FOREIGN);
    pkg_free(&pk);
    pkg_init(&pk, K_WPKH);
    pk.input_kind = K_FOREIGN;
    pkg_build(&pk);
    approve_default(&pk);
    same_with_cache(&pk, KURA_REFUSE_INPUT_FOREIGN);
    pkg_free(&pk);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accept_wpkh),
        cmocka_unit_test(test_accept_wsh_multisig),
        cmocka_unit_test(test_accept_tr_keypath),
        cmocka_unit_test(test_accept_tr_multi_a),
        cmocka_unit_test(test_accept_other_output_order),
        cmocka_unit_test(test_package_malformed),
        cmocka_unit_test(test_network_mismatch),
        cmocka_unit_test(test_policy_update_accepted),
        cmocka_unit_test(test_policy_malformed),
        cmocka_unit_test(test_policy_stale),
        cmocka_unit_test(test_policy_signatures),
        cmocka_unit_test(test_policy_wallet),
        cmocka_unit_test(test_intent_malformed),
        cmocka_unit_test(test_intent_wallet),
        cmocka_unit_test(test_policy_behind),
        cmocka_unit_test(test_intent_expired),
        cmocka_unit_test(test_intent_not_yet),
        cmocka_unit_test(test_intent_lifetime),
        cmocka_unit_test(test_intent_replay),
        cmocka_unit_test(test_approval_invalid),
        cmocka_unit_test(test_approver_unknown),
        cmocka_unit_test(test_approver_duplicate),
        cmocka_unit_test(test_approver_aliased_key),
        cmocka_unit_test(test_approver_initiator),
        cmocka_unit_test(test_approvals_insufficient),
        cmocka_unit_test(test_check_approvals_alone),
        cmocka_unit_test(test_output_missing),
        cmocka_unit_test(test_output_duplicate_and_multiset),
        cmocka_unit_test(test_output_unexpected),
        cmocka_unit_test(test_change_foreign),
        cmocka_unit_test(test_fake_change_claims),
        cmocka_unit_test(test_input_foreign),
        cmocka_unit_test(test_input_unproven),
        cmocka_unit_test(test_fee_intent),
        cmocka_unit_test(test_fee_policy),
        cmocka_unit_test(test_sighash),
        cmocka_unit_test(test_unknown_fields),
        cmocka_unit_test(test_foreign_tap_leaf),
        cmocka_unit_test(test_incomplete_inputs),
        cmocka_unit_test(test_destination_not_allowed),
        cmocka_unit_test(test_destination_waiting),
        cmocka_unit_test(test_loosening_waits),
        cmocka_unit_test(test_limit_transfer),
        cmocka_unit_test(test_limit_rolling),
        cmocka_unit_test(test_bump_accepted),
        cmocka_unit_test(test_bump_different_coins_is_replay),
        cmocka_unit_test(test_bump_fee_not_higher),
        cmocka_unit_test(test_bump_fee_over_caps),
        cmocka_unit_test(test_bump_not_replaceable),
        cmocka_unit_test(test_bump_rolling_counts_once),
        cmocka_unit_test(test_first_failure_wins),
        cmocka_unit_test(test_misuse),
        cmocka_unit_test(test_every_reason_seen),
        cmocka_unit_test(test_approval_sha256),
        cmocka_unit_test(test_derivation_cache_same_results),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
