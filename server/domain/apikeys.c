/*
 * server/domain/apikeys.c — API keys: scopes, the CIDR allowlist, create /
 * authenticate / get / list / revoke.
 *
 * A key is "kura_<prefix>_<secret>": the prefix (8 random bytes, hex) is
 * public and finds the row; the secret is 32 random bytes (hex). The row
 * keeps the SHA-256 of the whole key, never the key. A plain SHA-256 is
 * enough here, unlike for passwords: the secret has 256 bits of entropy from
 * the OS random source, so there is no dictionary to try and a stolen hash
 * cannot be reversed by guessing; a slow hash (Argon2) would only slow every
 * API request. The hash is compared in constant time all the same.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "domain/people_internal.h"

/* How stale last_used_at may get before a request writes it again. */
#define APIKEY_TOUCH_INTERVAL 60
/* The longest allowlist, in bytes and in networks. */
#define CIDRS_MAX_LEN 4096
#define CIDRS_MAX_COUNT 64

/* ================================ scopes ================================ */

static const char *const scope_names[] = {
    "wallets:read",     "wallets:write",      "addresses:read",     "addresses:write",
    "transfers:read",   "transfers:create",   "transfers:approve",  "transfers:sign",
    "transfers:cancel", "deposits:read",      "audit:read",         "webhooks:read",
    "webhooks:write",   "users:read",         "users:write",        "keys:read",
    "keys:write",
};
#define SCOPE_COUNT (sizeof scope_names / sizeof scope_names[0])

int kura_scope_parse(const char *name, uint32_t *bit)
{
    if (bit)
        *bit = 0;
    if (!name || !bit)
        return -1;
    for (size_t i = 0; i < SCOPE_COUNT; i++)
        if (strcmp(name, scope_names[i]) == 0) {
            *bit = 1u << i;
            return 0;
        }
    return -1;
}

const char *kura_scope_name(uint32_t bit)
{
    for (size_t i = 0; i < SCOPE_COUNT; i++)
        if (bit == (1u << i))
            return scope_names[i];
    return NULL;
}

int kura_scopes_parse(const char *list, uint32_t *scopes)
{
    uint32_t all = 0;
    const char *s = list;
    if (scopes)
        *scopes = 0;
    if (!list || !scopes)
        return -1;
    while (*s) {
        char name[32];
        size_t n = 0;
        uint32_t bit;
        while (*s == ' ')
            s++;
        if (!*s)
            break;
        while (s[n] && s[n] != ' ')
            n++;
        if (n >= sizeof name)
            return -1;
        memcpy(name, s, n);
        name[n] = '\0';
        if (kura_scope_parse(name, &bit) != 0)
            return -1;
        all |= bit;
        s += n;
    }
    *scopes = all;
    return 0;
}

int kura_scopes_format(char *out, size_t size, uint32_t scopes)
{
    size_t used = 0;
    if (!out || size == 0)
        return -1;
    out[0] = '\0';
    for (size_t i = 0; i < SCOPE_COUNT; i++) {
        size_t n;
        if (!(scopes & (1u << i)))
            continue;
        n = strlen(scope_names[i]);
        if (used + (used ? 1 : 0) + n + 1 > size) {
            out[0] = '\0';
            return -1;
        }
        if (used)
            out[used++] = ' ';
        memcpy(out + used, scope_names[i], n + 1);
        used += n;
    }
    return 0;
}

static json_t *scopes_json(const char *list)
{
    uint32_t bits = 0;
    json_t *arr = json_array();
    if (!arr)
        return NULL;
    kura_scopes_parse(list, &bits);
    for (size_t i = 0; i < SCOPE_COUNT; i++)
        if (bits & (1u << i))
            json_array_append_new(arr, json_string(scope_names[i]));
    return arr;
}

/* ================================ CIDRs ================================ */

typedef struct net {
    int family;        /* AF_INET or AF_INET6 */
    uint8_t addr[16];  /* network byte order; 4 bytes used for IPv4 */
    unsigned bits;     /* prefix length */
} net;

