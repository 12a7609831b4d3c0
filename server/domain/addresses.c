/*
 * server/domain/addresses.c — deposit addresses allocated in order, and the
 * wallet's coins (addresses.h).
 */
#include "domain/addresses.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "domain/domain_internal.h"
#include "kura/script.h"
#include "kura/tx.h"

/* Account and label: UTF-8 text without control characters, bounded. */
static int text_ok(const char *s, size_t max)
{
    size_t n = s ? strlen(s) : 0;
    if (n > max)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f)
            return 0;
    }
    return 1;
}

static json_t *address_json(const kura_address_row *a)
{
    char id[48];
    snprintf(id, sizeof id, "%lld:%lld", (long long)a->branch, (long long)a->idx);
    return json_pack("{s:s, s:s, s:s, s:I, s:I, s:s, s:s, s:s, s:I}", "id", id, "wallet_id",
                     a->wallet_id, "address", a->address, "branch", (json_int_t)a->branch, "index",
                     (json_int_t)a->idx, "account", a->account, "label", a->label, "script",
                     a->script, "created_at", (json_int_t)a->created_at);
}

/* The wallet's row and parsed descriptor, enough to derive. */
typedef struct deriver {
    kura_wallet_row row;
    const kura_descriptor *desc;
    void *handle;
    kura_network network;
} deriver;

static void deriver_clear(deriver *d)
{
    kura_wallet_row_clear(&d->row);
    dom_cache_release(d->handle);
    memset(d, 0, sizeof *d);
}

static int deriver_load(kura_db *db, const char *wallet_id, deriver *d, kura_problem *p,
                        kura_db_error *err)
{
    kura_intent_chain chain;
    kura_error kerr = {0};
    int rc;
    memset(d, 0, sizeof *d);
    if ((rc = kura_store_wallet_get(db, wallet_id, &d->row, err)))
        return rc == KURA_DB_ENOTFOUND ? kura_problem_set(p, KURA_PROBLEM_NOT_FOUND, "no such wallet")
                                       : rc;
    if (!dom_ctx() || dom_chain_parse(d->row.chain, &chain) != 0 ||
        kura_intent_chain_network(&d->network, chain) != KURA_OK ||
        dom_descriptor_acquire(d->row.descriptor, &d->desc, &d->handle, &kerr) != KURA_OK) {
        deriver_clear(d);
        return kura_problem_set(p, KURA_PROBLEM_INTERNAL, "wallet %s: stored descriptor: %s",
                                wallet_id, kerr.message);
    }
    return 0;
}

int dom_address_derive(const kura_descriptor *desc, kura_network network, const char *wallet_id,
                       int branch, int64_t index, kura_address_row *a, kura_problem *p)
{
    uint8_t script[KURA_SCRIPT_PUBKEY_MAX];
    size_t slen = 0;
    kura_error kerr = {0};
    memset(a, 0, sizeof *a);
    if (index < 0 || index >= (int64_t)KURA_BIP32_HARDENED)
        return kura_problem_set(p, KURA_PROBLEM_INVALID_FIELD,
                                "the wallet's index space on branch %d is exhausted", branch);
    if (kura_descriptor_script_pubkey(dom_ctx(), script, sizeof script, &slen, desc, (size_t)branch,
                                      (uint32_t)index, &kerr) != KURA_OK ||
        kura_address_from_script(a->address, sizeof a->address, script, slen, network, &kerr) !=
            KURA_OK)
        return kura_problem_set(p, KURA_PROBLEM_INTERNAL, "cannot derive %d/%lld: %s", branch,
                                (long long)index, kerr.message);
    sodium_bin2hex(a->script, sizeof a->script, script, slen);
    snprintf(a->wallet_id, sizeof a->wallet_id, "%s", wallet_id);
    a->branch = branch;
    a->idx = index;
    return 0;
}

/* ---- allocate ---- */

typedef struct alloc_arg {
    const char *wallet_id;
    const char *account;
    const char *label;
    const kura_idem *idem;
    int64_t now;
    json_t *out;
    kura_problem *p;
} alloc_arg;

