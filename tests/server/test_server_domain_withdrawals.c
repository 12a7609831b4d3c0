/*
 * tests/server/test_server_domain_withdrawals.c — withdrawal requests and
 * their batches on both backends (server/domain/withdrawals.h): every state
 * and refusal; a batch is one transfer made by the transfer path and one
 * transaction (no request batched twice, also by two batches at once);
 * requests follow their transfer (sent, completed, a reorganisation), go
 * back to the queue when it is rejected, cancelled or expires before its
 * package was issued, and fail (never paid twice) after; requests the
 * policy now refuses are skipped, not batched; the scheduled round and the
 * batcher's lease; every move one audit row and one webhook event, and the
 * audit chain's snapshots agree at the end.
 *
 * The wallet is test_server_domain.c's: a 2-of-3 P2WSH wallet from BIP32
 * test seeds, a policy signed by two administrators (ssh-keygen).
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
#include "domain/withdrawals.h"
#include "kura/check.h"
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
#define A1 "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"                       /* P2WPKH */
#define A2 "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2"                               /* P2PKH */
#define A3 "bc1p5d7rjq7g6rdk2yhzks9smlaqtedr4dekq08ge8ztwac72sfr9rusxg3297" /* P2TR */
#define TESTNET_ADDR "tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx"
#define COIN 100000000ull

static kura_ctx *ctx;
static char keydir[64];
static kura_bip32_key masters[3];
static char descriptor[2048];
static char checksum[9];
static kura_descriptor *desc;
static char *policy_text;    /* version 1: 10 BTC per transfer */
static char *policy_sigs[2];
static char *policy2_text;   /* version 2: 5 BTC per transfer */
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
    snprintf(keydir, sizeof keydir, "/tmp/kura-wd-test.XXXXXX");
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
    json_decref(out);
}

static void world_close(world *w) { kura_store_close(w->st); }

/* Queues a request; returns its id in id (may be NULL). */
static void queue(world *w, char *id, const char *ext, const char *addr, uint64_t amount,
                  const char *label)
{
    kura_withdrawal_request req = {w->wallet_id, ext, addr, amount, label};
    json_t *out = NULL;
    OK(kura_withdrawal_create(w->st, &OPS, &req, NULL, NOW, &out, p));
    assert_string_equal(tu_str(out, "state"), "queued");
    assert_true(json_is_null(json_object_get(out, "transfer_id")));
    if (id)
        snprintf(id, KURA_DB_ID_SIZE, "%s", tu_str(out, "id"));
    json_decref(out);
}

static int refused(world *w, const char *ext, const char *addr, uint64_t amount, const char *label)
{
    kura_withdrawal_request req = {w->wallet_id, ext, addr, amount, label};
    kura_problem pr = {0};
    json_t *out = NULL;
    int rc = kura_withdrawal_create(w->st, &OPS, &req, NULL, NOW, &out, &pr);
    assert_null(out);
    assert_true(rc == 0 || pr.message[0]);
    return rc;
}

/* The request's state, and its transfer id into tid (may be NULL). */
static const char *wd_state(world *w, const char *id, char *tid)
{
    static char state[32];
    json_t *out = NULL;
    OK(kura_withdrawal_get(w->st, id, &out, p));
    snprintf(state, sizeof state, "%s", tu_str(out, "state"));
    if (tid) {
        const char *t = json_string_value(json_object_get(out, "transfer_id"));
        snprintf(tid, KURA_DB_ID_SIZE, "%s", t ? t : "");
    }
    json_decref(out);
    return state;
}

static json_t *wd_get(world *w, const char *id)
{
    json_t *out = NULL;
    OK(kura_withdrawal_get(w->st, id, &out, p));
    return out;
}

/* Makes a batch; returns the answer (caller frees); its transfer id in tid. */
static json_t *batch(world *w, const kura_principal *who, size_t max_outputs, char *tid)
{
    kura_batch_request req = {w->wallet_id, max_outputs, 0, 0};
    json_t *out = NULL;
    OK(kura_withdrawal_batch(w->st, who, &req, NULL, NOW, &out, p));
    if (tid)
        snprintf(tid, KURA_DB_ID_SIZE, "%s",
                 json_string_value(json_object_get(json_object_get(out, "transfer"), "id")));
    return out;
}

static const char *tr_state(world *w, const char *id)
{
    static char state[32];
    json_t *out = NULL;
    OK(kura_transfer_get(w->st, id, &out, p));
    snprintf(state, sizeof state, "%s", tu_str(out, "state"));
    json_decref(out);
    return state;
}

