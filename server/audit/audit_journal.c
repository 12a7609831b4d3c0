/*
 * server/audit/audit_journal.c — importing a kura-cold journal and holding
 * it against the transfers the coordinator knows.
 *
 * The signer records every signature it made (docs/journal-format.md). A
 * signature the coordinator cannot account for — an intent it never wrote,
 * an intent whose bytes differ from the transfer's, a transfer that was
 * never approved or was called off — is exactly what an attacker who owned
 * the coordinator would leave behind, so each one is named.
 */
#include "audit/audit_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "kura/journal.h"

/* Mismatches kept in the audit row's data (the report has them all). */
#define AUDIT_MISMATCHES_MAX 100

typedef struct journal_arg {
    const char *actor;
    const char *source;
    const uint8_t *data;
    size_t len;
    int64_t now;
    /* the journal's own verdict, from kura_journal_parse */
    int valid;
    uint64_t entries;
    uint64_t bad_entry;
    char head[65];
    char error[KURA_ERROR_MESSAGE_MAX + 64];
    /* the reconciliation (phase 1) */
    int64_t nsigned, matched;
    json_t *mismatches, *refusals;
    json_t *report; /* out */
} journal_arg;

/* How a transfer's state reads against a signature the signer made. */
static const char *state_verdict(const char *state)
{
    static const char *const ok[] = {"awaiting_signatures", "signed", "broadcast",
                                     "confirmed", "replaced", "failed"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        if (strcmp(state, ok[i]) == 0)
            return NULL;
    }
    if (strcmp(state, "cancelled") == 0)
        return "transfer_cancelled";
    if (strcmp(state, "rejected") == 0)
        return "transfer_rejected";
    if (strcmp(state, "expired") == 0)
        return "transfer_expired";
    return "transfer_not_ready"; /* awaiting_approval, approved: signed before approval */
}

static int find_transfer(kura_db *db, const char *column, const char *value,
                         kura_db_result **res, kura_db_error *err)
{
    /* column is one of two constants, never input. */
    const char *sql = strcmp(column, "intent_id") == 0
                          ? "SELECT id, state, intent_hash, intent_id FROM transfers "
                            "WHERE intent_id = $1 ORDER BY id LIMIT 1"
                          : "SELECT id, state, intent_hash, intent_id FROM transfers "
                            "WHERE intent_hash = $1 ORDER BY id LIMIT 1";
    return kura_db_exec(db, res, sql, (kura_db_param[]){KURA_DB_TEXT(value)}, 1, err);
}

static json_t *opt_string(const char *s)
{
    return s ? json_string(s) : json_null();
}

/* One `signed` entry against the transfers; NULL when it matches. */
static int reconcile_signed(kura_db *db, const kura_journal_entry *e, json_t **mismatch,
                            kura_db_error *err)
{
    kura_db_result *res = NULL;
    char hash[65];
    const char *reason = NULL, *tid = NULL, *state = NULL;
    char message[200] = "";
    int rc;

    *mismatch = NULL;
    sodium_bin2hex(hash, sizeof hash, e->intent_hash, 32);
    rc = find_transfer(db, "intent_id", e->intent_id, &res, err);
    if (rc != KURA_DB_OK)
        return rc;
    if (kura_db_result_rows(res) == 0) {
        reason = "unknown_intent";
        snprintf(message, sizeof message, "no transfer has intent id %s", e->intent_id);
    } else {
        tid = kura_audit_text(res, 0, 0);
        state = kura_audit_text(res, 0, 1);
        if (strcmp(kura_audit_text(res, 0, 2), hash) != 0) {
            reason = "intent_hash_differs";
            snprintf(message, sizeof message,
                     "transfer %s has intent %s with hash %.16s..., the signer signed %.16s...",
                     tid, e->intent_id, kura_audit_text(res, 0, 2), hash);
        } else if ((reason = state_verdict(state)) != NULL) {
            snprintf(message, sizeof message, "the signer signed transfer %s, which is %s", tid,
                     state);
        } else if (strcmp(state, "failed") == 0) {
            /* A transfer fails from approved too (no package could be
             * built): only one that reached awaiting_signatures, per its
             * audit rows, was ever meant to be signed. */
            kura_db_result *h = NULL;
            rc = kura_db_exec(db, &h,
                              "SELECT seq FROM audit_log WHERE object_type = 'transfer' AND "
                              "object_id = $1 AND action = 'transfer.awaiting_signatures' LIMIT 1",
                              (kura_db_param[]){KURA_DB_TEXT(tid)}, 1, err);
            if (rc == KURA_DB_OK && kura_db_result_rows(h) == 0) {
                reason = "transfer_not_ready";
                snprintf(message, sizeof message,
                         "the signer signed transfer %s, which failed before it awaited "
                         "signatures",
                         tid);
            }
            kura_db_result_free(h);
            if (rc != KURA_DB_OK) {
                kura_db_result_free(res);
                return rc;
            }
        }
    }
    if (reason) {
        *mismatch = json_pack("{sI ss ss ss so so ss}", "entry", (json_int_t)e->seq, "intent_id",
                              e->intent_id, "intent_hash", hash, "reason", reason, "transfer_id",
                              opt_string(tid), "state", opt_string(state), "message", message);
        if (!*mismatch)
            rc = kura_db_fail(err, KURA_DB_ENOMEM, "audit: out of memory");
    }
    kura_db_result_free(res);
    return rc;
}

