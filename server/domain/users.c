/*
 * server/domain/users.c — users (people.h): roles, names, Argon2id passwords,
 * create / get / list / update / set password, TOTP enrolment; and what the
 * people domain's files share (audit rows, problems, JSON, paging).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "audit/audit.h"
#include "domain/people_internal.h"

/* ===================== roles, names, shared helpers ===================== */

static const char *const role_names[] = {"none", "viewer", "initiator", "approver",
                                         "administrator", "auditor"};

int kura_role_parse(const char *name, kura_role *out)
{
    if (out)
        *out = KURA_ROLE_NONE;
    if (!name || !out)
        return -1;
    for (size_t i = 1; i < sizeof role_names / sizeof role_names[0]; i++)
        if (strcmp(name, role_names[i]) == 0) {
            *out = (kura_role)i;
            return 0;
        }
    return -1;
}

const char *kura_role_name(kura_role r)
{
    if ((unsigned)r >= sizeof role_names / sizeof role_names[0])
        return "none";
    return role_names[r];
}

int kura_people_name_valid(const char *name)
{
    size_t n = 0;
    if (!name)
        return 0;
    for (; name[n]; n++) {
        char c = name[n];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
            return 0;
        if (n >= 64)
            return 0;
    }
    return n >= 1;
}

const char *kura_people_i_actor(const kura_principal *who)
{
    if (!who || who->kind == KURA_PRINCIPAL_SYSTEM || !who->id[0])
        return "system";
    return who->id;
}

int kura_people_i_audit(kura_db *db, const char *actor, const char *action, const char *type,
                        const char *id, json_t *snapshot, json_t *extra, int64_t now,
                        kura_db_error *err)
{
    kura_audit_entry e;
    json_t *data = extra ? json_deep_copy(extra) : json_object();
    int rc;
    if (!data || (snapshot && json_object_set(data, "snapshot", snapshot) != 0)) {
        json_decref(data);
        return KURA_DB_ENOMEM;
    }
    e.actor = actor;
    e.action = action;
    e.object_type = type;
    e.object_id = id;
    e.data = data;
    rc = kura_audit_append(db, &e, now, NULL, NULL, err);
    json_decref(data);
    return rc;
}

void kura_people_i_sha256_hex(char out[65], const void *data, size_t len)
{
    uint8_t h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, data, len);
    sodium_bin2hex(out, 65, h, sizeof h);
}

json_t *kura_people_i_page(json_t *items, const char *last_id, size_t count, size_t limit)
{
    json_t *page;
    if (!items)
        return NULL;
    page = json_pack("{s:o, s:o}", "items", items, "next_cursor",
                     (count == limit && last_id) ? json_string(last_id) : json_null());
    return page;
}

int kura_people_i_page_args(const char *cursor, const char *prefix, size_t *limit, kura_problem *p)
{
    size_t plen = strlen(prefix);
    if (*limit == 0)
        *limit = 50;
    if (*limit > 500)
        return kura_problem_set(p, KURA_PROBLEM_INVALID_FIELD, "limit must be 1..500");
    if (!cursor || !*cursor)
        return 0;
    /* An id this server made: prefix, '_', 28 lower-case hex digits. */
    if (strncmp(cursor, prefix, plen) != 0 || cursor[plen] != '_' || strlen(cursor) != plen + 29)
        return kura_problem_set(p, KURA_PROBLEM_BAD_CURSOR, "the cursor is not one this server issued");
    for (const char *c = cursor + plen + 1; *c; c++)
        if (!((*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'f')))
            return kura_problem_set(p, KURA_PROBLEM_BAD_CURSOR,
                                    "the cursor is not one this server issued");
    return 0;
}

/* ============================ set-up, passwords ============================ */

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t cost_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned long long pw_ops = crypto_pwhash_OPSLIMIT_INTERACTIVE;
static size_t pw_mem = crypto_pwhash_MEMLIMIT_INTERACTIVE;
/* A hash of a random password at the current cost, verified against when the
 * user does not exist (see kura_people_i_password_verify). */
