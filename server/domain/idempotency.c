/*
 * server/domain/idempotency.c — Idempotency-Key for creating POSTs.
 *
 * The API claims (principal, key) with the request's hash before the domain
 * call, in its own transaction: a new key is inserted as "running"; the
 * domain's creating transaction turns it "done" with the response it gives
 * (kura_idempotency_complete), so the object and the remembered response
 * commit together; a failed call releases the claim. A retry then finds the
 * response (REPLAY), a different request under the same key is refused
 * (MISMATCH), and a retry while the first is still running is told so
 * (RUNNING). Routes whose creation is one transaction skip the claim's own
 * transaction: the key is inserted already done inside the creation
 * (kura_idem.request_hash), and only when that fails — the key exists, or
 * the creation was refused — does the API fall back to claiming first. A
 * claim left running by a server that died is taken over after
 * KURA_IDEM_TAKEOVER seconds; a done key is forgotten after KURA_IDEM_TTL.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "domain/people_internal.h"

void kura_idempotency_request_hash(char out[65], const char *method, const char *path,
                                   const char *body, size_t body_len)
{
    crypto_hash_sha256_state h;
    uint8_t d[crypto_hash_sha256_BYTES];
    static const uint8_t zero = 0;
    crypto_hash_sha256_init(&h);
    if (method)
        crypto_hash_sha256_update(&h, (const uint8_t *)method, strlen(method));
    crypto_hash_sha256_update(&h, &zero, 1);
    if (path)
        crypto_hash_sha256_update(&h, (const uint8_t *)path, strlen(path));
    crypto_hash_sha256_update(&h, &zero, 1);
    if (body && body_len)
        crypto_hash_sha256_update(&h, (const uint8_t *)body, body_len);
    crypto_hash_sha256_final(&h, d);
    sodium_bin2hex(out, 65, d, sizeof d);
}

void kura_idem_claim_clear(kura_idem_claim *c)
{
    if (!c)
        return;
    free(c->response);
    memset(c, 0, sizeof *c);
}

static int key_valid(const char *key)
{
    size_t n = 0;
    if (!key)
        return 0;
    for (; key[n]; n++)
        if (n >= 255 || key[n] < 0x20 || key[n] > 0x7e)
            return 0;
    return n >= 1;
}

static int hash_valid(const char *h)
{
    size_t n = 0;
    if (!h)
        return 0;
    for (; h[n]; n++)
        if (n >= 64 || !((h[n] >= '0' && h[n] <= '9') || (h[n] >= 'a' && h[n] <= 'f')))
            return 0;
    return n == 64;
}

typedef struct claim_arg {
    const kura_idem *idem;
    const char *hash;
    int64_t now;
    kura_idem_claim *out;
} claim_arg;

static int claim_fn(kura_db *db, void *varg, kura_db_error *err)
{
    claim_arg *a = varg;
    kura_idem_row row;
    int rc;
    kura_idem_claim_clear(a->out);
    for (int round = 0; round < 2; round++) {
        rc = kura_store_idem_get(db, a->idem->principal_id, a->idem->key, &row, err);
        if (rc == KURA_DB_ENOTFOUND) {
            rc = kura_store_idem_insert(db, a->idem->principal_id, a->idem->key, a->hash, a->now,
                                        err);
            if (rc == KURA_DB_ECONFLICT)
                continue; /* another claimed it first (PostgreSQL): read theirs */
            if (rc == KURA_DB_OK) {
                a->out->state = KURA_IDEM_NEW;
                a->out->claimed_at = a->now;
            }
            return rc;
        }
        if (rc != KURA_DB_OK)
            return rc;
        if (row.done && a->now - row.created_at >= KURA_IDEM_TTL) {
            /* Forgotten: the key is new again. */
            rc = kura_store_idem_replace(db, a->idem->principal_id, a->idem->key, a->hash,
                                         row.created_at, a->now, err);
            a->out->state = rc == KURA_DB_ECONFLICT ? KURA_IDEM_RUNNING : KURA_IDEM_NEW;
            a->out->claimed_at = rc == KURA_DB_OK ? a->now : 0;
            kura_idem_row_clear(&row);
            return rc == KURA_DB_ECONFLICT ? KURA_DB_OK : rc;
        }
        if (strlen(row.request_hash) != 64 || sodium_memcmp(row.request_hash, a->hash, 64) != 0) {
            a->out->state = KURA_IDEM_MISMATCH;
        } else if (row.done) {
            a->out->state = KURA_IDEM_REPLAY;
            a->out->http_status = (int)row.status;
            a->out->response = row.response;
            row.response = NULL;
        } else if (a->now - row.created_at >= KURA_IDEM_TAKEOVER) {
            /* Left running by a request that never finished (a server that
             * died): take it over, unless another retry just did. */
            rc = kura_store_idem_replace(db, a->idem->principal_id, a->idem->key, a->hash,
                                         row.created_at, a->now, err);
            a->out->state = rc == KURA_DB_ECONFLICT ? KURA_IDEM_RUNNING : KURA_IDEM_NEW;
            a->out->claimed_at = rc == KURA_DB_OK ? a->now : 0;
            if (rc == KURA_DB_ECONFLICT)
                rc = KURA_DB_OK;
            kura_idem_row_clear(&row);
            return rc;
        } else {
            a->out->state = KURA_IDEM_RUNNING;
        }
        kura_idem_row_clear(&row);
        return KURA_DB_OK;
    }
    /* Inserted and gone again between two statements: run the claim again. */
    if (err) {
        err->code = KURA_DB_EBUSY;
        snprintf(err->message, sizeof err->message, "idempotency: the key changed meanwhile");
    }
    return KURA_DB_EBUSY;
}

