/*
 * server/domain/people.h — who may ask kura-server for anything: users
 * (Argon2id passwords, TOTP), their sessions (cookie token + CSRF token),
 * sign-in rate limits, API keys (scopes, role, CIDR allowlist, expiry), roles,
 * and the Idempotency-Key of creating POSTs.
 *
 * The shared types at the top (kura_role, the scope bits, kura_principal,
 * kura_idem) are the contract every part of the server codes against
 * (SERVER-CONTRACT.md); the functions below them are the people domain.
 *
 * Domain functions return 0 or a positive kura_problem_code and fill `p`
 * (may be NULL); a database failure is UNAVAILABLE (retry) or INTERNAL.
 * Outputs are cleared on entry and hold nothing on failure. JSON outputs are
 * new references the caller owns (json_decref). Every change writes one audit
 * row (server/audit/audit.h) in the same transaction. Secrets (passwords,
 * TOTP secrets, session and API key tokens) are never logged, never put in
 * audit rows, and wiped from memory after use.
 */
#ifndef KURA_SERVER_PEOPLE_H
#define KURA_SERVER_PEOPLE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "problem/problem.h"
#include "store/store.h"

/* ===================== shared types (the contract) ===================== */

typedef enum kura_role {
    KURA_ROLE_NONE = 0, KURA_ROLE_VIEWER, KURA_ROLE_INITIATOR, KURA_ROLE_APPROVER,
    KURA_ROLE_ADMINISTRATOR, KURA_ROLE_AUDITOR
} kura_role;
/* Role sets for the route table: bit (1u << role). */
#define KURA_ROLE_BIT(r) (1u << (r))

/* API key scopes, a bitmask. Names as written in keys and docs. */
#define KURA_SCOPE_WALLETS_READ     (1u << 0)  /* "wallets:read" */
#define KURA_SCOPE_WALLETS_WRITE    (1u << 1)  /* "wallets:write" */
#define KURA_SCOPE_ADDRESSES_READ   (1u << 2)  /* "addresses:read" */
#define KURA_SCOPE_ADDRESSES_WRITE  (1u << 3)  /* "addresses:write" */
#define KURA_SCOPE_TRANSFERS_READ   (1u << 4)  /* "transfers:read" */
#define KURA_SCOPE_TRANSFERS_CREATE (1u << 5)  /* "transfers:create" */
#define KURA_SCOPE_TRANSFERS_APPROVE (1u << 6) /* "transfers:approve" */
#define KURA_SCOPE_TRANSFERS_SIGN   (1u << 7)  /* "transfers:sign" (package download, signature upload) */
#define KURA_SCOPE_TRANSFERS_CANCEL (1u << 8)  /* "transfers:cancel" (cancel, reject) */
#define KURA_SCOPE_DEPOSITS_READ    (1u << 9)  /* "deposits:read" */
#define KURA_SCOPE_AUDIT_READ       (1u << 10) /* "audit:read" */
#define KURA_SCOPE_WEBHOOKS_READ    (1u << 11) /* "webhooks:read" */
#define KURA_SCOPE_WEBHOOKS_WRITE   (1u << 12) /* "webhooks:write" */
#define KURA_SCOPE_USERS_READ       (1u << 13) /* "users:read" */
#define KURA_SCOPE_USERS_WRITE      (1u << 14) /* "users:write" */
#define KURA_SCOPE_KEYS_READ        (1u << 15) /* "keys:read" */
#define KURA_SCOPE_KEYS_WRITE       (1u << 16) /* "keys:write" */
/* Every scope above (what a user principal carries: its role decides). */
#define KURA_SCOPE_ALL ((1u << 17) - 1u)

typedef enum kura_principal_kind { KURA_PRINCIPAL_USER = 1, KURA_PRINCIPAL_API_KEY = 2,
                                   KURA_PRINCIPAL_SYSTEM = 3 /* the CLI, background workers */ } kura_principal_kind;