/* Parses an address; an IPv4-mapped IPv6 address (::ffff:a.b.c.d) becomes IPv4. */
static int parse_addr(const char *text, int *family, uint8_t addr[16])
{
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    memset(addr, 0, 16);
    if (inet_pton(AF_INET, text, addr) == 1) {
        *family = AF_INET;
        return 0;
    }
    if (inet_pton(AF_INET6, text, addr) == 1) {
        *family = AF_INET6;
        if (memcmp(addr, mapped, sizeof mapped) == 0) {
            memmove(addr, addr + 12, 4);
            memset(addr + 4, 0, 12);
            *family = AF_INET;
        }
        return 0;
    }
    return -1;
}

/* One network: "ADDR" or "ADDR/LEN" (LEN decimal, at most 32 / 128). */
static int parse_net(const char *tok, size_t len, net *out)
{
    char buf[64];
    char *slash;
    unsigned max;
    if (len == 0 || len >= sizeof buf)
        return -1;
    memcpy(buf, tok, len);
    buf[len] = '\0';
    slash = strchr(buf, '/');
    if (slash)
        *slash = '\0';
    if (parse_addr(buf, &out->family, out->addr) != 0)
        return -1;
    max = out->family == AF_INET ? 32u : 128u;
    out->bits = max;
    if (slash) {
        const char *d = slash + 1;
        unsigned v = 0;
        if (!*d || strlen(d) > 3)
            return -1;
        for (; *d; d++) {
            if (*d < '0' || *d > '9')
                return -1;
            v = v * 10u + (unsigned)(*d - '0');
        }
        if (v > max || (slash[1] == '0' && slash[2]))
            return -1;
        out->bits = v;
    }
    return 0;
}

static int net_contains(const net *n, int family, const uint8_t addr[16])
{
    unsigned full, rest;
    if (n->family != family)
        return 0;
    full = n->bits / 8;
    rest = n->bits % 8;
    if (memcmp(n->addr, addr, full) != 0)
        return 0;
    if (rest) {
        uint8_t mask = (uint8_t)(0xff00u >> rest);
        if ((n->addr[full] & mask) != (addr[full] & mask))
            return 0;
    }
    return 1;
}

/* Walks the space-separated networks of cidrs; with addr, returns 1 on the
 * first that contains it. Returns -1 when one does not parse (or too many). */
static int cidrs_walk(const char *cidrs, int family, const uint8_t *addr)
{
    const char *s = cidrs;
    size_t count = 0;
    if (strlen(cidrs) > CIDRS_MAX_LEN)
        return -1;
    while (*s) {
        size_t n = 0;
        net nt;
        while (*s == ' ')
            s++;
        if (!*s)
            break;
        while (s[n] && s[n] != ' ')
            n++;
        if (++count > CIDRS_MAX_COUNT || parse_net(s, n, &nt) != 0)
            return -1;
        if (addr && net_contains(&nt, family, addr))
            return 1;
        s += n;
    }
    return 0;
}

int kura_cidrs_valid(const char *cidrs)
{
    return cidrs && cidrs_walk(cidrs, 0, NULL) == 0;
}

int kura_cidrs_match(const char *cidrs, const char *addr)
{
    uint8_t a[16];
    int family = 0;
    const char *s = cidrs;
    if (!cidrs)
        return 0;
    while (*s == ' ')
        s++;
    if (!*s)
        return 1; /* no allowlist: any address */
    if (!addr || strlen(addr) >= 64 || parse_addr(addr, &family, a) != 0)
        return 0;
    return cidrs_walk(cidrs, family, a) == 1;
}

static json_t *cidrs_json(const char *cidrs)
{
    json_t *arr = json_array();
    const char *s = cidrs ? cidrs : "";
    while (arr && *s) {
        size_t n = 0;
        while (*s == ' ')
            s++;
        if (!*s)
            break;
        while (s[n] && s[n] != ' ')
            n++;
        json_array_append_new(arr, json_stringn(s, n));
        s += n;
    }
    return arr;
}

/* ============================== JSON, snapshots ============================== */

static json_t *opt_int(int64_t v)
{
    return v ? json_integer((json_int_t)v) : json_null();
}

