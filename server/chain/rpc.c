/*
 * server/chain/rpc.c — the JSON-RPC client (rpc.h).
 */
#include "chain/rpc.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <sodium.h>

struct kura_rpc {
    char *url;
    char *cookie_file;
    char *user;
    char *password;
    long timeout_ms;
    unsigned retries;
    long backoff_ms;
    CURL *curl;
    uint64_t next_id;
};

const char *kura_rpc_status_name(int code)
{
    switch (code) {
    case KURA_RPC_OK: return "KURA_RPC_OK";
    case KURA_RPC_EINVAL: return "KURA_RPC_EINVAL";
    case KURA_RPC_ENOMEM: return "KURA_RPC_ENOMEM";
    case KURA_RPC_EUNREACHABLE: return "KURA_RPC_EUNREACHABLE";
    case KURA_RPC_ETIMEOUT: return "KURA_RPC_ETIMEOUT";
    case KURA_RPC_EAUTH: return "KURA_RPC_EAUTH";
    case KURA_RPC_ESYNCING: return "KURA_RPC_ESYNCING";
    case KURA_RPC_EWRONGCHAIN: return "KURA_RPC_EWRONGCHAIN";
    case KURA_RPC_EPRUNED: return "KURA_RPC_EPRUNED";
    case KURA_RPC_ERPC: return "KURA_RPC_ERPC";
    case KURA_RPC_EPROTO: return "KURA_RPC_EPROTO";
    default: return "KURA_RPC_E?";
    }
}

#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static int fail(kura_rpc_error *err, int code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        err->code = code;
        err->rpc_code = 0;
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
    }
    return code;
}

static void ok(kura_rpc_error *err)
{
    if (err) {
        err->code = 0;
        err->rpc_code = 0;
        err->message[0] = '\0';
    }
}

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

void kura_rpc_free(kura_rpc *rpc)
{
    if (!rpc)
        return;
    if (rpc->curl)
        curl_easy_cleanup(rpc->curl);
    free(rpc->url);
    free(rpc->cookie_file);
    free(rpc->user);
    if (rpc->password) {
        sodium_memzero(rpc->password, strlen(rpc->password));
        free(rpc->password);
    }
    free(rpc);
}

int kura_rpc_new(kura_rpc **out, const kura_rpc_options *opts, kura_rpc_error *err)
{
    kura_rpc *r;
    if (!out)
        return fail(err, KURA_RPC_EINVAL, "no output");
    *out = NULL;
    if (!opts || !opts->url || !opts->url[0])
        return fail(err, KURA_RPC_EINVAL, "no node URL");
    if (strncmp(opts->url, "http://", 7) != 0 && strncmp(opts->url, "https://", 8) != 0)
        return fail(err, KURA_RPC_EINVAL, "the node URL must start with http:// or https://");
    if (!(opts->cookie_file && opts->cookie_file[0]) && !(opts->user && opts->user[0]))
        return fail(err, KURA_RPC_EINVAL, "no node credentials: give a cookie file or a user");
    r = calloc(1, sizeof *r);
    if (!r)
        return fail(err, KURA_RPC_ENOMEM, "out of memory");
    r->url = strdup(opts->url);
    r->cookie_file = opts->cookie_file && opts->cookie_file[0] ? strdup(opts->cookie_file) : NULL;
    r->user = dup_or_null(opts->user);
    r->password = dup_or_null(opts->password ? opts->password : "");
    r->timeout_ms = opts->timeout_ms > 0 ? opts->timeout_ms : 30000;
    r->retries = opts->retries;
    r->backoff_ms = opts->backoff_ms > 0 ? opts->backoff_ms : 250;
    r->curl = curl_easy_init();
    if (!r->url || !r->password || (opts->cookie_file && opts->cookie_file[0] && !r->cookie_file) ||
        (opts->user && !r->user) || !r->curl) {
        kura_rpc_free(r);
        return fail(err, KURA_RPC_ENOMEM, "out of memory");
    }
    *out = r;
    ok(err);
    return KURA_RPC_OK;
}

