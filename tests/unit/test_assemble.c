/* The coordinator's assembly over the four kura wallet kinds (wpkh, wsh
 * sortedmulti 2-of-3, tr, tr sortedmulti_a 2-of-3 under the NUMS key):
 * sizes and coin selection, the signing package, completing an imported
 * PSBT (taproot inputs without their funding transactions, no derivations,
 * PSBT version 2), the intake of each signer's signed PSBT, and the
 * finalizer — outputs in any order, change at a high index, and one named
 * refusal for each way the transaction can differ from the intent. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kura/assemble.h"
#include "kura/check.h"
#include "kura/coinselect.h"
#include "kura/descriptor.h"
#include "kura/intent.h"
#include "kura/keys.h"
#include "kura/psbt.h"
#include "kura/script.h"
#include "kura/tx.h"
#include "kura/wallet.h"
#include "kura/policy.h"
#include "testutil_keys.h"
#include "testutil_sshsig.h"
#include "testutil_wallet.h"

#include <unistd.h>

#define H KURA_BIP32_HARDENED

enum { K_WPKH, K_WSH, K_TR, K_TRMS, K_COUNT };

typedef struct wallet {
    kura_descriptor *desc;
    char checksum[9];
    kura_bip32_key masters[3];
    size_t nmasters;
    unsigned nsign;
    kura_tx *funding[2]; /* coin 0: (0,3) 2 BTC; coin 1: (1,0) 0.7 BTC */
} wallet;

#define COIN0 200000000ull
#define COIN1 70000000ull
#define NOW 1795000000LL
#define HIGH_CHANGE 70000u /* far above the e2e finalizer's 1,000 */

#define D1 "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"
#define D2 "bc1p5d7rjq7g6rdk2yhzks9smlaqtedr4dekq08ge8ztwac72sfr9rusxg3297"
#define D3 "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy"
#define A1 150000000ull
#define A2 60000000ull
#define MAX_FEE 100000ull

static kura_ctx *ctx;
static wallet wallets[K_COUNT];
static char keydir[64];
static char alice[KURA_SSHKEY_STRING_MAX], admin[KURA_SSHKEY_STRING_MAX];

static void make_wallet(wallet *w, int kind, uint8_t seed0, uint8_t tag)
{
    char origin[3][256], text[2048];
    kura_error err;
    char *canon = NULL;
    const uint32_t p84[] = {84 | H, 0 | H, 0 | H}, p48_2[] = {48 | H, 0 | H, 0 | H, 2 | H},
                   p86[] = {86 | H, 0 | H, 0 | H}, p48_3[] = {48 | H, 0 | H, 0 | H, 3 | H};
    size_t nkeys = (kind == K_WSH || kind == K_TRMS) ? 3 : 1;
    for (size_t i = 0; i < nkeys; i++) {
        uint8_t s = (uint8_t)(seed0 + i);
        if (kind == K_WPKH)
            tu_make_master(ctx, &w->masters[i], origin[i], 256, s, p84, 3, "84h/0h/0h");
        else if (kind == K_WSH)
            tu_make_master(ctx, &w->masters[i], origin[i], 256, s, p48_2, 4, "48h/0h/0h/2h");
        else if (kind == K_TR)
            tu_make_master(ctx, &w->masters[i], origin[i], 256, s, p86, 3, "86h/0h/0h");
        else
            tu_make_master(ctx, &w->masters[i], origin[i], 256, s, p48_3, 4, "48h/0h/0h/3h");
    }
    if (kind == K_WPKH)
        snprintf(text, sizeof(text), "wpkh(%s/<0;1>/*)", origin[0]);
    else if (kind == K_WSH)
        snprintf(text, sizeof(text), "wsh(sortedmulti(2,%s/<0;1>/*,%s/<0;1>/*,%s/<0;1>/*))",
                 origin[0], origin[1], origin[2]);
    else if (kind == K_TR)
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
    w->nsign = nkeys == 3 ? 2 : 1;
    w->funding[0] = tu_funding_tx(ctx, w->desc, 0, 3, COIN0, tag, 1000);
    w->funding[1] = tu_funding_tx(ctx, w->desc, 1, 0, COIN1, (uint8_t)(tag + 1), 1000);
}

static int setup(void **state)
{
    (void)state;
    ctx = kura_ctx_new();
    if (ctx == NULL) return -1;
    make_wallet(&wallets[K_WPKH], K_WPKH, 1, 0x10);
    make_wallet(&wallets[K_WSH], K_WSH, 2, 0x20);
    make_wallet(&wallets[K_TR], K_TR, 5, 0x30);
    make_wallet(&wallets[K_TRMS], K_TRMS, 6, 0x40);
    /* An approver and an administrator, with the real OpenSSH. */
    strcpy(keydir, "/tmp/kura-assemble-XXXXXX");
    if (mkdtemp(keydir) == NULL) return -1;
    tu_ssh_keygen(keydir, "alice", "ed25519");
    tu_ssh_keygen(keydir, "admin", "ed25519");
    tu_ssh_pubkey(alice, keydir, "alice");
    tu_ssh_pubkey(admin, keydir, "admin");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    for (int k = 0; k < K_COUNT; k++) {
        kura_descriptor_free(wallets[k].desc);
        kura_tx_free(wallets[k].funding[0]);
        kura_tx_free(wallets[k].funding[1]);
        for (size_t i = 0; i < wallets[k].nmasters; i++) kura_bip32_wipe(&wallets[k].masters[i]);
    }
    kura_ctx_free(ctx);
    tu_remove_dir(keydir);
    return 0;
}

/* ---- helpers ---- */

static void script_of(uint8_t *script, size_t *len, const char *address)
{
    kura_error err;
    if (kura_address_to_script(script, KURA_SCRIPT_PUBKEY_MAX, len, address, KURA_NETWORK_MAINNET,
                               &err) != KURA_OK)
        fail_msg("address %s: %s", address, err.message);
}

