/*
 * tests/server/test_server_domain.c — wallets, addresses, UTXOs and
 * transfers end to end on both backends: a real 2-of-3 P2WSH wallet from
 * three BIP32 test seeds, registered with a policy its administrators signed
 * (ssh-keygen), funded through kura_utxo_add, a transfer approved by two
 * approvers, its package checked by the signer's own check
 * (kura_check_package), signed by two cosigners, uploaded, finalized, and
 * the transaction verified (kura_wallet_verify_tx). Then every refusal the
 * domain answers with, and the count of audit rows and webhook events.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "audit/audit.h"
#include "domain/addresses.h"
#include "domain/people.h"
#include "domain/transfers.h"
#include "domain/wallets.h"
#include "kura/check.h"
#include "kura/bsms.h"
#include "kura/descriptor.h"
#include "kura/policy.h"
#include "kura/psbt.h"
#include "kura/script.h"
#include "kura/tx.h"
#include "kura/wallet.h"
#include "server_testutil.h"
#include "testutil_keys.h"
#include "testutil_sshsig.h"
#include "testutil_wallet.h"

#define H KURA_BIP32_HARDENED
#define WALLET "treasury"
#define D1 "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"
#define D4 "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2"
#define TESTNET_ADDR "tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx"
#define COIN 100000000ull

/* ---- the world ---- */

static kura_ctx *ctx;
static char keydir[64];
static kura_bip32_key masters[3];
static char descriptor[2048];   /* watch-only, canonical, as kura-cold export prints it */
static char checksum[9];
static kura_descriptor *desc;
static char *policy_text;        /* version 1 */
static char *policy_sigs[2];     /* admin1, admin2 */
static char *policy2_text;       /* version 2 (a lower per-transfer cap) */
static char *policy2_sigs[2];

static const char *const KEYS[] = {"admin1", "admin2", "alice", "bob", "carol", "mallory"};
static char pubkeys[6][KURA_SSHKEY_STRING_MAX];

static char *make_policy(uint64_t version, uint64_t cap)
{
    kura_policy *p = kura_policy_new();
    kura_error err;
    char *text = NULL;
    size_t len = 0;
    assert_non_null(p);
    p->version = version;
    p->chain = KURA_CHAIN_BITCOIN;
    strcpy(p->wallet.name, WALLET);
    strcpy(p->wallet.checksum, checksum);
    p->mode = KURA_POLICY_COLD;
    for (size_t i = 0; i < 2; i++)
        if (kura_policy_add_admin(p, KEYS[i], pubkeys[i], &err) != KURA_OK)
            fail_msg("admin: %s", err.message);
    p->admin_quorum = 2;
    for (size_t i = 2; i < 5; i++)
        if (kura_policy_add_approver(p, KEYS[i], pubkeys[i], &err) != KURA_OK)
            fail_msg("approver: %s", err.message);
    assert_int_equal(kura_policy_add_tier(p, KURA_POLICY_TIER_UNBOUNDED, 2, &err), KURA_OK);
    p->initiator_may_approve = 0;
    p->allowlist_required = 0;
    p->max_per_transfer = cap;
    p->max_per_24h = 100 * COIN;
    p->max_fee = 200000;
    p->max_fee_rate = 100;
    p->max_lifetime = 86400;
    if (kura_policy_write(&text, &len, p, &err) != KURA_OK)
        fail_msg("policy: %s", err.message);
    kura_policy_free(p);
    return text;
}

static int group_setup(void **state)
{
    char origin[3][256], text[2048], *canon = NULL;
    const uint32_t path[] = {48 | H, 0 | H, 0 | H, 2 | H};
    kura_error err;
    tu_ctx_setup(state);
    ctx = tu_ctx;
    snprintf(keydir, sizeof keydir, "/tmp/kura-domain-test.XXXXXX");
    assert_non_null(mkdtemp(keydir));
    for (size_t i = 0; i < 6; i++) {
        tu_ssh_keygen(keydir, KEYS[i], "ed25519");
        tu_ssh_pubkey(pubkeys[i], keydir, KEYS[i]);
    }
    for (size_t i = 0; i < 3; i++)
        tu_make_master(ctx, &masters[i], origin[i], sizeof origin[i], (uint8_t)(0x31 + i), path, 4,
                       "48h/0h/0h/2h");
    snprintf(text, sizeof text, "wsh(sortedmulti(2,%s/<0;1>/*,%s/<0;1>/*,%s/<0;1>/*))", origin[0],
             origin[1], origin[2]);
    if (kura_descriptor_parse(ctx, &desc, text, strlen(text), &err) != KURA_OK)
        fail_msg("descriptor: %s", err.message);
    assert_int_equal(kura_descriptor_to_string(ctx, &canon, desc, KURA_DESCRIPTOR_ALL_BRANCHES,
                                               KURA_DESCRIPTOR_PUBLIC, NULL),
                     KURA_OK);
    snprintf(descriptor, sizeof descriptor, "%s", canon);
    snprintf(checksum, sizeof checksum, "%s", strrchr(canon, '#') + 1);
    kura_descriptor_string_free(canon);
    policy_text = make_policy(1, 10 * COIN);
    policy2_text = make_policy(2, 5 * COIN);
    for (size_t i = 0; i < 2; i++) {
        size_t l;
        policy_sigs[i] = tu_ssh_sign(keydir, KEYS[i], "kura-policy-v1", policy_text,
                                     strlen(policy_text), &l);
        policy2_sigs[i] = tu_ssh_sign(keydir, KEYS[i], "kura-policy-v1", policy2_text,
                                      strlen(policy2_text), &l);
    }
    kura_domain_register_snapshots();
    return 0;
}

static int group_teardown(void **state)
{
    kura_descriptor_free(desc);
    free(policy_text);
    free(policy2_text);
    for (size_t i = 0; i < 2; i++) {
        free(policy_sigs[i]);
        free(policy2_sigs[i]);
    }
    tu_remove_dir(keydir);
    return tu_ctx_teardown(state);
}

/* ---- helpers ---- */

static const kura_principal OPS = {KURA_PRINCIPAL_USER, "us_ops", "ops", KURA_ROLE_INITIATOR,
                                   KURA_SCOPE_ALL, "", "127.0.0.1"};
static const kura_principal ALICE = {KURA_PRINCIPAL_USER, "us_alice", "alice", KURA_ROLE_APPROVER,
                                     KURA_SCOPE_ALL, "alice", "127.0.0.1"};

#define NOW ((int64_t)time(NULL))

#define EXPECT(code, call)                                                                     \
    do {                                                                                       \
        kura_problem pr_ = {0};                                                                \
        kura_problem *p = &pr_;                                                                \
        int rc_ = (call);                                                                      \
        if (rc_ != (int)(code))                                                                \
            fail_msg("%s: want %s, got %s: %s", #call, kura_problem_name(code),                \
                     kura_problem_name((kura_problem_code)rc_), pr_.message);                  \
    } while (0)

#define OK(call) EXPECT(KURA_PROBLEM_NONE, call)

typedef struct world {
    kura_store *st;
    char wallet_id[KURA_DB_ID_SIZE];
} world;

static void world_open(world *w)
{
    kura_wallet_registration reg = {NULL, descriptor, policy_text,
                                    (const char *const *)policy_sigs, 2, 0, 0, NULL, NULL, 0};
    json_t *out = NULL;
    w->st = kura_test_store_open();
    OK(kura_srvwallet_register(w->st, &OPS, &reg, NULL, NOW, &out, p));
    snprintf(w->wallet_id, sizeof w->wallet_id, "%s", tu_str(out, "id"));
    assert_int_equal(json_integer_value(json_object_get(out, "threshold")), 2);
    assert_string_equal(tu_str(out, "kind"), "wsh");
    json_decref(out);
}

static void world_close(world *w) { kura_store_close(w->st); }

/* Funds the wallet: allocates receive addresses and adds a made-up funding
 * tx paying `amount` to the receive address at `index`. */
static kura_tx *fund(world *w, uint32_t index, uint64_t amount, uint8_t tag)
{
    kura_tx *tx = tu_funding_tx(ctx, desc, 0, index, amount, tag, 1000);
    size_t n = kura_tx_serialized_size(tx, KURA_TX_WITNESS), written = 0;
    uint8_t *bytes = malloc(n);
    char *hex = malloc(n * 2 + 1);
    assert_non_null(bytes);
    assert_non_null(hex);
    assert_int_equal(kura_tx_serialize(bytes, n, &written, tx, KURA_TX_WITNESS), KURA_OK);
    sodium_bin2hex(hex, n * 2 + 1, bytes, n);
    OK(kura_utxo_add(w->st, w->wallet_id, hex, 1, 800000, NOW, p));
    free(bytes);
    free(hex);
    return tx;
}

static void allocate(world *w, size_t count, const char *account)
{
    for (size_t i = 0; i < count; i++) {
        json_t *a = NULL;
        OK(kura_address_allocate(w->st, &OPS, w->wallet_id, account, "deposit", NULL, NOW, &a, p));
        json_decref(a);
    }
}

/* Creates a transfer of the given outputs; returns its id (static buffer per call site ok). */
static void create(world *w, char id[KURA_DB_ID_SIZE], const char *external_id, const char *addr1,
                   uint64_t amt1, const char *addr2, uint64_t amt2, uint64_t max_fee,
                   int64_t expires_in, int64_t now)
{
    kura_transfer_output_req outs[2] = {{addr1, amt1, "withdrawal 1"}, {addr2, amt2, NULL}};
    kura_transfer_request req = {w->wallet_id, external_id, outs, addr2 ? 2 : 1, max_fee,
                                 expires_in};
    json_t *out = NULL;
    OK(kura_transfer_create(w->st, &OPS, &req, NULL, now, &out, p));
    snprintf(id, KURA_DB_ID_SIZE, "%s", tu_str(out, "id"));
    assert_string_equal(tu_str(out, "state"), "awaiting_approval");
    json_decref(out);
}

