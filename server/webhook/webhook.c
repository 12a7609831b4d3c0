/*
 * server/webhook/webhook.c — the outbox (events and their deliveries, written
 * in the caller's transaction), event patterns, and signatures.
 */
#include "webhook/webhook_internal.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

/* ---- small helpers ---- */




int64_t kura_webhook_int(const kura_db_result *res, size_t row, size_t col)
{
    int64_t v = 0;
    if (kura_db_result_int(&v, res, row, col) != KURA_DB_OK)
        return 0;
    return v;
}

const char *kura_webhook_text(const kura_db_result *res, size_t row, size_t col)
{
    const char *s = kura_db_result_text(res, row, col);
    return s ? s : "";
}

static int name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.';
}

int kura_webhook_type_valid(const char *s)
{
    size_t n = 0;
    if (!s)
        return 0;
    for (; s[n]; n++) {
        if (!name_char(s[n]) || n >= 64)
            return 0;
    }
    return n > 0;
}

/* ---- patterns ---- */

#define PATTERNS_MAX 16
#define PATTERNS_LEN_MAX 512

/* Calls fn on each space-separated pattern; stops at a non-zero answer. */
static int each_pattern(const char *patterns, int (*fn)(const char *p, size_t n, void *ctx),
                        void *ctx)
{
    const char *s = patterns;
    while (*s) {
        size_t n;
        int rc;
        if (*s == ' ') {
            s++;
            continue;
        }
        n = strcspn(s, " ");
        rc = fn(s, n, ctx);
        if (rc)
            return rc;
        s += n;
    }
    return 0;
}

static int pattern_bad(const char *p, size_t n, void *ctx)
{
    size_t *count = ctx;
    size_t body = n;
    if (++*count > PATTERNS_MAX)
        return 1;
    if (n == 1 && p[0] == '*')
        return 0;
    if (n >= 2 && p[n - 1] == '*' && p[n - 2] == '.')
        body = n - 2;
    if (body == 0 || body > 64)
        return 1;
    for (size_t i = 0; i < body; i++) {
        if (!name_char(p[i]))
            return 1;
    }
    return 0;
}

int kura_webhook_patterns_valid(const char *patterns)
{
    size_t count = 0;
    if (!patterns || strlen(patterns) > PATTERNS_LEN_MAX)
        return 0;
    if (each_pattern(patterns, pattern_bad, &count))
        return 0;
    return count > 0;
}

static int pattern_matches(const char *p, size_t n, void *ctx)
{
    const char *type = ctx;
    size_t tn = strlen(type);
    if (n == 1 && p[0] == '*')
        return 1;
    if (n >= 2 && p[n - 1] == '*' && p[n - 2] == '.') /* "transfer.*": the prefix with its dot */
        return tn > n - 1 && memcmp(type, p, n - 1) == 0;
    return tn == n && memcmp(type, p, n) == 0;
}

int kura_webhook_patterns_match(const char *patterns, const char *type)
{
    if (!patterns || !type)
        return 0;
    return each_pattern(patterns, pattern_matches, (void *)(uintptr_t)type) ? 1 : 0;
}

/* ---- the outbox ---- */

