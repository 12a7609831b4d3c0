/*
 * server/domain/wallets.c — wallet registration and policy updates,
 * verified with libkura as kura-cold verifies them (wallets.h).
 */
#include "domain/wallets.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "audit/audit.h"
#include "domain/domain_internal.h"
#include "kura/bsms.h"
#include "kura/sshsig.h"

/* ---- the descriptor ---- */

typedef struct wallet_shape {
    kura_descriptor *desc;
    char *canonical;              /* with #checksum (kura_descriptor_string_free) */
    char checksum[KURA_DESCRIPTOR_CHECKSUM_LEN + 1];
    const char *kind;
    int64_t threshold;
} wallet_shape;

static void shape_clear(wallet_shape *s)
{
    kura_descriptor_free(s->desc);
    kura_descriptor_string_free(s->canonical);
    memset(s, 0, sizeof *s);
}

/* The m of the first "multi(m," / "multi_a(m," (sortedmulti too) in text, or 0. */
static int64_t multi_threshold(const char *text)
{
    const char *pats[] = {"multi_a(", "multi("};
    for (size_t i = 0; i < 2; i++) {
        const char *at = strstr(text, pats[i]);
        if (at) {
            int64_t m = 0;
            for (at += strlen(pats[i]); isdigit((unsigned char)*at) && m < 1000; at++)
                m = m * 10 + (*at - '0');
            return *at == ',' ? m : 0;
        }
    }
    return 0;
}

/* The kinds kura-cold signs for (programs/kura-cold/ceremony.c): P2WSH
 * sortedmulti, P2WPKH, P2TR (key path, or a tree of multi_a leaves), each
 * key ending in /<0;1>/STAR, no private keys, keys of the chain's network. */
static int shape_check(wallet_shape *s, const char *text, kura_network network, kura_problem *p)
{
    kura_error err = {0};
    kura_descriptor_type t;
    const char *c;
    memset(s, 0, sizeof *s);
    if (!dom_ctx())
        return kura_problem_set(p, KURA_PROBLEM_INTERNAL, "libkura did not start");
    if (kura_descriptor_parse(dom_ctx(), &s->desc, text, strlen(text), &err) != KURA_OK)
        return kura_problem_set(p, KURA_PROBLEM_INVALID_DESCRIPTOR, "%s", err.message);
    if (kura_descriptor_has_private(s->desc)) {
        shape_clear(s);
        return kura_problem_set(p, KURA_PROBLEM_INVALID_DESCRIPTOR,
                                "the descriptor holds a private key; give the watch-only one "
                                "(kura-cold export)");
    }
    if (kura_descriptor_to_string(dom_ctx(), &s->canonical, s->desc, KURA_DESCRIPTOR_ALL_BRANCHES,
                                  KURA_DESCRIPTOR_PUBLIC, &err) != KURA_OK) {
        shape_clear(s);
        return kura_problem_set(p, KURA_PROBLEM_INVALID_DESCRIPTOR, "%s", err.message);
    }
    t = kura_descriptor_get_type(s->desc);
    if (t == KURA_DESCRIPTOR_WPKH) {
        s->kind = "wpkh";
        s->threshold = 1;
    } else if (t == KURA_DESCRIPTOR_WSH && strncmp(s->canonical, "wsh(sortedmulti(", 16) == 0) {
        s->kind = "wsh";
        s->threshold = multi_threshold(s->canonical);
    } else if (t == KURA_DESCRIPTOR_TR) {
        /* tr(KEY) spends by the key path; tr(NUMS, multi_a(m, ...)) by a
         * leaf: its m. An extended internal key (it has a derivation) signs
         * alone on the key path. */
        const char *comma = strchr(s->canonical, ',');
        const char *slash = strchr(s->canonical, '/');
        s->kind = "tr";
        s->threshold = (!comma || (slash && slash < comma)) ? 1 : multi_threshold(s->canonical);
    } else {
        shape_clear(s);
        return kura_problem_set(p, KURA_PROBLEM_INVALID_DESCRIPTOR,
                                "kura wallets are wsh(sortedmulti(...)), wpkh(...) or tr(...)");
    }
    if (s->threshold < 1) {
        shape_clear(s);
        return kura_problem_set(p, KURA_PROBLEM_INVALID_DESCRIPTOR,
                                "cannot read the descriptor's threshold");
    }
    /* Every multipath step is exactly <0;1> followed by the wildcard. */
    for (c = strchr(s->canonical, '<'); c; c = strchr(c + 1, '<')) {
        if (strncmp(c, "<0;1>/*", 7) != 0 || c[7] == 'h' || c[7] == '\'') {
            shape_clear(s);
            return kura_problem_set(p, KURA_PROBLEM_INVALID_DESCRIPTOR,
                                    "every key must end in /<0;1>/* (receive and change branches)");
        }
    }
    if (kura_descriptor_multipath_count(s->desc) != 2 || !kura_descriptor_is_ranged(s->desc)) {
        shape_clear(s);
        return kura_problem_set(p, KURA_PROBLEM_INVALID_DESCRIPTOR,
                                "the descriptor needs a receive and a change branch: every key "
                                "ends in /<0;1>/*");
    }
    if (!kura_descriptor_allows_network(s->desc, network)) {
        shape_clear(s);
        return kura_problem_set(p, KURA_PROBLEM_POLICY_MISMATCH,
                                "the descriptor's keys are not for the policy's network (%s)",
                                kura_network_name(network));
    }
    c = strrchr(s->canonical, '#');
    if (!c || strlen(c + 1) != KURA_DESCRIPTOR_CHECKSUM_LEN) {
        shape_clear(s);
        return kura_problem_set(p, KURA_PROBLEM_INTERNAL, "canonical descriptor without checksum");
    }
    memcpy(s->checksum, c + 1, KURA_DESCRIPTOR_CHECKSUM_LEN + 1);
    return 0;
}

