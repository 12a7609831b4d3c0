/*
 * server/api/api.h — kura-server's HTTP side: start and stop the server.
 *
 * The server runs on libmicrohttpd with an internal polling thread and a
 * thread pool; each request goes: route table (routes.c) -> authentication
 * (cookie session or API key) -> role and scope -> CSRF -> body limit ->
 * content type -> JSON rules (validate.h) -> idempotency -> one handler, which
 * makes one domain call -> respond. Errors are {"error": CODE, "message": ...}
 * with the HTTP status errors.def lists.
 */
#ifndef KURA_SERVER_API_H
#define KURA_SERVER_API_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

typedef struct kura_api_config {
    const char *listen_addr;    /* IPv4 or IPv6 literal; NULL: "127.0.0.1" */
    uint16_t port;              /* 0: the system picks a free port (kura_api_port tells) */
    const char *tls_cert_pem;   /* PEM text of the certificate chain, or NULL: plain HTTP */
    const char *tls_key_pem;    /* PEM text of its private key (with tls_cert_pem) */
    size_t body_limit;          /* default request body limit in bytes; 0: 1 MiB */
    unsigned threads;           /* the thread pool; 0: 4 */
    int log_requests;           /* 1: one line per request on stderr */
    const char *web_root;       /* the web pages' directory (web/dist), served at `/` for
                                 * GET/HEAD outside the route table (static.h); NULL or
                                 * "": none (copied) */
    const char *trusted_proxies; /* space-separated CIDRs of reverse proxies whose
                                 * X-Forwarded-For names the client (copied); NULL or
                                 * "": none, the peer address is the client */
} kura_api_config;

#define KURA_API_DEFAULT_BODY_LIMIT ((size_t)1 << 20)

typedef struct kura_api_server kura_api_server;

/* Starts serving on cfg's address with store (borrowed: it outlives the
 * server). Returns 0 and *out, or -1 with errbuf saying why (address in use,
 * bad TLS material); *out NULL on failure. */
int kura_api_start(kura_api_server **out, kura_store *store, const kura_api_config *cfg,
                   char *errbuf, size_t errlen);

/* The port the server listens on (the one picked when cfg->port was 0). */
uint16_t kura_api_port(const kura_api_server *s);

/* Stops accepting, finishes the requests in flight, frees the server. NULL is a no-op. */
void kura_api_stop(kura_api_server *s);

/* The webhook worker whose counters /metrics reports (borrowed; it must
 * outlive the server or be unset with NULL first). */
struct kura_webhook_worker;
void kura_api_set_webhook_worker(kura_api_server *s, struct kura_webhook_worker *w);

#endif /* KURA_SERVER_API_H */