static int alloc_tx(kura_db *db, void *arg, kura_db_error *err)
{
    alloc_arg *a = arg;
    deriver d;
    kura_address_row row;
    int64_t idx = -1;
    int rc;
    json_decref(a->out);
    a->out = NULL;
    /* One UPDATE ... RETURNING takes the index: O(1), and on PostgreSQL it
     * holds the wallet's row lock, so indexes are never handed out twice. */
    rc = kura_store_wallet_take_index(db, a->wallet_id, 0, &idx, err);
    if (rc == KURA_DB_ENOTFOUND)
        return kura_problem_set(a->p, KURA_PROBLEM_NOT_FOUND, "no such wallet");
    if (rc)
        return rc;
    if ((rc = deriver_load(db, a->wallet_id, &d, a->p, err)))
        return rc;
    rc = dom_address_derive(d.desc, d.network, a->wallet_id, 0, idx, &row, a->p);
    deriver_clear(&d);
    if (rc)
        return rc;
    snprintf(row.account, sizeof row.account, "%s", a->account);
    snprintf(row.label, sizeof row.label, "%s", a->label);
    row.created_at = a->now;
    if ((rc = kura_store_address_insert(db, &row, err)))
        return rc;
    a->out = address_json(&row);
    if (!a->out)
        return KURA_DB_ENOMEM;
    return dom_idem_complete(db, a->idem, 201, a->out, err);
}

int kura_address_allocate(kura_store *st, const kura_principal *who, const char *wallet_id,
                          const char *account, const char *label, const kura_idem *idem,
                          int64_t now, json_t **out, kura_problem *p)
{
    alloc_arg a = {wallet_id, account ? account : "", label ? label : "", idem, now, NULL, p};
    kura_db_error err = {0};
    int rc;
    (void)who;
    *out = NULL;
    if (!wallet_id || !*wallet_id)
        return kura_problem_set(p, KURA_PROBLEM_NOT_FOUND, "no such wallet");
    if (!text_ok(a.account, KURA_ADDRESS_ACCOUNT_MAX))
        return kura_problem_set(p, KURA_PROBLEM_INVALID_FIELD,
                                "account: at most %d bytes, no control characters",
                                KURA_ADDRESS_ACCOUNT_MAX);
    if (!text_ok(a.label, KURA_ADDRESS_LABEL_MAX))
        return kura_problem_set(p, KURA_PROBLEM_INVALID_FIELD,
                                "label: at most %d bytes, no control characters",
                                KURA_ADDRESS_LABEL_MAX);
    rc = kura_store_write(st, alloc_tx, &a, &err);
    if (rc) {
        json_decref(a.out);
        return kura_problem_from_db(p, rc, &err, "wallet");
    }
    *out = a.out;
    return 0;
}

/* ---- the recovery scan ---- */

int kura_address_mark_used(kura_db *db, const char *wallet_id, int branch, int64_t idx,
                           const char *actor, int64_t now, size_t *inserted, kura_db_error *err)
{
    deriver d;
    kura_problem p;
    int64_t next, moved_to = -1;
    int rc;
    if (inserted)
        *inserted = 0;
    /* The row lock first (PostgreSQL), as allocation's UPDATE takes it. */
    if ((rc = kura_store_wallet_lock(db, wallet_id, err)))
        return rc;
    if ((rc = deriver_load(db, wallet_id, &d, &p, err))) {
        if (rc > 0) { /* a problem code: the descriptor */
            snprintf(err->message, sizeof err->message, "%s", p.message);
            rc = err->code = KURA_DB_EINVAL;
        }
        return rc;
    }
    next = branch ? d.row.next_change_index : d.row.next_receive_index;
    while (rc == KURA_DB_OK && next <= idx) {
        kura_address_row row, have;
        int64_t taken = -1;
        if ((rc = kura_store_wallet_take_index(db, wallet_id, branch, &taken, err)))
            break;
        next = taken + 1;
        moved_to = taken;
        if (dom_address_derive(d.desc, d.network, wallet_id, branch, taken, &row, &p)) {
            snprintf(err->message, sizeof err->message, "%s", p.message);
            rc = err->code = KURA_DB_EINVAL;
            break;
        }
        rc = kura_store_address_find(db, row.address, &have, err);
        if (rc == KURA_DB_OK)
            continue; /* allocated before the index counter knew it */
        if (rc != KURA_DB_ENOTFOUND)
            break;
        snprintf(row.label, sizeof row.label, "recovered");
        row.created_at = now;
        if ((rc = kura_store_address_insert(db, &row, err)) == KURA_DB_OK && inserted)
            (*inserted)++;
    }
    if (rc == KURA_DB_OK && branch && moved_to >= 0) {
        /* The change index is in the wallet's audited snapshot. */
        kura_wallet_row w;
        json_t *snap = NULL, *data = NULL;
        memset(&w, 0, sizeof w);
        if ((rc = kura_store_wallet_get(db, wallet_id, &w, err)) == KURA_DB_OK) {
            snap = dom_wallet_snapshot(&w);
            data = json_pack("{s:I, s:s}", "change_index", (json_int_t)moved_to, "why",
                             "used on chain (recovery scan)");
            rc = snap && data ? dom_audit(db, actor, "wallet.change_recovered", "wallet",
                                          wallet_id, data, snap, now, NULL, NULL, err)
                              : KURA_DB_ENOMEM;
        }
        kura_wallet_row_clear(&w);
        json_decref(snap);
        json_decref(data);
    }
    deriver_clear(&d);
    return rc;
}