static char dummy_hash[crypto_pwhash_STRBYTES];
static unsigned long long dummy_ops;
static size_t dummy_mem;

/* Makes the dummy hash for the current cost if it is missing or stale.
 * Called with cost_lock held. */
static void refresh_dummy_locked(void)
{
    uint8_t rnd[16];
    if (dummy_hash[0] && dummy_ops == pw_ops && dummy_mem == pw_mem)
        return;
    randombytes_buf(rnd, sizeof rnd);
    if (crypto_pwhash_str(dummy_hash, (const char *)rnd, sizeof rnd, pw_ops, pw_mem) == 0) {
        dummy_ops = pw_ops;
        dummy_mem = pw_mem;
    } else {
        dummy_hash[0] = '\0';
    }
    sodium_memzero(rnd, sizeof rnd);
}

static void init_once_fn(void)
{
    if (sodium_init() < 0)
        abort(); /* no random source: nothing here can work */
    kura_audit_register_snapshot("user", kura_people_i_user_snapshot_fn);
    kura_audit_register_snapshot("api_key", kura_people_i_apikey_snapshot_fn);
    /* Made now, at start, so the first sign-in of an unknown user does not
     * take longer than the others (which would tell that it is unknown). */
    pthread_mutex_lock(&cost_lock);
    refresh_dummy_locked();
    pthread_mutex_unlock(&cost_lock);
}

void kura_people_init(void)
{
    pthread_once(&init_once, init_once_fn);
}

int kura_people_set_password_cost(unsigned long long opslimit, size_t memlimit)
{
    if (opslimit < crypto_pwhash_OPSLIMIT_MIN || memlimit < crypto_pwhash_MEMLIMIT_MIN)
        return -1;
    kura_people_init();
    pthread_mutex_lock(&cost_lock);
    pw_ops = opslimit;
    pw_mem = memlimit;
    refresh_dummy_locked();
    pthread_mutex_unlock(&cost_lock);
    return 0;
}

int kura_people_i_password_hash(char out[128], const char *password)
{
    unsigned long long ops;
    size_t mem;
    kura_people_init();
    pthread_mutex_lock(&cost_lock);
    ops = pw_ops;
    mem = pw_mem;
    pthread_mutex_unlock(&cost_lock);
    memset(out, 0, 128);
    return crypto_pwhash_str(out, password, strlen(password), ops, mem) == 0 ? 0 : -1;
}

int kura_people_i_password_verify(const char *hash, const char *password)
{
    char dummy[crypto_pwhash_STRBYTES];
    kura_people_init();
    if (hash)
        return crypto_pwhash_str_verify(hash, password, strlen(password)) == 0;
    /* Unknown user: spend what a real verification spends, then refuse. */
    pthread_mutex_lock(&cost_lock);
    refresh_dummy_locked();
    memcpy(dummy, dummy_hash, sizeof dummy);
    pthread_mutex_unlock(&cost_lock);
    if (dummy[0] && crypto_pwhash_str_verify(dummy, password, strlen(password)) == 0)
        return 0; /* (a random 16-byte password: cannot happen) */
    return 0;
}

static int password_ok(const char *password, kura_problem *p)
{
    size_t n = password ? strlen(password) : 0;
    if (!password)
        return kura_problem_set(p, KURA_PROBLEM_MISSING_FIELD, "password is required");
    if (n < KURA_PASSWORD_MIN || n > KURA_PASSWORD_MAX)
        return kura_problem_set(p, KURA_PROBLEM_INVALID_FIELD, "password must be %d to %d bytes",
                                KURA_PASSWORD_MIN, KURA_PASSWORD_MAX);
    return 0;
}

/* ============================== JSON, snapshots ============================== */

json_t *kura_people_i_user_json(const kura_user_row *r)
{
    return json_pack("{s:s, s:s, s:s, s:o, s:b, s:b, s:I, s:I}", "id", r->id, "username",
                     r->username, "role", r->role, "approver_name",
                     r->approver_name[0] ? json_string(r->approver_name) : json_null(), "disabled",
                     r->disabled, "totp_enabled", r->totp_secret != NULL, "created_at",
                     (json_int_t)r->created_at, "updated_at", (json_int_t)r->updated_at);
}

