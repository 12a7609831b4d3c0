/*
 * tests/server/test_server_domain_people.c — users, passwords, TOTP, sessions
 * and sign-in rate limits (server/domain/people.h), on SQLite and PostgreSQL.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <sodium.h>

#include "audit/audit.h"
#include "server_people_testutil.h"

#define PW "correct horse battery"

static int setup(void **state)
{
    (void)state;
    people_test_fast_passwords();
    return 0;
}

/* ---- names ---- */

static void test_roles_and_names(void **state)
{
    (void)state;
    kura_role r = KURA_ROLE_VIEWER;
    static const char *const names[] = {"viewer", "initiator", "approver", "administrator",
                                        "auditor"};
    for (size_t i = 0; i < 5; i++) {
        assert_int_equal(kura_role_parse(names[i], &r), 0);
        assert_int_equal(r, (kura_role)(i + 1));
        assert_string_equal(kura_role_name(r), names[i]);
    }
    assert_int_equal(kura_role_parse("root", &r), -1);
    assert_int_equal(r, KURA_ROLE_NONE);
    assert_int_equal(kura_role_parse("Viewer", &r), -1);
    assert_int_equal(kura_role_parse("none", &r), -1);
    assert_string_equal(kura_role_name((kura_role)99), "none");
    assert_int_equal(KURA_ROLE_BIT(KURA_ROLE_AUDITOR), 1u << 5);

    assert_true(kura_people_name_valid("ops-batch.1_x"));
    assert_false(kura_people_name_valid(""));
    assert_false(kura_people_name_valid("Alice"));
    assert_false(kura_people_name_valid("a b"));
    assert_false(kura_people_name_valid("x'; DROP TABLE users; --"));
    char longname[70];
    memset(longname, 'a', 64);
    longname[64] = '\0';
    assert_true(kura_people_name_valid(longname));
    longname[64] = 'a';
    longname[65] = '\0';
    assert_false(kura_people_name_valid(longname));
}

/* ---- users and passwords ---- */

static void test_user_create_and_refusals(void **state)
{
    (void)state;
    kura_store *st = kura_test_store_open();
    kura_problem p = {0};
    json_t *u = NULL;
    assert_int_equal(kura_user_create(st, NULL, "alice", PW, KURA_ROLE_APPROVER, "alice-key", NULL,
                                      T0, &u, &p),
                     0);
    assert_string_equal(json_string_value(json_object_get(u, "username")), "alice");
    assert_string_equal(json_string_value(json_object_get(u, "role")), "approver");
    assert_string_equal(json_string_value(json_object_get(u, "approver_name")), "alice-key");
    assert_true(json_is_false(json_object_get(u, "totp_enabled")));
    assert_true(json_is_false(json_object_get(u, "disabled")));
    assert_int_equal(json_integer_value(json_object_get(u, "created_at")), T0);
    assert_null(json_object_get(u, "password_hash"));
    assert_memory_equal(json_string_value(json_object_get(u, "id")), "usr_", 4);
    json_decref(u);

    /* Refusals, each with its code, each changing nothing. */
    assert_int_equal(kura_user_create(st, NULL, "alice", PW, KURA_ROLE_VIEWER, NULL, NULL, T0, &u, &p),
                     KURA_PROBLEM_CONFLICT);
    assert_null(u);
    assert_int_equal(kura_user_create(st, NULL, "bob", "short", KURA_ROLE_VIEWER, NULL, NULL, T0, &u, &p),
                     KURA_PROBLEM_INVALID_FIELD);
    assert_int_equal(kura_user_create(st, NULL, "Bob", PW, KURA_ROLE_VIEWER, NULL, NULL, T0, &u, &p),
                     KURA_PROBLEM_INVALID_FIELD);
    assert_int_equal(kura_user_create(st, NULL, "bob", PW, KURA_ROLE_NONE, NULL, NULL, T0, &u, &p),
                     KURA_PROBLEM_INVALID_FIELD);
    assert_int_equal(kura_user_create(st, NULL, "bob", PW, KURA_ROLE_APPROVER, NULL, NULL, T0, &u, &p),
                     KURA_PROBLEM_INVALID_FIELD);
    assert_int_equal(kura_user_create(st, NULL, "bob", PW, KURA_ROLE_VIEWER, "bob-key", NULL, T0, &u, &p),
                     KURA_PROBLEM_INVALID_FIELD);
    assert_int_equal(kura_user_create(st, NULL, "bob", NULL, KURA_ROLE_VIEWER, NULL, NULL, T0, &u, &p),
                     KURA_PROBLEM_MISSING_FIELD);
    assert_int_equal(people_test_count(st, "SELECT COUNT(*) FROM users", NULL), 1);
    /* One audit row, for the one user made. */
    assert_int_equal(people_test_count(st, "SELECT COUNT(*) FROM audit_log WHERE action = $1",
                                       "user.created"),
                     1);
    kura_store_close(st);
}

