/*
 * tests/server/test_server_api_flow.c — one transfer the whole way through
 * the HTTP API (in-process server on a free port, libcurl as the client), on
 * both backends: an administrator signs in and registers a real 2-of-3 P2WSH
 * wallet with a policy its administrators signed (ssh-keygen), makes users
 * and an initiator's API key; the key allocates deposit addresses and
 * requests a transfer (Idempotency-Key replayed: the same answer, one
 * transfer); two approvers fetch the intent's exact bytes, sign them with
 * ssh-keygen and post the approvals; the initiator downloads the package, two
 * cosigners sign it and the signed PSBTs come back, one as
 * application/octet-stream and one as base64 JSON; the raw transaction is the
 * domain's, and the audit chain verifies.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <sodium.h>

#include "api/api.h"
#include "api/compat.h"
#include "kura/descriptor.h"
#include "kura/policy.h"
#include "kura/psbt.h"
#include "kura/tx.h"
#include "server_testutil.h"
#include "testutil_keys.h"
#include "testutil_sshsig.h"
#include "testutil_wallet.h"

#define H KURA_BIP32_HARDENED
#define COIN 100000000ull
#define D1 "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"

static const char *const KEYS[] = {"admin1", "admin2", "alice", "bob", "carol"};

typedef struct world {
    kura_ctx *ctx;
    char keydir[64];
    kura_bip32_key masters[3];
    kura_descriptor *desc;
    char descriptor[2048];
    char *policy;
    char *sigs[2];
    kura_store *st;
    kura_api_server *srv;
    char base[64];
} world;

typedef struct reply {
    long status;
    char *body;
    size_t len;
    char cookie[200];
    char ctype[100];
    char disposition[200];
} reply;

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
    reply *r = arg;
    size_t k = size * n;
    char *b = realloc(r->body, r->len + k + 1);
    assert_non_null(b);
    memcpy(b + r->len, data, k);
    r->body = b;
    r->len += k;
    r->body[r->len] = '\0';
    return k;
}

static void header_value(char *dst, size_t cap, const char *line, size_t n, const char *name)
{
    size_t nl = strlen(name);
    if (n > nl && strncasecmp(line, name, nl) == 0) {
        size_t v = n - nl;
        while (v && (line[nl + v - 1] == '\r' || line[nl + v - 1] == '\n'))
            v--;
        snprintf(dst, cap, "%.*s", (int)v, line + nl);
    }
}

static size_t on_header(char *data, size_t size, size_t n, void *arg)
{
    reply *r = arg;
    size_t k = size * n;
    header_value(r->cookie, sizeof r->cookie, data, k, "Set-Cookie: ");
    header_value(r->ctype, sizeof r->ctype, data, k, "Content-Type: ");
    header_value(r->disposition, sizeof r->disposition, data, k, "Content-Disposition: ");
    return k;
}

/* One request. auth: "Bearer ..." / a cookie line, csrf for sessions. */
static reply http(world *w, const char *method, const char *path, const char *auth, const char *csrf,
                  const char *ctype, const void *body, size_t len, const char *idem)
{
    reply r;
    char url[256], h[4][400];
    struct curl_slist *hl = NULL;
    CURL *c = curl_easy_init();
    memset(&r, 0, sizeof r);
    assert_non_null(c);
    snprintf(url, sizeof url, "%s%s", w->base, path);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (auth) {
        snprintf(h[0], sizeof h[0], "%s", auth);
        hl = curl_slist_append(hl, h[0]);
    }
    if (csrf) {
        snprintf(h[1], sizeof h[1], "X-CSRF-Token: %s", csrf);
        hl = curl_slist_append(hl, h[1]);
    }
    if (ctype) {
        snprintf(h[2], sizeof h[2], "Content-Type: %s", ctype);
        hl = curl_slist_append(hl, h[2]);
    }
    if (idem) {
        snprintf(h[3], sizeof h[3], "Idempotency-Key: %s", idem);
        hl = curl_slist_append(hl, h[3]);
    }
    hl = curl_slist_append(hl, "Expect:");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)len);
    }
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &r);
    assert_int_equal(curl_easy_perform(c), CURLE_OK);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
    curl_slist_free_all(hl);
    curl_easy_cleanup(c);
    return r;
}