int kura_webhook_emit_ex(kura_db *db, const char *type, const char *object_id, json_t *data,
                         int64_t audit_seq, const char *audit_head, int64_t now,
                         char event_id_out[KURA_DB_ID_SIZE], size_t *deliveries,
                         kura_db_error *err)
{
    char id[KURA_DB_ID_SIZE];
    kura_db_result *res = NULL;
    json_t *payload;
    char *body;
    size_t queued = 0;
    int rc;

    if (event_id_out)
        event_id_out[0] = '\0';
    if (deliveries)
        *deliveries = 0;
    if (!db || !object_id || !audit_head)
        return kura_db_fail(err, KURA_DB_EINVAL, "webhook: missing argument");
    if (!kura_webhook_type_valid(type))
        return kura_db_fail(err, KURA_DB_EINVAL, "webhook: bad event type");
    if (!json_is_object(data))
        return kura_db_fail(err, KURA_DB_EINVAL, "webhook: %s: data must be an object", type);

    kura_db_new_id(id, "ev");
    /* The body is fixed now, so every attempt sends the same bytes under the
     * same id: a receiver deduplicates on Kura-Event-Id. */
    payload = json_pack("{ss ss sI sO s{sI ss}}", "id", id, "type", type, "created_at",
                        (json_int_t)now, "data", data, "audit", "seq", (json_int_t)audit_seq,
                        "head", audit_head);
    body = payload ? json_dumps(payload, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
    json_decref(payload);
    if (!body)
        return kura_db_fail(err, KURA_DB_ENOMEM, "webhook: out of memory");
    rc = kura_db_exec(db, NULL,
                      "INSERT INTO webhook_events (id, type, object_id, payload, audit_seq, "
                      "created_at) VALUES ($1, $2, $3, $4, $5, $6)",
                      (kura_db_param[]){KURA_DB_TEXT(id), KURA_DB_TEXT(type),
                                        KURA_DB_TEXT(object_id), KURA_DB_TEXT(body),
                                        KURA_DB_INT(audit_seq), KURA_DB_INT(now)},
                      6, err);
    free(body);
    if (rc != KURA_DB_OK)
        return rc;
    rc = kura_db_exec(db, &res, "SELECT id, events FROM webhook_endpoints WHERE enabled = 1",
                      NULL, 0, err);
    if (rc != KURA_DB_OK)
        return rc;
    for (size_t i = 0; i < kura_db_result_rows(res) && rc == KURA_DB_OK; i++) {
        if (!kura_webhook_patterns_match(kura_webhook_text(res, i, 1), type))
            continue;
        rc = kura_db_exec(db, NULL,
                          "INSERT INTO webhook_deliveries (endpoint_id, event_id, state, attempts, "
                          "next_attempt_at, next_attempt_ms, event_seq) "
                          "VALUES ($1, $2, 'pending', 0, $3, $4, $5)",
                          (kura_db_param[]){KURA_DB_TEXT(kura_webhook_text(res, i, 0)),
                                            KURA_DB_TEXT(id), KURA_DB_INT(now),
                                            KURA_DB_INT(now * 1000), KURA_DB_INT(audit_seq)},
                          5, err);
        if (rc == KURA_DB_OK)
            queued++;
    }
    kura_db_result_free(res);
    if (rc != KURA_DB_OK)
        return rc;
    if (event_id_out)
        memcpy(event_id_out, id, KURA_DB_ID_SIZE);
    if (deliveries)
        *deliveries = queued;
    return KURA_DB_OK;
}

int kura_webhook_emit(kura_db *db, const char *type, const char *object_id, json_t *data,
                      int64_t audit_seq, const char *audit_head, int64_t now, kura_db_error *err)
{
    return kura_webhook_emit_ex(db, type, object_id, data, audit_seq, audit_head, now, NULL, NULL,
                                err);
}

/* ---- signatures ---- */

/* HMAC-SHA256 with the secret's characters as the key (any length), over
 * "<t>." followed by the body, as lower-case hex. */
static void signature_hex(char out[65], const char *secret, int64_t t, const char *body,
                          size_t len)
{
    crypto_auth_hmacsha256_state st;
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    char prefix[32];
    int n = snprintf(prefix, sizeof prefix, "%" PRId64 ".", t);
    crypto_auth_hmacsha256_init(&st, (const unsigned char *)secret, strlen(secret));
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)prefix, (unsigned long long)n);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)body, (unsigned long long)len);
    crypto_auth_hmacsha256_final(&st, mac);
    sodium_bin2hex(out, 65, mac, sizeof mac);
    sodium_memzero(&st, sizeof st);
}

int kura_webhook_sign(char out[KURA_WEBHOOK_SIGNATURE_MAX], const char *secret, int64_t t,
                      const char *body, size_t len)
{
    char hex[65];
    if (!out)
        return -1;
    out[0] = '\0';
    if (!secret || (!body && len > 0))
        return -1;
    signature_hex(hex, secret, t, body ? body : "", len);
    snprintf(out, KURA_WEBHOOK_SIGNATURE_MAX, "t=%" PRId64 ",v1=%s", t, hex);
    return 0;
}

int kura_webhook_verify_signature(const char *secret, const char *header, const char *body,
                                  size_t len, int64_t now, int64_t tolerance)
{
    const char *s = header;
    int64_t t = -1;
    char want[65];
    int matched = 0, have_v1 = 0;

    if (!secret || !header || (!body && len > 0) || tolerance < 0)
        return KURA_WEBHOOK_SIG_MALFORMED;
    /* t=<digits> first, then scheme=value pairs; unknown schemes ignored, so
     * a later scheme can be added beside v1. */
    if (strncmp(s, "t=", 2) != 0)
        return KURA_WEBHOOK_SIG_MALFORMED;
    s += 2;
    if (*s < '0' || *s > '9')
        return KURA_WEBHOOK_SIG_MALFORMED;
    t = 0;
    for (size_t digits = 0; *s >= '0' && *s <= '9'; s++, digits++) {
        if (digits >= 15)
            return KURA_WEBHOOK_SIG_MALFORMED;
        t = t * 10 + (*s - '0');
    }
    signature_hex(want, secret, t, body ? body : "", len);
    while (*s) {
        const char *v;
        size_t n;
        if (*s != ',')
            return KURA_WEBHOOK_SIG_MALFORMED;
        s++;
        v = strchr(s, '=');
        n = strcspn(s, ",");
        if (!v || (size_t)(v - s) >= n || v == s)
            return KURA_WEBHOOK_SIG_MALFORMED;
        if (v - s == 2 && strncmp(s, "v1", 2) == 0) {
            size_t vn = n - 3;
            have_v1 = 1;
            /* constant time over the 64 characters */
            if (vn == 64 && sodium_memcmp(v + 1, want, 64) == 0)
                matched = 1;
        }
        s += n;
    }
    if (!have_v1)
        return KURA_WEBHOOK_SIG_MALFORMED;
    if (t > now + tolerance || t < now - tolerance)
        return KURA_WEBHOOK_SIG_STALE;
    return matched ? 0 : KURA_WEBHOOK_SIG_MISMATCH;
}
