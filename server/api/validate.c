/*
 * server/api/validate.c — request bodies: declared rules, checked before any
 * handler runs (validate.h).
 */
#include "api/validate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SATS INT64_C(2100000000000000) /* 21e6 BTC: no amount or fee may exceed it */

static const char *const role_values[] = {"viewer", "initiator", "approver", "administrator",
                                          "auditor", NULL};

/* Characters a person may not see but that change how text reads: C1 controls
 * and the bidirectional overrides (U+200E-200F, U+202A-202E, U+2066-2069), the
 * "Trojan Source" trick. Labels and reasons end up in intents people approve. */
static int invisible_at(const unsigned char *s, size_t n, size_t i)
{
    if (s[i] == 0xC2 && i + 1 < n && s[i + 1] >= 0x80 && s[i + 1] <= 0x9F)
        return 1;
    if (s[i] == 0xE2 && i + 2 < n) {
        if (s[i + 1] == 0x80 && (s[i + 2] == 0x8E || s[i + 2] == 0x8F ||
                                 (s[i + 2] >= 0xAA && s[i + 2] <= 0xAE)))
            return 1;
        if (s[i + 1] == 0x81 && s[i + 2] >= 0xA6 && s[i + 2] <= 0xA9)
            return 1;
    }
    return 0;
}

static int charset_ok(const char *str, size_t n, kura_charset cs)
{
    const unsigned char *s = (const unsigned char *)str;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = s[i];
        switch (cs) {
        case KURA_CHARSET_LINE:
            if (c < 0x20 || c == 0x7F || invisible_at(s, n, i))
                return 0;
            break;
        case KURA_CHARSET_TEXT:
            if ((c < 0x20 && c != '\n' && c != '\r' && c != '\t') || c == 0x7F ||
                invisible_at(s, n, i))
                return 0;
            break;
        case KURA_CHARSET_NAME:
            if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
                  c == '-'))
                return 0;
            break;
        case KURA_CHARSET_ID:
            if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '-'))
                return 0;
            break;
        case KURA_CHARSET_DIGITS:
            if (c < '0' || c > '9')
                return 0;
            break;
        case KURA_CHARSET_ASCII:
            if (c <= 0x20 || c >= 0x7F)
                return 0;
            break;
        case KURA_CHARSET_PRINTABLE:
            if (c < 0x20 || c >= 0x7F)
                return 0;
            break;
        }
    }
    return 1;
}

static const char *charset_words(kura_charset cs)
{
    switch (cs) {
    case KURA_CHARSET_LINE: return "one line of text without control characters";
    case KURA_CHARSET_TEXT: return "text without control characters";
    case KURA_CHARSET_NAME: return "only a-z 0-9 . _ -";
    case KURA_CHARSET_ID: return "only A-Z a-z 0-9 _ -";
    case KURA_CHARSET_DIGITS: return "only digits";
    case KURA_CHARSET_ASCII: return "printable ASCII without spaces";
    case KURA_CHARSET_PRINTABLE: return "printable ASCII";
    }
    return "valid characters";
}

static int check_string(const json_t *v, const kura_field_rule *r, size_t min_len, size_t max_len,
                        const char *path, const char *name, kura_problem *p)
{
    if (!json_is_string(v))
        return kura_problem_set(p, KURA_PROBLEM_INVALID_FIELD, "%s%s: must be a string", path, name);
    size_t n = json_string_length(v);
    const char *s = json_string_value(v);
    if (n < min_len || n > max_len)
        return kura_problem_set(p, KURA_PROBLEM_INVALID_FIELD, "%s%s: length must be %zu to %zu",
                                path, name, min_len, max_len);
    if (!charset_ok(s, n, r->charset))
        return kura_problem_set(p, KURA_PROBLEM_INVALID_FIELD, "%s%s: %s", path, name,
                                charset_words(r->charset));
    if (r->values) {
        for (const char *const *e = r->values; *e; e++)
            if (strcmp(*e, s) == 0)
                return 0;
        return kura_problem_set(p, KURA_PROBLEM_INVALID_FIELD, "%s%s: not one of the allowed values",
                                path, name);
    }
    return 0;
}