/* The intent paying D1 A1 and D2 A2 from wallet k (malloc'd text). */
static char *make_intent(int k, size_t *len)
{
    kura_intent *it = kura_intent_new();
    kura_error err;
    char *text = NULL;
    assert_non_null(it);
    strcpy(it->id, "4f1c2a9e7b3d4c58a1e0f6b2d9c3e7a1");
    it->chain = KURA_CHAIN_BITCOIN;
    strcpy(it->wallet.name, "treasury");
    strcpy(it->wallet.checksum, wallets[k].checksum);
    strcpy(it->initiator, "ops-tanaka");
    it->policy_version = 1; /* the policy of the signer's check below */
    it->created = NOW;
    it->expires = NOW + 3600;
    it->max_fee = MAX_FEE;
    assert_int_equal(kura_intent_add_output(it, D1, A1, "withdrawal 1", &err), KURA_OK);
    assert_int_equal(kura_intent_add_output(it, D2, A2, NULL, &err), KURA_OK);
    if (kura_intent_write(&text, len, it, &err) != KURA_OK) fail_msg("intent: %s", err.message);
    kura_intent_free(it);
    return text;
}

static void coin_of(kura_wallet_coin *c, int k, size_t which)
{
    memset(c, 0, sizeof(*c));
    assert_int_equal(kura_tx_txid(c->txid, wallets[k].funding[which]), KURA_OK);
    c->vout = 1;
    c->amount = which == 0 ? COIN0 : COIN1;
    c->branch = which == 0 ? 0 : 1;
    c->index = which == 0 ? 3 : 0;
    c->prev_tx = wallets[k].funding[which];
}

/* Signer m of wallet k signs a copy of pkg; returns the serialised PSBT. */
static uint8_t *sign_as(const kura_psbt *pkg, int k, size_t m, size_t *len)
{
    kura_psbt *c = NULL;
    kura_error err;
    uint8_t *bytes = NULL;
    size_t n = 0;
    assert_int_equal(kura_psbt_clone(&c, pkg), KURA_OK);
    if (kura_psbt_sign_bip32(ctx, c, &n, &wallets[k].masters[m], KURA_PSBT_SIGN_VERIFY, &err) !=
        KURA_OK)
        fail_msg("sign: %s", err.message);
    assert_true(n > 0);
    assert_int_equal(kura_psbt_serialize(&bytes, len, c), KURA_OK);
    kura_psbt_free(c);
    return bytes;
}

/* Takes in every needed signer's upload; returns the accumulated PSBT. */
static void sign_all(kura_psbt *acc, int k)
{
    for (size_t m = 0; m < wallets[k].nsign; m++) {
        kura_assemble_progress pr = {0};
        kura_error err;
        size_t len;
        uint8_t *up = sign_as(acc, k, m, &len);
        if (kura_assemble_intake(ctx, &pr, acc, wallets[k].desc, up, len, &err) != KURA_OK)
            fail_msg("intake: %s", err.message);
        kura_assemble_progress_clear(&pr);
        free(up);
    }
}

/* A lookup over the test's funding transactions and a map of scripts. */
typedef struct lookup_state {
    int k;
    struct {
        uint8_t script[KURA_SCRIPT_PUBKEY_MAX];
        size_t len, branch;
        uint32_t index;
    } map[8];
    size_t n;
} lookup_state;

static const kura_tx *find_funding(void *arg, const uint8_t txid[32])
{
    lookup_state *s = arg;
    for (size_t i = 0; i < 2; i++) {
        uint8_t t[32];
        assert_int_equal(kura_tx_txid(t, wallets[s->k].funding[i]), KURA_OK);
        if (memcmp(t, txid, 32) == 0) return wallets[s->k].funding[i];
    }
    return NULL;
}

static int find_script(void *arg, const uint8_t *script, size_t len, size_t *branch,
                       uint32_t *index)
{
    lookup_state *s = arg;
    for (size_t i = 0; i < s->n; i++)
        if (s->map[i].len == len && memcmp(s->map[i].script, script, len) == 0) {
            *branch = s->map[i].branch;
            *index = s->map[i].index;
            return 1;
        }
    return 0;
}

static void map_add(lookup_state *s, int k, size_t branch, uint32_t index)
{
    assert_true(s->n < 8);
    assert_int_equal(kura_descriptor_script_pubkey(ctx, s->map[s->n].script, KURA_SCRIPT_PUBKEY_MAX,
                                                   &s->map[s->n].len, wallets[k].desc, branch,
                                                   index, NULL),
                     KURA_OK);
    s->map[s->n].branch = branch;
    s->map[s->n].index = index;
    s->n++;
}

/* A signed PSBT of wallet k spending both coins to payments[0..n) (in that
 * order) and change at HIGH_CHANGE, as a compromised coordinator (or a
 * careless one) might build and the signers (here, blindly) sign. */
static kura_psbt *signed_psbt(int k, const kura_wallet_payment *pay, size_t n, uint64_t change)
{
    kura_wallet_coin coins[2];
    kura_psbt *p = NULL;
    kura_error err;
    coin_of(&coins[0], k, 0);
    coin_of(&coins[1], k, 1);
    if (kura_wallet_create_psbt(ctx, &p, wallets[k].desc, coins, 2, pay, n, change, HIGH_CHANGE, 0,
                                &err) != KURA_OK)
        fail_msg("create: %s", err.message);
    sign_all(p, k);
    return p;
}

/* ---- the signer's check: does kura-cold accept what was assembled? ---- */

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
    return -1;
}

/* Runs kura_check_package on psbt as wallet k's signer would, under a
 * policy needing one approval (alice's, which the package must carry). */
static void expect_signer_accepts(int k, const kura_psbt *psbt)
{
    kura_policy *pol = kura_policy_new();
    kura_signer_state st;
    kura_check_result res;
    kura_error err;
    assert_non_null(pol);
    pol->version = 1;
    pol->chain = KURA_CHAIN_BITCOIN;
    strcpy(pol->wallet.name, "treasury");
    strcpy(pol->wallet.checksum, wallets[k].checksum);
    assert_int_equal(kura_policy_add_admin(pol, "admin", admin, &err), KURA_OK);
    pol->admin_quorum = 1;
    assert_int_equal(kura_policy_add_approver(pol, "alice", alice, &err), KURA_OK);
    assert_int_equal(kura_policy_add_tier(pol, KURA_POLICY_TIER_UNBOUNDED, 1, &err), KURA_OK);
    pol->max_per_transfer = 300000000;
    pol->max_per_24h = 1000000000;
    pol->max_fee = 1000000;
    pol->max_fee_rate = 200;
    pol->max_lifetime = 86400;
    memset(&st, 0, sizeof(st));
    st.wallet = wallets[k].desc;
    st.wallet_name = "treasury";
    strcpy(st.wallet_checksum, wallets[k].checksum);
    st.chain = KURA_CHAIN_BITCOIN;
    st.policy = pol;
    st.journal.intent_signed = j_signed;
    st.journal.signed_since = j_since;
    st.journal.allow_accepted_at = j_allow;
    st.now = NOW + 60;
    st.max_clock_skew = 300;
    st.max_change_index = 100000;
    memset(&res, 0, sizeof(res));
    if (kura_check_package(ctx, &res, &st, psbt) != KURA_OK)
        fail_msg("the signer refuses: %s: %s", kura_refusal_name(res.reason), res.message);
    kura_check_result_clear(&res);
    kura_policy_free(pol);
}

