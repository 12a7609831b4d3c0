/*
 * tests/server/test_server_api.c — the api's pieces without a server: the
 * route table's invariants and the router, the declared body rules (each
 * kind of refusal with its stable code), and the configuration file.
 * (The real server is exercised by test_api_*.py.)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "api/config.h"
#include "api/routes.h"
#include "api/validate.h"

static void test_table_invariants(void **state)
{
    (void)state;
    assert_true(kura_route_count >= 38);
    for (size_t i = 0; i < kura_route_count; i++) {
        const kura_route *r = &kura_routes[i];
        char id[65];
        assert_non_null(r->handler);
        assert_non_null(r->operation_id);
        /* one row per method + path, and the router finds it */
        for (size_t j = i + 1; j < kura_route_count; j++) {
            assert_false(!strcmp(r->method, kura_routes[j].method) && !strcmp(r->path, kura_routes[j].path));
            assert_string_not_equal(r->operation_id, kura_routes[j].operation_id);
        }
        char path[128];
        snprintf(path, sizeof path, "%s", r->path);
        char *brace = strstr(path, "{id}");
        if (brace)
            memcpy(brace, "ab_1", 4);
        assert_int_equal(kura_route_find(r->method, path, id), (int)i);
        assert_string_equal(id, brace ? "ab_1" : "");
        if (r->flags & KURA_ROUTE_PUBLIC) {
            assert_int_equal(r->roles, 0);
        } else {
            assert_true(r->roles != 0);
            /* a route keys may call names the scope they need */
            assert_true(r->scope != 0 || (r->flags & (KURA_ROUTE_NO_KEYS | KURA_ROUTE_ANY_SCOPE)));
        }
        if (r->flags & KURA_ROUTE_CREATES)
            assert_string_equal(r->method, "POST");
        /* a body means declared rules, and no body means none */
        assert_true((r->content_types != 0) == (r->body != NULL));
        /* the auditor changes nothing: only reads, and the chain check */
        if (r->roles & KURA_ROLE_BIT(KURA_ROLE_AUDITOR) && strcmp(r->method, "GET") != 0)
            assert_true(!strcmp(r->path, "/v1/audit/verify") || (r->flags & KURA_ROUTE_SELF) ||
                        !strcmp(r->path, "/v1/session"));
        /* the viewer never writes (but may sign out and enrol its own TOTP) */
        if (r->roles & KURA_ROLE_BIT(KURA_ROLE_VIEWER) && strcmp(r->method, "GET") != 0)
            assert_true((r->flags & KURA_ROUTE_SELF) || !strcmp(r->path, "/v1/session"));
    }
}

static void test_router(void **state)
{
    char id[65];
    (void)state;
    assert_int_equal(kura_route_find("GET", "/v1/nothing", id), -1);
    assert_int_equal(kura_route_find("PUT", "/v1/wallets", id), -2);
    assert_int_equal(kura_route_find("GET", "/v1/transfers/a'b", id), -1);
    assert_int_equal(kura_route_find("GET", "/v1/transfers/", id), -1);
    assert_int_equal(kura_route_find("GET", "/v1/transfers/x/intent/", id), -1);
    char long_id[80];
    memset(long_id, 'a', sizeof long_id);
    snprintf(long_id, sizeof long_id, "/v1/transfers/%065d", 1);
    assert_int_equal(kura_route_find("GET", long_id, id), -1);
    assert_true(kura_route_find("GET", "/v1/transfers/tr_01/intent", id) >= 0);
    assert_string_equal(id, "tr_01");
    assert_true(kura_route_find("GET", "/v1/transfers", id) >= 0);
    assert_string_equal(id, "");
}

static int load(const kura_body_spec *spec, const char *text, kura_problem *p)
{
    json_t *j = NULL;
    int rc = kura_api_body_load(spec, text, strlen(text), &j, p);
    if (rc == 0)
        assert_non_null(j);
    else
        assert_null(j);
    json_decref(j);
    return rc;
}

