/*
 * tests/server/fake_bitcoind.c — the fake node (fake_bitcoind.h).
 */
#include "fake_bitcoind.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <microhttpd.h>
#include <sodium.h>

typedef struct upload {
    char *data;
    size_t len;
} upload;

static fake_block *find_block(fake_node *n, const char *hash)
{
    for (size_t i = 0; i < n->nblocks; i++)
        if (strcmp(n->blocks[i].hash, hash) == 0)
            return &n->blocks[i];
    return NULL;
}

static json_t *rpc_error(int code, const char *msg)
{
    return json_pack("{s:n, s:{s:i, s:s}}", "result", "error", "code", code, "message", msg);
}

static json_t *rpc_result(json_t *v)
{
    return json_pack("{s:o, s:n}", "result", v, "error");
}

/* Answers one request (under the lock). *status gets the HTTP status. */
static json_t *answer(fake_node *n, json_t *req, unsigned *status)
{
    const char *m = json_string_value(json_object_get(req, "method"));
    json_t *params = json_object_get(req, "params");
    *status = 200;
    if (!m) {
        *status = 400;
        return rpc_error(-32600, "no method");
    }
    if (n->warmup_next) {
        n->warmup_next--;
        *status = 500;
        return rpc_error(-28, "Loading block index...");
    }
    if (strcmp(m, "getblockchaininfo") == 0)
        return rpc_result(json_pack("{s:s, s:I, s:I, s:s, s:b, s:b, s:I}", "chain", n->chain_name,
                                    "blocks", (json_int_t)n->height, "headers",
                                    (json_int_t)n->height, "bestblockhash", n->tip,
                                    "initialblockdownload", n->ibd, "pruned",
                                    n->prune_height > 0, "pruneheight",
                                    (json_int_t)n->prune_height));
    if (strcmp(m, "getbestblockhash") == 0)
        return rpc_result(json_string(n->tip));
    if (strcmp(m, "getblockhash") == 0) {
        json_int_t h = json_integer_value(json_array_get(params, 0));
        if (h < 0 || h > n->height) {
            *status = 500;
            return rpc_error(-8, "Block height out of range");
        }
        return rpc_result(json_string(n->chain[h]));
    }
    if (strcmp(m, "getblock") == 0) {
        fake_block *b = find_block(n, json_string_value(json_array_get(params, 0)) ?
                                          json_string_value(json_array_get(params, 0)) : "");
        n->getblock_calls++;
        if (n->on_getblock) {
            void (*fn)(void *) = n->on_getblock;
            n->on_getblock = NULL;
            fn(n->on_getblock_arg);
        }
        if (!b) {
            *status = 500;
            return rpc_error(-5, "Block not found");
        }
        if (n->prune_height > 0 && b->height < n->prune_height) {
            *status = 500;
            return rpc_error(-1, "Block not available (pruned data)");
        }
        return rpc_result(json_string(b->hex));
    }
    if (strcmp(m, "getrawmempool") == 0) {
        json_t *a = json_array();
        for (size_t i = 0; i < n->nmempool; i++)
            json_array_append_new(a, json_string(n->mempool[i].txid));
        return rpc_result(a);
    }
    if (strcmp(m, "getrawtransaction") == 0) {
        const char *t = json_string_value(json_array_get(params, 0));
        for (size_t i = 0; t && i < n->nmempool; i++)
            if (strcmp(n->mempool[i].txid, t) == 0)
                return rpc_result(json_string(n->mempool[i].hex));
        *status = 500;
        return rpc_error(-5, "No such mempool or blockchain transaction");
    }
    if (strcmp(m, "estimatesmartfee") == 0) {
        if (n->feerate < 0)
            return rpc_result(json_pack("{s:[s], s:i}", "errors", "Insufficient data or no feerate found", "blocks", 0));
        return rpc_result(json_pack("{s:f, s:i}", "feerate", n->feerate, "blocks", 2));
    }
    if (strcmp(m, "testmempoolaccept") == 0) {
        if (n->reject_next) {
            n->reject_next = 0;
            return rpc_result(json_pack("[{s:s, s:b, s:s}]", "txid", "00", "allowed", 0,
                                        "reject-reason", "min relay fee not met"));
        }
        return rpc_result(json_pack("[{s:s, s:b}]", "txid", "00", "allowed", 1));
    }
    if (strcmp(m, "sendrawtransaction") == 0) {
        const char *hex = json_string_value(json_array_get(params, 0));
        fake_tx *p;
        if (!hex) {
            *status = 500;
            return rpc_error(-22, "TX decode failed");
        }
        p = realloc(n->sent, (n->nsent + 1) * sizeof *p);
        assert_non_null(p);
        n->sent = p;
        memset(&p[n->nsent], 0, sizeof p[0]);
        p[n->nsent].hex = strdup(hex);
        snprintf(p[n->nsent].txid, sizeof p[0].txid, "%s",
                 json_string_value(json_object_get(req, "fake_txid")) ?
                     json_string_value(json_object_get(req, "fake_txid")) : "");
        n->nsent++;
        return rpc_result(json_string("0000000000000000000000000000000000000000000000000000000000000000"));
    }
    *status = 404;
    return rpc_error(-32601, "Method not found");
}

