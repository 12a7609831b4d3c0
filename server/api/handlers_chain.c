/*
 * server/api/handlers_chain.c — the chain's reads: deposits, balances and
 * the follower's status (server/chain/chain.h). One chain call each.
 */
#include <string.h>

#include "api/routes.h"
#include "chain/chain.h"
#include "chain/rescan.h"
#include "domain/addresses.h"

int kura_h_deposit_list(kura_req *rq, kura_resp *rs, kura_problem *p)
{
    const char *wallet = kura_req_query(rq, "wallet_id");
    const char *account = kura_req_query(rq, "account");
    const char *state = kura_req_query(rq, "state");
    if (account && strlen(account) > KURA_ADDRESS_ACCOUNT_MAX)
        return kura_problem_set(p, KURA_PROBLEM_INVALID_FIELD, "account: too long");
    if (wallet && strlen(wallet) > 64)
        return kura_problem_set(p, KURA_PROBLEM_INVALID_FIELD, "wallet_id: too long");
    return kura_chain_deposit_list(rq->store, wallet, account, state, rq->cursor, rq->limit,
                                   &rs->json, p);
}

int kura_h_deposit_get(kura_req *rq, kura_resp *rs, kura_problem *p)
{
    return kura_chain_deposit_get(rq->store, rq->id, &rs->json, p);
}

int kura_h_wallet_balance(kura_req *rq, kura_resp *rs, kura_problem *p)
{
    const char *account = kura_req_query(rq, "account");
    if (account && strlen(account) > KURA_ADDRESS_ACCOUNT_MAX)
        return kura_problem_set(p, KURA_PROBLEM_INVALID_FIELD, "account: too long");
    return kura_chain_balance(rq->store, rq->id, account, &rs->json, p);
}

int kura_h_wallet_rescan(kura_req *rq, kura_resp *rs, kura_problem *p)
{
    json_t *gap = json_object_get(rq->body, "gap_limit");
    rs->status = 202; /* the follower runs it */
    return kura_rescan_request(rq->store, rq->who.id, rq->id,
                               (int64_t)json_integer_value(json_object_get(rq->body, "from_height")),
                               gap ? (int64_t)json_integer_value(gap) : KURA_RESCAN_GAP_DEFAULT,
                               rq->now, &rs->json, p);
}

int kura_h_wallet_rescan_get(kura_req *rq, kura_resp *rs, kura_problem *p)
{
    return kura_rescan_get(rq->store, rq->id, &rs->json, p);
}

int kura_h_chain_status(kura_req *rq, kura_resp *rs, kura_problem *p)
{
    return kura_chain_status(rq->store, rq->now, &rs->json, p);
}

int kura_h_transfer_chain(kura_req *rq, kura_resp *rs, kura_problem *p)
{
    return kura_chain_transfer(rq->store, rq->id, &rs->json, p);
}
