/*
 * server/domain/domain_common.c — helpers the wallet, address and transfer
 * code share (domain_internal.h).
 */
#include "domain/domain_internal.h"

#include <ctype.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audit/audit.h"

static pthread_once_t ctx_once = PTHREAD_ONCE_INIT;
static kura_ctx *process_ctx;

static void ctx_make(void) { process_ctx = kura_ctx_new(); }

const kura_ctx *dom_ctx(void)
{
    pthread_once(&ctx_once, ctx_make);
    return process_ctx;
}

int64_t dom_now(void) { return (int64_t)time(NULL); }


int dom_chain_parse(const char *name, kura_intent_chain *chain)
{
    static const kura_intent_chain all[] = {KURA_CHAIN_BITCOIN, KURA_CHAIN_TESTNET,
                                            KURA_CHAIN_TESTNET4, KURA_CHAIN_SIGNET,
                                            KURA_CHAIN_REGTEST};
    for (size_t i = 0; name && i < sizeof all / sizeof all[0]; i++) {
        if (strcmp(kura_intent_chain_name(all[i]), name) == 0) {
            *chain = all[i];
            return 0;
        }
    }
    return -1;
}

void dom_wallet_clear(dom_wallet *w)
{
    if (!w)
        return;
    kura_wallet_row_clear(&w->row);
    kura_policy_row_clear(&w->policy_row);
    dom_cache_release(w->desc_handle);
    dom_cache_release(w->policy_handle);
    memset(w, 0, sizeof *w);
}

int dom_wallet_load(kura_db *db, const char *id, int need_descriptor, dom_wallet *w,
                    kura_problem *p)
{
    kura_db_error err = {0};
    kura_error kerr = {0};
    int rc;
    memset(w, 0, sizeof *w);
    if (!id || !*id)
        return kura_problem_set(p, KURA_PROBLEM_NOT_FOUND, "no such wallet");
    rc = kura_store_wallet_get(db, id, &w->row, &err);
    if (rc)
        return kura_problem_from_db(p, rc, &err, "wallet");
    rc = kura_store_policy_get(db, id, w->row.policy_version, &w->policy_row, &err);
    if (rc) {
        dom_wallet_clear(w);
        return kura_problem_from_db(p, rc == KURA_DB_ENOTFOUND ? KURA_DB_EIO : rc, &err, "policy");
    }
    if (!dom_ctx() || dom_chain_parse(w->row.chain, &w->chain) != 0 ||
        kura_intent_chain_network(&w->network, w->chain) != KURA_OK ||
        (need_descriptor &&
         dom_descriptor_acquire(w->row.descriptor, &w->desc, &w->desc_handle, &kerr) != KURA_OK) ||
        dom_policy_acquire(w->policy_row.text, &w->policy, &w->policy_handle, &kerr) != KURA_OK) {
        dom_wallet_clear(w);
        return kura_problem_set(p, KURA_PROBLEM_INTERNAL, "wallet %s: stored data does not parse: %s",
                                id, kerr.message);
    }
    return 0;
}

int dom_policy_signatures(const kura_policy_row *row, json_t **arr, const char ***sigs,
                          size_t **lens, size_t *count)
{
    json_error_t jerr;
    size_t n;
    *arr = NULL;
    *sigs = NULL;
    *lens = NULL;
    *count = 0;
    json_t *a = json_loads(row->signatures, 0, &jerr);
    if (!a || !json_is_array(a)) {
        json_decref(a);
        return -1;
    }
    n = json_array_size(a);
    const char **s = calloc(n ? n : 1, sizeof *s);
    size_t *l = calloc(n ? n : 1, sizeof *l);
    if (!s || !l) {
        free(s);
        free(l);
        json_decref(a);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *v = json_array_get(a, i);
        if (!json_is_string(v)) {
            free(s);
            free(l);
            json_decref(a);
            return -1;
        }
        s[i] = json_string_value(v);
        l[i] = json_string_length(v);
    }
    *arr = a;
    *sigs = s;
    *lens = l;
    *count = n;
    return 0;
}

const char *dom_actor(const kura_principal *who)
{
    return who && who->id[0] ? who->id : "system";
}

int dom_audit(kura_db *db, const char *actor, const char *action, const char *object_type,
              const char *object_id, json_t *data, json_t *snapshot, int64_t now, int64_t *seq,
              char head[65], kura_db_error *err)
{
    json_t *d = data ? json_copy(data) : json_object();
    int rc;
    if (!d)
        return KURA_DB_ENOMEM;
    if (snapshot && json_object_set(d, "snapshot", snapshot) != 0) {
        json_decref(d);
        return KURA_DB_ENOMEM;
    }
    kura_audit_entry e = {actor, action, object_type, object_id, d};
    rc = kura_audit_append(db, &e, now, seq, head, err);
    json_decref(d);
    return rc;
}

int dom_idem_complete(kura_db *db, const kura_idem *idem, int status, const json_t *body,
                      kura_db_error *err)
{
    char *text;
    int rc;
    if (!idem || !idem->key)
        return KURA_DB_OK;
    text = json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS);
    if (!text)
        return KURA_DB_ENOMEM;
    rc = kura_idempotency_complete(db, idem, status, text, err);
    free(text);
    return rc;
}

json_t *dom_page(json_t *items, const char *next_cursor)
{
    json_t *page = json_object();
    if (!page) {
        json_decref(items);
        return NULL;
    }
    json_object_set_new(page, "items", items);
    json_object_set_new(page, "next_cursor", next_cursor ? json_string(next_cursor) : json_null());
    return page;
}

int dom_limit(size_t limit, size_t *out, kura_problem *p)
{
    if (limit == 0)
        limit = 50;
    if (limit > 500)
        return kura_problem_set(p, KURA_PROBLEM_INVALID_FIELD, "limit must be 1..500");
    *out = limit;
    return 0;
}

json_t *dom_wallet_json(const kura_wallet_row *w)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "id",
                     w->id, "name", w->name, "chain", w->chain, "descriptor", w->descriptor,
                     "checksum", w->checksum, "kind", w->kind, "threshold",
                     (json_int_t)w->threshold, "policy_version", (json_int_t)w->policy_version,
                     "next_receive_index", (json_int_t)w->next_receive_index,
                     "next_change_index", (json_int_t)w->next_change_index, "birth_height",
                     (json_int_t)w->birth_height, "min_confirmations",
                     (json_int_t)w->min_confirmations, "created_at", (json_int_t)w->created_at);
}

/* A cursor is an id this server made: [a-z]{2,4}_ then hex. */
int dom_cursor_valid(const char *cursor, const char *prefix)
{
    size_t pl = strlen(prefix);
    if (!cursor || !*cursor)
        return 1;
    if (strncmp(cursor, prefix, pl) != 0 || cursor[pl] != '_' || strlen(cursor) != pl + 29)
        return 0;
    for (const char *c = cursor + pl + 1; *c; c++)
        if (!isxdigit((unsigned char)*c) || isupper((unsigned char)*c))
            return 0;
    return 1;
}


int dom_printable(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n == 0 || n > max)
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] == 0x7f)
            return 0;
    return 1;
}