/* ---- the policy ---- */

/* Verifies sigs over text with authority's admin quorum. */
static int policy_signatures_check(const kura_policy *authority, const char *text,
                                   const char *const *sigs, size_t nsigs, kura_problem *p)
{
    kura_error err = {0};
    size_t *lens;
    int rc;
    if (nsigs == 0 || !sigs)
        return kura_problem_set(p, KURA_PROBLEM_POLICY_SIGNATURES,
                                "the policy carries no administrator signatures");
    lens = calloc(nsigs, sizeof *lens);
    if (!lens)
        return kura_problem_set(p, KURA_PROBLEM_INTERNAL, "out of memory");
    for (size_t i = 0; i < nsigs; i++)
        lens[i] = sigs[i] ? strlen(sigs[i]) : 0;
    rc = kura_policy_verify_signatures(NULL, NULL, authority, (const uint8_t *)text, strlen(text),
                                       sigs, lens, nsigs, &err);
    free(lens);
    if (rc == KURA_OK)
        return 0;
    if (rc == KURA_POLICY_EQUORUM)
        return kura_problem_set(p, KURA_PROBLEM_POLICY_SIGNATURES, "%s", err.message);
    return kura_problem_set(p, KURA_PROBLEM_INTERNAL, "policy signatures: %s", err.message);
}

static json_t *signatures_json(const char *const *sigs, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++)
        json_array_append_new(a, json_string(sigs[i]));
    return a;
}

/* ---- snapshots ---- */

/* The change index is in the snapshot (and every package that takes one
 * writes a wallet row): where the next change goes is the coordinator's
 * to decide, and an edit of it behind the server's back is named by audit
 * verify. Deposit indexes are not: an allocation changes nothing that
 * moves money. */
json_t *dom_wallet_snapshot(const kura_wallet_row *w)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I}", "id", w->id, "name",
                     w->name, "chain", w->chain, "descriptor", w->descriptor, "checksum",
                     w->checksum, "kind", w->kind, "policy_version", (json_int_t)w->policy_version,
                     "threshold", (json_int_t)w->threshold, "next_change_index",
                     (json_int_t)w->next_change_index);
}

static json_t *policy_snapshot(const kura_policy_row *r)
{
    json_error_t jerr;
    json_t *sigs = json_loads(r->signatures, 0, &jerr);
    if (!sigs)
        return NULL;
    return json_pack("{s:s, s:I, s:s, s:o}", "wallet_id", r->wallet_id, "version",
                     (json_int_t)r->version, "text", r->text, "signatures", sigs);
}

