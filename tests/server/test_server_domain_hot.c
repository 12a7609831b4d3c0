/*
 * tests/server/test_server_domain_hot.c — the hot wallets' spool
 * (server/domain/hot.h), one pass at a time, on SQLite and PostgreSQL:
 *   - another server's lease: nothing is done; an expired one is taken;
 *   - an approved transfer of a hot wallet: its package written to the inbox
 *     (awaiting_signatures); written again when the file was lost before the
 *     signer answered; not while a file of it is in any of the directories;
 *   - a signed PSBT in the outbox: taken in through the upload's intake
 *     (signed), the file removed;
 *   - a refusal file: the transfer failed with "hot signer refused: CODE:
 *     message", one audit row and one webhook event, coins released;
 *   - an outbox file the intake refuses: kept aside as .rejected-NAME, the
 *     transfer unchanged;
 *   - a spool configured for a cold wallet: nothing written.
 * The whole story with the real kura-cold serve: tests/server/e2e_hot.py.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "domain/addresses.h"
#include "domain/hot.h"
#include "domain/people.h"
#include "domain/transfers.h"
#include "domain/wallets.h"
#include "kura/descriptor.h"
#include "kura/policy.h"
#include "kura/psbt.h"
#include "kura/tx.h"
#include "server_testutil.h"
#include "testutil_keys.h"
#include "testutil_sshsig.h"
#include "testutil_wallet.h"

#define H KURA_BIP32_HARDENED
#define D1 "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"
#define NOW ((int64_t)time(NULL))

static kura_ctx *ctx;
static char keydir[64];
static kura_bip32_key master;
static kura_descriptor *desc;
static char descriptor[1024], checksum[9];
static char pubkeys[3][KURA_SSHKEY_STRING_MAX];
static const char *const KEYS[] = {"admin1", "admin2", "system"};
static char *policy_text[2], *policy_sigs[2][2]; /* [0] hot, [1] cold */

static char *make_policy(kura_policy_mode mode)
{
    kura_policy *p = kura_policy_new();
    kura_error err;
    char *text = NULL;
    size_t len = 0;
    assert_non_null(p);
    p->version = 1;
    p->chain = KURA_CHAIN_BITCOIN;
    strcpy(p->wallet.name, mode == KURA_POLICY_HOT ? "hot" : "cold");
    strcpy(p->wallet.checksum, checksum);
    p->mode = mode;
    for (size_t i = 0; i < 2; i++)
        assert_int_equal(kura_policy_add_admin(p, KEYS[i], pubkeys[i], &err), KURA_OK);
    p->admin_quorum = 2;
    assert_int_equal(kura_policy_add_approver(p, "system-approver", pubkeys[2], &err), KURA_OK);
    assert_int_equal(kura_policy_add_tier(p, KURA_POLICY_TIER_UNBOUNDED, 1, &err), KURA_OK);
    p->max_per_transfer = 1000000;
    p->max_per_24h = 3000000;
    p->max_fee = 20000;
    p->max_fee_rate = 100;
    p->max_lifetime = 86400;
    if (kura_policy_write(&text, &len, p, &err) != KURA_OK)
        fail_msg("policy: %s", err.message);
    kura_policy_free(p);
    return text;
}

static int group_setup(void **state)
{
    char origin[256], text[512], *canon = NULL;
    const uint32_t path[] = {84 | H, 0 | H, 0 | H};
    kura_error err;
    tu_ctx_setup(state);
    ctx = tu_ctx;
    snprintf(keydir, sizeof keydir, "/tmp/kura-hot-test.XXXXXX");
    assert_non_null(mkdtemp(keydir));
    for (size_t i = 0; i < 3; i++) {
        tu_ssh_keygen(keydir, KEYS[i], "ed25519");
        tu_ssh_pubkey(pubkeys[i], keydir, KEYS[i]);
    }
    tu_make_master(ctx, &master, origin, sizeof origin, 0x51, path, 3, "84h/0h/0h");
    snprintf(text, sizeof text, "wpkh(%s/<0;1>/*)", origin);
    if (kura_descriptor_parse(ctx, &desc, text, strlen(text), &err) != KURA_OK)
        fail_msg("descriptor: %s", err.message);
    assert_int_equal(kura_descriptor_to_string(ctx, &canon, desc, KURA_DESCRIPTOR_ALL_BRANCHES,
                                               KURA_DESCRIPTOR_PUBLIC, NULL),
                     KURA_OK);
    snprintf(descriptor, sizeof descriptor, "%s", canon);
    snprintf(checksum, sizeof checksum, "%s", strrchr(canon, '#') + 1);
    kura_descriptor_string_free(canon);
    for (int m = 0; m < 2; m++) {
        policy_text[m] = make_policy(m == 0 ? KURA_POLICY_HOT : KURA_POLICY_COLD);
        for (size_t i = 0; i < 2; i++) {
            size_t l;
            policy_sigs[m][i] = tu_ssh_sign(keydir, KEYS[i], "kura-policy-v1", policy_text[m],
                                            strlen(policy_text[m]), &l);
        }
    }
    kura_domain_register_snapshots();
    return 0;
}