static const char *approve(world *w, const char *id, const char *who)
{
    static char state[32];
    char *text = NULL, *sig;
    size_t tl = 0, len = 0;
    json_t *out = NULL;
    OK(kura_transfer_intent(w->st, id, &text, &tl, p));
    sig = tu_ssh_sign(keydir, who, "kura-intent-v1", text, tl, &len);
    free(text);
    OK(kura_transfer_approve(w->st, &ALICE, id, sig, len, NOW, &out, p));
    snprintf(state, sizeof state, "%s", tu_str(out, "state"));
    json_decref(out);
    free(sig);
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

static int64_t audit_rows(world *w, const char *id, const char *action)
{
    char sql[160];
    snprintf(sql, sizeof sql, "SELECT COUNT(*) FROM audit_log WHERE object_id = $1 AND action = '%s'",
             action);
    return count(w, sql, id);
}

static int64_t events(world *w, const char *id, const char *type)
{
    char sql[160];
    snprintf(sql, sizeof sql, "SELECT COUNT(*) FROM webhook_events WHERE object_id = $1 AND type = '%s'",
             type);
    return count(w, sql, id);
}

/* The audit chain verifies and every snapshot matches its object. */
static void audit_whole(world *w)
{
    json_t *report = NULL;
    OK(kura_audit_verify(w->st, 0, NULL, &report, p));
    if (!json_is_true(json_object_get(report, "ok"))) {
        char *s = json_dumps(report, JSON_COMPACT);
        fail_msg("audit verify: %s", s);
    }
    json_decref(report);
}

/* ---- queueing ---- */

static void test_queue_and_read(void **state)
{
    (void)state;
    world w;
    char id1[KURA_DB_ID_SIZE], id2[KURA_DB_ID_SIZE], id3[KURA_DB_ID_SIZE];
    json_t *out = NULL, *page = NULL;
    world_open(&w);
    queue(&w, id1, "wd-1", A1, 150000, "withdrawal 8812");
    queue(&w, id2, "wd-2", A2, 546, NULL);
    queue(&w, id3, "wd-3", A3, 330, "");
    out = wd_get(&w, id1);
    assert_string_equal(tu_str(out, "external_id"), "wd-1");
    assert_string_equal(tu_str(out, "address"), A1);
    assert_int_equal(json_integer_value(json_object_get(out, "amount")), 150000);
    assert_string_equal(tu_str(out, "label"), "withdrawal 8812");
    assert_string_equal(tu_str(out, "wallet_id"), w.wallet_id);
    assert_string_equal(tu_str(out, "created_by"), "us_ops");
    assert_int_equal(json_integer_value(json_object_get(out, "batches")), 0);
    assert_true(json_is_null(json_object_get(out, "reason")));
    json_decref(out);
    out = wd_get(&w, id2);
    assert_true(json_is_null(json_object_get(out, "label")));
    json_decref(out);
    /* One audit row and one event each. */
    assert_int_equal(audit_rows(&w, id1, "withdrawal.queued"), 1);
    assert_int_equal(events(&w, id1, "withdrawal.queued"), 1);
    /* Pages in creation order; state filter. */
    OK(kura_withdrawal_list(w.st, w.wallet_id, NULL, NULL, 2, &page, p));
    assert_int_equal(json_array_size(json_object_get(page, "items")), 2);
    assert_string_equal(tu_str(json_array_get(json_object_get(page, "items"), 0), "id"), id1);
    {
        char cursor[KURA_DB_ID_SIZE];
        snprintf(cursor, sizeof cursor, "%s", tu_str(page, "next_cursor"));
        assert_string_equal(cursor, id2);
        json_decref(page);
        OK(kura_withdrawal_list(w.st, w.wallet_id, "queued", cursor, 2, &page, p));
        assert_int_equal(json_array_size(json_object_get(page, "items")), 1);
        assert_string_equal(tu_str(json_array_get(json_object_get(page, "items"), 0), "id"), id3);
        assert_true(json_is_null(json_object_get(page, "next_cursor")));
        json_decref(page);
    }
    OK(kura_withdrawal_list(w.st, w.wallet_id, "batched", NULL, 0, &page, p));
    assert_int_equal(json_array_size(json_object_get(page, "items")), 0);
    json_decref(page);
    EXPECT(KURA_PROBLEM_INVALID_FIELD, kura_withdrawal_list(w.st, w.wallet_id, "lost", NULL, 0, &page, p));
    EXPECT(KURA_PROBLEM_INVALID_FIELD, kura_withdrawal_list(w.st, w.wallet_id, NULL, NULL, 501, &page, p));
    EXPECT(KURA_PROBLEM_BAD_CURSOR, kura_withdrawal_list(w.st, w.wallet_id, NULL, "tr_00", 0, &page, p));
    EXPECT(KURA_PROBLEM_NOT_FOUND, kura_withdrawal_list(w.st, "wl_missing", NULL, NULL, 0, &page, p));
    EXPECT(KURA_PROBLEM_NOT_FOUND, kura_withdrawal_get(w.st, "wd_missing", &out, p));
    assert_null(out);
    audit_whole(&w);
    world_close(&w);
}

static void test_queue_refusals(void **state)
{
    (void)state;
    world w;
    json_t *out = NULL;
    world_open(&w);
    assert_int_equal(refused(&w, "r-1", TESTNET_ADDR, 10000, NULL), KURA_PROBLEM_INVALID_ADDRESS);
    assert_int_equal(refused(&w, "r-1", "bc1qnotanaddress", 10000, NULL), KURA_PROBLEM_INVALID_ADDRESS);
    /* Dust: Bitcoin Core's threshold of each output type at 3 sat/vB. */
    assert_int_equal(refused(&w, "r-1", A1, 293, NULL), KURA_PROBLEM_INVALID_AMOUNT);
    assert_int_equal(refused(&w, "r-1", A2, 545, NULL), KURA_PROBLEM_INVALID_AMOUNT);
    assert_int_equal(refused(&w, "r-1", A3, 329, NULL), KURA_PROBLEM_INVALID_AMOUNT);
    assert_int_equal(refused(&w, "r-1", A1, 0, NULL), KURA_PROBLEM_INVALID_AMOUNT);
    assert_int_equal(refused(&w, "r-1", A1, 10 * COIN + 1, NULL), KURA_PROBLEM_POLICY_LIMIT);
    assert_int_equal(refused(&w, "r-1", A1, 10000, "two  spaces"), KURA_PROBLEM_INVALID_FIELD);
    assert_int_equal(refused(&w, "r-1", A1, 10000, "tab\there"), KURA_PROBLEM_INVALID_FIELD);
    assert_int_equal(refused(&w, "", A1, 10000, NULL), KURA_PROBLEM_MISSING_FIELD);
    assert_int_equal(refused(&w, NULL, A1, 10000, NULL), KURA_PROBLEM_MISSING_FIELD);
    assert_int_equal(refused(&w, "r-1", NULL, 10000, NULL), KURA_PROBLEM_MISSING_FIELD);
    assert_int_equal(refused(&w, "bad\x01id", A1, 10000, NULL), KURA_PROBLEM_INVALID_FIELD);
    {
        kura_withdrawal_request req = {"wl_missing", "r-1", A1, 10000, NULL};
        EXPECT(KURA_PROBLEM_NOT_FOUND, kura_withdrawal_create(w.st, &OPS, &req, NULL, NOW, &out, p));
    }
    /* Nothing was written by any refusal. */
    assert_int_equal(count(&w, "SELECT COUNT(*) FROM withdrawals WHERE wallet_id = $1", w.wallet_id), 0);
    assert_int_equal(count(&w, "SELECT COUNT(*) FROM audit_log WHERE object_type = $1", "withdrawal"), 0);
    queue(&w, NULL, "r-1", A1, 10 * COIN, NULL); /* at the cap exactly */
    assert_int_equal(refused(&w, "r-1", A2, 10000, NULL), KURA_PROBLEM_DUPLICATE_EXTERNAL_ID);
    world_close(&w);
}

static void test_idempotent_queue(void **state)
{
    (void)state;
    world w;
    kura_idem idem = {.principal_id = "us_ops", .key = "wd-key-1"};
    char hash[65];
    kura_idem_claim claim;
    kura_withdrawal_request req;
    json_t *first = NULL;
    world_open(&w);
    req = (kura_withdrawal_request){w.wallet_id, "idem-1", A1, 5000, NULL};
    kura_idempotency_request_hash(hash, "POST", "/v1/wallets/x/withdrawals", "{}", 2);
    memset(&claim, 0, sizeof claim);
    OK(kura_idempotency_claim(w.st, &idem, hash, NOW, &claim, p));
    assert_int_equal(claim.state, KURA_IDEM_NEW);
    kura_idem_claim_clear(&claim);
    OK(kura_withdrawal_create(w.st, &OPS, &req, &idem, NOW, &first, p));
    OK(kura_idempotency_claim(w.st, &idem, hash, NOW, &claim, p));
    assert_int_equal(claim.state, KURA_IDEM_REPLAY);
    assert_int_equal(claim.http_status, 201);
    {
        json_error_t jerr;
        json_t *replayed = json_loads(claim.response, 0, &jerr);
        assert_non_null(replayed);
        assert_true(json_equal(replayed, first));
        json_decref(replayed);
    }
    kura_idem_claim_clear(&claim);
    json_decref(first);
    world_close(&w);
}

static void test_cancel(void **state)
{
    (void)state;
    world w;
    char id[KURA_DB_ID_SIZE], id2[KURA_DB_ID_SIZE];
    json_t *out = NULL;
    world_open(&w);
    queue(&w, id, "c-1", A1, 10000, NULL);
    queue(&w, id2, "c-2", A1, 20000, NULL);
    OK(kura_withdrawal_cancel(w.st, &OPS, id, "customer changed their mind", NOW, &out, p));
    assert_string_equal(tu_str(out, "state"), "cancelled");
    assert_string_equal(tu_str(out, "reason"), "customer changed their mind");
    json_decref(out);
    assert_int_equal(audit_rows(&w, id, "withdrawal.cancelled"), 1);
    assert_int_equal(events(&w, id, "withdrawal.cancelled"), 1);
    EXPECT(KURA_PROBLEM_INVALID_STATE, kura_withdrawal_cancel(w.st, &OPS, id, NULL, NOW, &out, p));
    EXPECT(KURA_PROBLEM_NOT_FOUND, kura_withdrawal_cancel(w.st, &OPS, "wd_none", NULL, NOW, &out, p));
    EXPECT(KURA_PROBLEM_INVALID_FIELD, kura_withdrawal_cancel(w.st, &OPS, id2, "a\nb", NOW, &out, p));
    /* A cancelled request is not batched; a batched one cannot be cancelled. */
    out = batch(&w, &OPS, 0, NULL);
    assert_int_equal(json_array_size(json_object_get(out, "withdrawals")), 1);
    assert_string_equal(tu_str(json_array_get(json_object_get(out, "withdrawals"), 0), "id"), id2);
    json_decref(out);
    EXPECT(KURA_PROBLEM_INVALID_STATE, kura_withdrawal_cancel(w.st, &OPS, id2, NULL, NOW, &out, p));
    assert_string_equal(wd_state(&w, id, NULL), "cancelled");
    audit_whole(&w);
    world_close(&w);
}

/* ---- batches ---- */

static void test_batch(void **state)
{
    (void)state;
    world w;
    char ids[4][KURA_DB_ID_SIZE], tid[KURA_DB_ID_SIZE], t2[KURA_DB_ID_SIZE], got[KURA_DB_ID_SIZE];
    json_t *out = NULL, *tr, *outs;
    kura_batch_request none;
    world_open(&w);
    none = (kura_batch_request){w.wallet_id, 0, 0, 0};
    /* Nothing queued: a stable error, nothing written. */
    EXPECT(KURA_PROBLEM_NOTHING_QUEUED, kura_withdrawal_batch(w.st, &OPS, &none, NULL, NOW, &out, p));
    assert_null(out);
    assert_int_equal(count(&w, "SELECT COUNT(*) FROM transfers WHERE wallet_id = $1", w.wallet_id), 0);
    {
        kura_batch_request bad = {"wl_missing", 0, 0, 0};
        EXPECT(KURA_PROBLEM_NOT_FOUND, kura_withdrawal_batch(w.st, &OPS, &bad, NULL, NOW, &out, p));
        bad = (kura_batch_request){w.wallet_id, KURA_BATCH_OUTPUTS_MAX + 1, 0, 0};
        EXPECT(KURA_PROBLEM_INVALID_FIELD, kura_withdrawal_batch(w.st, &OPS, &bad, NULL, NOW, &out, p));
        bad = (kura_batch_request){w.wallet_id, 0, 0, -1};
        EXPECT(KURA_PROBLEM_INVALID_FIELD, kura_withdrawal_batch(w.st, &OPS, &bad, NULL, NOW, &out, p));
    }
    queue(&w, ids[0], "b-1", A1, 100000, "withdrawal 1");
    queue(&w, ids[1], "b-2", A2, 200000, NULL);
    queue(&w, ids[2], "b-3", A1, 300000, "withdrawal 3"); /* same address as b-1: kept separate */
    queue(&w, ids[3], "b-4", A3, 400000, NULL);
    {
        /* The policy's max-fee is the default; more than it is refused, as for any transfer. */
        kura_batch_request rich = {w.wallet_id, 0, 200001, 0};
        EXPECT(KURA_PROBLEM_POLICY_LIMIT, kura_withdrawal_batch(w.st, &OPS, &rich, NULL, NOW, &out, p));
        assert_string_equal(wd_state(&w, ids[0], NULL), "queued");
    }
    /* The three oldest, in order, become one transfer. */
    out = batch(&w, &OPS, 3, tid);
    tr = json_object_get(out, "transfer");
    assert_string_equal(tu_str(tr, "state"), "awaiting_approval");
    assert_string_equal(tu_str(tr, "initiator"), "ops");
    assert_int_equal(json_integer_value(json_object_get(tr, "total")), 600000);
    assert_int_equal(json_integer_value(json_object_get(tr, "max_fee")), 200000);
    outs = json_object_get(tr, "outputs");
    assert_int_equal(json_array_size(outs), 3);
    assert_string_equal(tu_str(json_array_get(outs, 0), "address"), A1);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(outs, 0), "amount")), 100000);
    assert_string_equal(tu_str(json_array_get(outs, 0), "label"), "withdrawal 1");
    assert_string_equal(tu_str(json_array_get(outs, 1), "address"), A2);
    assert_string_equal(tu_str(json_array_get(outs, 2), "address"), A1);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(outs, 2), "amount")), 300000);
    assert_int_equal(json_array_size(json_object_get(out, "withdrawals")), 3);
    assert_int_equal(json_array_size(json_object_get(out, "skipped")), 0);
    json_decref(out);
    /* The intent lists every request as an output. */
    {
        char *text = NULL;
        size_t tl = 0;
        OK(kura_transfer_intent(w.st, tid, &text, &tl, p));
        assert_non_null(strstr(text, "output: " A1 " 100000 withdrawal 1\n"));
        assert_non_null(strstr(text, "output: " A2 " 200000\n"));
        assert_non_null(strstr(text, "output: " A1 " 300000 withdrawal 3\n"));
        free(text);
    }
    for (int i = 0; i < 3; i++) {
        json_t *j = wd_get(&w, ids[i]);
        assert_string_equal(tu_str(j, "state"), "batched");
        assert_string_equal(tu_str(j, "transfer_id"), tid);
        assert_int_equal(json_integer_value(json_object_get(j, "batches")), 1);
        json_decref(j);
        assert_int_equal(audit_rows(&w, ids[i], "withdrawal.batched"), 1);
        assert_int_equal(events(&w, ids[i], "withdrawal.batched"), 1);
    }
    assert_string_equal(wd_state(&w, ids[3], NULL), "queued");
    /* The next batch takes the rest; then nothing is left. */
    out = batch(&w, &OPS, 0, t2);
    assert_int_equal(json_array_size(json_object_get(out, "withdrawals")), 1);
    json_decref(out);
    assert_string_not_equal(t2, tid);
    assert_string_equal(wd_state(&w, ids[3], got), "batched");
    assert_string_equal(got, t2);
    EXPECT(KURA_PROBLEM_NOTHING_QUEUED, kura_withdrawal_batch(w.st, &OPS, &none, NULL, NOW, &out, p));
    audit_whole(&w);
    world_close(&w);
}