static int wallet_snapshot_fn(kura_db *db, const char *object_id, json_t **out, kura_db_error *err)
{
    kura_wallet_row w = {0};
    int rc = kura_store_wallet_get(db, object_id, &w, err);
    *out = NULL;
    if (rc)
        return rc;
    *out = dom_wallet_snapshot(&w);
    kura_wallet_row_clear(&w);
    return *out ? KURA_DB_OK : KURA_DB_ENOMEM;
}

/* Policy object ids are "<wallet_id>:<version>". */
static int policy_snapshot_fn(kura_db *db, const char *object_id, json_t **out, kura_db_error *err)
{
    char wid[KURA_DB_ID_SIZE];
    const char *colon = strrchr(object_id, ':');
    char *end = NULL;
    long long v;
    kura_policy_row r = {0};
    int rc;
    *out = NULL;
    if (!colon || (size_t)(colon - object_id) >= sizeof wid)
        return KURA_DB_ENOTFOUND;
    memcpy(wid, object_id, (size_t)(colon - object_id));
    wid[colon - object_id] = '\0';
    v = strtoll(colon + 1, &end, 10);
    if (!end || *end || v < 1)
        return KURA_DB_ENOTFOUND;
    rc = kura_store_policy_get(db, wid, (int64_t)v, &r, err);
    if (rc)
        return rc;
    *out = policy_snapshot(&r);
    kura_policy_row_clear(&r);
    return *out ? KURA_DB_OK : KURA_DB_ENOMEM;
}

int dom_transfer_snapshot_fn(kura_db *db, const char *object_id, json_t **out, kura_db_error *err);

void kura_domain_register_snapshots(void)
{
    kura_audit_register_snapshot("wallet", wallet_snapshot_fn);
    kura_audit_register_snapshot("policy", policy_snapshot_fn);
    kura_audit_register_snapshot("transfer", dom_transfer_snapshot_fn);
    kura_audit_register_snapshot("withdrawal", dom_withdrawal_snapshot_fn);
}

/* ---- register ---- */

typedef struct register_arg {
    const kura_principal *who;
    const kura_idem *idem;
    kura_wallet_row row;
    kura_policy_row policy;
    int64_t now;
    json_t *out;
    kura_problem *p;
} register_arg;

static int audit_policy(kura_db *db, const char *actor, const kura_policy_row *r, int64_t now,
                        kura_db_error *err)
{
    char oid[KURA_DB_ID_SIZE + 24];
    json_t *snap = policy_snapshot(r);
    json_t *data;
    int rc;
    if (!snap)
        return KURA_DB_ENOMEM;
    snprintf(oid, sizeof oid, "%s:%lld", r->wallet_id, (long long)r->version);
    data = json_pack("{s:s, s:I}", "wallet_id", r->wallet_id, "version", (json_int_t)r->version);
    rc = data ? dom_audit(db, actor, "policy.updated", "policy", oid, data, snap, now, NULL, NULL,
                          err)
              : KURA_DB_ENOMEM;
    json_decref(data);
    json_decref(snap);
    return rc;
}

static int register_tx(kura_db *db, void *arg, kura_db_error *err)
{
    register_arg *a = arg;
    json_t *snap;
    int rc;
    json_decref(a->out);
    a->out = NULL;
    rc = kura_store_wallet_insert(db, &a->row, err);
    if (rc == KURA_DB_ECONSTRAINT)
        return kura_problem_set(a->p, KURA_PROBLEM_CONFLICT, "a wallet named %s exists",
                                a->row.name);
    if (rc)
        return rc;
    if ((rc = kura_store_policy_insert(db, &a->policy, err)))
        return rc;
    snap = dom_wallet_snapshot(&a->row);
    if (!snap)
        return KURA_DB_ENOMEM;
    rc = dom_audit(db, dom_actor(a->who), "wallet.registered", "wallet", a->row.id, NULL, snap,
                   a->now, NULL, NULL, err);
    json_decref(snap);
    if (rc || (rc = audit_policy(db, dom_actor(a->who), &a->policy, a->now, err)))
        return rc;
    a->out = dom_wallet_json(&a->row);
    if (!a->out)
        return KURA_DB_ENOMEM;
    return dom_idem_complete(db, a->idem, 201, a->out, err);
}