/* `who` signs the transfer's intent (its exact bytes from the server). */
static char *approval(world *w, const char *id, const char *who, size_t *len)
{
    char *text = NULL, *sig;
    size_t tl = 0;
    OK(kura_transfer_intent(w->st, id, &text, &tl, p));
    sig = tu_ssh_sign(keydir, who, "kura-intent-v1", text, tl, len);
    free(text);
    return sig;
}

static const char *approve(world *w, const char *id, const char *who, int64_t now)
{
    static char state[32];
    size_t len;
    char *sig = approval(w, id, who, &len);
    json_t *out = NULL;
    OK(kura_transfer_approve(w->st, &ALICE, id, sig, len, now, &out, p));
    snprintf(state, sizeof state, "%s", tu_str(out, "state"));
    json_decref(out);
    free(sig);
    return state;
}

static const char *state_of(world *w, const char *id)
{
    static char state[32];
    json_t *out = NULL;
    OK(kura_transfer_get(w->st, id, &out, p));
    snprintf(state, sizeof state, "%s", tu_str(out, "state"));
    json_decref(out);
    return state;
}

typedef struct count_arg {
    const char *sql;
    const char *param;
    int64_t n;
} count_arg;

static int count_fn(kura_db *db, void *arg, kura_db_error *err)
{
    count_arg *a = arg;
    kura_db_result *res = NULL;
    int rc = kura_db_exec(db, &res, a->sql, (kura_db_param[]){KURA_DB_TEXT(a->param)}, 1, err);
    if (rc == 0)
        rc = kura_db_result_int(&a->n, res, 0, 0);
    kura_db_result_free(res);
    return rc;
}

static int64_t count(world *w, const char *sql, const char *param)
{
    count_arg a = {sql, param, -1};
    kura_db_error err = {0};
    if (kura_store_read(w->st, count_fn, &a, &err) != 0)
        fail_msg("count: %s", err.message);
    return a.n;
}

static int64_t audit_rows(world *w, const char *id)
{
    return count(w, "SELECT COUNT(*) FROM audit_log WHERE object_id = $1", id);
}

static int64_t audit_rows_action(world *w, const char *action)
{
    return count(w, "SELECT COUNT(*) FROM audit_log WHERE action = $1", action);
}

static int64_t events(world *w, const char *id)
{
    return count(w, "SELECT COUNT(*) FROM webhook_events WHERE object_id = $1", id);
}

static int exec_fn(kura_db *db, void *arg, kura_db_error *err)
{
    count_arg *a = arg;
    return kura_db_exec(db, NULL, a->sql, (kura_db_param[]){KURA_DB_TEXT(a->param)}, 1, err);
}

/* Runs one statement directly, as an attacker with the database would. */
static void tamper(world *w, const char *sql, const char *param)
{
    count_arg a = {sql, param, 0};
    kura_db_error err = {0};
    if (kura_store_write(w->st, exec_fn, &a, &err) != 0)
        fail_msg("tamper: %s", err.message);
}

/* kura_audit_verify's report: ok, and the transfer's mismatched fields. */
static int audit_ok(world *w, const char *transfer_id, char *fields, size_t cap)
{
    json_t *report = NULL, *m;
    size_t i;
    int ok;
    OK(kura_audit_verify(w->st, 0, NULL, &report, p));
    ok = json_is_true(json_object_get(report, "ok"));
    assert_true(json_is_null(json_object_get(report, "chain_error")));
    fields[0] = '\0';
    json_array_foreach(json_object_get(report, "snapshot_mismatches"), i, m)
    {
        if (strcmp(tu_str(m, "object_id"), transfer_id) == 0) {
            json_t *f;
            size_t j;
            json_array_foreach(json_object_get(m, "fields"), j, f)
            {
                strncat(fields, json_string_value(f), cap - strlen(fields) - 2);
                strncat(fields, " ", cap - strlen(fields) - 1);
            }
        }
    }
    json_decref(report);
    return ok;
}

/* The package, parsed. */
static kura_psbt *package(world *w, const char *id, int64_t now)
{
    uint8_t *bytes = NULL;
    size_t len = 0;
    kura_psbt *psbt = NULL;
    kura_error err;
    OK(kura_transfer_package(w->st, &OPS, id, now, &bytes, &len, p));
    if (kura_psbt_parse(&psbt, bytes, len, &err) != KURA_OK)
        fail_msg("package: %s", err.message);
    free(bytes);
    return psbt;
}

/* Signs a copy of the package with cosigner k; returns its bytes. */
static uint8_t *cosign(const kura_psbt *pkg, size_t k, size_t *len)
{
    kura_psbt *copy = NULL;
    uint8_t *bytes = NULL;
    size_t n = 0;
    kura_error err;
    assert_int_equal(kura_psbt_clone(&copy, pkg), KURA_OK);
    if (kura_psbt_sign_bip32(ctx, copy, &n, &masters[k], KURA_PSBT_SIGN_VERIFY, &err) != KURA_OK)
        fail_msg("sign: %s", err.message);
    assert_true(n >= 1);
    assert_int_equal(kura_psbt_serialize(&bytes, len, copy), KURA_OK);
    kura_psbt_free(copy);
    return bytes;
}

static int j_signed(void *arg, const uint8_t h[32], const char *id)
{
    (void)arg;
    (void)h;
    (void)id;
    return 0;
}
static uint64_t j_since(void *arg, int64_t since)
{
    (void)arg;
    (void)since;
    return 0;
}
static int64_t j_allow(void *arg, const uint8_t *s, size_t l)
{
    (void)arg;
    (void)s;
    (void)l;
    return -1;
}

/* The signer's own check, with a signer state made from the same
 * descriptor and policy. */
static void signer_accepts(const kura_psbt *pkg, int64_t now)
{
    kura_signer_state st;
    kura_check_result res;
    kura_policy *pol = NULL;
    kura_error err;
    memset(&st, 0, sizeof st);
    memset(&res, 0, sizeof res);
    if (kura_policy_parse(&pol, (const uint8_t *)policy_text, strlen(policy_text), &err) != KURA_OK)
        fail_msg("policy: %s", err.message);
    st.wallet = desc;
    st.wallet_name = WALLET;
    strcpy(st.wallet_checksum, checksum);
    st.chain = KURA_CHAIN_BITCOIN;
    st.policy = pol;
    st.journal.intent_signed = j_signed;
    st.journal.signed_since = j_since;
    st.journal.allow_accepted_at = j_allow;
    st.now = now;
    st.max_clock_skew = 300;
    st.max_change_index = 1000000;
    if (kura_check_package(ctx, &res, &st, pkg) != KURA_OK)
        fail_msg("the signer refuses the package: %s: %s", kura_refusal_name(res.reason),
                 res.message);
    assert_int_equal(res.approval_count, 2);
    kura_check_result_clear(&res);
    kura_policy_free(pol);
}

/* ---- the whole way ---- */

