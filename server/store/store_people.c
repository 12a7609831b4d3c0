/*
 * server/store/store_people.c — the people domain's SQL (store_people.h), in
 * the common dialect of db.h: users, sessions, sign-in attempts, API keys,
 * idempotency keys. Every value is a bound parameter; nothing is spliced.
 */
#include "store/store_people.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "store/db_internal.h"

/* ---- helpers ---- */

/* Copies column `col` of row 0 into out[size] ("" for NULL). Returns
 * KURA_DB_OK, or KURA_DB_EIO when the stored text does not fit (a damaged row). */
static int copy_text(char *out, size_t size, const kura_db_result *res, size_t row, size_t col,
                     kura_db_error *err)
{
    const char *v = kura_db_result_text(res, row, col);
    size_t n = v ? strlen(v) : 0;
    if (n >= size)
        return kura_db_fail(err, KURA_DB_EIO, "store: a stored value is longer than its field");
    memcpy(out, v ? v : "", n);
    out[n] = '\0';
    return KURA_DB_OK;
}

/* A malloc'd copy of column `col` (NULL stays NULL). */
static int dup_text(char **out, const kura_db_result *res, size_t row, size_t col,
                    kura_db_error *err)
{
    const char *v = kura_db_result_text(res, row, col);
    *out = NULL;
    if (!v)
        return KURA_DB_OK;
    *out = strdup(v);
    return *out ? KURA_DB_OK : kura_db_fail(err, KURA_DB_ENOMEM, "store: out of memory");
}

/* An integer column; NULL reads as 0. */
static int get_int(int64_t *out, const kura_db_result *res, size_t row, size_t col,
                   kura_db_error *err)
{
    *out = 0;
    if (!kura_db_result_text(res, row, col))
        return KURA_DB_OK;
    if (kura_db_result_int(out, res, row, col) != KURA_DB_OK)
        return kura_db_fail(err, KURA_DB_EIO, "store: a stored number does not parse");
    return KURA_DB_OK;
}

/* Wipes and frees a secret string. */
static void free_secret(char **s)
{
    if (*s) {
        sodium_memzero(*s, strlen(*s));
        free(*s);
        *s = NULL;
    }
}

/* Runs a write that must change exactly one row; `none` when it changed none. */
static int exec_one(kura_db *db, const char *sql, const kura_db_param *params, size_t n, int none,
                    kura_db_error *err)
{
    kura_db_result *res = NULL;
    int rc = kura_db_exec(db, &res, sql, params, n, err);
    if (rc == KURA_DB_OK && kura_db_result_changes(res) == 0)
        rc = kura_db_fail(err, none, "store: no row changed");
    kura_db_result_free(res);
    return rc;
}

/* Paging: a limit of 0 or over 1000 is refused (the domain checks 1..500). */
static int check_limit(size_t limit, kura_db_error *err)
{
    if (limit == 0 || limit > 1000)
        return kura_db_fail(err, KURA_DB_EINVAL, "store: bad page size");
    return KURA_DB_OK;
}

/* ---- users ---- */

#define USER_COLUMNS                                                                          \
    "id, username, role, approver_name, disabled, password_hash, totp_secret, totp_pending, " \
    "totp_last_step, created_at, updated_at"

void kura_user_row_clear(kura_user_row *r)
{
    if (!r)
        return;
    free_secret(&r->password_hash);
    free_secret(&r->totp_secret);
    free_secret(&r->totp_pending);
    sodium_memzero(r, sizeof *r);
}

