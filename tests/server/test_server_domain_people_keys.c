/*
 * tests/server/test_server_domain_people_keys.c — API keys (shown once,
 * stored hashed, scopes, CIDR allowlists, expiry, revocation), idempotency
 * keys (all four outcomes, release, takeover), and SQL metacharacters stored
 * verbatim in every string field; on SQLite and PostgreSQL.
 */
#include <pthread.h>
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

#include "server_people_testutil.h"

#define PW "correct horse battery"
#define EVIL "x'); DROP TABLE users; -- \"$1\" \\ %_ ;"

static int setup(void **state)
{
    (void)state;
    people_test_fast_passwords();
    return 0;
}

/* ---- scopes ---- */

static void test_scopes(void **state)
{
    (void)state;
    static const char *const names[] = {
        "wallets:read",   "wallets:write",    "addresses:read",    "addresses:write",
        "transfers:read", "transfers:create", "transfers:approve", "transfers:sign",
        "transfers:cancel", "deposits:read",  "audit:read",        "webhooks:read",
        "webhooks:write", "users:read",       "users:write",       "keys:read",
        "keys:write"};
    uint32_t bit = 0, all = 0, set = 0;
    char text[512];
    for (unsigned i = 0; i < 17; i++) {
        assert_int_equal(kura_scope_parse(names[i], &bit), 0);
        assert_int_equal(bit, 1u << i);
        assert_string_equal(kura_scope_name(bit), names[i]);
        all |= bit;
    }
    assert_int_equal(all, KURA_SCOPE_ALL);
    assert_int_equal(KURA_SCOPE_TRANSFERS_SIGN, 1u << 7);
    assert_int_equal(kura_scope_parse("transfers:*", &bit), -1);
    assert_int_equal(bit, 0);
    assert_int_equal(kura_scope_parse("Transfers:read", &bit), -1);
    assert_null(kura_scope_name(3));
    assert_null(kura_scope_name(1u << 17));

    assert_int_equal(kura_scopes_parse("  deposits:read transfers:create  ", &set), 0);
    assert_int_equal(set, KURA_SCOPE_DEPOSITS_READ | KURA_SCOPE_TRANSFERS_CREATE);
    assert_int_equal(kura_scopes_parse("", &set), 0);
    assert_int_equal(set, 0);
    assert_int_equal(kura_scopes_parse("deposits:read bogus", &set), -1);
    assert_int_equal(set, 0);
    assert_int_equal(kura_scopes_format(text, sizeof text, KURA_SCOPE_DEPOSITS_READ | KURA_SCOPE_TRANSFERS_CREATE), 0);
    assert_string_equal(text, "transfers:create deposits:read");
    assert_int_equal(kura_scopes_format(text, sizeof text, KURA_SCOPE_ALL), 0);
    assert_int_equal(kura_scopes_parse(text, &set), 0);
    assert_int_equal(set, KURA_SCOPE_ALL);
    assert_int_equal(kura_scopes_format(text, 10, KURA_SCOPE_ALL), -1);
    assert_string_equal(text, "");
}

/* ---- CIDR allowlists ---- */