static json_t *apikey_json_base(const kura_apikey_row *r)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:o, s:o, s:o, s:s, s:I, s:o}", "id", r->id, "name",
                     r->name, "prefix", r->prefix, "role", r->role, "scopes", scopes_json(r->scopes),
                     "cidrs", cidrs_json(r->cidrs), "expires_at", opt_int(r->expires_at),
                     "created_by", r->created_by, "created_at", (json_int_t)r->created_at,
                     "revoked_at", opt_int(r->revoked_at));
}

json_t *kura_people_i_apikey_json(const kura_apikey_row *r)
{
    json_t *j = apikey_json_base(r);
    if (j && json_object_set_new(j, "last_used_at", opt_int(r->last_used_at)) != 0) {
        json_decref(j);
        return NULL;
    }
    return j;
}

json_t *kura_people_i_apikey_snapshot(const kura_apikey_row *r)
{
    json_t *j = apikey_json_base(r);
    char hex[65];
    if (!j)
        return NULL;
    kura_people_i_sha256_hex(hex, r->secret_hash, strlen(r->secret_hash));
    if (json_object_set_new(j, "secret_hash_sha256", json_string(hex)) != 0) {
        json_decref(j);
        return NULL;
    }
    return j;
}

int kura_people_i_apikey_snapshot_fn(kura_db *db, const char *object_id, json_t **out,
                                     kura_db_error *err)
{
    kura_apikey_row r;
    int rc = kura_store_apikey_by_id(db, object_id, &r, err);
    *out = NULL;
    if (rc != KURA_DB_OK)
        return rc;
    *out = kura_people_i_apikey_snapshot(&r);
    kura_apikey_row_clear(&r);
    return *out ? KURA_DB_OK : KURA_DB_ENOMEM;
}

/* ================================ create ================================ */

typedef struct create_arg {
    const kura_principal *who;
    kura_apikey_row row;
    const kura_idem *idem;
    int64_t now;
    json_t *out;
    kura_problem *p;
} create_arg;

static int create_fn(kura_db *db, void *varg, kura_db_error *err)
{
    create_arg *a = varg;
    json_t *snap;
    char *body;
    int rc;
    json_decref(a->out);
    a->out = NULL;
    kura_db_new_id(a->row.id, "key");
    rc = kura_store_apikey_insert(db, &a->row, err);
    if (rc != KURA_DB_OK)
        return rc;
    a->out = kura_people_i_apikey_json(&a->row);
    snap = kura_people_i_apikey_snapshot(&a->row);
    if (!a->out || !snap) {
        json_decref(snap);
        return KURA_DB_ENOMEM;
    }
    rc = kura_people_i_audit(db, kura_people_i_actor(a->who), "apikey.created", "api_key",
                             a->row.id, snap, NULL, a->now, err);
    json_decref(snap);
    /* The response kept for Idempotency-Key replays lacks "key": the key is
     * never stored. A replay shows the key's JSON without it. */
    if (rc == KURA_DB_OK && a->idem) {
        body = json_dumps(a->out, JSON_COMPACT);
        rc = body ? kura_idempotency_complete(db, a->idem, 201, body, err) : KURA_DB_ENOMEM;
        free(body);
    }
    return rc;
}