typedef struct kura_principal {
    kura_principal_kind kind;
    char id[40];              /* user id or API key id ("system" for SYSTEM) */
    char name[65];            /* username or key name; [a-z0-9._-], used as intent initiator */
    kura_role role;
    uint32_t scopes;          /* API keys: granted scopes; users: all scopes (role decides) */
    char approver_name[65];   /* approvers: their name in wallet policies ("" otherwise) */
    char client_addr[64];     /* textual IP address of the request */
} kura_principal;

/* Idempotency of creating POSTs (owned by `store`; the domain's creating functions take it). */
typedef struct kura_idem {
    const char *principal_id; /* who */
    const char *key;          /* the Idempotency-Key header */
    int64_t claimed_at;       /* the claim this request made (kura_idem_claim.claimed_at):
                               * completing or releasing touches only that claim, not one a
                               * retry took over meanwhile; 0: whichever claim is running.
                               * Claimed inline (request_hash set): when it is inserted. */
    /* Claimed inside the creating transaction (routes flagged KURA_ROUTE_ONE_TX):
     * nothing was claimed beforehand, and kura_idempotency_complete inserts the
     * key already done, under request_hash at claimed_at; a key that exists
     * makes it fail, the whole creation rolls back, and the API asks again the
     * classic way (claim first). NULL: the key was claimed before. */
    const char *request_hash;
} kura_idem;

/* ============================ roles and scopes ============================ */

/* "viewer" | "initiator" | "approver" | "administrator" | "auditor".
 * kura_role_parse returns 0 and *out, or -1 (unknown name; *out NONE).
 * kura_role_name returns the name, or "none" for NONE / a value outside the list. */
int kura_role_parse(const char *name, kura_role *out);
const char *kura_role_name(kura_role r);

/* One scope: "transfers:create" <-> KURA_SCOPE_TRANSFERS_CREATE.
 * kura_scope_parse returns 0 and *bit, or -1 (unknown; *bit 0).
 * kura_scope_name returns the name of a single bit, or NULL for anything else. */
int kura_scope_parse(const char *name, uint32_t *bit);
const char *kura_scope_name(uint32_t bit);
/* A space-separated list ("transfers:create deposits:read"; "" is no scope).
 * Returns 0 and *scopes, or -1 (an unknown name; *scopes 0). */
int kura_scopes_parse(const char *list, uint32_t *scopes);
/* Writes the names of the bits set in `scopes`, space-separated, in bit order,
 * into out[0..size) (NUL-terminated). Returns 0, or -1 when it does not fit
 * (out holds ""). Unknown bits are ignored. */
int kura_scopes_format(char *out, size_t size, uint32_t scopes);

/* User and key names: [a-z0-9._-]{1,64}. Returns 1 when valid, else 0. */
int kura_people_name_valid(const char *name);

/* ================================= setup ================================= */

/* Registers the audit snapshot functions of "user" and "api_key" (their
 * snapshots carry the SHA-256 of the secret columns, never the secrets) and
 * prepares the dummy password hash used for unknown users. Idempotent and
 * thread-safe; the people functions call it themselves, and a program that
 * runs `audit verify` without any of them calls it first. */
void kura_people_init(void);

/* The Argon2id cost of new password hashes (crypto_pwhash_str): by default
 * crypto_pwhash_OPSLIMIT_INTERACTIVE / MEMLIMIT_INTERACTIVE (2 passes, 64 MiB).
 * Process-wide; set it once at start (tests lower it). Existing hashes verify
 * with the cost written in them. Returns 0, or -1 below libsodium's minimum. */
int kura_people_set_password_cost(unsigned long long opslimit, size_t memlimit);

/* ================================ users ================================ */

/* Passwords: 12 to 1024 bytes (UTF-8, any characters). */
#define KURA_PASSWORD_MIN 12
#define KURA_PASSWORD_MAX 1024

/* User JSON: {"id", "username", "role", "approver_name" (string or null),
 * "disabled" (bool), "totp_enabled" (bool), "created_at", "updated_at"}. */