static void test_cidrs(void **state)
{
    (void)state;
    assert_true(kura_cidrs_valid(""));
    assert_true(kura_cidrs_valid("10.0.0.0/8 192.168.1.7 2001:db8::/32 ::1"));
    assert_true(kura_cidrs_valid("0.0.0.0/0"));
    assert_false(kura_cidrs_valid("10.0.0.0/33"));
    assert_false(kura_cidrs_valid("2001:db8::/129"));
    assert_false(kura_cidrs_valid("10.0.0.0/"));
    assert_false(kura_cidrs_valid("10.0.0.0/08"));
    assert_false(kura_cidrs_valid("10.0.0/8"));
    assert_false(kura_cidrs_valid("example.com"));
    assert_false(kura_cidrs_valid("10.0.0.0/8; DROP TABLE api_keys"));

    /* IPv4 */
    assert_true(kura_cidrs_match("", "203.0.113.5"));
    assert_true(kura_cidrs_match("10.0.0.0/8", "10.255.1.2"));
    assert_false(kura_cidrs_match("10.0.0.0/8", "11.0.0.1"));
    assert_true(kura_cidrs_match("192.168.1.0/25", "192.168.1.127"));
    assert_false(kura_cidrs_match("192.168.1.0/25", "192.168.1.128"));
    assert_true(kura_cidrs_match("192.168.1.7", "192.168.1.7"));
    assert_false(kura_cidrs_match("192.168.1.7", "192.168.1.8"));
    assert_true(kura_cidrs_match("0.0.0.0/0", "8.8.8.8"));
    /* an IPv4-mapped IPv6 client is its IPv4 address */
    assert_true(kura_cidrs_match("10.0.0.0/8", "::ffff:10.1.2.3"));
    /* IPv6 */
    assert_true(kura_cidrs_match("2001:db8::/32", "2001:db8:ffff::1"));
    assert_false(kura_cidrs_match("2001:db8::/32", "2001:db9::1"));
    assert_true(kura_cidrs_match("2001:db8:0:1::/63", "2001:db8:0:1:ffff::1"));
    assert_false(kura_cidrs_match("2001:db8:0:2::/63", "2001:db8:0:1::1"));
    assert_true(kura_cidrs_match("::1", "::1"));
    assert_false(kura_cidrs_match("::1", "::2"));
    /* families do not mix */
    assert_false(kura_cidrs_match("::/0", "10.0.0.1"));
    assert_false(kura_cidrs_match("0.0.0.0/0", "2001:db8::1"));
    /* several networks */
    assert_true(kura_cidrs_match("10.0.0.0/8 2001:db8::/32", "2001:db8::5"));
    assert_true(kura_cidrs_match("10.0.0.0/8 2001:db8::/32", "10.9.9.9"));
    /* not an address */
    assert_false(kura_cidrs_match("10.0.0.0/8", "localhost"));
    assert_false(kura_cidrs_match("10.0.0.0/8", ""));
    assert_false(kura_cidrs_match("10.0.0.0/8", NULL));
}

/* ---- API keys ---- */

static json_t *make_key(kura_store *st, const kura_principal *who, const char *name, uint32_t scopes,
                        const char *cidrs, int64_t expires_at)
{
    json_t *k = NULL;
    kura_problem p = {0};
    if (kura_apikey_create(st, who, name, KURA_ROLE_INITIATOR, scopes, cidrs, expires_at, NULL, T0,
                           &k, &p) != 0)
        fail_msg("kura_apikey_create: %s: %s", kura_problem_name(p.code), p.message);
    return k;
}