int kura_apikey_create(kura_store *st, const kura_principal *who, const char *name, kura_role role,
                       uint32_t scopes, const char *cidrs, int64_t expires_at,
                       const kura_idem *idem, int64_t now, json_t **out, kura_problem *p)
{
    create_arg a;
    kura_db_error err = {0};
    uint8_t prefix[8], secret[32];
    char prefix_hex[17], secret_hex[65], key[KURA_APIKEY_LEN + 1];
    int rc;
    if (out)
        *out = NULL;
    if (!st || !out)
        return kura_problem_set(p, KURA_PROBLEM_INTERNAL, "kura_apikey_create: bad arguments");
    if (!kura_people_name_valid(name))
        return kura_problem_set(p, KURA_PROBLEM_INVALID_FIELD,
                                "name must be 1 to 64 of a-z 0-9 . _ -");
    if (role == KURA_ROLE_NONE || (unsigned)role > KURA_ROLE_AUDITOR)
        return kura_problem_set(p, KURA_PROBLEM_INVALID_FIELD, "role is not one of the five roles");
    if (scopes == 0 || (scopes & ~KURA_SCOPE_ALL) != 0)
        return kura_problem_set(p, KURA_PROBLEM_INVALID_FIELD, "scopes must name known scopes");
    if (!cidrs)
        cidrs = "";
    if (!kura_cidrs_valid(cidrs))
        return kura_problem_set(p, KURA_PROBLEM_INVALID_FIELD,
                                "cidrs must be IPv4 or IPv6 networks (ADDR or ADDR/LEN)");
    if (expires_at < 0 || (expires_at != 0 && expires_at <= now))
        return kura_problem_set(p, KURA_PROBLEM_INVALID_FIELD, "expires_at must be in the future");
    kura_people_init();

    memset(&a, 0, sizeof a);
    randombytes_buf(prefix, sizeof prefix);
    randombytes_buf(secret, sizeof secret);
    sodium_bin2hex(prefix_hex, sizeof prefix_hex, prefix, sizeof prefix);
    sodium_bin2hex(secret_hex, sizeof secret_hex, secret, sizeof secret);
    snprintf(key, sizeof key, "kura_%s_%s", prefix_hex, secret_hex);
    sodium_memzero(secret, sizeof secret);
    sodium_memzero(secret_hex, sizeof secret_hex);

    a.who = who;
    a.idem = idem;
    a.now = now;
    a.p = p;
    snprintf(a.row.name, sizeof a.row.name, "%s", name);
    memcpy(a.row.prefix, prefix_hex, sizeof a.row.prefix);
    kura_people_i_sha256_hex(a.row.secret_hash, key, strlen(key));
    snprintf(a.row.role, sizeof a.row.role, "%s", kura_role_name(role));
    kura_scopes_format(a.row.scopes, sizeof a.row.scopes, scopes);
    a.row.cidrs = (char *)cidrs;
    a.row.expires_at = expires_at;
    snprintf(a.row.created_by, sizeof a.row.created_by, "%s", kura_people_i_actor(who));
    a.row.created_at = now;
    rc = kura_store_write(st, create_fn, &a, &err);
    if (rc != KURA_DB_OK) {
        sodium_memzero(key, sizeof key);
        json_decref(a.out);
        return kura_problem_from_db(p, rc, &err, NULL);
    }
    rc = json_object_set_new(a.out, "key", json_string(key));
    sodium_memzero(key, sizeof key);
    if (rc != 0) {
        json_decref(a.out);
        return kura_problem_set(p, KURA_PROBLEM_INTERNAL, "out of memory");
    }
    *out = a.out;
    return 0;
}

/* ============================ authentication ============================ */

/* "kura_" 16 hex "_" 64 hex. */
static int key_shape_ok(const char *key)
{
    if (!key || strlen(key) != KURA_APIKEY_LEN || memcmp(key, "kura_", 5) != 0 || key[21] != '_')
        return 0;
    for (size_t i = 5; i < KURA_APIKEY_LEN; i++) {
        char c = key[i];
        if (i == 21)
            continue;
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return 0;
    }
    return 1;
}

typedef struct auth_arg {
    const char *prefix;
    const char *id;
    int64_t now;
    kura_apikey_row row;
} auth_arg;

static int auth_fn(kura_db *db, void *varg, kura_db_error *err)
{
    auth_arg *a = varg;
    kura_apikey_row_clear(&a->row);
    return kura_store_apikey_by_prefix(db, a->prefix, &a->row, err);
}

static int touch_fn(kura_db *db, void *varg, kura_db_error *err)
{
    auth_arg *a = varg;
    return kura_store_apikey_touch(db, a->id, a->now, APIKEY_TOUCH_INTERVAL, err);
}

