/*
 * server/domain/sessions.c — sign-in (password, TOTP, rate limits), session
 * tokens with their CSRF tokens, authentication of a cookie, sign-out.
 *
 * The cookie token is 32 random bytes (64 hex characters); the database
 * keeps only the SHA-256 of those characters, so a copy of the database does
 * not hold a usable session. Sign-in is three steps, so that the slow
 * Argon2id verification never runs while a write transaction holds SQLite's
 * write lock:
 *   1. a write transaction checks both rate limits and counts this attempt
 *      as a failure up front (so concurrent guesses cannot all slip in under
 *      the limit), and reads the user;
 *   2. the password (and the TOTP code) is checked outside any transaction;
 *      an unknown user is checked against a dummy hash of the same cost;
 *   3. a write transaction records the outcome: on success it forgets the
 *      user name's failures, takes the TOTP step (a replayed code loses
 *      here), makes the session and writes signin.succeeded; otherwise it
 *      writes signin.failed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "domain/people_internal.h"

/* How stale last_seen_at may get before a request writes it again. */
#define SESSION_TOUCH_INTERVAL 60

/* The rate-limit subject of a user name: the name itself when it is a valid
 * name, else a hash (any bytes may arrive; the table keeps short text). */
static void user_subject(char out[80], const char *username)
{
    if (kura_people_name_valid(username)) {
        snprintf(out, 80, "%s", username);
    } else {
        char hex[65];
        kura_people_i_sha256_hex(hex, username, strlen(username));
        snprintf(out, 80, "#%s", hex);
    }
}

static int token_valid(const char *t)
{
    size_t n = 0;
    if (!t)
        return 0;
    for (; t[n]; n++)
        if (n >= 64 || !((t[n] >= '0' && t[n] <= '9') || (t[n] >= 'a' && t[n] <= 'f')))
            return 0;
    return n == 64;
}

/* ================================ sign-in ================================ */

typedef struct signin_arg {
    const char *username;
    const char *client_addr;
    int64_t now;
    char user_subject[80];
    /* step 1 out */
    int found;
    kura_user_row row;
    /* step 3 in */
    const char *verdict;       /* step 2's refusal, NULL: success so far */
    const char *reason;        /* the final refusal (step 3 may add one), NULL: success */
    int64_t totp_step;         /* 0: no TOTP */
    kura_session_row session;
    json_t *user_json;
    kura_problem *p;
} signin_arg;

static int signin_begin_fn(kura_db *db, void *varg, kura_db_error *err)
{
    signin_arg *a = varg;
    int64_t by_user = 0, by_addr = 0;
    int rc;
    kura_user_row_clear(&a->row);
    a->found = 0;
    /* Counts of past windows count for nothing: drop them (by index), so
     * guessed names and addresses do not pile up. */
    rc = kura_store_signin_sweep(db, a->now - KURA_SIGNIN_WINDOW, err);
    /* Count first, then judge by the count this attempt made: a read before
     * the count would let simultaneous guesses (on one server's threads or
     * on several servers) all see the same count under the limit. A refused
     * attempt rolls its count back. */
    if (rc == KURA_DB_OK)
        rc = kura_store_signin_fail(db, "user", a->user_subject, a->now, KURA_SIGNIN_WINDOW,
                                    &by_user, err);
    if (rc == KURA_DB_OK)
        rc = kura_store_signin_fail(db, "addr", a->client_addr, a->now, KURA_SIGNIN_WINDOW,
                                    &by_addr, err);
    if (rc != KURA_DB_OK)
        return rc;
    if (by_user > KURA_SIGNIN_MAX_PER_USER || by_addr > KURA_SIGNIN_MAX_PER_ADDR)
        return kura_problem_set(a->p, KURA_PROBLEM_RATE_LIMITED,
                                "too many failed sign-ins; try again in %lld seconds",
                                (long long)(KURA_SIGNIN_WINDOW - a->now % KURA_SIGNIN_WINDOW));
    rc = kura_store_user_by_name(db, a->username, &a->row, err);
    if (rc == KURA_DB_ENOTFOUND)
        return KURA_DB_OK;
    if (rc == KURA_DB_OK)
        a->found = 1;
    return rc;
}