static void test_transfer_end_to_end(void **state)
{
    (void)state;
    world w;
    char id[KURA_DB_ID_SIZE];
    kura_tx *f0, *f1;
    kura_psbt *pkg;
    uint8_t *s0, *s1;
    size_t l0, l1;
    json_t *out = NULL;
    char *hex = NULL;
    int64_t now = NOW;

    world_open(&w);
    allocate(&w, 3, "customer-1");
    f0 = fund(&w, 0, COIN, 0x51);
    f1 = fund(&w, 1, COIN / 2, 0x52);
    create(&w, id, "withdrawal-8812", D1, 30000000, D4, 20000000, 50000, 3600, now);

    /* Approvals: bob, then carol; the quorum of 2 moves it to approved. */
    assert_string_equal(approve(&w, id, "bob", now), "awaiting_approval");
    assert_string_equal(approve(&w, id, "carol", now), "approved");

    pkg = package(&w, id, now);
    signer_accepts(pkg, now);
    assert_string_equal(state_of(&w, id), "awaiting_signatures");
    /* A second download is the same package. */
    {
        kura_psbt *again = package(&w, id, now);
        uint8_t *a = NULL, *b = NULL;
        size_t al = 0, bl = 0;
        assert_int_equal(kura_psbt_serialize(&a, &al, pkg), KURA_OK);
        assert_int_equal(kura_psbt_serialize(&b, &bl, again), KURA_OK);
        tu_assert_bytes_equal(a, al, b, bl);
        free(a);
        free(b);
        kura_psbt_free(again);
    }

    s0 = cosign(pkg, 0, &l0);
    s1 = cosign(pkg, 2, &l1);
    OK(kura_transfer_add_signatures(w.st, &OPS, id, s0, l0, now, &out, p));
    assert_string_equal(tu_str(out, "state"), "awaiting_signatures");
    json_decref(out);
    EXPECT(KURA_PROBLEM_INVALID_STATE, kura_transfer_raw_tx(w.st, id, &hex, p));
    OK(kura_transfer_add_signatures(w.st, &OPS, id, s1, l1, now, &out, p));
    assert_string_equal(tu_str(out, "state"), "signed");
    json_decref(out);

    /* The transaction verifies against the coins it spends. */
    OK(kura_transfer_raw_tx(w.st, id, &hex, p));
    {
        size_t bl = strlen(hex) / 2, checked = 0;
        uint8_t *bytes = malloc(bl);
        kura_tx *tx = NULL;
        kura_txout *spent;
        uint8_t id0[32], id1[32];
        kura_error err;
        assert_int_equal(sodium_hex2bin(bytes, bl, hex, strlen(hex), NULL, NULL, NULL), 0);
        if (kura_tx_parse(&tx, bytes, bl, KURA_TX_WITNESS, &err) != KURA_OK)
            fail_msg("tx: %s", err.message);
        kura_tx_txid(id0, f0);
        kura_tx_txid(id1, f1);
        spent = calloc(tx->input_count, sizeof *spent);
        for (size_t i = 0; i < tx->input_count; i++) {
            const kura_tx *f = memcmp(tx->inputs[i].prev_txid, id0, 32) == 0 ? f0 : f1;
            assert_true(memcmp(tx->inputs[i].prev_txid, id0, 32) == 0 ||
                        memcmp(tx->inputs[i].prev_txid, id1, 32) == 0);
            spent[i] = f->outputs[tx->inputs[i].prev_vout];
        }
        if (kura_wallet_verify_tx(ctx, &checked, tx, spent, &err) != KURA_OK)
            fail_msg("verify: %s", err.message);
        assert_int_equal(checked, 2 * tx->input_count);
        free(spent);
        kura_tx_free(tx);
        free(bytes);
    }
    free(hex);

    /* Every move one audit row and one webhook event: created, approved,
     * awaiting_signatures, signed; plus one audit row (no event) for the
     * first approval and the first upload, which moved nothing. */
    assert_int_equal(events(&w, id), 4);
    assert_int_equal(audit_rows(&w, id), 6);
    assert_int_equal(count(&w, "SELECT COUNT(*) FROM webhook_events WHERE type = $1",
                           "transfer.signed"),
                     1);
    assert_int_equal(audit_rows_action(&w, "transfer.approval_added"), 1);
    assert_int_equal(audit_rows_action(&w, "transfer.signatures_added"), 1);
    /* Change was recorded as an address on branch 1, and the coins reserved. */
    assert_int_equal(count(&w, "SELECT COUNT(*) FROM addresses WHERE branch = 1 AND wallet_id = $1",
                           w.wallet_id),
                     1);
    assert_true(count(&w, "SELECT COUNT(*) FROM utxos WHERE reserved_by = $1", id) >= 1);

    /* The audit chain holds, and every object's current fields are its last
     * audited snapshot; then edits made behind the server's back are named. */
    {
        char fields[256];
        assert_true(audit_ok(&w, id, fields, sizeof fields));
        tamper(&w, "UPDATE transfer_outputs SET amount = amount + 1 WHERE transfer_id = $1", id);
        tamper(&w, "UPDATE transfers SET intent_text = intent_text || 'x' WHERE id = $1", id);
        assert_false(audit_ok(&w, id, fields, sizeof fields));
        assert_non_null(strstr(fields, "outputs"));
        assert_non_null(strstr(fields, "intent_hash"));
    }

    free(s0);
    free(s1);
    kura_psbt_free(pkg);
    kura_tx_free(f0);
    kura_tx_free(f1);
    world_close(&w);
}


/* ---- fee bumps (RBF) ---- */

typedef struct mark_arg {
    const char *id, *txid;
    int64_t now;
    int chain; /* 0: signed -> broadcast; 1: the follower saw txid mined */
    char moved[KURA_DB_ID_SIZE];
} mark_arg;

static int mark_fn(kura_db *db, void *arg, kura_db_error *err)
{
    mark_arg *a = arg;
    kura_problem pr = {0};
    if (a->chain)
        return kura_transfer_chain_move(db, a->txid, "broadcast", "confirmed", NULL, a->now,
                                        a->moved, err);
    return kura_transfer_mark_broadcast(db, a->id, NULL, a->now, &pr, err);
}

static void chain_event(world *w, const char *id, const char *txid, int chain, int64_t now,
                        char moved[KURA_DB_ID_SIZE])
{
    mark_arg a = {id, txid, now, chain, ""};
    kura_db_error err = {0};
    if (kura_store_write(w->st, mark_fn, &a, &err) != 0)
        fail_msg("chain event: %s", err.message);
    if (moved)
        snprintf(moved, KURA_DB_ID_SIZE, "%s", a.moved);
}

static int64_t fee_of(const kura_psbt *pkg)
{
    uint64_t in = 0, out = 0;
    for (size_t i = 0; i < pkg->input_count; i++) {
        const kura_tx *f = pkg->inputs[i].non_witness_utxo;
        assert_non_null(f);
        in += f->outputs[pkg->inputs[i].prev_vout].amount;
    }
    for (size_t i = 0; i < pkg->output_count; i++)
        out += pkg->outputs[i].amount;
    return (int64_t)(in - out);
}

/* kura-cold's view: the original signed (its inputs and fee journaled). */
typedef struct bump_journal {
    uint8_t hash[32];
    const kura_psbt *original;
    uint64_t fee;
} bump_journal;

static int bj_signed(void *arg, const uint8_t h[32], const char *id)
{
    (void)id;
    return memcmp(((bump_journal *)arg)->hash, h, 32) == 0;
}

static int bj_prior(void *arg, kura_check_prior *prior, kura_check_outpoint *ins, size_t cap,
                    const uint8_t h[32], int64_t since)
{
    bump_journal *j = arg;
    (void)since;
    memset(prior, 0, sizeof *prior);
    if (memcmp(j->hash, h, 32) != 0)
        return 0;
    prior->signatures = 1;
    prior->inputs_known = 1;
    prior->replaceable = 1;
    prior->fee_max = j->fee;
    prior->input_count = j->original->input_count;
    for (size_t i = 0; i < cap && i < j->original->input_count; i++) {
        memcpy(ins[i].txid, j->original->inputs[i].prev_txid, 32);
        ins[i].vout = j->original->inputs[i].prev_vout;
    }
    return 0;
}

static void signer_accepts_bump(const kura_psbt *bump, const kura_psbt *original, uint64_t fee,
                                int64_t now)
{
    kura_signer_state st;
    kura_check_result res;
    kura_policy *pol = NULL;
    kura_package_view v;
    bump_journal j;
    kura_error err;
    memset(&st, 0, sizeof st);
    memset(&res, 0, sizeof res);
    assert_int_equal(kura_package_read(&v, original, NULL), KURA_OK);
    kura_intent_hash(j.hash, v.intent, v.intent_len);
    j.original = original;
    j.fee = fee;
    if (kura_policy_parse(&pol, (const uint8_t *)policy_text, strlen(policy_text), &err) != KURA_OK)
        fail_msg("policy: %s", err.message);
    st.wallet = desc;
    st.wallet_name = WALLET;
    strcpy(st.wallet_checksum, checksum);
    st.chain = KURA_CHAIN_BITCOIN;
    st.policy = pol;
    st.journal.arg = &j;
    st.journal.intent_signed = bj_signed;
    st.journal.signed_since = j_since;
    st.journal.allow_accepted_at = j_allow;
    st.journal.prior_signatures = bj_prior;
    st.now = now;
    st.max_clock_skew = 300;
    st.max_change_index = 1000000;
    if (kura_check_package(ctx, &res, &st, bump) != KURA_OK)
        fail_msg("the signer refuses the bump: %s: %s", kura_refusal_name(res.reason), res.message);
    assert_int_equal(res.is_bump, 1);
    assert_int_equal(res.replaced_fee, fee);
    kura_check_result_clear(&res);
    kura_policy_free(pol);
}