/* ---- the legitimate flow, every kind ---- */

static void flow(int k)
{
    size_t text_len, n = 0;
    char *text = make_intent(k, &text_len);
    kura_intent *intent = NULL;
    kura_assemble_sizes sizes;
    kura_coinselect_params params;
    kura_coinselect_coin cand[2];
    kura_coinselect_result sel = {0};
    kura_wallet_coin all[2], chosen[2];
    kura_assemble_records rec;
    kura_assemble_reason reason = KURA_ASSEMBLE_MALFORMED;
    kura_assemble_final fin = {0};
    kura_psbt *pkg = NULL;
    kura_tx *tx = NULL;
    kura_error err;
    size_t approval_len = 0;
    char *approval = tu_ssh_sign(keydir, "alice", "kura-intent-v1", text, text_len, &approval_len);
    const uint8_t *approvals[1] = {(const uint8_t *)approval};
    size_t approval_lens[1] = {approval_len};
    kura_package_view view;
    uint64_t est_weight;

    assert_int_equal(kura_intent_parse(&intent, (const uint8_t *)text, text_len, NULL), KURA_OK);
    /* Sizes, then coin selection over the wallet's two coins at 10 sat/vB. */
    assert_int_equal(kura_assemble_estimate(ctx, &sizes, wallets[k].desc, intent, &err), KURA_OK);
    assert_true(sizes.input_weight > 4 * 41 && sizes.base_weight > 0);
    assert_true(sizes.change_dust >= 294);
    kura_assemble_coinselect_params(&params, &sizes, kura_intent_total(intent), 10000, 10000, 1);
    coin_of(&all[0], k, 0);
    coin_of(&all[1], k, 1);
    for (size_t i = 0; i < 2; i++) {
        cand[i].amount = all[i].amount;
        cand[i].weight = sizes.input_weight;
    }
    if (kura_coinselect_select(&sel, cand, 2, &params, &err) != KURA_OK)
        fail_msg("select: %s", err.message);
    assert_int_equal(sel.selected_count, 2); /* 2.1 BTC needs both coins */
    assert_true(sel.change > 0 && sel.fee <= MAX_FEE);
    for (size_t i = 0; i < sel.selected_count; i++) chosen[i] = all[sel.selected[i]];

    /* The package, with change at a high index. */
    memset(&rec, 0, sizeof(rec));
    rec.intent = (const uint8_t *)text;
    rec.intent_len = text_len;
    rec.approvals = approvals;
    rec.approval_lens = approval_lens;
    rec.approval_count = 1;
    if (kura_assemble_package(ctx, &pkg, &reason, wallets[k].desc, chosen, sel.selected_count,
                              HIGH_CHANGE, sel.change, &rec, &err) != KURA_OK)
        fail_msg("package: %s", err.message);
    assert_int_equal(reason, KURA_ASSEMBLE_OK);
    assert_int_equal(kura_package_read(&view, pkg, NULL), KURA_OK);
    assert_int_equal(view.intent_len, text_len);
    assert_memory_equal(view.intent, text, text_len);
    assert_int_equal(view.approval_count, 1);
    assert_int_equal(pkg->output_count, 3);
    for (size_t i = 0; i < pkg->input_count; i++) assert_non_null(pkg->inputs[i].non_witness_utxo);
    expect_signer_accepts(k, pkg);

    /* Signers one by one: the threshold is reached with the last. */
    for (size_t m = 0; m < wallets[k].nsign; m++) {
        kura_assemble_progress pr = {0};
        size_t len;
        uint8_t *up = sign_as(pkg, k, m, &len);
        if (kura_assemble_intake(ctx, &pr, pkg, wallets[k].desc, up, len, &err) != KURA_OK)
            fail_msg("intake: %s", err.message);
        assert_int_equal(pr.reason, KURA_ASSEMBLE_OK);
        assert_int_equal(pr.threshold, wallets[k].nsign);
        assert_int_equal(pr.input_count, 2);
        assert_true(pr.added >= 2);
        for (size_t i = 0; i < 2; i++) assert_int_equal(pr.signatures[i], m + 1);
        assert_int_equal(pr.complete, m + 1 == wallets[k].nsign);
        /* The same upload again adds nothing and is accepted. */
        kura_assemble_progress_clear(&pr);
        assert_int_equal(kura_assemble_intake(ctx, &pr, pkg, wallets[k].desc, up, len, &err),
                         KURA_OK);
        assert_int_equal(pr.added, 0);
        kura_assemble_progress_clear(&pr);
        free(up);
        if (m + 1 < wallets[k].nsign) {
            assert_int_equal(kura_assemble_finalize(ctx, &fin, pkg, wallets[k].desc,
                                                    (const uint8_t *)text, text_len, 100000, NULL,
                                                    &err),
                             KURA_EDATA);
            assert_int_equal(fin.reason, KURA_ASSEMBLE_THRESHOLD_NOT_MET);
        }
    }

    /* Finalize: the change index 70,000 is within a bound of 100,000. */
    if (kura_assemble_finalize(ctx, &fin, pkg, wallets[k].desc, (const uint8_t *)text, text_len,
                               100000, NULL, &err) != KURA_OK)
        fail_msg("finalize: %s", err.message);
    assert_int_equal(fin.reason, KURA_ASSEMBLE_OK);
    assert_int_equal(fin.fee, sel.fee);
    assert_int_equal(fin.change, sel.change);
    assert_int_equal(fin.change_outputs, 1);
    assert_int_equal(kura_tx_parse(&tx, fin.tx, fin.tx_len, KURA_TX_WITNESS, NULL), KURA_OK);
    {
        uint8_t txid[32];
        assert_int_equal(kura_tx_txid(txid, tx), KURA_OK);
        assert_memory_equal(txid, fin.txid, 32);
    }
    /* The estimate is a ceiling: the coin selection's weight never falls
     * below the real one, so the fee rate is reached. */
    est_weight = sel.weight;
    assert_true(kura_tx_weight(tx) <= est_weight);
    assert_true(est_weight - kura_tx_weight(tx) <= 8 + 16); /* close: the input count, a byte
                                                              or so per signature */
    assert_true(fin.fee * 1000 >= 10000 * fin.vsize);
    kura_tx_free(tx);
    kura_assemble_final_clear(&fin);

    /* The same transaction with a bound below the change index. */
    assert_int_equal(kura_assemble_finalize(ctx, &fin, pkg, wallets[k].desc, (const uint8_t *)text,
                                            text_len, HIGH_CHANGE - 1, NULL, &err),
                     KURA_EDATA);
    assert_int_equal(fin.reason, KURA_ASSEMBLE_CHANGE_BEYOND_LIMIT);
    assert_null(fin.tx);

    kura_psbt_free(pkg);
    kura_coinselect_result_clear(&sel);
    kura_intent_free(intent);
    free(approval);
    free(text);
    (void)n;
}