static int user_from(kura_user_row *r, const kura_db_result *res, size_t row, kura_db_error *err)
{
    int64_t disabled = 0;
    int rc = copy_text(r->id, sizeof r->id, res, row, 0, err);
    if (rc == KURA_DB_OK)
        rc = copy_text(r->username, sizeof r->username, res, row, 1, err);
    if (rc == KURA_DB_OK)
        rc = copy_text(r->role, sizeof r->role, res, row, 2, err);
    if (rc == KURA_DB_OK)
        rc = copy_text(r->approver_name, sizeof r->approver_name, res, row, 3, err);
    if (rc == KURA_DB_OK)
        rc = get_int(&disabled, res, row, 4, err);
    if (rc == KURA_DB_OK)
        rc = dup_text(&r->password_hash, res, row, 5, err);
    if (rc == KURA_DB_OK)
        rc = dup_text(&r->totp_secret, res, row, 6, err);
    if (rc == KURA_DB_OK)
        rc = dup_text(&r->totp_pending, res, row, 7, err);
    if (rc == KURA_DB_OK)
        rc = get_int(&r->totp_last_step, res, row, 8, err);
    if (rc == KURA_DB_OK)
        rc = get_int(&r->created_at, res, row, 9, err);
    if (rc == KURA_DB_OK)
        rc = get_int(&r->updated_at, res, row, 10, err);
    r->disabled = disabled != 0;
    if (rc == KURA_DB_OK && !r->password_hash)
        rc = kura_db_fail(err, KURA_DB_EIO, "store: a user without a password hash");
    if (rc != KURA_DB_OK)
        kura_user_row_clear(r);
    return rc;
}

int kura_store_user_insert(kura_db *db, const kura_user_row *r, kura_db_error *err)
{
    return kura_db_exec(
        db, NULL,
        "INSERT INTO users (id, username, password_hash, role, approver_name, disabled, "
        "created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        (kura_db_param[]){KURA_DB_TEXT(r->id), KURA_DB_TEXT(r->username),
                          KURA_DB_TEXT(r->password_hash), KURA_DB_TEXT(r->role),
                          r->approver_name[0] ? KURA_DB_TEXT(r->approver_name) : KURA_DB_NULL,
                          KURA_DB_INT(r->disabled ? 1 : 0), KURA_DB_INT(r->created_at),
                          KURA_DB_INT(r->updated_at)},
        8, err);
}

static int user_by(kura_db *db, const char *sql, const char *key, kura_user_row *out,
                   kura_db_error *err)
{
    kura_db_result *res = NULL;
    int rc;
    memset(out, 0, sizeof *out);
    if (!key)
        return kura_db_fail(err, KURA_DB_EINVAL, "store: no key");
    rc = kura_db_exec(db, &res, sql, (kura_db_param[]){KURA_DB_TEXT(key)}, 1, err);
    if (rc == KURA_DB_OK && kura_db_result_rows(res) == 0)
        rc = kura_db_fail(err, KURA_DB_ENOTFOUND, "store: no such user");
    if (rc == KURA_DB_OK)
        rc = user_from(out, res, 0, err);
    kura_db_result_free(res);
    return rc;
}

int kura_store_user_by_id(kura_db *db, const char *id, kura_user_row *out, kura_db_error *err)
{
    return user_by(db, "SELECT " USER_COLUMNS " FROM users WHERE id = $1", id, out, err);
}

int kura_store_user_by_name(kura_db *db, const char *username, kura_user_row *out,
                            kura_db_error *err)
{
    return user_by(db, "SELECT " USER_COLUMNS " FROM users WHERE username = $1", username, out,
                   err);
}

void kura_user_rows_free(kura_user_row *rows, size_t count)
{
    if (!rows)
        return;
    for (size_t i = 0; i < count; i++)
        kura_user_row_clear(&rows[i]);
    free(rows);
}

int kura_store_user_list(kura_db *db, const char *after, size_t limit, kura_user_row **rows,
                         size_t *count, kura_db_error *err)
{
    kura_db_result *res = NULL;
    kura_user_row *out;
    size_t n;
    int rc;
    *rows = NULL;
    *count = 0;
    rc = check_limit(limit, err);
    if (rc != KURA_DB_OK)
        return rc;
    rc = kura_db_exec(db, &res,
                      "SELECT " USER_COLUMNS " FROM users WHERE id > $1 ORDER BY id LIMIT $2",
                      (kura_db_param[]){KURA_DB_TEXT(after ? after : ""), KURA_DB_INT(limit)}, 2,
                      err);
    if (rc != KURA_DB_OK)
        return rc;
    n = kura_db_result_rows(res);
    out = calloc(n ? n : 1, sizeof *out);
    if (!out) {
        kura_db_result_free(res);
        return kura_db_fail(err, KURA_DB_ENOMEM, "store: out of memory");
    }
    for (size_t i = 0; i < n && rc == KURA_DB_OK; i++)
        rc = user_from(&out[i], res, i, err);
    kura_db_result_free(res);
    if (rc != KURA_DB_OK) {
        kura_user_rows_free(out, n);
        return rc;
    }
    *rows = out;
    *count = n;
    return KURA_DB_OK;
}