static int check_field(const json_t *v, const kura_field_rule *r, const char *path,
                       kura_problem *p)
{
    switch (r->type) {
    case KURA_FIELD_STRING:
        return check_string(v, r, r->min_len, r->max_len, path, r->name, p);
    case KURA_FIELD_INT: {
        if (!json_is_integer(v))
            return kura_problem_set(p, KURA_PROBLEM_INVALID_FIELD, "%s%s: must be an integer",
                                    path, r->name);
        json_int_t x = json_integer_value(v);
        if (x < r->min || x > r->max)
            return kura_problem_set(p, KURA_PROBLEM_INVALID_FIELD,
                                    "%s%s: must be %lld to %lld", path, r->name,
                                    (long long)r->min, (long long)r->max);
        return 0;
    }
    case KURA_FIELD_BOOL:
        if (!json_is_boolean(v))
            return kura_problem_set(p, KURA_PROBLEM_INVALID_FIELD, "%s%s: must be true or false",
                                    path, r->name);
        return 0;
    case KURA_FIELD_STRINGS:
    case KURA_FIELD_OBJECTS: {
        if (!json_is_array(v))
            return kura_problem_set(p, KURA_PROBLEM_INVALID_FIELD, "%s%s: must be an array", path,
                                    r->name);
        size_t n = json_array_size(v);
        if (n < r->min_len || n > r->max_len)
            return kura_problem_set(p, KURA_PROBLEM_INVALID_FIELD,
                                    "%s%s: must have %zu to %zu items", path, r->name, r->min_len,
                                    r->max_len);
        for (size_t i = 0; i < n; i++) {
            const json_t *item = json_array_get(v, i);
            char sub[96];
            int rc;
            snprintf(sub, sizeof sub, "%s%s[%zu]", path, r->name, i);
            if (r->type == KURA_FIELD_STRINGS) {
                rc = check_string(item, r, r->item_min_len, r->item_max_len, "", sub, p);
            } else {
                size_t sl = strlen(sub);
                if (sl + 1 < sizeof sub) {
                    sub[sl] = '.';
                    sub[sl + 1] = '\0';
                }
                rc = kura_api_validate(item, r->items, sub, p);
            }
            if (rc)
                return rc;
        }
        return 0;
    }
    }
    return kura_problem_set(p, KURA_PROBLEM_INTERNAL, "%s%s: bad rule", path, r->name);
}

int kura_api_validate(const json_t *obj, const kura_field_rule *rules, const char *path,
                      kura_problem *p)
{
    const char *key;
    const json_t *v;
    if (!path)
        path = "";
    if (!json_is_object(obj))
        return kura_problem_set(p, *path ? KURA_PROBLEM_INVALID_FIELD : KURA_PROBLEM_BAD_JSON,
                                "%s: must be a JSON object", *path ? path : "the body");
    /* Every field present must be declared: an unknown field is refused, not
     * ignored, so a typo ("max_fees") never silently means the default. */
    json_object_foreach((json_t *)obj, key, v) {
        const kura_field_rule *r = rules;
        while (r->name && strcmp(r->name, key) != 0)
            r++;
        if (!r->name) {
            char shown[65];
            size_t i, n = strlen(key);
            /* The name goes into a message: keep it short and printable. */
            for (i = 0; i < n && i + 1 < sizeof shown; i++)
                shown[i] = (key[i] >= 0x20 && key[i] < 0x7F) ? key[i] : '?';
            shown[i] = '\0';
            return kura_problem_set(p, KURA_PROBLEM_UNKNOWN_FIELD, "%s%s: unknown field", path,
                                    shown);
        }
        int rc = check_field(v, r, path, p);
        if (rc)
            return rc;
    }
    for (const kura_field_rule *r = rules; r->name; r++)
        if (r->required && !json_object_get(obj, r->name))
            return kura_problem_set(p, KURA_PROBLEM_MISSING_FIELD, "%s%s: required", path,
                                    r->name);
    return 0;
}