/* BIP129 round 2, as the coordinator registers it: every key record's
 * signature verified, the descriptor record held against them all, and the
 * descriptor it names written out (multipath, canonical). */
static int bsms_descriptor(char **out, const kura_wallet_registration *req, kura_network network,
                           kura_problem *p)
{
    kura_bsms_key_record *recs;
    kura_descriptor *desc = NULL;
    kura_error kerr = {0};
    int rc = 0;
    *out = NULL;
    if (req->bsms_key_record_count == 0 || req->bsms_key_record_count > KURA_BSMS_SIGNERS_MAX ||
        !req->bsms_key_records)
        return kura_problem_set(p, KURA_PROBLEM_INVALID_FIELD,
                                "bsms_key_records: 1 to %d signed key records",
                                KURA_BSMS_SIGNERS_MAX);
    recs = calloc(req->bsms_key_record_count, sizeof *recs);
    if (!recs)
        return kura_problem_set(p, KURA_PROBLEM_INTERNAL, "out of memory");
    for (size_t i = 0; i < req->bsms_key_record_count; i++) {
        const char *t = req->bsms_key_records[i];
        if (!t || kura_bsms_key_record_parse(&recs[i], t, strlen(t), &kerr) != KURA_OK) {
            rc = kura_problem_set(p, KURA_PROBLEM_INVALID_DESCRIPTOR, "key record %zu: %s", i,
                                  t ? kerr.message : "null");
            goto done;
        }
    }
    if (kura_bsms_descriptor_record_verify(dom_ctx(), &desc, NULL, NULL, req->bsms_descriptor_record,
                                           strlen(req->bsms_descriptor_record), recs,
                                           req->bsms_key_record_count, network,
                                           &kerr) != KURA_OK) {
        rc = kura_problem_set(p, KURA_PROBLEM_INVALID_DESCRIPTOR, "descriptor record: %s",
                              kerr.message);
        goto done;
    }
    if (kura_descriptor_to_string(dom_ctx(), out, desc, KURA_DESCRIPTOR_ALL_BRANCHES,
                                  KURA_DESCRIPTOR_PUBLIC, &kerr) != KURA_OK)
        rc = kura_problem_set(p, KURA_PROBLEM_INVALID_DESCRIPTOR, "%s", kerr.message);
done:
    kura_descriptor_free(desc);
    sodium_memzero(recs, req->bsms_key_record_count * sizeof *recs);
    free(recs);
    return rc;
}