/* The total stays within max-per-transfer: the first request that would go
 * over waits, with every later one, for the next batch. A request the policy
 * now in force refuses is skipped and stays queued. */
static void test_batch_limits_and_skips(void **state)
{
    (void)state;
    world w;
    char big[KURA_DB_ID_SIZE], a[KURA_DB_ID_SIZE], b[KURA_DB_ID_SIZE], c[KURA_DB_ID_SIZE];
    json_t *out = NULL;
    world_open(&w);
    queue(&w, a, "l-1", A1, 4 * COIN, NULL);
    queue(&w, big, "l-2", A1, 7 * COIN, NULL);
    queue(&w, b, "l-3", A2, 1 * COIN, NULL);
    out = batch(&w, &OPS, 0, NULL);
    /* 4 + 7 > 10: only the first; l-3 waits behind l-2 (oldest first). */
    assert_int_equal(json_array_size(json_object_get(out, "withdrawals")), 1);
    json_decref(out);
    assert_string_equal(wd_state(&w, big, NULL), "queued");
    assert_string_equal(wd_state(&w, b, NULL), "queued");
    queue(&w, c, "l-4", A3, 2 * COIN, NULL);
    /* The cap falls to 5 BTC: the 7 BTC request is skipped, not batched, not dropped. */
    OK(kura_srvwallet_policy_update(w.st, &OPS, w.wallet_id, policy2_text,
                                    (const char *const *)policy2_sigs, 2, NOW, &out, p));
    json_decref(out);
    out = batch(&w, &OPS, 0, NULL);
    assert_int_equal(json_array_size(json_object_get(out, "withdrawals")), 2);
    assert_int_equal(json_array_size(json_object_get(out, "skipped")), 1);
    {
        json_t *s = json_array_get(json_object_get(out, "skipped"), 0);
        assert_string_equal(tu_str(s, "id"), big);
        assert_string_equal(tu_str(s, "error"), "POLICY_LIMIT");
        assert_non_null(strstr(tu_str(s, "reason"), "max-per-transfer"));
    }
    json_decref(out);
    assert_string_equal(wd_state(&w, big, NULL), "queued");
    assert_string_equal(wd_state(&w, b, NULL), "batched");
    assert_string_equal(wd_state(&w, c, NULL), "batched");
    /* Only refused requests are left: NOTHING_QUEUED, naming why. */
    {
        kura_batch_request req = {w.wallet_id, 0, 0, 0};
        kura_problem pr = {0};
        assert_int_equal(kura_withdrawal_batch(w.st, &OPS, &req, NULL, NOW, &out, &pr),
                         KURA_PROBLEM_NOTHING_QUEUED);
        assert_non_null(strstr(pr.message, "max-per-transfer"));
    }
    /* And a new request over the new cap is refused at the door. */
    assert_int_equal(refused(&w, "l-5", A1, 6 * COIN, NULL), KURA_PROBLEM_POLICY_LIMIT);
    audit_whole(&w);
    world_close(&w);
}