int kura_store_user_update(kura_db *db, const kura_user_row *r, kura_db_error *err)
{
    return exec_one(
        db,
        "UPDATE users SET role = $2, approver_name = $3, disabled = $4, updated_at = $5 "
        "WHERE id = $1",
        (kura_db_param[]){KURA_DB_TEXT(r->id), KURA_DB_TEXT(r->role),
                          r->approver_name[0] ? KURA_DB_TEXT(r->approver_name) : KURA_DB_NULL,
                          KURA_DB_INT(r->disabled ? 1 : 0), KURA_DB_INT(r->updated_at)},
        5, KURA_DB_ENOTFOUND, err);
}

int kura_store_user_set_password(kura_db *db, const char *id, const char *password_hash,
                                 int64_t now, kura_db_error *err)
{
    return exec_one(db, "UPDATE users SET password_hash = $2, updated_at = $3 WHERE id = $1",
                    (kura_db_param[]){KURA_DB_TEXT(id), KURA_DB_TEXT(password_hash),
                                      KURA_DB_INT(now)},
                    3, KURA_DB_ENOTFOUND, err);
}

int kura_store_user_set_totp_pending(kura_db *db, const char *id, const char *secret,
                                     kura_db_error *err)
{
    return exec_one(db, "UPDATE users SET totp_pending = $2 WHERE id = $1",
                    (kura_db_param[]){KURA_DB_TEXT(id), KURA_DB_TEXT(secret)}, 2,
                    KURA_DB_ENOTFOUND, err);
}

int kura_store_user_confirm_totp(kura_db *db, const char *id, int64_t step, int64_t now,
                                 kura_db_error *err)
{
    return exec_one(db,
                    "UPDATE users SET totp_secret = totp_pending, totp_pending = NULL, "
                    "totp_last_step = $2, updated_at = $3 WHERE id = $1 AND totp_pending IS NOT NULL",
                    (kura_db_param[]){KURA_DB_TEXT(id), KURA_DB_INT(step), KURA_DB_INT(now)}, 3,
                    KURA_DB_ECONFLICT, err);
}

int kura_store_user_use_totp_step(kura_db *db, const char *id, int64_t step, kura_db_error *err)
{
    /* The comparison in the UPDATE itself: two sign-ins racing with the same
     * code cannot both pass (the second finds the step taken). */
    return exec_one(db,
                    "UPDATE users SET totp_last_step = $2 WHERE id = $1 AND totp_last_step < $2",
                    (kura_db_param[]){KURA_DB_TEXT(id), KURA_DB_INT(step)}, 2, KURA_DB_ECONFLICT,
                    err);
}

/* ---- sessions ---- */

int kura_store_session_insert(kura_db *db, const kura_session_row *r, kura_db_error *err)
{
    return kura_db_exec(
        db, NULL,
        "INSERT INTO sessions (id, token_hash, user_id, csrf_token, created_at, expires_at, "
        "last_seen_at, client_addr) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        (kura_db_param[]){KURA_DB_TEXT(r->id), KURA_DB_TEXT(r->token_hash),
                          KURA_DB_TEXT(r->user_id), KURA_DB_TEXT(r->csrf_token),
                          KURA_DB_INT(r->created_at), KURA_DB_INT(r->expires_at),
                          KURA_DB_INT(r->last_seen_at), KURA_DB_TEXT(r->client_addr)},
        8, err);
}