static int signin_end_fn(kura_db *db, void *varg, kura_db_error *err)
{
    signin_arg *a = varg;
    kura_user_row now_row;
    json_t *extra;
    int rc;
    json_decref(a->user_json);
    a->user_json = NULL;
    a->reason = a->verdict; /* this function may run again: start from step 2's verdict */
    if (!a->reason) {
        /* The user may have changed since step 1: disabled, or a new password. */
        rc = kura_store_user_by_id(db, a->row.id, &now_row, err);
        if (rc != KURA_DB_OK && rc != KURA_DB_ENOTFOUND)
            return rc;
        if (rc == KURA_DB_ENOTFOUND || now_row.disabled ||
            strcmp(now_row.password_hash, a->row.password_hash) != 0)
            a->reason = "user_changed";
        if (!a->reason && a->totp_step) {
            rc = kura_store_user_use_totp_step(db, a->row.id, a->totp_step, err);
            if (rc == KURA_DB_ECONFLICT)
                a->reason = "totp_replayed";
            else if (rc != KURA_DB_OK) {
                kura_user_row_clear(&now_row);
                return rc;
            }
        }
        if (!a->reason) {
            a->user_json = kura_people_i_user_json(&now_row);
            if (!a->user_json) {
                kura_user_row_clear(&now_row);
                return KURA_DB_ENOMEM;
            }
        }
        kura_user_row_clear(&now_row);
    }
    if (a->reason) {
        extra = json_pack("{s:s, s:s, s:s}", "username", a->username, "client_addr",
                          a->client_addr, "reason", a->reason);
        if (!extra)
            return KURA_DB_ENOMEM;
        rc = kura_people_i_audit(db, a->found ? a->row.id : "system", "signin.failed", "session",
                                 "", NULL, extra, a->now, err);
        json_decref(extra);
        return rc;
    }
    /* A success forgets the user name's failures, and takes back the
     * failure step 1 counted for the address (forgetting all of the
     * address's would let one valid account reset the limit for guesses at
     * others from the same place). */
    rc = kura_store_signin_reset(db, "user", a->user_subject, err);
    if (rc == KURA_DB_OK)
        rc = kura_store_signin_forgive(db, "addr", a->client_addr, a->now, KURA_SIGNIN_WINDOW, err);
    if (rc == KURA_DB_OK)
        rc = kura_store_session_delete_expired(db, a->now, KURA_SESSION_IDLE, err);
    if (rc == KURA_DB_OK) {
        kura_db_new_id(a->session.id, "ses");
        rc = kura_store_session_insert(db, &a->session, err);
    }
    if (rc != KURA_DB_OK)
        return rc;
    extra = json_pack("{s:s, s:s, s:s, s:I}", "user_id", a->row.id, "username", a->row.username,
                      "client_addr", a->client_addr, "expires_at",
                      (json_int_t)a->session.expires_at);
    if (!extra)
        return KURA_DB_ENOMEM;
    rc = kura_people_i_audit(db, a->row.id, "signin.succeeded", "session", a->session.id, NULL,
                             extra, a->now, err);
    json_decref(extra);
    return rc;
}