static void test_flow_wpkh(void **state)
{
    (void)state;
    flow(K_WPKH);
}
static void test_flow_wsh(void **state)
{
    (void)state;
    flow(K_WSH);
}
static void test_flow_tr(void **state)
{
    (void)state;
    flow(K_TR);
}
static void test_flow_trms(void **state)
{
    (void)state;
    flow(K_TRMS);
}

/* ---- estimate: exact sizes of two kinds ---- */

static void test_estimate(void **state)
{
    kura_assemble_sizes s;
    (void)state;
    assert_int_equal(kura_assemble_estimate(ctx, &s, wallets[K_WPKH].desc, NULL, NULL), KURA_OK);
    /* 41 bytes + witness 1 + (1 + 72) + (1 + 33). */
    assert_int_equal(s.input_weight, 4 * 41 + 108);
    assert_int_equal(s.change_output_weight, 4 * 31);
    assert_int_equal(s.change_dust, 294);
    /* version 4, inputs 3, outputs 1, lock time 4; marker and flag. */
    assert_int_equal(s.base_weight, 4 * 12 + 2);
    assert_int_equal(kura_assemble_estimate(ctx, &s, wallets[K_TR].desc, NULL, NULL), KURA_OK);
    assert_int_equal(s.input_weight, 4 * 41 + 1 + 1 + 65);
    assert_int_equal(s.change_output_weight, 4 * 43);
    assert_int_equal(s.change_dust, 330);
    assert_int_equal(kura_assemble_estimate(ctx, NULL, wallets[K_TR].desc, NULL, NULL),
                     KURA_EINVAL);
}

/* ---- complete: an imported PSBT ---- */

/* A PSBT as another tool would make it for wallet k: the outputs shuffled
 * (change first), witness UTXOs only (no funding transaction) for taproot,
 * no derivations anywhere. */
static kura_psbt *imported(int k, uint64_t change, uint32_t locktime)
{
    kura_tx *tx = kura_tx_new();
    kura_psbt *p = NULL;
    uint8_t s[KURA_SCRIPT_PUBKEY_MAX];
    size_t len;
    kura_wallet_coin c[2];
    assert_non_null(tx);
    tx->locktime = locktime;
    for (size_t i = 0; i < 2; i++) {
        coin_of(&c[i], k, i);
        assert_int_equal(kura_tx_add_input(tx, c[i].txid, 1, 0xfffffffd, NULL, 0), KURA_OK);
    }
    assert_int_equal(kura_descriptor_script_pubkey(ctx, s, sizeof(s), &len, wallets[k].desc, 1,
                                                   HIGH_CHANGE, NULL),
                     KURA_OK);
    assert_int_equal(kura_tx_add_output(tx, change, s, len), KURA_OK);
    script_of(s, &len, D2);
    assert_int_equal(kura_tx_add_output(tx, A2, s, len), KURA_OK);
    script_of(s, &len, D1);
    assert_int_equal(kura_tx_add_output(tx, A1, s, len), KURA_OK);
    assert_int_equal(kura_psbt_from_tx(&p, tx, 0, NULL), KURA_OK);
    for (size_t i = 0; i < 2; i++) {
        const kura_txout *o = &c[i].prev_tx->outputs[1];
        assert_int_equal(kura_psbt_input_set_witness_utxo(p, i, o->amount, o->script_pubkey.data,
                                                          o->script_pubkey.len),
                         KURA_OK);
        if (k == K_WPKH || k == K_WSH)
            assert_int_equal(kura_psbt_input_set_non_witness_utxo(p, i, c[i].prev_tx, NULL),
                             KURA_OK);
    }
    kura_tx_free(tx);
    return p;
}