static void test_fee_bump(void **state)
{
    (void)state;
    world w;
    char id[KURA_DB_ID_SIZE], moved[KURA_DB_ID_SIZE], txid1[65], txid3[65];
    kura_tx *f0, *f1;
    kura_psbt *pkg, *bump, *bump2;
    uint8_t *s0, *s1;
    size_t l0, l1;
    json_t *out = NULL, *att;
    int64_t now = NOW, fee1, fee2, fee3;

    world_open(&w);
    allocate(&w, 3, "customer-1");
    f0 = fund(&w, 0, COIN, 0x61);
    f1 = fund(&w, 1, COIN / 2, 0x62);
    create(&w, id, NULL, D1, 30000000, D4, 20000000, 20000, 3600, now);
    /* Not broadcast: no bump (awaiting approval, approved, awaiting
     * signatures, signed). */
    EXPECT(KURA_PROBLEM_INVALID_STATE, kura_transfer_bump(w.st, &OPS, id, 20, now, &out, p));
    assert_string_equal(approve(&w, id, "bob", now), "awaiting_approval");
    assert_string_equal(approve(&w, id, "carol", now), "approved");
    EXPECT(KURA_PROBLEM_INVALID_STATE, kura_transfer_bump(w.st, &OPS, id, 20, now, &out, p));
    pkg = package(&w, id, now);
    fee1 = fee_of(pkg);
    EXPECT(KURA_PROBLEM_INVALID_STATE, kura_transfer_bump(w.st, &OPS, id, 20, now, &out, p));
    s0 = cosign(pkg, 0, &l0);
    s1 = cosign(pkg, 2, &l1);
    OK(kura_transfer_add_signatures(w.st, &OPS, id, s0, l0, now, &out, p));
    json_decref(out);
    OK(kura_transfer_add_signatures(w.st, &OPS, id, s1, l1, now, &out, p));
    snprintf(txid1, sizeof txid1, "%s", tu_str(out, "txid"));
    json_decref(out);
    free(s0);
    free(s1);
    EXPECT(KURA_PROBLEM_INVALID_STATE, kura_transfer_bump(w.st, &OPS, id, 20, now, &out, p));
    chain_event(&w, id, NULL, 0, now, NULL);
    assert_string_equal(state_of(&w, id), "broadcast");

    /* Refusals on a broadcast transfer: a rate over the policy's
     * max-fee-rate (100), a fee over the intent's max-fee (20000), an
     * expired intent. Nothing changes. */
    EXPECT(KURA_PROBLEM_FEE_TOO_HIGH, kura_transfer_bump(w.st, &OPS, id, 101, now, &out, p));
    EXPECT(KURA_PROBLEM_FEE_TOO_HIGH, kura_transfer_bump(w.st, &OPS, id, 100, now, &out, p));
    EXPECT(KURA_PROBLEM_TRANSFER_EXPIRED,
           kura_transfer_bump(w.st, &OPS, id, 20, now + 3600, &out, p));
    EXPECT(KURA_PROBLEM_NOT_FOUND,
           kura_transfer_bump(w.st, &OPS, "tr_0000000000000000000000000000", 20, now, &out, p));
    assert_int_equal(count(&w, "SELECT COUNT(*) FROM transfer_attempts WHERE transfer_id = $1", id),
                     0);
    assert_int_equal(audit_rows_action(&w, "transfer.bumped"), 0);

    /* The bump: same state, two attempts, one audit row and one event. */
    OK(kura_transfer_bump(w.st, &OPS, id, 20, now, &out, p));
    assert_string_equal(tu_str(out, "state"), "broadcast");
    att = json_object_get(out, "attempts");
    assert_int_equal(json_array_size(att), 2);
    assert_string_equal(tu_str(json_array_get(att, 0), "state"), "broadcast");
    assert_string_equal(tu_str(json_array_get(att, 0), "txid"), txid1);
    assert_string_equal(tu_str(json_array_get(att, 1), "state"), "awaiting_signatures");
    fee2 = json_integer_value(json_object_get(json_array_get(att, 1), "fee"));
    assert_true(fee2 > fee1);
    json_decref(out);
    assert_int_equal(audit_rows_action(&w, "transfer.bumped"), 1);
    assert_int_equal(count(&w, "SELECT COUNT(*) FROM webhook_events WHERE type = $1",
                           "transfer.bumped"),
                     1);
    /* Its package: every coin of the original, the higher fee, and the
     * signer (knowing the original) accepts it as a bump. */
    bump = package(&w, id, now);
    assert_int_equal(fee_of(bump), fee2);
    signer_accepts_bump(bump, pkg, (uint64_t)fee1, now);

    /* A second bump before the first is signed supersedes it. */
    OK(kura_transfer_bump(w.st, &OPS, id, 30, now, &out, p));
    att = json_object_get(out, "attempts");
    assert_int_equal(json_array_size(att), 3);
    assert_string_equal(tu_str(json_array_get(att, 1), "state"), "abandoned");
    fee3 = json_integer_value(json_object_get(json_array_get(att, 2), "fee"));
    assert_true(fee3 > fee2);
    json_decref(out);
    bump2 = package(&w, id, now);
    signer_accepts_bump(bump2, bump, (uint64_t)fee2, now);
    /* A signature of the abandoned bump is not this transaction. */
    s0 = cosign(bump, 0, &l0);
    EXPECT(KURA_PROBLEM_INVALID_PSBT, kura_transfer_add_signatures(w.st, &OPS, id, s0, l0, now, &out, p));
    free(s0);

    /* Its signatures: combined and finalized as for any package; it becomes
     * the transfer's transaction, still broadcast. */
    s0 = cosign(bump2, 0, &l0);
    s1 = cosign(bump2, 1, &l1);
    OK(kura_transfer_add_signatures(w.st, &OPS, id, s0, l0, now, &out, p));
    assert_string_equal(tu_str(out, "txid"), txid1);
    json_decref(out);
    OK(kura_transfer_add_signatures(w.st, &OPS, id, s1, l1, now, &out, p));
    assert_string_equal(tu_str(out, "state"), "broadcast");
    snprintf(txid3, sizeof txid3, "%s", tu_str(out, "txid"));
    assert_string_not_equal(txid3, txid1);
    assert_int_equal(json_integer_value(json_object_get(out, "fee")), fee3);
    att = json_object_get(out, "attempts");
    assert_string_equal(tu_str(json_array_get(att, 2), "state"), "broadcast");
    assert_string_equal(tu_str(json_array_get(att, 2), "txid"), txid3);
    json_decref(out);
    free(s0);
    free(s1);
    assert_int_equal(audit_rows_action(&w, "transfer.bump_signed"), 1);
    {
        char *hex = NULL;
        OK(kura_transfer_raw_tx(w.st, id, &hex, p));
        free(hex);
    }
    /* No bump awaits signatures now: uploads are refused. */
    s0 = cosign(bump2, 0, &l0);
    EXPECT(KURA_PROBLEM_INVALID_STATE, kura_transfer_add_signatures(w.st, &OPS, id, s0, l0, now, &out, p));
    free(s0);

    /* The follower sees the ORIGINAL mined (the bump lost the race): the
     * transfer is confirmed with the original's txid and fee. */
    chain_event(&w, id, txid1, 1, now, moved);
    assert_string_equal(moved, id);
    OK(kura_transfer_get(w.st, id, &out, p));
    assert_string_equal(tu_str(out, "state"), "confirmed");
    assert_string_equal(tu_str(out, "txid"), txid1);
    assert_int_equal(json_integer_value(json_object_get(out, "fee")), fee1);
    att = json_object_get(out, "attempts");
    assert_string_equal(tu_str(json_array_get(att, 0), "state"), "confirmed");
    assert_string_equal(tu_str(json_array_get(att, 1), "state"), "abandoned");
    assert_string_equal(tu_str(json_array_get(att, 2), "state"), "replaced");
    json_decref(out);
    EXPECT(KURA_PROBLEM_INVALID_STATE, kura_transfer_bump(w.st, &OPS, id, 40, now, &out, p));
    {
        char fields[256];
        assert_true(audit_ok(&w, id, fields, sizeof fields));
    }

    kura_psbt_free(pkg);
    kura_psbt_free(bump);
    kura_psbt_free(bump2);
    kura_tx_free(f0);
    kura_tx_free(f1);
    world_close(&w);
}

/* ---- wallets and policies ---- */

/* ---- BIP129: a wallet registered from its signers' records ---- */

/* The three signers' key records (round 1) and the coordinator's descriptor
 * record (round 2), made with libkura as kura-cold and a coordinator do. */
static void bsms_records(char *recs[3], char **descriptor_record)
{
    const uint32_t path[] = {48 | H, 0 | H, 0 | H, 2 | H};
    kura_bsms_key_record parsed[3];
    kura_error err = {0};
    size_t len;
    for (size_t i = 0; i < 3; i++) {
        kura_bip32_key account;
        uint8_t fp[4];
        const uint8_t token = 0;
        assert_int_equal(kura_bip32_fingerprint(fp, &masters[i]), KURA_OK);
        assert_int_equal(kura_bip32_derive_path(ctx, &account, &masters[i], path, 4), KURA_OK);
        if (kura_bsms_key_record_write(ctx, &recs[i], &len, &token, 1, &account, fp, path, 4,
                                       "signer", &err) != KURA_OK)
            fail_msg("key record: %s", err.message);
        kura_bip32_wipe(&account);
        assert_int_equal(kura_bsms_key_record_parse(&parsed[i], recs[i], len, &err), KURA_OK);
    }
    if (kura_bsms_descriptor_record_write(ctx, descriptor_record, &len, parsed, 3, 2,
                                          KURA_BSMS_WSH_SORTEDMULTI, KURA_NETWORK_MAINNET,
                                          &err) != KURA_OK)
        fail_msg("descriptor record: %s", err.message);
}

static void test_register_bsms(void **state)
{
    (void)state;
    char *recs[3], *drec = NULL;
    json_t *out = NULL;
    kura_store *st = kura_test_store_open();
    kura_wallet_registration reg = {NULL, NULL, policy_text, (const char *const *)policy_sigs, 2,
                                    0, 0, NULL, NULL, 0};
    bsms_records(recs, &drec);

    /* A signer's record whose description the coordinator changed: its
     * signature no longer verifies. */
    {
        char *forged = tu_edit(recs[1], "signer", "signe2");
        const char *bad[3] = {recs[0], forged, recs[2]};
        reg.bsms_descriptor_record = drec;
        reg.bsms_key_records = bad;
        reg.bsms_key_record_count = 3;
        EXPECT(KURA_PROBLEM_INVALID_DESCRIPTOR,
               kura_srvwallet_register(st, &OPS, &reg, NULL, NOW, &out, p));
        free(forged);
    }
    /* A descriptor record that leaves a signer's key out. */
    {
        const char *two[2] = {recs[0], recs[1]};
        reg.bsms_key_records = two;
        reg.bsms_key_record_count = 2;
        EXPECT(KURA_PROBLEM_INVALID_DESCRIPTOR,
               kura_srvwallet_register(st, &OPS, &reg, NULL, NOW, &out, p));
    }
    /* Both a descriptor and the records; neither. */
    reg.descriptor = descriptor;
    reg.bsms_key_records = (const char *const *)recs;
    reg.bsms_key_record_count = 3;
    EXPECT(KURA_PROBLEM_INVALID_FIELD, kura_srvwallet_register(st, &OPS, &reg, NULL, NOW, &out, p));
    reg.descriptor = NULL;
    reg.bsms_descriptor_record = NULL;
    EXPECT(KURA_PROBLEM_MISSING_FIELD, kura_srvwallet_register(st, &OPS, &reg, NULL, NOW, &out, p));
    {
        world w = {0};
        w.st = st;
        assert_int_equal(count(&w, "SELECT COUNT(*) FROM wallets WHERE name LIKE $1", "%"), 0);
    }

    /* The honest records: the wallet every device verified, the descriptor
     * the policy names. */
    reg.bsms_descriptor_record = drec;
    OK(kura_srvwallet_register(st, &OPS, &reg, NULL, NOW, &out, p));
    assert_string_equal(tu_str(out, "descriptor"), descriptor);
    assert_int_equal(json_integer_value(json_object_get(out, "threshold")), 2);
    json_decref(out);
    for (size_t i = 0; i < 3; i++)
        free(recs[i]);
    free(drec);
    kura_store_close(st);
}