/* Creates a user. who: the administrator asking, NULL for the CLI bootstrap
 * (audited as actor "system"). approver_name: required (a policy approver
 * name, [a-z0-9._-]) for role APPROVER, NULL otherwise. idem: NULL or the
 * claimed Idempotency-Key (completed in the same transaction with 201 and *out).
 * Problems: INVALID_FIELD (name, password length, role, approver_name),
 * CONFLICT (the user name is taken). Audit: user.created. */
int kura_user_create(kura_store *st, const kura_principal *who, const char *username,
                     const char *password, kura_role role, const char *approver_name,
                     const kura_idem *idem, int64_t now, json_t **out, kura_problem *p);

/* One user by id. Problems: NOT_FOUND. */
int kura_user_get(kura_store *st, const char *user_id, json_t **out, kura_problem *p);

/* A page of users in id order after `cursor` (NULL/"": from the start),
 * limit 1..500 (0: 50): {"items": [...], "next_cursor": id | null}.
 * Problems: INVALID_FIELD (limit), BAD_CURSOR. */
int kura_user_list(kura_store *st, const char *cursor, size_t limit, json_t **page, kura_problem *p);

/* What kura_user_update changes; fields left at their "unchanged" value stay. */
typedef struct kura_user_changes {
    kura_role role;            /* KURA_ROLE_NONE: unchanged */
    int disabled;              /* -1: unchanged; 0 or 1 (disabling ends the user's sessions) */
    const char *approver_name; /* NULL: unchanged; "" clears (not for an approver) */
} kura_user_changes;

/* Changes a user's role, disabled flag, approver name. The result must still
 * be consistent (an approver has an approver name). An administrator cannot
 * disable or demote themselves (FORBIDDEN), so the server keeps one.
 * Problems: NOT_FOUND, INVALID_FIELD, FORBIDDEN. Audit: user.updated. */
int kura_user_update(kura_store *st, const kura_principal *who, const char *user_id,
                     const kura_user_changes *changes, int64_t now, json_t **out, kura_problem *p);

/* Sets a new password. current_password: required when a user changes their
 * own (BAD_CREDENTIALS when wrong), NULL when an administrator resets
 * another's (who NULL: the CLI). Ends all of the user's sessions (sign in
 * again). Problems: NOT_FOUND, INVALID_FIELD, BAD_CREDENTIALS.
 * Audit: user.password_changed. */
int kura_user_set_password(kura_store *st, const kura_principal *who, const char *user_id,
                           const char *current_password, const char *new_password,
                           int64_t now, kura_problem *p);

/* ================================= TOTP ================================= */

/* RFC 6238 with the parameters authenticator apps use: HMAC-SHA1, 6 digits,
 * 30-second steps, T0 = 0; a code of the step before or after is accepted
 * too (clock drift), and a step once used is refused again (replay). */
typedef enum kura_totp_alg { KURA_TOTP_SHA1 = 1, KURA_TOTP_SHA256 = 2, KURA_TOTP_SHA512 = 3 } kura_totp_alg;
#define KURA_TOTP_STEP 30
#define KURA_TOTP_DIGITS 6
#define KURA_TOTP_SECRET_BYTES 20

/* The RFC 6238 code for key[0..key_len) at unix time t (step seconds from
 * t0), `digits` (6..9) decimal digits into out (NUL-terminated).
 * Returns 0, or -1 for a bad argument (out holds ""). */
int kura_totp_code(char out[10], kura_totp_alg alg, const uint8_t *key, size_t key_len,
                   int64_t t, int64_t t0, int64_t step, unsigned digits);

/* Starts enrolment: a new random secret, kept pending until confirmed (a
 * second enrol replaces it; the user's current TOTP, if any, stays in force
 * until then). Only the user themselves (who->id == user_id) may enrol.
 * *out: {"secret": base32, "otpauth_uri": "otpauth://totp/kura:NAME?..."}:
 * shown once. Problems: NOT_FOUND, FORBIDDEN. No audit row (nothing in
 * force changed). */
int kura_user_totp_enroll(kura_store *st, const kura_principal *who, const char *user_id,
                          int64_t now, json_t **out, kura_problem *p);