static void test_body_rules(void **state)
{
    kura_problem p;
    (void)state;
    const char *ok = "{\"wallet_id\":\"wl_1\",\"outputs\":[{\"address\":\"bcrt1qx\",\"amount\":1000}],\"max_fee\":500}";
    assert_int_equal(load(&kura_body_transfer_create, ok, &p), 0);
    assert_int_equal(load(&kura_body_transfer_create, "{\"wallet_id\":", &p), KURA_PROBLEM_BAD_JSON);
    assert_int_equal(load(&kura_body_transfer_create, "[1]", &p), KURA_PROBLEM_BAD_JSON);
    assert_int_equal(load(&kura_body_transfer_create, "{\"a\":1,\"a\":2}", &p), KURA_PROBLEM_BAD_JSON);
    assert_int_equal(load(&kura_body_transfer_create, "{\"max_fees\":1}", &p), KURA_PROBLEM_UNKNOWN_FIELD);
    assert_non_null(strstr(p.message, "max_fees"));
    assert_int_equal(load(&kura_body_transfer_create, "{\"wallet_id\":\"w\",\"max_fee\":1}", &p),
                     KURA_PROBLEM_MISSING_FIELD);
    assert_non_null(strstr(p.message, "outputs"));
    /* types, ranges, lengths, character sets, nested items */
    assert_int_equal(load(&kura_body_transfer_create,
                          "{\"wallet_id\":\"w\",\"outputs\":[{\"address\":\"a\",\"amount\":1.5}],\"max_fee\":1}", &p),
                     KURA_PROBLEM_INVALID_FIELD);
    assert_non_null(strstr(p.message, "outputs[0].amount"));
    assert_int_equal(load(&kura_body_transfer_create,
                          "{\"wallet_id\":\"w\",\"outputs\":[{\"address\":\"a\",\"amount\":0}],\"max_fee\":1}", &p),
                     KURA_PROBLEM_INVALID_FIELD);
    assert_int_equal(load(&kura_body_transfer_create,
                          "{\"wallet_id\":\"w\",\"outputs\":[{\"address\":\"a\",\"amount\":2100000000000001}],\"max_fee\":1}", &p),
                     KURA_PROBLEM_INVALID_FIELD);
    assert_int_equal(load(&kura_body_transfer_create,
                          "{\"wallet_id\":\"w\",\"outputs\":[{\"address\":\"a b\",\"amount\":1}],\"max_fee\":1}", &p),
                     KURA_PROBLEM_INVALID_FIELD);
    assert_int_equal(load(&kura_body_transfer_create,
                          "{\"wallet_id\":\"w\",\"outputs\":[{\"address\":\"a\",\"amount\":1,\"x\":1}],\"max_fee\":1}", &p),
                     KURA_PROBLEM_UNKNOWN_FIELD);
    assert_int_equal(load(&kura_body_transfer_create,
                          "{\"wallet_id\":\"w'; DROP TABLE t;--\",\"outputs\":[{\"address\":\"a\",\"amount\":1}],\"max_fee\":1}", &p),
                     KURA_PROBLEM_INVALID_FIELD);
    assert_int_equal(load(&kura_body_transfer_create,
                          "{\"wallet_id\":\"w\",\"outputs\":[],\"max_fee\":1}", &p), KURA_PROBLEM_INVALID_FIELD);
    /* labels: one line, no bidi overrides (U+202E) */
    assert_int_equal(load(&kura_body_address_create, "{\"label\":\"a\\nb\"}", &p), KURA_PROBLEM_INVALID_FIELD);
    assert_int_equal(load(&kura_body_address_create, "{\"label\":\"pay \\u202e evil\"}", &p), KURA_PROBLEM_INVALID_FIELD);
    assert_int_equal(load(&kura_body_address_create, "{\"label\":\"caf\\u00e9 'quoted' \\\"x\\\"\"}", &p), 0);
    assert_int_equal(load(&kura_body_address_create, "{\"label\":\"nul\\u0000\"}", &p), KURA_PROBLEM_BAD_JSON);
    assert_int_equal(load(&kura_body_address_create, "", &p), 0); /* all optional: no body is {} */
    /* enums */
    assert_int_equal(load(&kura_body_user_create, "{\"username\":\"a\",\"password\":\"123456789012\",\"role\":\"root\"}", &p),
                     KURA_PROBLEM_INVALID_FIELD);
    assert_int_equal(load(&kura_body_user_create, "{\"username\":\"a\",\"password\":\"123456789012\",\"role\":\"auditor\"}", &p), 0);
    assert_int_equal(load(&kura_body_user_update, "{\"disabled\":1}", &p), KURA_PROBLEM_INVALID_FIELD);
    assert_int_equal(load(&kura_body_totp_confirm, "{\"code\":\"12a456\"}", &p), KURA_PROBLEM_INVALID_FIELD);
    assert_int_equal(load(&kura_body_empty, "{\"x\":1}", &p), KURA_PROBLEM_UNKNOWN_FIELD);
    /* every spec accepts nothing undeclared */
    for (size_t i = 0; kura_body_specs[i]; i++)
        assert_int_equal(load(kura_body_specs[i], "{\"zz\":1}", &p), KURA_PROBLEM_UNKNOWN_FIELD);
}