int kura_apikey_authenticate(kura_store *st, const char *key, const char *client_addr, int64_t now,
                             kura_principal *out, kura_problem *p)
{
    auth_arg a;
    kura_db_error err = {0};
    char prefix[17], hash[65];
    kura_role role = KURA_ROLE_NONE;
    uint32_t scopes = 0;
    int rc;
    if (out)
        memset(out, 0, sizeof *out);
    if (!st || !out)
        return kura_problem_set(p, KURA_PROBLEM_INTERNAL, "kura_apikey_authenticate: bad arguments");
    if (!key_shape_ok(key))
        return kura_problem_set(p, KURA_PROBLEM_UNAUTHENTICATED, "not a valid API key");
    memcpy(prefix, key + 5, 16);
    prefix[16] = '\0';
    memset(&a, 0, sizeof a);
    a.prefix = prefix;
    a.now = now;
    rc = kura_store_read(st, auth_fn, &a, &err);
    if (rc == KURA_DB_ENOTFOUND)
        return kura_problem_set(p, KURA_PROBLEM_UNAUTHENTICATED, "not a valid API key");
    if (rc != KURA_DB_OK) {
        kura_apikey_row_clear(&a.row);
        return kura_problem_from_db(p, rc, &err, NULL);
    }
    kura_people_i_sha256_hex(hash, key, KURA_APIKEY_LEN);
    if (strlen(a.row.secret_hash) != 64 || sodium_memcmp(hash, a.row.secret_hash, 64) != 0) {
        rc = kura_problem_set(p, KURA_PROBLEM_UNAUTHENTICATED, "not a valid API key");
    } else if (a.row.revoked_at) {
        rc = kura_problem_set(p, KURA_PROBLEM_UNAUTHENTICATED, "the API key is revoked");
    } else if (a.row.expires_at && now >= a.row.expires_at) {
        rc = kura_problem_set(p, KURA_PROBLEM_UNAUTHENTICATED, "the API key has expired");
    } else if (!kura_cidrs_match(a.row.cidrs, client_addr)) {
        rc = kura_problem_set(p, KURA_PROBLEM_ADDRESS_NOT_ALLOWED,
                              "the API key may not be used from %s", client_addr ? client_addr : "?");
    } else if (kura_role_parse(a.row.role, &role) != 0 ||
               kura_scopes_parse(a.row.scopes, &scopes) != 0) {
        rc = kura_problem_set(p, KURA_PROBLEM_INTERNAL, "the API key's row is damaged");
    }
    if (rc != 0) {
        kura_apikey_row_clear(&a.row);
        return rc;
    }
    if (!a.row.last_used_at || now - a.row.last_used_at >= APIKEY_TOUCH_INTERVAL) {
        a.id = a.row.id;
        rc = kura_store_write(st, touch_fn, &a, &err);
        if (rc != KURA_DB_OK) {
            kura_apikey_row_clear(&a.row);
            return kura_problem_from_db(p, rc, &err, NULL);
        }
    }
    out->kind = KURA_PRINCIPAL_API_KEY;
    snprintf(out->id, sizeof out->id, "%s", a.row.id);
    snprintf(out->name, sizeof out->name, "%s", a.row.name);
    out->role = role;
    out->scopes = scopes;
    snprintf(out->client_addr, sizeof out->client_addr, "%s", client_addr ? client_addr : "");
    kura_apikey_row_clear(&a.row);
    return 0;
}

/* ============================ get, list, revoke ============================ */

typedef struct get_arg {
    const char *id;
    json_t *out;
    kura_problem *p;
} get_arg;

static int get_fn(kura_db *db, void *varg, kura_db_error *err)
{
    get_arg *a = varg;
    kura_apikey_row r;
    int rc = kura_store_apikey_by_id(db, a->id, &r, err);
    json_decref(a->out);
    a->out = NULL;
    if (rc == KURA_DB_ENOTFOUND)
        return kura_problem_set(a->p, KURA_PROBLEM_NOT_FOUND, "no such API key");
    if (rc != KURA_DB_OK)
        return rc;
    a->out = kura_people_i_apikey_json(&r);
    kura_apikey_row_clear(&r);
    return a->out ? KURA_DB_OK : KURA_DB_ENOMEM;
}

int kura_apikey_get(kura_store *st, const char *key_id, json_t **out, kura_problem *p)
{
    get_arg a = {key_id, NULL, p};
    kura_db_error err = {0};
    int rc;
    if (out)
        *out = NULL;
    if (!st || !out)
        return kura_problem_set(p, KURA_PROBLEM_INTERNAL, "kura_apikey_get: bad arguments");
    if (!key_id || !*key_id)
        return kura_problem_set(p, KURA_PROBLEM_NOT_FOUND, "no such API key");
    rc = kura_store_read(st, get_fn, &a, &err);
    if (rc != KURA_DB_OK) {
        json_decref(a.out);
        return kura_problem_from_db(p, rc, &err, NULL);
    }
    *out = a.out;
    return 0;
}