static void test_register_refusals(void **state)
{
    (void)state;
    world w;
    json_t *out = NULL;
    kura_wallet_registration reg = {NULL, descriptor, policy_text,
                                    (const char *const *)policy_sigs, 2, 0, 0, NULL, NULL, 0};
    char *s;
    world_open(&w);

    /* A wallet of that name exists. */
    EXPECT(KURA_PROBLEM_CONFLICT, kura_srvwallet_register(w.st, &OPS, &reg, NULL, NOW, &out, p));
    /* Not a descriptor; not a kura wallet (no change branch); a private key. */
    reg.descriptor = "wsh(garbage)";
    EXPECT(KURA_PROBLEM_INVALID_DESCRIPTOR,
           kura_srvwallet_register(w.st, &OPS, &reg, NULL, NOW, &out, p));
    /* Every key on one path only: no change branch. */
    s = strdup(descriptor);
    for (char *c = strstr(s, "<0;1>"); c; c = strstr(c, "<0;1>"))
        memcpy(c, "0////", 5);
    for (char *c = strstr(s, "0////"); c; c = strstr(c, "0////"))
        memmove(c + 1, c + 5, strlen(c + 5) + 1);
    *strrchr(s, '#') = '\0';
    reg.descriptor = s;
    EXPECT(KURA_PROBLEM_INVALID_DESCRIPTOR,
           kura_srvwallet_register(w.st, &OPS, &reg, NULL, NOW, &out, p));
    free(s);
    reg.descriptor = "wpkh(xprv9s21ZrQH143K3QTDL4LXw2F7HEK3wJUD2nW2nRk4stbPy6cq3jPPqjiChkVvvNKmPGJxWUtg6LnF5kejMRNNU3TGtRBeJgk33yuGBxrMPHi/<0;1>/*)";
    EXPECT(KURA_PROBLEM_INVALID_DESCRIPTOR,
           kura_srvwallet_register(w.st, &OPS, &reg, NULL, NOW, &out, p));
    reg.descriptor = descriptor;
    /* The policy does not parse; names another wallet; lacks a quorum. */
    reg.policy = "kura-policy 1\nnonsense\n";
    EXPECT(KURA_PROBLEM_INVALID_POLICY,
           kura_srvwallet_register(w.st, &OPS, &reg, NULL, NOW, &out, p));
    reg.policy = policy_text;
    reg.name = "other";
    EXPECT(KURA_PROBLEM_POLICY_MISMATCH,
           kura_srvwallet_register(w.st, &OPS, &reg, NULL, NOW, &out, p));
    reg.name = NULL;
    reg.policy_signature_count = 1;
    EXPECT(KURA_PROBLEM_POLICY_SIGNATURES,
           kura_srvwallet_register(w.st, &OPS, &reg, NULL, NOW, &out, p));
    {
        /* wsh(multi(...)): not a kind kura-cold signs for. */
        reg.policy_signature_count = 2;
        char *m = tu_edit(descriptor, "sortedmulti(", "multi(");
        *strrchr(m, '#') = '\0';
        reg.descriptor = m;
        EXPECT(KURA_PROBLEM_INVALID_DESCRIPTOR,
               kura_srvwallet_register(w.st, &OPS, &reg, NULL, NOW, &out, p));
        free(m);
        reg.descriptor = descriptor;
    }
    assert_int_equal(count(&w, "SELECT COUNT(*) FROM wallets WHERE id <> $1", w.wallet_id), 0);

    /* Policy updates: a successor signed by the admins in force is taken;
     * the same version again is stale; one admin is not a quorum. */
    EXPECT(KURA_PROBLEM_POLICY_STALE,
           kura_srvwallet_policy_update(w.st, &OPS, w.wallet_id, policy_text,
                                        (const char *const *)policy_sigs, 2, NOW, &out, p));
    EXPECT(KURA_PROBLEM_POLICY_SIGNATURES,
           kura_srvwallet_policy_update(w.st, &OPS, w.wallet_id, policy2_text,
                                        (const char *const *)policy2_sigs, 1, NOW, &out, p));
    EXPECT(KURA_PROBLEM_INVALID_POLICY,
           kura_srvwallet_policy_update(w.st, &OPS, w.wallet_id, "x",
                                        (const char *const *)policy2_sigs, 2, NOW, &out, p));
    OK(kura_srvwallet_policy_update(w.st, &OPS, w.wallet_id, policy2_text,
                                    (const char *const *)policy2_sigs, 2, NOW, &out, p));
    assert_int_equal(json_integer_value(json_object_get(out, "policy_version")), 2);
    json_decref(out);
    OK(kura_srvwallet_get(w.st, w.wallet_id, &out, p));
    assert_int_equal(json_integer_value(json_object_get(json_object_get(out, "policy"), "version")),
                     2);
    json_decref(out);
    EXPECT(KURA_PROBLEM_NOT_FOUND, kura_srvwallet_get(w.st, "wl_nope", &out, p));
    OK(kura_srvwallet_list(w.st, NULL, 0, &out, p));
    assert_int_equal(json_array_size(json_object_get(out, "items")), 1);
    json_decref(out);
    EXPECT(KURA_PROBLEM_BAD_CURSOR, kura_srvwallet_list(w.st, "x'; DROP", 10, &out, p));
    /* The audit rows of the wallet: registered, policy_changed; the policies'. */
    assert_int_equal(audit_rows_action(&w, "wallet.registered"), 1);
    assert_int_equal(audit_rows_action(&w, "policy.updated"), 2);
    {
        char f[64];
        assert_true(audit_ok(&w, "", f, sizeof f)); /* wallet and policy snapshots hold */
    }
    world_close(&w);
}

/* ---- addresses ---- */

static void test_addresses(void **state)
{
    (void)state;
    world w;
    json_t *page = NULL, *a = NULL;
    char cursor[32];
    world_open(&w);
    allocate(&w, 3, "alice-account");
    allocate(&w, 2, "bob-account");
    OK(kura_address_allocate(w.st, &OPS, w.wallet_id, "alice-account", "invoice 7", NULL, NOW, &a,
                             p));
    assert_int_equal(json_integer_value(json_object_get(a, "index")), 5);
    {
        /* The address is the descriptor's receive address at index 5. */
        char want[KURA_ADDRESS_MAX];
        assert_int_equal(kura_descriptor_address(ctx, want, sizeof want, desc, 0, 5,
                                                 KURA_NETWORK_MAINNET, NULL),
                         KURA_OK);
        assert_string_equal(tu_str(a, "address"), want);
    }
    json_decref(a);
    OK(kura_address_list(w.st, w.wallet_id, "alice-account", NULL, 2, &page, p));
    assert_int_equal(json_array_size(json_object_get(page, "items")), 2);
    snprintf(cursor, sizeof cursor, "%s", json_string_value(json_object_get(page, "next_cursor")));
    json_decref(page);
    OK(kura_address_list(w.st, w.wallet_id, "alice-account", cursor, 2, &page, p));
    assert_int_equal(json_array_size(json_object_get(page, "items")), 2);
    assert_true(json_is_null(json_object_get(page, "next_cursor")));
    assert_int_equal(json_integer_value(json_object_get(json_array_get(json_object_get(page, "items"), 1),
                                                        "index")),
                     5);
    json_decref(page);
    OK(kura_address_list(w.st, w.wallet_id, NULL, NULL, 0, &page, p));
    assert_int_equal(json_array_size(json_object_get(page, "items")), 6);
    json_decref(page);
    EXPECT(KURA_PROBLEM_BAD_CURSOR, kura_address_list(w.st, w.wallet_id, NULL, "-1", 0, &page, p));
    EXPECT(KURA_PROBLEM_INVALID_FIELD, kura_address_list(w.st, w.wallet_id, NULL, NULL, 501, &page, p));
    EXPECT(KURA_PROBLEM_NOT_FOUND, kura_address_list(w.st, "wl_x", NULL, NULL, 0, &page, p));
    EXPECT(KURA_PROBLEM_NOT_FOUND,
           kura_address_allocate(w.st, &OPS, "wl_x", "a", "b", NULL, NOW, &a, p));
    EXPECT(KURA_PROBLEM_INVALID_FIELD,
           kura_address_allocate(w.st, &OPS, w.wallet_id, "bad\naccount", "", NULL, NOW, &a, p));
    /* A coin paying an address the wallet never allocated is refused. */
    {
        kura_tx *tx = tu_funding_tx(ctx, desc, 0, 99, COIN, 0x77, 1000);
        size_t n = kura_tx_serialized_size(tx, 0), wr = 0;
        uint8_t *b = malloc(n);
        char *hex = malloc(2 * n + 1);
        assert_int_equal(kura_tx_serialize(b, n, &wr, tx, 0), KURA_OK);
        sodium_bin2hex(hex, 2 * n + 1, b, n);
        EXPECT(KURA_PROBLEM_INVALID_FIELD, kura_utxo_add(w.st, w.wallet_id, hex, 1, 1, NOW, p));
        EXPECT(KURA_PROBLEM_INVALID_FIELD, kura_utxo_add(w.st, w.wallet_id, hex, 7, 1, NOW, p));
        EXPECT(KURA_PROBLEM_INVALID_FIELD, kura_utxo_add(w.st, w.wallet_id, "zz", 0, 1, NOW, p));
        free(b);
        free(hex);
        kura_tx_free(tx);
    }
    world_close(&w);
}

