/*
 * server/api/handlers_withdrawals.c — withdrawal requests and their batches:
 * each handler turns its validated body into the domain's plain structs and
 * makes one domain call (domain/withdrawals.h).
 */
#include "api/internal.h"

#include <string.h>

#include "domain/withdrawals.h"

int kura_h_withdrawal_create(kura_req *rq, kura_resp *rs, kura_problem *p)
{
    kura_withdrawal_request req;
    memset(&req, 0, sizeof req);
    req.wallet_id = rq->id;
    req.external_id = kura_api_str(rq->body, "external_id", NULL);
    req.address = kura_api_str(rq->body, "address", NULL);
    req.amount = (uint64_t)kura_api_int(rq->body, "amount", 0);
    req.label = kura_api_str(rq->body, "label", NULL);
    rs->status = 201;
    return kura_withdrawal_create(rq->store, &rq->who, &req, rq->idem, rq->now, &rs->json, p);
}

int kura_h_withdrawal_list(kura_req *rq, kura_resp *rs, kura_problem *p)
{
    const char *state = kura_req_query(rq, "state");
    if (state && !kura_api_id_ok(state))
        return kura_problem_set(p, KURA_PROBLEM_INVALID_FIELD, "state: unknown");
    return kura_withdrawal_list(rq->store, rq->id, state, rq->cursor, rq->limit, &rs->json, p);
}

int kura_h_withdrawal_get(kura_req *rq, kura_resp *rs, kura_problem *p)
{
    return kura_withdrawal_get(rq->store, rq->id, &rs->json, p);
}

int kura_h_withdrawal_cancel(kura_req *rq, kura_resp *rs, kura_problem *p)
{
    return kura_withdrawal_cancel(rq->store, &rq->who, rq->id,
                                  kura_api_str(rq->body, "reason", NULL), rq->now, &rs->json, p);
}

int kura_h_batch_create(kura_req *rq, kura_resp *rs, kura_problem *p)
{
    kura_batch_request req;
    memset(&req, 0, sizeof req);
    req.wallet_id = rq->id;
    req.max_outputs = (size_t)kura_api_int(rq->body, "max_outputs", 0);
    req.max_fee = (uint64_t)kura_api_int(rq->body, "max_fee", 0);
    req.expires_in = kura_api_int(rq->body, "expires_in", 0);
    rs->status = 201;
    return kura_withdrawal_batch(rq->store, &rq->who, &req, rq->idem, rq->now, &rs->json, p);
}