json_t *kura_people_i_user_snapshot(const kura_user_row *r)
{
    json_t *j = kura_people_i_user_json(r);
    crypto_hash_sha256_state h;
    uint8_t d[crypto_hash_sha256_BYTES];
    char hex[65];
    const char *totp = r->totp_secret ? r->totp_secret : "";
    if (!j)
        return NULL;
    /* Length-prefixed, so no two pairs of values hash alike. */
    crypto_hash_sha256_init(&h);
    {
        uint8_t len[8];
        uint64_t n = strlen(r->password_hash);
        for (int i = 0; i < 8; i++)
            len[i] = (uint8_t)(n >> (8 * i));
        crypto_hash_sha256_update(&h, len, 8);
        crypto_hash_sha256_update(&h, (const uint8_t *)r->password_hash, n);
        n = strlen(totp);
        for (int i = 0; i < 8; i++)
            len[i] = (uint8_t)(n >> (8 * i));
        crypto_hash_sha256_update(&h, len, 8);
        crypto_hash_sha256_update(&h, (const uint8_t *)totp, n);
    }
    crypto_hash_sha256_final(&h, d);
    sodium_bin2hex(hex, sizeof hex, d, sizeof d);
    if (json_object_set_new(j, "secrets_sha256", json_string(hex)) != 0) {
        json_decref(j);
        return NULL;
    }
    return j;
}

int kura_people_i_user_snapshot_fn(kura_db *db, const char *object_id, json_t **out,
                                   kura_db_error *err)
{
    kura_user_row r;
    int rc = kura_store_user_by_id(db, object_id, &r, err);
    *out = NULL;
    if (rc != KURA_DB_OK)
        return rc;
    *out = kura_people_i_user_snapshot(&r);
    kura_user_row_clear(&r);
    return *out ? KURA_DB_OK : KURA_DB_ENOMEM;
}

/* ================================ create ================================ */

typedef struct create_arg {
    const kura_principal *who;
    kura_user_row row;
    const kura_idem *idem;
    int64_t now;
    json_t *out;
    kura_problem *p;
} create_arg;

static int create_fn(kura_db *db, void *varg, kura_db_error *err)
{
    create_arg *a = varg;
    json_t *snap = NULL;
    char *body = NULL;
    int rc;
    json_decref(a->out);
    a->out = NULL;
    kura_db_new_id(a->row.id, "usr");
    rc = kura_store_user_insert(db, &a->row, err);
    if (rc == KURA_DB_ECONSTRAINT)
        return kura_problem_set(a->p, KURA_PROBLEM_CONFLICT, "the user name %s is taken",
                                a->row.username);
    if (rc != KURA_DB_OK)
        return rc;
    a->out = kura_people_i_user_json(&a->row);
    snap = kura_people_i_user_snapshot(&a->row);
    if (!a->out || !snap) {
        json_decref(snap);
        return KURA_DB_ENOMEM;
    }
    rc = kura_people_i_audit(db, kura_people_i_actor(a->who), "user.created", "user", a->row.id,
                             snap, NULL, a->now, err);
    json_decref(snap);
    if (rc == KURA_DB_OK && a->idem) {
        body = json_dumps(a->out, JSON_COMPACT);
        rc = body ? kura_idempotency_complete(db, a->idem, 201, body, err) : KURA_DB_ENOMEM;
        free(body);
    }
    return rc;
}