static void test_password_stored_as_argon2id(void **state)
{
    (void)state;
    kura_store *st = kura_test_store_open();
    char *id = people_test_user(st, "carol", PW, KURA_ROLE_VIEWER, NULL);
    char *hash = people_test_text(st, "SELECT password_hash FROM users WHERE id = $1", id);
    assert_non_null(hash);
    assert_memory_equal(hash, "$argon2id$", 10);
    assert_null(strstr(hash, PW));
    assert_int_equal(crypto_pwhash_str_verify(hash, PW, strlen(PW)), 0);
    assert_int_not_equal(crypto_pwhash_str_verify(hash, "correct horse battery!", 22), 0);
    free(hash);

    /* The default cost: 2 passes over 64 MiB. */
    assert_int_equal(kura_people_set_password_cost(crypto_pwhash_OPSLIMIT_INTERACTIVE,
                                                   crypto_pwhash_MEMLIMIT_INTERACTIVE),
                     0);
    char *id2 = people_test_user(st, "dave", PW, KURA_ROLE_VIEWER, NULL);
    hash = people_test_text(st, "SELECT password_hash FROM users WHERE id = $1", id2);
    assert_non_null(strstr(hash, "$m=65536,t=2,p=1$"));
    free(hash);
    people_test_fast_passwords();
    assert_int_equal(kura_people_set_password_cost(0, 0), -1);
    free(id);
    free(id2);
    kura_store_close(st);
}

static void test_get_list_update(void **state)
{
    (void)state;
    kura_store *st = kura_test_store_open();
    kura_problem p = {0};
    json_t *u = NULL, *page = NULL;
    char *ids[5];
    char cursor[64];
    const char *names[] = {"u1", "u2", "u3", "u4", "u5"};
    for (int i = 0; i < 5; i++)
        ids[i] = people_test_user(st, names[i], PW, KURA_ROLE_VIEWER, NULL);

    assert_int_equal(kura_user_get(st, ids[2], &u, &p), 0);
    assert_string_equal(json_string_value(json_object_get(u, "username")), "u3");
    json_decref(u);
    assert_int_equal(kura_user_get(st, "usr_nope", &u, &p), KURA_PROBLEM_NOT_FOUND);
    assert_null(u);

    /* Pages of 2: 2, 2, 1, each cursor the last id. */
    assert_int_equal(kura_user_list(st, NULL, 2, &page, &p), 0);
    assert_int_equal(json_array_size(json_object_get(page, "items")), 2);
    snprintf(cursor, sizeof cursor, "%s", json_string_value(json_object_get(page, "next_cursor")));
    json_decref(page);
    assert_int_equal(kura_user_list(st, cursor, 2, &page, &p), 0);
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(json_object_get(page, "items"), 0), "username")),
        "u3");
    snprintf(cursor, sizeof cursor, "%s", json_string_value(json_object_get(page, "next_cursor")));
    json_decref(page);
    assert_int_equal(kura_user_list(st, cursor, 2, &page, &p), 0);
    assert_int_equal(json_array_size(json_object_get(page, "items")), 1);
    assert_true(json_is_null(json_object_get(page, "next_cursor")));
    json_decref(page);
    assert_int_equal(kura_user_list(st, "x'--", 2, &page, &p), KURA_PROBLEM_BAD_CURSOR);
    assert_int_equal(kura_user_list(st, NULL, 501, &page, &p), KURA_PROBLEM_INVALID_FIELD);

    /* Update: viewer -> approver needs a name; then disable. */
    kura_principal admin = people_test_admin("usr_0000000000000000000000000000");
    kura_user_changes ch = {KURA_ROLE_APPROVER, -1, NULL};
    assert_int_equal(kura_user_update(st, &admin, ids[0], &ch, T0 + 5, &u, &p),
                     KURA_PROBLEM_INVALID_FIELD);
    ch.approver_name = "u1-key";
    assert_int_equal(kura_user_update(st, &admin, ids[0], &ch, T0 + 5, &u, &p), 0);
    assert_string_equal(json_string_value(json_object_get(u, "role")), "approver");
    assert_string_equal(json_string_value(json_object_get(u, "approver_name")), "u1-key");
    assert_int_equal(json_integer_value(json_object_get(u, "updated_at")), T0 + 5);
    json_decref(u);
    /* Leaving the approver role drops the name. */
    kura_user_changes back = {KURA_ROLE_INITIATOR, 1, NULL};
    assert_int_equal(kura_user_update(st, &admin, ids[0], &back, T0 + 6, &u, &p), 0);
    assert_true(json_is_null(json_object_get(u, "approver_name")));
    assert_true(json_is_true(json_object_get(u, "disabled")));
    json_decref(u);
    assert_int_equal(people_test_count(st, "SELECT COUNT(*) FROM audit_log WHERE action = $1",
                                       "user.updated"),
                     2);

    /* An administrator cannot demote or disable themselves. */
    char *root = people_test_user(st, "root", PW, KURA_ROLE_ADMINISTRATOR, NULL);
    kura_principal self = people_test_admin(root);
    kura_user_changes demote = {KURA_ROLE_VIEWER, -1, NULL};
    assert_int_equal(kura_user_update(st, &self, root, &demote, T0, &u, &p), KURA_PROBLEM_FORBIDDEN);
    kura_user_changes off = {KURA_ROLE_NONE, 1, NULL};
    assert_int_equal(kura_user_update(st, &self, root, &off, T0, &u, &p), KURA_PROBLEM_FORBIDDEN);
    assert_int_equal(kura_user_update(st, &admin, "usr_nope", &off, T0, &u, &p), KURA_PROBLEM_NOT_FOUND);
    for (int i = 0; i < 5; i++)
        free(ids[i]);
    free(root);
    kura_store_close(st);
}