static void complete_kind(int k)
{
    const uint64_t change = COIN0 + COIN1 - A1 - A2 - 20000;
    size_t text_len;
    char *text = make_intent(k, &text_len);
    kura_psbt *p = imported(k, change, 0), *bare = NULL;
    lookup_state ls = {0};
    kura_assemble_lookup lookup = {&ls, find_funding, find_script, 8};
    kura_assemble_reason reason = KURA_ASSEMBLE_OK;
    kura_assemble_final fin = {0};
    kura_error err;

    ls.k = k;
    /* Without a way to find the funding transactions, the taproot inputs
     * cannot be completed; segwit v0 ones carry theirs. */
    assert_int_equal(kura_psbt_clone(&bare, p), KURA_OK);
    if (k == K_TR || k == K_TRMS) {
        assert_int_equal(kura_assemble_complete(ctx, &bare, &reason, wallets[k].desc, NULL, &err),
                         KURA_EDATA);
        assert_int_equal(reason, KURA_ASSEMBLE_FUNDING_MISSING);
    }
    kura_psbt_free(bare);

    /* The inputs (indexes 3 and 0) are found by the scan of 8; the change
     * at 70,000 only through the locator. */
    map_add(&ls, k, 1, HIGH_CHANGE);
    if (kura_assemble_complete(ctx, &p, &reason, wallets[k].desc, &lookup, &err) != KURA_OK)
        fail_msg("complete: %s", err.message);
    assert_int_equal(reason, KURA_ASSEMBLE_OK);
    for (size_t i = 0; i < 2; i++) {
        assert_non_null(p->inputs[i].non_witness_utxo);
        assert_true(p->inputs[i].bip32_count + p->inputs[i].tap_bip32_count > 0);
    }
    assert_true(p->outputs[0].bip32_count + p->outputs[0].tap_bip32_count > 0);
    assert_int_equal(p->outputs[1].bip32_count + p->outputs[1].tap_bip32_count, 0);
    {
        kura_assemble_records rec;
        size_t alen = 0;
        char *approval = tu_ssh_sign(keydir, "alice", "kura-intent-v1", text, text_len, &alen);
        const uint8_t *approvals[1] = {(const uint8_t *)approval};
        memset(&rec, 0, sizeof(rec));
        rec.intent = (const uint8_t *)text;
        rec.intent_len = text_len;
        rec.approvals = approvals;
        rec.approval_lens = &alen;
        rec.approval_count = 1;
        assert_int_equal(kura_assemble_attach(p, &rec), KURA_OK);
        free(approval);
    }
    /* The signer accepts the completed package as it is. */
    expect_signer_accepts(k, p);

    /* Signed and finalized with the outputs shuffled (change first, the
     * intent's in reverse order), found by the records complete wrote. */
    sign_all(p, k);
    if (kura_assemble_finalize(ctx, &fin, p, wallets[k].desc, (const uint8_t *)text, text_len,
                               HIGH_CHANGE, NULL, &err) != KURA_OK)
        fail_msg("finalize: %s", err.message);
    assert_int_equal(fin.fee, 20000);
    assert_int_equal(fin.change, change);
    kura_assemble_final_clear(&fin);
    kura_psbt_free(p);
    free(text);
}

static void test_complete_wpkh(void **state)
{
    (void)state;
    complete_kind(K_WPKH);
}
static void test_complete_wsh(void **state)
{
    (void)state;
    complete_kind(K_WSH);
}
static void test_complete_tr(void **state)
{
    (void)state;
    complete_kind(K_TR);
}
static void test_complete_trms(void **state)
{
    (void)state;
    complete_kind(K_TRMS);
}

static void test_complete_same_as_package(void **state)
{
    /* Completing the bare transaction of a package gives the package's own
     * PSBT, byte for byte (kura's records aside): complete writes exactly
     * what the updater writes. Also from PSBT version 2. */
    for (int k = 0; k < K_COUNT; k++) {
        kura_wallet_coin c[2];
        kura_wallet_payment pay[2];
        uint8_t s1[KURA_SCRIPT_PUBKEY_MAX], s2[KURA_SCRIPT_PUBKEY_MAX], *a = NULL, *b = NULL;
        size_t l1, l2, alen, blen;
        kura_psbt *ref = NULL, *p = NULL;
        kura_tx *tx = NULL;
        lookup_state ls = {0};
        kura_assemble_lookup lookup = {&ls, find_funding, NULL, 4};
        kura_error err;
        (void)state;
        ls.k = k;
        coin_of(&c[0], k, 0);
        coin_of(&c[1], k, 1);
        script_of(s1, &l1, D1);
        script_of(s2, &l2, D3);
        pay[0] = (kura_wallet_payment){s1, l1, A1};
        pay[1] = (kura_wallet_payment){s2, l2, A2};
        /* change at index 2: found by the scan */
        assert_int_equal(kura_wallet_create_psbt(ctx, &ref, wallets[k].desc, c, 2, pay, 2, 5000000,
                                                 2, 0, &err),
                         KURA_OK);
        assert_int_equal(kura_psbt_unsigned_tx(&tx, ref, NULL), KURA_OK);
        assert_int_equal(kura_psbt_from_tx(&p, tx, 2, NULL), KURA_OK);
        if (kura_assemble_complete(ctx, &p, NULL, wallets[k].desc, &lookup, &err) != KURA_OK)
            fail_msg("complete: %s", err.message);
        assert_int_equal(p->version, 0);
        assert_int_equal(kura_psbt_serialize(&a, &alen, ref), KURA_OK);
        assert_int_equal(kura_psbt_serialize(&b, &blen, p), KURA_OK);
        tu_assert_bytes_equal(a, alen, b, blen);
        free(a);
        free(b);
        kura_tx_free(tx);
        kura_psbt_free(ref);
        kura_psbt_free(p);
    }
}

static void test_complete_refusals(void **state)
{
    lookup_state ls = {0};
    kura_assemble_lookup lookup = {&ls, find_funding, NULL, 8};
    kura_assemble_reason reason = KURA_ASSEMBLE_OK;
    kura_error err;
    kura_psbt *p = imported(K_TR, 1000000, 800000), *orig = NULL;
    uint8_t *a = NULL, *b = NULL;
    size_t alen, blen;
    (void)state;
    ls.k = K_TR;
    /* Bitcoin Core sets the lock time to the tip (anti fee sniping); kura
     * signs lock time 0. The PSBT is left as it was. */
    assert_int_equal(kura_psbt_serialize(&a, &alen, p), KURA_OK);
    assert_int_equal(kura_assemble_complete(ctx, &p, &reason, wallets[K_TR].desc, &lookup, &err),
                     KURA_EDATA);
    assert_int_equal(reason, KURA_ASSEMBLE_TX_UNSUPPORTED);
    assert_non_null(strstr(err.message, "lock time 800000"));
    assert_int_equal(kura_psbt_serialize(&b, &blen, p), KURA_OK);
    tu_assert_bytes_equal(a, alen, b, blen);
    free(a);
    free(b);
    kura_psbt_free(p);
    /* Another wallet's coins: not found anywhere in this wallet. */
    p = imported(K_TR, 1000000, 0);
    ls.k = K_TR;
    assert_int_equal(kura_assemble_complete(ctx, &p, &reason, wallets[K_TRMS].desc, &lookup, &err),
                     KURA_EDATA);
    assert_int_equal(reason, KURA_ASSEMBLE_INPUT_FOREIGN);
    /* Scan limit over the maximum is misuse. */
    lookup.scan_limit = KURA_ASSEMBLE_SCAN_MAX + 1;
    assert_int_equal(kura_assemble_complete(ctx, &p, &reason, wallets[K_TR].desc, &lookup, &err),
                     KURA_EINVAL);
    kura_psbt_free(p);
    (void)orig;
}