int kura_user_create(kura_store *st, const kura_principal *who, const char *username,
                     const char *password, kura_role role, const char *approver_name,
                     const kura_idem *idem, int64_t now, json_t **out, kura_problem *p)
{
    create_arg a;
    kura_db_error err = {0};
    char hash[128];
    int rc;
    if (out)
        *out = NULL;
    if (!st || !out)
        return kura_problem_set(p, KURA_PROBLEM_INTERNAL, "kura_user_create: bad arguments");
    if (!kura_people_name_valid(username))
        return kura_problem_set(p, KURA_PROBLEM_INVALID_FIELD,
                                "username must be 1 to 64 of a-z 0-9 . _ -");
    if ((rc = password_ok(password, p)) != 0)
        return rc;
    if (role == KURA_ROLE_NONE || (unsigned)role > KURA_ROLE_AUDITOR)
        return kura_problem_set(p, KURA_PROBLEM_INVALID_FIELD, "role is not one of the five roles");
    if (role == KURA_ROLE_APPROVER && !kura_people_name_valid(approver_name))
        return kura_problem_set(p, KURA_PROBLEM_INVALID_FIELD,
                                "an approver needs approver_name (their name in the policies)");
    if (role != KURA_ROLE_APPROVER && approver_name && *approver_name)
        return kura_problem_set(p, KURA_PROBLEM_INVALID_FIELD,
                                "approver_name is for approvers only");
    if (kura_people_i_password_hash(hash, password) != 0)
        return kura_problem_set(p, KURA_PROBLEM_INTERNAL, "password hashing failed");
    memset(&a, 0, sizeof a);
    a.who = who;
    a.idem = idem;
    a.now = now;
    a.p = p;
    snprintf(a.row.username, sizeof a.row.username, "%s", username);
    snprintf(a.row.role, sizeof a.row.role, "%s", kura_role_name(role));
    if (role == KURA_ROLE_APPROVER)
        snprintf(a.row.approver_name, sizeof a.row.approver_name, "%s", approver_name);
    a.row.password_hash = hash;
    a.row.created_at = a.row.updated_at = now;
    rc = kura_store_write(st, create_fn, &a, &err);
    sodium_memzero(hash, sizeof hash);
    if (rc != KURA_DB_OK) {
        json_decref(a.out);
        return kura_problem_from_db(p, rc, &err, NULL);
    }
    *out = a.out;
    return 0;
}

/* ============================== get and list ============================== */

typedef struct get_arg {
    const char *id;
    json_t *out;
    kura_problem *p;
} get_arg;

static int get_fn(kura_db *db, void *varg, kura_db_error *err)
{
    get_arg *a = varg;
    kura_user_row r;
    int rc = kura_store_user_by_id(db, a->id, &r, err);
    json_decref(a->out);
    a->out = NULL;
    if (rc == KURA_DB_ENOTFOUND)
        return kura_problem_set(a->p, KURA_PROBLEM_NOT_FOUND, "no such user");
    if (rc != KURA_DB_OK)
        return rc;
    a->out = kura_people_i_user_json(&r);
    kura_user_row_clear(&r);
    return a->out ? KURA_DB_OK : KURA_DB_ENOMEM;
}

int kura_user_get(kura_store *st, const char *user_id, json_t **out, kura_problem *p)
{
    get_arg a = {user_id, NULL, p};
    kura_db_error err = {0};
    int rc;
    if (out)
        *out = NULL;
    if (!st || !out)
        return kura_problem_set(p, KURA_PROBLEM_INTERNAL, "kura_user_get: bad arguments");
    if (!user_id || !*user_id)
        return kura_problem_set(p, KURA_PROBLEM_NOT_FOUND, "no such user");
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
    kura_user_row *rows = NULL;
    size_t n = 0;
    json_t *items;
    int rc = kura_store_user_list(db, a->cursor, a->limit, &rows, &n, err);
    json_decref(a->out);
    a->out = NULL;
    if (rc != KURA_DB_OK)
        return rc;
    items = json_array();
    for (size_t i = 0; items && i < n; i++)
        if (json_array_append_new(items, kura_people_i_user_json(&rows[i])) != 0) {
            json_decref(items);
            items = NULL;
        }
    a->out = kura_people_i_page(items, n ? rows[n - 1].id : NULL, n, a->limit);
    kura_user_rows_free(rows, n);
    return a->out ? KURA_DB_OK : KURA_DB_ENOMEM;
}