int kura_store_session_by_hash(kura_db *db, const char *token_hash, kura_session_row *out,
                               kura_db_error *err)
{
    kura_db_result *res = NULL;
    int rc;
    memset(out, 0, sizeof *out);
    rc = kura_db_exec(db, &res,
                      "SELECT id, token_hash, user_id, csrf_token, client_addr, created_at, "
                      "expires_at, last_seen_at FROM sessions WHERE token_hash = $1",
                      (kura_db_param[]){KURA_DB_TEXT(token_hash)}, 1, err);
    if (rc == KURA_DB_OK && kura_db_result_rows(res) == 0)
        rc = kura_db_fail(err, KURA_DB_ENOTFOUND, "store: no such session");
    if (rc == KURA_DB_OK)
        rc = copy_text(out->id, sizeof out->id, res, 0, 0, err);
    if (rc == KURA_DB_OK)
        rc = copy_text(out->token_hash, sizeof out->token_hash, res, 0, 1, err);
    if (rc == KURA_DB_OK)
        rc = copy_text(out->user_id, sizeof out->user_id, res, 0, 2, err);
    if (rc == KURA_DB_OK)
        rc = copy_text(out->csrf_token, sizeof out->csrf_token, res, 0, 3, err);
    if (rc == KURA_DB_OK)
        rc = copy_text(out->client_addr, sizeof out->client_addr, res, 0, 4, err);
    if (rc == KURA_DB_OK)
        rc = get_int(&out->created_at, res, 0, 5, err);
    if (rc == KURA_DB_OK)
        rc = get_int(&out->expires_at, res, 0, 6, err);
    if (rc == KURA_DB_OK)
        rc = get_int(&out->last_seen_at, res, 0, 7, err);
    kura_db_result_free(res);
    if (rc != KURA_DB_OK)
        sodium_memzero(out, sizeof *out);
    return rc;
}

int kura_store_session_touch(kura_db *db, const char *token_hash, int64_t now, kura_db_error *err)
{
    return exec_one(db, "UPDATE sessions SET last_seen_at = $2 WHERE token_hash = $1",
                    (kura_db_param[]){KURA_DB_TEXT(token_hash), KURA_DB_INT(now)}, 2,
                    KURA_DB_ENOTFOUND, err);
}

int kura_store_session_delete(kura_db *db, const char *token_hash, kura_db_error *err)
{
    return exec_one(db, "DELETE FROM sessions WHERE token_hash = $1",
                    (kura_db_param[]){KURA_DB_TEXT(token_hash)}, 1, KURA_DB_ENOTFOUND, err);
}

int kura_store_session_delete_user(kura_db *db, const char *user_id, kura_db_error *err)
{
    return kura_db_exec(db, NULL, "DELETE FROM sessions WHERE user_id = $1",
                        (kura_db_param[]){KURA_DB_TEXT(user_id)}, 1, err);
}

int kura_store_session_delete_expired(kura_db *db, int64_t now, int64_t idle, kura_db_error *err)
{
    return kura_db_exec(db, NULL, "DELETE FROM sessions WHERE expires_at <= $1 OR last_seen_at <= $2",
                        (kura_db_param[]){KURA_DB_INT(now), KURA_DB_INT(now - idle)}, 2, err);
}

/* ---- sign-in attempts ---- */

static int64_t window_of(int64_t now, int64_t window)
{
    if (window <= 0)
        return now;
    return now - ((now % window) + window) % window;
}

int kura_store_signin_failures(kura_db *db, const char *scope, const char *subject, int64_t now,
                               int64_t window, int64_t *failures, kura_db_error *err)
{
    kura_db_result *res = NULL;
    int rc;
    *failures = 0;
    rc = kura_db_exec(db, &res,
                      "SELECT failures FROM signin_attempts "
                      "WHERE scope = $1 AND subject = $2 AND window_start = $3",
                      (kura_db_param[]){KURA_DB_TEXT(scope), KURA_DB_TEXT(subject),
                                        KURA_DB_INT(window_of(now, window))},
                      3, err);
    if (rc == KURA_DB_OK && kura_db_result_rows(res) == 1)
        rc = get_int(failures, res, 0, 0, err);
    kura_db_result_free(res);
    return rc;
}