static void test_apikey_shown_once_stored_hashed(void **state)
{
    (void)state;
    kura_store *st = kura_test_store_open();
    kura_principal admin = people_test_admin("usr_admin");
    kura_problem p = {0};
    json_t *k = make_key(st, &admin, "backoffice", KURA_SCOPE_TRANSFERS_CREATE | KURA_SCOPE_DEPOSITS_READ,
                         "", 0);
    const char *key = json_string_value(json_object_get(k, "key"));
    const char *id = json_string_value(json_object_get(k, "id"));
    const char *prefix = json_string_value(json_object_get(k, "prefix"));
    char want_hash[65];
    uint8_t d[32];

    assert_non_null(key);
    assert_int_equal(strlen(key), KURA_APIKEY_LEN);
    assert_memory_equal(key, "kura_", 5);
    assert_memory_equal(key + 5, prefix, 16);
    assert_int_equal(key[21], '_');
    assert_string_equal(json_string_value(json_object_get(k, "role")), "initiator");
    assert_int_equal(json_array_size(json_object_get(k, "scopes")), 2);
    assert_string_equal(json_string_value(json_object_get(k, "created_by")), "usr_admin");
    assert_true(json_is_null(json_object_get(k, "expires_at")));
    assert_true(json_is_null(json_object_get(k, "last_used_at")));

    /* The row holds the SHA-256 of the key and nothing from which to rebuild it. */
    crypto_hash_sha256(d, (const uint8_t *)key, strlen(key));
    sodium_bin2hex(want_hash, sizeof want_hash, d, sizeof d);
    char *stored = people_test_text(st, "SELECT secret_hash FROM api_keys WHERE id = $1", id);
    assert_string_equal(stored, want_hash);
    free(stored);
    stored = people_test_text(st,
                              "SELECT id || name || prefix || secret_hash || role || scopes || cidrs "
                              "|| created_by FROM api_keys WHERE id = $1",
                              id);
    assert_null(strstr(stored, key + 22)); /* the secret part appears nowhere */
    free(stored);
    {
        char pattern[100];
        snprintf(pattern, sizeof pattern, "%%%s%%", key + 22);
        assert_int_equal(people_test_count(st, "SELECT COUNT(*) FROM audit_log WHERE data LIKE $1", pattern), 0);
    }

    /* Shown once: reading the key again does not show it. */
    json_t *again = NULL, *page = NULL;
    assert_int_equal(kura_apikey_get(st, id, &again, &p), 0);
    assert_null(json_object_get(again, "key"));
    assert_string_equal(json_string_value(json_object_get(again, "prefix")), prefix);
    json_decref(again);
    assert_int_equal(kura_apikey_list(st, NULL, 0, &page, &p), 0);
    assert_int_equal(json_array_size(json_object_get(page, "items")), 1);
    assert_null(json_object_get(json_array_get(json_object_get(page, "items"), 0), "key"));
    json_decref(page);
    assert_int_equal(kura_apikey_get(st, "key_nope", &again, &p), KURA_PROBLEM_NOT_FOUND);

    /* It authenticates, as the key's principal. */
    kura_principal who;
    assert_int_equal(kura_apikey_authenticate(st, key, "203.0.113.1", T0 + 10, &who, &p), 0);
    assert_int_equal(who.kind, KURA_PRINCIPAL_API_KEY);
    assert_string_equal(who.id, id);
    assert_string_equal(who.name, "backoffice");
    assert_int_equal(who.role, KURA_ROLE_INITIATOR);
    assert_int_equal(who.scopes, KURA_SCOPE_TRANSFERS_CREATE | KURA_SCOPE_DEPOSITS_READ);
    assert_string_equal(who.approver_name, "");
    assert_string_equal(who.client_addr, "203.0.113.1");
    /* last_used_at is kept (at most once a minute). */
    assert_int_equal(people_test_count(st, "SELECT last_used_at FROM api_keys WHERE id = $1", id), T0 + 10);
    assert_int_equal(kura_apikey_authenticate(st, key, "203.0.113.1", T0 + 30, &who, &p), 0);
    assert_int_equal(people_test_count(st, "SELECT last_used_at FROM api_keys WHERE id = $1", id), T0 + 10);
    assert_int_equal(kura_apikey_authenticate(st, key, "203.0.113.1", T0 + 75, &who, &p), 0);
    assert_int_equal(people_test_count(st, "SELECT last_used_at FROM api_keys WHERE id = $1", id), T0 + 75);

    /* A key one character off, a key with a known prefix and a made-up
     * secret, and malformed keys are refused. */
    char bad[KURA_APIKEY_LEN + 1];
    memcpy(bad, key, sizeof bad);
    bad[KURA_APIKEY_LEN - 1] = bad[KURA_APIKEY_LEN - 1] == 'a' ? 'b' : 'a';
    assert_int_equal(kura_apikey_authenticate(st, bad, "203.0.113.1", T0, &who, &p),
                     KURA_PROBLEM_UNAUTHENTICATED);
    assert_int_equal(who.kind, 0);
    memset(bad + 22, '0', 64);
    assert_int_equal(kura_apikey_authenticate(st, bad, "203.0.113.1", T0, &who, &p),
                     KURA_PROBLEM_UNAUTHENTICATED);
    assert_int_equal(kura_apikey_authenticate(st, "kura_", "203.0.113.1", T0, &who, &p),
                     KURA_PROBLEM_UNAUTHENTICATED);
    assert_int_equal(kura_apikey_authenticate(st, NULL, "203.0.113.1", T0, &who, &p),
                     KURA_PROBLEM_UNAUTHENTICATED);
    assert_int_equal(people_test_count(st, "SELECT COUNT(*) FROM audit_log WHERE action = $1", "apikey.created"), 1);
    json_decref(k);
    kura_store_close(st);
}