int kura_user_list(kura_store *st, const char *cursor, size_t limit, json_t **page, kura_problem *p)
{
    list_arg a = {cursor, limit, NULL};
    kura_db_error err = {0};
    int rc;
    if (page)
        *page = NULL;
    if (!st || !page)
        return kura_problem_set(p, KURA_PROBLEM_INTERNAL, "kura_user_list: bad arguments");
    if ((rc = kura_people_i_page_args(cursor, "usr", &a.limit, p)) != 0)
        return rc;
    rc = kura_store_read(st, list_fn, &a, &err);
    if (rc != KURA_DB_OK) {
        json_decref(a.out);
        return kura_problem_from_db(p, rc, &err, NULL);
    }
    *page = a.out;
    return 0;
}

/* ================================= update ================================= */

typedef struct update_arg {
    const kura_principal *who;
    const char *id;
    const kura_user_changes *ch;
    int64_t now;
    json_t *out;
    kura_problem *p;
} update_arg;

static int update_fn(kura_db *db, void *varg, kura_db_error *err)
{
    update_arg *a = varg;
    kura_user_row r;
    kura_role role = KURA_ROLE_NONE;
    json_t *changes = NULL, *snap = NULL, *extra = NULL;
    int rc;
    json_decref(a->out);
    a->out = NULL;
    rc = kura_store_user_by_id(db, a->id, &r, err);
    if (rc == KURA_DB_ENOTFOUND)
        return kura_problem_set(a->p, KURA_PROBLEM_NOT_FOUND, "no such user");
    if (rc != KURA_DB_OK)
        return rc;
    changes = json_object();
    if (!changes) {
        rc = KURA_DB_ENOMEM;
        goto done;
    }
    if (a->ch->role != KURA_ROLE_NONE && strcmp(r.role, kura_role_name(a->ch->role)) != 0) {
        json_object_set_new(changes, "role", json_pack("[s,s]", r.role, kura_role_name(a->ch->role)));
        snprintf(r.role, sizeof r.role, "%s", kura_role_name(a->ch->role));
    }
    if (a->ch->disabled >= 0 && r.disabled != (a->ch->disabled != 0)) {
        json_object_set_new(changes, "disabled",
                            json_pack("[b,b]", r.disabled, a->ch->disabled != 0));
        r.disabled = a->ch->disabled != 0;
    }
    if (a->ch->approver_name && strcmp(r.approver_name, a->ch->approver_name) != 0) {
        json_object_set_new(changes, "approver_name",
                            json_pack("[s,s]", r.approver_name, a->ch->approver_name));
        snprintf(r.approver_name, sizeof r.approver_name, "%s", a->ch->approver_name);
    }
    kura_role_parse(r.role, &role);
    if (role == KURA_ROLE_APPROVER && !r.approver_name[0]) {
        rc = kura_problem_set(a->p, KURA_PROBLEM_INVALID_FIELD,
                              "an approver needs approver_name (their name in the policies)");
        goto done;
    }
    if (role != KURA_ROLE_APPROVER && r.approver_name[0]) {
        if (a->ch->approver_name) {
            rc = kura_problem_set(a->p, KURA_PROBLEM_INVALID_FIELD,
                                  "approver_name is for approvers only");
            goto done;
        }
        /* Leaving the approver role drops the policy name with it. */
        json_object_set_new(changes, "approver_name", json_pack("[s,n]", r.approver_name));
        r.approver_name[0] = '\0';
    }
    /* An administrator may not lock themselves out: the server keeps one. */
    if (a->who && a->who->kind == KURA_PRINCIPAL_USER && strcmp(a->who->id, r.id) == 0 &&
        (r.disabled || role != KURA_ROLE_ADMINISTRATOR) && a->who->role == KURA_ROLE_ADMINISTRATOR) {
        rc = kura_problem_set(a->p, KURA_PROBLEM_FORBIDDEN,
                              "administrators cannot disable or demote themselves");
        goto done;
    }
    r.updated_at = a->now;
    rc = kura_store_user_update(db, &r, err);
    if (rc == KURA_DB_OK && r.disabled)
        rc = kura_store_session_delete_user(db, r.id, err);
    if (rc != KURA_DB_OK)
        goto done;
    a->out = kura_people_i_user_json(&r);
    snap = kura_people_i_user_snapshot(&r);
    extra = json_pack("{s:O}", "changes", changes);
    if (!a->out || !snap || !extra) {
        rc = KURA_DB_ENOMEM;
        goto done;
    }
    rc = kura_people_i_audit(db, kura_people_i_actor(a->who), "user.updated", "user", r.id, snap,
                             extra, a->now, err);
done:
    json_decref(changes);
    json_decref(snap);
    json_decref(extra);
    kura_user_row_clear(&r);
    return rc;
}

