/*
 * server/api/routes.c — THE route table. Every route kura-server answers is
 * one row here: the router reads it, `kura-server routes` prints it for the
 * route x role test and the OpenAPI check, and docs/api.md explains it.
 *
 * The role matrix (docs/api.md):
 *   viewer         reads wallets, addresses, transfers (and their intent, tx),
 *                    deposits, balances and the chain follower's status
 *   initiator      + creates transfers, allocates deposit addresses,
 *                    downloads signing packages and uploads signed PSBTs
 *   approver       + approves and rejects transfers
 *   administrator  manages users, API keys, webhooks, wallets and policies;
 *                    cancels transfers; downloads packages, uploads signatures;
 *                    reads the audit log and verifies it; reads /metrics
 *   (withdrawal requests: initiators queue them and batch them, with the
 *    transfers:create scope; initiators and administrators cancel queued
 *    ones, transfers:cancel; readers read them, transfers:read)
 *   auditor        reads everything (audit, exports, users, keys, webhooks,
 *                    metrics) and verifies the audit chain; changes nothing
 * An API key acts with its role AND needs the route's scope; routes marked
 * NO_KEYS are for people only (sign-out, TOTP enrolment).
 */
#include "api/routes.h"

#include <string.h>

#define B(r) KURA_ROLE_BIT(KURA_ROLE_##r)
#define R_READ KURA_ROLES_READERS
#define R_ADMIN B(ADMINISTRATOR)
#define R_ADMIN_AUD (B(ADMINISTRATOR) | B(AUDITOR))
#define R_INIT B(INITIATOR)
#define R_APPR B(APPROVER)
#define R_SIGNOPS (B(ADMINISTRATOR) | B(INITIATOR))
#define S(x) KURA_SCOPE_##x
#define MiB ((size_t)1 << 20)
#define JSON KURA_CT_JSON

static const char *const q_addresses[] = {"account", NULL};
static const char *const q_transfers[] = {"wallet_id", "state", NULL};
static const char *const q_deposits[] = {"wallet_id", "account", "state", NULL};
static const char *const q_balance[] = {"account", NULL};
static const char *const q_audit[] = {"format", "from", "to", "object_type", "object_id", NULL};
static const char *const q_withdrawals[] = {"state", NULL};