int kura_api_body_load(const kura_body_spec *spec, const char *data, size_t len, json_t **out,
                       kura_problem *p)
{
    json_error_t je;
    json_t *j;
    *out = NULL;
    if (len == 0) {
        j = json_object();
        if (!j)
            return kura_problem_set(p, KURA_PROBLEM_INTERNAL, "out of memory");
    } else {
        j = json_loadb(data, len, JSON_REJECT_DUPLICATES, &je);
        if (!j)
            return kura_problem_set(p, KURA_PROBLEM_BAD_JSON, "line %d column %d: %s", je.line,
                                    je.column, je.text);
    }
    int rc = kura_api_validate(j, spec->rules, "", p);
    if (rc) {
        json_decref(j);
        return rc;
    }
    *out = j;
    return 0;
}

const char *kura_api_str(const json_t *obj, const char *name, const char *dflt)
{
    const json_t *v = json_object_get(obj, name);
    return json_is_string(v) ? json_string_value(v) : dflt;
}

int64_t kura_api_int(const json_t *obj, const char *name, int64_t dflt)
{
    const json_t *v = json_object_get(obj, name);
    return json_is_integer(v) ? (int64_t)json_integer_value(v) : dflt;
}

int kura_api_id_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    return n >= 1 && n <= 64 && charset_ok(s, n, KURA_CHARSET_ID);
}

int kura_api_fill_transfer(const json_t *body, kura_transfer_body *out, kura_problem *p)
{
    memset(out, 0, sizeof *out);
    const json_t *outs = json_object_get(body, "outputs");
    size_t n = json_array_size(outs);
    out->wallet_id = kura_api_str(body, "wallet_id", "");
    out->external_id = kura_api_str(body, "external_id", NULL);
    out->max_fee = (uint64_t)kura_api_int(body, "max_fee", 0);
    out->expires_in = kura_api_int(body, "expires_in", 0);
    if (n) {
        out->outputs = calloc(n, sizeof *out->outputs);
        if (!out->outputs) {
            memset(out, 0, sizeof *out);
            return kura_problem_set(p, KURA_PROBLEM_INTERNAL, "out of memory");
        }
    }
    for (size_t i = 0; i < n; i++) {
        const json_t *o = json_array_get(outs, i);
        out->outputs[i].address = kura_api_str(o, "address", "");
        out->outputs[i].amount = (uint64_t)kura_api_int(o, "amount", 0);
        out->outputs[i].label = kura_api_str(o, "label", "");
    }
    out->output_count = n;
    return 0;
}

void kura_transfer_body_free(kura_transfer_body *b)
{
    if (b) {
        free(b->outputs);
        memset(b, 0, sizeof *b);
    }
}

int kura_api_fill_strings(const json_t *arr, const char ***out, size_t *n, kura_problem *p)
{
    size_t k = json_array_size(arr);
    *out = calloc(k + 1, sizeof **out);
    *n = 0;
    if (!*out)
        return kura_problem_set(p, KURA_PROBLEM_INTERNAL, "out of memory");
    for (size_t i = 0; i < k; i++)
        (*out)[i] = json_string_value(json_array_get(arr, i));
    *n = k;
    return 0;
}

/* ---- the specs ---- */

#define END {NULL, 0, 0, 0, 0, 0, 0, 0, NULL, 0, 0, NULL}
#define STR(nm, req, lo, hi, cs) {nm, KURA_FIELD_STRING, req, lo, hi, 0, 0, cs, NULL, 0, 0, NULL}
#define ENUM(nm, req, vals) {nm, KURA_FIELD_STRING, req, 1, 64, 0, 0, KURA_CHARSET_NAME, vals, 0, 0, NULL}
#define INT(nm, req, lo, hi) {nm, KURA_FIELD_INT, req, 0, 0, lo, hi, 0, NULL, 0, 0, NULL}
#define BOOL(nm, req) {nm, KURA_FIELD_BOOL, req, 0, 0, 0, 0, 0, NULL, 0, 0, NULL}
#define STRS(nm, req, lo, hi, ilo, ihi, cs) {nm, KURA_FIELD_STRINGS, req, lo, hi, 0, 0, cs, NULL, ilo, ihi, NULL}
#define OBJS(nm, req, lo, hi, it) {nm, KURA_FIELD_OBJECTS, req, lo, hi, 0, 0, 0, NULL, 0, 0, it}