static void test_apikey_cidr_expiry_revoke(void **state)
{
    (void)state;
    kura_store *st = kura_test_store_open();
    kura_principal admin = people_test_admin("usr_admin"), who;
    kura_problem p = {0};
    json_t *r = NULL;

    /* CIDR allowlist, v4 and v6. */
    json_t *k = make_key(st, &admin, "office", KURA_SCOPE_WALLETS_READ, "10.1.0.0/16 2001:db8:aa::/48", 0);
    const char *key = json_string_value(json_object_get(k, "key"));
    assert_int_equal(json_array_size(json_object_get(k, "cidrs")), 2);
    assert_int_equal(kura_apikey_authenticate(st, key, "10.1.200.3", T0, &who, &p), 0);
    assert_int_equal(kura_apikey_authenticate(st, key, "2001:db8:aa:1::9", T0, &who, &p), 0);
    assert_int_equal(kura_apikey_authenticate(st, key, "10.2.0.1", T0, &who, &p),
                     KURA_PROBLEM_ADDRESS_NOT_ALLOWED);
    assert_int_equal(who.kind, 0);
    assert_int_equal(kura_apikey_authenticate(st, key, "2001:db8:ab::1", T0, &who, &p),
                     KURA_PROBLEM_ADDRESS_NOT_ALLOWED);
    assert_int_equal(kura_apikey_authenticate(st, key, "::ffff:10.1.0.1", T0, &who, &p), 0);
    assert_int_equal(kura_apikey_authenticate(st, key, "", T0, &who, &p), KURA_PROBLEM_ADDRESS_NOT_ALLOWED);

    /* Expiry. */
    json_t *e = make_key(st, &admin, "temp", KURA_SCOPE_WALLETS_READ, "", T0 + 3600);
    const char *ekey = json_string_value(json_object_get(e, "key"));
    assert_int_equal(json_integer_value(json_object_get(e, "expires_at")), T0 + 3600);
    assert_int_equal(kura_apikey_authenticate(st, ekey, "10.0.0.1", T0 + 3599, &who, &p), 0);
    assert_int_equal(kura_apikey_authenticate(st, ekey, "10.0.0.1", T0 + 3600, &who, &p),
                     KURA_PROBLEM_UNAUTHENTICATED);

    /* Revocation. */
    const char *id = json_string_value(json_object_get(k, "id"));
    assert_int_equal(kura_apikey_revoke(st, &admin, id, T0 + 50, &r, &p), 0);
    assert_int_equal(json_integer_value(json_object_get(r, "revoked_at")), T0 + 50);
    json_decref(r);
    assert_int_equal(kura_apikey_authenticate(st, key, "10.1.200.3", T0 + 51, &who, &p),
                     KURA_PROBLEM_UNAUTHENTICATED);
    assert_int_equal(kura_apikey_revoke(st, &admin, id, T0 + 52, &r, &p), KURA_PROBLEM_INVALID_STATE);
    assert_int_equal(kura_apikey_revoke(st, &admin, "key_nope", T0 + 52, &r, &p), KURA_PROBLEM_NOT_FOUND);
    assert_int_equal(people_test_count(st, "SELECT COUNT(*) FROM audit_log WHERE action = $1", "apikey.revoked"), 1);

    /* Refused creations. */
    json_t *x = NULL;
    assert_int_equal(kura_apikey_create(st, &admin, "Bad Name", KURA_ROLE_VIEWER, KURA_SCOPE_WALLETS_READ,
                                        "", 0, NULL, T0, &x, &p),
                     KURA_PROBLEM_INVALID_FIELD);
    assert_int_equal(kura_apikey_create(st, &admin, "n", KURA_ROLE_VIEWER, 0, "", 0, NULL, T0, &x, &p),
                     KURA_PROBLEM_INVALID_FIELD);
    assert_int_equal(kura_apikey_create(st, &admin, "n", KURA_ROLE_VIEWER, 1u << 20, "", 0, NULL, T0, &x, &p),
                     KURA_PROBLEM_INVALID_FIELD);
    assert_int_equal(kura_apikey_create(st, &admin, "n", KURA_ROLE_NONE, KURA_SCOPE_WALLETS_READ, "", 0,
                                        NULL, T0, &x, &p),
                     KURA_PROBLEM_INVALID_FIELD);
    assert_int_equal(kura_apikey_create(st, &admin, "n", KURA_ROLE_VIEWER, KURA_SCOPE_WALLETS_READ,
                                        "10.0.0.0/40", 0, NULL, T0, &x, &p),
                     KURA_PROBLEM_INVALID_FIELD);
    assert_int_equal(kura_apikey_create(st, &admin, "n", KURA_ROLE_VIEWER, KURA_SCOPE_WALLETS_READ, "", T0,
                                        NULL, T0, &x, &p),
                     KURA_PROBLEM_INVALID_FIELD);
    assert_null(x);
    assert_int_equal(people_test_count(st, "SELECT COUNT(*) FROM api_keys", NULL), 2);
    json_decref(k);
    json_decref(e);
    kura_store_close(st);
}

/* ---- idempotency ---- */