const kura_route kura_routes[] = {
/*   method    path                                   roles        scope                 flags                                   limit    types  body                          query        page handler                      operationId              summary */
    {"GET",    "/healthz",                            0,           0,                    KURA_ROUTE_PUBLIC,                      0,       0,     NULL,                         NULL,        0, kura_h_healthz,              "getHealth",             "Liveness and database check"},
    {"GET",    "/metrics",                            R_ADMIN_AUD, S(AUDIT_READ),        0,                                      0,       0,     NULL,                         NULL,        0, kura_h_metrics,              "getMetrics",            "Prometheus metrics"},
    {"POST",   "/v1/session",                         0,           0,                    KURA_ROUTE_PUBLIC,                      0,       JSON,  &kura_body_session_create,    NULL,        0, kura_h_session_create,       "createSession",         "Sign in"},
    {"GET",    "/v1/session",                         KURA_ROLES_ALL, 0,                 KURA_ROUTE_ANY_SCOPE,                   0,       0,     NULL,                         NULL,        0, kura_h_session_get,          "getSession",            "Who am I (and the CSRF token)"},
    {"DELETE", "/v1/session",                         KURA_ROLES_ALL, 0,                 KURA_ROUTE_NO_KEYS,                     0,       0,     NULL,                         NULL,        0, kura_h_session_delete,       "deleteSession",         "Sign out"},
    {"GET",    "/v1/wallets",                         R_READ,      S(WALLETS_READ),      0,                                      0,       0,     NULL,                         NULL,        1, kura_h_wallet_list,          "listWallets",           "List wallets"},
    {"POST",   "/v1/wallets",                         R_ADMIN,     S(WALLETS_WRITE),     KURA_ROUTE_CREATES,                     2 * MiB, JSON,  &kura_body_wallet_create,     NULL,        0, kura_h_wallet_create,        "createWallet",          "Register a wallet (descriptor + signed policy)"},
    {"GET",    "/v1/wallets/{id}",                    R_READ,      S(WALLETS_READ),      0,                                      0,       0,     NULL,                         NULL,        0, kura_h_wallet_get,           "getWallet",             "Get a wallet"},
    {"POST",   "/v1/wallets/{id}/policy",             R_ADMIN,     S(WALLETS_WRITE),     0,                                      2 * MiB, JSON,  &kura_body_wallet_policy,     NULL,        0, kura_h_wallet_policy,        "updateWalletPolicy",    "Install a newer signed policy"},
    {"POST",   "/v1/wallets/{id}/addresses",          R_INIT,      S(ADDRESSES_WRITE),   KURA_ROUTE_CREATES | KURA_ROUTE_ONE_TX, 0,       JSON,  &kura_body_address_create,    NULL,        0, kura_h_address_create,       "createAddress",         "Allocate a deposit address"},
    {"GET",    "/v1/wallets/{id}/addresses",          R_READ,      S(ADDRESSES_READ),    0,                                      0,       0,     NULL,                         q_addresses, 1, kura_h_address_list,         "listAddresses",         "List deposit addresses"},
    {"GET",    "/v1/wallets/{id}/balance",            R_READ,      S(DEPOSITS_READ),     0,                                      0,       0,     NULL,                         q_balance,   0, kura_h_wallet_balance,       "getWalletBalance",      "A wallet's balance, or one account's (confirmed, pending)"},
    {"GET",    "/v1/wallets/{id}/rescan",             R_READ,      S(WALLETS_READ),      0,                                      0,       0,     NULL,                         NULL,        0, kura_h_wallet_rescan_get,    "getWalletRescan",       "The wallet's last recovery scan: state, height reached, what it found"},
    {"POST",   "/v1/wallets/{id}/rescan",             R_ADMIN,     S(WALLETS_WRITE),     0,                                      0,       JSON,  &kura_body_wallet_rescan,     NULL,        0, kura_h_wallet_rescan,        "rescanWallet",          "Recovery scan of a wallet restored elsewhere: from a height, with a gap limit, receive and change chains"},
    {"GET",    "/v1/deposits",                        R_READ,      S(DEPOSITS_READ),     0,                                      0,       0,     NULL,                         q_deposits,  1, kura_h_deposit_list,         "listDeposits",          "List deposits (filters: wallet, account, state)"},
    {"GET",    "/v1/deposits/{id}",                   R_READ,      S(DEPOSITS_READ),     0,                                      0,       0,     NULL,                         NULL,        0, kura_h_deposit_get,          "getDeposit",            "Get a deposit"},
    {"GET",    "/v1/chain",                           R_READ,      S(DEPOSITS_READ),     0,                                      0,       0,     NULL,                         NULL,        0, kura_h_chain_status,         "getChain",              "The chain follower: height, tip, the node's, lag"},
    {"POST",   "/v1/transfers",                       R_INIT,      S(TRANSFERS_CREATE),  KURA_ROUTE_CREATES | KURA_ROUTE_ONE_TX, 4 * MiB, JSON,  &kura_body_transfer_create,   NULL,        0, kura_h_transfer_create,      "createTransfer",        "Request a transfer"},
    {"GET",    "/v1/transfers",                       R_READ,      S(TRANSFERS_READ),    0,                                      0,       0,     NULL,                         q_transfers, 1, kura_h_transfer_list,        "listTransfers",         "List transfers"},
    {"GET",    "/v1/transfers/{id}",                  R_READ,      S(TRANSFERS_READ),    0,                                      0,       0,     NULL,                         NULL,        0, kura_h_transfer_get,         "getTransfer",           "Get a transfer"},
    {"GET",    "/v1/transfers/{id}/intent",           R_READ,      S(TRANSFERS_READ),    0,                                      0,       0,     NULL,                         NULL,        0, kura_h_transfer_intent,      "getTransferIntent",     "The intent's exact bytes"},
    {"POST",   "/v1/transfers/{id}/approvals",        R_APPR,      S(TRANSFERS_APPROVE), 0,                                      0,       JSON,  &kura_body_approval,          NULL,        0, kura_h_transfer_approve,     "approveTransfer",       "Post an approval (SSHSIG over the intent)"},
    {"POST",   "/v1/transfers/{id}/reject",           R_APPR,      S(TRANSFERS_CANCEL),  0,                                      0,       JSON,  &kura_body_reason_required,   NULL,        0, kura_h_transfer_reject,      "rejectTransfer",        "Reject a transfer (reason required)"},
    {"GET",    "/v1/transfers/{id}/package",          R_SIGNOPS,   S(TRANSFERS_SIGN),    0,                                      0,       0,     NULL,                         NULL,        0, kura_h_transfer_package,     "getTransferPackage",    "Download the signing package (PSBT)"},
    {"POST",   "/v1/transfers/{id}/package",          R_SIGNOPS,   S(TRANSFERS_SIGN),    0,                                      8 * MiB, JSON | KURA_CT_OCTET, &kura_body_signatures, NULL, 0, kura_h_transfer_import,     "importTransferPackage", "Use a PSBT made elsewhere as the package"},
    {"POST",   "/v1/transfers/{id}/signatures",       R_SIGNOPS,   S(TRANSFERS_SIGN),    0,                                      8 * MiB, JSON | KURA_CT_OCTET, &kura_body_signatures, NULL, 0, kura_h_transfer_signatures, "addTransferSignatures", "Upload a signed PSBT"},
    {"POST",   "/v1/transfers/{id}/bump",             R_SIGNOPS,   S(TRANSFERS_SIGN),    0,                                      0,       JSON,  &kura_body_bump,               NULL,        0, kura_h_transfer_bump,        "bumpTransfer",          "Fee bump (RBF) of a broadcast transfer"},
    {"POST",   "/v1/transfers/{id}/cancel",           R_ADMIN,     S(TRANSFERS_CANCEL),  0,                                      0,       JSON,  &kura_body_reason_optional,   NULL,        0, kura_h_transfer_cancel,      "cancelTransfer",        "Cancel a transfer before broadcast"},
    {"GET",    "/v1/transfers/{id}/tx",               R_READ,      S(TRANSFERS_READ),    0,                                      0,       0,     NULL,                         NULL,        0, kura_h_transfer_tx,          "getTransferTx",         "The finalized raw transaction"},
    {"GET",    "/v1/transfers/{id}/chain",            R_READ,      S(TRANSFERS_READ),    0,                                      0,       0,     NULL,                         NULL,        0, kura_h_transfer_chain,       "getTransferChain",      "The transfer on chain: mined where, confirmations, broadcasts"},
    {"POST",   "/v1/wallets/{id}/withdrawals",        R_INIT,      S(TRANSFERS_CREATE),  KURA_ROUTE_CREATES,                     0,       JSON,  &kura_body_withdrawal_create, NULL,        0, kura_h_withdrawal_create,    "createWithdrawal",      "Queue a withdrawal request"},
    {"GET",    "/v1/wallets/{id}/withdrawals",        R_READ,      S(TRANSFERS_READ),    0,                                      0,       0,     NULL,                         q_withdrawals, 1, kura_h_withdrawal_list,    "listWithdrawals",       "List a wallet's withdrawal requests"},
    {"POST",   "/v1/wallets/{id}/batches",            R_INIT,      S(TRANSFERS_CREATE),  KURA_ROUTE_CREATES,                     0,       JSON,  &kura_body_batch_create,      NULL,        0, kura_h_batch_create,         "createBatch",           "Batch the queued withdrawals into one transfer"},
    {"GET",    "/v1/withdrawals/{id}",                R_READ,      S(TRANSFERS_READ),    0,                                      0,       0,     NULL,                         NULL,        0, kura_h_withdrawal_get,       "getWithdrawal",         "Get a withdrawal request"},
    {"POST",   "/v1/withdrawals/{id}/cancel",         R_SIGNOPS,   S(TRANSFERS_CANCEL),  0,                                      0,       JSON,  &kura_body_reason_optional,   NULL,        0, kura_h_withdrawal_cancel,    "cancelWithdrawal",      "Cancel a queued withdrawal request"},
    {"GET",    "/v1/audit",                           R_ADMIN_AUD, S(AUDIT_READ),        0,                                      0,       0,     NULL,                         q_audit,     1, kura_h_audit_list,           "listAudit",             "Audit rows, or an export (?format=jsonl|csv)"},
    {"POST",   "/v1/audit/verify",                    R_ADMIN_AUD, S(AUDIT_READ),        0,                                      0,       JSON,  &kura_body_audit_verify,      NULL,        0, kura_h_audit_verify,         "verifyAudit",           "Verify the audit chain end to end"},
    {"GET",    "/v1/users",                           R_ADMIN_AUD, S(USERS_READ),        0,                                      0,       0,     NULL,                         NULL,        1, kura_h_user_list,            "listUsers",             "List users"},
    {"POST",   "/v1/users",                           R_ADMIN,     S(USERS_WRITE),       KURA_ROUTE_CREATES,                     0,       JSON,  &kura_body_user_create,       NULL,        0, kura_h_user_create,          "createUser",            "Create a user"},
    {"GET",    "/v1/users/{id}",                      R_ADMIN_AUD, S(USERS_READ),        0,                                      0,       0,     NULL,                         NULL,        0, kura_h_user_get,             "getUser",               "Get a user"},
    {"PATCH",  "/v1/users/{id}",                      R_ADMIN,     S(USERS_WRITE),       0,                                      0,       JSON,  &kura_body_user_update,       NULL,        0, kura_h_user_update,          "updateUser",            "Change a user's role, approver name or disabled flag"},
    {"POST",   "/v1/users/{id}/totp",                 KURA_ROLES_ALL, 0,                 KURA_ROUTE_NO_KEYS | KURA_ROUTE_SELF,   0,       JSON,  &kura_body_empty,             NULL,        0, kura_h_totp_enroll,          "enrollTotp",            "Start TOTP enrolment (own user; secret shown once)"},
    {"POST",   "/v1/users/{id}/totp/confirm",         KURA_ROLES_ALL, 0,                 KURA_ROUTE_NO_KEYS | KURA_ROUTE_SELF,   0,       JSON,  &kura_body_totp_confirm,      NULL,        0, kura_h_totp_confirm,         "confirmTotp",           "Confirm TOTP enrolment with a code"},
    {"GET",    "/v1/api-keys",                        R_ADMIN_AUD, S(KEYS_READ),         0,                                      0,       0,     NULL,                         NULL,        1, kura_h_apikey_list,          "listApiKeys",           "List API keys"},
    {"POST",   "/v1/api-keys",                        R_ADMIN,     S(KEYS_WRITE),        KURA_ROUTE_CREATES,                     0,       JSON,  &kura_body_apikey_create,     NULL,        0, kura_h_apikey_create,        "createApiKey",          "Create an API key (shown once)"},
    {"DELETE", "/v1/api-keys/{id}",                   R_ADMIN,     S(KEYS_WRITE),        0,                                      0,       0,     NULL,                         NULL,        0, kura_h_apikey_revoke,        "revokeApiKey",          "Revoke an API key"},
    {"GET",    "/v1/webhooks",                        R_ADMIN_AUD, S(WEBHOOKS_READ),     0,                                      0,       0,     NULL,                         NULL,        1, kura_h_webhook_list,         "listWebhooks",          "List webhook endpoints"},
    {"POST",   "/v1/webhooks",                        R_ADMIN,     S(WEBHOOKS_WRITE),    KURA_ROUTE_CREATES,                     0,       JSON,  &kura_body_webhook_create,    NULL,        0, kura_h_webhook_create,       "createWebhook",         "Add a webhook endpoint (secret shown once)"},
    {"GET",    "/v1/webhooks/{id}",                   R_ADMIN_AUD, S(WEBHOOKS_READ),     0,                                      0,       0,     NULL,                         NULL,        0, kura_h_webhook_get,          "getWebhook",            "Get a webhook endpoint"},
    {"DELETE", "/v1/webhooks/{id}",                   R_ADMIN,     S(WEBHOOKS_WRITE),    0,                                      0,       0,     NULL,                         NULL,        0, kura_h_webhook_delete,       "deleteWebhook",         "Remove a webhook endpoint"},
    {"GET",    "/v1/webhooks/{id}/deliveries",        R_ADMIN_AUD, S(WEBHOOKS_READ),     0,                                      0,       0,     NULL,                         NULL,        1, kura_h_webhook_deliveries,   "listWebhookDeliveries", "The endpoint's delivery log"},
    {"POST",   "/v1/webhooks/{id}/redeliver",         R_ADMIN,     S(WEBHOOKS_WRITE),    0,                                      0,       JSON,  &kura_body_webhook_redeliver, NULL,        0, kura_h_webhook_redeliver,    "redeliverWebhook",      "Deliver an event (or every failed one) again"},
};
const size_t kura_route_count = sizeof kura_routes / sizeof kura_routes[0];