static const kura_field_rule session_create_rules[] = {
    STR("username", 1, 1, 64, KURA_CHARSET_NAME),
    STR("password", 1, 1, 1024, KURA_CHARSET_LINE),
    STR("totp", 0, 6, 8, KURA_CHARSET_DIGITS),
    END};
const kura_body_spec kura_body_session_create = {"session_create", session_create_rules};

static const kura_field_rule wallet_create_rules[] = {
    STR("name", 0, 1, 64, KURA_CHARSET_NAME),
    STR("descriptor", 0, 1, 16384, KURA_CHARSET_TEXT),
    STR("policy", 1, 1, 262144, KURA_CHARSET_TEXT),
    STRS("policy_signatures", 1, 0, 64, 1, 16384, KURA_CHARSET_TEXT),
    INT("birth_height", 0, 0, 100000000),
    INT("min_confirmations", 0, 0, 1000),
    /* Instead of descriptor: a BIP129 setup (docs/bsms.md). */
    STR("bsms_descriptor_record", 0, 1, 65536, KURA_CHARSET_TEXT),
    STRS("bsms_key_records", 0, 1, 20, 1, 4096, KURA_CHARSET_TEXT),
    END};
const kura_body_spec kura_body_wallet_create = {"wallet_create", wallet_create_rules};

static const kura_field_rule wallet_policy_rules[] = {
    STR("policy", 1, 1, 262144, KURA_CHARSET_TEXT),
    STRS("policy_signatures", 1, 0, 64, 1, 16384, KURA_CHARSET_TEXT),
    END};
const kura_body_spec kura_body_wallet_policy = {"wallet_policy", wallet_policy_rules};

static const kura_field_rule address_create_rules[] = {
    STR("account", 0, 0, 128, KURA_CHARSET_LINE),
    STR("label", 0, 0, 256, KURA_CHARSET_LINE),
    END};
const kura_body_spec kura_body_address_create = {"address_create", address_create_rules};

static const kura_field_rule wallet_rescan_rules[] = {
    INT("from_height", 1, 0, 100000000),
    INT("gap_limit", 0, 20, 1000), /* KURA_RESCAN_GAP_MIN..MAX (chain/rescan.h) */
    END};
const kura_body_spec kura_body_wallet_rescan = {"wallet_rescan", wallet_rescan_rules};

static const kura_field_rule transfer_output_rules[] = {
    STR("address", 1, 1, 128, KURA_CHARSET_ASCII),
    INT("amount", 1, 1, MAX_SATS),
    STR("label", 0, 0, 256, KURA_CHARSET_LINE),
    END};
static const kura_field_rule transfer_create_rules[] = {
    STR("wallet_id", 1, 1, 64, KURA_CHARSET_ID),
    STR("external_id", 0, 1, 128, KURA_CHARSET_LINE),
    OBJS("outputs", 1, 1, 1000, transfer_output_rules),
    INT("max_fee", 1, 0, MAX_SATS),
    INT("expires_in", 0, 0, 366 * 86400),
    END};
const kura_body_spec kura_body_transfer_create = {"transfer_create", transfer_create_rules};

static const kura_field_rule withdrawal_create_rules[] = {
    STR("address", 1, 1, 128, KURA_CHARSET_ASCII),
    INT("amount", 1, 1, MAX_SATS),
    STR("label", 0, 0, 256, KURA_CHARSET_LINE),
    STR("external_id", 1, 1, 128, KURA_CHARSET_LINE),
    END};
const kura_body_spec kura_body_withdrawal_create = {"withdrawal_create", withdrawal_create_rules};

static const kura_field_rule batch_create_rules[] = {
    INT("max_outputs", 0, 1, 1000),
    INT("max_fee", 0, 1, MAX_SATS),
    INT("expires_in", 0, 0, 366 * 86400),
    END};
const kura_body_spec kura_body_batch_create = {"batch_create", batch_create_rules};

static const kura_field_rule approval_rules[] = {
    STR("signature", 1, 1, 16384, KURA_CHARSET_TEXT),
    END};
const kura_body_spec kura_body_approval = {"approval", approval_rules};

