/*
 * server/api/validate.h — request bodies checked at the door by declared
 * rules, before any handler runs (as Kore's validators do), and the typed
 * structs the handlers read afterwards.
 *
 * A route names a body spec (kura_body_spec): the rules of its JSON object's
 * fields. kura_api_body_load parses the bytes with jansson and applies the
 * rules: the top level is an object; every field it has is declared (else
 * UNKNOWN_FIELD); every required field is present (MISSING_FIELD); every
 * value has its declared type, length, range, character set and (for enums)
 * one of its listed values (INVALID_FIELD). Nothing here touches the store or
 * HTTP: the fuzz targets (tests/fuzz/fuzz_server_api_*.c) call exactly this.
 */
#ifndef KURA_SERVER_API_VALIDATE_H
#define KURA_SERVER_API_VALIDATE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "problem/problem.h"

typedef enum kura_field_type {
    KURA_FIELD_STRING = 1,
    KURA_FIELD_INT,          /* a JSON integer (never a real, never a string) */
    KURA_FIELD_BOOL,
    KURA_FIELD_STRINGS,      /* an array of strings, each by the string rules */
    KURA_FIELD_OBJECTS       /* an array of objects, each by `items` */
} kura_field_type;

/* Which characters a string may hold (after jansson has checked UTF-8 and
 * refused NUL). */
typedef enum kura_charset {
    KURA_CHARSET_LINE = 0,   /* one line of text: no control characters at all */
    KURA_CHARSET_TEXT,       /* multi-line text: no control characters but \n, \r, \t */
    KURA_CHARSET_NAME,       /* [a-z0-9._-]: user, key, approver names */
    KURA_CHARSET_ID,         /* [A-Za-z0-9_-]: object ids */
    KURA_CHARSET_DIGITS,     /* [0-9]: one-time codes */
    KURA_CHARSET_ASCII,      /* printable ASCII without space: URLs, addresses, base64 */
    KURA_CHARSET_PRINTABLE   /* printable ASCII with space: CIDR lists, patterns */
} kura_charset;

typedef struct kura_field_rule {
    const char *name;
    kura_field_type type;
    int required;                        /* 1: MISSING_FIELD when absent */
    size_t min_len, max_len;             /* strings: bytes; arrays: items */
    int64_t min, max;                    /* integers, inclusive */
    kura_charset charset;                /* strings and string arrays */
    const char *const *values;           /* strings: the allowed values, NULL-terminated; NULL any */
    size_t item_min_len, item_max_len;   /* KURA_FIELD_STRINGS: each string's length */
    const struct kura_field_rule *items; /* KURA_FIELD_OBJECTS: rules of each item (NULL-name ended) */
} kura_field_rule;

typedef struct kura_body_spec {
    const char *name;              /* "transfer_create": names the fuzz target and the schema */
    const kura_field_rule *rules;  /* ended by a rule with name NULL */
} kura_body_spec;

/* Checks obj against rules (ended by a rule with name NULL). `path` prefixes
 * field names in messages ("outputs[3].amount"); may be "". Returns 0, or a
 * positive problem code with p filled (UNKNOWN_FIELD, MISSING_FIELD,
 * INVALID_FIELD, BAD_JSON when obj is not an object). */
int kura_api_validate(const json_t *obj, const kura_field_rule *rules, const char *path,
                      kura_problem *p);

/* Parses data[0..len) as one JSON object (duplicate keys refused, nothing
 * after it) and validates it against spec. An empty body (len 0) is read as
 * {} so routes whose fields are all optional take no body at all.
 * Returns 0 and *out (owned by the caller: json_decref), or BAD_JSON /
 * the validation's code with p filled and *out NULL. */
int kura_api_body_load(const kura_body_spec *spec, const char *data, size_t len, json_t **out,
                       kura_problem *p);

/* The body specs, one per route that takes a JSON body. */
extern const kura_body_spec kura_body_session_create;
extern const kura_body_spec kura_body_wallet_create;
extern const kura_body_spec kura_body_wallet_policy;
extern const kura_body_spec kura_body_address_create;
extern const kura_body_spec kura_body_wallet_rescan;
extern const kura_body_spec kura_body_transfer_create;
extern const kura_body_spec kura_body_approval;
extern const kura_body_spec kura_body_reason_required;
extern const kura_body_spec kura_body_reason_optional;
extern const kura_body_spec kura_body_signatures;
extern const kura_body_spec kura_body_bump;
extern const kura_body_spec kura_body_user_create;
extern const kura_body_spec kura_body_user_update;
extern const kura_body_spec kura_body_totp_confirm;
extern const kura_body_spec kura_body_apikey_create;
extern const kura_body_spec kura_body_webhook_create;
extern const kura_body_spec kura_body_webhook_redeliver;
extern const kura_body_spec kura_body_audit_verify;
extern const kura_body_spec kura_body_empty;
extern const kura_body_spec kura_body_withdrawal_create;
extern const kura_body_spec kura_body_batch_create;

/* Every spec above, for the fuzz targets and the OpenAPI check; ended by NULL. */
extern const kura_body_spec *const kura_body_specs[];

/* ---- Typed bodies: filled from a body that passed its spec. Strings are
 * borrowed from the json_t, which must outlive the struct. ---- */

typedef struct kura_transfer_output_body {
    const char *address;
    uint64_t amount;
    const char *label;          /* "" when absent */
} kura_transfer_output_body;

typedef struct kura_transfer_body {
    const char *wallet_id;
    const char *external_id;    /* NULL when absent */
    kura_transfer_output_body *outputs; /* malloc'd; kura_transfer_body_free */
    size_t output_count;
    uint64_t max_fee;
    int64_t expires_in;         /* 0 when absent */
} kura_transfer_body;

/* Fills out from a body validated by kura_body_transfer_create.
 * Returns 0, or INTERNAL (out of memory) with p filled; out cleared on entry
 * and on failure. */
int kura_api_fill_transfer(const json_t *body, kura_transfer_body *out, kura_problem *p);
void kura_transfer_body_free(kura_transfer_body *b);

/* Strings of a validated string array as a NULL-terminated malloc'd array of
 * borrowed pointers (*n its count). Returns 0 or INTERNAL. */
int kura_api_fill_strings(const json_t *arr, const char ***out, size_t *n, kura_problem *p);

/* The optional string field `name` of obj, or dflt. */
const char *kura_api_str(const json_t *obj, const char *name, const char *dflt);
/* The optional integer field `name` of obj, or dflt. */
int64_t kura_api_int(const json_t *obj, const char *name, int64_t dflt);

/* Checks an {id} path segment or a cursor: 1..64 bytes of [A-Za-z0-9_-]. */
int kura_api_id_ok(const char *s);

#endif /* KURA_SERVER_API_VALIDATE_H */