int kura_srvwallet_register(kura_store *st, const kura_principal *who,
                            const kura_wallet_registration *req, const kura_idem *idem,
                            int64_t now, json_t **out, kura_problem *p)
{
    kura_policy *policy = NULL;
    kura_error kerr = {0};
    kura_network network;
    wallet_shape shape = {0};
    register_arg a;
    kura_db_error err = {0};
    int rc;

    char *bsms_desc = NULL;
    const char *descriptor;

    *out = NULL;
    if (!req)
        return kura_problem_set(p, KURA_PROBLEM_MISSING_FIELD, "descriptor is required");
    if (req->descriptor && *req->descriptor && req->bsms_descriptor_record)
        return kura_problem_set(p, KURA_PROBLEM_INVALID_FIELD,
                                "give the descriptor or the BSMS records, not both");
    if ((!req->descriptor || !*req->descriptor) && !req->bsms_descriptor_record)
        return kura_problem_set(p, KURA_PROBLEM_MISSING_FIELD,
                                "descriptor (or bsms_descriptor_record) is required");
    if (!req->policy || !*req->policy)
        return kura_problem_set(p, KURA_PROBLEM_MISSING_FIELD, "policy is required");
    if (req->birth_height < 0 || req->min_confirmations < 0 || req->min_confirmations > 1000)
        return kura_problem_set(p, KURA_PROBLEM_INVALID_FIELD,
                                "birth_height and min_confirmations must be 0 or more");
    for (size_t i = 0; i < req->policy_signature_count; i++)
        if (!req->policy_signatures || !req->policy_signatures[i])
            return kura_problem_set(p, KURA_PROBLEM_INVALID_FIELD, "signature %zu is null", i);
    if (kura_policy_parse(&policy, (const uint8_t *)req->policy, strlen(req->policy), &kerr) !=
        KURA_OK)
        return kura_problem_set(p, KURA_PROBLEM_INVALID_POLICY, "%s", kerr.message);
    if (req->name && *req->name && strcmp(req->name, policy->wallet.name) != 0) {
        rc = kura_problem_set(p, KURA_PROBLEM_POLICY_MISMATCH,
                              "the policy is for wallet %s, not %s", policy->wallet.name,
                              req->name);
        goto done;
    }
    if (kura_intent_chain_network(&network, policy->chain) != KURA_OK) {
        rc = kura_problem_set(p, KURA_PROBLEM_INVALID_POLICY, "unknown chain");
        goto done;
    }
    descriptor = req->descriptor;
    if (req->bsms_descriptor_record) {
        if ((rc = bsms_descriptor(&bsms_desc, req, network, p)))
            goto done;
        descriptor = bsms_desc;
    }
    if ((rc = shape_check(&shape, descriptor, network, p)))
        goto done;
    if (strcmp(shape.checksum, policy->wallet.checksum) != 0) {
        rc = kura_problem_set(p, KURA_PROBLEM_POLICY_MISMATCH,
                              "the policy names descriptor #%s; this descriptor is #%s",
                              policy->wallet.checksum, shape.checksum);
        goto done;
    }
    /* The first policy is its own authority, as at kura-cold's ceremony. */
    if ((rc = policy_signatures_check(policy, req->policy, req->policy_signatures,
                                      req->policy_signature_count, p)))
        goto done;

    memset(&a, 0, sizeof a);
    a.who = who;
    a.idem = idem;
    a.now = now;
    a.p = p;
    kura_db_new_id(a.row.id, "wl");
    snprintf(a.row.name, sizeof a.row.name, "%s", policy->wallet.name);
    snprintf(a.row.chain, sizeof a.row.chain, "%s", kura_intent_chain_name(policy->chain));
    a.row.descriptor = shape.canonical;
    snprintf(a.row.checksum, sizeof a.row.checksum, "%s", shape.checksum);
    snprintf(a.row.kind, sizeof a.row.kind, "%s", shape.kind);
    a.row.threshold = shape.threshold;
    a.row.policy_version = (int64_t)policy->version;
    a.row.birth_height = req->birth_height;
    a.row.min_confirmations = req->min_confirmations ? req->min_confirmations : 1;
    a.row.created_at = now;
    snprintf(a.policy.wallet_id, sizeof a.policy.wallet_id, "%s", a.row.id);
    a.policy.version = (int64_t)policy->version;
    a.policy.text = (char *)req->policy;
    a.policy.accepted_at = now;
    {
        json_t *sj = signatures_json(req->policy_signatures, req->policy_signature_count);
        a.policy.signatures = sj ? json_dumps(sj, JSON_COMPACT) : NULL;
        json_decref(sj);
    }
    if (!a.policy.signatures) {
        rc = kura_problem_set(p, KURA_PROBLEM_INTERNAL, "out of memory");
        goto done;
    }
    rc = kura_store_write(st, register_tx, &a, &err);
    free(a.policy.signatures);
    if (rc == 0)
        *out = a.out;
    else {
        json_decref(a.out);
        rc = kura_problem_from_db(p, rc, &err, "wallet");
    }
done:
    kura_descriptor_string_free(bsms_desc);
    shape_clear(&shape);
    kura_policy_free(policy);
    return rc;
}

/* ---- get, list ---- */

typedef struct get_arg {
    const char *id;
    json_t *out;
    kura_problem *p;
} get_arg;