/* A batch that does not go through puts its requests back in the queue,
 * with the reason, whichever way it ends before broadcast. */
static void test_requeue(void **state)
{
    (void)state;
    world w;
    char a[KURA_DB_ID_SIZE], b[KURA_DB_ID_SIZE], t1[KURA_DB_ID_SIZE], t2[KURA_DB_ID_SIZE],
        t3[KURA_DB_ID_SIZE];
    json_t *out = NULL, *j;
    size_t n = 0;
    world_open(&w);
    queue(&w, a, "q-1", A1, 10000, NULL);
    queue(&w, b, "q-2", A2, 20000, NULL);
    json_decref(batch(&w, &OPS, 0, t1));
    OK(kura_transfer_reject(w.st, &ALICE, t1, "wrong destination", NOW, &out, p));
    json_decref(out);
    j = wd_get(&w, a);
    assert_string_equal(tu_str(j, "state"), "queued");
    assert_true(json_is_null(json_object_get(j, "transfer_id")));
    assert_non_null(strstr(tu_str(j, "reason"), t1));
    assert_non_null(strstr(tu_str(j, "reason"), "rejected: wrong destination"));
    json_decref(j);
    assert_string_equal(wd_state(&w, b, NULL), "queued");
    /* queued, batched, queued again: three rows and events each. */
    assert_int_equal(audit_rows(&w, a, "withdrawal.queued"), 2);
    assert_int_equal(events(&w, a, "withdrawal.queued"), 2);
    /* Batched again; cancelled this time. */
    json_decref(batch(&w, &OPS, 0, t2));
    assert_string_not_equal(t1, t2);
    j = wd_get(&w, a);
    assert_int_equal(json_integer_value(json_object_get(j, "batches")), 2);
    assert_true(json_is_null(json_object_get(j, "reason")));
    json_decref(j);
    OK(kura_transfer_cancel(w.st, &OPS, t2, NULL, NOW, &out, p));
    json_decref(out);
    assert_string_equal(wd_state(&w, a, NULL), "queued");
    /* Batched a third time; its intent expires. */
    {
        kura_batch_request req = {w.wallet_id, 0, 0, 60};
        OK(kura_withdrawal_batch(w.st, &OPS, &req, NULL, NOW, &out, p));
        snprintf(t3, sizeof t3, "%s", json_string_value(json_object_get(json_object_get(out, "transfer"), "id")));
        json_decref(out);
    }
    OK(kura_transfer_expire_due(w.st, NOW + 120, &n, p));
    assert_int_equal(n, 1);
    assert_string_equal(tr_state(&w, t3), "expired");
    j = wd_get(&w, b);
    assert_string_equal(tu_str(j, "state"), "queued");
    assert_non_null(strstr(tu_str(j, "reason"), "expired"));
    assert_int_equal(json_integer_value(json_object_get(j, "batches")), 3);
    json_decref(j);
    audit_whole(&w);
    world_close(&w);
}