static int authorized(fake_node *n, struct MHD_Connection *c)
{
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    char cred[128], b64[256];
    snprintf(cred, sizeof cred, "%s:%s", n->user, n->password);
    sodium_bin2base64(b64, sizeof b64, (const unsigned char *)cred, strlen(cred),
                      sodium_base64_VARIANT_ORIGINAL);
    return h && strncmp(h, "Basic ", 6) == 0 && strcmp(h + 6, b64) == 0;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *upload_data,
                              size_t *upload_data_size, void **con_cls)
{
    fake_node *n = cls;
    upload *u = *con_cls;
    struct MHD_Response *resp;
    json_t *req, *reply;
    char *body;
    unsigned status = 200;
    enum MHD_Result ret;
    (void)url;
    (void)method;
    (void)version;
    if (!u) {
        u = calloc(1, sizeof *u);
        if (!u)
            return MHD_NO;
        *con_cls = u;
        return MHD_YES;
    }
    if (*upload_data_size) {
        char *p = realloc(u->data, u->len + *upload_data_size + 1);
        if (!p)
            return MHD_NO;
        u->data = p;
        memcpy(u->data + u->len, upload_data, *upload_data_size);
        u->len += *upload_data_size;
        u->data[u->len] = '\0';
        *upload_data_size = 0;
        return MHD_YES;
    }
    pthread_mutex_lock(&n->lock);
    n->calls++;
    if (n->fail_next) {
        n->fail_next--;
        pthread_mutex_unlock(&n->lock);
        resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
        ret = MHD_queue_response(c, 503, resp);
        MHD_destroy_response(resp);
        return ret;
    }
    if (!authorized(n, c)) {
        pthread_mutex_unlock(&n->lock);
        resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
        ret = MHD_queue_response(c, 401, resp);
        MHD_destroy_response(resp);
        return ret;
    }
    req = u->data ? json_loads(u->data, 0, NULL) : NULL;
    reply = req ? answer(n, req, &status) : rpc_error(-32700, "Parse error");
    if (!req)
        status = 500;
    pthread_mutex_unlock(&n->lock);
    json_object_set(reply, "id", req ? json_object_get(req, "id") : json_null());
    body = json_dumps(reply, JSON_COMPACT);
    json_decref(reply);
    json_decref(req);
    resp = MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(resp, "Content-Type", "application/json");
    ret = MHD_queue_response(c, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
    upload *u = *con_cls;
    (void)cls;
    (void)c;
    (void)toe;
    if (u) {
        free(u->data);
        free(u);
        *con_cls = NULL;
    }
}

static void load_blocks(fake_node *n, const char *path)
{
    FILE *f = fopen(path, "r");
    char *line = NULL;
    size_t cap = 0;
    if (!f)
        fail_msg("cannot open %s", path);
    while (getline(&line, &cap, f) > 0) {
        json_t *j = json_loads(line, 0, NULL);
        fake_block *p;
        if (!j)
            fail_msg("bad line in %s", path);
        p = realloc(n->blocks, (n->nblocks + 1) * sizeof *p);
        assert_non_null(p);
        n->blocks = p;
        p = &n->blocks[n->nblocks++];
        snprintf(p->hash, sizeof p->hash, "%s", json_string_value(json_object_get(j, "hash")));
        snprintf(p->prev, sizeof p->prev, "%s", json_string_value(json_object_get(j, "prev")));
        p->height = json_integer_value(json_object_get(j, "height"));
        p->hex = strdup(json_string_value(json_object_get(j, "hex")));
        json_decref(j);
    }
    free(line);
    fclose(f);
}

void fake_node_start(fake_node *n, const char *blocks_jsonl)
{
    struct sockaddr_in sa;
    const union MHD_DaemonInfo *info;
    memset(n, 0, sizeof *n);
    pthread_mutex_init(&n->lock, NULL);
    snprintf(n->user, sizeof n->user, "kura");
    snprintf(n->password, sizeof n->password, "regtest-password");
    snprintf(n->chain_name, sizeof n->chain_name, "regtest");
    n->feerate = 0.00012345;
    load_blocks(n, blocks_jsonl);
    assert_true(n->nblocks > 0);
    fake_node_set_tip(n, n->blocks[0].hash);
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    n->daemon = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0, NULL,
                                 NULL, handle, n, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
                                 MHD_OPTION_NOTIFY_COMPLETED, completed, NULL, MHD_OPTION_END);
    if (!n->daemon)
        fail_msg("cannot start the fake node");
    info = MHD_get_daemon_info(n->daemon, MHD_DAEMON_INFO_BIND_PORT);
    if (!info || !info->port)
        fail_msg("the fake node has no port");
    n->port = info->port;
    snprintf(n->url, sizeof n->url, "http://127.0.0.1:%u/", (unsigned)n->port);
}

