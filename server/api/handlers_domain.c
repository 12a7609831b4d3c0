/*
 * server/api/handlers_domain.c — wallets, deposit addresses and transfers:
 * each handler turns its validated body into the domain's plain structs and
 * makes one domain call (domain/wallets.h, addresses.h, transfers.h).
 */
#include "api/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

/* ---- wallets ---- */

int kura_h_wallet_list(kura_req *rq, kura_resp *rs, kura_problem *p)
{
    return kura_srvwallet_list(rq->store, rq->cursor, rq->limit, &rs->json, p);
}

int kura_h_wallet_get(kura_req *rq, kura_resp *rs, kura_problem *p)
{
    return kura_srvwallet_get(rq->store, rq->id, &rs->json, p);
}

int kura_h_wallet_create(kura_req *rq, kura_resp *rs, kura_problem *p)
{
    kura_wallet_registration reg;
    const char **sigs = NULL, **records = NULL;
    size_t nsigs = 0, nrecords = 0;
    int rc = kura_api_fill_strings(json_object_get(rq->body, "policy_signatures"), &sigs, &nsigs, p);
    if (rc)
        return rc;
    rc = kura_api_fill_strings(json_object_get(rq->body, "bsms_key_records"), &records,
                               &nrecords, p);
    if (rc) {
        free(sigs);
        return rc;
    }
    memset(&reg, 0, sizeof reg);
    reg.name = kura_api_str(rq->body, "name", NULL);
    reg.descriptor = kura_api_str(rq->body, "descriptor", NULL);
    reg.bsms_descriptor_record = kura_api_str(rq->body, "bsms_descriptor_record", NULL);
    reg.bsms_key_records = records;
    reg.bsms_key_record_count = nrecords;
    reg.policy = kura_api_str(rq->body, "policy", "");
    reg.policy_signatures = sigs;
    reg.policy_signature_count = nsigs;
    reg.birth_height = kura_api_int(rq->body, "birth_height", 0);
    reg.min_confirmations = kura_api_int(rq->body, "min_confirmations", 1);
    rs->status = 201;
    rc = kura_srvwallet_register(rq->store, &rq->who, &reg, rq->idem, rq->now, &rs->json, p);
    free(sigs);
    free(records);
    return rc;
}

int kura_h_wallet_policy(kura_req *rq, kura_resp *rs, kura_problem *p)
{
    const char **sigs = NULL;
    size_t nsigs = 0;
    int rc = kura_api_fill_strings(json_object_get(rq->body, "policy_signatures"), &sigs, &nsigs, p);
    if (rc)
        return rc;
    rc = kura_srvwallet_policy_update(rq->store, &rq->who, rq->id,
                                      kura_api_str(rq->body, "policy", ""), sigs, nsigs, rq->now,
                                      &rs->json, p);
    free(sigs);
    return rc;
}

/* ---- deposit addresses ---- */

int kura_h_address_create(kura_req *rq, kura_resp *rs, kura_problem *p)
{
    rs->status = 201;
    return kura_address_allocate(rq->store, &rq->who, rq->id, kura_api_str(rq->body, "account", ""),
                                 kura_api_str(rq->body, "label", ""), rq->idem, rq->now, &rs->json,
                                 p);
}

int kura_h_address_list(kura_req *rq, kura_resp *rs, kura_problem *p)
{
    const char *account = kura_req_query(rq, "account");
    if (account && strlen(account) > KURA_ADDRESS_ACCOUNT_MAX)
        return kura_problem_set(p, KURA_PROBLEM_INVALID_FIELD, "account: too long");
    /* Address cursors are the last index as decimal text, not an id. */
    return kura_address_list(rq->store, rq->id, account, rq->cursor, rq->limit, &rs->json, p);
}

/* ---- transfers ---- */

int kura_h_transfer_create(kura_req *rq, kura_resp *rs, kura_problem *p)
{
    kura_transfer_body b;
    kura_transfer_request req;
    kura_transfer_output_req *outs;
    int rc = kura_api_fill_transfer(rq->body, &b, p);
    if (rc)
        return rc;
    outs = calloc(b.output_count ? b.output_count : 1, sizeof *outs);
    if (!outs) {
        kura_transfer_body_free(&b);
        return kura_problem_set(p, KURA_PROBLEM_INTERNAL, "out of memory");
    }
    for (size_t i = 0; i < b.output_count; i++) {
        outs[i].address = b.outputs[i].address;
        outs[i].amount = b.outputs[i].amount;
        outs[i].label = b.outputs[i].label;
    }
    memset(&req, 0, sizeof req);
    req.wallet_id = b.wallet_id;
    req.external_id = b.external_id;
    req.outputs = outs;
    req.output_count = b.output_count;
    req.max_fee = b.max_fee;
    req.expires_in = b.expires_in;
    rs->status = 201;
    rc = kura_transfer_create(rq->store, &rq->who, &req, rq->idem, rq->now, &rs->json, p);
    free(outs);
    kura_transfer_body_free(&b);
    return rc;
}

int kura_h_transfer_list(kura_req *rq, kura_resp *rs, kura_problem *p)
{
    const char *wallet = kura_req_query(rq, "wallet_id");
    const char *state = kura_req_query(rq, "state");
    if (wallet && !kura_api_id_ok(wallet))
        return kura_problem_set(p, KURA_PROBLEM_INVALID_FIELD, "wallet_id: not an id");
    if (state && !kura_api_id_ok(state))
        return kura_problem_set(p, KURA_PROBLEM_INVALID_FIELD, "state: unknown");
    return kura_transfer_list(rq->store, wallet, state, rq->cursor, rq->limit, &rs->json, p);
}