static int reconcile_refused(kura_db *db, const kura_journal_entry *e, json_t **out,
                             kura_db_error *err)
{
    kura_db_result *res = NULL;
    char hash[65] = "";
    const char *tid = NULL;
    int rc = KURA_DB_OK;
    *out = NULL;
    if (e->has_intent_hash) {
        sodium_bin2hex(hash, sizeof hash, e->intent_hash, 32);
        rc = find_transfer(db, "intent_hash", hash, &res, err);
        if (rc != KURA_DB_OK)
            return rc;
        if (kura_db_result_rows(res) > 0)
            tid = kura_audit_text(res, 0, 0);
    }
    *out = json_pack("{sI sI so ss so}", "entry", (json_int_t)e->seq, "time",
                     (json_int_t)e->time, "intent_hash",
                     e->has_intent_hash ? json_string(hash) : json_null(), "reason", e->reason,
                     "transfer_id", opt_string(tid));
    kura_db_result_free(res);
    return *out ? KURA_DB_OK : kura_db_fail(err, KURA_DB_ENOMEM, "audit: out of memory");
}

/* Phase 1, in a read transaction: every entry against the transfers. A
 * journal of a million entries must not hold the write lock (and with it
 * every request) while it is reconciled. */
static int reconcile_fn(kura_db *db, void *arg, kura_db_error *err)
{
    journal_arg *a = arg;
    size_t pos = 0;
    int rc = KURA_DB_OK;

    json_decref(a->mismatches);
    json_decref(a->refusals);
    a->nsigned = a->matched = 0;
    a->mismatches = json_array();
    a->refusals = json_array();
    if (!a->mismatches || !a->refusals)
        return kura_db_fail(err, KURA_DB_ENOMEM, "audit: out of memory");
    /* kura_journal_parse verified the whole chain: every line is a complete,
     * well-formed entry. */
    while (a->valid && pos < a->len && rc == KURA_DB_OK) {
        const uint8_t *nl = memchr(a->data + pos, '\n', a->len - pos);
        size_t n = nl ? (size_t)(nl - (a->data + pos)) : a->len - pos;
        kura_journal_entry e;
        kura_error kerr;
        json_t *item = NULL;
        if (kura_journal_entry_parse(&e, a->data + pos, n, &kerr) != KURA_OK)
            return kura_db_fail(err, KURA_DB_EINVAL, "audit: journal entry does not parse");
        pos += n + 1;
        if (e.kind == KURA_JOURNAL_SIGNED) {
            a->nsigned++;
            rc = reconcile_signed(db, &e, &item, err);
            if (rc == KURA_DB_OK && item)
                json_array_append_new(a->mismatches, item);
            else if (rc == KURA_DB_OK)
                a->matched++;
        } else if (e.kind == KURA_JOURNAL_REFUSED) {
            rc = reconcile_refused(db, &e, &item, err);
            if (rc == KURA_DB_OK)
                json_array_append_new(a->refusals, item);
        }
    }
    return rc;
}