static int group_teardown(void **state)
{
    kura_descriptor_free(desc);
    for (int m = 0; m < 2; m++) {
        free(policy_text[m]);
        for (size_t i = 0; i < 2; i++)
            free(policy_sigs[m][i]);
    }
    sodium_memzero(&master, sizeof master);
    tu_remove_dir(keydir);
    return tu_ctx_teardown(state);
}

static const kura_principal OPS = {KURA_PRINCIPAL_USER, "us_ops", "ops", KURA_ROLE_INITIATOR,
                                   KURA_SCOPE_ALL, "", "127.0.0.1"};
static const kura_principal SYS = {KURA_PRINCIPAL_API_KEY, "ak_sys", "system", KURA_ROLE_APPROVER,
                                   KURA_SCOPE_ALL, "", "127.0.0.1"};

#define OK(call)                                                                               \
    do {                                                                                       \
        kura_problem pr_ = {0};                                                                \
        kura_problem *p = &pr_;                                                                \
        int rc_ = (call);                                                                      \
        if (rc_ != 0)                                                                          \
            fail_msg("%s: %s: %s", #call, kura_problem_name((kura_problem_code)rc_),           \
                     pr_.message);                                                             \
    } while (0)

typedef struct world {
    kura_store *st;
    char wallet_id[2][KURA_DB_ID_SIZE]; /* hot, cold */
    char spool[2][128];
    kura_hot_spool spools[2];
    kura_hot_options o;
} world;

static void world_open(world *w)
{
    w->st = kura_test_store_open();
    for (int m = 0; m < 2; m++) {
        kura_wallet_registration reg = {NULL, descriptor, policy_text[m],
                                        (const char *const *)policy_sigs[m], 2, 0, 0, NULL, NULL,
                                        0};
        json_t *out = NULL;
        char sub[3][160];
        /* The same keys registered twice would clash: the cold one only when asked. */
        if (m == 1)
            break;
        OK(kura_srvwallet_register(w->st, &OPS, &reg, NULL, NOW, &out, p));
        snprintf(w->wallet_id[m], sizeof w->wallet_id[m], "%s", tu_str(out, "id"));
        json_decref(out);
        snprintf(w->spool[m], sizeof w->spool[m], "%s/spool-%d.XXXXXX", keydir, m);
        assert_non_null(mkdtemp(w->spool[m]));
        snprintf(sub[0], sizeof sub[0], "%s/inbox", w->spool[m]);
        snprintf(sub[1], sizeof sub[1], "%s/outbox", w->spool[m]);
        snprintf(sub[2], sizeof sub[2], "%s/refused", w->spool[m]);
        for (int i = 0; i < 3; i++)
            assert_int_equal(mkdir(sub[i], 0770), 0);
    }
    w->spools[0] = (kura_hot_spool){"hot", w->spool[0]};
    memset(&w->o, 0, sizeof w->o);
    w->o.spools = w->spools;
    w->o.count = 1;
    w->o.holder = "this-server";
}

static void world_close(world *w)
{
    kura_store_close(w->st);
}

static void fund(world *w, uint32_t index, uint64_t amount, uint8_t tag)
{
    kura_tx *tx = tu_funding_tx(ctx, desc, 0, index, amount, tag, 1000);
    size_t n = kura_tx_serialized_size(tx, KURA_TX_WITNESS), written = 0;
    uint8_t *bytes = malloc(n);
    char *hex = malloc(n * 2 + 1);
    json_t *a = NULL;
    assert_non_null(bytes);
    assert_non_null(hex);
    OK(kura_address_allocate(w->st, &OPS, w->wallet_id[0], "float", "top-up", NULL, NOW, &a, p));
    json_decref(a);
    assert_int_equal(kura_tx_serialize(bytes, n, &written, tx, KURA_TX_WITNESS), KURA_OK);
    sodium_bin2hex(hex, n * 2 + 1, bytes, n);
    OK(kura_utxo_add(w->st, w->wallet_id[0], hex, 1, 800000, NOW, p));
    free(bytes);
    free(hex);
    kura_tx_free(tx);
}