static json_t *http_json(world *w, const char *method, const char *path, const char *auth,
                         const char *csrf, json_t *body, const char *idem, long want)
{
    char *s = body ? json_dumps(body, JSON_COMPACT) : NULL;
    reply r = http(w, method, path, auth, csrf, body ? "application/json" : NULL, s,
                   s ? strlen(s) : 0, idem);
    json_t *j;
    if (r.status != want)
        fail_msg("%s %s: want %ld, got %ld: %s", method, path, want, r.status, r.body ? r.body : "");
    j = json_loads(r.body ? r.body : "null", JSON_DECODE_ANY, NULL);
    assert_non_null(j);
    free(s);
    free(r.body);
    json_decref(body);
    return j;
}

typedef struct who {
    char auth[300];
    char csrf[80];
} who;

static who signin(world *w, const char *user, const char *pw)
{
    who s;
    char body[200];
    reply r;
    snprintf(body, sizeof body, "{\"username\":\"%s\",\"password\":\"%s\"}", user, pw);
    r = http(w, "POST", "/v1/session", NULL, NULL, "application/json", body, strlen(body), NULL);
    assert_int_equal(r.status, 201);
    json_t *j = json_loads(r.body, 0, NULL);
    assert_non_null(strstr(r.cookie, "HttpOnly"));
    snprintf(s.auth, sizeof s.auth, "Cookie: %.*s", (int)strcspn(r.cookie, ";"), r.cookie);
    snprintf(s.csrf, sizeof s.csrf, "%s", tu_str(j, "csrf_token"));
    json_decref(j);
    free(r.body);
    return s;
}

static char *make_policy(world *w, const char (*pub)[KURA_SSHKEY_STRING_MAX], const char *checksum)
{
    kura_policy *p = kura_policy_new();
    kura_error err;
    char *text = NULL;
    size_t len = 0;
    p->version = 1;
    p->chain = KURA_CHAIN_BITCOIN;
    strcpy(p->wallet.name, "treasury");
    strcpy(p->wallet.checksum, checksum);
    p->mode = KURA_POLICY_COLD;
    for (size_t i = 0; i < 2; i++)
        assert_int_equal(kura_policy_add_admin(p, KEYS[i], pub[i], &err), KURA_OK);
    p->admin_quorum = 2;
    for (size_t i = 2; i < 5; i++)
        assert_int_equal(kura_policy_add_approver(p, KEYS[i], pub[i], &err), KURA_OK);
    assert_int_equal(kura_policy_add_tier(p, KURA_POLICY_TIER_UNBOUNDED, 2, &err), KURA_OK);
    p->max_per_transfer = 10 * COIN;
    p->max_per_24h = 100 * COIN;
    p->max_fee = 200000;
    p->max_fee_rate = 100;
    p->max_lifetime = 86400;
    assert_int_equal(kura_policy_write(&text, &len, p, &err), KURA_OK);
    kura_policy_free(p);
    (void)w;
    return text;
}

static int setup(void **state)
{
    static world w;
    char origin[3][256], text[2048], *canon = NULL, err[256];
    char pub[5][KURA_SSHKEY_STRING_MAX];
    const uint32_t path[] = {48 | H, 0 | H, 0 | H, 2 | H};
    kura_api_config cfg;
    kura_error kerr;
    memset(&w, 0, sizeof w);
    tu_ctx_setup(state);
    w.ctx = tu_ctx;
    snprintf(w.keydir, sizeof w.keydir, "/tmp/kura-api-flow.XXXXXX");
    assert_non_null(mkdtemp(w.keydir));
    for (size_t i = 0; i < 5; i++) {
        tu_ssh_keygen(w.keydir, KEYS[i], "ed25519");
        tu_ssh_pubkey(pub[i], w.keydir, KEYS[i]);
    }
    for (size_t i = 0; i < 3; i++)
        tu_make_master(w.ctx, &w.masters[i], origin[i], sizeof origin[i], (uint8_t)(0x41 + i), path,
                       4, "48h/0h/0h/2h");
    snprintf(text, sizeof text, "wsh(sortedmulti(2,%s/<0;1>/*,%s/<0;1>/*,%s/<0;1>/*))", origin[0],
             origin[1], origin[2]);
    assert_int_equal(kura_descriptor_parse(w.ctx, &w.desc, text, strlen(text), &kerr), KURA_OK);
    assert_int_equal(kura_descriptor_to_string(w.ctx, &canon, w.desc, KURA_DESCRIPTOR_ALL_BRANCHES,
                                               KURA_DESCRIPTOR_PUBLIC, NULL),
                     KURA_OK);
    snprintf(w.descriptor, sizeof w.descriptor, "%s", canon);
    w.policy = make_policy(&w, pub, strrchr(canon, '#') + 1);
    kura_descriptor_string_free(canon);
    for (size_t i = 0; i < 2; i++) {
        size_t l;
        w.sigs[i] = tu_ssh_sign(w.keydir, KEYS[i], "kura-policy-v1", w.policy, strlen(w.policy), &l);
    }
    kura_people_set_password_cost(crypto_pwhash_OPSLIMIT_MIN, crypto_pwhash_MEMLIMIT_MIN);
    kura_people_init();
    kura_domain_register_snapshots();
    kura_webhook_register_snapshots();
    curl_global_init(CURL_GLOBAL_DEFAULT);
    w.st = kura_test_store_open();
    memset(&cfg, 0, sizeof cfg);
    cfg.listen_addr = "127.0.0.1";
    assert_int_equal(kura_api_start(&w.srv, w.st, &cfg, err, sizeof err), 0);
    snprintf(w.base, sizeof w.base, "http://127.0.0.1:%u", (unsigned)kura_api_port(w.srv));
    *state = &w;
    return 0;
}