/* Phase 2, in a write transaction: the import's audit row, and the report. */
static int record_fn(kura_db *db, void *arg, kura_db_error *err)
{
    journal_arg *a = arg;
    json_t *summary = NULL, *journal = NULL, *kept = NULL;
    int64_t seq = 0;
    kura_audit_entry entry;
    int rc = KURA_DB_OK;

    json_decref(a->report);
    a->report = NULL;
    journal = json_pack("{sb sI ss so so}", "valid", a->valid, "entries",
                        (json_int_t)a->entries, "head", a->head, "error",
                        a->valid ? json_null() : json_string(a->error), "bad_entry",
                        a->valid ? json_null() : json_integer((json_int_t)a->bad_entry));
    kept = json_array();
    for (size_t i = 0; kept && i < json_array_size(a->mismatches) && i < AUDIT_MISMATCHES_MAX; i++)
        json_array_append(kept, json_array_get(a->mismatches, i));
    summary = json_pack("{so sO sI sI sI sI so}", "source", opt_string(a->source), "journal",
                        journal, "signed", (json_int_t)a->nsigned, "matched",
                        (json_int_t)a->matched, "refused", (json_int_t)json_array_size(a->refusals),
                        "mismatch_count", (json_int_t)json_array_size(a->mismatches), "mismatches",
                        kept);
    if (!summary) {
        rc = kura_db_fail(err, KURA_DB_ENOMEM, "audit: out of memory");
        goto out;
    }
    entry.actor = a->actor;
    entry.action = "journal.imported";
    entry.object_type = "journal";
    entry.object_id = a->head;
    entry.data = summary;
    rc = kura_audit_append(db, &entry, a->now, &seq, NULL, err);
    if (rc != KURA_DB_OK)
        goto out;
    a->report = json_pack("{sb sO sI sI sI sO sO sI}", "ok",
                          a->valid && json_array_size(a->mismatches) == 0, "journal", journal,
                          "signed", (json_int_t)a->nsigned, "matched", (json_int_t)a->matched,
                          "refused", (json_int_t)json_array_size(a->refusals), "mismatches",
                          a->mismatches, "refusals", a->refusals, "audit_seq", (json_int_t)seq);
    if (!a->report)
        rc = kura_db_fail(err, KURA_DB_ENOMEM, "audit: out of memory");
out:
    json_decref(summary);
    json_decref(journal);
    return rc;
}

int kura_audit_journal_import(kura_store *st, const char *actor, const uint8_t *journal,
                              size_t len, const char *source, int64_t now, json_t **report,
                              kura_problem *p)
{
    journal_arg a;
    kura_journal *j = NULL;
    kura_error kerr;
    kura_db_error err = {0};
    int rc;

    if (report)
        *report = NULL;
    if (!st || !report || !actor || !*actor)
        return kura_problem_set(p, KURA_PROBLEM_INTERNAL, "audit: bad arguments");
    if (!journal && len > 0)
        return kura_problem_set(p, KURA_PROBLEM_INVALID_FIELD, "no journal bytes");
    memset(&a, 0, sizeof a);
    a.actor = actor;
    a.source = source;
    a.data = journal;
    a.len = len;
    a.now = now;
    memset(&kerr, 0, sizeof kerr);
    rc = kura_journal_parse(&j, &a.bad_entry, journal, len, &kerr);
    if (rc == KURA_OK) {
        uint8_t head[32];
        a.valid = 1;
        kura_journal_head(j, &a.entries, head, NULL);
        sodium_bin2hex(a.head, sizeof a.head, head, sizeof head);
        a.bad_entry = 0;
    } else if (rc == KURA_ENOMEM) {
        return kura_problem_set(p, KURA_PROBLEM_INTERNAL, "audit: out of memory");
    } else {
        /* A damaged journal is named by the hash of its bytes. */
        uint8_t h[32];
        crypto_hash_sha256(h, journal ? journal : (const uint8_t *)"", len);
        sodium_bin2hex(a.head, sizeof a.head, h, sizeof h);
        snprintf(a.error, sizeof a.error, "%s: %s", kura_journal_status_name(rc), kerr.message);
    }
    kura_journal_free(j);
    rc = kura_store_read(st, reconcile_fn, &a, &err);
    if (rc == KURA_DB_OK)
        rc = kura_store_write(st, record_fn, &a, &err);
    json_decref(a.mismatches);
    json_decref(a.refusals);
    if (rc != KURA_DB_OK) {
        json_decref(a.report);
        return kura_problem_from_db(p, rc, &err, NULL);
    }
    *report = a.report;
    return 0;
}