int kura_store_signin_fail(kura_db *db, const char *scope, const char *subject, int64_t now,
                           int64_t window, int64_t *failures, kura_db_error *err)
{
    kura_db_result *res = NULL;
    int rc;
    if (failures)
        *failures = 0;
    /* One statement, so concurrent failures on PostgreSQL count each (the
     * conflicting insert waits for the row lock and then updates) and each
     * caller reads the count it made. A row from an older window starts the
     * count again. */
    rc = kura_db_exec(db, &res,
                        "INSERT INTO signin_attempts (scope, subject, window_start, failures) "
                        "VALUES ($1, $2, $3, 1) ON CONFLICT (scope, subject) DO UPDATE SET "
                        "failures = CASE WHEN signin_attempts.window_start = excluded.window_start "
                        "THEN signin_attempts.failures + 1 ELSE 1 END, "
                        "window_start = excluded.window_start RETURNING failures",
                        (kura_db_param[]){KURA_DB_TEXT(scope), KURA_DB_TEXT(subject),
                                          KURA_DB_INT(window_of(now, window))},
                        3, err);
    if (rc == KURA_DB_OK && failures && kura_db_result_rows(res) == 1)
        rc = get_int(failures, res, 0, 0, err);
    kura_db_result_free(res);
    return rc;
}

int kura_store_signin_forgive(kura_db *db, const char *scope, const char *subject, int64_t now,
                              int64_t window, kura_db_error *err)
{
    return kura_db_exec(db, NULL,
                        "UPDATE signin_attempts SET failures = failures - 1 "
                        "WHERE scope = $1 AND subject = $2 AND window_start = $3 AND failures > 0",
                        (kura_db_param[]){KURA_DB_TEXT(scope), KURA_DB_TEXT(subject),
                                          KURA_DB_INT(window_of(now, window))},
                        3, err);
}

int kura_store_signin_sweep(kura_db *db, int64_t before, kura_db_error *err)
{
    return kura_db_exec(db, NULL, "DELETE FROM signin_attempts WHERE window_start < $1",
                        (kura_db_param[]){KURA_DB_INT(before)}, 1, err);
}

int kura_store_signin_reset(kura_db *db, const char *scope, const char *subject, kura_db_error *err)
{
    return kura_db_exec(db, NULL, "DELETE FROM signin_attempts WHERE scope = $1 AND subject = $2",
                        (kura_db_param[]){KURA_DB_TEXT(scope), KURA_DB_TEXT(subject)}, 2, err);
}

/* ---- API keys ---- */

#define APIKEY_COLUMNS                                                                       \
    "id, name, prefix, secret_hash, role, scopes, cidrs, expires_at, created_by, created_at, " \
    "revoked_at, last_used_at"

void kura_apikey_row_clear(kura_apikey_row *r)
{
    if (!r)
        return;
    free(r->cidrs);
    sodium_memzero(r, sizeof *r);
}