/* ---- package refusals ---- */

static void test_package_refusals(void **state)
{
    size_t text_len;
    char *text = make_intent(K_WPKH, &text_len), *other = make_intent(K_WSH, &text_len);
    kura_wallet_coin c[2];
    kura_assemble_records rec;
    kura_assemble_reason reason;
    kura_psbt *p = NULL;
    kura_error err;
    (void)state;
    memset(&rec, 0, sizeof(rec));
    rec.intent = (const uint8_t *)text;
    rec.intent_len = strlen(text);
    coin_of(&c[0], K_WPKH, 0);
    coin_of(&c[1], K_WPKH, 1);
    /* Fee over max-fee: no change given back. */
    assert_int_equal(kura_assemble_package(ctx, &p, &reason, wallets[K_WPKH].desc, c, 2, 0, 0,
                                           &rec, &err),
                     KURA_EDATA);
    assert_int_equal(reason, KURA_ASSEMBLE_FEE);
    assert_null(p);
    /* Outputs over the inputs. */
    assert_int_equal(kura_assemble_package(ctx, &p, &reason, wallets[K_WPKH].desc, c, 1, 0,
                                           1000, &rec, &err),
                     KURA_EDATA);
    assert_int_equal(reason, KURA_ASSEMBLE_MALFORMED);
    /* A coin without its funding transaction, or one that is not the wallet's. */
    c[1].prev_tx = NULL;
    assert_int_equal(kura_assemble_package(ctx, &p, &reason, wallets[K_WPKH].desc, c, 2, 0,
                                           COIN0 + COIN1 - A1 - A2 - 5000, &rec, &err),
                     KURA_EDATA);
    assert_int_equal(reason, KURA_ASSEMBLE_FUNDING_MISSING);
    coin_of(&c[1], K_WPKH, 1);
    c[1].index = 1;
    assert_int_equal(kura_assemble_package(ctx, &p, &reason, wallets[K_WPKH].desc, c, 2, 0,
                                           COIN0 + COIN1 - A1 - A2 - 5000, &rec, &err),
                     KURA_EDATA);
    assert_int_equal(reason, KURA_ASSEMBLE_INPUT_FOREIGN);
    coin_of(&c[1], K_WPKH, 1);
    c[1].amount++;
    assert_int_equal(kura_assemble_package(ctx, &p, &reason, wallets[K_WPKH].desc, c, 2, 0,
                                           COIN0 + COIN1 - A1 - A2 - 5000, &rec, &err),
                     KURA_EDATA);
    assert_int_equal(reason, KURA_ASSEMBLE_FUNDING_MISSING);
    coin_of(&c[1], K_WPKH, 1);
    /* The same coin twice. */
    c[1] = c[0];
    assert_int_equal(kura_assemble_package(ctx, &p, &reason, wallets[K_WPKH].desc, c, 2, 0,
                                           COIN0 + COIN0 - A1 - A2 - 5000, &rec, &err),
                     KURA_EDATA);
    assert_int_equal(reason, KURA_ASSEMBLE_MALFORMED);
    coin_of(&c[1], K_WPKH, 1);
    /* An intent for another wallet. */
    rec.intent = (const uint8_t *)other;
    rec.intent_len = strlen(other);
    assert_int_equal(kura_assemble_package(ctx, &p, &reason, wallets[K_WPKH].desc, c, 2, 0,
                                           COIN0 + COIN1 - A1 - A2 - 5000, &rec, &err),
                     KURA_EDATA);
    assert_int_equal(reason, KURA_ASSEMBLE_INTENT);
    rec.intent = (const uint8_t *)"kura-intent 1\nnonsense\n";
    rec.intent_len = strlen((const char *)rec.intent);
    assert_int_equal(kura_assemble_package(ctx, &p, &reason, wallets[K_WPKH].desc, c, 2, 0,
                                           COIN0 + COIN1 - A1 - A2 - 5000, &rec, &err),
                     KURA_EDATA);
    assert_int_equal(reason, KURA_ASSEMBLE_INTENT);
    assert_null(p);
    free(text);
    free(other);
}

/* ---- intake refusals ---- */

static kura_psbt *package_of(int k, uint64_t change)
{
    kura_wallet_coin c[2];
    kura_wallet_payment pay[2];
    uint8_t s1[KURA_SCRIPT_PUBKEY_MAX], s2[KURA_SCRIPT_PUBKEY_MAX];
    size_t l1, l2;
    kura_psbt *p = NULL;
    coin_of(&c[0], k, 0);
    coin_of(&c[1], k, 1);
    script_of(s1, &l1, D1);
    script_of(s2, &l2, D2);
    pay[0] = (kura_wallet_payment){s1, l1, A1};
    pay[1] = (kura_wallet_payment){s2, l2, A2};
    assert_int_equal(kura_wallet_create_psbt(ctx, &p, wallets[k].desc, c, 2, pay, 2, change,
                                             HIGH_CHANGE, 0, NULL),
                     KURA_OK);
    return p;
}

static void expect_intake(kura_psbt *acc, int k, const kura_psbt *upload,
                          kura_assemble_reason want)
{
    kura_assemble_progress pr = {0};
    kura_error err;
    uint8_t *bytes = NULL, *before = NULL, *after = NULL;
    size_t len, blen, alen;
    assert_int_equal(kura_psbt_serialize(&bytes, &len, upload), KURA_OK);
    assert_int_equal(kura_psbt_serialize(&before, &blen, acc), KURA_OK);
    assert_int_equal(kura_assemble_intake(ctx, &pr, acc, wallets[k].desc, bytes, len, &err),
                     KURA_EDATA);
    if (pr.reason != want)
        fail_msg("intake: %s, wanted %s (%s)", kura_assemble_reason_name(pr.reason),
                 kura_assemble_reason_name(want), err.message);
    assert_null(pr.signatures);
    assert_int_equal(kura_psbt_serialize(&after, &alen, acc), KURA_OK);
    tu_assert_bytes_equal(before, blen, after, alen); /* unchanged */
    free(bytes);
    free(before);
    free(after);
}

static kura_psbt *parse_signed(const kura_psbt *pkg, int k, size_t m)
{
    size_t len;
    uint8_t *bytes = sign_as(pkg, k, m, &len);
    kura_psbt *p = NULL;
    assert_int_equal(kura_psbt_parse(&p, bytes, len, NULL), KURA_OK);
    free(bytes);
    return p;
}