/* Matches one pattern against path; copies the {id} segment. */
static int path_match(const char *pattern, const char *path, char id_out[65])
{
    const char *p = pattern, *s = path;
    while (*p && *s) {
        if (p[0] == '{') {
            const char *close = strchr(p, '}');
            const char *end = strchr(s, '/');
            size_t n = end ? (size_t)(end - s) : strlen(s);
            if (!close || n == 0 || n > 64)
                return 0;
            memcpy(id_out, s, n);
            id_out[n] = '\0';
            if (!kura_api_id_ok(id_out))
                return 0;
            p = close + 1;
            s += n;
            continue;
        }
        if (*p != *s)
            return 0;
        p++;
        s++;
    }
    return *p == '\0' && *s == '\0';
}

int kura_route_find(const char *method, const char *path, char id_out[65])
{
    int path_seen = 0;
    char id[65];
    id_out[0] = '\0';
    for (size_t i = 0; i < kura_route_count; i++) {
        id[0] = '\0';
        if (!path_match(kura_routes[i].path, path, id))
            continue;
        if (strcmp(kura_routes[i].method, method) == 0) {
            memcpy(id_out, id, sizeof id);
            return (int)i;
        }
        path_seen = 1;
    }
    return path_seen ? -2 : -1;
}

const char *kura_api_role_name(kura_role r)
{
    switch (r) {
    case KURA_ROLE_VIEWER: return "viewer";
    case KURA_ROLE_INITIATOR: return "initiator";
    case KURA_ROLE_APPROVER: return "approver";
    case KURA_ROLE_ADMINISTRATOR: return "administrator";
    case KURA_ROLE_AUDITOR: return "auditor";
    case KURA_ROLE_NONE: break;
    }
    return "none";
}