int kura_session_signin(kura_store *st, const char *username, const char *password,
                        const char *totp, const char *client_addr, int64_t now,
                        kura_session_token *out, json_t **user, kura_problem *p)
{
    signin_arg a;
    kura_db_error err = {0};
    uint8_t rnd[32];
    int rc, password_right;
    kura_problem_code refusal = KURA_PROBLEM_BAD_CREDENTIALS;

    if (out)
        sodium_memzero(out, sizeof *out);
    if (user)
        *user = NULL;
    if (!st || !out)
        return kura_problem_set(p, KURA_PROBLEM_INTERNAL, "kura_session_signin: bad arguments");
    if (!client_addr || !*client_addr || strlen(client_addr) >= 64)
        return kura_problem_set(p, KURA_PROBLEM_INVALID_FIELD, "no client address");
    if (!username || !password || strlen(username) > 1024 || strlen(password) > KURA_PASSWORD_MAX)
        return kura_problem_set(p, KURA_PROBLEM_BAD_CREDENTIALS,
                                "the user name, password or code is wrong");
    kura_people_init();
    memset(&a, 0, sizeof a);
    a.username = username;
    a.client_addr = client_addr;
    a.now = now;
    a.p = p;
    user_subject(a.user_subject, username);

    /* 1. */
    rc = kura_store_write(st, signin_begin_fn, &a, &err);
    if (rc != KURA_DB_OK) {
        kura_user_row_clear(&a.row);
        return kura_problem_from_db(p, rc, &err, NULL);
    }
    /* 2. The same work whether or not the user exists. */
    password_right = kura_people_i_password_verify(a.found ? a.row.password_hash : NULL, password);
    if (!a.found)
        a.verdict = "unknown_user";
    else if (!password_right)
        a.verdict = "bad_password";
    else if (a.row.disabled)
        a.verdict = "disabled";
    else if (a.row.totp_secret && (!totp || !*totp)) {
        a.verdict = "totp_required";
        refusal = KURA_PROBLEM_TOTP_REQUIRED;
    } else if (a.row.totp_secret &&
               (!kura_people_i_totp_check(a.row.totp_secret, totp, now, &a.totp_step) ||
                a.totp_step <= a.row.totp_last_step)) {
        a.verdict = a.totp_step ? "totp_replayed" : "bad_totp";
    }
    if (!a.verdict) {
        randombytes_buf(rnd, sizeof rnd);
        sodium_bin2hex(out->token, sizeof out->token, rnd, sizeof rnd);
        randombytes_buf(rnd, sizeof rnd);
        sodium_bin2hex(out->csrf, sizeof out->csrf, rnd, sizeof rnd);
        sodium_memzero(rnd, sizeof rnd);
        out->expires_at = now + KURA_SESSION_LIFETIME;
        kura_people_i_sha256_hex(a.session.token_hash, out->token, 64);
        snprintf(a.session.user_id, sizeof a.session.user_id, "%s", a.row.id);
        memcpy(a.session.csrf_token, out->csrf, sizeof a.session.csrf_token);
        snprintf(a.session.client_addr, sizeof a.session.client_addr, "%s", client_addr);
        a.session.created_at = a.session.last_seen_at = now;
        a.session.expires_at = out->expires_at;
    }
    /* 3. */
    rc = kura_store_write(st, signin_end_fn, &a, &err);
    kura_user_row_clear(&a.row);
    sodium_memzero(&a.session, sizeof a.session);
    if (rc != KURA_DB_OK || a.reason) {
        sodium_memzero(out, sizeof *out);
        json_decref(a.user_json);
        if (rc != KURA_DB_OK)
            return kura_problem_from_db(p, rc, &err, NULL);
        if (refusal == KURA_PROBLEM_TOTP_REQUIRED)
            return kura_problem_set(p, refusal, "this user must give a one-time code");
        return kura_problem_set(p, refusal, "the user name, password or code is wrong");
    }
    if (user)
        *user = a.user_json;
    else
        json_decref(a.user_json);
    return 0;
}

/* ============================ authentication ============================ */

typedef struct auth_arg {
    const char *token_hash;
    kura_session_row session;
    kura_user_row user;
} auth_arg;

static int auth_fn(kura_db *db, void *varg, kura_db_error *err)
{
    auth_arg *a = varg;
    int rc;
    kura_user_row_clear(&a->user);
    rc = kura_store_session_by_hash(db, a->token_hash, &a->session, err);
    if (rc == KURA_DB_OK)
        rc = kura_store_user_by_id(db, a->session.user_id, &a->user, err);
    return rc;
}

static int touch_fn(kura_db *db, void *varg, kura_db_error *err)
{
    auth_arg *a = varg;
    int rc = kura_store_session_touch(db, a->token_hash, a->session.last_seen_at, err);
    return rc == KURA_DB_ENOTFOUND ? KURA_DB_OK : rc;
}