static int apikey_from(kura_apikey_row *r, const kura_db_result *res, size_t row,
                       kura_db_error *err)
{
    int rc = copy_text(r->id, sizeof r->id, res, row, 0, err);
    if (rc == KURA_DB_OK)
        rc = copy_text(r->name, sizeof r->name, res, row, 1, err);
    if (rc == KURA_DB_OK)
        rc = copy_text(r->prefix, sizeof r->prefix, res, row, 2, err);
    if (rc == KURA_DB_OK)
        rc = copy_text(r->secret_hash, sizeof r->secret_hash, res, row, 3, err);
    if (rc == KURA_DB_OK)
        rc = copy_text(r->role, sizeof r->role, res, row, 4, err);
    if (rc == KURA_DB_OK)
        rc = copy_text(r->scopes, sizeof r->scopes, res, row, 5, err);
    if (rc == KURA_DB_OK)
        rc = dup_text(&r->cidrs, res, row, 6, err);
    if (rc == KURA_DB_OK && !r->cidrs && !(r->cidrs = strdup("")))
        rc = kura_db_fail(err, KURA_DB_ENOMEM, "store: out of memory");
    if (rc == KURA_DB_OK)
        rc = get_int(&r->expires_at, res, row, 7, err);
    if (rc == KURA_DB_OK)
        rc = copy_text(r->created_by, sizeof r->created_by, res, row, 8, err);
    if (rc == KURA_DB_OK)
        rc = get_int(&r->created_at, res, row, 9, err);
    if (rc == KURA_DB_OK)
        rc = get_int(&r->revoked_at, res, row, 10, err);
    if (rc == KURA_DB_OK)
        rc = get_int(&r->last_used_at, res, row, 11, err);
    if (rc != KURA_DB_OK)
        kura_apikey_row_clear(r);
    return rc;
}

int kura_store_apikey_insert(kura_db *db, const kura_apikey_row *r, kura_db_error *err)
{
    return kura_db_exec(
        db, NULL,
        "INSERT INTO api_keys (" APIKEY_COLUMNS
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        (kura_db_param[]){KURA_DB_TEXT(r->id), KURA_DB_TEXT(r->name), KURA_DB_TEXT(r->prefix),
                          KURA_DB_TEXT(r->secret_hash), KURA_DB_TEXT(r->role),
                          KURA_DB_TEXT(r->scopes), KURA_DB_TEXT(r->cidrs ? r->cidrs : ""),
                          r->expires_at ? KURA_DB_INT(r->expires_at) : KURA_DB_NULL,
                          KURA_DB_TEXT(r->created_by), KURA_DB_INT(r->created_at),
                          r->revoked_at ? KURA_DB_INT(r->revoked_at) : KURA_DB_NULL,
                          r->last_used_at ? KURA_DB_INT(r->last_used_at) : KURA_DB_NULL},
        12, err);
}

static int apikey_by(kura_db *db, const char *sql, const char *key, kura_apikey_row *out,
                     kura_db_error *err)
{
    kura_db_result *res = NULL;
    int rc;
    memset(out, 0, sizeof *out);
    if (!key)
        return kura_db_fail(err, KURA_DB_EINVAL, "store: no key");
    rc = kura_db_exec(db, &res, sql, (kura_db_param[]){KURA_DB_TEXT(key)}, 1, err);
    if (rc == KURA_DB_OK && kura_db_result_rows(res) == 0)
        rc = kura_db_fail(err, KURA_DB_ENOTFOUND, "store: no such API key");
    if (rc == KURA_DB_OK)
        rc = apikey_from(out, res, 0, err);
    kura_db_result_free(res);
    return rc;
}

int kura_store_apikey_by_id(kura_db *db, const char *id, kura_apikey_row *out, kura_db_error *err)
{
    return apikey_by(db, "SELECT " APIKEY_COLUMNS " FROM api_keys WHERE id = $1", id, out, err);
}

int kura_store_apikey_by_prefix(kura_db *db, const char *prefix, kura_apikey_row *out,
                                kura_db_error *err)
{
    return apikey_by(db, "SELECT " APIKEY_COLUMNS " FROM api_keys WHERE prefix = $1", prefix, out,
                     err);
}

void kura_apikey_rows_free(kura_apikey_row *rows, size_t count)
{
    if (!rows)
        return;
    for (size_t i = 0; i < count; i++)
        kura_apikey_row_clear(&rows[i]);
    free(rows);
}