/* ---- list ---- */

typedef struct list_arg {
    const char *wallet_id;
    const char *account;
    int64_t after;
    size_t limit;
    json_t *page;
    kura_problem *p;
} list_arg;

static int list_tx(kura_db *db, void *arg, kura_db_error *err)
{
    list_arg *a = arg;
    kura_wallet_row w = {0};
    kura_address_row *rows = NULL;
    size_t n = 0;
    json_t *items;
    char cursor[24];
    int rc;
    json_decref(a->page);
    a->page = NULL;
    rc = kura_store_wallet_get(db, a->wallet_id, &w, err);
    kura_wallet_row_clear(&w);
    if (rc == KURA_DB_ENOTFOUND)
        return kura_problem_set(a->p, KURA_PROBLEM_NOT_FOUND, "no such wallet");
    if (rc)
        return rc;
    if ((rc = kura_store_address_list(db, a->wallet_id, a->account, a->after, a->limit + 1, &rows,
                                      &n, err)))
        return rc;
    items = json_array();
    for (size_t i = 0; items && i < n && i < a->limit; i++)
        json_array_append_new(items, address_json(&rows[i]));
    if (n > a->limit)
        snprintf(cursor, sizeof cursor, "%lld", (long long)rows[a->limit - 1].idx);
    if (items)
        a->page = dom_page(items, n > a->limit ? cursor : NULL);
    free(rows);
    return a->page ? KURA_DB_OK : KURA_DB_ENOMEM;
}

int kura_address_list(kura_store *st, const char *wallet_id, const char *account,
                      const char *cursor, size_t limit, json_t **page, kura_problem *p)
{
    list_arg a = {wallet_id, account, -1, 0, NULL, p};
    kura_db_error err = {0};
    int rc;
    *page = NULL;
    if (!wallet_id || !*wallet_id)
        return kura_problem_set(p, KURA_PROBLEM_NOT_FOUND, "no such wallet");
    if ((rc = dom_limit(limit, &a.limit, p)))
        return rc;
    if (cursor && *cursor) {
        char *end = NULL;
        long long v = strtoll(cursor, &end, 10);
        if (!end || *end || v < 0 || cursor[0] == '+' || cursor[0] == '-' || cursor[0] == ' ' ||
            v >= (long long)KURA_BIP32_HARDENED || (cursor[0] == '0' && cursor[1]))
            return kura_problem_set(p, KURA_PROBLEM_BAD_CURSOR, "not an address cursor");
        a.after = v;
    }
    rc = kura_store_read(st, list_tx, &a, &err);
    if (rc) {
        json_decref(a.page);
        return kura_problem_from_db(p, rc, &err, "wallet");
    }
    *page = a.page;
    return 0;
}

/* ---- UTXOs ---- */

typedef struct utxo_arg {
    const char *wallet_id;
    kura_utxo_row row;           /* txid, vout, amount, script, prev_tx, height filled */
    kura_problem *p;
} utxo_arg;

