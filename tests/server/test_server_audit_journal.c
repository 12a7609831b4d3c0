/*
 * tests/server/test_server_audit_journal.c — importing a kura-cold journal
 * made by libkura's own journal writer, reconciled against transfers: a
 * matched signature, an unknown intent, an intent whose hash differs from
 * the transfer's, signatures of transfers that were cancelled or never
 * approved, refusals listed; a damaged journal reported; the import an
 * audit row of its own.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <sodium.h>

#include "audit/audit.h"
#include "kura/journal.h"
#include "server_testutil.h"
#include "testutil.h"

#define T0 1790000000

typedef struct transfer_row {
    const char *id, *state, *intent_id;
    uint8_t hash[32];
} transfer_row;

static int seed_fn(kura_db *db, void *arg, kura_db_error *err)
{
    transfer_row *rows = arg;
    int rc = kura_db_exec(db, NULL,
                          "INSERT INTO wallets (id, name, chain, descriptor, checksum, kind, "
                          "threshold, policy_version, created_at) VALUES ('wl_1', 'treasury', "
                          "'regtest', 'wsh(...)', 'abcdefgh', 'wsh', 2, 1, 1)",
                          NULL, 0, err);
    for (size_t i = 0; rc == KURA_DB_OK && rows[i].id; i++) {
        char hex[65];
        sodium_bin2hex(hex, sizeof hex, rows[i].hash, 32);
        rc = kura_db_exec(db, NULL,
                          "INSERT INTO transfers (id, wallet_id, state, intent_id, intent_text, "
                          "intent_hash, initiator, created_by, total, max_fee, expires_at, "
                          "created_at, updated_at) VALUES ($1, 'wl_1', $2, $3, 'kura-intent 1', $4, "
                          "'ops', 'us_1', 1000, 100, 2000000000, 1, 1)",
                          (kura_db_param[]){KURA_DB_TEXT(rows[i].id), KURA_DB_TEXT(rows[i].state),
                                            KURA_DB_TEXT(rows[i].intent_id), KURA_DB_TEXT(hex)},
                          4, err);
    }
    if (rc == KURA_DB_OK) {
        /* tr_failed_late's history: it reached awaiting_signatures. */
        kura_audit_entry e = {"us_1", "transfer.awaiting_signatures", "transfer", "tr_failed_late",
                              NULL};
        rc = kura_audit_append(db, &e, 1, NULL, NULL, err);
    }
    return rc;
}

static void fill(uint8_t h[32], uint8_t v)
{
    memset(h, v, 32);
}

/* Makes a journal with libkura's writer in a temporary directory and
 * returns its bytes. */
static uint8_t *make_journal(size_t *len, transfer_row *rows)
{
    char dir[] = "/tmp/kura-journal-test.XXXXXX";
    char path[128];
    kura_journal *j = NULL;
    kura_error err;
    uint8_t txid[32], other[32], policy[32];
    uint8_t *bytes;

    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/journal", dir);
    fill(txid, 0x77);
    fill(other, 0xee);
    fill(policy, 0x55);
    assert_int_equal(kura_journal_create(&j, path, T0, &err), KURA_OK);
    assert_int_equal(kura_journal_append_policy(j, NULL, T0 + 1, 1, policy, &err), KURA_OK);
    /* 1: matches tr_ok (awaiting_signatures) */
    assert_int_equal(kura_journal_append_signed(j, NULL, T0 + 2, rows[0].hash, rows[0].intent_id,
                                                1000, 50, txid, &err),
                     KURA_OK);
    /* 2: an intent the coordinator never wrote */
    assert_int_equal(kura_journal_append_signed(j, NULL, T0 + 3, other,
                                                "0123456789abcdef0123456789abcdef", 5000, 50, txid,
                                                &err),
                     KURA_OK);
    /* 3: tr_edited's intent id, but other bytes than the transfer's intent */
    {
        uint8_t h[32];
        fill(h, 0xdd);
        assert_int_equal(kura_journal_append_signed(j, NULL, T0 + 4, h, rows[1].intent_id, 1000,
                                                    50, txid, &err),
                         KURA_OK);
    }
    /* 4: tr_cancelled, signed though called off */
    assert_int_equal(kura_journal_append_signed(j, NULL, T0 + 5, rows[2].hash, rows[2].intent_id,
                                                1000, 50, txid, &err),
                     KURA_OK);
    /* 5: tr_early, signed before it was approved */
    assert_int_equal(kura_journal_append_signed(j, NULL, T0 + 6, rows[3].hash, rows[3].intent_id,
                                                1000, 50, txid, &err),
                     KURA_OK);
    /* 6, 7: refusals, one naming a known transfer, one too broken to name any */
    assert_int_equal(kura_journal_append_refused(j, NULL, T0 + 7, rows[0].hash,
                                                 "KURA_JOURNAL_EREPLAY", &err),
                     KURA_OK);
    assert_int_equal(kura_journal_append_refused(j, NULL, T0 + 8, NULL, "KURA_EDATA", &err),
                     KURA_OK);
    /* 8: matches tr_done (confirmed) */
    assert_int_equal(kura_journal_append_signed(j, NULL, T0 + 9, rows[4].hash, rows[4].intent_id,
                                                1000, 50, txid, &err),
                     KURA_OK);
    /* 9: tr_failed, which failed before it ever awaited signatures */
    assert_int_equal(kura_journal_append_signed(j, NULL, T0 + 10, rows[5].hash, rows[5].intent_id,
                                                1000, 50, txid, &err),
                     KURA_OK);
    /* 10: tr_failed_late, which failed after it awaited signatures: fine */
    assert_int_equal(kura_journal_append_signed(j, NULL, T0 + 11, rows[6].hash, rows[6].intent_id,
                                                1000, 50, txid, &err),
                     KURA_OK);
    kura_journal_free(j);
    bytes = (uint8_t *)tu_slurp(path, len);
    tu_remove_dir(dir);
    return bytes;
}