int kura_session_authenticate(kura_store *st, const char *token, const char *client_addr,
                              int64_t now, kura_principal *out, char csrf_out[65], kura_problem *p)
{
    auth_arg a;
    kura_db_error err = {0};
    char hash[65];
    kura_role role = KURA_ROLE_NONE;
    int rc;
    if (out)
        memset(out, 0, sizeof *out);
    if (csrf_out)
        csrf_out[0] = '\0';
    if (!st || !out || !csrf_out)
        return kura_problem_set(p, KURA_PROBLEM_INTERNAL, "kura_session_authenticate: bad arguments");
    if (!token_valid(token))
        return kura_problem_set(p, KURA_PROBLEM_UNAUTHENTICATED, "no valid session");
    kura_people_i_sha256_hex(hash, token, 64);
    memset(&a, 0, sizeof a);
    a.token_hash = hash;
    rc = kura_store_read(st, auth_fn, &a, &err);
    if (rc == KURA_DB_ENOTFOUND) {
        kura_user_row_clear(&a.user);
        return kura_problem_set(p, KURA_PROBLEM_UNAUTHENTICATED, "no valid session");
    }
    if (rc != KURA_DB_OK) {
        kura_user_row_clear(&a.user);
        return kura_problem_from_db(p, rc, &err, NULL);
    }
    if (now >= a.session.expires_at || now - a.session.last_seen_at >= KURA_SESSION_IDLE ||
        a.user.disabled || kura_role_parse(a.user.role, &role) != 0) {
        kura_user_row_clear(&a.user);
        sodium_memzero(&a.session, sizeof a.session);
        return kura_problem_set(p, KURA_PROBLEM_UNAUTHENTICATED, "the session has ended");
    }
    out->kind = KURA_PRINCIPAL_USER;
    snprintf(out->id, sizeof out->id, "%s", a.user.id);
    snprintf(out->name, sizeof out->name, "%s", a.user.username);
    out->role = role;
    out->scopes = KURA_SCOPE_ALL;
    if (role == KURA_ROLE_APPROVER)
        snprintf(out->approver_name, sizeof out->approver_name, "%s", a.user.approver_name);
    snprintf(out->client_addr, sizeof out->client_addr, "%s", client_addr ? client_addr : "");
    memcpy(csrf_out, a.session.csrf_token, 65);
    kura_user_row_clear(&a.user);
    if (now - a.session.last_seen_at >= SESSION_TOUCH_INTERVAL) {
        a.session.last_seen_at = now;
        rc = kura_store_write(st, touch_fn, &a, &err);
        if (rc != KURA_DB_OK) {
            memset(out, 0, sizeof *out);
            sodium_memzero(csrf_out, 65);
            sodium_memzero(&a.session, sizeof a.session);
            return kura_problem_from_db(p, rc, &err, NULL);
        }
    }
    sodium_memzero(&a.session, sizeof a.session);
    return 0;
}

/* ================================ sign-out ================================ */

typedef struct signout_arg {
    const char *token_hash;
    int64_t now;
    kura_problem *p;
} signout_arg;

static int signout_fn(kura_db *db, void *varg, kura_db_error *err)
{
    signout_arg *a = varg;
    kura_session_row s;
    json_t *extra;
    int rc = kura_store_session_by_hash(db, a->token_hash, &s, err);
    if (rc == KURA_DB_ENOTFOUND)
        return kura_problem_set(a->p, KURA_PROBLEM_UNAUTHENTICATED, "no such session");
    if (rc == KURA_DB_OK)
        rc = kura_store_session_delete(db, a->token_hash, err);
    if (rc == KURA_DB_OK) {
        extra = json_pack("{s:s, s:s}", "user_id", s.user_id, "reason", "signed_out");
        rc = extra ? kura_people_i_audit(db, s.user_id, "session.ended", "session", s.id, NULL,
                                         extra, a->now, err)
                   : KURA_DB_ENOMEM;
        json_decref(extra);
    }
    sodium_memzero(&s, sizeof s);
    return rc;
}

int kura_session_signout(kura_store *st, const char *token, int64_t now, kura_problem *p)
{
    signout_arg a;
    kura_db_error err = {0};
    char hash[65];
    int rc;
    if (!st)
        return kura_problem_set(p, KURA_PROBLEM_INTERNAL, "kura_session_signout: bad arguments");
    if (!token_valid(token))
        return kura_problem_set(p, KURA_PROBLEM_UNAUTHENTICATED, "no such session");
    kura_people_i_sha256_hex(hash, token, 64);
    a.token_hash = hash;
    a.now = now;
    a.p = p;
    rc = kura_store_write(st, signout_fn, &a, &err);
    return rc == KURA_DB_OK ? 0 : kura_problem_from_db(p, rc, &err, NULL);
}