static void test_idempotency_outcomes(void **state)
{
    (void)state;
    kura_store *st = kura_test_store_open();
    kura_problem p = {0};
    kura_idem_claim c;
    kura_idem idem = {.principal_id = "key_caller", .key = "order-42"};
    char h1[65], h2[65];
    json_t *out = NULL;
    kura_idempotency_request_hash(h1, "POST", "/v1/users", "{\"username\":\"lena\"}", 19);
    kura_idempotency_request_hash(h2, "POST", "/v1/users", "{\"username\":\"lenb\"}", 19);
    assert_string_not_equal(h1, h2);

    /* NEW: the caller runs the request; the domain completes the key in its transaction. */
    assert_int_equal(kura_idempotency_claim(st, &idem, h1, T0, &c, &p), 0);
    assert_int_equal(c.state, KURA_IDEM_NEW);
    /* RUNNING: the same key again before the first finished. */
    assert_int_equal(kura_idempotency_claim(st, &idem, h1, T0 + 1, &c, &p),
                     KURA_PROBLEM_IDEMPOTENCY_IN_PROGRESS);
    assert_int_equal(c.state, KURA_IDEM_RUNNING);
    /* MISMATCH: another body under the same key. */
    assert_int_equal(kura_idempotency_claim(st, &idem, h2, T0 + 1, &c, &p),
                     KURA_PROBLEM_IDEMPOTENCY_KEY_REUSED);
    assert_int_equal(c.state, KURA_IDEM_MISMATCH);
    assert_int_equal(kura_user_create(st, NULL, "lena", PW, KURA_ROLE_VIEWER, NULL, &idem, T0 + 2, &out, &p), 0);
    char *first = json_dumps(out, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(out);
    /* REPLAY: the first response again, and no second user. */
    assert_int_equal(kura_idempotency_claim(st, &idem, h1, T0 + 3, &c, &p), 0);
    assert_int_equal(c.state, KURA_IDEM_REPLAY);
    assert_int_equal(c.http_status, 201);
    json_t *replayed = json_loads(c.response, 0, NULL);
    char *again = json_dumps(replayed, JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(again, first);
    json_decref(replayed);
    free(again);
    free(first);
    kura_idem_claim_clear(&c);
    assert_null(c.response);
    assert_int_equal(people_test_count(st, "SELECT COUNT(*) FROM users", NULL), 1);
    /* MISMATCH after completion too. */
    assert_int_equal(kura_idempotency_claim(st, &idem, h2, T0 + 3, &c, &p),
                     KURA_PROBLEM_IDEMPOTENCY_KEY_REUSED);

    /* Keys are per principal. */
    kura_idem other = {.principal_id = "key_someone_else", .key = "order-42"};
    assert_int_equal(kura_idempotency_claim(st, &other, h2, T0 + 3, &c, &p), 0);
    assert_int_equal(c.state, KURA_IDEM_NEW);

    /* Release: the call failed without a response; the key is free again. */
    assert_int_equal(kura_idempotency_release(st, &other, &p), 0);
    assert_int_equal(kura_idempotency_claim(st, &other, h1, T0 + 4, &c, &p), 0);
    assert_int_equal(c.state, KURA_IDEM_NEW);
    /* A release never drops a done key. */
    assert_int_equal(kura_idempotency_release(st, &idem, &p), 0);
    assert_int_equal(kura_idempotency_claim(st, &idem, h1, T0 + 5, &c, &p), 0);
    assert_int_equal(c.state, KURA_IDEM_REPLAY);
    kura_idem_claim_clear(&c);

    /* A claim left running (its server died) is taken over after 60 s. */
    assert_int_equal(kura_idempotency_claim(st, &other, h1, T0 + 4 + KURA_IDEM_TAKEOVER - 1, &c, &p),
                     KURA_PROBLEM_IDEMPOTENCY_IN_PROGRESS);
    assert_int_equal(kura_idempotency_claim(st, &other, h1, T0 + 4 + KURA_IDEM_TAKEOVER, &c, &p), 0);
    assert_int_equal(c.state, KURA_IDEM_NEW);
    /* ... and then it is running again for others. */
    {
        kura_idem slow = other, retry = other;
        slow.claimed_at = T0 + 4;
        retry.claimed_at = c.claimed_at;
        assert_int_equal(retry.claimed_at, T0 + 4 + KURA_IDEM_TAKEOVER);
        assert_int_equal(kura_idempotency_claim(st, &other, h1, T0 + 4 + KURA_IDEM_TAKEOVER + 1, &c, &p),
                         KURA_PROBLEM_IDEMPOTENCY_IN_PROGRESS);
        /* The first request was slow, not dead (another server, stalled):
         * its creation cannot complete the claim the retry took over, so it
         * rolls back, and its release leaves that claim alone; the retry's
         * creation completes it. One user, not two. */
        assert_int_equal(kura_user_create(st, NULL, "olga", PW, KURA_ROLE_VIEWER, NULL, &slow,
                                          T0 + 70, &out, &p),
                         KURA_PROBLEM_CONFLICT);
        assert_null(out);
        assert_int_equal(kura_idempotency_release(st, &slow, &p), 0);
        assert_int_equal(kura_user_create(st, NULL, "olga", PW, KURA_ROLE_VIEWER, NULL, &retry,
                                          T0 + 71, &out, &p),
                         0);
        json_decref(out);
        out = NULL;
        assert_int_equal(people_test_count(st, "SELECT COUNT(*) FROM users WHERE username = $1", "olga"), 1);
        assert_int_equal(kura_idempotency_claim(st, &other, h1, T0 + 72, &c, &p), 0);
        assert_int_equal(c.state, KURA_IDEM_REPLAY);
        kura_idem_claim_clear(&c);
    }

    /* A done key is forgotten after a day. */
    assert_int_equal(kura_idempotency_claim(st, &idem, h2, T0 + 2 + KURA_IDEM_TTL, &c, &p), 0);
    assert_int_equal(c.state, KURA_IDEM_NEW);

    /* Completing an unclaimed key rolls the creation back. */
    kura_idem unclaimed = {.principal_id = "key_caller", .key = "never-claimed"};
    assert_int_equal(kura_user_create(st, NULL, "mona", PW, KURA_ROLE_VIEWER, NULL, &unclaimed, T0, &out, &p),
                     KURA_PROBLEM_CONFLICT);
    assert_null(out);
    assert_int_equal(people_test_count(st, "SELECT COUNT(*) FROM users WHERE username = $1", "mona"), 0);

    /* Bad keys. */
    kura_idem empty = {.principal_id = "key_caller", .key = ""};
    assert_int_equal(kura_idempotency_claim(st, &empty, h1, T0, &c, &p), KURA_PROBLEM_INVALID_FIELD);
    kura_idem ctl = {.principal_id = "key_caller", .key = "a\nb"};
    assert_int_equal(kura_idempotency_claim(st, &ctl, h1, T0, &c, &p), KURA_PROBLEM_INVALID_FIELD);
    /* NULL idem: complete is a no-op. */
    assert_int_equal(kura_idempotency_complete(NULL, NULL, 201, "{}", NULL), 0);
    kura_store_close(st);
}

/* A key claimed inside the creating transaction (routes that create in one
 * transaction): the object and the done key commit together; a key that
 * exists rolls the whole creation back, so the API asks the classic way. */
static void test_idempotency_inline_claim(void **state)
{
    (void)state;
    kura_store *st = kura_test_store_open();
    kura_problem p = {0};
    kura_idem_claim c;
    char h1[65], h2[65];
    json_t *out = NULL;
    kura_idempotency_request_hash(h1, "POST", "/v1/users", "{\"username\":\"nina\"}", 19);
    kura_idempotency_request_hash(h2, "POST", "/v1/users", "{\"username\":\"nino\"}", 19);
    kura_idem idem = {.principal_id = "key_caller", .key = "inline-1", .request_hash = h1,
                      .claimed_at = T0};

    assert_int_equal(kura_user_create(st, NULL, "nina", PW, KURA_ROLE_VIEWER, NULL, &idem, T0, &out, &p), 0);
    json_decref(out);
    out = NULL;
    /* Done already: the classic claim replays it, and refuses another body. */
    kura_idem classic = {.principal_id = "key_caller", .key = "inline-1"};
    assert_int_equal(kura_idempotency_claim(st, &classic, h1, T0 + 1, &c, &p), 0);
    assert_int_equal(c.state, KURA_IDEM_REPLAY);
    assert_int_equal(c.http_status, 201);
    assert_non_null(strstr(c.response, "nina"));
    kura_idem_claim_clear(&c);
    assert_int_equal(kura_idempotency_claim(st, &classic, h2, T0 + 1, &c, &p),
                     KURA_PROBLEM_IDEMPOTENCY_KEY_REUSED);

    /* The same key inline again: the creation rolls back whole. */
    kura_idem again = {.principal_id = "key_caller", .key = "inline-1", .request_hash = h2,
                       .claimed_at = T0 + 2};
    assert_int_not_equal(kura_user_create(st, NULL, "nino", PW, KURA_ROLE_VIEWER, NULL, &again, T0 + 2, &out, &p), 0);
    assert_null(out);
    assert_int_equal(people_test_count(st, "SELECT COUNT(*) FROM users WHERE username = $1", "nino"), 0);

    /* A key another request holds running: likewise rolled back. */
    kura_idem held = {.principal_id = "key_caller", .key = "inline-2"};
    assert_int_equal(kura_idempotency_claim(st, &held, h2, T0 + 3, &c, &p), 0);
    kura_idem racing = {.principal_id = "key_caller", .key = "inline-2", .request_hash = h2,
                        .claimed_at = T0 + 3};
    assert_int_not_equal(kura_user_create(st, NULL, "nino", PW, KURA_ROLE_VIEWER, NULL, &racing, T0 + 3, &out, &p), 0);
    assert_int_equal(people_test_count(st, "SELECT COUNT(*) FROM users WHERE username = $1", "nino"), 0);
    assert_int_equal(kura_idempotency_claim(st, &held, h2, T0 + 4, &c, &p),
                     KURA_PROBLEM_IDEMPOTENCY_IN_PROGRESS);

    /* A malformed hash is refused rather than stored. */
    kura_idem bad = {.principal_id = "key_caller", .key = "inline-3", .request_hash = "xyz",
                     .claimed_at = T0};
    assert_int_not_equal(kura_user_create(st, NULL, "nino", PW, KURA_ROLE_VIEWER, NULL, &bad, T0, &out, &p), 0);
    assert_int_equal(people_test_count(st, "SELECT COUNT(*) FROM users", NULL), 1);
    kura_store_close(st);
}

/* Many claims of one key at once: exactly one runs. */
typedef struct racer {
    kura_store *st;
    const char *hash;
    int rc;
    kura_idem_state state;
} racer;

static void *racer_main(void *varg)
{
    racer *r = varg;
    kura_idem idem = {.principal_id = "key_racer", .key = "same-key"};
    kura_idem_claim c;
    kura_problem p = {0};
    r->rc = kura_idempotency_claim(r->st, &idem, r->hash, T0, &c, &p);
    r->state = c.state;
    kura_idem_claim_clear(&c);
    return NULL;
}

static void test_idempotency_claims_race(void **state)
{
    (void)state;
    kura_store *st = kura_test_store_open();
    pthread_t tid[8];
    racer r[8];
    char h[65];
    int news = 0, running = 0;
    kura_idempotency_request_hash(h, "POST", "/v1/transfers", "{}", 2);
    for (int i = 0; i < 8; i++) {
        r[i] = (racer){st, h, -1, 0};
        assert_int_equal(pthread_create(&tid[i], NULL, racer_main, &r[i]), 0);
    }
    for (int i = 0; i < 8; i++) {
        pthread_join(tid[i], NULL);
        if (r[i].rc == 0 && r[i].state == KURA_IDEM_NEW)
            news++;
        else if (r[i].rc == KURA_PROBLEM_IDEMPOTENCY_IN_PROGRESS && r[i].state == KURA_IDEM_RUNNING)
            running++;
    }
    assert_int_equal(news, 1);
    assert_int_equal(running, 7);
    kura_store_close(st);
}

static void test_apikey_idempotent_replay_hides_key(void **state)
{
    (void)state;
    kura_store *st = kura_test_store_open();
    kura_principal admin = people_test_admin("usr_admin");
    kura_problem p = {0};
    kura_idem_claim c;
    kura_idem idem = {.principal_id = "usr_admin", .key = "new-key-1"};
    char h[65];
    json_t *k = NULL;
    kura_idempotency_request_hash(h, "POST", "/v1/keys", "{}", 2);
    assert_int_equal(kura_idempotency_claim(st, &idem, h, T0, &c, &p), 0);
    assert_int_equal(kura_apikey_create(st, &admin, "ci", KURA_ROLE_VIEWER, KURA_SCOPE_WALLETS_READ, "", 0,
                                        &idem, T0, &k, &p),
                     0);
    const char *key = json_string_value(json_object_get(k, "key"));
    assert_non_null(key);
    assert_int_equal(kura_idempotency_claim(st, &idem, h, T0 + 1, &c, &p), 0);
    assert_int_equal(c.state, KURA_IDEM_REPLAY);
    /* The kept response is the key's JSON without the key. */
    assert_non_null(strstr(c.response, json_string_value(json_object_get(k, "id"))));
    assert_null(strstr(c.response, key + 22));
    assert_null(strstr(c.response, "\"key\""));
    kura_idem_claim_clear(&c);
    {
        char pattern[100];
        snprintf(pattern, sizeof pattern, "%%%s%%", key + 22);
        assert_int_equal(people_test_count(st, "SELECT COUNT(*) FROM idempotency_keys WHERE response LIKE $1",
                                           pattern),
                         0);
    }
    json_decref(k);
    kura_store_close(st);
}

/* ---- SQL metacharacters, verbatim ---- */

static void test_sql_metacharacters_verbatim(void **state)
{
    (void)state;
    kura_store *st = kura_test_store_open();
    kura_principal admin = people_test_admin("usr_admin");
    kura_problem p = {0};
    kura_session_token tok;
    kura_idem_claim c;
    json_t *out = NULL;
    const char *evil_pw = "pw " EVIL;
    char h[65];

    /* A password of metacharacters works (hashed, so never in SQL text anyway). */
    char *id = people_test_user(st, "nina", evil_pw, KURA_ROLE_VIEWER, NULL);
    assert_int_equal(kura_session_signin(st, "nina", evil_pw, NULL, "10.0.0.1", T0, &tok, NULL, &p), 0);
    /* Names with metacharacters are refused by their rules, and change nothing. */
    assert_int_equal(kura_user_create(st, NULL, EVIL, PW, KURA_ROLE_VIEWER, NULL, NULL, T0, &out, &p),
                     KURA_PROBLEM_INVALID_FIELD);
    assert_int_equal(kura_user_create(st, NULL, "olga", PW, KURA_ROLE_APPROVER, EVIL, NULL, T0, &out, &p),
                     KURA_PROBLEM_INVALID_FIELD);
    assert_int_equal(kura_apikey_create(st, &admin, EVIL, KURA_ROLE_VIEWER, KURA_SCOPE_WALLETS_READ, "", 0,
                                        NULL, T0, &out, &p),
                     KURA_PROBLEM_INVALID_FIELD);
    assert_int_equal(kura_apikey_create(st, &admin, "k", KURA_ROLE_VIEWER, KURA_SCOPE_WALLETS_READ, EVIL, 0,
                                        NULL, T0, &out, &p),
                     KURA_PROBLEM_INVALID_FIELD);
    /* Free text fields take them and keep them byte for byte: the user name
     * tried at sign-in (audited), the client address, the Idempotency-Key. */
    assert_int_equal(kura_session_signin(st, EVIL, PW, NULL, "10.0.0.1", T0, &tok, NULL, &p),
                     KURA_PROBLEM_BAD_CREDENTIALS);
    char *data = people_test_text(st,
                                  "SELECT data FROM audit_log WHERE action = $1 ORDER BY seq DESC LIMIT 1",
                                  "signin.failed");
    json_t *d = json_loads(data, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(d, "username")), EVIL);
    json_decref(d);
    free(data);
    assert_int_equal(kura_session_signin(st, "nina", "wrong password!", NULL, EVIL, T0, &tok, NULL, &p),
                     KURA_PROBLEM_BAD_CREDENTIALS);
    assert_int_equal(people_test_count(st, "SELECT failures FROM signin_attempts WHERE subject = $1", EVIL), 1);
    kura_idem idem = {.principal_id = "usr_admin", .key = EVIL};
    kura_idempotency_request_hash(h, "POST", "/v1/users", EVIL, strlen(EVIL));
    assert_int_equal(kura_idempotency_claim(st, &idem, h, T0, &c, &p), 0);
    assert_int_equal(kura_user_create(st, &admin, "olga", PW, KURA_ROLE_VIEWER, NULL, &idem, T0, &out, &p), 0);
    json_decref(out);
    assert_int_equal(people_test_count(st, "SELECT COUNT(*) FROM idempotency_keys WHERE idem_key = $1", EVIL), 1);
    assert_int_equal(kura_idempotency_claim(st, &idem, h, T0 + 1, &c, &p), 0);
    assert_int_equal(c.state, KURA_IDEM_REPLAY);
    kura_idem_claim_clear(&c);
    /* Lookups by metacharacters find nothing and break nothing. */
    assert_int_equal(kura_user_get(st, EVIL, &out, &p), KURA_PROBLEM_NOT_FOUND);
    assert_int_equal(kura_apikey_get(st, EVIL, &out, &p), KURA_PROBLEM_NOT_FOUND);
    assert_int_equal(kura_apikey_revoke(st, &admin, EVIL, T0, &out, &p), KURA_PROBLEM_NOT_FOUND);
    assert_int_equal(people_test_count(st, "SELECT COUNT(*) FROM users", NULL), 2);
    free(id);
    kura_store_close(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scopes),
        cmocka_unit_test(test_cidrs),
        cmocka_unit_test(test_apikey_shown_once_stored_hashed),
        cmocka_unit_test(test_apikey_cidr_expiry_revoke),
        cmocka_unit_test(test_idempotency_outcomes),
        cmocka_unit_test(test_idempotency_inline_claim),
        cmocka_unit_test(test_idempotency_claims_race),
        cmocka_unit_test(test_apikey_idempotent_replay_hides_key),
        cmocka_unit_test(test_sql_metacharacters_verbatim),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