int kura_user_update(kura_store *st, const kura_principal *who, const char *user_id,
                     const kura_user_changes *changes, int64_t now, json_t **out, kura_problem *p)
{
    update_arg a = {who, user_id, changes, now, NULL, p};
    kura_db_error err = {0};
    int rc;
    if (out)
        *out = NULL;
    if (!st || !out || !changes)
        return kura_problem_set(p, KURA_PROBLEM_INTERNAL, "kura_user_update: bad arguments");
    if (!user_id || !*user_id)
        return kura_problem_set(p, KURA_PROBLEM_NOT_FOUND, "no such user");
    if ((unsigned)changes->role > KURA_ROLE_AUDITOR)
        return kura_problem_set(p, KURA_PROBLEM_INVALID_FIELD, "role is not one of the five roles");
    if (changes->disabled < -1 || changes->disabled > 1)
        return kura_problem_set(p, KURA_PROBLEM_INVALID_FIELD, "disabled must be true or false");
    if (changes->approver_name && *changes->approver_name &&
        !kura_people_name_valid(changes->approver_name))
        return kura_problem_set(p, KURA_PROBLEM_INVALID_FIELD,
                                "approver_name must be 1 to 64 of a-z 0-9 . _ -");
    rc = kura_store_write(st, update_fn, &a, &err);
    if (rc != KURA_DB_OK) {
        json_decref(a.out);
        return kura_problem_from_db(p, rc, &err, NULL);
    }
    *out = a.out;
    return 0;
}

/* ============================== set password ============================== */

typedef struct row_arg {
    const char *id;
    kura_user_row row;
} row_arg;

static int read_row_fn(kura_db *db, void *varg, kura_db_error *err)
{
    row_arg *a = varg;
    kura_user_row_clear(&a->row);
    return kura_store_user_by_id(db, a->id, &a->row, err);
}

typedef struct password_arg {
    const kura_principal *who;
    const char *id;
    const char *old_hash; /* the hash the current password was checked against, or NULL */
    const char *new_hash;
    int64_t now;
    kura_problem *p;
} password_arg;

static int password_fn(kura_db *db, void *varg, kura_db_error *err)
{
    password_arg *a = varg;
    kura_user_row r;
    json_t *snap;
    int rc = kura_store_user_by_id(db, a->id, &r, err);
    if (rc == KURA_DB_ENOTFOUND)
        return kura_problem_set(a->p, KURA_PROBLEM_NOT_FOUND, "no such user");
    if (rc != KURA_DB_OK)
        return rc;
    /* Changed since the current password was checked: check again. */
    if (a->old_hash && (strlen(r.password_hash) != strlen(a->old_hash) ||
                        sodium_memcmp(r.password_hash, a->old_hash, strlen(a->old_hash)) != 0)) {
        kura_user_row_clear(&r);
        return kura_problem_set(a->p, KURA_PROBLEM_CONFLICT, "the password changed meanwhile");
    }
    rc = kura_store_user_set_password(db, a->id, a->new_hash, a->now, err);
    if (rc == KURA_DB_OK)
        rc = kura_store_session_delete_user(db, a->id, err);
    if (rc == KURA_DB_OK) {
        free(r.password_hash);
        r.password_hash = strdup(a->new_hash);
        r.updated_at = a->now;
        snap = r.password_hash ? kura_people_i_user_snapshot(&r) : NULL;
        rc = snap ? kura_people_i_audit(db, kura_people_i_actor(a->who), "user.password_changed",
                                        "user", a->id, snap, NULL, a->now, err)
                  : KURA_DB_ENOMEM;
        json_decref(snap);
    }
    kura_user_row_clear(&r);
    return rc;
}