/* An approved withdrawal of `amount` to D1: the system approver's approval. */
static void approved(world *w, char id[KURA_DB_ID_SIZE], uint64_t amount)
{
    kura_transfer_output_req out1 = {D1, amount, "withdrawal"};
    kura_transfer_request req = {w->wallet_id[0], NULL, &out1, 1, 20000, 0};
    json_t *out = NULL;
    char *text = NULL, *sig;
    size_t tl = 0, sl = 0;
    OK(kura_transfer_create(w->st, &OPS, &req, NULL, NOW, &out, p));
    snprintf(id, KURA_DB_ID_SIZE, "%s", tu_str(out, "id"));
    json_decref(out);
    OK(kura_transfer_intent(w->st, id, &text, &tl, p));
    sig = tu_ssh_sign(keydir, "system", "kura-intent-v1", text, tl, &sl);
    OK(kura_transfer_approve(w->st, &SYS, id, sig, sl, NOW, &out, p));
    assert_string_equal(tu_str(out, "state"), "approved");
    json_decref(out);
    free(text);
    free(sig);
}

static json_t *transfer(world *w, const char *id)
{
    json_t *out = NULL;
    OK(kura_transfer_get(w->st, id, &out, p));
    return out;
}

static void expect_state(world *w, const char *id, const char *state)
{
    json_t *t = transfer(w, id);
    assert_string_equal(tu_str(t, "state"), state);
    json_decref(t);
}

static void pass(world *w, kura_hot_report *r)
{
    OK(kura_hot_pass(w->st, &w->o, NOW, r, p));
}

static char *spool_path(world *w, const char *sub, const char *id, const char *suffix)
{
    static char path[4][256];
    static int k;
    k = (k + 1) % 4;
    snprintf(path[k], sizeof path[k], "%s/%s/%s%s", w->spool[0], sub, id, suffix);
    return path[k];
}

static int file_exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

/* ---- counting rows ---- */

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

/* ---- leases ---- */

static int lease_fn(kura_db *db, void *arg, kura_db_error *err)
{
    int64_t *until = arg;
    return kura_db_exec(db, NULL,
                        "INSERT INTO leases (name, holder, expires_at) VALUES ('hot-spool', "
                        "'other-server', $1) ON CONFLICT (name) DO UPDATE SET holder = "
                        "excluded.holder, expires_at = excluded.expires_at",
                        (kura_db_param[]){KURA_DB_INT(*until)}, 1, err);
}

static void test_lease(void **state)
{
    world w;
    kura_hot_report r;
    kura_db_error err = {0};
    char id[KURA_DB_ID_SIZE];
    int64_t until = NOW + 600;
    (void)state;
    world_open(&w);
    fund(&w, 0, 500000, 0x11);
    approved(&w, id, 100000);
    assert_int_equal(kura_store_write(w.st, lease_fn, &until, &err), KURA_DB_OK);
    pass(&w, &r);
    assert_int_equal(r.leader, 0);
    assert_false(file_exists(spool_path(&w, "inbox", id, ".psbt")));
    expect_state(&w, id, "approved");
    /* The other server stopped renewing: taken over. */
    until = NOW - 1;
    assert_int_equal(kura_store_write(w.st, lease_fn, &until, &err), KURA_DB_OK);
    pass(&w, &r);
    assert_int_equal(r.leader, 1);
    assert_int_equal(r.written, 1);
    assert_true(file_exists(spool_path(&w, "inbox", id, ".psbt")));
    world_close(&w);
}

/* ---- out and back ---- */