static void test_fill_transfer(void **state)
{
    kura_problem p;
    kura_transfer_body b;
    json_t *j = NULL;
    const char *t = "{\"wallet_id\":\"wl_1\",\"external_id\":\"e-1\",\"outputs\":[{\"address\":\"a1\",\"amount\":7,\"label\":\"L\"},"
                    "{\"address\":\"a2\",\"amount\":9}],\"max_fee\":500,\"expires_in\":60}";
    (void)state;
    assert_int_equal(kura_api_body_load(&kura_body_transfer_create, t, strlen(t), &j, &p), 0);
    assert_int_equal(kura_api_fill_transfer(j, &b, &p), 0);
    assert_string_equal(b.wallet_id, "wl_1");
    assert_string_equal(b.external_id, "e-1");
    assert_int_equal(b.output_count, 2);
    assert_int_equal(b.outputs[0].amount, 7);
    assert_string_equal(b.outputs[0].label, "L");
    assert_string_equal(b.outputs[1].label, "");
    assert_int_equal(b.max_fee, 500);
    assert_int_equal(b.expires_in, 60);
    kura_transfer_body_free(&b);
    json_decref(j);
}

static void test_config(void **state)
{
    kura_server_config c;
    char err[256];
    const char *good = "# kura\nlisten = [::1]:9000\n data_dir=/var/lib/kura \nbody_limit = 2M\nthreads = 8\n"
                       "log_requests = no\ndefault_fee_rate = 5\n";
    (void)state;
    kura_config_defaults(&c);
    assert_string_equal(c.listen_addr, "127.0.0.1");
    assert_int_equal(c.port, 8420);
    assert_int_equal(kura_config_parse(&c, good, strlen(good), err, sizeof err), 0);
    assert_string_equal(c.listen_addr, "::1");
    assert_int_equal(c.port, 9000);
    assert_string_equal(c.data_dir, "/var/lib/kura");
    assert_int_equal(c.body_limit, 2u << 20);
    assert_int_equal(c.threads, 8);
    assert_int_equal(c.log_requests, 0);
    assert_int_equal(kura_config_parse(&c, "nope = 1\n", 9, err, sizeof err), -1);
    assert_non_null(strstr(err, "line 1"));
    assert_int_equal(kura_config_parse(&c, "\n\nthreads = 0\n", 14, err, sizeof err), -1);
    assert_non_null(strstr(err, "line 3"));
    assert_int_equal(kura_config_parse(&c, "listen = 1.2.3.4:99999\n", 23, err, sizeof err), -1);
    assert_int_equal(kura_config_parse(&c, "listen 1.2.3.4\n", 15, err, sizeof err), -1);
    assert_int_equal(kura_config_parse(&c, "body_limit = 1G\n", 16, err, sizeof err), -1);
    /* found by fuzz_server_api_config: the suffix must not hide a value below the floor */
    assert_int_equal(kura_config_parse(&c, "body_limit = 0M\n", 16, err, sizeof err), -1);
    assert_int_equal(kura_config_parse(&c, "body_limit = 1k\n", 16, err, sizeof err), 0);
    assert_int_equal(c.body_limit, 1024);
    /* Scheduled batching of withdrawals: off by default, then set. */
    kura_config_defaults(&c);
    assert_int_equal(c.batch_interval, 0);
    assert_int_equal(c.batch_min_requests, 1);
    assert_int_equal(c.batch_max_outputs, 250);
    assert_int_equal(kura_config_parse(&c, "batch_interval = 600\nbatch_min_requests = 20\n"
                                           "batch_max_outputs = 100\n", 69, err, sizeof err), 0);
    assert_int_equal(c.batch_interval, 600);
    assert_int_equal(c.batch_min_requests, 20);
    assert_int_equal(c.batch_max_outputs, 100);
    assert_int_equal(kura_config_parse(&c, "batch_min_requests = 0\n", 23, err, sizeof err), -1);
    assert_int_equal(kura_config_parse(&c, "batch_max_outputs = 1001\n", 25, err, sizeof err), -1);
    assert_int_equal(kura_config_parse(&c, "batch_interval = -1\n", 20, err, sizeof err), -1);
}