int kura_user_set_password(kura_store *st, const kura_principal *who, const char *user_id,
                           const char *current_password, const char *new_password, int64_t now,
                           kura_problem *p)
{
    row_arg ra;
    password_arg a;
    kura_db_error err = {0};
    char hash[128];
    int rc;
    if (!st)
        return kura_problem_set(p, KURA_PROBLEM_INTERNAL, "kura_user_set_password: bad arguments");
    if (!user_id || !*user_id)
        return kura_problem_set(p, KURA_PROBLEM_NOT_FOUND, "no such user");
    if ((rc = password_ok(new_password, p)) != 0)
        return rc;
    if (who && who->kind == KURA_PRINCIPAL_USER && strcmp(who->id, user_id) == 0 &&
        !current_password)
        return kura_problem_set(p, KURA_PROBLEM_MISSING_FIELD,
                                "current_password is required to change your own password");
    memset(&ra, 0, sizeof ra);
    ra.id = user_id;
    rc = kura_store_read(st, read_row_fn, &ra, &err);
    if (rc == KURA_DB_ENOTFOUND)
        return kura_problem_set(p, KURA_PROBLEM_NOT_FOUND, "no such user");
    if (rc != KURA_DB_OK) {
        kura_user_row_clear(&ra.row);
        return kura_problem_from_db(p, rc, &err, NULL);
    }
    if (current_password && !kura_people_i_password_verify(ra.row.password_hash, current_password)) {
        kura_user_row_clear(&ra.row);
        return kura_problem_set(p, KURA_PROBLEM_BAD_CREDENTIALS, "the current password is wrong");
    }
    if (kura_people_i_password_hash(hash, new_password) != 0) {
        kura_user_row_clear(&ra.row);
        return kura_problem_set(p, KURA_PROBLEM_INTERNAL, "password hashing failed");
    }
    a.who = who;
    a.id = user_id;
    a.old_hash = current_password ? ra.row.password_hash : NULL;
    a.new_hash = hash;
    a.now = now;
    a.p = p;
    rc = kura_store_write(st, password_fn, &a, &err);
    sodium_memzero(hash, sizeof hash);
    kura_user_row_clear(&ra.row);
    return rc == KURA_DB_OK ? 0 : kura_problem_from_db(p, rc, &err, NULL);
}

/* ============================ TOTP enrolment ============================ */

typedef struct enroll_arg {
    const char *id;
    const char *secret;
    char username[65];
    kura_problem *p;
} enroll_arg;

static int enroll_fn(kura_db *db, void *varg, kura_db_error *err)
{
    enroll_arg *a = varg;
    kura_user_row r;
    int rc = kura_store_user_by_id(db, a->id, &r, err);
    if (rc == KURA_DB_ENOTFOUND)
        return kura_problem_set(a->p, KURA_PROBLEM_NOT_FOUND, "no such user");
    if (rc != KURA_DB_OK)
        return rc;
    snprintf(a->username, sizeof a->username, "%s", r.username);
    kura_user_row_clear(&r);
    return kura_store_user_set_totp_pending(db, a->id, a->secret, err);
}

