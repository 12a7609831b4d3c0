/*
 * server/api/auth.c — the api's glue to the people layer (domain/people.h):
 * who is asking, and the Idempotency-Key of creating POSTs.
 */
#include "api/internal.h"
#include "log/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

int kura_api_auth_session(kura_req *rq, const char *token, const char *client_addr,
                          kura_problem *p)
{
    char csrf[65];
    int rc = kura_session_authenticate(rq->store, token, client_addr, (int64_t)time(NULL),
                                       &rq->who, csrf, p);
    if (rc == 0)
        snprintf(rq->csrf, sizeof rq->csrf, "%s", csrf);
    sodium_memzero(csrf, sizeof csrf);
    snprintf(rq->who.client_addr, sizeof rq->who.client_addr, "%s", client_addr);
    return rc;
}

int kura_api_auth_key(kura_req *rq, const char *key, const char *client_addr, kura_problem *p)
{
    int rc = kura_apikey_authenticate(rq->store, key, client_addr, (int64_t)time(NULL), &rq->who, p);
    snprintf(rq->who.client_addr, sizeof rq->who.client_addr, "%s", client_addr);
    return rc;
}

int kura_api_idem_claim(kura_req *rq, kura_idem *mine, const char *request_hash, int *status,
                        char **body, kura_problem *p)
{
    kura_idem_claim c;
    int rc;
    memset(&c, 0, sizeof c);
    *status = 0;
    *body = NULL;
    rc = kura_idempotency_claim(rq->store, rq->idem, request_hash, (int64_t)time(NULL), &c, p);
    if (rc) {
        kura_idem_claim_clear(&c);
        return rc;
    }
    if (c.state == KURA_IDEM_REPLAY) {
        *status = c.http_status;
        *body = c.response;
        c.response = NULL;
        kura_idem_claim_clear(&c);
        return 1;
    }
    mine->claimed_at = c.claimed_at; /* rq->idem is mine: the creation completes this claim only */
    kura_idem_claim_clear(&c);
    return 0;
}

void kura_api_idem_release(kura_req *rq)
{
    kura_problem p;
    if (kura_idempotency_release(rq->store, rq->idem, &p) != 0)
        kura_log(KURA_LOG_ERROR, "idempotency: release failed: %s", p.message);
}