int kura_idempotency_claim(kura_store *st, const kura_idem *idem, const char request_hash[65],
                           int64_t now, kura_idem_claim *out, kura_problem *p)
{
    claim_arg a;
    kura_db_error err = {0};
    int rc;
    if (out)
        memset(out, 0, sizeof *out);
    if (!st || !idem || !out || !idem->principal_id || !*idem->principal_id ||
        !hash_valid(request_hash))
        return kura_problem_set(p, KURA_PROBLEM_INTERNAL, "kura_idempotency_claim: bad arguments");
    if (!key_valid(idem->key))
        return kura_problem_set(p, KURA_PROBLEM_INVALID_FIELD,
                                "Idempotency-Key must be 1 to 255 printable ASCII characters");
    a.idem = idem;
    a.hash = request_hash;
    a.now = now;
    a.out = out;
    rc = kura_store_write(st, claim_fn, &a, &err);
    if (rc != KURA_DB_OK) {
        kura_idem_claim_clear(out);
        return kura_problem_from_db(p, rc, &err, NULL);
    }
    if (out->state == KURA_IDEM_MISMATCH)
        return kura_problem_set(p, KURA_PROBLEM_IDEMPOTENCY_KEY_REUSED,
                                "this Idempotency-Key was used with another request");
    if (out->state == KURA_IDEM_RUNNING)
        return kura_problem_set(p, KURA_PROBLEM_IDEMPOTENCY_IN_PROGRESS,
                                "a request with this Idempotency-Key is still running");
    return 0;
}

int kura_idempotency_complete(kura_db *db, const kura_idem *idem, int http_status,
                              const char *response_json, kura_db_error *err)
{
    if (!idem || !idem->key)
        return KURA_DB_OK;
    if (!db || !idem->principal_id)
        return KURA_DB_EINVAL;
    if (idem->request_hash)
        return hash_valid(idem->request_hash)
                   ? kura_store_idem_insert_done(db, idem->principal_id, idem->key,
                                                 idem->request_hash, idem->claimed_at,
                                                 http_status, response_json, err)
                   : KURA_DB_EINVAL;
    return kura_store_idem_complete(db, idem->principal_id, idem->key, idem->claimed_at, http_status,
                                    response_json,
                                    err);
}

typedef struct release_arg {
    const kura_idem *idem;
} release_arg;

static int release_fn(kura_db *db, void *varg, kura_db_error *err)
{
    release_arg *a = varg;
    return kura_store_idem_release(db, a->idem->principal_id, a->idem->key, a->idem->claimed_at, err);
}

int kura_idempotency_release(kura_store *st, const kura_idem *idem, kura_problem *p)
{
    release_arg a = {idem};
    kura_db_error err = {0};
    int rc;
    if (!st)
        return kura_problem_set(p, KURA_PROBLEM_INTERNAL, "kura_idempotency_release: bad arguments");
    if (!idem || !idem->key || !idem->principal_id)
        return 0;
    rc = kura_store_write(st, release_fn, &a, &err);
    return rc == KURA_DB_OK ? 0 : kura_problem_from_db(p, rc, &err, NULL);
}