/* ---- TOTP ---- */

static void test_totp_rfc6238_vectors(void **state)
{
    (void)state;
    json_error_t jerr;
    json_t *doc = json_load_file(KURA_VECTORS_DIR "/rfc6238.json", 0, &jerr);
    json_t *v;
    size_t i, n = 0;
    if (!doc)
        fail_msg("rfc6238.json: %s", jerr.text);
    json_array_foreach(json_object_get(doc, "vectors"), i, v)
    {
        const char *mode = json_string_value(json_object_get(v, "mode"));
        const char *seed = json_string_value(json_object_get(json_object_get(doc, "seeds"), mode));
        kura_totp_alg alg = strcmp(mode, "SHA1") == 0     ? KURA_TOTP_SHA1
                            : strcmp(mode, "SHA256") == 0 ? KURA_TOTP_SHA256
                                                          : KURA_TOTP_SHA512;
        char code[10];
        assert_int_equal(kura_totp_code(code, alg, (const uint8_t *)seed, strlen(seed),
                                        (int64_t)json_integer_value(json_object_get(v, "time")),
                                        json_integer_value(json_object_get(doc, "t0")),
                                        json_integer_value(json_object_get(doc, "step")),
                                        (unsigned)json_integer_value(json_object_get(doc, "digits"))),
                         0);
        assert_string_equal(code, json_string_value(json_object_get(v, "totp")));
        n++;
    }
    assert_int_equal(n, 18);
    json_decref(doc);

    /* Six digits are the last six of eight (RFC 4226 truncation, mod 10^d). */
    char six[10];
    assert_int_equal(kura_totp_code(six, KURA_TOTP_SHA1, (const uint8_t *)"12345678901234567890", 20,
                                    59, 0, 30, 6),
                     0);
    assert_string_equal(six, "287082");
    assert_int_equal(kura_totp_code(six, KURA_TOTP_SHA1, (const uint8_t *)"x", 1, 59, 0, 30, 5), -1);
    assert_int_equal(kura_totp_code(six, KURA_TOTP_SHA1, (const uint8_t *)"x", 1, 59, 0, 0, 6), -1);
    assert_int_equal(kura_totp_code(six, (kura_totp_alg)9, (const uint8_t *)"x", 1, 59, 0, 30, 6), -1);
    assert_string_equal(six, "");
}

/* An independent base32 decoder (RFC 4648), for the test's authenticator. */
static size_t b32_decode(uint8_t *out, const char *in)
{
    size_t o = 0;
    unsigned buf = 0, bits = 0;
    for (; *in; in++) {
        const char *alpha = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
        const char *at = strchr(alpha, *in);
        assert_non_null(at);
        buf = (buf << 5) | (unsigned)(at - alpha);
        bits += 5;
        if (bits >= 8) {
            out[o++] = (uint8_t)(buf >> (bits - 8));
            bits -= 8;
        }
    }
    return o;
}

static void code_at(char out[10], const char *secret_b32, int64_t t)
{
    uint8_t key[64];
    size_t n = b32_decode(key, secret_b32);
    assert_int_equal(kura_totp_code(out, KURA_TOTP_SHA1, key, n, t, 0, 30, 6), 0);
}