static int get_tx(kura_db *db, void *arg, kura_db_error *err)
{
    get_arg *a = arg;
    kura_wallet_row w = {0};
    kura_policy_row r = {0};
    int rc;
    json_decref(a->out);
    a->out = NULL;
    if ((rc = kura_store_wallet_get(db, a->id, &w, err)))
        return rc;
    rc = kura_store_policy_get(db, a->id, w.policy_version, &r, err);
    if (rc == KURA_DB_OK) {
        json_error_t jerr;
        a->out = dom_wallet_json(&w);
        json_t *pol = json_pack("{s:I, s:s, s:o, s:I}", "version", (json_int_t)r.version, "text",
                                r.text, "signatures", json_loads(r.signatures, 0, &jerr),
                                "accepted_at", (json_int_t)r.accepted_at);
        if (!a->out || !pol)
            rc = KURA_DB_ENOMEM;
        else
            json_object_set_new(a->out, "policy", pol);
    }
    kura_wallet_row_clear(&w);
    kura_policy_row_clear(&r);
    return rc;
}

int kura_srvwallet_get(kura_store *st, const char *wallet_id, json_t **out, kura_problem *p)
{
    get_arg a = {wallet_id, NULL, p};
    kura_db_error err = {0};
    int rc;
    *out = NULL;
    if (!wallet_id || !*wallet_id)
        return kura_problem_set(p, KURA_PROBLEM_NOT_FOUND, "no such wallet");
    rc = kura_store_read(st, get_tx, &a, &err);
    if (rc) {
        json_decref(a.out);
        return kura_problem_from_db(p, rc, &err, "wallet");
    }
    *out = a.out;
    return 0;
}

typedef struct list_arg {
    const char *cursor;
    size_t limit;
    json_t *page;
} list_arg;

static int list_tx(kura_db *db, void *arg, kura_db_error *err)
{
    list_arg *a = arg;
    kura_wallet_row *rows = NULL;
    size_t n = 0;
    json_t *items;
    int rc;
    json_decref(a->page);
    a->page = NULL;
    if ((rc = kura_store_wallet_list(db, a->cursor, a->limit + 1, &rows, &n, err)))
        return rc;
    items = json_array();
    for (size_t i = 0; items && i < n && i < a->limit; i++)
        json_array_append_new(items, dom_wallet_json(&rows[i]));
    if (items)
        a->page = dom_page(items, n > a->limit ? rows[a->limit - 1].id : NULL);
    for (size_t i = 0; i < n; i++)
        kura_wallet_row_clear(&rows[i]);
    free(rows);
    return a->page ? KURA_DB_OK : KURA_DB_ENOMEM;
}

int kura_srvwallet_list(kura_store *st, const char *cursor, size_t limit, json_t **page,
                        kura_problem *p)
{
    list_arg a = {cursor && *cursor ? cursor : NULL, 0, NULL};
    kura_db_error err = {0};
    int rc;
    *page = NULL;
    if ((rc = dom_limit(limit, &a.limit, p)))
        return rc;
    if (!dom_cursor_valid(cursor, "wl"))
        return kura_problem_set(p, KURA_PROBLEM_BAD_CURSOR, "not a wallet cursor");
    rc = kura_store_read(st, list_tx, &a, &err);
    if (rc) {
        json_decref(a.page);
        return kura_problem_from_db(p, rc, &err, "wallet");
    }
    *page = a.page;
    return 0;
}

/* ---- policy update ---- */

typedef struct update_arg {
    const kura_principal *who;
    const char *wallet_id;
    const char *text;
    const char *signatures;     /* JSON */
    int64_t now;
    json_t *out;
    kura_problem *p;
} update_arg;