/* ---- transfers refused ---- */

static void test_create_refusals(void **state)
{
    (void)state;
    world w;
    char id[KURA_DB_ID_SIZE];
    json_t *out = NULL;
    kura_transfer_output_req o = {D1, 1000, NULL};
    kura_transfer_request req = {NULL, NULL, &o, 1, 10000, 0};
    world_open(&w);
    req.wallet_id = w.wallet_id;

    o.address = TESTNET_ADDR;
    EXPECT(KURA_PROBLEM_INVALID_ADDRESS, kura_transfer_create(w.st, &OPS, &req, NULL, NOW, &out, p));
    o.address = "bc1qnotanaddress";
    EXPECT(KURA_PROBLEM_INVALID_ADDRESS, kura_transfer_create(w.st, &OPS, &req, NULL, NOW, &out, p));
    o.address = D1;
    o.amount = 0;
    EXPECT(KURA_PROBLEM_INVALID_AMOUNT, kura_transfer_create(w.st, &OPS, &req, NULL, NOW, &out, p));
    o.amount = 11 * COIN; /* over the policy's 10 BTC per transfer */
    EXPECT(KURA_PROBLEM_POLICY_LIMIT, kura_transfer_create(w.st, &OPS, &req, NULL, NOW, &out, p));
    o.amount = 1000;
    req.max_fee = 300000; /* over the policy's max-fee */
    EXPECT(KURA_PROBLEM_POLICY_LIMIT, kura_transfer_create(w.st, &OPS, &req, NULL, NOW, &out, p));
    req.max_fee = 10000;
    o.label = "bad\tlabel";
    EXPECT(KURA_PROBLEM_INVALID_FIELD, kura_transfer_create(w.st, &OPS, &req, NULL, NOW, &out, p));
    o.label = NULL;
    req.output_count = 0;
    EXPECT(KURA_PROBLEM_MISSING_FIELD, kura_transfer_create(w.st, &OPS, &req, NULL, NOW, &out, p));
    req.output_count = 1;
    req.wallet_id = "wl_nope";
    EXPECT(KURA_PROBLEM_NOT_FOUND, kura_transfer_create(w.st, &OPS, &req, NULL, NOW, &out, p));
    req.wallet_id = w.wallet_id;
    assert_int_equal(count(&w, "SELECT COUNT(*) FROM transfers WHERE wallet_id = $1", w.wallet_id),
                     0);

    create(&w, id, "ext-1", D1, 1000, NULL, 0, 10000, 0, NOW);
    req.external_id = "ext-1";
    EXPECT(KURA_PROBLEM_DUPLICATE_EXTERNAL_ID,
           kura_transfer_create(w.st, &OPS, &req, NULL, NOW, &out, p));
    /* The expiry is capped by the policy's max-lifetime (one day). */
    OK(kura_transfer_get(w.st, id, &out, p));
    assert_true(json_integer_value(json_object_get(out, "expires_at")) <= NOW + 86400);
    json_decref(out);
    EXPECT(KURA_PROBLEM_INVALID_FIELD, kura_transfer_list(w.st, NULL, "nonsense", NULL, 0, &out, p));
    OK(kura_transfer_list(w.st, w.wallet_id, "awaiting_approval", NULL, 0, &out, p));
    assert_int_equal(json_array_size(json_object_get(out, "items")), 1);
    json_decref(out);
    world_close(&w);
}

static void test_approval_refusals(void **state)
{
    (void)state;
    world w;
    char id[KURA_DB_ID_SIZE], other[KURA_DB_ID_SIZE];
    json_t *out = NULL;
    char *sig;
    size_t len;
    kura_principal alice_initiator = ALICE;
    uint8_t *bytes = NULL;
    char *hex = NULL;
    world_open(&w);
    create(&w, id, NULL, D1, 1000, NULL, 0, 10000, 0, NOW);
    create(&w, other, NULL, D4, 2000, NULL, 0, 10000, 0, NOW);

    /* Not an approver's key; an approval of another intent; not SSHSIG. */
    sig = approval(&w, id, "mallory", &len);
    EXPECT(KURA_PROBLEM_INVALID_APPROVAL, kura_transfer_approve(w.st, &ALICE, id, sig, len, NOW, &out, p));
    free(sig);
    sig = approval(&w, other, "bob", &len);
    EXPECT(KURA_PROBLEM_INVALID_APPROVAL, kura_transfer_approve(w.st, &ALICE, id, sig, len, NOW, &out, p));
    free(sig);
    EXPECT(KURA_PROBLEM_INVALID_APPROVAL,
           kura_transfer_approve(w.st, &ALICE, id, "hello", 5, NOW, &out, p));
    /* An administrator's key does not approve transfers. */
    sig = approval(&w, id, "admin1", &len);
    EXPECT(KURA_PROBLEM_INVALID_APPROVAL, kura_transfer_approve(w.st, &ALICE, id, sig, len, NOW, &out, p));
    free(sig);

    /* Duplicate approver. */
    assert_string_equal(approve(&w, id, "bob", NOW), "awaiting_approval");
    sig = approval(&w, id, "bob", &len);
    EXPECT(KURA_PROBLEM_DUPLICATE_APPROVAL,
           kura_transfer_approve(w.st, &ALICE, id, sig, len, NOW, &out, p));
    free(sig);

    /* The initiator may not approve their own transfer. */
    {
        kura_transfer_output_req o = {D1, 5000, NULL};
        kura_transfer_request req = {w.wallet_id, NULL, &o, 1, 10000, 0};
        char mine[KURA_DB_ID_SIZE];
        OK(kura_transfer_create(w.st, &alice_initiator, &req, NULL, NOW, &out, p));
        snprintf(mine, sizeof mine, "%s", tu_str(out, "id"));
        json_decref(out);
        sig = approval(&w, mine, "alice", &len);
        EXPECT(KURA_PROBLEM_INITIATOR_APPROVAL,
               kura_transfer_approve(w.st, &ALICE, mine, sig, len, NOW, &out, p));
        free(sig);
    }
    /* Also when the user name is not the approver name: a user linked to
     * approver alice initiates as alice, whatever they sign in as. */
    {
        kura_principal alice_ops = {KURA_PRINCIPAL_USER, "us_alice_ops", "ops-alice",
                                    KURA_ROLE_APPROVER, KURA_SCOPE_ALL, "alice", "127.0.0.1"};
        kura_transfer_output_req o = {D1, 5000, NULL};
        kura_transfer_request req = {w.wallet_id, NULL, &o, 1, 10000, 0};
        char mine[KURA_DB_ID_SIZE];
        OK(kura_transfer_create(w.st, &alice_ops, &req, NULL, NOW, &out, p));
        snprintf(mine, sizeof mine, "%s", tu_str(out, "id"));
        json_decref(out);
        sig = approval(&w, mine, "alice", &len);
        EXPECT(KURA_PROBLEM_INITIATOR_APPROVAL,
               kura_transfer_approve(w.st, &alice_ops, mine, sig, len, NOW, &out, p));
        free(sig);
    }

    /* Wrong moves for the state. */
    EXPECT(KURA_PROBLEM_INVALID_STATE, kura_transfer_package(w.st, &OPS, id, NOW, &bytes, &len, p));
    EXPECT(KURA_PROBLEM_INVALID_STATE,
           kura_transfer_add_signatures(w.st, &OPS, id, (const uint8_t *)"psbt", 4, NOW, &out, p));
    EXPECT(KURA_PROBLEM_INVALID_STATE, kura_transfer_raw_tx(w.st, id, &hex, p));
    EXPECT(KURA_PROBLEM_MISSING_FIELD, kura_transfer_reject(w.st, &OPS, id, "", NOW, &out, p));
    assert_string_equal(approve(&w, id, "carol", NOW), "approved");
    sig = approval(&w, id, "alice", &len);
    EXPECT(KURA_PROBLEM_INVALID_STATE, kura_transfer_approve(w.st, &ALICE, id, sig, len, NOW, &out, p));
    free(sig);
    OK(kura_transfer_reject(w.st, &OPS, id, "amount looks wrong", NOW, &out, p));
    assert_string_equal(tu_str(out, "state"), "rejected");
    assert_string_equal(tu_str(out, "reason"), "amount looks wrong");
    json_decref(out);
    EXPECT(KURA_PROBLEM_INVALID_STATE, kura_transfer_cancel(w.st, &OPS, id, NULL, NOW, &out, p));
    EXPECT(KURA_PROBLEM_INVALID_STATE, kura_transfer_reject(w.st, &OPS, id, "again", NOW, &out, p));
    OK(kura_transfer_cancel(w.st, &OPS, other, NULL, NOW, &out, p));
    assert_string_equal(tu_str(out, "state"), "cancelled");
    json_decref(out);
    EXPECT(KURA_PROBLEM_NOT_FOUND, kura_transfer_get(w.st, "tr_nope", &out, p));

    /* Counts: id moved created, approved, rejected (3 events) with one
     * approval_added row; other created and cancelled (2 events). */
    assert_int_equal(events(&w, id), 3);
    assert_int_equal(audit_rows(&w, id), 4);
    assert_int_equal(events(&w, other), 2);
    assert_int_equal(audit_rows(&w, other), 2);
    world_close(&w);
}