static void test_totp_enrol_signin_replay(void **state)
{
    (void)state;
    kura_store *st = kura_test_store_open();
    kura_problem p = {0};
    json_t *e = NULL;
    kura_session_token tok;
    char code[10], secret[64];
    char *id = people_test_user(st, "erin", PW, KURA_ROLE_INITIATOR, NULL);
    kura_principal me = people_test_admin(id), other = people_test_admin("usr_someoneelse");
    me.role = KURA_ROLE_INITIATOR;

    /* Only the user enrols themselves. */
    assert_int_equal(kura_user_totp_enroll(st, &other, id, T0, &e, &p), KURA_PROBLEM_FORBIDDEN);
    assert_int_equal(kura_user_totp_confirm(st, &me, id, "123456", T0, &p), KURA_PROBLEM_INVALID_STATE);
    assert_int_equal(kura_user_totp_enroll(st, &me, id, T0, &e, &p), 0);
    snprintf(secret, sizeof secret, "%s", json_string_value(json_object_get(e, "secret")));
    assert_int_equal(strlen(secret), 32);
    assert_non_null(strstr(json_string_value(json_object_get(e, "otpauth_uri")), secret));
    assert_memory_equal(json_string_value(json_object_get(e, "otpauth_uri")), "otpauth://totp/kura:erin?", 25);
    json_decref(e);
    /* Pending: sign-in needs no code yet. */
    assert_int_equal(kura_session_signin(st, "erin", PW, NULL, "10.0.0.1", T0, &tok, NULL, &p), 0);
    /* Confirm with a wrong code, then a right one. */
    assert_int_equal(kura_user_totp_confirm(st, &me, id, "000000", T0 + 30, &p),
                     KURA_PROBLEM_BAD_CREDENTIALS);
    code_at(code, secret, T0 + 30);
    assert_int_equal(kura_user_totp_confirm(st, &me, id, code, T0 + 30, &p), 0);
    assert_int_equal(people_test_count(st, "SELECT COUNT(*) FROM audit_log WHERE action = $1",
                                       "user.totp_enrolled"),
                     1);
    /* The secret is in the row, not in any audit row. */
    {
        char pattern[80];
        snprintf(pattern, sizeof pattern, "%%%s%%", secret);
        assert_int_equal(people_test_count(st, "SELECT COUNT(*) FROM audit_log WHERE data LIKE $1", pattern), 0);
        assert_int_equal(people_test_count(st, "SELECT COUNT(*) FROM users WHERE totp_secret LIKE $1", pattern), 1);
    }

    /* Now a code is required. */
    int64_t now = T0 + 300;
    assert_int_equal(kura_session_signin(st, "erin", PW, NULL, "10.0.0.1", now, &tok, NULL, &p),
                     KURA_PROBLEM_TOTP_REQUIRED);
    assert_string_equal(tok.token, "");
    assert_int_equal(kura_session_signin(st, "erin", PW, "999999x", "10.0.0.1", now, &tok, NULL, &p),
                     KURA_PROBLEM_BAD_CREDENTIALS);
    /* Right code, and one step of drift either way. */
    code_at(code, secret, now);
    assert_int_equal(kura_session_signin(st, "erin", PW, code, "10.0.0.1", now, &tok, NULL, &p), 0);
    /* The same code again, within its window: refused (replay). */
    assert_int_equal(kura_session_signin(st, "erin", PW, code, "10.0.0.1", now + 1, &tok, NULL, &p),
                     KURA_PROBLEM_BAD_CREDENTIALS);
    /* The previous step's code is older than the one used: refused too. */
    code_at(code, secret, now - 30);
    assert_int_equal(kura_session_signin(st, "erin", PW, code, "10.0.0.1", now + 1, &tok, NULL, &p),
                     KURA_PROBLEM_BAD_CREDENTIALS);
    /* The next step's code (clock drift +1) is accepted once. */
    code_at(code, secret, now + 30);
    assert_int_equal(kura_session_signin(st, "erin", PW, code, "10.0.0.1", now + 1, &tok, NULL, &p), 0);
    /* Two steps away: refused. */
    code_at(code, secret, now + 120);
    assert_int_equal(kura_session_signin(st, "erin", PW, code, "10.0.0.1", now + 60, &tok, NULL, &p),
                     KURA_PROBLEM_BAD_CREDENTIALS);
    /* A wrong password with a right code: refused. */
    code_at(code, secret, now + 90);
    assert_int_equal(kura_session_signin(st, "erin", "wrong password!", code, "10.0.0.1", now + 90,
                                         &tok, NULL, &p),
                     KURA_PROBLEM_BAD_CREDENTIALS);
    free(id);
    kura_store_close(st);
}

/* ---- sessions ---- */

static int is_hex64(const char *s)
{
    if (strlen(s) != 64)
        return 0;
    for (; *s; s++)
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
            return 0;
    return 1;
}