typedef struct list_arg {
    const char *cursor;
    size_t limit;
    json_t *out;
} list_arg;

static int list_fn(kura_db *db, void *varg, kura_db_error *err)
{
    list_arg *a = varg;
    kura_apikey_row *rows = NULL;
    size_t n = 0;
    json_t *items;
    int rc = kura_store_apikey_list(db, a->cursor, a->limit, &rows, &n, err);
    json_decref(a->out);
    a->out = NULL;
    if (rc != KURA_DB_OK)
        return rc;
    items = json_array();
    for (size_t i = 0; items && i < n; i++)
        if (json_array_append_new(items, kura_people_i_apikey_json(&rows[i])) != 0) {
            json_decref(items);
            items = NULL;
        }
    a->out = kura_people_i_page(items, n ? rows[n - 1].id : NULL, n, a->limit);
    kura_apikey_rows_free(rows, n);
    return a->out ? KURA_DB_OK : KURA_DB_ENOMEM;
}

int kura_apikey_list(kura_store *st, const char *cursor, size_t limit, json_t **page,
                     kura_problem *p)
{
    list_arg a = {cursor, limit, NULL};
    kura_db_error err = {0};
    int rc;
    if (page)
        *page = NULL;
    if (!st || !page)
        return kura_problem_set(p, KURA_PROBLEM_INTERNAL, "kura_apikey_list: bad arguments");
    if ((rc = kura_people_i_page_args(cursor, "key", &a.limit, p)) != 0)
        return rc;
    rc = kura_store_read(st, list_fn, &a, &err);
    if (rc != KURA_DB_OK) {
        json_decref(a.out);
        return kura_problem_from_db(p, rc, &err, NULL);
    }
    *page = a.out;
    return 0;
}

typedef struct revoke_arg {
    const kura_principal *who;
    const char *id;
    int64_t now;
    json_t *out;
    kura_problem *p;
} revoke_arg;

static int revoke_fn(kura_db *db, void *varg, kura_db_error *err)
{
    revoke_arg *a = varg;
    kura_apikey_row r;
    json_t *snap;
    int rc;
    json_decref(a->out);
    a->out = NULL;
    rc = kura_store_apikey_by_id(db, a->id, &r, err);
    if (rc == KURA_DB_ENOTFOUND)
        return kura_problem_set(a->p, KURA_PROBLEM_NOT_FOUND, "no such API key");
    if (rc != KURA_DB_OK)
        return rc;
    if (r.revoked_at) {
        kura_apikey_row_clear(&r);
        return kura_problem_set(a->p, KURA_PROBLEM_INVALID_STATE, "the API key is revoked already");
    }
    rc = kura_store_apikey_revoke(db, a->id, a->now, err);
    if (rc == KURA_DB_OK) {
        r.revoked_at = a->now;
        a->out = kura_people_i_apikey_json(&r);
        snap = kura_people_i_apikey_snapshot(&r);
        rc = (a->out && snap) ? kura_people_i_audit(db, kura_people_i_actor(a->who), "apikey.revoked",
                                                    "api_key", a->id, snap, NULL, a->now, err)
                              : KURA_DB_ENOMEM;
        json_decref(snap);
    }
    kura_apikey_row_clear(&r);
    return rc;
}

int kura_apikey_revoke(kura_store *st, const kura_principal *who, const char *key_id, int64_t now,
                       json_t **out, kura_problem *p)
{
    revoke_arg a = {who, key_id, now, NULL, p};
    kura_db_error err = {0};
    int rc;
    if (out)
        *out = NULL;
    if (!st)
        return kura_problem_set(p, KURA_PROBLEM_INTERNAL, "kura_apikey_revoke: bad arguments");
    if (!key_id || !*key_id)
        return kura_problem_set(p, KURA_PROBLEM_NOT_FOUND, "no such API key");
    rc = kura_store_write(st, revoke_fn, &a, &err);
    if (rc != KURA_DB_OK) {
        json_decref(a.out);
        return kura_problem_from_db(p, rc, &err, NULL);
    }
    if (out)
        *out = a.out;
    else
        json_decref(a.out);
    return 0;
}