static void test_expiry(void **state)
{
    (void)state;
    world w;
    char a[KURA_DB_ID_SIZE], b[KURA_DB_ID_SIZE], c[KURA_DB_ID_SIZE];
    json_t *out = NULL;
    size_t n = 0, len;
    int64_t past = NOW - 1000;
    char *sig;
    world_open(&w);
    create(&w, a, NULL, D1, 1000, NULL, 0, 10000, 60, past);
    create(&w, b, NULL, D1, 2000, NULL, 0, 10000, 60, past);
    create(&w, c, NULL, D1, 3000, NULL, 0, 10000, 0, NOW);
    /* Every read shows an overdue transfer expired. */
    assert_string_equal(state_of(&w, a), "expired");
    OK(kura_transfer_list(w.st, w.wallet_id, NULL, NULL, 0, &out, p));
    assert_string_equal(tu_str(json_array_get(json_object_get(out, "items"), 0), "state"), "expired");
    json_decref(out);
    /* Touching it expires it for good. */
    sig = approval(&w, a, "bob", &len);
    EXPECT(KURA_PROBLEM_TRANSFER_EXPIRED,
           kura_transfer_approve(w.st, &ALICE, a, sig, len, NOW, &out, p));
    free(sig);
    assert_int_equal(count(&w, "SELECT COUNT(*) FROM transfers WHERE state = $1", "expired"), 1);
    OK(kura_transfer_expire_due(w.st, NOW, &n, p));
    assert_int_equal(n, 1);
    OK(kura_transfer_expire_due(w.st, NOW, &n, p));
    assert_int_equal(n, 0);
    assert_string_equal(state_of(&w, c), "awaiting_approval");
    EXPECT(KURA_PROBLEM_INVALID_STATE, kura_transfer_cancel(w.st, &OPS, b, NULL, NOW, &out, p));
    assert_int_equal(events(&w, a), 2);
    assert_int_equal(events(&w, b), 2);
    assert_int_equal(audit_rows_action(&w, "transfer.expired"), 2);
    world_close(&w);
}

static void test_package_refusals(void **state)
{
    (void)state;
    world w;
    char big[KURA_DB_ID_SIZE], cheap[KURA_DB_ID_SIZE], ok[KURA_DB_ID_SIZE];
    uint8_t *bytes = NULL;
    size_t len = 0;
    kura_tx *f;
    world_open(&w);
    allocate(&w, 1, "");
    f = fund(&w, 0, COIN, 0x61);

    /* An unconfirmed coin is not spent (the wallet wants 1 confirmation). */
    {
        kura_tx *u = tu_funding_tx(ctx, desc, 0, 0, 5 * COIN, 0x62, 1000);
        size_t n = kura_tx_serialized_size(u, 0), wr = 0;
        uint8_t *b = malloc(n);
        char *hex = malloc(2 * n + 1);
        assert_int_equal(kura_tx_serialize(b, n, &wr, u, 0), KURA_OK);
        sodium_bin2hex(hex, 2 * n + 1, b, n);
        OK(kura_utxo_add(w.st, w.wallet_id, hex, 1, -1, NOW, p));
        free(b);
        free(hex);
        kura_tx_free(u);
    }
    /* More than the wallet holds (confirmed). */
    create(&w, big, NULL, D1, 2 * COIN, NULL, 0, 50000, 0, NOW);
    approve(&w, big, "bob", NOW);
    approve(&w, big, "carol", NOW);
    EXPECT(KURA_PROBLEM_INSUFFICIENT_FUNDS,
           kura_transfer_package(w.st, &OPS, big, NOW, &bytes, &len, p));
    /* A fee over the intent's max-fee at the configured rate. */
    create(&w, cheap, NULL, D1, COIN / 10, NULL, 0, 100, 0, NOW);
    approve(&w, cheap, "bob", NOW);
    approve(&w, cheap, "carol", NOW);
    EXPECT(KURA_PROBLEM_FEE_TOO_HIGH,
           kura_transfer_package(w.st, &OPS, cheap, NOW, &bytes, &len, p));
    /* A configured rate over the policy's max-fee-rate (100 sat/vB). */
    create(&w, ok, NULL, D1, COIN / 10, NULL, 0, 100000, 0, NOW);
    approve(&w, ok, "bob", NOW);
    approve(&w, ok, "carol", NOW);
    kura_transfer_set_fee_rate(150000);
    EXPECT(KURA_PROBLEM_FEE_TOO_HIGH, kura_transfer_package(w.st, &OPS, ok, NOW, &bytes, &len, p));
    kura_transfer_set_fee_rate(0);
    assert_int_equal(kura_transfer_fee_rate(), KURA_TRANSFER_DEFAULT_FEE_RATE);
    /* Refusals changed nothing: no coin reserved, states as they were. */
    assert_int_equal(count(&w, "SELECT COUNT(*) FROM utxos WHERE reserved_by IS NOT NULL AND wallet_id = $1",
                           w.wallet_id),
                     0);
    assert_string_equal(state_of(&w, ok), "approved");
    /* Now it builds; cancelling releases the coin. */
    OK(kura_transfer_package(w.st, &OPS, ok, NOW, &bytes, &len, p));
    free(bytes);
    assert_int_equal(count(&w, "SELECT COUNT(*) FROM utxos WHERE reserved_by = $1", ok), 1);
    /* The other transfer finds no free coin while it is reserved. */
    EXPECT(KURA_PROBLEM_INSUFFICIENT_FUNDS,
           kura_transfer_package(w.st, &OPS, cheap, NOW, &bytes, &len, p));
    {
        json_t *out = NULL;
        OK(kura_transfer_cancel(w.st, &OPS, ok, "wrong destination", NOW, &out, p));
        json_decref(out);
    }
    assert_int_equal(count(&w, "SELECT COUNT(*) FROM utxos WHERE reserved_by = $1", ok), 0);
    /* Rows edited behind the server's back after approval: the package pays
     * the transfer's recorded outputs, and the coordinator's own run of the
     * signer's check refuses them against the approved intent. */
    {
        char edited[KURA_DB_ID_SIZE];
        create(&w, edited, NULL, D1, COIN / 10, NULL, 0, 100000, 0, NOW);
        approve(&w, edited, "bob", NOW);
        approve(&w, edited, "carol", NOW);
        tamper(&w, "UPDATE transfer_outputs SET amount = amount + 1000 WHERE transfer_id = $1",
               edited);
        EXPECT(KURA_PROBLEM_TX_MISMATCH,
               kura_transfer_package(w.st, &OPS, edited, NOW, &bytes, &len, p));
        assert_string_equal(state_of(&w, edited), "approved");
        assert_int_equal(count(&w, "SELECT COUNT(*) FROM utxos WHERE reserved_by = $1", edited), 0);
    }
    kura_tx_free(f);
    world_close(&w);
}

static void test_signature_refusals(void **state)
{
    (void)state;
    world w;
    char t1[KURA_DB_ID_SIZE], t2[KURA_DB_ID_SIZE];
    kura_psbt *p1, *p2;
    uint8_t *s;
    size_t l;
    json_t *out = NULL;
    kura_tx *f0, *f1;
    world_open(&w);
    allocate(&w, 2, "");
    f0 = fund(&w, 0, COIN, 0x71);
    f1 = fund(&w, 1, COIN, 0x72);
    create(&w, t1, NULL, D1, COIN / 2, NULL, 0, 50000, 0, NOW);
    create(&w, t2, NULL, D4, COIN / 2, NULL, 0, 50000, 0, NOW);
    approve(&w, t1, "bob", NOW);
    approve(&w, t1, "carol", NOW);
    approve(&w, t2, "bob", NOW);
    approve(&w, t2, "carol", NOW);
    p1 = package(&w, t1, NOW);
    p2 = package(&w, t2, NOW);

    /* A signed PSBT for another transaction. */
    s = cosign(p2, 0, &l);
    EXPECT(KURA_PROBLEM_INVALID_PSBT, kura_transfer_add_signatures(w.st, &OPS, t1, s, l, NOW, &out, p));
    free(s);
    /* Garbage. */
    EXPECT(KURA_PROBLEM_INVALID_PSBT,
           kura_transfer_add_signatures(w.st, &OPS, t1, (const uint8_t *)"psbt\xff", 5, NOW, &out, p));
    /* A tampered signature. */
    {
        kura_psbt *copy = NULL;
        kura_error err;
        size_t n = 0;
        uint8_t *bytes = NULL;
        assert_int_equal(kura_psbt_clone(&copy, p1), KURA_OK);
        assert_int_equal(kura_psbt_sign_bip32(ctx, copy, &n, &masters[1], 0, &err), KURA_OK);
        kura_psbt_partial_sig *ps = &copy->inputs[0].partial_sigs[0];
        ps->sig[ps->sig_len - 3] ^= 0x01;
        assert_int_equal(kura_psbt_serialize(&bytes, &l, copy), KURA_OK);
        EXPECT(KURA_PROBLEM_INVALID_SIGNATURE,
               kura_transfer_add_signatures(w.st, &OPS, t1, bytes, l, NOW, &out, p));
        free(bytes);
        kura_psbt_free(copy);
    }
    /* Nothing was taken: no upload rows, the transfer still waits. */
    assert_int_equal(count(&w, "SELECT COUNT(*) FROM signature_uploads WHERE transfer_id = $1", t1), 0);
    assert_string_equal(state_of(&w, t1), "awaiting_signatures");
    /* A good one is taken. */
    s = cosign(p1, 1, &l);
    OK(kura_transfer_add_signatures(w.st, &OPS, t1, s, l, NOW, &out, p));
    json_decref(out);
    free(s);
    assert_int_equal(count(&w, "SELECT COUNT(*) FROM signature_uploads WHERE transfer_id = $1", t1), 1);
    kura_psbt_free(p1);
    kura_psbt_free(p2);
    kura_tx_free(f0);
    kura_tx_free(f1);
    world_close(&w);
}