static void test_signed_flow(void **state)
{
    world w;
    kura_hot_report r;
    char id[KURA_DB_ID_SIZE];
    uint8_t *bytes, *out = NULL;
    size_t len = 0, out_len = 0, count = 0;
    kura_psbt *psbt = NULL;
    kura_error err;
    (void)state;
    world_open(&w);
    fund(&w, 0, 500000, 0x21);
    approved(&w, id, 100000);
    pass(&w, &r);
    assert_int_equal(r.leader, 1);
    assert_int_equal(r.written, 1);
    expect_state(&w, id, "awaiting_signatures");
    /* Lost before the signer answered (a crash, an operator): written again. */
    assert_int_equal(unlink(spool_path(&w, "inbox", id, ".psbt")), 0);
    pass(&w, &r);
    assert_int_equal(r.written, 1);
    pass(&w, &r);
    assert_int_equal(r.written, 0);

    /* The signer: signs the inbox package, outbox file, inbox file gone. */
    bytes = (uint8_t *)tu_slurp(spool_path(&w, "inbox", id, ".psbt"), &len);
    assert_int_equal(kura_psbt_parse(&psbt, bytes, len, &err), KURA_OK);
    assert_int_equal(kura_psbt_sign_bip32(ctx, psbt, &count, &master, 0, &err), KURA_OK);
    assert_int_equal(count, 1);
    assert_int_equal(kura_psbt_serialize(&out, &out_len, psbt), KURA_OK);
    tu_spit(spool_path(&w, "outbox", id, ".psbt"), out, out_len);
    /* Not yet removed from the inbox: nothing is written twice meanwhile. */
    pass(&w, &r);
    assert_int_equal(r.collected, 1);
    assert_int_equal(r.written, 0);
    expect_state(&w, id, "signed");
    assert_false(file_exists(spool_path(&w, "outbox", id, ".psbt")));
    unlink(spool_path(&w, "inbox", id, ".psbt"));
    pass(&w, &r);
    assert_int_equal(r.written + r.collected + r.refused, 0);
    free(bytes);
    free(out);
    kura_psbt_free(psbt);
    world_close(&w);
}

static void test_refused(void **state)
{
    world w;
    kura_hot_report r;
    char id[KURA_DB_ID_SIZE], id2[KURA_DB_ID_SIZE];
    const char *refusal = "kura-refusal 1\nfile: x.psbt\ncode: KURA_REFUSE_LIMIT_ROLLING\n"
                          "message: 2900000 sat left the wallet in the last 24 hours\n";
    json_t *t;
    (void)state;
    world_open(&w);
    fund(&w, 0, 500000, 0x31);
    approved(&w, id, 100000);
    pass(&w, &r);
    assert_int_equal(r.written, 1);
    tu_spit(spool_path(&w, "refused", id, ".refused"), refusal, strlen(refusal));
    unlink(spool_path(&w, "inbox", id, ".psbt"));
    pass(&w, &r);
    assert_int_equal(r.refused, 1);
    t = transfer(&w, id);
    assert_string_equal(tu_str(t, "state"), "failed");
    assert_string_equal(tu_str(t, "reason"), "hot signer refused: KURA_REFUSE_LIMIT_ROLLING: "
                                             "2900000 sat left the wallet in the last 24 hours");
    json_decref(t);
    assert_false(file_exists(spool_path(&w, "refused", id, ".refused")));
    /* One move: one audit row (with the code) and one webhook event. */
    assert_int_equal(count(&w, "SELECT COUNT(*) FROM audit_log WHERE object_id = $1 AND "
                               "action = 'transfer.failed'", id), 1);
    assert_int_equal(count(&w, "SELECT COUNT(*) FROM audit_log WHERE object_id = $1 AND "
                               "action = 'transfer.failed' AND data LIKE "
                               "'%KURA_REFUSE_LIMIT_ROLLING%'", id), 1);
    assert_int_equal(count(&w, "SELECT COUNT(*) FROM webhook_events WHERE object_id = $1 AND "
                               "type = 'transfer.failed'", id), 1);
    /* Its coin is free again: the only coin pays the next transfer. */
    approved(&w, id2, 100000);
    pass(&w, &r);
    assert_int_equal(r.written, 1);
    expect_state(&w, id2, "awaiting_signatures");
    /* A refusal for a transfer that is over already changes nothing. */
    tu_spit(spool_path(&w, "refused", id, ".refused"), refusal, strlen(refusal));
    pass(&w, &r);
    assert_int_equal(r.refused, 0);
    assert_false(file_exists(spool_path(&w, "refused", id, ".refused")));
    world_close(&w);
}

static void test_rejected_output(void **state)
{
    world w;
    kura_hot_report r;
    char id[KURA_DB_ID_SIZE], bad[300];
    (void)state;
    world_open(&w);
    fund(&w, 0, 500000, 0x41);
    approved(&w, id, 100000);
    pass(&w, &r);
    tu_spit(spool_path(&w, "outbox", id, ".psbt"), "psbt\xff garbage", 13);
    pass(&w, &r);
    assert_int_equal(r.collected, 0);
    assert_true(r.errors >= 1);
    expect_state(&w, id, "awaiting_signatures");
    snprintf(bad, sizeof bad, "%s/outbox/.rejected-%s.psbt", w.spool[0], id);
    assert_true(file_exists(bad));
    assert_false(file_exists(spool_path(&w, "outbox", id, ".psbt")));
    /* Names that are not transfer ids are left alone. */
    tu_spit(spool_path(&w, "outbox", "notes", ".txt"), "x", 1);
    tu_spit(spool_path(&w, "outbox", "bad name", ".psbt"), "x", 1);
    pass(&w, &r);
    assert_true(file_exists(spool_path(&w, "outbox", "notes", ".txt")));
    assert_true(file_exists(spool_path(&w, "outbox", "bad name", ".psbt")));
    world_close(&w);
}