static int utxo_tx(kura_db *db, void *arg, kura_db_error *err)
{
    utxo_arg *a = arg;
    kura_wallet_row w = {0};
    kura_address_row addr;
    kura_intent_chain chain;
    kura_network network;
    uint8_t script[KURA_SCRIPT_PUBKEY_MAX * 2];
    size_t slen = 0;
    char address[KURA_ADDRESS_MAX];
    int rc = kura_store_wallet_get(db, a->wallet_id, &w, err);
    if (rc == KURA_DB_ENOTFOUND)
        return kura_problem_set(a->p, KURA_PROBLEM_NOT_FOUND, "no such wallet");
    if (rc)
        return rc;
    rc = dom_chain_parse(w.chain, &chain) == 0 && kura_intent_chain_network(&network, chain) == KURA_OK
             ? 0
             : kura_problem_set(a->p, KURA_PROBLEM_INTERNAL, "wallet chain");
    kura_wallet_row_clear(&w);
    if (rc)
        return rc;
    if (sodium_hex2bin(script, sizeof script, a->row.script, strlen(a->row.script), NULL, &slen,
                       NULL) != 0 ||
        kura_address_from_script(address, sizeof address, script, slen, network, NULL) != KURA_OK)
        return kura_problem_set(a->p, KURA_PROBLEM_INVALID_FIELD,
                                "output %lld pays no address of this wallet", (long long)a->row.vout);
    rc = kura_store_address_find(db, address, &addr, err);
    if (rc == KURA_DB_ENOTFOUND || (rc == 0 && (strcmp(addr.wallet_id, a->wallet_id) != 0 ||
                                                strcmp(addr.script, a->row.script) != 0)))
        return kura_problem_set(a->p, KURA_PROBLEM_INVALID_FIELD,
                                "output %lld pays %s, which is not an allocated address of this "
                                "wallet",
                                (long long)a->row.vout, address);
    if (rc)
        return rc;
    a->row.branch = addr.branch;
    a->row.idx = addr.idx;
    snprintf(a->row.wallet_id, sizeof a->row.wallet_id, "%s", a->wallet_id);
    return kura_store_utxo_upsert(db, &a->row, err);
}

int kura_utxo_add(kura_store *st, const char *wallet_id, const char *prev_tx_hex, uint32_t vout,
                  int64_t height, int64_t now, kura_problem *p)
{
    utxo_arg a;
    kura_tx *tx = NULL;
    kura_error kerr = {0};
    kura_db_error err = {0};
    uint8_t txid[32];
    uint8_t *bytes;
    size_t hexlen, blen = 0;
    int rc;
    memset(&a, 0, sizeof a);
    if (!wallet_id || !*wallet_id)
        return kura_problem_set(p, KURA_PROBLEM_NOT_FOUND, "no such wallet");
    if (!prev_tx_hex || !*prev_tx_hex)
        return kura_problem_set(p, KURA_PROBLEM_MISSING_FIELD, "the funding transaction is required");
    hexlen = strlen(prev_tx_hex);
    if (hexlen % 2 || hexlen / 2 > KURA_TX_MAX_SIZE)
        return kura_problem_set(p, KURA_PROBLEM_INVALID_FIELD, "the funding transaction is not hex");
    bytes = malloc(hexlen / 2 + 1);
    if (!bytes)
        return kura_problem_set(p, KURA_PROBLEM_INTERNAL, "out of memory");
    if (sodium_hex2bin(bytes, hexlen / 2 + 1, prev_tx_hex, hexlen, NULL, &blen, NULL) != 0 ||
        blen != hexlen / 2) {
        free(bytes);
        return kura_problem_set(p, KURA_PROBLEM_INVALID_FIELD, "the funding transaction is not hex");
    }
    rc = kura_tx_parse(&tx, bytes, blen, KURA_TX_WITNESS, &kerr);
    free(bytes);
    if (rc != KURA_OK)
        return kura_problem_set(p, KURA_PROBLEM_INVALID_FIELD, "the funding transaction: %s",
                                kerr.message);
    if (vout >= tx->output_count || tx->outputs[vout].script_pubkey.len > KURA_SCRIPT_PUBKEY_MAX) {
        rc = kura_problem_set(p, KURA_PROBLEM_INVALID_FIELD,
                              vout >= tx->output_count ? "the transaction has no output %u"
                                                       : "output %u pays no address of this wallet",
                              vout);
        kura_tx_free(tx);
        return rc;
    }
    kura_tx_txid(txid, tx);
    kura_txid_to_hex(a.row.txid, txid);
    a.row.vout = vout;
    a.row.amount = (int64_t)tx->outputs[vout].amount;
    sodium_bin2hex(a.row.script, sizeof a.row.script, tx->outputs[vout].script_pubkey.data,
                   tx->outputs[vout].script_pubkey.len);
    kura_tx_free(tx);
    /* Kept as lower-case hex, whatever case it came in. */
    a.row.prev_tx = strdup(prev_tx_hex);
    if (!a.row.prev_tx)
        return kura_problem_set(p, KURA_PROBLEM_INTERNAL, "out of memory");
    for (char *c = a.row.prev_tx; *c; c++)
        if (*c >= 'A' && *c <= 'F')
            *c = (char)(*c - 'A' + 'a');
    a.row.height = height < 0 ? -1 : height;
    a.row.created_at = now;
    a.wallet_id = wallet_id;
    a.p = p;
    rc = kura_store_write(st, utxo_tx, &a, &err);
    free(a.row.prev_tx);
    return rc ? kura_problem_from_db(p, rc, &err, "wallet") : 0;
}