/* ---- following the transfer to the chain ---- */

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

static uint8_t *cosign(const kura_psbt *pkg, size_t k, size_t *len)
{
    kura_psbt *copy = NULL;
    uint8_t *bytes = NULL;
    size_t n = 0;
    kura_error err;
    assert_int_equal(kura_psbt_clone(&copy, pkg), KURA_OK);
    if (kura_psbt_sign_bip32(ctx, copy, &n, &masters[k], KURA_PSBT_SIGN_VERIFY, &err) != KURA_OK)
        fail_msg("sign: %s", err.message);
    assert_int_equal(kura_psbt_serialize(&bytes, len, copy), KURA_OK);
    kura_psbt_free(copy);
    return bytes;
}

typedef struct chain_arg {
    const char *id;
    const char *txid;
    const char *from, *to;
    int broadcast;
    kura_problem *p;
} chain_arg;

static int chain_fn(kura_db *db, void *arg, kura_db_error *err)
{
    chain_arg *a = arg;
    char moved[KURA_DB_ID_SIZE];
    if (a->broadcast)
        return kura_transfer_mark_broadcast(db, a->id, NULL, NOW, a->p, err);
    return kura_transfer_chain_move(db, a->txid, a->from, a->to, NULL, NOW, moved, err);
}

static void chain_step(world *w, chain_arg *a)
{
    kura_db_error err = {0};
    kura_problem pr = {0};
    a->p = &pr;
    if (kura_store_write(w->st, chain_fn, a, &err) != 0)
        fail_msg("chain step: %s %s", err.message, pr.message);
}