static void test_session_lifecycle(void **state)
{
    (void)state;
    kura_store *st = kura_test_store_open();
    kura_problem p = {0};
    kura_session_token tok, tok2;
    kura_principal who;
    json_t *u = NULL;
    char csrf[65], token_hash[65];
    char *id = people_test_user(st, "frank", PW, KURA_ROLE_APPROVER, "frank-ssh");

    assert_int_equal(kura_session_signin(st, "frank", PW, NULL, "192.0.2.7", T0, &tok, &u, &p), 0);
    assert_true(is_hex64(tok.token));
    assert_true(is_hex64(tok.csrf));
    assert_string_not_equal(tok.token, tok.csrf);
    assert_int_equal(tok.expires_at, T0 + KURA_SESSION_LIFETIME);
    assert_string_equal(json_string_value(json_object_get(u, "username")), "frank");
    json_decref(u);

    /* Only the token's SHA-256 is stored; the CSRF token is stored. */
    crypto_hash_sha256_state h;
    uint8_t d[32];
    crypto_hash_sha256_init(&h);
    crypto_hash_sha256_update(&h, (const uint8_t *)tok.token, 64);
    crypto_hash_sha256_final(&h, d);
    sodium_bin2hex(token_hash, sizeof token_hash, d, sizeof d);
    assert_int_equal(people_test_count(st, "SELECT COUNT(*) FROM sessions WHERE token_hash = $1", token_hash), 1);
    assert_int_equal(people_test_count(st, "SELECT COUNT(*) FROM sessions WHERE token_hash = $1", tok.token), 0);
    {
        char pattern[80];
        snprintf(pattern, sizeof pattern, "%%%s%%", tok.token);
        assert_int_equal(people_test_count(st, "SELECT COUNT(*) FROM audit_log WHERE data LIKE $1", pattern), 0);
    }

    /* Authenticate: the principal and the CSRF token. */
    assert_int_equal(kura_session_authenticate(st, tok.token, "192.0.2.7", T0 + 10, &who, csrf, &p), 0);
    assert_int_equal(who.kind, KURA_PRINCIPAL_USER);
    assert_string_equal(who.id, id);
    assert_string_equal(who.name, "frank");
    assert_int_equal(who.role, KURA_ROLE_APPROVER);
    assert_string_equal(who.approver_name, "frank-ssh");
    assert_int_equal(who.scopes, KURA_SCOPE_ALL);
    assert_string_equal(who.client_addr, "192.0.2.7");
    assert_string_equal(csrf, tok.csrf);

    /* Idle limit: each request within it keeps the session alive. */
    int64_t t = T0;
    for (int i = 0; i < 5; i++) {
        t += KURA_SESSION_IDLE - 60;
        assert_int_equal(kura_session_authenticate(st, tok.token, "192.0.2.7", t, &who, csrf, &p), 0);
    }
    /* ... and a gap longer than it ends the session. */
    assert_int_equal(kura_session_authenticate(st, tok.token, "192.0.2.7", t + KURA_SESSION_IDLE, &who,
                                               csrf, &p),
                     KURA_PROBLEM_UNAUTHENTICATED);
    assert_int_equal(who.kind, 0);
    assert_string_equal(csrf, "");

    /* Absolute limit: however active, the session ends LIFETIME after sign-in. */
    assert_int_equal(kura_session_signin(st, "frank", PW, NULL, "192.0.2.7", T0, &tok2, NULL, &p), 0);
    for (t = T0 + 1000; t < T0 + KURA_SESSION_LIFETIME; t += 1000)
        assert_int_equal(kura_session_authenticate(st, tok2.token, "192.0.2.7", t, &who, csrf, &p), 0);
    assert_int_equal(kura_session_authenticate(st, tok2.token, "192.0.2.7", T0 + KURA_SESSION_LIFETIME,
                                               &who, csrf, &p),
                     KURA_PROBLEM_UNAUTHENTICATED);

    /* Sign-out ends it and is audited. */
    assert_int_equal(kura_session_signin(st, "frank", PW, NULL, "192.0.2.7", T0, &tok2, NULL, &p), 0);
    assert_int_equal(kura_session_signout(st, tok2.token, T0 + 5, &p), 0);
    assert_int_equal(kura_session_authenticate(st, tok2.token, "192.0.2.7", T0 + 6, &who, csrf, &p),
                     KURA_PROBLEM_UNAUTHENTICATED);
    assert_int_equal(kura_session_signout(st, tok2.token, T0 + 7, &p), KURA_PROBLEM_UNAUTHENTICATED);
    assert_int_equal(people_test_count(st, "SELECT COUNT(*) FROM audit_log WHERE action = $1", "session.ended"), 1);

    /* Malformed tokens. */
    assert_int_equal(kura_session_authenticate(st, "abc", "192.0.2.7", T0, &who, csrf, &p),
                     KURA_PROBLEM_UNAUTHENTICATED);
    assert_int_equal(kura_session_authenticate(st, NULL, "192.0.2.7", T0, &who, csrf, &p),
                     KURA_PROBLEM_UNAUTHENTICATED);

    /* Disabling a user ends their sessions; a password change does too. */
    assert_int_equal(kura_session_signin(st, "frank", PW, NULL, "192.0.2.7", T0, &tok2, NULL, &p), 0);
    assert_int_equal(kura_user_set_password(st, NULL, id, NULL, "another long password", T0 + 1, &p), 0);
    assert_int_equal(kura_session_authenticate(st, tok2.token, "192.0.2.7", T0 + 2, &who, csrf, &p),
                     KURA_PROBLEM_UNAUTHENTICATED);
    assert_int_equal(kura_session_signin(st, "frank", PW, NULL, "192.0.2.7", T0 + 3, &tok2, NULL, &p),
                     KURA_PROBLEM_BAD_CREDENTIALS);
    assert_int_equal(kura_session_signin(st, "frank", "another long password", NULL, "192.0.2.7",
                                         T0 + 3, &tok2, NULL, &p),
                     0);
    kura_principal admin = people_test_admin("usr_admin");
    kura_user_changes off = {KURA_ROLE_NONE, 1, NULL};
    assert_int_equal(kura_user_update(st, &admin, id, &off, T0 + 4, &u, &p), 0);
    json_decref(u);
    assert_int_equal(kura_session_authenticate(st, tok2.token, "192.0.2.7", T0 + 5, &who, csrf, &p),
                     KURA_PROBLEM_UNAUTHENTICATED);
    /* A disabled user's right password gets the same answer as a wrong one. */
    assert_int_equal(kura_session_signin(st, "frank", "another long password", NULL, "192.0.2.8",
                                         T0 + 6, &tok2, NULL, &p),
                     KURA_PROBLEM_BAD_CREDENTIALS);
    free(id);
    kura_store_close(st);
}