/* A PSBT made elsewhere (no funding transactions, as Bitcoin Core leaves
 * taproot inputs) is completed, checked against the intent and becomes the
 * package; one paying something else is refused. */
static uint8_t *foreign_psbt(const kura_tx *funding, uint64_t pay, size_t *len)
{
    kura_wallet_coin coin;
    kura_wallet_payment pm;
    uint8_t script[KURA_SCRIPT_PUBKEY_MAX];
    size_t slen = 0;
    kura_psbt *psbt = NULL;
    uint8_t *bytes = NULL;
    kura_error err;
    memset(&coin, 0, sizeof coin);
    kura_tx_txid(coin.txid, funding);
    coin.vout = 1;
    coin.amount = funding->outputs[1].amount;
    coin.branch = 0;
    coin.index = 0;
    coin.prev_tx = NULL;
    assert_int_equal(kura_address_to_script(script, sizeof script, &slen, D1, KURA_NETWORK_MAINNET,
                                            NULL),
                     KURA_OK);
    pm.script_pubkey = script;
    pm.script_pubkey_len = slen;
    pm.amount = pay;
    if (kura_wallet_create_psbt(ctx, &psbt, desc, &coin, 1, &pm, 1, coin.amount - pay - 5000, 7, 0,
                                &err) != KURA_OK)
        fail_msg("psbt: %s", err.message);
    assert_null(psbt->inputs[0].non_witness_utxo);
    assert_int_equal(kura_psbt_serialize(&bytes, len, psbt), KURA_OK);
    kura_psbt_free(psbt);
    return bytes;
}

static void test_import_package(void **state)
{
    (void)state;
    world w;
    char id[KURA_DB_ID_SIZE];
    kura_tx *f;
    uint8_t *bad, *good, *s0, *s1;
    size_t lb, lg, l0, l1;
    json_t *out = NULL;
    kura_psbt *pkg;
    world_open(&w);
    allocate(&w, 1, "");
    f = fund(&w, 0, COIN, 0x81);
    create(&w, id, NULL, D1, 30000000, NULL, 0, 50000, 0, NOW);
    bad = foreign_psbt(f, 30000001, &lb);
    good = foreign_psbt(f, 30000000, &lg);
    EXPECT(KURA_PROBLEM_INVALID_STATE,
           kura_transfer_import_package(w.st, &OPS, id, good, lg, NOW, &out, p));
    approve(&w, id, "bob", NOW);
    approve(&w, id, "carol", NOW);
    EXPECT(KURA_PROBLEM_TX_MISMATCH,
           kura_transfer_import_package(w.st, &OPS, id, bad, lb, NOW, &out, p));
    EXPECT(KURA_PROBLEM_INVALID_PSBT,
           kura_transfer_import_package(w.st, &OPS, id, (const uint8_t *)"psbt", 4, NOW, &out, p));
    assert_int_equal(count(&w, "SELECT COUNT(*) FROM utxos WHERE reserved_by = $1", id), 0);
    OK(kura_transfer_import_package(w.st, &OPS, id, good, lg, NOW, &out, p));
    assert_string_equal(tu_str(out, "state"), "awaiting_signatures");
    json_decref(out);
    pkg = package(&w, id, NOW);
    assert_non_null(pkg->inputs[0].non_witness_utxo); /* restored */
    signer_accepts(pkg, NOW);
    s0 = cosign(pkg, 1, &l0);
    s1 = cosign(pkg, 2, &l1);
    OK(kura_transfer_add_signatures(w.st, &OPS, id, s0, l0, NOW, &out, p));
    json_decref(out);
    OK(kura_transfer_add_signatures(w.st, &OPS, id, s1, l1, NOW, &out, p));
    assert_string_equal(tu_str(out, "state"), "signed");
    assert_int_equal(json_integer_value(json_object_get(out, "fee")), 5000);
    json_decref(out);
    free(bad);
    free(good);
    free(s0);
    free(s1);
    kura_psbt_free(pkg);
    kura_tx_free(f);
    world_close(&w);
}

/* Creating calls complete the Idempotency-Key in their own transaction:
 * a retry is answered with the first response. */
static void test_idempotency(void **state)
{
    (void)state;
    world w;
    kura_idem idem = {.principal_id = "us_ops", .key = "key-1"};
    char hash[65];
    kura_idem_claim claim;
    json_t *out = NULL, *first;
    kura_transfer_output_req o = {D1, 1000, NULL};
    kura_transfer_request req = {NULL, "ext-idem", &o, 1, 10000, 0};
    char *body;
    world_open(&w);
    req.wallet_id = w.wallet_id;
    kura_idempotency_request_hash(hash, "POST", "/v1/transfers", "{}", 2);
    memset(&claim, 0, sizeof claim);
    OK(kura_idempotency_claim(w.st, &idem, hash, NOW, &claim, p));
    assert_int_equal(claim.state, KURA_IDEM_NEW);
    kura_idem_claim_clear(&claim);
    OK(kura_transfer_create(w.st, &OPS, &req, &idem, NOW, &first, p));
    OK(kura_idempotency_claim(w.st, &idem, hash, NOW, &claim, p));
    assert_int_equal(claim.state, KURA_IDEM_REPLAY);
    assert_int_equal(claim.http_status, 201);
    body = json_dumps(first, JSON_COMPACT | JSON_SORT_KEYS);
    {
        json_error_t jerr;
        json_t *replayed = json_loads(claim.response, 0, &jerr);
        assert_non_null(replayed);
        assert_true(json_equal(replayed, first));
        json_decref(replayed);
    }
    free(body);
    kura_idem_claim_clear(&claim);
    json_decref(first);
    /* A key nobody claimed cannot be completed: the creation rolls back. */
    idem.key = "never-claimed";
    req.external_id = "ext-idem-2";
    EXPECT(KURA_PROBLEM_CONFLICT, kura_transfer_create(w.st, &OPS, &req, &idem, NOW, &out, p));
    assert_int_equal(count(&w, "SELECT COUNT(*) FROM transfers WHERE external_id = $1", "ext-idem-2"),
                     0);
    world_close(&w);
}

/* Concurrent allocations on one wallet: every index handed out once, in
 * order, none skipped (one UPDATE ... RETURNING each, under group commit on
 * SQLite and row locks on PostgreSQL). */
typedef struct alloc_thread {
    world *w;
    int failures;
} alloc_thread;

#define ALLOC_THREADS 4
#define ALLOC_EACH 40

static void *alloc_worker(void *arg)
{
    alloc_thread *t = arg;
    for (int i = 0; i < ALLOC_EACH; i++) {
        kura_problem pr = {0};
        json_t *a = NULL;
        if (kura_address_allocate(t->w->st, &OPS, t->w->wallet_id, "busy", "", NULL, NOW, &a, &pr))
            t->failures++;
        json_decref(a);
    }
    return NULL;
}

static void test_concurrent_allocation(void **state)
{
    (void)state;
    world w;
    pthread_t th[ALLOC_THREADS];
    alloc_thread args[ALLOC_THREADS];
    json_t *page = NULL, *item;
    size_t i;
    world_open(&w);
    for (i = 0; i < ALLOC_THREADS; i++) {
        args[i].w = &w;
        args[i].failures = 0;
        assert_int_equal(pthread_create(&th[i], NULL, alloc_worker, &args[i]), 0);
    }
    for (i = 0; i < ALLOC_THREADS; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(args[i].failures, 0);
    }
    OK(kura_address_list(w.st, w.wallet_id, "busy", NULL, 500, &page, p));
    assert_int_equal(json_array_size(json_object_get(page, "items")), ALLOC_THREADS * ALLOC_EACH);
    json_array_foreach(json_object_get(page, "items"), i, item)
        assert_int_equal(json_integer_value(json_object_get(item, "index")), (json_int_t)i);
    json_decref(page);
    assert_int_equal(count(&w, "SELECT next_receive_index FROM wallets WHERE id = $1", w.wallet_id),
                     ALLOC_THREADS * ALLOC_EACH);
    world_close(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_transfer_end_to_end),
        cmocka_unit_test(test_fee_bump),
        cmocka_unit_test(test_register_refusals),
        cmocka_unit_test(test_register_bsms),
        cmocka_unit_test(test_addresses),
        cmocka_unit_test(test_create_refusals),
        cmocka_unit_test(test_approval_refusals),
        cmocka_unit_test(test_expiry),
        cmocka_unit_test(test_package_refusals),
        cmocka_unit_test(test_signature_refusals),
        cmocka_unit_test(test_import_package),
        cmocka_unit_test(test_idempotency),
        cmocka_unit_test(test_concurrent_allocation),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