static const kura_field_rule reason_required_rules[] = {
    STR("reason", 1, 1, 1024, KURA_CHARSET_LINE),
    END};
const kura_body_spec kura_body_reason_required = {"reason_required", reason_required_rules};

static const kura_field_rule reason_optional_rules[] = {
    STR("reason", 0, 0, 1024, KURA_CHARSET_LINE),
    END};
const kura_body_spec kura_body_reason_optional = {"reason_optional", reason_optional_rules};

static const kura_field_rule bump_rules[] = {
    INT("fee_rate_sat_vb", 0, 1, 100000),
    END};
const kura_body_spec kura_body_bump = {"bump", bump_rules};

static const kura_field_rule signatures_rules[] = {
    STR("psbt", 1, 1, 16u << 20, KURA_CHARSET_ASCII),
    END};
const kura_body_spec kura_body_signatures = {"signatures", signatures_rules};

static const kura_field_rule user_create_rules[] = {
    STR("username", 1, 1, 64, KURA_CHARSET_NAME),
    STR("password", 1, 12, 1024, KURA_CHARSET_LINE),
    ENUM("role", 1, role_values),
    STR("approver_name", 0, 1, 64, KURA_CHARSET_NAME),
    END};
const kura_body_spec kura_body_user_create = {"user_create", user_create_rules};

static const kura_field_rule user_update_rules[] = {
    ENUM("role", 0, role_values),
    BOOL("disabled", 0),
    STR("approver_name", 0, 0, 64, KURA_CHARSET_NAME),
    END};
const kura_body_spec kura_body_user_update = {"user_update", user_update_rules};

static const kura_field_rule totp_confirm_rules[] = {
    STR("code", 1, 6, 8, KURA_CHARSET_DIGITS),
    END};
const kura_body_spec kura_body_totp_confirm = {"totp_confirm", totp_confirm_rules};

static const kura_field_rule apikey_create_rules[] = {
    STR("name", 1, 1, 64, KURA_CHARSET_NAME),
    ENUM("role", 1, role_values),
    STRS("scopes", 1, 1, 32, 1, 64, KURA_CHARSET_ASCII),
    STRS("cidrs", 0, 0, 64, 1, 64, KURA_CHARSET_ASCII),
    INT("expires_at", 0, 0, INT64_C(253402300799)), /* 9999-12-31 */
    END};
const kura_body_spec kura_body_apikey_create = {"apikey_create", apikey_create_rules};

static const kura_field_rule webhook_create_rules[] = {
    STR("url", 1, 1, 2048, KURA_CHARSET_ASCII),
    STR("events", 1, 1, 512, KURA_CHARSET_PRINTABLE),
    END};
const kura_body_spec kura_body_webhook_create = {"webhook_create", webhook_create_rules};

static const kura_field_rule webhook_redeliver_rules[] = {
    STR("event_id", 1, 1, 64, KURA_CHARSET_ID),
    END};
const kura_body_spec kura_body_webhook_redeliver = {"webhook_redeliver", webhook_redeliver_rules};

static const kura_field_rule audit_verify_rules[] = {
    INT("held_seq", 0, 1, INT64_MAX),
    STR("held_hash", 0, 64, 64, KURA_CHARSET_ID),
    END};
const kura_body_spec kura_body_audit_verify = {"audit_verify", audit_verify_rules};

static const kura_field_rule empty_rules[] = {END};
const kura_body_spec kura_body_empty = {"empty", empty_rules};

const kura_body_spec *const kura_body_specs[] = {
    &kura_body_session_create, &kura_body_wallet_create, &kura_body_wallet_policy,
    &kura_body_address_create, &kura_body_wallet_rescan, &kura_body_transfer_create, &kura_body_approval,
    &kura_body_reason_required, &kura_body_reason_optional, &kura_body_signatures, &kura_body_bump,
    &kura_body_user_create, &kura_body_user_update, &kura_body_totp_confirm,
    &kura_body_apikey_create, &kura_body_webhook_create, &kura_body_webhook_redeliver, &kura_body_audit_verify, &kura_body_empty,
    &kura_body_withdrawal_create, &kura_body_batch_create, NULL};