/* hot_spool = WALLET DIR, once per hot wallet (domain/hot.h). */
static void test_config_hot_spool(void **state)
{
    kura_server_config c;
    char err[256], line[64];
    const char *two = "hot_spool = hot-wallet /srv/kura/spool/hot\nhot_spool = wal_01 /srv/b c\n"
                      "hot_poll_interval_ms = 250\n";
    (void)state;
    kura_config_defaults(&c);
    assert_int_equal(c.hot_spool_count, 0);
    assert_int_equal(c.hot_poll_interval_ms, 1000);
    assert_int_equal(kura_config_parse(&c, two, strlen(two), err, sizeof err), 0);
    assert_int_equal(c.hot_spool_count, 2);
    assert_string_equal(c.hot_spool_wallet[0], "hot-wallet");
    assert_string_equal(c.hot_spool_dir[0], "/srv/kura/spool/hot");
    assert_string_equal(c.hot_spool_wallet[1], "wal_01");
    assert_string_equal(c.hot_spool_dir[1], "/srv/b c");
    assert_int_equal(c.hot_poll_interval_ms, 250);
    /* A wallet without a directory, or nothing at all. */
    assert_int_equal(kura_config_parse(&c, "hot_spool = hot-wallet\n", 23, err, sizeof err), -1);
    assert_non_null(strstr(err, "hot_spool"));
    assert_int_equal(kura_config_parse(&c, "hot_spool = \n", 13, err, sizeof err), -1);
    assert_int_equal(kura_config_parse(&c, "hot_poll_interval_ms = 5\n", 25, err, sizeof err), -1);
    /* No more than KURA_CONFIG_HOT_SPOOLS_MAX. */
    kura_config_defaults(&c);
    for (int i = 0; i < KURA_CONFIG_HOT_SPOOLS_MAX; i++) {
        snprintf(line, sizeof line, "hot_spool = w%d /d%d\n", i, i);
        assert_int_equal(kura_config_parse(&c, line, strlen(line), err, sizeof err), 0);
    }
    assert_int_equal(c.hot_spool_count, KURA_CONFIG_HOT_SPOOLS_MAX);
    assert_int_equal(kura_config_parse(&c, "hot_spool = w /d\n", 17, err, sizeof err), -1);
    assert_int_equal(c.hot_spool_count, KURA_CONFIG_HOT_SPOOLS_MAX);
}

/* The shipped example parses, and says exactly the defaults. */
static void test_config_example(void **state)
{
    kura_server_config c, d;
    char err[256], text[8192];
    FILE *f = fopen(KURA_TESTS_DIR "/../server/kura-server.conf.example", "r");
    size_t n;
    (void)state;
    assert_non_null(f);
    n = fread(text, 1, sizeof text, f);
    fclose(f);
    assert_true(n > 0 && n < sizeof text);
    kura_config_defaults(&c);
    kura_config_defaults(&d);
    assert_int_equal(kura_config_parse(&c, text, n, err, sizeof err), 0);
    assert_memory_equal(&c, &d, sizeof c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_invariants), cmocka_unit_test(test_router),
        cmocka_unit_test(test_body_rules), cmocka_unit_test(test_fill_transfer),
        cmocka_unit_test(test_config), cmocka_unit_test(test_config_example),
        cmocka_unit_test(test_config_hot_spool),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