/* Confirms enrolment with a current code from the pending secret; from then
 * on sign-in needs a code. Problems: NOT_FOUND, FORBIDDEN, INVALID_STATE
 * (nothing pending), BAD_CREDENTIALS (wrong code). Audit: user.totp_enrolled. */
int kura_user_totp_confirm(kura_store *st, const kura_principal *who, const char *user_id,
                           const char *code, int64_t now, kura_problem *p);

/* =============================== sessions =============================== */

/* A session ends after KURA_SESSION_IDLE seconds without a request, and
 * KURA_SESSION_LIFETIME seconds after sign-in in any case. */
#define KURA_SESSION_IDLE 1800
#define KURA_SESSION_LIFETIME 43200

/* Sign-in rate limits: at most this many failures per fixed window, per user
 * name and per client address (RATE_LIMITED until the window ends). */
#define KURA_SIGNIN_WINDOW 900
#define KURA_SIGNIN_MAX_PER_USER 10
#define KURA_SIGNIN_MAX_PER_ADDR 50

/* token: 64 hex chars of 32 random bytes (the cookie; only its SHA-256 is
 * stored); csrf: 64 hex chars (X-CSRF-Token); expires_at: the absolute end
 * (the idle limit applies before it). */
typedef struct kura_session_token { char token[65]; char csrf[65]; int64_t expires_at; } kura_session_token;

/* Signs a user in: password checked with Argon2id (an unknown or disabled
 * user costs the same time as a known one and gets the same answer); a code
 * needed when TOTP is on. *user: the user's JSON (may be NULL: not wanted).
 * Problems: BAD_CREDENTIALS, TOTP_REQUIRED (password right, code absent),
 * RATE_LIMITED, INVALID_FIELD (client_addr missing). The out token is wiped
 * on failure. Audit: signin.succeeded / signin.failed (not when rate-limited,
 * so a flood cannot flood the log). */
int kura_session_signin(kura_store *st, const char *username, const char *password,
                        const char *totp /* NULL */, const char *client_addr, int64_t now,
                        kura_session_token *out, json_t **user, kura_problem *p);

/* The principal of a session token (the cookie), and its CSRF token for the
 * API to compare (sodium_memcmp) on unsafe methods. Refreshes the idle timer.
 * Problems: UNAUTHENTICATED (unknown, expired, signed out, user disabled). */
int kura_session_authenticate(kura_store *st, const char *token, const char *client_addr,
                              int64_t now, kura_principal *out, char csrf_out[65], kura_problem *p);

/* Ends a session. Problems: UNAUTHENTICATED (no such session). Audit: session.ended. */
int kura_session_signout(kura_store *st, const char *token, int64_t now, kura_problem *p);

/* =============================== API keys =============================== */

/* A key reads "kura_<16 hex: prefix>_<64 hex: secret>"; the prefix finds the
 * row, the SHA-256 of the whole key is compared. */
#define KURA_APIKEY_LEN 86

/* API key JSON: {"id", "name", "prefix", "role", "scopes": [names],
 * "cidrs": [text], "expires_at" (or null), "created_by", "created_at",
 * "revoked_at" (or null), "last_used_at" (or null)}; on create also "key"
 * (the whole key: shown this once, never stored). */

/* Creates an API key. name: [a-z0-9._-]{1,64} (the intent initiator of its
 * transfers); scopes: not 0, only known bits; cidrs: space-separated IPv4 /
 * IPv6 networks ("10.0.0.0/8 2001:db8::/32"; a bare address is /32 or /128),
 * "" allows any address; expires_at: 0 never, else after now. idem: as
 * kura_user_create, but the response kept for replays lacks "key" (the key
 * is never stored anywhere). Problems: INVALID_FIELD. Audit: apikey.created. */
int kura_apikey_create(kura_store *st, const kura_principal *who, const char *name, kura_role role,
                       uint32_t scopes, const char *cidrs, int64_t expires_at,
                       const kura_idem *idem, int64_t now, json_t **out, kura_problem *p);

/* The principal of a key (the Authorization: Bearer value). Refuses a
 * malformed, unknown, revoked or expired key (UNAUTHENTICATED) and an address
 * outside the key's allowlist (ADDRESS_NOT_ALLOWED). Updates last_used_at (at
 * most once a minute per key). */