static int teardown(void **state)
{
    world *w = *state;
    kura_api_stop(w->srv);
    kura_store_close(w->st);
    curl_global_cleanup();
    kura_descriptor_free(w->desc);
    free(w->policy);
    free(w->sigs[0]);
    free(w->sigs[1]);
    tu_remove_dir(w->keydir);
    *state = w->ctx;
    return tu_ctx_teardown(state);
}

static void add_user(world *w, const who *admin, const char *name, const char *role,
                     const char *approver)
{
    json_t *b = json_pack("{s:s, s:s, s:s}", "username", name, "password", "a long password 1",
                          "role", role);
    if (approver)
        json_object_set_new(b, "approver_name", json_string(approver));
    json_decref(http_json(w, "POST", "/v1/users", admin->auth, admin->csrf, b, NULL, 201));
}

static void approve(world *w, const char *tid, const char *name)
{
    char path[128];
    size_t len = 0, sl = 0;
    who s = signin(w, name, "a long password 1");
    snprintf(path, sizeof path, "/v1/transfers/%s/intent", tid);
    reply r = http(w, "GET", path, s.auth, NULL, NULL, NULL, 0, NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.ctype, "text/plain; charset=utf-8");
    /* the exact bytes the domain keeps */
    {
        char *text = NULL;
        kura_problem p;
        assert_int_equal(kura_transfer_intent(w->st, tid, &text, &len, &p), 0);
        tu_assert_bytes_equal((const uint8_t *)r.body, r.len, (const uint8_t *)text, len);
        free(text);
    }
    char *sig = tu_ssh_sign(w->keydir, name, "kura-intent-v1", r.body, r.len, &sl);
    free(r.body);
    snprintf(path, sizeof path, "/v1/transfers/%s/approvals", tid);
    json_decref(http_json(w, "POST", path, s.auth, s.csrf, json_pack("{s:s}", "signature", sig), NULL,
                          200));
    free(sig);
}