static int update_tx(kura_db *db, void *arg, kura_db_error *err)
{
    update_arg *a = arg;
    dom_wallet w;
    kura_policy *next = NULL;
    kura_error kerr = {0};
    kura_policy_row r = {0};
    json_t *snap;
    int rc;
    json_decref(a->out);
    a->out = NULL;
    /* Lock the wallet row (PostgreSQL) so two updates cannot both succeed
     * against the same version in force. */
    if ((rc = kura_db_exec(db, NULL, "UPDATE wallets SET policy_version = policy_version WHERE id = $1",
                           (kura_db_param[]){KURA_DB_TEXT(a->wallet_id)}, 1, err)))
        return rc;
    if ((rc = dom_wallet_load(db, a->wallet_id, 0, &w, a->p)))
        return rc;
    if (kura_policy_parse(&next, (const uint8_t *)a->text, strlen(a->text), &kerr) != KURA_OK) {
        rc = kura_problem_set(a->p, KURA_PROBLEM_INVALID_POLICY, "%s", kerr.message);
        goto done;
    }
    if (strcmp(next->wallet.name, w.row.name) != 0 ||
        strcmp(next->wallet.checksum, w.row.checksum) != 0 || next->chain != w.chain) {
        rc = kura_problem_set(a->p, KURA_PROBLEM_POLICY_MISMATCH,
                              "the policy is for %s #%s on %s; this wallet is %s #%s on %s",
                              next->wallet.name, next->wallet.checksum,
                              kura_intent_chain_name(next->chain), w.row.name, w.row.checksum,
                              w.row.chain);
        goto done;
    }
    if (kura_policy_check_successor(w.policy, next, &kerr) != KURA_OK) {
        rc = kura_problem_set(a->p, KURA_PROBLEM_POLICY_STALE, "%s", kerr.message);
        goto done;
    }
    {
        /* Authorised by the administrators of the policy IN FORCE. */
        json_error_t jerr;
        json_t *sj = json_loads(a->signatures, 0, &jerr);
        size_t n = json_array_size(sj);
        const char **sigs = calloc(n ? n : 1, sizeof *sigs);
        for (size_t i = 0; sigs && i < n; i++)
            sigs[i] = json_string_value(json_array_get(sj, i));
        rc = sigs ? policy_signatures_check(w.policy, a->text, sigs, n, a->p)
                  : kura_problem_set(a->p, KURA_PROBLEM_INTERNAL, "out of memory");
        free(sigs);
        json_decref(sj);
        if (rc)
            goto done;
    }
    snprintf(r.wallet_id, sizeof r.wallet_id, "%s", w.row.id);
    r.version = (int64_t)next->version;
    r.text = (char *)a->text;
    r.signatures = (char *)a->signatures;
    r.accepted_at = a->now;
    if ((rc = kura_store_policy_insert(db, &r, err)) ||
        (rc = kura_store_wallet_set_policy_version(db, w.row.id, r.version, err)))
        goto done;
    w.row.policy_version = r.version;
    if ((rc = audit_policy(db, dom_actor(a->who), &r, a->now, err)))
        goto done;
    /* The wallet's snapshot holds policy_version: a row for it too. */
    snap = dom_wallet_snapshot(&w.row);
    rc = snap ? dom_audit(db, dom_actor(a->who), "wallet.policy_changed", "wallet", w.row.id, NULL,
                          snap, a->now, NULL, NULL, err)
              : KURA_DB_ENOMEM;
    json_decref(snap);
    if (rc)
        goto done;
    a->out = dom_wallet_json(&w.row);
    rc = a->out ? 0 : KURA_DB_ENOMEM;
done:
    kura_policy_free(next);
    dom_wallet_clear(&w);
    return rc;
}

int kura_srvwallet_policy_update(kura_store *st, const kura_principal *who, const char *wallet_id,
                                 const char *policy, const char *const *sigs, size_t nsigs,
                                 int64_t now, json_t **out, kura_problem *p)
{
    update_arg a = {who, wallet_id, policy, NULL, now, NULL, p};
    kura_db_error err = {0};
    json_t *sj;
    int rc;
    *out = NULL;
    if (!policy || !*policy)
        return kura_problem_set(p, KURA_PROBLEM_MISSING_FIELD, "policy is required");
    if (nsigs == 0 || !sigs)
        return kura_problem_set(p, KURA_PROBLEM_POLICY_SIGNATURES,
                                "the policy carries no administrator signatures");
    for (size_t i = 0; i < nsigs; i++)
        if (!sigs[i])
            return kura_problem_set(p, KURA_PROBLEM_INVALID_FIELD, "signature %zu is null", i);
    sj = signatures_json(sigs, nsigs);
    a.signatures = sj ? json_dumps(sj, JSON_COMPACT) : NULL;
    json_decref(sj);
    if (!a.signatures)
        return kura_problem_set(p, KURA_PROBLEM_INTERNAL, "out of memory");
    rc = kura_store_write(st, update_tx, &a, &err);
    free((char *)a.signatures);
    if (rc) {
        json_decref(a.out);
        return kura_problem_from_db(p, rc, &err, "wallet");
    }
    *out = a.out;
    return 0;
}