int kura_apikey_authenticate(kura_store *st, const char *key, const char *client_addr, int64_t now,
                             kura_principal *out, kura_problem *p);

int kura_apikey_get(kura_store *st, const char *key_id, json_t **out, kura_problem *p);
/* As kura_user_list. */
int kura_apikey_list(kura_store *st, const char *cursor, size_t limit, json_t **page, kura_problem *p);
/* Revokes a key (from now on refused). Problems: NOT_FOUND, INVALID_STATE
 * (revoked already). Audit: apikey.revoked. *out (may be NULL): the key's JSON. */
int kura_apikey_revoke(kura_store *st, const kura_principal *who, const char *key_id, int64_t now,
                       json_t **out, kura_problem *p);

/* A CIDR allowlist. kura_cidrs_valid: 1 when `cidrs` parses (as above), else 0.
 * kura_cidrs_match: 1 when `addr` (textual IPv4 or IPv6; an IPv4-mapped IPv6
 * address counts as IPv4) lies in one of the networks or cidrs is "", else 0. */
int kura_cidrs_valid(const char *cidrs);
int kura_cidrs_match(const char *cidrs, const char *addr);

/* ============================ idempotency keys ============================ */

/* A key (1..255 printable ASCII) remembers the first response for a day. A
 * claim left running by a server that died is taken over after 60 seconds. */
#define KURA_IDEM_TTL 86400
#define KURA_IDEM_TAKEOVER 60

typedef enum kura_idem_state {
    KURA_IDEM_NEW = 1,      /* claimed: run the request, then complete or release */
    KURA_IDEM_REPLAY = 2,   /* done before: answer http_status + response again */
    KURA_IDEM_MISMATCH = 3, /* used with another request: IDEMPOTENCY_KEY_REUSED (422) */
    KURA_IDEM_RUNNING = 4   /* another request with it is running: IDEMPOTENCY_IN_PROGRESS (409) */
} kura_idem_state;

typedef struct kura_idem_claim {
    kura_idem_state state;
    int http_status;        /* REPLAY: the status first given */
    char *response;         /* REPLAY: the body first given (malloc'd; kura_idem_claim_clear) */
    int64_t claimed_at;     /* NEW: the claim's time; the caller puts it in its kura_idem */
} kura_idem_claim;

/* The request hash a claim compares: hex SHA-256 over method, NUL, path,
 * NUL, body[0..body_len). */
void kura_idempotency_request_hash(char out[65], const char *method, const char *path,
                                   const char *body, size_t body_len);

/* Claims idem for a request (its own transaction, before the domain call).
 * Returns 0 with out->state NEW or REPLAY; IDEMPOTENCY_KEY_REUSED with state
 * MISMATCH; IDEMPOTENCY_IN_PROGRESS with state RUNNING; INVALID_FIELD for a
 * bad key; UNAVAILABLE/INTERNAL. */
int kura_idempotency_claim(kura_store *st, const kura_idem *idem, const char request_hash[65],
                           int64_t now, kura_idem_claim *out, kura_problem *p);
void kura_idem_claim_clear(kura_idem_claim *c);

/* Inside the creating transaction: records the response about to be given
 * (a no-op returning 0 when idem or idem->key is NULL). With
 * idem->request_hash set, the key was not claimed before and is inserted done
 * here, so the object and its remembered answer commit together in one
 * transaction. Returns KURA_DB_OK, KURA_DB_ECONFLICT when the key is not
 * claimed and running (or, claimed inline, exists already): roll back; or a
 * driver code. */
int kura_idempotency_complete(kura_db *db, const kura_idem *idem, int http_status,
                              const char *response_json, kura_db_error *err);

/* Drops a running claim when the domain call failed without a response to
 * keep, so the client may retry with the same key. Returns 0 (also when
 * there was nothing to drop), UNAVAILABLE/INTERNAL. */
int kura_idempotency_release(kura_store *st, const kura_idem *idem, kura_problem *p);

#endif /* KURA_SERVER_PEOPLE_H */