static transfer_row rows_template[] = {
    {"tr_ok", "awaiting_signatures", "11111111111111111111111111111111", {0}},
    {"tr_edited", "awaiting_signatures", "22222222222222222222222222222222", {0}},
    {"tr_cancelled", "cancelled", "33333333333333333333333333333333", {0}},
    {"tr_early", "approved", "44444444444444444444444444444444", {0}},
    {"tr_done", "confirmed", "55555555555555555555555555555555", {0}},
    {"tr_failed", "failed", "66666666666666666666666666666666", {0}},
    {"tr_failed_late", "failed", "77777777777777777777777777777777", {0}},
    {NULL, NULL, NULL, {0}},
};

static json_t *find_entry(json_t *arr, int64_t entry)
{
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v) {
        if (json_integer_value(json_object_get(v, "entry")) == entry)
            return v;
    }
    fail_msg("no item for entry %lld", (long long)entry);
    return NULL;
}

static void expect_reason(json_t *report, int64_t entry, const char *reason, const char *tid)
{
    json_t *m = find_entry(json_object_get(report, "mismatches"), entry);
    assert_string_equal(json_string_value(json_object_get(m, "reason")), reason);
    if (tid)
        assert_string_equal(json_string_value(json_object_get(m, "transfer_id")), tid);
    else
        assert_true(json_is_null(json_object_get(m, "transfer_id")));
}

static void test_journal_reconciled(void **state)
{
    (void)state;
    kura_store *st = kura_test_store_open();
    transfer_row rows[8];
    kura_db_error err = {0};
    kura_problem p = {0};
    json_t *report = NULL, *refusals, *page = NULL, *row;
    size_t len = 0;
    uint8_t *journal;

    memcpy(rows, rows_template, sizeof rows);
    for (size_t i = 0; i < 7; i++)
        fill(rows[i].hash, (uint8_t)(0x10 * (i + 1)));
    assert_int_equal(kura_store_write(st, seed_fn, rows, &err), KURA_DB_OK);
    journal = make_journal(&len, rows);

    assert_int_equal(kura_audit_journal_import(st, "us_auditor", journal, len, "signer-a.journal",
                                               T0 + 100, &report, &p),
                     0);
    assert_non_null(report);
    assert_false(json_is_true(json_object_get(report, "ok")));
    assert_true(json_is_true(json_object_get(json_object_get(report, "journal"), "valid")));
    assert_int_equal(json_integer_value(json_object_get(json_object_get(report, "journal"), "entries")),
                     12);
    assert_int_equal(json_integer_value(json_object_get(report, "signed")), 8);
    assert_int_equal(json_integer_value(json_object_get(report, "matched")), 3);
    assert_int_equal(json_array_size(json_object_get(report, "mismatches")), 5);
    expect_reason(report, 3, "unknown_intent", NULL);
    expect_reason(report, 4, "intent_hash_differs", "tr_edited");
    expect_reason(report, 5, "transfer_cancelled", "tr_cancelled");
    expect_reason(report, 6, "transfer_not_ready", "tr_early");
    expect_reason(report, 10, "transfer_not_ready", "tr_failed");
    refusals = json_object_get(report, "refusals");
    assert_int_equal(json_array_size(refusals), 2);
    assert_string_equal(json_string_value(json_object_get(find_entry(refusals, 7), "transfer_id")),
                        "tr_ok");
    assert_string_equal(json_string_value(json_object_get(find_entry(refusals, 7), "reason")),
                        "KURA_JOURNAL_EREPLAY");
    assert_true(json_is_null(json_object_get(find_entry(refusals, 8), "intent_hash")));
    assert_int_equal(json_integer_value(json_object_get(report, "audit_seq")), 2);

    /* The import is itself an audit row, with the summary. */
    assert_int_equal(kura_audit_list(st, 0, 0, "journal", NULL, NULL, 10, &page, &p), 0);
    assert_int_equal(json_array_size(json_object_get(page, "items")), 1);
    row = json_array_get(json_object_get(page, "items"), 0);
    assert_string_equal(json_string_value(json_object_get(row, "action")), "journal.imported");
    assert_string_equal(json_string_value(json_object_get(row, "actor")), "us_auditor");
    assert_string_equal(json_string_value(json_object_get(row, "object_id")),
                        json_string_value(json_object_get(json_object_get(report, "journal"), "head")));
    assert_int_equal(json_integer_value(json_object_get(json_object_get(row, "data"), "mismatch_count")),
                     5);
    assert_string_equal(json_string_value(json_object_get(json_object_get(row, "data"), "source")),
                        "signer-a.journal");
    json_decref(page);
    json_decref(report);
    free(journal);
    kura_store_close(st);
}

