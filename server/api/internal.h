/*
 * server/api/internal.h — what the api's own files share: the server object,
 * its metrics, and the glue to the people layer (authentication, idempotency).
 */
#ifndef KURA_SERVER_API_INTERNAL_H
#define KURA_SERVER_API_INTERNAL_H

#include <stdatomic.h>
#include <stdint.h>

#include "api/routes.h"

/* Statuses counted one by one in /metrics; anything else is "other". */
#define KURA_API_STATUS_SLOTS 17
extern const int kura_api_status_slots[KURA_API_STATUS_SLOTS]; /* last slot: 0 = other */

/* Latency histogram bucket upper bounds in microseconds (+Inf after the last). */
#define KURA_API_BUCKETS 12
extern const int64_t kura_api_bucket_us[KURA_API_BUCKETS];

/* Status classes of the latency histogram: 1xx..5xx, and "none" (the
 * connection ended before an answer). */
#define KURA_API_CLASSES 6
extern const char *const kura_api_class_names[KURA_API_CLASSES];

typedef struct kura_api_route_stats {
    _Atomic uint64_t by_status[KURA_API_STATUS_SLOTS];
    /* per status class: non-cumulative buckets, +Inf last */
    _Atomic uint64_t buckets[KURA_API_CLASSES][KURA_API_BUCKETS + 1];
    _Atomic uint64_t sum_us[KURA_API_CLASSES];
    _Atomic uint64_t count[KURA_API_CLASSES];
} kura_api_route_stats;

struct kura_api_server {
    struct MHD_Daemon *daemon;
    kura_store *store;
    kura_api_config cfg;
    char *cert, *key;               /* copies of the PEM text (key wiped on stop) */
    char *web_root;                 /* the web pages' directory, or NULL (static.h) */
    char *trusted_proxies;          /* CIDRs (kura_cidrs_match), or NULL: none */
    uint16_t port;
    int tls;
    struct kura_webhook_worker *worker; /* for /metrics; may be NULL */
    kura_api_route_stats *stats;    /* kura_route_count + 1 (the last: unrouted) */
};

/* Authenticates a session token or an API key (people layer). Fills who.
 * Returns 0 or a problem code (UNAUTHENTICATED, ADDRESS_NOT_ALLOWED, ...). */
int kura_api_auth_session(kura_req *rq, const char *token, const char *client_addr,
                          kura_problem *p);
int kura_api_auth_key(kura_req *rq, const char *key, const char *client_addr, kura_problem *p);

/* Idempotency-Key around a creating POST. claim: 0 NEW (go on; mine, the
 * kura_idem rq->idem points to, gets the claim's time), 1 REPLAY
 * (status/body filled: answer them), or a problem code (IDEMPOTENCY_KEY_REUSED,
 * IDEMPOTENCY_IN_PROGRESS, ...). release: after a failed domain call. */
int kura_api_idem_claim(kura_req *rq, kura_idem *mine, const char *request_hash, int *status,
                        char **body, kura_problem *p);
void kura_api_idem_release(kura_req *rq);

/* Writes the Prometheus text of s into a malloc'd buffer. */
int kura_api_metrics_text(struct kura_api_server *s, char **out, size_t *len);

#endif