static void test_follow_to_chain(void **state)
{
    (void)state;
    world w;
    char ids[3][KURA_DB_ID_SIZE], tid[KURA_DB_ID_SIZE], txid[80];
    kura_tx *f0;
    kura_psbt *pkg = NULL;
    uint8_t *bytes = NULL, *s0, *s1;
    size_t len = 0, l0, l1;
    json_t *out = NULL;
    kura_error err;
    world_open(&w);
    {
        json_t *a = NULL;
        OK(kura_address_allocate(w.st, &OPS, w.wallet_id, "c", "deposit", NULL, NOW, &a, p));
        json_decref(a);
    }
    f0 = fund(&w, 0, COIN, 0x61);
    queue(&w, ids[0], "f-1", A1, 1000000, NULL);
    queue(&w, ids[1], "f-2", A2, 2000000, NULL);
    queue(&w, ids[2], "f-3", A3, 3000000, NULL);
    json_decref(batch(&w, &OPS, 0, tid));
    assert_string_equal(approve(&w, tid, "bob"), "awaiting_approval");
    assert_string_equal(approve(&w, tid, "carol"), "approved");
    assert_string_equal(wd_state(&w, ids[0], NULL), "batched");
    OK(kura_transfer_package(w.st, &OPS, tid, NOW, &bytes, &len, p));
    if (kura_psbt_parse(&pkg, bytes, len, &err) != KURA_OK)
        fail_msg("package: %s", err.message);
    free(bytes);
    s0 = cosign(pkg, 0, &l0);
    s1 = cosign(pkg, 1, &l1);
    OK(kura_transfer_add_signatures(w.st, &OPS, tid, s0, l0, NOW, &out, p));
    json_decref(out);
    OK(kura_transfer_add_signatures(w.st, &OPS, tid, s1, l1, NOW, &out, p));
    assert_string_equal(tu_str(out, "state"), "signed");
    snprintf(txid, sizeof txid, "%s", tu_str(out, "txid"));
    json_decref(out);
    assert_string_equal(wd_state(&w, ids[0], NULL), "batched");
    /* Broadcast: sent. */
    {
        chain_arg a = {tid, NULL, NULL, NULL, 1, NULL};
        chain_step(&w, &a);
    }
    assert_string_equal(tr_state(&w, tid), "broadcast");
    for (int i = 0; i < 3; i++)
        assert_string_equal(wd_state(&w, ids[i], NULL), "sent");
    /* Mined: completed; the block goes away: sent; mined again: completed. */
    {
        chain_arg a = {NULL, txid, "broadcast", "confirmed", 0, NULL};
        chain_step(&w, &a);
        assert_string_equal(wd_state(&w, ids[1], NULL), "completed");
        a = (chain_arg){NULL, txid, "confirmed", "broadcast", 0, NULL};
        chain_step(&w, &a);
        assert_string_equal(wd_state(&w, ids[1], NULL), "sent");
        a = (chain_arg){NULL, txid, "broadcast", "confirmed", 0, NULL};
        chain_step(&w, &a);
    }
    for (int i = 0; i < 3; i++) {
        char got[KURA_DB_ID_SIZE];
        assert_string_equal(wd_state(&w, ids[i], got), "completed");
        assert_string_equal(got, tid);
        assert_int_equal(audit_rows(&w, ids[i], "withdrawal.completed"), 2);
        assert_int_equal(events(&w, ids[i], "withdrawal.sent"), 2);
    }
    /* A completed request cannot be cancelled. */
    EXPECT(KURA_PROBLEM_INVALID_STATE, kura_withdrawal_cancel(w.st, &OPS, ids[0], NULL, NOW, &out, p));
    audit_whole(&w);
    free(s0);
    free(s1);
    kura_psbt_free(pkg);
    kura_tx_free(f0);
    world_close(&w);
}

/* A batch cancelled after its signing package was issued: the signers may
 * hold a signed transaction paying these requests, so they are not
 * requeued (paying again could pay twice) but failed, with the reason. */