static void test_set_password_rules(void **state)
{
    (void)state;
    kura_store *st = kura_test_store_open();
    kura_problem p = {0};
    kura_session_token tok;
    char *id = people_test_user(st, "gina", PW, KURA_ROLE_VIEWER, NULL);
    kura_principal self = people_test_admin(id);
    self.role = KURA_ROLE_VIEWER;
    /* Your own password: the current one is needed, and must be right. */
    assert_int_equal(kura_user_set_password(st, &self, id, NULL, "new password 123", T0, &p),
                     KURA_PROBLEM_MISSING_FIELD);
    assert_int_equal(kura_user_set_password(st, &self, id, "not the password", "new password 123", T0, &p),
                     KURA_PROBLEM_BAD_CREDENTIALS);
    assert_int_equal(kura_user_set_password(st, &self, id, PW, "short", T0, &p), KURA_PROBLEM_INVALID_FIELD);
    assert_int_equal(kura_user_set_password(st, &self, id, PW, "new password 123", T0, &p), 0);
    assert_int_equal(kura_session_signin(st, "gina", "new password 123", NULL, "::1", T0, &tok, NULL, &p), 0);
    assert_int_equal(kura_user_set_password(st, NULL, "usr_nobody", NULL, "new password 123", T0, &p),
                     KURA_PROBLEM_NOT_FOUND);
    assert_int_equal(people_test_count(st, "SELECT COUNT(*) FROM audit_log WHERE action = $1",
                                       "user.password_changed"),
                     1);
    free(id);
    kura_store_close(st);
}

/* ---- rate limits ---- */

