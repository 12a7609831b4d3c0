/*
 * server/domain/people_internal.h — what the people domain's files share
 * (users.c, totp.c, sessions.c, apikeys.c, idempotency.c). Not for use
 * outside them.
 */
#ifndef KURA_SERVER_PEOPLE_INTERNAL_H
#define KURA_SERVER_PEOPLE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "domain/people.h"
#include "store/store_people.h"

/* The audit actor of a principal ("system" for NULL or SYSTEM). */
const char *kura_people_i_actor(const kura_principal *who);

/* Appends one audit row in db's transaction: data is {"snapshot": snapshot}
 * (when not NULL) plus the members of extra (when not NULL). Both borrowed.
 * Returns a KURA_DB_* code. */
int kura_people_i_audit(kura_db *db, const char *actor, const char *action, const char *type,
                        const char *id, json_t *snapshot, json_t *extra, int64_t now,
                        kura_db_error *err);

/* Lower-case hex SHA-256 of data[0..len). */
void kura_people_i_sha256_hex(char out[65], const void *data, size_t len);

/* The user's JSON (people.h) and its audit snapshot (the JSON plus
 * "secrets_sha256": SHA-256 over the password hash and the TOTP secret in
 * force, so an edited hash is caught while the secrets stay out of the log). */
json_t *kura_people_i_user_json(const kura_user_row *r);
json_t *kura_people_i_user_snapshot(const kura_user_row *r);

/* Argon2id: hash (crypto_pwhash_STRBYTES) at the configured cost. Returns 0
 * or -1 (out of memory). */
int kura_people_i_password_hash(char out[128], const char *password);
/* 1 when password matches hash. hash NULL: checked against a dummy hash of
 * the same cost, so the time taken does not say whether the user exists;
 * returns 0 then. */
int kura_people_i_password_verify(const char *hash, const char *password);

/* TOTP for the people domain: decodes a base32 secret and checks `code`
 * against steps now-1..now+1 (RFC 6238 section 5.2: one step of drift each
 * way). Returns 1 and *step (the matching step) or 0. */
int kura_people_i_totp_check(const char *secret_b32, const char *code, int64_t now, int64_t *step);
/* A new random secret as base32 (32 chars for 20 bytes), NUL-terminated. */
void kura_people_i_totp_new_secret(char out[40]);

/* JSON for an API key row (people.h) and its audit snapshot (without
 * last_used_at, which changes unaudited; with "secret_hash_sha256"). */
json_t *kura_people_i_apikey_json(const kura_apikey_row *r);
json_t *kura_people_i_apikey_snapshot(const kura_apikey_row *r);

/* The snapshot functions registered with the audit log. */
int kura_people_i_user_snapshot_fn(kura_db *db, const char *object_id, json_t **out,
                                   kura_db_error *err);
int kura_people_i_apikey_snapshot_fn(kura_db *db, const char *object_id, json_t **out,
                                     kura_db_error *err);

/* A list page: {"items": items (stolen), "next_cursor": last id when the page
 * is full, else null}. */
json_t *kura_people_i_page(json_t *items, const char *last_id, size_t count, size_t limit);

/* Checks a page request: limit 0 -> 50, 1..500; cursor NULL/"" or an id of
 * the given prefix. Returns 0 or a problem. */
int kura_people_i_page_args(const char *cursor, const char *prefix, size_t *limit, kura_problem *p);

#endif /* KURA_SERVER_PEOPLE_INTERNAL_H */