int kura_store_apikey_list(kura_db *db, const char *after, size_t limit, kura_apikey_row **rows,
                           size_t *count, kura_db_error *err)
{
    kura_db_result *res = NULL;
    kura_apikey_row *out;
    size_t n;
    int rc;
    *rows = NULL;
    *count = 0;
    rc = check_limit(limit, err);
    if (rc != KURA_DB_OK)
        return rc;
    rc = kura_db_exec(db, &res,
                      "SELECT " APIKEY_COLUMNS " FROM api_keys WHERE id > $1 ORDER BY id LIMIT $2",
                      (kura_db_param[]){KURA_DB_TEXT(after ? after : ""), KURA_DB_INT(limit)}, 2,
                      err);
    if (rc != KURA_DB_OK)
        return rc;
    n = kura_db_result_rows(res);
    out = calloc(n ? n : 1, sizeof *out);
    if (!out) {
        kura_db_result_free(res);
        return kura_db_fail(err, KURA_DB_ENOMEM, "store: out of memory");
    }
    for (size_t i = 0; i < n && rc == KURA_DB_OK; i++)
        rc = apikey_from(&out[i], res, i, err);
    kura_db_result_free(res);
    if (rc != KURA_DB_OK) {
        kura_apikey_rows_free(out, n);
        return rc;
    }
    *rows = out;
    *count = n;
    return KURA_DB_OK;
}

int kura_store_apikey_revoke(kura_db *db, const char *id, int64_t now, kura_db_error *err)
{
    return exec_one(db, "UPDATE api_keys SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
                    (kura_db_param[]){KURA_DB_TEXT(id), KURA_DB_INT(now)}, 2, KURA_DB_ECONFLICT,
                    err);
}

int kura_store_apikey_touch(kura_db *db, const char *id, int64_t now, int64_t min_interval,
                            kura_db_error *err)
{
    return kura_db_exec(db, NULL,
                        "UPDATE api_keys SET last_used_at = $2 "
                        "WHERE id = $1 AND (last_used_at IS NULL OR last_used_at <= $3)",
                        (kura_db_param[]){KURA_DB_TEXT(id), KURA_DB_INT(now),
                                          KURA_DB_INT(now - min_interval)},
                        3, err);
}

/* ---- idempotency keys ---- */

void kura_idem_row_clear(kura_idem_row *r)
{
    if (!r)
        return;
    free(r->response);
    memset(r, 0, sizeof *r);
}

int kura_store_idem_get(kura_db *db, const char *principal, const char *key, kura_idem_row *out,
                        kura_db_error *err)
{
    kura_db_result *res = NULL;
    const char *state;
    int rc;
    memset(out, 0, sizeof *out);
    rc = kura_db_exec(db, &res,
                      "SELECT request_hash, state, status, response, created_at "
                      "FROM idempotency_keys WHERE principal = $1 AND idem_key = $2",
                      (kura_db_param[]){KURA_DB_TEXT(principal), KURA_DB_TEXT(key)}, 2, err);
    if (rc == KURA_DB_OK && kura_db_result_rows(res) == 0)
        rc = kura_db_fail(err, KURA_DB_ENOTFOUND, "store: no such idempotency key");
    if (rc == KURA_DB_OK)
        rc = copy_text(out->request_hash, sizeof out->request_hash, res, 0, 0, err);
    if (rc == KURA_DB_OK) {
        state = kura_db_result_text(res, 0, 1);
        out->done = state && strcmp(state, "done") == 0;
        rc = get_int(&out->status, res, 0, 2, err);
    }
    if (rc == KURA_DB_OK)
        rc = dup_text(&out->response, res, 0, 3, err);
    if (rc == KURA_DB_OK)
        rc = get_int(&out->created_at, res, 0, 4, err);
    kura_db_result_free(res);
    if (rc != KURA_DB_OK)
        kura_idem_row_clear(out);
    return rc;
}

int kura_store_idem_insert(kura_db *db, const char *principal, const char *key,
                           const char *request_hash, int64_t now, kura_db_error *err)
{
    /* DO NOTHING rather than a constraint error: on PostgreSQL an error would
     * abort the caller's transaction; this way it reads the winner's row. */
    return exec_one(db,
                    "INSERT INTO idempotency_keys (principal, idem_key, request_hash, state, "
                    "created_at) VALUES ($1, $2, $3, 'running', $4) ON CONFLICT DO NOTHING",
                    (kura_db_param[]){KURA_DB_TEXT(principal), KURA_DB_TEXT(key),
                                      KURA_DB_TEXT(request_hash), KURA_DB_INT(now)},
                    4, KURA_DB_ECONFLICT, err);
}