static void intake_refusals(int k)
{
    const uint64_t change = COIN0 + COIN1 - A1 - A2 - 20000;
    kura_psbt *pkg = package_of(k, change), *other = package_of(k, change - 1);
    kura_psbt *good = parse_signed(pkg, k, 0), *theirs = parse_signed(other, k, 0), *u = NULL;
    kura_assemble_progress pr = {0};
    kura_error err;
    uint8_t junk[] = {'p', 's', 'b', 't', 0xff, 0x00};
    kura_psbt_input *in;

    /* A signed PSBT of another transaction (change one sat less). */
    expect_intake(pkg, k, theirs, KURA_ASSEMBLE_TX_MISMATCH);
    /* Its signatures grafted onto this transaction: they do not verify. */
    assert_int_equal(kura_psbt_clone(&u, good), KURA_OK);
    in = &u->inputs[0];
    if (in->partial_sig_count > 0) {
        assert_int_equal(theirs->inputs[0].partial_sig_count, in->partial_sig_count);
        memcpy(in->partial_sigs[0].sig, theirs->inputs[0].partial_sigs[0].sig, 73);
        in->partial_sigs[0].sig_len = theirs->inputs[0].partial_sigs[0].sig_len;
    } else if (in->tap_key_sig_len > 0) {
        memcpy(in->tap_key_sig, theirs->inputs[0].tap_key_sig, 65);
        in->tap_key_sig_len = theirs->inputs[0].tap_key_sig_len;
    } else {
        assert_true(in->tap_script_sig_count > 0);
        memcpy(in->tap_script_sigs[0].sig, theirs->inputs[0].tap_script_sigs[0].sig, 65);
        in->tap_script_sigs[0].sig_len = theirs->inputs[0].tap_script_sigs[0].sig_len;
    }
    expect_intake(pkg, k, u, KURA_ASSEMBLE_SIGNATURE_INVALID);
    kura_psbt_free(u);
    /* A valid upload that also sets a sighash type, or a witness UTXO of
     * another amount, or an unknown record: nothing but signatures. */
    assert_int_equal(kura_psbt_clone(&u, good), KURA_OK);
    assert_int_equal(kura_psbt_input_set_sighash_type(u, 1, 1), KURA_OK);
    expect_intake(pkg, k, u, KURA_ASSEMBLE_FIELD_ADDED);
    kura_psbt_free(u);
    assert_int_equal(kura_psbt_clone(&u, good), KURA_OK);
    assert_int_equal(kura_psbt_input_set_witness_utxo(u, 0, COIN0 - 1,
                                                      u->inputs[0].witness_utxo.script_pubkey.data,
                                                      u->inputs[0].witness_utxo.script_pubkey.len),
                     KURA_OK);
    expect_intake(pkg, k, u, KURA_ASSEMBLE_FIELD_ADDED);
    kura_psbt_free(u);
    assert_int_equal(kura_psbt_clone(&u, good), KURA_OK);
    assert_int_equal(kura_psbt_proprietary_set(u, (const uint8_t *)"kura", 4, 1,
                                               (const uint8_t *)"\0\0\0\0", 4,
                                               (const uint8_t *)"x", 1),
                     KURA_OK);
    expect_intake(pkg, k, u, KURA_ASSEMBLE_FIELD_ADDED);
    kura_psbt_free(u);
    /* A finalized upload. */
    if (wallets[k].nsign == 1) {
        assert_int_equal(kura_psbt_clone(&u, good), KURA_OK);
        assert_int_equal(kura_psbt_finalize(u, NULL), KURA_OK);
        expect_intake(pkg, k, u, KURA_ASSEMBLE_FIELD_ADDED);
        kura_psbt_free(u);
    }
    /* Garbage. */
    assert_int_equal(kura_assemble_intake(ctx, &pr, pkg, wallets[k].desc, junk, sizeof(junk),
                                          &err),
                     KURA_EDATA);
    assert_int_equal(pr.reason, KURA_ASSEMBLE_MALFORMED);
    /* The good upload still goes in. */
    {
        uint8_t *bytes = NULL;
        size_t len;
        assert_int_equal(kura_psbt_serialize(&bytes, &len, good), KURA_OK);
        assert_int_equal(kura_assemble_intake(ctx, &pr, pkg, wallets[k].desc, bytes, len, &err),
                         KURA_OK);
        kura_assemble_progress_clear(&pr);
        free(bytes);
    }
    kura_psbt_free(good);
    kura_psbt_free(theirs);
    kura_psbt_free(pkg);
    kura_psbt_free(other);
}

static void test_intake_refusals(void **state)
{
    (void)state;
    for (int k = 0; k < K_COUNT; k++) intake_refusals(k);
}

static void test_intake_sighash(void **state)
{
    /* A valid SIGHASH_NONE signature (it verifies) is still refused. */
    kura_psbt *pkg = package_of(K_WPKH, COIN0 + COIN1 - A1 - A2 - 20000), *u = NULL;
    uint8_t priv[32];
    kura_bip32_key child;
    kura_error err;
    (void)state;
    assert_int_equal(kura_psbt_clone(&u, pkg), KURA_OK);
    assert_int_equal(kura_psbt_input_set_sighash_type(u, 0, 2), KURA_OK);
    assert_int_equal(kura_bip32_derive_path(ctx, &child, &wallets[K_WPKH].masters[0],
                                            u->inputs[0].bip32[0].origin.path,
                                            u->inputs[0].bip32[0].origin.path_len),
                     KURA_OK);
    memcpy(priv, child.priv, 32);
    if (kura_psbt_sign_input(ctx, u, 0, priv, KURA_PSBT_SIGN_ANY_SIGHASH, &err) != KURA_OK)
        fail_msg("sign: %s", err.message);
    memset(priv, 0, sizeof(priv));
    kura_bip32_wipe(&child);
    /* Without the sighash record the upload would only add a signature. */
    u->inputs[0].has_sighash_type = 0;
    expect_intake(pkg, K_WPKH, u, KURA_ASSEMBLE_SIGHASH);
    kura_psbt_free(u);
    kura_psbt_free(pkg);
}

/* ---- finalize refusals ---- */