/* "user:password" for this attempt (malloc'd, the caller wipes and frees). */
static int credentials(kura_rpc *r, char **out, kura_rpc_error *err)
{
    *out = NULL;
    if (r->cookie_file) {
        char buf[512];
        size_t n;
        FILE *f = fopen(r->cookie_file, "r");
        if (!f)
            return fail(err, KURA_RPC_EAUTH, "cannot read the node's cookie file %s: %s",
                        r->cookie_file, strerror(errno));
        n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[n] = '\0';
        while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
            buf[--n] = '\0';
        if (!strchr(buf, ':')) {
            sodium_memzero(buf, sizeof buf);
            return fail(err, KURA_RPC_EAUTH, "the node's cookie file %s is not user:password",
                        r->cookie_file);
        }
        *out = strdup(buf);
        sodium_memzero(buf, sizeof buf);
    } else {
        size_t n = strlen(r->user) + strlen(r->password) + 2;
        *out = malloc(n);
        if (*out)
            snprintf(*out, n, "%s:%s", r->user, r->password);
    }
    return *out ? KURA_RPC_OK : fail(err, KURA_RPC_ENOMEM, "out of memory");
}

typedef struct buffer {
    char *data;
    size_t len;
} buffer;

#define RPC_MAX_REPLY (64u * 1024u * 1024u) /* a 4 MB block is 8 MB of hex */

