/*
 * server/store/store_people.h — the typed queries of the people domain
 * (server/domain/people.h): users, sessions, sign-in attempts, API keys,
 * idempotency keys. Each takes the kura_db of the transaction it runs in.
 *
 * Returns: KURA_DB_OK, KURA_DB_ENOTFOUND (no such row), KURA_DB_ECONSTRAINT
 * (a unique key is taken), KURA_DB_ECONFLICT (a conditional update changed
 * nothing), or a driver code. Row outputs are cleared on entry; on failure
 * they hold nothing (and nothing to free). Rows that carry secrets (password
 * hashes, TOTP secrets) are wiped by their _clear function.
 */
#ifndef KURA_SERVER_STORE_PEOPLE_H
#define KURA_SERVER_STORE_PEOPLE_H

#include <stddef.h>
#include <stdint.h>

#include "store/db.h"

/* ---- users ---- */

typedef struct kura_user_row {
    char id[KURA_DB_ID_SIZE];
    char username[65];
    char role[24];           /* the role's name (people.h: kura_role_name) */
    char approver_name[65];  /* "" when NULL */
    int disabled;            /* 0 or 1 */
    char *password_hash;     /* malloc'd Argon2id string (secret: wiped on clear) */
    char *totp_secret;       /* malloc'd base32 or NULL: not enrolled (secret) */
    char *totp_pending;      /* malloc'd base32 or NULL: enrolment awaiting its first code (secret) */
    int64_t totp_last_step;  /* the last TOTP step accepted (replay guard), 0 none */
    int64_t created_at;
    int64_t updated_at;
} kura_user_row;

/* Wipes the secrets and frees what the row holds; the row is then empty. */
void kura_user_row_clear(kura_user_row *r);

/* Inserts r (id, username, role, approver_name ("" -> NULL), disabled,
 * password_hash, created_at, updated_at). ECONSTRAINT: the user name is taken. */
int kura_store_user_insert(kura_db *db, const kura_user_row *r, kura_db_error *err);
int kura_store_user_by_id(kura_db *db, const char *id, kura_user_row *out, kura_db_error *err);
int kura_store_user_by_name(kura_db *db, const char *username, kura_user_row *out, kura_db_error *err);
/* Up to `limit` users with id > after (NULL: from the start) in id order.
 * *rows: malloc'd array of *count rows; free with kura_user_rows_free. */
int kura_store_user_list(kura_db *db, const char *after, size_t limit, kura_user_row **rows,
                         size_t *count, kura_db_error *err);
void kura_user_rows_free(kura_user_row *rows, size_t count);
/* Writes role, approver_name, disabled, updated_at of r->id. ENOTFOUND. */
int kura_store_user_update(kura_db *db, const kura_user_row *r, kura_db_error *err);
int kura_store_user_set_password(kura_db *db, const char *id, const char *password_hash,
                                 int64_t now, kura_db_error *err);
/* secret NULL clears the pending enrolment. */
int kura_store_user_set_totp_pending(kura_db *db, const char *id, const char *secret,
                                     kura_db_error *err);
/* Moves the pending secret in force, with `step` as its last used step. */
int kura_store_user_confirm_totp(kura_db *db, const char *id, int64_t step, int64_t now,
                                 kura_db_error *err);
/* Records that TOTP step `step` was used, if it is after the last one used;
 * ECONFLICT when it is not (a replayed code). */
int kura_store_user_use_totp_step(kura_db *db, const char *id, int64_t step, kura_db_error *err);

/* ---- sessions ---- */

typedef struct kura_session_row {
    char id[KURA_DB_ID_SIZE];  /* public id (audit rows name the session by it) */
    char token_hash[65];       /* hex SHA-256 of the cookie token */
    char user_id[KURA_DB_ID_SIZE];
    char csrf_token[65];
    char client_addr[64];
    int64_t created_at;
    int64_t expires_at;        /* absolute end */
    int64_t last_seen_at;
} kura_session_row;

int kura_store_session_insert(kura_db *db, const kura_session_row *r, kura_db_error *err);
int kura_store_session_by_hash(kura_db *db, const char *token_hash, kura_session_row *out,
                               kura_db_error *err);
int kura_store_session_touch(kura_db *db, const char *token_hash, int64_t now, kura_db_error *err);
/* ENOTFOUND when there was none. */
int kura_store_session_delete(kura_db *db, const char *token_hash, kura_db_error *err);
int kura_store_session_delete_user(kura_db *db, const char *user_id, kura_db_error *err);
/* Deletes sessions past their absolute end or idle for `idle` seconds. */
int kura_store_session_delete_expired(kura_db *db, int64_t now, int64_t idle, kura_db_error *err);

/* ---- sign-in attempts (fixed windows) ---- */