static void test_no_requeue_after_package(void **state)
{
    (void)state;
    world w;
    char a[KURA_DB_ID_SIZE], tid[KURA_DB_ID_SIZE];
    kura_tx *f0;
    uint8_t *bytes = NULL;
    size_t len = 0;
    json_t *out = NULL, *j;
    world_open(&w);
    {
        json_t *addr = NULL;
        OK(kura_address_allocate(w.st, &OPS, w.wallet_id, "c", "deposit", NULL, NOW, &addr, p));
        json_decref(addr);
    }
    f0 = fund(&w, 0, COIN, 0x71);
    queue(&w, a, "p-1", A1, 100000, NULL);
    json_decref(batch(&w, &OPS, 0, tid));
    assert_string_equal(approve(&w, tid, "bob"), "awaiting_approval");
    assert_string_equal(approve(&w, tid, "carol"), "approved");
    OK(kura_transfer_package(w.st, &OPS, tid, NOW, &bytes, &len, p));
    free(bytes);
    OK(kura_transfer_cancel(w.st, &OPS, tid, "operator cancelled", NOW, &out, p));
    json_decref(out);
    j = wd_get(&w, a);
    assert_string_equal(tu_str(j, "state"), "failed");
    assert_string_equal(tu_str(j, "transfer_id"), tid);
    assert_non_null(strstr(tu_str(j, "reason"), "operator cancelled"));
    assert_non_null(strstr(tu_str(j, "reason"), "signing package"));
    json_decref(j);
    assert_int_equal(events(&w, a, "withdrawal.failed"), 1);
    /* Final: not batched again, not cancellable. */
    EXPECT(KURA_PROBLEM_NOTHING_QUEUED,
           kura_withdrawal_batch(w.st, &OPS, &(kura_batch_request){w.wallet_id, 0, 0, 0}, NULL, NOW,
                                 &out, p));
    EXPECT(KURA_PROBLEM_INVALID_STATE, kura_withdrawal_cancel(w.st, &OPS, a, NULL, NOW, &out, p));
    audit_whole(&w);
    kura_tx_free(f0);
    world_close(&w);
}

/* The coordinator's database is not trusted: a queued request's address
 * edited behind the server's back is named by audit verify (and what the
 * batch would then pay is in the intent the approvers read and sign). */
static int exec_fn(kura_db *db, void *arg, kura_db_error *err)
{
    count_arg *a = arg;
    return kura_db_exec(db, NULL, a->sql, (kura_db_param[]){KURA_DB_TEXT(a->param)}, 1, err);
}

static void test_tamper_named(void **state)
{
    (void)state;
    world w;
    char id[KURA_DB_ID_SIZE];
    json_t *report = NULL, *m;
    size_t i;
    int named = 0;
    count_arg a = {"UPDATE withdrawals SET address = '" A3 "' WHERE id = $1", NULL, 0};
    kura_db_error err = {0};
    world_open(&w);
    queue(&w, id, "t-1", A1, 10000, NULL);
    audit_whole(&w);
    a.param = id;
    assert_int_equal(kura_store_write(w.st, exec_fn, &a, &err), 0);
    OK(kura_audit_verify(w.st, 0, NULL, &report, p));
    assert_false(json_is_true(json_object_get(report, "ok")));
    json_array_foreach(json_object_get(report, "snapshot_mismatches"), i, m)
        if (strcmp(tu_str(m, "object_type"), "withdrawal") == 0 && strcmp(tu_str(m, "object_id"), id) == 0)
            named = 1;
    assert_true(named);
    json_decref(report);
    world_close(&w);
}

/* ---- two batches at once ---- */

#define RACE_REQUESTS 24
#define RACE_THREADS 4

typedef struct race_thread {
    world *w;
    pthread_barrier_t *go;
    int made, nothing, failures;
} race_thread;

static void *race_worker(void *arg)
{
    race_thread *t = arg;
    pthread_barrier_wait(t->go);
    for (int i = 0; i < 4; i++) {
        kura_batch_request req = {t->w->wallet_id, 3, 0, 0};
        kura_problem pr = {0};
        json_t *out = NULL;
        int rc = kura_withdrawal_batch(t->w->st, &OPS, &req, NULL, NOW, &out, &pr);
        if (rc == 0)
            t->made++;
        else if (rc == KURA_PROBLEM_NOTHING_QUEUED)
            t->nothing++;
        else {
            fprintf(stderr, "race: %s: %s\n", kura_problem_name(pr.code), pr.message);
            t->failures++;
        }
        json_decref(out);
    }
    return NULL;
}