int kura_user_totp_enroll(kura_store *st, const kura_principal *who, const char *user_id,
                          int64_t now, json_t **out, kura_problem *p)
{
    enroll_arg a;
    kura_db_error err = {0};
    char secret[40], uri[256];
    int rc;
    (void)now;
    if (out)
        *out = NULL;
    if (!st || !out)
        return kura_problem_set(p, KURA_PROBLEM_INTERNAL, "kura_user_totp_enroll: bad arguments");
    if (!user_id || !*user_id)
        return kura_problem_set(p, KURA_PROBLEM_NOT_FOUND, "no such user");
    if (!who || who->kind != KURA_PRINCIPAL_USER || strcmp(who->id, user_id) != 0)
        return kura_problem_set(p, KURA_PROBLEM_FORBIDDEN, "only the user may enrol their TOTP");
    kura_people_i_totp_new_secret(secret);
    memset(&a, 0, sizeof a);
    a.id = user_id;
    a.secret = secret;
    a.p = p;
    rc = kura_store_write(st, enroll_fn, &a, &err);
    if (rc != KURA_DB_OK) {
        sodium_memzero(secret, sizeof secret);
        return kura_problem_from_db(p, rc, &err, NULL);
    }
    /* Key URI format (Google Authenticator's): the defaults SHA1, 6, 30 spelled out. */
    snprintf(uri, sizeof uri,
             "otpauth://totp/kura:%s?secret=%s&issuer=kura&algorithm=SHA1&digits=%d&period=%d",
             a.username, secret, KURA_TOTP_DIGITS, KURA_TOTP_STEP);
    *out = json_pack("{s:s, s:s}", "secret", secret, "otpauth_uri", uri);
    sodium_memzero(secret, sizeof secret);
    sodium_memzero(uri, sizeof uri);
    if (!*out)
        return kura_problem_set(p, KURA_PROBLEM_INTERNAL, "out of memory");
    return 0;
}

typedef struct confirm_arg {
    const kura_principal *who;
    const char *id;
    const char *code;
    int64_t now;
    kura_problem *p;
} confirm_arg;

static int confirm_fn(kura_db *db, void *varg, kura_db_error *err)
{
    confirm_arg *a = varg;
    kura_user_row r;
    json_t *snap;
    int64_t step = 0;
    int rc = kura_store_user_by_id(db, a->id, &r, err);
    if (rc == KURA_DB_ENOTFOUND)
        return kura_problem_set(a->p, KURA_PROBLEM_NOT_FOUND, "no such user");
    if (rc != KURA_DB_OK)
        return rc;
    if (!r.totp_pending) {
        kura_user_row_clear(&r);
        return kura_problem_set(a->p, KURA_PROBLEM_INVALID_STATE, "no TOTP enrolment is pending");
    }
    if (!kura_people_i_totp_check(r.totp_pending, a->code, a->now, &step)) {
        kura_user_row_clear(&r);
        return kura_problem_set(a->p, KURA_PROBLEM_BAD_CREDENTIALS, "the code is wrong");
    }
    rc = kura_store_user_confirm_totp(db, a->id, step, a->now, err);
    if (rc == KURA_DB_OK) {
        free(r.totp_secret);
        r.totp_secret = r.totp_pending;
        r.totp_pending = NULL;
        r.updated_at = a->now;
        snap = kura_people_i_user_snapshot(&r);
        rc = snap ? kura_people_i_audit(db, kura_people_i_actor(a->who), "user.totp_enrolled",
                                        "user", a->id, snap, NULL, a->now, err)
                  : KURA_DB_ENOMEM;
        json_decref(snap);
    }
    kura_user_row_clear(&r);
    return rc;
}

int kura_user_totp_confirm(kura_store *st, const kura_principal *who, const char *user_id,
                           const char *code, int64_t now, kura_problem *p)
{
    confirm_arg a = {who, user_id, code, now, p};
    kura_db_error err = {0};
    int rc;
    if (!st)
        return kura_problem_set(p, KURA_PROBLEM_INTERNAL, "kura_user_totp_confirm: bad arguments");
    if (!user_id || !*user_id)
        return kura_problem_set(p, KURA_PROBLEM_NOT_FOUND, "no such user");
    if (!who || who->kind != KURA_PRINCIPAL_USER || strcmp(who->id, user_id) != 0)
        return kura_problem_set(p, KURA_PROBLEM_FORBIDDEN, "only the user may confirm their TOTP");
    if (!code)
        return kura_problem_set(p, KURA_PROBLEM_MISSING_FIELD, "code is required");
    rc = kura_store_write(st, confirm_fn, &a, &err);
    return rc == KURA_DB_OK ? 0 : kura_problem_from_db(p, rc, &err, NULL);
}