static const char *const scope_names[] = {
    "wallets:read", "wallets:write", "addresses:read", "addresses:write", "transfers:read",
    "transfers:create", "transfers:approve", "transfers:sign", "transfers:cancel",
    "deposits:read", "audit:read", "webhooks:read", "webhooks:write", "users:read",
    "users:write", "keys:read", "keys:write"};

const char *kura_api_scope_name(uint32_t bit)
{
    for (unsigned i = 0; i < sizeof scope_names / sizeof scope_names[0]; i++)
        if (bit == (1u << i))
            return scope_names[i];
    return NULL;
}

json_t *kura_route_table_json(void)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < kura_route_count; i++) {
        const kura_route *r = &kura_routes[i];
        json_t *roles = json_array(), *ct = json_array(), *q = json_array();
        const char *scope = r->scope ? kura_api_scope_name(r->scope) : NULL;
        for (int role = KURA_ROLE_VIEWER; role <= KURA_ROLE_AUDITOR; role++)
            if (r->roles & KURA_ROLE_BIT(role))
                json_array_append_new(roles, json_string(kura_api_role_name((kura_role)role)));
        if (r->content_types & KURA_CT_JSON)
            json_array_append_new(ct, json_string("application/json"));
        if (r->content_types & KURA_CT_OCTET)
            json_array_append_new(ct, json_string("application/octet-stream"));
        if (r->paginated) {
            json_array_append_new(q, json_string("cursor"));
            json_array_append_new(q, json_string("limit"));
        }
        for (const char *const *n = r->query; n && *n; n++)
            json_array_append_new(q, json_string(*n));
        json_array_append_new(
            arr, json_pack("{s:s, s:s, s:s, s:s, s:o, s:o, s:b, s:b, s:b, s:b, s:b, s:I, s:o, s:o, s:o}",
                           "method", r->method, "path", r->path, "operation_id", r->operation_id,
                           "summary", r->summary, "roles", roles,
                           "scope", scope ? json_string(scope) : json_null(),
                           "public", (r->flags & KURA_ROUTE_PUBLIC) != 0,
                           "creates", (r->flags & KURA_ROUTE_CREATES) != 0,
                           "keys", (r->flags & (KURA_ROUTE_NO_KEYS | KURA_ROUTE_PUBLIC)) == 0,
                           "self", (r->flags & KURA_ROUTE_SELF) != 0,
                           "paginated", r->paginated != 0,
                           "body_limit", (json_int_t)r->body_limit, "content_types", ct,
                           "body", r->body ? json_string(r->body->name) : json_null(),
                           "query", q));
        if (r->body) {
            /* The body's declared fields, for the OpenAPI check. */
            json_t *fields = json_array();
            static const char *const type_names[] = {"", "string", "integer", "boolean",
                                                     "strings", "objects"};
            for (const kura_field_rule *f = r->body->rules; f->name; f++)
                json_array_append_new(fields, json_pack("{s:s, s:s, s:b}", "name", f->name, "type",
                                                        type_names[f->type], "required",
                                                        f->required != 0));
            json_object_set_new(json_array_get(arr, json_array_size(arr) - 1), "fields", fields);
        }
    }
    return arr;
}