static void test_concurrent_batches(void **state)
{
    (void)state;
    world w;
    pthread_t th[RACE_THREADS];
    race_thread args[RACE_THREADS];
    pthread_barrier_t go;
    int made = 0;
    world_open(&w);
    for (int i = 0; i < RACE_REQUESTS; i++) {
        char ext[32];
        snprintf(ext, sizeof ext, "race-%d", i);
        queue(&w, NULL, ext, i % 2 ? A1 : A3, 10000 + (uint64_t)i, NULL);
    }
    pthread_barrier_init(&go, NULL, RACE_THREADS);
    for (int i = 0; i < RACE_THREADS; i++) {
        args[i] = (race_thread){&w, &go, 0, 0, 0};
        assert_int_equal(pthread_create(&th[i], NULL, race_worker, &args[i]), 0);
    }
    for (int i = 0; i < RACE_THREADS; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(args[i].failures, 0);
        made += args[i].made;
    }
    pthread_barrier_destroy(&go);
    /* 24 requests, 3 a batch: exactly 8 batches, every request in one. */
    assert_int_equal(made, RACE_REQUESTS / 3);
    assert_int_equal(count(&w, "SELECT COUNT(*) FROM transfers WHERE wallet_id = $1", w.wallet_id),
                     RACE_REQUESTS / 3);
    assert_int_equal(count(&w, "SELECT COUNT(*) FROM withdrawals WHERE wallet_id = $1 AND "
                               "state = 'batched' AND batches = 1",
                           w.wallet_id),
                     RACE_REQUESTS);
    assert_int_equal(count(&w, "SELECT COUNT(*) FROM transfer_outputs o JOIN transfers t ON "
                               "t.id = o.transfer_id WHERE t.wallet_id = $1",
                           w.wallet_id),
                     RACE_REQUESTS);
    assert_int_equal(count(&w, "SELECT COUNT(DISTINCT transfer_id) FROM withdrawals WHERE wallet_id = $1",
                           w.wallet_id),
                     RACE_REQUESTS / 3);
    assert_int_equal(count(&w, "SELECT COUNT(*) FROM audit_log WHERE action = $1", "withdrawal.batched"),
                     RACE_REQUESTS);
    audit_whole(&w);
    world_close(&w);
}

/* ---- the schedule ---- */

static void test_scheduled_round(void **state)
{
    (void)state;
    world w;
    char ids[3][KURA_DB_ID_SIZE], tid[KURA_DB_ID_SIZE];
    size_t made = 9;
    json_t *tr = NULL;
    world_open(&w);
    OK(kura_withdrawal_batch_due(w.st, 1, 0, NOW, &made, p));
    assert_int_equal(made, 0);
    queue(&w, ids[0], "s-1", A1, 10000, NULL);
    queue(&w, ids[1], "s-2", A2, 20000, NULL);
    queue(&w, ids[2], "s-3", A3, 30000, NULL);
    OK(kura_withdrawal_batch_due(w.st, 4, 0, NOW, &made, p));
    assert_int_equal(made, 0);
    assert_string_equal(wd_state(&w, ids[0], NULL), "queued");
    OK(kura_withdrawal_batch_due(w.st, 3, 0, NOW, &made, p));
    assert_int_equal(made, 1);
    assert_string_equal(wd_state(&w, ids[2], tid), "batched");
    OK(kura_transfer_get(w.st, tid, &tr, p));
    /* The batcher initiates: its name in the intent, its identity in the audit. */
    assert_string_equal(tu_str(tr, "initiator"), "system.batcher");
    assert_string_equal(tu_str(tr, "created_by"), "system:batcher");
    json_decref(tr);
    assert_int_equal(count(&w, "SELECT COUNT(*) FROM audit_log WHERE actor = $1", "system:batcher"),
                     1 + 3);
    /* The initiator rule holds: the batcher is no approver, and approvers approve as usual. */
    assert_string_equal(approve(&w, tid, "alice"), "awaiting_approval");
    assert_string_equal(approve(&w, tid, "bob"), "approved");
    OK(kura_withdrawal_batch_due(w.st, 1, 0, NOW, &made, p));
    assert_int_equal(made, 0);
    audit_whole(&w);
    world_close(&w);
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Two batchers on one database: only the lease holder runs rounds. */
static void test_batcher_lease(void **state)
{
    (void)state;
    world w;
    kura_batcher *b1 = NULL, *b2 = NULL;
    kura_batcher_options o1 = {1, 1, 0, "server-one"}, o2 = {1, 1, 0, "server-two"};
    uint64_t r1 = 0, m1 = 0, r2 = 0, m2 = 0;
    char id[KURA_DB_ID_SIZE];
    world_open(&w);
    assert_int_equal(kura_batcher_start(&b1, w.st, &(kura_batcher_options){0, 1, 0, NULL}), -1);
    assert_null(b1);
    queue(&w, id, "lease-1", A1, 10000, NULL);
    assert_int_equal(kura_batcher_start(&b1, w.st, &o1), 0);
    assert_int_equal(kura_batcher_start(&b2, w.st, &o2), 0);
    for (int i = 0; i < 100 && strcmp(wd_state(&w, id, NULL), "batched") != 0; i++)
        sleep_ms(50);
    assert_string_equal(wd_state(&w, id, NULL), "batched");
    sleep_ms(2300); /* two more rounds each */
    kura_batcher_counts(b1, &r1, &m1);
    kura_batcher_counts(b2, &r2, &m2);
    assert_int_equal(m1 + m2, 1);
    /* Exactly one of them held the lease all along. */
    assert_true((r1 > 0) != (r2 > 0));
    kura_batcher_stop(b1);
    kura_batcher_stop(b2);
    kura_batcher_stop(NULL);
    /* Stopped: the lease was given up. */
    assert_int_equal(count(&w, "SELECT expires_at FROM leases WHERE name = $1", "batcher"), 0);
    world_close(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_queue_and_read),
        cmocka_unit_test(test_queue_refusals),
        cmocka_unit_test(test_idempotent_queue),
        cmocka_unit_test(test_cancel),
        cmocka_unit_test(test_batch),
        cmocka_unit_test(test_batch_limits_and_skips),
        cmocka_unit_test(test_requeue),
        cmocka_unit_test(test_follow_to_chain),
        cmocka_unit_test(test_no_requeue_after_package),
        cmocka_unit_test(test_tamper_named),
        cmocka_unit_test(test_concurrent_batches),
        cmocka_unit_test(test_scheduled_round),
        cmocka_unit_test(test_batcher_lease),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