static size_t collect(char *ptr, size_t size, size_t nmemb, void *ud)
{
    buffer *b = ud;
    size_t n = size * nmemb;
    char *p;
    if (b->len + n > RPC_MAX_REPLY)
        return 0;
    p = realloc(b->data, b->len + n + 1);
    if (!p)
        return 0;
    memcpy(p + b->len, ptr, n);
    b->len += n;
    p[b->len] = '\0';
    b->data = p;
    return n;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

int kura_rpc_parse_reply(long status, const char *body, size_t len, json_t **result,
                         int *retryable, kura_rpc_error *err)
{
    json_t *reply = NULL, *jerr, *jres;
    json_error_t jerror;
    int rc;
    *retryable = 0;
    *result = NULL;
    if (status == 401 || status == 403)
        return fail(err, KURA_RPC_EAUTH,
                    "the node refused the credentials (HTTP %ld): check the cookie file or "
                    "rpcuser/rpcpassword",
                    status);
    if (!body || !(reply = json_loadb(body, len, 0, &jerror)) || !json_is_object(reply)) {
        json_decref(reply);
        *retryable = status >= 500 && status != 500;
        return fail(err, KURA_RPC_EPROTO, "the node's answer (HTTP %ld) is not JSON-RPC", status);
    }
    jerr = json_object_get(reply, "error");
    if (jerr && !json_is_null(jerr)) {
        json_t *jc = json_object_get(jerr, "code");
        json_t *jm = json_object_get(jerr, "message");
        int code = json_is_integer(jc) && json_integer_value(jc) >= INT32_MIN &&
                           json_integer_value(jc) <= INT32_MAX
                       ? (int)json_integer_value(jc)
                       : 0;
        const char *msg = json_is_string(jm) ? json_string_value(jm) : "(no message)";
        if (code == KURA_RPC_CORE_IN_WARMUP) {
            *retryable = 1;
            rc = fail(err, KURA_RPC_ESYNCING, "the node is starting up: %.200s", msg);
        } else {
            rc = fail(err, KURA_RPC_ERPC, "the node refused: %.200s (code %d)", msg, code);
            if (err)
                err->rpc_code = code;
        }
        json_decref(reply);
        return rc;
    }
    jres = json_object_get(reply, "result");
    if (!jres) {
        json_decref(reply);
        return fail(err, KURA_RPC_EPROTO, "the node's answer has no result");
    }
    *result = json_incref(jres);
    json_decref(reply);
    ok(err);
    return KURA_RPC_OK;
}

/* One attempt. Returns a KURA_RPC_* code; *retryable says whether another
 * attempt may succeed. */
static int attempt(kura_rpc *r, const char *body, json_t **result, int *retryable,
                   kura_rpc_error *err)
{
    CURL *c = r->curl;
    buffer b = {NULL, 0};
    struct curl_slist *h = NULL;
    char *cred = NULL;
    long status = 0;
    CURLcode cc;
    int rc;
    *retryable = 0;
    *result = NULL;
    if ((rc = credentials(r, &cred, err)))
        return rc;
    curl_easy_reset(c);
    h = curl_slist_append(h, "Content-Type: application/json");
    curl_easy_setopt(c, CURLOPT_URL, r->url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
    curl_easy_setopt(c, CURLOPT_USERPWD, cred);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, r->timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, r->timeout_ms);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "kura-server chain");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    cc = curl_easy_perform(c);
    curl_easy_setopt(c, CURLOPT_USERPWD, NULL);
    sodium_memzero(cred, strlen(cred));
    free(cred);
    curl_slist_free_all(h);
    if (cc != CURLE_OK) {
        if (cc == CURLE_OPERATION_TIMEDOUT) {
            *retryable = 1;
            rc = fail(err, KURA_RPC_ETIMEOUT, "the node at %s did not answer within %ld ms",
                      r->url, r->timeout_ms);
        } else if (cc == CURLE_WRITE_ERROR) {
            rc = fail(err, KURA_RPC_EPROTO, "the node's answer is too large or memory ran out");
        } else {
            *retryable = 1;
            rc = fail(err, KURA_RPC_EUNREACHABLE,
                      "no Bitcoin Core node answers at %s (%s): is bitcoind running with -server "
                      "and this rpcport?",
                      r->url, curl_easy_strerror(cc));
        }
        goto done;
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    rc = kura_rpc_parse_reply(status, b.data, b.len, result, retryable, err);
done:
    free(b.data);
    return rc;
}

int kura_rpc_call(kura_rpc *r, const char *method, json_t *params, json_t **result,
                  kura_rpc_error *err)
{
    json_t *req;
    char *body;
    long wait;
    int rc = KURA_RPC_EINVAL;
    if (result)
        *result = NULL;
    if (!r || !method || !result)
        return fail(err, KURA_RPC_EINVAL, "bad arguments");
    req = json_pack("{s:s, s:I, s:s, s:o}", "jsonrpc", "1.0", "id", (json_int_t)++r->next_id,
                    "method", method, "params", params ? json_incref(params) : json_array());
    body = req ? json_dumps(req, JSON_COMPACT) : NULL;
    json_decref(req);
    if (!body)
        return fail(err, KURA_RPC_ENOMEM, "out of memory");
    wait = r->backoff_ms;
    for (unsigned i = 0;; i++) {
        int retryable = 0;
        rc = attempt(r, body, result, &retryable, err);
        if (rc == KURA_RPC_OK || !retryable || i >= r->retries)
            break;
        sleep_ms(wait);
        if (wait < 30000)
            wait *= 2;
    }
    free(body);
    return rc;
}

/* ---- typed calls ---- */

static int call_fmt(kura_rpc *r, const char *method, json_t *params, json_t **result,
                    kura_rpc_error *err)
{
    int rc;
    if (!params)
        return fail(err, KURA_RPC_ENOMEM, "out of memory");
    rc = kura_rpc_call(r, method, params, result, err);
    json_decref(params);
    return rc;
}

static int proto(kura_rpc_error *err, const char *method)
{
    return fail(err, KURA_RPC_EPROTO, "the node's answer to %s is not what Core sends", method);
}

int kura_rpc_chain_info_get(kura_rpc *r, kura_rpc_chain_info *out, kura_rpc_error *err)
{
    json_t *res = NULL;
    int rc;
    memset(out, 0, sizeof *out);
    if ((rc = kura_rpc_call(r, "getblockchaininfo", NULL, &res, err)))
        return rc;
    rc = kura_rpc_chain_info_parse(res, out, err);
    json_decref(res);
    return rc;
}

int kura_rpc_chain_info_parse(const json_t *res, kura_rpc_chain_info *out, kura_rpc_error *err)
{
    const char *chain, *best;
    memset(out, 0, sizeof *out);
    chain = json_string_value(json_object_get(res, "chain"));
    best = json_string_value(json_object_get(res, "bestblockhash"));
    if (!chain || !best || strlen(best) != 64 || strspn(best, "0123456789abcdef") != 64 ||
        !json_is_integer(json_object_get(res, "blocks")) ||
        json_integer_value(json_object_get(res, "blocks")) < 0)
        return proto(err, "getblockchaininfo");
    snprintf(out->chain, sizeof out->chain, "%s", chain);
    snprintf(out->best_hash, sizeof out->best_hash, "%s", best);
    out->blocks = (int64_t)json_integer_value(json_object_get(res, "blocks"));
    out->headers = (int64_t)json_integer_value(json_object_get(res, "headers"));
    out->initial_block_download = json_is_true(json_object_get(res, "initialblockdownload"));
    out->pruned = json_is_true(json_object_get(res, "pruned"));
    out->prune_height =
        out->pruned ? (int64_t)json_integer_value(json_object_get(res, "pruneheight")) : 0;
    return KURA_RPC_OK;
}

const char *kura_rpc_core_chain(const char *c)
{
    if (!c)
        return NULL;
    if (strcmp(c, "bitcoin") == 0)
        return "main";
    if (strcmp(c, "testnet") == 0)
        return "test";
    if (strcmp(c, "testnet4") == 0 || strcmp(c, "signet") == 0 || strcmp(c, "regtest") == 0)
        return c;
    return NULL;
}

int kura_rpc_check(kura_rpc *r, const char *wallet_chain, int64_t need_height,
                   kura_rpc_chain_info *info, kura_rpc_error *err)
{
    const char *want = kura_rpc_core_chain(wallet_chain);
    int rc;
    if ((rc = kura_rpc_chain_info_get(r, info, err)))
        return rc;
    if (!want)
        return fail(err, KURA_RPC_EINVAL, "unknown chain %s", wallet_chain ? wallet_chain : "");
    if (strcmp(info->chain, want) != 0)
        return fail(err, KURA_RPC_EWRONGCHAIN,
                    "the node follows chain \"%s\" but the wallets are on \"%s\" (Core calls it "
                    "\"%s\"): point kura-server at a node of the wallets' chain",
                    info->chain, wallet_chain, want);
    if (info->initial_block_download)
        return fail(err, KURA_RPC_ESYNCING,
                    "the node is still syncing (initial block download, %lld of %lld headers): "
                    "deposits are followed once it has caught up",
                    (long long)info->blocks, (long long)info->headers);
    if (info->pruned && need_height >= 0 && info->prune_height > need_height)
        return fail(err, KURA_RPC_EPRUNED,
                    "the node has pruned blocks below height %lld but the follower needs them "
                    "from height %lld: use an unpruned node or one pruned below the wallets' "
                    "birth height",
                    (long long)info->prune_height, (long long)need_height);
    return KURA_RPC_OK;
}

static int hash_result(json_t *res, char out[65], kura_rpc_error *err, const char *method)
{
    const char *s = json_string_value(res);
    size_t n = s ? strlen(s) : 0;
    if (n != 64 || strspn(s, "0123456789abcdef") != 64) {
        json_decref(res);
        return proto(err, method);
    }
    memcpy(out, s, 65);
    json_decref(res);
    return KURA_RPC_OK;
}

int kura_rpc_best_hash(kura_rpc *r, char out[65], kura_rpc_error *err)
{
    json_t *res = NULL;
    int rc;
    out[0] = '\0';
    if ((rc = kura_rpc_call(r, "getbestblockhash", NULL, &res, err)))
        return rc;
    return hash_result(res, out, err, "getbestblockhash");
}

int kura_rpc_block_hash(kura_rpc *r, int64_t height, char out[65], kura_rpc_error *err)
{
    json_t *res = NULL;
    int rc;
    out[0] = '\0';
    if ((rc = call_fmt(r, "getblockhash", json_pack("[I]", (json_int_t)height), &res, err)))
        return rc;
    return hash_result(res, out, err, "getblockhash");
}

static int hex_result(json_t *res, uint8_t **bytes, size_t *len, kura_rpc_error *err,
                      const char *method)
{
    const char *s = json_string_value(res);
    size_t n = s ? strlen(s) : 0;
    uint8_t *b;
    if (!s || n == 0 || n % 2) {
        json_decref(res);
        return proto(err, method);
    }
    b = malloc(n / 2);
    if (!b) {
        json_decref(res);
        return fail(err, KURA_RPC_ENOMEM, "out of memory");
    }
    if (sodium_hex2bin(b, n / 2, s, n, NULL, len, NULL) != 0 || *len != n / 2) {
        free(b);
        json_decref(res);
        *len = 0;
        return proto(err, method);
    }
    json_decref(res);
    *bytes = b;
    return KURA_RPC_OK;
}

int kura_rpc_block(kura_rpc *r, const char *hash, uint8_t **bytes, size_t *len, kura_rpc_error *err)
{
    json_t *res = NULL;
    int rc;
    *bytes = NULL;
    *len = 0;
    if ((rc = call_fmt(r, "getblock", json_pack("[s, i]", hash, 0), &res, err)))
        return rc;
    return hex_result(res, bytes, len, err, "getblock");
}

int kura_rpc_raw_tx(kura_rpc *r, const char *txid, uint8_t **bytes, size_t *len,
                    kura_rpc_error *err)
{
    json_t *res = NULL;
    int rc;
    *bytes = NULL;
    *len = 0;
    if ((rc = call_fmt(r, "getrawtransaction", json_pack("[s]", txid), &res, err)))
        return rc;
    return hex_result(res, bytes, len, err, "getrawtransaction");
}

int kura_rpc_mempool(kura_rpc *r, char (**txids)[65], size_t *count, kura_rpc_error *err)
{
    json_t *res = NULL;
    size_t n;
    int rc;
    *txids = NULL;
    *count = 0;
    if ((rc = kura_rpc_call(r, "getrawmempool", NULL, &res, err)))
        return rc;
    if (!json_is_array(res)) {
        json_decref(res);
        return proto(err, "getrawmempool");
    }
    n = json_array_size(res);
    *txids = calloc(n ? n : 1, sizeof **txids);
    if (!*txids) {
        json_decref(res);
        return fail(err, KURA_RPC_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        const char *s = json_string_value(json_array_get(res, i));
        if (!s || strlen(s) != 64 || strspn(s, "0123456789abcdef") != 64) {
            free(*txids);
            *txids = NULL;
            json_decref(res);
            return proto(err, "getrawmempool");
        }
        memcpy((*txids)[i], s, 65);
    }
    *count = n;
    json_decref(res);
    return KURA_RPC_OK;
}

int kura_rpc_estimate_fee(kura_rpc *r, unsigned target, uint64_t *sat_per_kvb,
                          kura_rpc_error *err)
{
    json_t *res = NULL, *rate;
    int rc;
    *sat_per_kvb = 0;
    if ((rc = call_fmt(r, "estimatesmartfee", json_pack("[i]", (int)target), &res, err)))
        return rc;
    rate = json_object_get(res, "feerate");
    if (json_is_number(rate)) {
        /* BTC per kvB, a decimal with at most 8 places: round to satoshis. */
        double v = json_number_value(rate);
        if (v < 0 || v > 21e6) {
            json_decref(res);
            return proto(err, "estimatesmartfee");
        }
        *sat_per_kvb = (uint64_t)(v * 1e8 + 0.5);
    } else if (!json_is_object(res)) {
        json_decref(res);
        return proto(err, "estimatesmartfee");
    }
    json_decref(res);
    return KURA_RPC_OK;
}

int kura_rpc_test_accept(kura_rpc *r, const char *hex, int *allowed, char *reason,
                         size_t reason_size, kura_rpc_error *err)
{
    json_t *res = NULL, *first;
    const char *why;
    int rc;
    *allowed = 0;
    if (reason && reason_size)
        reason[0] = '\0';
    if ((rc = call_fmt(r, "testmempoolaccept", json_pack("[[s]]", hex), &res, err)))
        return rc;
    first = json_array_get(res, 0);
    if (!json_is_object(first) || !json_is_boolean(json_object_get(first, "allowed"))) {
        json_decref(res);
        return proto(err, "testmempoolaccept");
    }
    *allowed = json_is_true(json_object_get(first, "allowed"));
    why = json_string_value(json_object_get(first, "reject-reason"));
    if (!*allowed && reason && reason_size)
        snprintf(reason, reason_size, "%s", why ? why : "refused");
    json_decref(res);
    return KURA_RPC_OK;
}

int kura_rpc_send_raw_tx(kura_rpc *r, const char *hex, char out[65], kura_rpc_error *err)
{
    json_t *res = NULL;
    int rc;
    out[0] = '\0';
    if ((rc = call_fmt(r, "sendrawtransaction", json_pack("[s]", hex), &res, err)))
        return rc;
    return hash_result(res, out, err, "sendrawtransaction");
}