static void test_rate_limit_per_user(void **state)
{
    (void)state;
    kura_store *st = kura_test_store_open();
    kura_problem p = {0};
    kura_session_token tok;
    char addr[32];
    char *id = people_test_user(st, "henry", PW, KURA_ROLE_VIEWER, NULL);
    /* Start of a window, so the whole test stays inside it. */
    int64_t t = (T0 / KURA_SIGNIN_WINDOW) * KURA_SIGNIN_WINDOW;
    /* Failures from ever-new addresses: the user name's limit. */
    for (int i = 0; i < KURA_SIGNIN_MAX_PER_USER; i++) {
        snprintf(addr, sizeof addr, "198.51.100.%d", i + 1);
        assert_int_equal(kura_session_signin(st, "henry", "wrong password!", NULL, addr, t + i, &tok,
                                             NULL, &p),
                         KURA_PROBLEM_BAD_CREDENTIALS);
    }
    /* Now even the right password is refused, from anywhere, until the window ends. */
    assert_int_equal(kura_session_signin(st, "henry", PW, NULL, "203.0.113.9", t + 100, &tok, NULL, &p),
                     KURA_PROBLEM_RATE_LIMITED);
    assert_string_equal(tok.token, "");
    /* Another user is not affected. */
    char *id2 = people_test_user(st, "iris", PW, KURA_ROLE_VIEWER, NULL);
    assert_int_equal(kura_session_signin(st, "iris", PW, NULL, "203.0.113.9", t + 100, &tok, NULL, &p), 0);
    /* The next window. */
    assert_int_equal(kura_session_signin(st, "henry", PW, NULL, "203.0.113.9", t + KURA_SIGNIN_WINDOW,
                                         &tok, NULL, &p),
                     0);
    /* A success forgets the user name's failures. */
    for (int i = 0; i < KURA_SIGNIN_MAX_PER_USER - 1; i++)
        assert_int_equal(kura_session_signin(st, "henry", "wrong password!", NULL, "203.0.113.10",
                                             t + KURA_SIGNIN_WINDOW + 1, &tok, NULL, &p),
                         KURA_PROBLEM_BAD_CREDENTIALS);
    assert_int_equal(kura_session_signin(st, "henry", PW, NULL, "203.0.113.10",
                                         t + KURA_SIGNIN_WINDOW + 2, &tok, NULL, &p),
                     0);
    assert_int_equal(kura_session_signin(st, "henry", "wrong password!", NULL, "203.0.113.10",
                                         t + KURA_SIGNIN_WINDOW + 3, &tok, NULL, &p),
                     KURA_PROBLEM_BAD_CREDENTIALS);
    assert_int_equal(kura_session_signin(st, "henry", PW, NULL, "203.0.113.10",
                                         t + KURA_SIGNIN_WINDOW + 4, &tok, NULL, &p),
                     0);
    /* Unknown user names are limited the same way (and answered the same way). */
    for (int i = 0; i < KURA_SIGNIN_MAX_PER_USER; i++)
        assert_int_equal(kura_session_signin(st, "nobody", PW, NULL, "203.0.113.11", t + i, &tok, NULL, &p),
                         KURA_PROBLEM_BAD_CREDENTIALS);
    assert_int_equal(kura_session_signin(st, "nobody", PW, NULL, "203.0.113.12", t + 20, &tok, NULL, &p),
                     KURA_PROBLEM_RATE_LIMITED);
    /* Failures are audited (not the rate-limited attempts). */
    assert_int_equal(people_test_count(st, "SELECT COUNT(*) FROM audit_log WHERE action = $1", "signin.failed"),
                     2 * KURA_SIGNIN_MAX_PER_USER + KURA_SIGNIN_MAX_PER_USER - 1 + 1);
    free(id);
    free(id2);
    kura_store_close(st);
}

static void test_rate_limit_per_address(void **state)
{
    (void)state;
    kura_store *st = kura_test_store_open();
    kura_problem p = {0};
    kura_session_token tok;
    char name[32];
    char *id = people_test_user(st, "jack", PW, KURA_ROLE_VIEWER, NULL);
    int64_t t = (T0 / KURA_SIGNIN_WINDOW) * KURA_SIGNIN_WINDOW;
    /* Many user names from one address (credential stuffing). */
    for (int i = 0; i < KURA_SIGNIN_MAX_PER_ADDR; i++) {
        snprintf(name, sizeof name, "guess%d", i);
        assert_int_equal(kura_session_signin(st, name, PW, NULL, "2001:db8::66", t + i, &tok, NULL, &p),
                         KURA_PROBLEM_BAD_CREDENTIALS);
    }
    /* That address is refused even for a real user with the right password... */
    assert_int_equal(kura_session_signin(st, "jack", PW, NULL, "2001:db8::66", t + 200, &tok, NULL, &p),
                     KURA_PROBLEM_RATE_LIMITED);
    /* ... which still signs in from elsewhere. */
    assert_int_equal(kura_session_signin(st, "jack", PW, NULL, "2001:db8::67", t + 200, &tok, NULL, &p), 0);
    /* Refusals do not count further: the next window is clean. */
    assert_int_equal(kura_session_signin(st, "jack", PW, NULL, "2001:db8::66", t + KURA_SIGNIN_WINDOW,
                                         &tok, NULL, &p),
                     0);
    /* Counts of windows long past are swept away. */
    assert_true(people_test_count(st, "SELECT COUNT(*) FROM signin_attempts WHERE subject LIKE $1",
                                  "guess%") > 0);
    assert_int_equal(kura_session_signin(st, "jack", PW, NULL, "2001:db8::66",
                                         t + 3 * KURA_SIGNIN_WINDOW, &tok, NULL, &p),
                     0);
    assert_int_equal(people_test_count(st, "SELECT COUNT(*) FROM signin_attempts WHERE subject LIKE $1",
                                       "guess%"),
                     0);
    assert_int_equal(kura_session_signin(st, "jack", PW, NULL, "", t, &tok, NULL, &p),
                     KURA_PROBLEM_INVALID_FIELD);
    /* Successful sign-ins do not add up to the address's limit (an office
     * behind one address signs in all day). */
    for (int i = 0; i < KURA_SIGNIN_MAX_PER_ADDR + 5; i++)
        assert_int_equal(kura_session_signin(st, "jack", PW, NULL, "2001:db8::70", t + 300 + i, &tok,
                                             NULL, &p),
                         0);
    free(id);
    kura_store_close(st);
}