void fake_node_stop(fake_node *n)
{
    if (n->daemon)
        MHD_stop_daemon(n->daemon);
    n->daemon = NULL;
    for (size_t i = 0; i < n->nblocks; i++)
        free(n->blocks[i].hex);
    free(n->blocks);
    free(n->chain);
    for (size_t i = 0; i < n->nmempool; i++)
        free(n->mempool[i].hex);
    free(n->mempool);
    for (size_t i = 0; i < n->nsent; i++)
        free(n->sent[i].hex);
    free(n->sent);
    pthread_mutex_destroy(&n->lock);
    memset(n, 0, sizeof *n);
}

int64_t fake_node_set_tip(fake_node *n, const char *hash)
{
    fake_block *b;
    char **chain;
    pthread_mutex_lock(&n->lock);
    b = find_block(n, hash);
    if (!b) {
        pthread_mutex_unlock(&n->lock);
        return -1;
    }
    chain = calloc((size_t)b->height + 1, sizeof *chain);
    assert_non_null(chain);
    for (fake_block *x = b; x;) {
        chain[x->height] = x->hash;
        x = x->height > 0 ? find_block(n, x->prev) : NULL;
    }
    free(n->chain);
    n->chain = chain;
    n->height = b->height;
    snprintf(n->tip, sizeof n->tip, "%s", b->hash);
    pthread_mutex_unlock(&n->lock);
    return b->height;
}

void fake_node_mempool_add(fake_node *n, const char *txid, const char *hex)
{
    fake_tx *p;
    pthread_mutex_lock(&n->lock);
    for (size_t i = 0; i < n->nmempool; i++)
        if (strcmp(n->mempool[i].txid, txid) == 0) {
            pthread_mutex_unlock(&n->lock);
            return;
        }
    p = realloc(n->mempool, (n->nmempool + 1) * sizeof *p);
    assert_non_null(p);
    n->mempool = p;
    snprintf(p[n->nmempool].txid, sizeof p[0].txid, "%s", txid);
    p[n->nmempool].hex = strdup(hex);
    n->nmempool++;
    pthread_mutex_unlock(&n->lock);
}

void fake_node_mempool_remove(fake_node *n, const char *txid)
{
    pthread_mutex_lock(&n->lock);
    for (size_t i = 0; i < n->nmempool; i++)
        if (strcmp(n->mempool[i].txid, txid) == 0) {
            free(n->mempool[i].hex);
            n->mempool[i] = n->mempool[--n->nmempool];
            break;
        }
    pthread_mutex_unlock(&n->lock);
}

const char *fake_node_block_hex(fake_node *n, const char *hash)
{
    fake_block *b = find_block(n, hash);
    return b ? b->hex : NULL;
}