static void test_flow(void **state)
{
    world *w = *state;
    kura_problem p;
    json_t *j, *a1, *a2, *t1, *t2;
    char path[160], key_auth[200], wid[64], tid[64];
    json_t *sigs;

    /* The first administrator, as `kura-server user add` makes it. */
    assert_int_equal(kura_user_create(w->st, NULL, "root", "a long password 1", KURA_ROLE_ADMINISTRATOR,
                                      NULL, NULL, time(NULL), &j, &p), 0);
    json_decref(j);
    who admin = signin(w, "root", "a long password 1");
    add_user(w, &admin, "bob", "approver", "bob");
    add_user(w, &admin, "carol", "approver", "carol");

    /* The back office's key: an initiator with what it needs. */
    j = http_json(w, "POST", "/v1/api-keys", admin.auth, admin.csrf,
                  json_pack("{s:s, s:s, s:[s,s,s,s]}", "name", "back-office", "role", "initiator",
                            "scopes", "transfers:create", "transfers:read", "addresses:write",
                            "transfers:sign"),
                  "k1", 201);
    snprintf(key_auth, sizeof key_auth, "Authorization: Bearer %s", tu_str(j, "key"));
    char key_id[64];
    snprintf(key_id, sizeof key_id, "%s", tu_str(j, "id"));
    json_decref(j);

    /* The wallet, as kura-cold export and the administrators made it. */
    sigs = json_pack("[s,s]", w->sigs[0], w->sigs[1]);
    j = http_json(w, "POST", "/v1/wallets", admin.auth, admin.csrf,
                  json_pack("{s:s, s:s, s:o}", "descriptor", w->descriptor, "policy", w->policy,
                            "policy_signatures", sigs),
                  "w1", 201);
    snprintf(wid, sizeof wid, "%s", tu_str(j, "id"));
    assert_string_equal(tu_str(j, "name"), "treasury");
    json_decref(j);

    /* Deposit addresses; the same Idempotency-Key gives the same address. */
    snprintf(path, sizeof path, "/v1/wallets/%s/addresses", wid);
    a1 = http_json(w, "POST", path, key_auth, NULL, json_pack("{s:s, s:s}", "account", "c-1", "label", "x'y"), "a1", 201);
    a2 = http_json(w, "POST", path, key_auth, NULL, json_pack("{s:s, s:s}", "account", "c-1", "label", "x'y"), "a1", 201);
    assert_true(json_equal(a1, a2));
    json_decref(a2);
    a2 = http_json(w, "POST", path, key_auth, NULL, json_pack("{s:s}", "account", "c-2"), "a2", 201);
    assert_string_not_equal(tu_str(a1, "address"), tu_str(a2, "address"));
    assert_string_equal(tu_str(a1, "label"), "x'y");
    json_decref(a1);
    json_decref(a2);

    /* Coins, as the chain follower will add them. */
    for (uint32_t i = 0; i < 2; i++) {
        kura_tx *tx = tu_funding_tx(w->ctx, w->desc, 0, i, COIN, (uint8_t)(0x61 + i), 1000);
        size_t n = kura_tx_serialized_size(tx, KURA_TX_WITNESS), wr = 0;
        uint8_t *bytes = malloc(n);
        char *hex = malloc(2 * n + 1);
        assert_int_equal(kura_tx_serialize(bytes, n, &wr, tx, KURA_TX_WITNESS), KURA_OK);
        sodium_bin2hex(hex, 2 * n + 1, bytes, n);
        assert_int_equal(kura_utxo_add(w->st, wid, hex, 1, 800000, time(NULL), &p), 0);
        free(bytes);
        free(hex);
        kura_tx_free(tx);
    }

    /* The transfer, retried with its key: one transfer. */
#define TRANSFER_BODY json_pack("{s:s, s:s, s:[{s:s, s:I, s:s}], s:I, s:I}", "wallet_id", wid, \
                                "external_id", "wd-1", "outputs", "address", D1, "amount",        \
                                (json_int_t)30000000, "label", "withdrawal 1", "max_fee",         \
                                (json_int_t)50000, "expires_in", (json_int_t)3600)
    t1 = http_json(w, "POST", "/v1/transfers", key_auth, NULL, TRANSFER_BODY, "t1", 201);
    t2 = http_json(w, "POST", "/v1/transfers", key_auth, NULL, TRANSFER_BODY, "t1", 201);
    assert_true(json_equal(t1, t2));
    json_decref(t2);
    t2 = http_json(w, "POST", "/v1/transfers", key_auth, NULL, TRANSFER_BODY, "t2", 409);
    assert_string_equal(tu_str(t2, "error"), "DUPLICATE_EXTERNAL_ID");
    json_decref(t2);
    snprintf(tid, sizeof tid, "%s", tu_str(t1, "id"));
    assert_string_equal(tu_str(t1, "initiator"), "back-office");
    json_decref(t1);

    /* A request whose key is claimed by another still running: 409. */
    {
        const char *body = "{\"wallet_id\":\"w\",\"outputs\":[{\"address\":\"a\",\"amount\":1}],\"max_fee\":1}";
        char hash[65];
        kura_idem idem = {key_id, "busy", 0};
        kura_idem_claim c;
        memset(&c, 0, sizeof c);
        kura_idempotency_request_hash(hash, "POST", "/v1/transfers", body, strlen(body));
        assert_int_equal(kura_idempotency_claim(w->st, &idem, hash, time(NULL), &c, &p), 0);
        assert_int_equal(c.state, KURA_IDEM_NEW);
        kura_idem_claim_clear(&c);
        reply r = http(w, "POST", "/v1/transfers", key_auth, NULL, "application/json", body,
                       strlen(body), "busy");
        assert_int_equal(r.status, 409);
        assert_non_null(strstr(r.body, "IDEMPOTENCY_IN_PROGRESS"));
        free(r.body);
        assert_int_equal(kura_idempotency_release(w->st, &idem, &p), 0);
        /* released: the request runs (and is refused by the domain: no wallet w) */
        r = http(w, "POST", "/v1/transfers", key_auth, NULL, "application/json", body, strlen(body), "busy");
        assert_int_equal(r.status, 404);
        free(r.body);
        /* a refusal keeps no response: the same key may be used again */
        r = http(w, "POST", "/v1/transfers", key_auth, NULL, "application/json", body, strlen(body), "busy");
        assert_int_equal(r.status, 404);
        free(r.body);
    }

    approve(w, tid, "bob");
    approve(w, tid, "carol");
    snprintf(path, sizeof path, "/v1/transfers/%s", tid);
    j = http_json(w, "GET", path, key_auth, NULL, NULL, NULL, 200);
    assert_string_equal(tu_str(j, "state"), "approved");
    json_decref(j);

    /* The package, signed by two of the three cosigners, comes back. */
    snprintf(path, sizeof path, "/v1/transfers/%s/package", tid);
    reply pk = http(w, "GET", path, key_auth, NULL, NULL, NULL, 0, NULL);
    assert_int_equal(pk.status, 200);
    assert_string_equal(pk.ctype, "application/octet-stream");
    assert_non_null(strstr(pk.disposition, "attachment"));
    kura_psbt *pkg = NULL;
    kura_error err;
    assert_int_equal(kura_psbt_parse(&pkg, (const uint8_t *)pk.body, pk.len, &err), KURA_OK);
    free(pk.body);
    uint8_t *signed_[2];
    size_t slen[2];
    for (size_t k = 0; k < 2; k++) {
        kura_psbt *copy = NULL;
        size_t n = 0;
        assert_int_equal(kura_psbt_clone(&copy, pkg), KURA_OK);
        assert_int_equal(kura_psbt_sign_bip32(w->ctx, copy, &n, &w->masters[k * 2],
                                              KURA_PSBT_SIGN_VERIFY, &err),
                         KURA_OK);
        assert_int_equal(kura_psbt_serialize(&signed_[k], &slen[k], copy), KURA_OK);
        kura_psbt_free(copy);
    }
    kura_psbt_free(pkg);
    snprintf(path, sizeof path, "/v1/transfers/%s/signatures", tid);
    reply up = http(w, "POST", path, key_auth, NULL, "application/octet-stream", signed_[0], slen[0], NULL);
    if (up.status != 200)
        fail_msg("octet upload: %ld %s", up.status, up.body);
    free(up.body);
    {
        size_t cap = sodium_base64_encoded_len(slen[1], sodium_base64_VARIANT_ORIGINAL);
        char *b64 = malloc(cap);
        sodium_bin2base64(b64, cap, signed_[1], slen[1], sodium_base64_VARIANT_ORIGINAL);
        j = http_json(w, "POST", path, key_auth, NULL, json_pack("{s:s}", "psbt", b64), NULL, 200);
        assert_string_equal(tu_str(j, "state"), "signed");
        json_decref(j);
        free(b64);
    }
    free(signed_[0]);
    free(signed_[1]);

    /* The transaction, as the domain finalized it. */
    snprintf(path, sizeof path, "/v1/transfers/%s/tx", tid);
    j = http_json(w, "GET", path, key_auth, NULL, NULL, NULL, 200);
    {
        char *hex = NULL;
        assert_int_equal(kura_transfer_raw_tx(w->st, tid, &hex, &p), 0);
        assert_string_equal(tu_str(j, "hex"), hex);
        free(hex);
    }
    json_decref(j);

    /* The initiator's key may not approve, cancel or read the audit log. */
    snprintf(path, sizeof path, "/v1/transfers/%s/cancel", tid);
    j = http_json(w, "POST", path, key_auth, NULL, json_object(), NULL, 403);
    json_decref(j);
    j = http_json(w, "GET", "/v1/audit", key_auth, NULL, NULL, NULL, 403);
    json_decref(j);

    j = http_json(w, "POST", "/v1/audit/verify", admin.auth, admin.csrf, json_object(), NULL, 200);
    assert_true(json_is_true(json_object_get(j, "ok")));
    json_decref(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_flow)};
    return cmocka_run_group_tests(tests, setup, teardown);
}