static void expect_finalize(int k, kura_psbt *p, uint32_t bound, kura_assemble_reason want)
{
    size_t text_len;
    char *text = make_intent(k, &text_len);
    kura_assemble_final fin = {0};
    kura_error err;
    assert_int_equal(kura_assemble_finalize(ctx, &fin, p, wallets[k].desc, (const uint8_t *)text,
                                            text_len, bound, NULL, &err),
                     KURA_EDATA);
    if (fin.reason != want)
        fail_msg("finalize: %s, wanted %s (%s)", kura_assemble_reason_name(fin.reason),
                 kura_assemble_reason_name(want), err.message);
    assert_null(fin.tx);
    free(text);
}

static void test_finalize_refusals(void **state)
{
    const uint64_t change = COIN0 + COIN1 - A1 - A2 - 20000;
    uint8_t s1[KURA_SCRIPT_PUBKEY_MAX], s2[KURA_SCRIPT_PUBKEY_MAX], s3[KURA_SCRIPT_PUBKEY_MAX],
        sc[KURA_SCRIPT_PUBKEY_MAX];
    size_t l1, l2, l3, lc;
    kura_wallet_payment pay[3];
    kura_psbt *p;
    (void)state;
    script_of(s1, &l1, D1);
    script_of(s2, &l2, D2);
    script_of(s3, &l3, D3);
    for (int k = 0; k < K_COUNT; k++) {
        /* Tampered amount: D1 gets 1 sat less, the change 1 sat more. */
        pay[0] = (kura_wallet_payment){s1, l1, A1 - 1};
        pay[1] = (kura_wallet_payment){s2, l2, A2};
        p = signed_psbt(k, pay, 2, change + 1);
        expect_finalize(k, p, 100000, KURA_ASSEMBLE_OUTPUT_MISSING);
        kura_psbt_free(p);
        /* Swapped destination. */
        pay[0] = (kura_wallet_payment){s3, l3, A1};
        p = signed_psbt(k, pay, 2, change);
        expect_finalize(k, p, 100000, KURA_ASSEMBLE_OUTPUT_MISSING);
        kura_psbt_free(p);
    }
    /* The rest on wpkh. Intent output paid twice. */
    pay[0] = (kura_wallet_payment){s1, l1, A1};
    pay[1] = (kura_wallet_payment){s2, l2, A2};
    pay[2] = (kura_wallet_payment){s2, l2, A2};
    p = signed_psbt(K_WPKH, pay, 3, 0); /* the inputs exactly: no change, no fee */
    expect_finalize(K_WPKH, p, 100000, KURA_ASSEMBLE_OUTPUT_DUPLICATE);
    kura_psbt_free(p);
    /* An output the intent does not name. */
    pay[2] = (kura_wallet_payment){s3, l3, 5000};
    p = signed_psbt(K_WPKH, pay, 3, change - 5000);
    expect_finalize(K_WPKH, p, 100000, KURA_ASSEMBLE_OUTPUT_UNEXPECTED);
    kura_psbt_free(p);
    /* "Change" to the wallet's receive branch is not change. */
    assert_int_equal(kura_descriptor_script_pubkey(ctx, sc, sizeof(sc), &lc,
                                                   wallets[K_WPKH].desc, 0, 5, NULL),
                     KURA_OK);
    pay[2] = (kura_wallet_payment){sc, lc, 5000};
    p = signed_psbt(K_WPKH, pay, 3, change - 5000);
    expect_finalize(K_WPKH, p, 100000, KURA_ASSEMBLE_OUTPUT_UNEXPECTED);
    kura_psbt_free(p);
    /* Fee over max-fee. */
    p = signed_psbt(K_WPKH, pay, 2, change - MAX_FEE);
    expect_finalize(K_WPKH, p, 100000, KURA_ASSEMBLE_FEE);
    /* An output tampered after signing: the signatures no longer verify. */
    p->outputs[0].amount -= 1;
    {
        size_t text_len;
        char *text = make_intent(K_WPKH, &text_len);
        kura_assemble_final fin = {0};
        assert_int_equal(kura_assemble_finalize(ctx, &fin, p, wallets[K_WPKH].desc,
                                                (const uint8_t *)text, text_len, 100000, NULL,
                                                NULL),
                         KURA_EDATA);
        assert_int_equal(fin.reason, KURA_ASSEMBLE_SIGNATURE_INVALID);
        /* Another wallet's intent. */
        free(text);
        text = make_intent(K_WSH, &text_len);
        assert_int_equal(kura_assemble_finalize(ctx, &fin, p, wallets[K_WPKH].desc,
                                                (const uint8_t *)text, text_len, 100000, NULL,
                                                NULL),
                         KURA_EDATA);
        assert_int_equal(fin.reason, KURA_ASSEMBLE_INTENT);
        free(text);
    }
    kura_psbt_free(p);
}

static void test_names(void **state)
{
    (void)state;
    assert_string_equal(kura_assemble_reason_name(KURA_ASSEMBLE_OK), "KURA_ASSEMBLE_OK");
    assert_string_equal(kura_assemble_reason_name(KURA_ASSEMBLE_FEE), "KURA_ASSEMBLE_FEE");
    assert_string_equal(kura_assemble_reason_name(KURA_ASSEMBLE_CHANGE_BEYOND_LIMIT),
                        "KURA_ASSEMBLE_CHANGE_BEYOND_LIMIT");
    assert_string_equal(kura_assemble_reason_name((kura_assemble_reason)KURA_ASSEMBLE_REASON_COUNT),
                        "KURA_ASSEMBLE_?");
    kura_assemble_progress_clear(NULL);
    kura_assemble_final_clear(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_estimate),
        cmocka_unit_test(test_flow_wpkh),
        cmocka_unit_test(test_flow_wsh),
        cmocka_unit_test(test_flow_tr),
        cmocka_unit_test(test_flow_trms),
        cmocka_unit_test(test_complete_wpkh),
        cmocka_unit_test(test_complete_wsh),
        cmocka_unit_test(test_complete_tr),
        cmocka_unit_test(test_complete_trms),
        cmocka_unit_test(test_complete_same_as_package),
        cmocka_unit_test(test_complete_refusals),
        cmocka_unit_test(test_package_refusals),
        cmocka_unit_test(test_intake_refusals),
        cmocka_unit_test(test_intake_sighash),
        cmocka_unit_test(test_finalize_refusals),
        cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