/* The failures counted for (scope, subject) in the window holding `now`
 * (windows start at multiples of `window`); 0 when none. */
int kura_store_signin_failures(kura_db *db, const char *scope, const char *subject, int64_t now,
                               int64_t window, int64_t *failures, kura_db_error *err);
/* Counts one failure in the window holding `now`; *failures (may be NULL)
 * gets the count with this one, read in the same statement (on PostgreSQL
 * concurrent callers wait for the row lock, so each sees its own count). */
int kura_store_signin_fail(kura_db *db, const char *scope, const char *subject, int64_t now,
                           int64_t window, int64_t *failures, kura_db_error *err);
/* Takes back one failure counted in the window holding `now` (sign-in
 * counts each attempt as a failure up front). */
int kura_store_signin_forgive(kura_db *db, const char *scope, const char *subject, int64_t now,
                              int64_t window, kura_db_error *err);
/* Deletes the counts of windows that started before `before`. */
int kura_store_signin_sweep(kura_db *db, int64_t before, kura_db_error *err);
/* Forgets the failures of (scope, subject). */
int kura_store_signin_reset(kura_db *db, const char *scope, const char *subject, kura_db_error *err);

/* ---- API keys ---- */

typedef struct kura_apikey_row {
    char id[KURA_DB_ID_SIZE];
    char name[65];
    char prefix[17];          /* 16 hex */
    char secret_hash[65];     /* hex SHA-256 of the whole key */
    char role[24];
    char scopes[400];         /* space-separated names */
    char *cidrs;              /* malloc'd, space-separated ("" any) */
    int64_t expires_at;       /* 0: never (NULL) */
    char created_by[KURA_DB_ID_SIZE];
    int64_t created_at;
    int64_t revoked_at;       /* 0: not revoked (NULL) */
    int64_t last_used_at;     /* 0: never (NULL) */
} kura_apikey_row;

void kura_apikey_row_clear(kura_apikey_row *r);
int kura_store_apikey_insert(kura_db *db, const kura_apikey_row *r, kura_db_error *err);
int kura_store_apikey_by_id(kura_db *db, const char *id, kura_apikey_row *out, kura_db_error *err);
int kura_store_apikey_by_prefix(kura_db *db, const char *prefix, kura_apikey_row *out,
                                kura_db_error *err);
int kura_store_apikey_list(kura_db *db, const char *after, size_t limit, kura_apikey_row **rows,
                           size_t *count, kura_db_error *err);
void kura_apikey_rows_free(kura_apikey_row *rows, size_t count);
/* ECONFLICT: revoked already (or no such key). */
int kura_store_apikey_revoke(kura_db *db, const char *id, int64_t now, kura_db_error *err);
/* Sets last_used_at = now when it is NULL or older than now - min_interval. */
int kura_store_apikey_touch(kura_db *db, const char *id, int64_t now, int64_t min_interval,
                            kura_db_error *err);

/* ---- idempotency keys ---- */

typedef struct kura_idem_row {
    char request_hash[65];
    int done;                 /* state 'done' (else 'running') */
    int64_t status;           /* done: the HTTP status */
    char *response;           /* done: malloc'd body */
    int64_t created_at;
} kura_idem_row;

void kura_idem_row_clear(kura_idem_row *r);
int kura_store_idem_get(kura_db *db, const char *principal, const char *key, kura_idem_row *out,
                        kura_db_error *err);
/* Inserts a running claim; ECONFLICT when a row exists already. */
int kura_store_idem_insert(kura_db *db, const char *principal, const char *key,
                           const char *request_hash, int64_t now, kura_db_error *err);
/* Inserts a done key with its answer (a claim made inside the creating
 * transaction); ECONFLICT when a row exists already. */
int kura_store_idem_insert_done(kura_db *db, const char *principal, const char *key,
                                const char *request_hash, int64_t now, int64_t status,
                                const char *response, kura_db_error *err);
/* Replaces the row whose created_at is `old_created_at` by a new running claim
 * (taking over a stale claim or an expired key); ECONFLICT when another took it. */
int kura_store_idem_replace(kura_db *db, const char *principal, const char *key,
                            const char *request_hash, int64_t old_created_at, int64_t now,
                            kura_db_error *err);
/* running -> done with status and response; ECONFLICT when not running,
 * or (claimed_at > 0) when the running claim is not the one made at
 * claimed_at (another request took it over). */
int kura_store_idem_complete(kura_db *db, const char *principal, const char *key, int64_t claimed_at,
                             int64_t status, const char *response, kura_db_error *err);
/* Deletes a running claim (claimed_at > 0: only the one made then; none:
 * KURA_DB_OK). */
int kura_store_idem_release(kura_db *db, const char *principal, const char *key, int64_t claimed_at,
                            kura_db_error *err);

#endif /* KURA_SERVER_STORE_PEOPLE_H */