/* ---- the audit log holds the people's rows, and catches edits ---- */

static json_t *find_mismatch(json_t *report, const char *type, const char *id)
{
    json_t *m;
    size_t i;
    json_array_foreach(json_object_get(report, "snapshot_mismatches"), i, m)
    {
        if (strcmp(json_string_value(json_object_get(m, "object_type")), type) == 0 &&
            strcmp(json_string_value(json_object_get(m, "object_id")), id) == 0)
            return m;
    }
    return NULL;
}

static void test_audit_snapshots_catch_edits(void **state)
{
    (void)state;
    kura_store *st = kura_test_store_open();
    kura_problem p = {0};
    json_t *report = NULL, *k = NULL;
    kura_people_init();
    char *id = people_test_user(st, "kate", PW, KURA_ROLE_ADMINISTRATOR, NULL);
    kura_principal admin = people_test_admin(id);
    assert_int_equal(kura_apikey_create(st, &admin, "backoffice", KURA_ROLE_INITIATOR,
                                        KURA_SCOPE_TRANSFERS_CREATE, "", 0, NULL, T0, &k, &p),
                     0);
    const char *key_id = json_string_value(json_object_get(k, "id"));

    assert_int_equal(kura_audit_verify(st, 0, NULL, &report, &p), 0);
    if (!json_is_true(json_object_get(report, "ok"))) {
        char *s = json_dumps(report, JSON_INDENT(1));
        fail_msg("verify: %s", s);
    }
    json_decref(report);

    /* The snapshots hold digests, never the secrets. */
    char *data = people_test_text(st, "SELECT data FROM audit_log WHERE action = $1", "user.created");
    char *hash = people_test_text(st, "SELECT password_hash FROM users WHERE id = $1", id);
    assert_non_null(strstr(data, "secrets_sha256"));
    assert_null(strstr(data, hash));
    assert_null(strstr(data, "argon2"));
    free(data);
    free(hash);
    data = people_test_text(st, "SELECT data FROM audit_log WHERE action = $1", "apikey.created");
    hash = people_test_text(st, "SELECT secret_hash FROM api_keys WHERE id = $1", key_id);
    assert_non_null(strstr(data, "secret_hash_sha256"));
    assert_null(strstr(data, hash));
    free(data);
    free(hash);

    /* Signing in and using the key change nothing the snapshots hold. */
    kura_session_token tok;
    kura_principal who;
    assert_int_equal(kura_session_signin(st, "kate", PW, NULL, "127.0.0.1", T0, &tok, NULL, &p), 0);
    assert_int_equal(kura_apikey_authenticate(st, json_string_value(json_object_get(k, "key")),
                                              "127.0.0.1", T0 + 100, &who, &p),
                     0);
    assert_int_equal(kura_audit_verify(st, 0, NULL, &report, &p), 0);
    assert_true(json_is_true(json_object_get(report, "ok")));
    json_decref(report);

    /* A password hash and a key hash edited behind the server's back are named. */
    people_test_exec(st, "UPDATE users SET password_hash = 'attacker' WHERE id = $1", id);
    people_test_exec(st, "UPDATE api_keys SET secret_hash = 'attacker' WHERE id = $1", key_id);
    assert_int_equal(kura_audit_verify(st, 0, NULL, &report, &p), 0);
    assert_true(json_is_false(json_object_get(report, "ok")));
    assert_non_null(find_mismatch(report, "user", id));
    assert_non_null(find_mismatch(report, "api_key", key_id));
    json_decref(report);
    json_decref(k);
    free(id);
    kura_store_close(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roles_and_names),
        cmocka_unit_test(test_user_create_and_refusals),
        cmocka_unit_test(test_password_stored_as_argon2id),
        cmocka_unit_test(test_get_list_update),
        cmocka_unit_test(test_totp_rfc6238_vectors),
        cmocka_unit_test(test_totp_enrol_signin_replay),
        cmocka_unit_test(test_session_lifecycle),
        cmocka_unit_test(test_set_password_rules),
        cmocka_unit_test(test_rate_limit_per_user),
        cmocka_unit_test(test_rate_limit_per_address),
        cmocka_unit_test(test_audit_snapshots_catch_edits),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