int kura_h_transfer_get(kura_req *rq, kura_resp *rs, kura_problem *p)
{
    return kura_transfer_get(rq->store, rq->id, &rs->json, p);
}

int kura_h_transfer_intent(kura_req *rq, kura_resp *rs, kura_problem *p)
{
    char *text = NULL;
    size_t len = 0;
    int rc = kura_transfer_intent(rq->store, rq->id, &text, &len, p);
    if (rc)
        return rc;
    /* The exact bytes approvers sign: never re-encoded on the way out. */
    rs->body = text;
    rs->len = len;
    rs->content_type = "text/plain; charset=utf-8";
    return 0;
}

int kura_h_transfer_approve(kura_req *rq, kura_resp *rs, kura_problem *p)
{
    const json_t *sig = json_object_get(rq->body, "signature");
    return kura_transfer_approve(rq->store, &rq->who, rq->id, json_string_value(sig),
                                 json_string_length(sig), rq->now, &rs->json, p);
}

int kura_h_transfer_reject(kura_req *rq, kura_resp *rs, kura_problem *p)
{
    return kura_transfer_reject(rq->store, &rq->who, rq->id, kura_api_str(rq->body, "reason", ""),
                                rq->now, &rs->json, p);
}

int kura_h_transfer_cancel(kura_req *rq, kura_resp *rs, kura_problem *p)
{
    return kura_transfer_cancel(rq->store, &rq->who, rq->id, kura_api_str(rq->body, "reason", NULL),
                                rq->now, &rs->json, p);
}

int kura_h_transfer_bump(kura_req *rq, kura_resp *rs, kura_problem *p)
{
    int64_t rate = kura_api_int(rq->body, "fee_rate_sat_vb", 0);
    return kura_transfer_bump(rq->store, &rq->who, rq->id, rate > 0 ? (uint64_t)rate : 0, rq->now,
                              &rs->json, p);
}

int kura_h_transfer_package(kura_req *rq, kura_resp *rs, kura_problem *p)
{
    uint8_t *psbt = NULL;
    size_t len = 0;
    int rc = kura_transfer_package(rq->store, &rq->who, rq->id, rq->now, &psbt, &len, p);
    if (rc)
        return rc;
    rs->body = (char *)psbt;
    rs->len = len;
    rs->content_type = "application/octet-stream";
    snprintf(rs->disposition, sizeof rs->disposition, "attachment; filename=\"%s.psbt\"", rq->id);
    return 0;
}

/* The PSBT of a request: the raw octet-stream body, or the JSON body's
 * base64 "psbt" decoded into *decoded (free it). */
static int request_psbt(kura_req *rq, const uint8_t **psbt, size_t *len, uint8_t **decoded,
                        kura_problem *p)
{
    *decoded = NULL;
    *psbt = NULL;
    *len = 0;
    if (rq->raw_is_octet) {
        *psbt = (const uint8_t *)rq->raw;
        *len = rq->raw_len;
        if (*len == 0)
            return kura_problem_set(p, KURA_PROBLEM_MISSING_FIELD, "the body is empty: send the PSBT");
        return 0;
    }
    const json_t *b64 = json_object_get(rq->body, "psbt");
    size_t n = json_string_length(b64), cap = n / 4 * 3 + 3;
    *decoded = malloc(cap);
    if (!*decoded)
        return kura_problem_set(p, KURA_PROBLEM_INTERNAL, "out of memory");
    if (sodium_base642bin(*decoded, cap, json_string_value(b64), n, NULL, len, NULL,
                          sodium_base64_VARIANT_ORIGINAL) != 0) {
        free(*decoded);
        *decoded = NULL;
        return kura_problem_set(p, KURA_PROBLEM_INVALID_FIELD, "psbt: not base64");
    }
    *psbt = *decoded;
    return 0;
}

int kura_h_transfer_import(kura_req *rq, kura_resp *rs, kura_problem *p)
{
    const uint8_t *psbt = NULL;
    size_t len = 0;
    uint8_t *decoded = NULL;
    int rc = request_psbt(rq, &psbt, &len, &decoded, p);
    if (rc)
        return rc;
    rc = kura_transfer_import_package(rq->store, &rq->who, rq->id, psbt, len, rq->now, &rs->json, p);
    free(decoded);
    return rc;
}

int kura_h_transfer_signatures(kura_req *rq, kura_resp *rs, kura_problem *p)
{
    const uint8_t *psbt = NULL;
    size_t len = 0;
    uint8_t *decoded = NULL;
    int rc = request_psbt(rq, &psbt, &len, &decoded, p);
    if (rc)
        return rc;
    rc = kura_transfer_add_signatures(rq->store, &rq->who, rq->id, psbt, len, rq->now, &rs->json, p);
    free(decoded);
    return rc;
}

int kura_h_transfer_tx(kura_req *rq, kura_resp *rs, kura_problem *p)
{
    char *hex = NULL;
    int rc = kura_transfer_raw_tx(rq->store, rq->id, &hex, p);
    if (rc)
        return rc;
    rs->json = json_pack("{s:s, s:s}", "transfer_id", rq->id, "hex", hex);
    free(hex);
    return rs->json ? 0 : kura_problem_set(p, KURA_PROBLEM_INTERNAL, "out of memory");
}