int kura_store_idem_insert_done(kura_db *db, const char *principal, const char *key,
                                const char *request_hash, int64_t now, int64_t status,
                                const char *response, kura_db_error *err)
{
    return exec_one(db,
                    "INSERT INTO idempotency_keys (principal, idem_key, request_hash, state, "
                    "status, response, created_at) VALUES ($1, $2, $3, 'done', $4, $5, $6) "
                    "ON CONFLICT DO NOTHING",
                    (kura_db_param[]){KURA_DB_TEXT(principal), KURA_DB_TEXT(key),
                                      KURA_DB_TEXT(request_hash), KURA_DB_INT(status),
                                      KURA_DB_TEXT(response ? response : ""), KURA_DB_INT(now)},
                    6, KURA_DB_ECONFLICT, err);
}

int kura_store_idem_replace(kura_db *db, const char *principal, const char *key,
                            const char *request_hash, int64_t old_created_at, int64_t now,
                            kura_db_error *err)
{
    return exec_one(db,
                    "UPDATE idempotency_keys SET request_hash = $3, state = 'running', "
                    "status = NULL, response = NULL, created_at = $5 "
                    "WHERE principal = $1 AND idem_key = $2 AND created_at = $4",
                    (kura_db_param[]){KURA_DB_TEXT(principal), KURA_DB_TEXT(key),
                                      KURA_DB_TEXT(request_hash), KURA_DB_INT(old_created_at),
                                      KURA_DB_INT(now)},
                    5, KURA_DB_ECONFLICT, err);
}

int kura_store_idem_complete(kura_db *db, const char *principal, const char *key, int64_t claimed_at,
                             int64_t status, const char *response, kura_db_error *err)
{
    /* With claimed_at: only the claim this request made. A claim taken over
     * (a retry found it running for KURA_IDEM_TAKEOVER seconds) has a new
     * created_at, so a first request that was slow, not dead, cannot
     * complete, and its creation rolls back instead of being made twice. */
    if (claimed_at > 0)
        return exec_one(db,
                        "UPDATE idempotency_keys SET state = 'done', status = $3, response = $4 "
                        "WHERE principal = $1 AND idem_key = $2 AND state = 'running' "
                        "AND created_at = $5",
                        (kura_db_param[]){KURA_DB_TEXT(principal), KURA_DB_TEXT(key),
                                          KURA_DB_INT(status), KURA_DB_TEXT(response ? response : ""),
                                          KURA_DB_INT(claimed_at)},
                        5, KURA_DB_ECONFLICT, err);
    return exec_one(db,
                    "UPDATE idempotency_keys SET state = 'done', status = $3, response = $4 "
                    "WHERE principal = $1 AND idem_key = $2 AND state = 'running'",
                    (kura_db_param[]){KURA_DB_TEXT(principal), KURA_DB_TEXT(key),
                                      KURA_DB_INT(status), KURA_DB_TEXT(response ? response : "")},
                    4, KURA_DB_ECONFLICT, err);
}

int kura_store_idem_release(kura_db *db, const char *principal, const char *key, int64_t claimed_at,
                            kura_db_error *err)
{
    if (claimed_at > 0)
        return kura_db_exec(db, NULL,
                            "DELETE FROM idempotency_keys WHERE principal = $1 AND idem_key = $2 "
                            "AND state = 'running' AND created_at = $3",
                            (kura_db_param[]){KURA_DB_TEXT(principal), KURA_DB_TEXT(key),
                                              KURA_DB_INT(claimed_at)},
                            3, err);
    return kura_db_exec(db, NULL,
                        "DELETE FROM idempotency_keys "
                        "WHERE principal = $1 AND idem_key = $2 AND state = 'running'",
                        (kura_db_param[]){KURA_DB_TEXT(principal), KURA_DB_TEXT(key)}, 2, err);
}