static void test_cold_wallet_skipped(void **state)
{
    world w;
    kura_hot_report r;
    kura_wallet_registration reg = {NULL, NULL, NULL, NULL, 2, 0, 0, NULL, NULL, 0};
    json_t *out = NULL;
    kura_transfer_output_req out1 = {D1, 100000, "withdrawal"};
    kura_transfer_request req;
    char id[KURA_DB_ID_SIZE], inbox[256];
    (void)state;
    world_open(&w);
    /* A cold wallet of another descriptor (the hot one's keys, another path). */
    {
        char origin[256], text[512], *canon = NULL;
        const uint32_t path[] = {84 | H, 0 | H, 1 | H};
        kura_bip32_key m2;
        kura_descriptor *d2 = NULL;
        kura_error err;
        char *ptext, *sigs[2];
        size_t l;
        tu_make_master(ctx, &m2, origin, sizeof origin, 0x52, path, 3, "84h/0h/1h");
        snprintf(text, sizeof text, "wpkh(%s/<0;1>/*)", origin);
        assert_int_equal(kura_descriptor_parse(ctx, &d2, text, strlen(text), &err), KURA_OK);
        assert_int_equal(kura_descriptor_to_string(ctx, &canon, d2, KURA_DESCRIPTOR_ALL_BRANCHES,
                                                   KURA_DESCRIPTOR_PUBLIC, NULL),
                         KURA_OK);
        ptext = tu_edit(policy_text[1], checksum, strrchr(canon, '#') + 1);
        for (size_t i = 0; i < 2; i++)
            sigs[i] = tu_ssh_sign(keydir, KEYS[i], "kura-policy-v1", ptext, strlen(ptext), &l);
        reg.descriptor = canon;
        reg.policy = ptext;
        reg.policy_signatures = (const char *const *)sigs;
        OK(kura_srvwallet_register(w.st, &OPS, &reg, NULL, NOW, &out, p));
        snprintf(w.wallet_id[1], sizeof w.wallet_id[1], "%s", tu_str(out, "id"));
        json_decref(out);
        req = (kura_transfer_request){w.wallet_id[1], NULL, &out1, 1, 20000, 0};
        OK(kura_transfer_create(w.st, &OPS, &req, NULL, NOW, &out, p));
        snprintf(id, sizeof id, "%s", tu_str(out, "id"));
        json_decref(out);
        {
            char *itext = NULL, *isig;
            size_t tl = 0, sl = 0;
            OK(kura_transfer_intent(w.st, id, &itext, &tl, p));
            isig = tu_ssh_sign(keydir, "system", "kura-intent-v1", itext, tl, &sl);
            OK(kura_transfer_approve(w.st, &SYS, id, isig, sl, NOW, &out, p));
            assert_string_equal(tu_str(out, "state"), "approved");
            json_decref(out);
            free(itext);
            free(isig);
        }
        free(ptext);
        for (size_t i = 0; i < 2; i++)
            free(sigs[i]);
        kura_descriptor_string_free(canon);
        kura_descriptor_free(d2);
        sodium_memzero(&m2, sizeof m2);
    }
    w.spools[0] = (kura_hot_spool){"cold", w.spool[0]};
    pass(&w, &r);
    assert_int_equal(r.leader, 1);
    assert_int_equal(r.written, 0);
    assert_int_equal(r.errors, 1);
    snprintf(inbox, sizeof inbox, "%s/inbox", w.spool[0]);
    assert_int_equal(rmdir(inbox), 0); /* empty */
    /* And a wallet that does not exist. */
    w.spools[0] = (kura_hot_spool){"no-such-wallet", w.spool[0]};
    pass(&w, &r);
    assert_int_equal(r.errors, 1);
    world_close(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lease),
        cmocka_unit_test(test_signed_flow),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_rejected_output),
        cmocka_unit_test(test_cold_wallet_skipped),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