static void test_journal_all_matched(void **state)
{
    (void)state;
    kura_store *st = kura_test_store_open();
    transfer_row rows[8];
    kura_db_error err = {0};
    kura_problem p = {0};
    json_t *report = NULL;
    size_t len = 0;
    uint8_t *journal;

    memcpy(rows, rows_template, sizeof rows);
    for (size_t i = 0; i < 7; i++)
        fill(rows[i].hash, (uint8_t)(0x10 * (i + 1)));
    assert_int_equal(kura_store_write(st, seed_fn, rows, &err), KURA_DB_OK);
    journal = make_journal(&len, rows);
    /* Keep only init, policy and the first signed entry: everything matches. */
    {
        size_t cut = 0;
        int lines = 0;
        while (cut < len && lines < 3) {
            if (journal[cut++] == '\n')
                lines++;
        }
        len = cut;
    }
    assert_int_equal(kura_audit_journal_import(st, "system", journal, len, NULL, T0 + 100, &report, &p),
                     0);
    assert_true(json_is_true(json_object_get(report, "ok")));
    assert_int_equal(json_integer_value(json_object_get(report, "matched")), 1);
    assert_int_equal(json_array_size(json_object_get(report, "mismatches")), 0);
    json_decref(report);
    free(journal);
    kura_store_close(st);
}

static void test_journal_damaged(void **state)
{
    (void)state;
    kura_store *st = kura_test_store_open();
    transfer_row rows[8];
    kura_problem p = {0};
    json_t *report = NULL, *jr, *vr = NULL;
    size_t len = 0;
    uint8_t *journal;
    char *amount;

    memcpy(rows, rows_template, sizeof rows);
    for (size_t i = 0; i < 7; i++)
        fill(rows[i].hash, (uint8_t)(0x10 * (i + 1)));
    journal = make_journal(&len, rows);
    /* Entry 2's amount edited: its hash no longer holds. */
    amount = strstr((char *)journal, " 1000 50 ");
    assert_non_null(amount);
    amount[1] = '9';
    assert_int_equal(kura_audit_journal_import(st, "system", journal, len, NULL, T0, &report, &p), 0);
    assert_false(json_is_true(json_object_get(report, "ok")));
    jr = json_object_get(report, "journal");
    assert_false(json_is_true(json_object_get(jr, "valid")));
    assert_int_equal(json_integer_value(json_object_get(jr, "bad_entry")), 2);
    assert_non_null(strstr(json_string_value(json_object_get(jr, "error")), "KURA_EDATA"));
    assert_int_equal(json_integer_value(json_object_get(report, "audit_seq")), 1);
    json_decref(report);
    /* The audit chain stays sound. */
    assert_int_equal(kura_audit_verify(st, 0, NULL, &vr, &p), 0);
    assert_true(json_is_true(json_object_get(vr, "ok")));
    json_decref(vr);
    free(journal);
    kura_store_close(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_journal_reconciled),
        cmocka_unit_test(test_journal_all_matched),
        cmocka_unit_test(test_journal_damaged),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
