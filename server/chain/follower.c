/*
 * server/chain/follower.c — the chain follower (follower.h).
 */
#include "chain/follower.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "chain/chain_internal.h"
#include "domain/addresses.h"
#include "domain/transfers.h"
#include "kura/block.h"
#include "kura/descriptor.h"
#include "kura/keys.h"
#include "kura/watch.h"
#include "store/db.h"
#include "store/leader.h"

/* Values in the outpoint set: an input of an unconfirmed deposit's
 * transaction (a conflict to watch for), or a coin of wallet number
 * value - TAG_COIN (f->wallets). */
#define TAG_CONFLICT 1u
#define TAG_COIN 2u
/* How far a replacement's descendants are followed. */
#define MAX_DESCENT 32

typedef struct watched_addr {
    char wallet_id[KURA_DB_ID_SIZE];
    int64_t branch, idx;
    char address[96];
    char script[96]; /* hex */
    char account[132];
    int64_t min_conf;
} watched_addr;

/* What a scan matches outputs against: the index (values: positions in
 * addrs) and the addresses. The follower's own (every allocated address of
 * every wallet), or a recovery scan's (one wallet's gap-limit window). */
typedef struct watch_view {
    kura_watch_index *idx;
    const watched_addr *addrs;
    size_t naddrs;
} watch_view;

/* A recovery scan in progress (rescan.h), rebuilt from its wallet_rescans
 * row whenever the row's generation is not the one held. */
typedef struct rescan_run {
    char wallet_id[KURA_DB_ID_SIZE];
    char generation[KURA_DB_ID_SIZE];
    kura_ctx *ctx;
    kura_descriptor *desc;
    kura_network network;
    int64_t min_conf;
    int64_t gap;
    int64_t used[2];    /* highest index used, per branch (-1: none) */
    int64_t window[2];  /* highest index watched, per branch */
    kura_watch_index *idx;
    watched_addr *addrs;
    size_t naddrs;
} rescan_run;

struct kura_follower {
    kura_store *st;
    kura_rpc *rpc;
    kura_leader *elect; /* the election (leader.h): one follower writes at a time */
    int64_t start_height;
    int no_mempool;
    size_t max_blocks;
    uint8_t key[KURA_WATCH_KEY_LEN];
    kura_watch_index *idx;
    watched_addr *addrs;
    size_t naddrs;
    kura_watch_outpoints *ops;
    int ops_valid;
    kura_watch_result *res;
    char (*seen)[65];   /* mempool txids scanned, sorted */
    size_t nseen;
    int leader;         /* led at the last step */
    char (*wallets)[KURA_DB_ID_SIZE]; /* wallet ids, in the order first seen (never reordered) */
    int64_t (*wmax)[2];  /* per wallet: the highest index loaded per branch */
    size_t nwallets;
    rescan_run *rescan; /* the recovery scan being run, or NULL */
    struct offered_tx {  /* mempool transactions handed over (ZMQ rawtx) */
        char txid[65];
        uint8_t *bytes;
        size_t len;
    } *offered;
    size_t noffered;
};

#define MAX_OFFERED 10000

static void offered_clear(kura_follower *f)
{
    for (size_t i = 0; i < f->noffered; i++)
        free(f->offered[i].bytes);
    free(f->offered);
    f->offered = NULL;
    f->noffered = 0;
}

static void rescan_run_free(rescan_run *run);

/* The follower's own view of what is watched. */
static watch_view live_view(const kura_follower *f)
{
    watch_view v = {f->idx, f->addrs, f->naddrs};
    return v;
}

#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static int fail(kura_rpc_error *err, int code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        err->code = code;
        err->rpc_code = 0;
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
    }
    return code;
}

static int db_fail(kura_rpc_error *err, int rc, const kura_db_error *dberr)
{
    return fail(err, KURA_FOLLOWER_EDB, "database: %s (%s)", dberr->message,
                kura_db_status_name(rc));
}

int kura_follower_new(kura_follower **out, kura_store *st, kura_rpc *rpc,
                      const kura_follower_options *opts, kura_rpc_error *err)
{
    kura_follower *f;
    if (!out || !st || !rpc)
        return fail(err, KURA_RPC_EINVAL, "bad arguments");
    *out = NULL;
    f = calloc(1, sizeof *f);
    if (!f)
        return fail(err, KURA_RPC_ENOMEM, "out of memory");
    f->st = st;
    f->rpc = rpc;
    {
        char holder[64];
        kura_db_error dberr = {0};
        if (opts && opts->holder && opts->holder[0]) {
            snprintf(holder, sizeof holder, "%s", opts->holder);
        } else {
            uint8_t r[8];
            char hex[17];
            randombytes_buf(r, sizeof r);
            sodium_bin2hex(hex, sizeof hex, r, sizeof r);
            snprintf(holder, sizeof holder, "follower-%s", hex);
        }
        if (kura_leader_new(&f->elect, st, KURA_FOLLOWER_LEASE, holder,
                            opts && opts->lease_seconds > 0 ? opts->lease_seconds : 30,
                            &dberr) != KURA_DB_OK) {
            free(f);
            return fail(err, dberr.code == KURA_DB_ENOMEM ? KURA_RPC_ENOMEM : KURA_RPC_EINVAL,
                        "%s", dberr.message);
        }
    }
    f->start_height = opts ? opts->start_height : -1;
    f->no_mempool = opts ? opts->no_mempool : 0;
    f->max_blocks = opts ? opts->max_blocks : 0;
    randombytes_buf(f->key, sizeof f->key);
    f->res = kura_watch_result_new();
    if (!f->res) {
        kura_follower_free(f);
        return fail(err, KURA_RPC_ENOMEM, "out of memory");
    }
    *out = f;
    return KURA_RPC_OK;
}

void kura_follower_free(kura_follower *f)
{
    if (!f)
        return;
    kura_leader_free(f->elect);
    kura_watch_index_free(f->idx);
    kura_watch_outpoints_free(f->ops);
    kura_watch_result_free(f->res);
    free(f->addrs);
    free(f->seen);
    free(f->wallets);
    free(f->wmax);
    rescan_run_free(f->rescan);
    offered_clear(f);
    sodium_memzero(f->key, sizeof f->key);
    free(f);
}

static int64_t col_int(const kura_db_result *res, size_t row, size_t col, int64_t dflt)
{
    int64_t v;
    return kura_db_result_int(&v, res, row, col) == KURA_DB_OK ? v : dflt;
}

static const char *col_text(const kura_db_result *res, size_t row, size_t col)
{
    const char *s = kura_db_result_text(res, row, col);
    return s ? s : "";
}

/* ---- the election ---- */

void kura_follower_release(kura_follower *f)
{
    if (f)
        kura_leader_release(f->elect);
}

/* ---- what is watched ---- */

/* What is watched is loaded incrementally: wallets are appended to
 * f->wallets in the order first seen (their number, used in outpoint values,
 * never changes), and each poll reads only the addresses above the highest
 * index loaded per wallet and branch (allocation takes indexes in order), a
 * primary-key range read: no table scan per poll, however many millions of
 * addresses are allocated. */
typedef struct load_wallet {
    char id[KURA_DB_ID_SIZE];
    int64_t min_conf;
} load_wallet;

typedef struct load_arg {
    kura_follower *f;
    char chain[16];
    int64_t birth;
    int chains;
    load_wallet *wallets;  /* every wallet, in id order */
    size_t nwallets;
    watched_addr *addrs;   /* addresses not loaded yet */
    size_t naddrs;
} load_arg;

static void load_arg_clear(load_arg *a)
{
    free(a->wallets);
    free(a->addrs);
    a->wallets = NULL;
    a->addrs = NULL;
    a->nwallets = a->naddrs = 0;
}

static size_t wallet_number(const kura_follower *f, const char *id)
{
    for (size_t i = 0; i < f->nwallets; i++)
        if (strcmp(f->wallets[i], id) == 0)
            return i;
    return f->nwallets;
}

static int load_fn(kura_db *db, void *varg, kura_db_error *err)
{
    load_arg *a = varg;
    kura_db_result *res = NULL;
    int rc;
    load_arg_clear(a);
    if ((rc = kura_db_exec(db, &res, "SELECT chain, MIN(birth_height) FROM wallets GROUP BY chain",
                           NULL, 0, err)))
        return rc;
    a->chains = (int)kura_db_result_rows(res);
    if (a->chains > 0) {
        snprintf(a->chain, sizeof a->chain, "%s", col_text(res, 0, 0));
        a->birth = col_int(res, 0, 1, 0);
    }
    kura_db_result_free(res);
    res = NULL;
    if ((rc = kura_db_exec(db, &res, "SELECT id, min_confirmations FROM wallets ORDER BY id", NULL,
                           0, err)))
        return rc;
    a->nwallets = kura_db_result_rows(res);
    a->wallets = calloc(a->nwallets ? a->nwallets : 1, sizeof *a->wallets);
    if (!a->wallets) {
        kura_db_result_free(res);
        return KURA_DB_ENOMEM;
    }
    for (size_t i = 0; i < a->nwallets; i++) {
        snprintf(a->wallets[i].id, sizeof a->wallets[i].id, "%s", col_text(res, i, 0));
        a->wallets[i].min_conf = col_int(res, i, 1, 1);
    }
    kura_db_result_free(res);
    res = NULL;
    for (size_t w = 0; w < a->nwallets; w++) {
        size_t num = wallet_number(a->f, a->wallets[w].id);
        for (int64_t br = 0; br < 2; br++) {
            int64_t after = num < a->f->nwallets ? a->f->wmax[num][br] : -1;
            size_t n;
            watched_addr *grown;
            if ((rc = kura_db_exec(db, &res,
                                   "SELECT idx, address, script, account FROM addresses WHERE "
                                   "wallet_id = $1 AND branch = $2 AND idx > $3 ORDER BY idx",
                                   (kura_db_param[]){KURA_DB_TEXT(a->wallets[w].id),
                                                     KURA_DB_INT(br), KURA_DB_INT(after)},
                                   3, err)))
                return rc;
            n = kura_db_result_rows(res);
            if (n) {
                grown = realloc(a->addrs, (a->naddrs + n) * sizeof *grown);
                if (!grown) {
                    kura_db_result_free(res);
                    return KURA_DB_ENOMEM;
                }
                a->addrs = grown;
                for (size_t i = 0; i < n; i++) {
                    watched_addr *x = &a->addrs[a->naddrs++];
                    memset(x, 0, sizeof *x);
                    snprintf(x->wallet_id, sizeof x->wallet_id, "%s", a->wallets[w].id);
                    x->branch = br;
                    x->idx = col_int(res, i, 0, 0);
                    snprintf(x->address, sizeof x->address, "%s", col_text(res, i, 1));
                    snprintf(x->script, sizeof x->script, "%s", col_text(res, i, 2));
                    snprintf(x->account, sizeof x->account, "%s", col_text(res, i, 3));
                    x->min_conf = a->wallets[w].min_conf;
                }
            }
            kura_db_result_free(res);
            res = NULL;
        }
    }
    return KURA_DB_OK;
}

/* Adds the wallets and addresses a poll found to what is watched. */
static int load_watch(kura_follower *f, load_arg *a, kura_rpc_error *err)
{
    kura_db_error dberr = {0};
    int rc;
    memset(a, 0, sizeof *a);
    a->f = f;
    if (!f->idx && kura_watch_index_new(&f->idx, f->key) != 0)
        return fail(err, KURA_RPC_ENOMEM, "out of memory");
    if ((rc = kura_store_read(f->st, load_fn, a, &dberr))) {
        load_arg_clear(a);
        return db_fail(err, rc, &dberr);
    }
    for (size_t w = 0; w < a->nwallets; w++) {
        if (wallet_number(f, a->wallets[w].id) < f->nwallets)
            continue;
        char(*ids)[KURA_DB_ID_SIZE] = realloc(f->wallets, (f->nwallets + 1) * sizeof *ids);
        int64_t(*mx)[2] = ids ? realloc(f->wmax, (f->nwallets + 1) * sizeof *mx) : NULL;
        if (ids)
            f->wallets = ids;
        if (!mx)
            goto nomem;
        f->wmax = mx;
        snprintf(f->wallets[f->nwallets], KURA_DB_ID_SIZE, "%s", a->wallets[w].id);
        f->wmax[f->nwallets][0] = f->wmax[f->nwallets][1] = -1;
        f->nwallets++;
    }
    if (a->naddrs) {
        watched_addr *all = realloc(f->addrs, (f->naddrs + a->naddrs) * sizeof *all);
        if (!all || kura_watch_index_reserve(f->idx, f->naddrs + a->naddrs) != 0) {
            if (all)
                f->addrs = all;
            goto nomem;
        }
        f->addrs = all;
        for (size_t i = 0; i < a->naddrs; i++) {
            watched_addr *x = &f->addrs[f->naddrs];
            uint8_t script[64];
            size_t n = 0, num = wallet_number(f, a->addrs[i].wallet_id);
            *x = a->addrs[i];
            if (sodium_hex2bin(script, sizeof script, x->script, strlen(x->script), NULL, &n,
                               NULL) == 0 &&
                kura_watch_index_add(f->idx, script, n, f->naddrs) != 0)
                goto nomem;
            f->naddrs++;
            if (num < f->nwallets && x->idx > f->wmax[num][x->branch ? 1 : 0])
                f->wmax[num][x->branch ? 1 : 0] = x->idx;
        }
    }
    load_arg_clear(a);
    return KURA_RPC_OK;
nomem:
    load_arg_clear(a);
    return fail(err, KURA_RPC_ENOMEM, "out of memory");
}

typedef struct ops_arg {
    kura_follower *f;
    kura_watch_outpoints *ops;
} ops_arg;

/* Rows (txid, vout[, wallet_id]): tag TAG_CONFLICT, or TAG_COIN + the wallet's number. */
static int ops_add_rows(const kura_follower *f, kura_watch_outpoints *ops, kura_db_result *res,
                        uint64_t tag)
{
    for (size_t i = 0; i < kura_db_result_rows(res); i++) {
        uint8_t txid[32];
        uint64_t v = tag;
        if (chain_unhex_rev(txid, col_text(res, i, 0)) != 0)
            continue;
        if (tag == TAG_COIN)
            v += wallet_number(f, col_text(res, i, 2));
        if (kura_watch_outpoints_add(ops, txid, (uint32_t)col_int(res, i, 1, 0), v) != 0)
            return KURA_DB_ENOMEM;
    }
    return KURA_DB_OK;
}

static int ops_fn(kura_db *db, void *varg, kura_db_error *err)
{
    ops_arg *a = varg;
    kura_db_result *res = NULL;
    int rc;
    if ((rc = kura_db_exec(db, &res, "SELECT txid, vout, wallet_id FROM utxos WHERE spent_txid IS NULL",
                           NULL, 0, err)))
        return rc;
    rc = ops_add_rows(a->f, a->ops, res, TAG_COIN);
    kura_db_result_free(res);
    res = NULL;
    if (rc)
        return rc;
    if ((rc = kura_db_exec(db, &res,
                           "SELECT DISTINCT i.prev_txid, i.prev_vout FROM chain_tx_inputs i "
                           "JOIN deposits d ON d.txid = i.txid WHERE d.height IS NULL AND "
                           "d.state IN ('pending', 'reorged')",
                           NULL, 0, err)))
        return rc;
    rc = ops_add_rows(a->f, a->ops, res, TAG_CONFLICT);
    kura_db_result_free(res);
    return rc;
}

static int load_ops(kura_follower *f, kura_rpc_error *err)
{
    ops_arg a = {f, NULL};
    kura_db_error dberr = {0};
    int rc;
    if (f->ops_valid)
        return KURA_RPC_OK;
    if (kura_watch_outpoints_new(&a.ops, f->key) != 0)
        return fail(err, KURA_RPC_ENOMEM, "out of memory");
    if ((rc = kura_store_read(f->st, ops_fn, &a, &dberr))) {
        kura_watch_outpoints_free(a.ops);
        return db_fail(err, rc, &dberr);
    }
    kura_watch_outpoints_free(f->ops);
    f->ops = a.ops;
    f->ops_valid = 1;
    return KURA_RPC_OK;
}

/* ---- recording ---- */

static int deposit_state_for(int64_t height, int64_t tip, int64_t min_conf, int coinbase)
{
    int64_t need = min_conf < 1 ? 1 : min_conf;
    if (coinbase && need < 100)
        need = 100;
    return height >= 0 && tip - height + 1 >= need; /* 1: confirmed */
}

/* An output paying watched address w (height -1: in the mempool). */
typedef struct output_rec {
    const watched_addr *w;
    const char *txid;
    uint32_t vout;
    uint64_t amount;
    int coinbase, own, replaceable;
    int64_t height;
    const char *block_hash;
    const char *tx_hex;
    int64_t tip;
} output_rec;

static int record_output(kura_db *db, const output_rec *o, int64_t now, kura_db_error *err)
{
    kura_db_result *res = NULL;
    char id[KURA_DB_ID_SIZE];
    const char *state;
    int rc;
    int confirmed = deposit_state_for(o->height, o->tip, o->w->min_conf, o->coinbase);
    state = confirmed ? "confirmed" : "pending";
    if ((rc = kura_db_exec(db, &res, "SELECT id, state, own FROM deposits WHERE txid = $1 AND vout = $2",
                           (kura_db_param[]){KURA_DB_TEXT(o->txid), KURA_DB_INT(o->vout)}, 2, err)))
        return rc;
    if (kura_db_result_rows(res) == 0) {
        kura_db_new_id(id, "dp");
        rc = kura_db_exec(
            db, NULL,
            "INSERT INTO deposits (id, wallet_id, txid, vout, address, branch, idx, account, "
            "amount, state, own, coinbase, replaceable, block_hash, height, created_at, "
            "updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, "
            "$15, $16, $16)",
            (kura_db_param[]){KURA_DB_TEXT(id), KURA_DB_TEXT(o->w->wallet_id),
                              KURA_DB_TEXT(o->txid), KURA_DB_INT(o->vout),
                              KURA_DB_TEXT(o->w->address), KURA_DB_INT(o->w->branch),
                              KURA_DB_INT(o->w->idx), KURA_DB_TEXT(o->w->account),
                              KURA_DB_INT((int64_t)o->amount), KURA_DB_TEXT(state),
                              KURA_DB_INT(o->own), KURA_DB_INT(o->coinbase),
                              KURA_DB_INT(o->replaceable),
                              o->block_hash ? KURA_DB_TEXT(o->block_hash) : KURA_DB_NULL,
                              o->height >= 0 ? KURA_DB_INT(o->height) : KURA_DB_NULL,
                              KURA_DB_INT(now)},
            16, err);
        if (rc == KURA_DB_OK && !o->own) {
            rc = chain_announce(db, id, "detected", o->tip, now, err);
            if (rc == KURA_DB_OK && confirmed)
                rc = chain_announce(db, id, "confirmed", o->tip, now, err);
        }
    } else {
        const char *old = col_text(res, 0, 1);
        int own = col_int(res, 0, 2, 0) != 0;
        snprintf(id, sizeof id, "%s", col_text(res, 0, 0));
        if (o->height < 0) {
            /* Seen in the mempool again: only a vanished deposit changes. */
            if (strcmp(old, "reorged") == 0 || strcmp(old, "replaced") == 0) {
                rc = kura_db_exec(db, NULL,
                                  "UPDATE deposits SET state = 'pending', replaced_by = NULL, "
                                  "replaced_block = NULL, replaceable = $2, updated_at = $3 "
                                  "WHERE id = $1",
                                  (kura_db_param[]){KURA_DB_TEXT(id), KURA_DB_INT(o->replaceable),
                                                    KURA_DB_INT(now)},
                                  3, err);
                if (rc == KURA_DB_OK && !own)
                    rc = chain_announce(db, id, "detected", o->tip, now, err);
            }
        } else {
            rc = kura_db_exec(db, NULL,
                              "UPDATE deposits SET state = $2, block_hash = $3, height = $4, "
                              "replaced_by = NULL, replaced_block = NULL, updated_at = $5 "
                              "WHERE id = $1",
                              (kura_db_param[]){KURA_DB_TEXT(id), KURA_DB_TEXT(state),
                                                KURA_DB_TEXT(o->block_hash),
                                                KURA_DB_INT(o->height), KURA_DB_INT(now)},
                              5, err);
            if (rc == KURA_DB_OK && !own) {
                if (strcmp(old, "reorged") == 0 || strcmp(old, "replaced") == 0)
                    rc = chain_announce(db, id, "detected", o->tip, now, err);
                if (rc == KURA_DB_OK && confirmed && strcmp(old, "confirmed") != 0)
                    rc = chain_announce(db, id, "confirmed", o->tip, now, err);
            }
        }
    }
    kura_db_result_free(res);
    if (rc)
        return rc;
    /* The coin. */
    if (o->height >= 0)
        rc = kura_db_exec(
            db, NULL,
            "INSERT INTO utxos (txid, vout, wallet_id, amount, script, branch, idx, prev_tx, "
            "height, created_at, block_hash, coinbase) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, "
            "$9, $10, $11, $12) ON CONFLICT (txid, vout) DO UPDATE SET height = excluded.height, "
            "block_hash = excluded.block_hash",
            (kura_db_param[]){KURA_DB_TEXT(o->txid), KURA_DB_INT(o->vout),
                              KURA_DB_TEXT(o->w->wallet_id), KURA_DB_INT((int64_t)o->amount),
                              KURA_DB_TEXT(o->w->script), KURA_DB_INT(o->w->branch),
                              KURA_DB_INT(o->w->idx), KURA_DB_TEXT(o->tx_hex),
                              KURA_DB_INT(o->height), KURA_DB_INT(now),
                              KURA_DB_TEXT(o->block_hash), KURA_DB_INT(o->coinbase)},
            12, err);
    else
        rc = kura_db_exec(
            db, NULL,
            "INSERT INTO utxos (txid, vout, wallet_id, amount, script, branch, idx, prev_tx, "
            "height, created_at, coinbase) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, NULL, $9, 0) "
            "ON CONFLICT (txid, vout) DO NOTHING",
            (kura_db_param[]){KURA_DB_TEXT(o->txid), KURA_DB_INT(o->vout),
                              KURA_DB_TEXT(o->w->wallet_id), KURA_DB_INT((int64_t)o->amount),
                              KURA_DB_TEXT(o->w->script), KURA_DB_INT(o->w->branch),
                              KURA_DB_INT(o->w->idx), KURA_DB_TEXT(o->tx_hex), KURA_DB_INT(now)},
            9, err);
    return rc;
}

/* The inputs of transaction tx (within bytes), for conflicts and descendants. */
static int record_inputs(kura_db *db, const char *txid, const uint8_t *bytes,
                         const kura_block_tx *tx, kura_db_error *err)
{
    kura_block_cursor c;
    kura_block_txin in;
    int64_t n = 0;
    int rc = KURA_DB_OK;
    kura_block_inputs_begin(&c, bytes, tx);
    while (rc == KURA_DB_OK && kura_block_next_input(&c, &in)) {
        char prev[65];
        chain_hex_rev(prev, in.prev_txid);
        rc = kura_db_exec(db, NULL,
                          "INSERT INTO chain_tx_inputs (txid, n, prev_txid, prev_vout) VALUES "
                          "($1, $2, $3, $4) ON CONFLICT (txid, n) DO NOTHING",
                          (kura_db_param[]){KURA_DB_TEXT(txid), KURA_DB_INT(n), KURA_DB_TEXT(prev),
                                            KURA_DB_INT(in.prev_vout)},
                          4, err);
        n++;
    }
    return rc;
}

/* The unconfirmed deposits of transaction txid, and of every transaction
 * descending from it, become replaced (by `by`, in block `block` or NULL). */
static int mark_replaced(kura_db *db, const char *txid, const char *by, const char *block,
                         int64_t tip, int64_t now, int depth, kura_db_error *err)
{
    kura_db_result *res = NULL;
    int rc;
    if (depth > MAX_DESCENT)
        return KURA_DB_OK;
    if ((rc = kura_db_exec(db, &res,
                           "SELECT id, own FROM deposits WHERE txid = $1 AND height IS NULL AND "
                           "state IN ('pending', 'reorged') ORDER BY id",
                           (kura_db_param[]){KURA_DB_TEXT(txid)}, 1, err)))
        return rc;
    for (size_t i = 0; rc == KURA_DB_OK && i < kura_db_result_rows(res); i++) {
        const char *id = col_text(res, i, 0);
        rc = kura_db_exec(db, NULL,
                          "UPDATE deposits SET state = 'replaced', replaced_by = $2, "
                          "replaced_block = $3, updated_at = $4 WHERE id = $1",
                          (kura_db_param[]){KURA_DB_TEXT(id), KURA_DB_TEXT(by),
                                            block ? KURA_DB_TEXT(block) : KURA_DB_NULL,
                                            KURA_DB_INT(now)},
                          4, err);
        if (rc == KURA_DB_OK && col_int(res, i, 1, 0) == 0)
            rc = chain_announce(db, id, "replaced", tip, now, err);
    }
    kura_db_result_free(res);
    res = NULL;
    if (rc)
        return rc;
    if ((rc = kura_db_exec(db, NULL,
                           "DELETE FROM utxos WHERE txid = $1 AND height IS NULL AND "
                           "reserved_by IS NULL",
                           (kura_db_param[]){KURA_DB_TEXT(txid)}, 1, err)))
        return rc;
    if ((rc = kura_db_exec(db, &res,
                           "SELECT DISTINCT txid FROM chain_tx_inputs WHERE prev_txid = $1 AND "
                           "txid <> $1 ORDER BY txid",
                           (kura_db_param[]){KURA_DB_TEXT(txid)}, 1, err)))
        return rc;
    for (size_t i = 0; rc == KURA_DB_OK && i < kura_db_result_rows(res); i++)
        rc = mark_replaced(db, col_text(res, i, 0), by, block, tip, now, depth + 1, err);
    kura_db_result_free(res);
    return rc;
}

/* A transaction `spender` spends outpoint (prev, vout) that an unconfirmed
 * deposit's transaction also spends: that transaction is replaced. */
static int conflict(kura_db *db, const char *prev, uint32_t vout, const char *spender,
                    const char *block, int64_t tip, int64_t now, kura_db_error *err)
{
    kura_db_result *res = NULL;
    int rc = kura_db_exec(db, &res,
                          "SELECT DISTINCT txid FROM chain_tx_inputs WHERE prev_txid = $1 AND "
                          "prev_vout = $2 AND txid <> $3 ORDER BY txid",
                          (kura_db_param[]){KURA_DB_TEXT(prev), KURA_DB_INT(vout),
                                            KURA_DB_TEXT(spender)},
                          3, err);
    for (size_t i = 0; rc == KURA_DB_OK && i < kura_db_result_rows(res); i++)
        rc = mark_replaced(db, col_text(res, i, 0), spender, block, tip, now, 0, err);
    kura_db_result_free(res);
    return rc;
}

/* Pending deposits that reached their confirmations at height tip. */
static int confirm_due(kura_db *db, int64_t tip, int64_t now, kura_db_error *err)
{
    kura_db_result *res = NULL;
    int rc = kura_db_exec(
        db, &res,
        "SELECT d.id, d.own FROM deposits d JOIN wallets w ON w.id = d.wallet_id WHERE "
        "d.state = 'pending' AND d.height IS NOT NULL AND $1 - d.height + 1 >= "
        "(CASE WHEN d.coinbase = 1 AND w.min_confirmations < 100 THEN 100 "
        "WHEN w.min_confirmations < 1 THEN 1 ELSE w.min_confirmations END) ORDER BY d.id",
        (kura_db_param[]){KURA_DB_INT(tip)}, 1, err);
    for (size_t i = 0; rc == KURA_DB_OK && i < kura_db_result_rows(res); i++) {
        const char *id = col_text(res, i, 0);
        rc = kura_db_exec(db, NULL,
                          "UPDATE deposits SET state = 'confirmed', updated_at = $2 WHERE id = $1",
                          (kura_db_param[]){KURA_DB_TEXT(id), KURA_DB_INT(now)}, 2, err);
        if (rc == KURA_DB_OK && col_int(res, i, 1, 0) == 0)
            rc = chain_announce(db, id, "confirmed", tip, now, err);
    }
    kura_db_result_free(res);
    return rc;
}

static char *tx_hex(const uint8_t *bytes, const kura_block_tx *tx)
{
    size_t n = (size_t)tx->len * 2 + 1;
    char *hex = malloc(n);
    if (hex)
        sodium_bin2hex(hex, n, bytes + tx->offset, tx->len);
    return hex;
}

/* 1 when transaction tx_index of the scan spends a coin of wallet_id (its
 * outputs to that wallet are then change, not deposits). */
static int tx_spends_coins(const kura_follower *f, const watch_view *v,
                           const kura_watch_result *r, size_t tx_index, const char *wallet_id)
{
    for (size_t i = 0; i < r->spend_count; i++) {
        const kura_watch_spend *s = &r->spends[i];
        const char *w = NULL;
        if (s->tx_index != tx_index)
            continue;
        if (s->receipt != KURA_WATCH_NONE) {
            uint64_t a = r->receipts[s->receipt].value;
            w = a < v->naddrs ? v->addrs[a].wallet_id : NULL;
        } else if (s->value >= TAG_COIN && s->value - TAG_COIN < f->nwallets) {
            w = f->wallets[s->value - TAG_COIN];
        }
        if (w && strcmp(w, wallet_id) == 0)
            return 1;
    }
    return 0;
}

/* Fencing: every write of the follower first checks, in its own
 * transaction, that the lease row still names it (leader.h), so a follower
 * that was slow or lost its connection cannot write a block after another
 * took over. */
static int fence(kura_db *db, const kura_follower *f, kura_db_error *err)
{
    return kura_leader_fence(db, f->elect, err);
}

/* The watched address a receipt pays, after comparing the real script with
 * the address's (a fingerprint match alone is not enough); NULL when none. */
static const watched_addr *receipt_ours(const watch_view *v, const kura_watch_receipt *x)
{
    char script[2 * 64 + 1];
    if (x->value >= v->naddrs || x->script_pubkey_len > 64)
        return NULL;
    sodium_bin2hex(script, sizeof script, x->script_pubkey, x->script_pubkey_len);
    return strcmp(script, v->addrs[x->value].script) == 0 ? &v->addrs[x->value] : NULL;
}

/* After a committed block (tx NULL) or mempool transaction tx: the coins it
 * created join the outpoint set, the coins a block spent leave it, and the
 * inputs of a mempool transaction paying a wallet are watched for conflicts.
 * Entries for rows the database did not take (a replaced coin) are
 * harmless: every hit is confirmed against the database. If memory runs
 * out the set is rebuilt from the database at the next use. */
static void apply_scan(kura_follower *f, const watch_view *v, const kura_watch_result *r,
                       const uint8_t *txbytes, const kura_block_tx *tx)
{
    int ok = 1, paid = 0;
    if (!f->ops_valid)
        return;
    for (size_t i = 0; i < r->receipt_count; i++) {
        const watched_addr *w = receipt_ours(v, &r->receipts[i]);
        if (!w)
            continue;
        paid = 1;
        if (kura_watch_outpoints_add(f->ops, r->receipts[i].txid, r->receipts[i].vout,
                                     TAG_COIN + wallet_number(f, w->wallet_id)) != 0)
            ok = 0;
    }
    for (size_t i = 0; !tx && i < r->spend_count; i++) {
        const kura_watch_spend *sp = &r->spends[i];
        uint64_t val = sp->value;
        if (sp->receipt != KURA_WATCH_NONE) {
            const watched_addr *w = receipt_ours(v, &r->receipts[sp->receipt]);
            if (!w)
                continue;
            val = TAG_COIN + wallet_number(f, w->wallet_id);
        } else if (val < TAG_COIN) {
            continue;
        }
        (void)kura_watch_outpoints_remove(f->ops, sp->prev_txid, sp->prev_vout, val);
    }
    if (tx && paid) {
        kura_block_cursor c;
        kura_block_txin in;
        kura_block_inputs_begin(&c, txbytes, tx);
        while (kura_block_next_input(&c, &in))
            if (kura_watch_outpoints_add(f->ops, in.prev_txid, in.prev_vout, TAG_CONFLICT) != 0)
                ok = 0;
    }
    if (!ok)
        f->ops_valid = 0;
}

/* ---- a block ---- */

typedef struct block_arg {
    kura_follower *f;
    const kura_block *b;
    const kura_watch_result *r;
    const watch_view *v;       /* what the scan matched against */
    char hash[65], prev[65];
    int64_t height;
    int64_t tip;               /* confirmations count from here (following: height) */
    const rescan_run *rescan;  /* NULL: following; else a recovery scan's block */
    int64_t now;
    int64_t outputs, spends;   /* out: outputs and coin spends recorded */
    size_t marked;             /* out: address rows the recovery scan allocated */
} block_arg;

static int rescan_block_fn(kura_db *db, block_arg *a, kura_db_error *err);

static int connect_fn(kura_db *db, void *varg, kura_db_error *err)
{
    block_arg *a = varg;
    const kura_watch_result *r = a->r;
    const kura_block *b = a->b;
    size_t last_inputs_tx = (size_t)-1;
    int rc;
    a->outputs = a->spends = 0; /* a retried transaction counts again */
    a->marked = 0;
    if ((rc = fence(db, a->f, err)))
        return rc;
    /* A recovery scan's block is on the followed chain already (or below
     * where following began): it adds findings, not a block. */
    if (a->rescan)
        rc = rescan_block_fn(db, a, err);
    else
        rc = kura_db_exec(db, NULL,
                      "INSERT INTO chain_blocks (hash, height, prev_hash, time, connected, "
                      "connected_at) VALUES ($1, $2, $3, $4, 1, $5) ON CONFLICT (hash) DO UPDATE "
                      "SET connected = 1, disconnected_at = NULL, connected_at = excluded.connected_at",
                      (kura_db_param[]){KURA_DB_TEXT(a->hash), KURA_DB_INT(a->height),
                                        KURA_DB_TEXT(a->prev), KURA_DB_INT(b->header.time),
                                        KURA_DB_INT(a->now)},
                      5, err);
    /* Outputs paying the wallets. */
    for (size_t i = 0; rc == KURA_DB_OK && i < r->receipt_count; i++) {
        const kura_watch_receipt *rc_ = &r->receipts[i];
        const watched_addr *w;
        char txid[65], *hex, script[2 * 64 + 1];
        output_rec o;
        if (rc_->value >= a->v->naddrs || rc_->script_pubkey_len > 64)
            continue;
        w = &a->v->addrs[rc_->value];
        sodium_bin2hex(script, sizeof script, rc_->script_pubkey, rc_->script_pubkey_len);
        if (strcmp(script, w->script) != 0)
            continue; /* a fingerprint collision: not ours */
        chain_hex_rev(txid, rc_->txid);
        hex = tx_hex(b->bytes, &b->txs[rc_->tx_index]);
        if (!hex)
            return KURA_DB_ENOMEM;
        memset(&o, 0, sizeof o);
        o.w = w;
        o.txid = txid;
        o.vout = rc_->vout;
        o.amount = rc_->amount;
        o.coinbase = rc_->tx_index == 0;
        o.own = tx_spends_coins(a->f, a->v, r, rc_->tx_index, w->wallet_id);
        o.height = a->height;
        o.block_hash = a->hash;
        o.tx_hex = hex;
        o.tip = a->tip;
        rc = record_output(db, &o, a->now, err);
        a->outputs++;
        /* Used on chain: allocated from now on, never handed out again. */
        if (rc == KURA_DB_OK && a->rescan) {
            size_t marked = 0;
            rc = kura_address_mark_used(db, w->wallet_id, (int)w->branch, w->idx, "system", a->now,
                                        &marked, err);
            a->marked += marked;
        }
        if (rc == KURA_DB_OK && rc_->tx_index != last_inputs_tx && rc_->tx_index != 0) {
            rc = record_inputs(db, txid, b->bytes, &b->txs[rc_->tx_index], err);
            last_inputs_tx = rc_->tx_index;
        }
        free(hex);
    }
    /* Inputs spending the wallets' coins, or what a pending deposit spends. */
    for (size_t i = 0; rc == KURA_DB_OK && i < r->spend_count; i++) {
        const kura_watch_spend *s = &r->spends[i];
        char txid[65], prev[65];
        chain_hex_rev(txid, s->txid);
        chain_hex_rev(prev, s->prev_txid);
        /* A recovery scan records the spends of its wallet's coins only
         * (every other coin is the follower's, and it saw that block). */
        if (a->rescan && s->receipt == KURA_WATCH_NONE &&
            s->value != TAG_COIN + wallet_number(a->f, a->rescan->wallet_id))
            continue;
        if (s->receipt != KURA_WATCH_NONE || s->value >= TAG_COIN) {
            char id[KURA_DB_ID_SIZE];
            json_t *extra;
            kura_db_result *res = NULL;
            rc = kura_db_exec(db, &res,
                              "UPDATE utxos SET spent_txid = $3, spent_block = $4 WHERE txid = $1 "
                              "AND vout = $2 AND spent_block IS NULL RETURNING txid",
                              (kura_db_param[]){KURA_DB_TEXT(prev), KURA_DB_INT(s->prev_vout),
                                                KURA_DB_TEXT(txid), KURA_DB_TEXT(a->hash)},
                              4, err);
            if (rc)
                break;
            if (kura_db_result_rows(res) == 0) {
                kura_db_result_free(res);
                continue; /* not a coin of ours after all */
            }
            kura_db_result_free(res);
            a->spends++;
            /* A transfer of ours mined (signed ones were sent by someone else). */
            extra = json_pack("{s:s, s:I}", "block_hash", a->hash, "height", (json_int_t)a->height);
            if (!extra)
                return KURA_DB_ENOMEM;
            rc = kura_transfer_chain_move(db, txid, "signed", "broadcast", NULL, a->now, NULL, err);
            if (rc == KURA_DB_OK)
                rc = kura_transfer_chain_move(db, txid, "broadcast", "confirmed", extra, a->now, id,
                                              err);
            json_decref(extra);
            if (rc == KURA_DB_OK && id[0])
                rc = kura_db_exec(db, NULL,
                                  "INSERT INTO chain_transfers (transfer_id, txid, block_hash, "
                                  "height) VALUES ($1, $2, $3, $4) ON CONFLICT (transfer_id) DO "
                                  "UPDATE SET txid = excluded.txid, block_hash = "
                                  "excluded.block_hash, height = excluded.height",
                                  (kura_db_param[]){KURA_DB_TEXT(id), KURA_DB_TEXT(txid),
                                                    KURA_DB_TEXT(a->hash), KURA_DB_INT(a->height)},
                                  4, err);
        } else if (s->value == TAG_CONFLICT) {
            rc = conflict(db, prev, s->prev_vout, txid, a->hash, a->height, a->now, err);
        }
    }
    if (rc == KURA_DB_OK)
        rc = confirm_due(db, a->tip, a->now, err);
    if (rc == KURA_DB_OK && a->rescan)
        rc = kura_db_exec(db, NULL,
                          "UPDATE wallet_rescans SET next_height = $2, receive_used = $3, "
                          "change_used = $4, outputs_found = outputs_found + $5, spends_found = "
                          "spends_found + $6, addresses_marked = addresses_marked + $7, "
                          "updated_at = $8 WHERE wallet_id = $1",
                          (kura_db_param[]){KURA_DB_TEXT(a->rescan->wallet_id),
                                            KURA_DB_INT(a->height + 1),
                                            KURA_DB_INT(a->rescan->used[0]),
                                            KURA_DB_INT(a->rescan->used[1]),
                                            KURA_DB_INT(a->outputs), KURA_DB_INT(a->spends),
                                            KURA_DB_INT((int64_t)a->marked), KURA_DB_INT(a->now)},
                          8, err);
    return rc;
}

static int disconnect_fn(kura_db *db, void *varg, kura_db_error *err)
{
    block_arg *a = varg;
    kura_db_result *res = NULL;
    int64_t tip = a->height - 1;
    int rc;
    if ((rc = fence(db, a->f, err)))
        return rc;
    rc = kura_db_exec(db, NULL,
                      "UPDATE chain_blocks SET connected = 0, disconnected_at = $2 WHERE hash = $1",
                      (kura_db_param[]){KURA_DB_TEXT(a->hash), KURA_DB_INT(a->now)}, 2, err);
    /* A recovery scan that went past this block scans the new branch. */
    if (rc == KURA_DB_OK)
        rc = kura_db_exec(db, NULL,
                          "UPDATE wallet_rescans SET next_height = $1 WHERE state = 'running' AND "
                          "next_height > $1",
                          (kura_db_param[]){KURA_DB_INT(a->height)}, 1, err);
    /* Its deposits, and those it replaced, lose their block. */
    if (rc == KURA_DB_OK)
        rc = kura_db_exec(db, &res,
                          "SELECT id, own FROM deposits WHERE block_hash = $1 OR replaced_block = "
                          "$1 ORDER BY id",
                          (kura_db_param[]){KURA_DB_TEXT(a->hash)}, 1, err);
    for (size_t i = 0; rc == KURA_DB_OK && i < kura_db_result_rows(res); i++) {
        const char *id = col_text(res, i, 0);
        rc = kura_db_exec(db, NULL,
                          "UPDATE deposits SET state = 'reorged', block_hash = NULL, height = "
                          "NULL, replaced_by = NULL, replaced_block = NULL, updated_at = $2 "
                          "WHERE id = $1",
                          (kura_db_param[]){KURA_DB_TEXT(id), KURA_DB_INT(a->now)}, 2, err);
        if (rc == KURA_DB_OK && col_int(res, i, 1, 0) == 0)
            rc = chain_announce(db, id, "reorged", tip, a->now, err);
    }
    kura_db_result_free(res);
    res = NULL;
    /* Its coins go, the coins it spent come back. */
    if (rc == KURA_DB_OK)
        rc = kura_db_exec(db, NULL,
                          "UPDATE utxos SET spent_txid = NULL, spent_block = NULL WHERE "
                          "spent_block = $1",
                          (kura_db_param[]){KURA_DB_TEXT(a->hash)}, 1, err);
    if (rc == KURA_DB_OK)
        rc = kura_db_exec(db, NULL,
                          "DELETE FROM utxos WHERE block_hash = $1 AND reserved_by IS NULL",
                          (kura_db_param[]){KURA_DB_TEXT(a->hash)}, 1, err);
    if (rc == KURA_DB_OK)
        rc = kura_db_exec(db, NULL,
                          "UPDATE utxos SET height = NULL, block_hash = NULL WHERE block_hash = $1",
                          (kura_db_param[]){KURA_DB_TEXT(a->hash)}, 1, err);
    /* Its transfers go back to broadcast (and are rebroadcast). */
    if (rc == KURA_DB_OK)
        rc = kura_db_exec(db, &res,
                          "SELECT transfer_id, txid FROM chain_transfers WHERE block_hash = $1 "
                          "ORDER BY transfer_id",
                          (kura_db_param[]){KURA_DB_TEXT(a->hash)}, 1, err);
    for (size_t i = 0; rc == KURA_DB_OK && i < kura_db_result_rows(res); i++) {
        json_t *extra = json_pack("{s:s, s:s}", "disconnected_block", a->hash, "why",
                                  "reorganisation");
        if (!extra) {
            rc = KURA_DB_ENOMEM;
            break;
        }
        rc = kura_db_exec(db, NULL,
                          "UPDATE chain_transfers SET block_hash = NULL, height = NULL WHERE "
                          "transfer_id = $1",
                          (kura_db_param[]){KURA_DB_TEXT(col_text(res, i, 0))}, 1, err);
        if (rc == KURA_DB_OK)
            rc = kura_transfer_chain_move(db, col_text(res, i, 1), "confirmed", "broadcast", extra,
                                          a->now, NULL, err);
        json_decref(extra);
    }
    kura_db_result_free(res);
    return rc;
}

/* ---- the mempool ---- */

typedef struct mempool_arg {
    kura_follower *f;
    const kura_watch_result *r;
    const uint8_t *bytes;
    const kura_block_tx *tx;
    char txid[65];
    int64_t tip;
    int64_t now;
} mempool_arg;

static int mempool_fn(kura_db *db, void *varg, kura_db_error *err)
{
    mempool_arg *a = varg;
    const kura_watch_result *r = a->r;
    const watch_view live = live_view(a->f);
    int inputs_done = 0;
    char *hex = NULL;
    int rc = fence(db, a->f, err);
    for (size_t i = 0; rc == KURA_DB_OK && i < r->spend_count; i++) {
        char prev[65];
        if (r->spends[i].receipt != KURA_WATCH_NONE || r->spends[i].value != TAG_CONFLICT)
            continue;
        chain_hex_rev(prev, r->spends[i].prev_txid);
        rc = conflict(db, prev, r->spends[i].prev_vout, a->txid, NULL, a->tip, a->now, err);
    }
    for (size_t i = 0; rc == KURA_DB_OK && i < r->receipt_count; i++) {
        const kura_watch_receipt *x = &r->receipts[i];
        const watched_addr *w;
        char script[2 * 64 + 1];
        output_rec o;
        if (x->value >= a->f->naddrs || x->script_pubkey_len > 64)
            continue;
        w = &a->f->addrs[x->value];
        sodium_bin2hex(script, sizeof script, x->script_pubkey, x->script_pubkey_len);
        if (strcmp(script, w->script) != 0)
            continue;
        if (!hex && !(hex = tx_hex(a->bytes, a->tx)))
            return KURA_DB_ENOMEM;
        memset(&o, 0, sizeof o);
        o.w = w;
        o.txid = a->txid;
        o.vout = x->vout;
        o.amount = x->amount;
        o.own = tx_spends_coins(a->f, &live, r, 0, w->wallet_id);
        o.replaceable = r->signals_rbf;
        o.height = -1;
        o.tx_hex = hex;
        o.tip = a->tip;
        rc = record_output(db, &o, a->now, err);
        if (rc == KURA_DB_OK && !inputs_done) {
            rc = record_inputs(db, a->txid, a->bytes, a->tx, err);
            inputs_done = 1;
        }
    }
    free(hex);
    return rc;
}

static int seen_cmp(const void *x, const void *y)
{
    return strcmp((const char *)x, (const char *)y);
}

int kura_follower_offer_tx(kura_follower *f, const uint8_t *bytes, size_t len)
{
    kura_block_tx tx;
    kura_error kerr;
    uint8_t txid[32];
    struct offered_tx *o;
    if (!f || !bytes || kura_block_tx_locate(&tx, bytes, len, &kerr) != 0)
        return KURA_RPC_EINVAL;
    if (f->noffered == MAX_OFFERED) { /* the oldest goes */
        free(f->offered[0].bytes);
        memmove(f->offered, f->offered + 1, (f->noffered - 1) * sizeof *f->offered);
        f->noffered--;
    }
    o = realloc(f->offered, (f->noffered + 1) * sizeof *o);
    if (!o)
        return KURA_RPC_ENOMEM;
    f->offered = o;
    o = &f->offered[f->noffered];
    if (!(o->bytes = malloc(len)))
        return KURA_RPC_ENOMEM;
    memcpy(o->bytes, bytes, len);
    o->len = len;
    kura_block_tx_txid(txid, bytes, &tx);
    chain_hex_rev(o->txid, txid);
    f->noffered++;
    return KURA_RPC_OK;
}

/* The bytes of an offered transaction (a copy), or NULL. */
static uint8_t *offered_take(kura_follower *f, const char *txid, size_t *len)
{
    for (size_t i = f->noffered; i-- > 0;) {
        if (strcmp(f->offered[i].txid, txid) == 0 && f->offered[i].bytes) {
            uint8_t *b = f->offered[i].bytes;
            f->offered[i].bytes = NULL;
            *len = f->offered[i].len;
            return b;
        }
    }
    return NULL;
}

static int mempool_step(kura_follower *f, int64_t tip, int64_t now, kura_follower_report *rep,
                        kura_rpc_error *err)
{
    char(*txids)[65] = NULL;
    size_t n = 0;
    int rc;
    if ((rc = kura_rpc_mempool(f->rpc, &txids, &n, err)))
        return rc;
    qsort(txids, n, sizeof *txids, seen_cmp);
    for (size_t i = 0; i < n; i++) {
        uint8_t *bytes = NULL;
        size_t len = 0;
        kura_block_tx tx;
        kura_error kerr;
        if (f->nseen && bsearch(txids[i], f->seen, f->nseen, sizeof *f->seen, seen_cmp))
            continue;
        /* Bytes from a ZMQ rawtx when there are some; the node's otherwise. */
        bytes = offered_take(f, txids[i], &len);
        if (bytes) {
            rc = KURA_RPC_OK;
            rep->mempool_offered++;
        } else {
            rc = kura_rpc_raw_tx(f->rpc, txids[i], &bytes, &len, err);
        }
        if (rc == KURA_RPC_ERPC)
            continue; /* left the mempool since getrawmempool */
        if (rc)
            goto done;
        rep->mempool_scanned++;
        if ((rc = load_ops(f, err))) {
            free(bytes);
            goto done;
        }
        if (kura_block_tx_locate(&tx, bytes, len, &kerr) == 0 &&
            kura_watch_scan_tx(f->res, f->idx, f->ops, bytes, len, &kerr) == 0 &&
            (f->res->receipt_count || f->res->spend_count)) {
            mempool_arg a;
            kura_db_error dberr = {0};
            memset(&a, 0, sizeof a);
            a.f = f;
            a.r = f->res;
            a.bytes = bytes;
            a.tx = &tx;
            memcpy(a.txid, txids[i], 65);
            a.tip = tip;
            a.now = now;
            rc = kura_store_write(f->st, mempool_fn, &a, &dberr);
            if (rc)
                f->ops_valid = 0;
            else {
                const watch_view live = live_view(f);
                apply_scan(f, &live, f->res, bytes, &tx);
            }
            if (rc) {
                free(bytes);
                rc = db_fail(err, rc, &dberr);
                goto done;
            }
        }
        free(bytes);
    }
    /* What was scanned and is still there. */
    free(f->seen);
    f->seen = txids;
    f->nseen = n;
    txids = NULL;
    rc = KURA_RPC_OK;
done:
    free(txids);
    offered_clear(f); /* what the node did not list is not in its mempool */
    return rc;
}

/* ---- a step ---- */

static int rescan_step(kura_follower *f, int64_t tip, int64_t now, kura_rpc_error *err);

typedef struct chain_arg {
    int64_t height;   /* ask: this height; answer: our hash there */
    char hash[65];
    char tip[65];
    int64_t tip_height;
} chain_arg;

static int our_hash_fn(kura_db *db, void *varg, kura_db_error *err)
{
    chain_arg *a = varg;
    kura_db_result *res = NULL;
    int rc;
    a->hash[0] = '\0';
    if ((rc = chain_height(db, &a->tip_height, a->tip, err)))
        return rc;
    if (a->height < 0)
        return KURA_DB_OK;
    rc = kura_db_exec(db, &res, "SELECT hash FROM chain_blocks WHERE connected = 1 AND height = $1",
                      (kura_db_param[]){KURA_DB_INT(a->height)}, 1, err);
    if (rc == KURA_DB_OK && kura_db_result_rows(res) == 1)
        snprintf(a->hash, sizeof a->hash, "%s", col_text(res, 0, 0));
    kura_db_result_free(res);
    return rc;
}

static int our_chain(kura_follower *f, int64_t height, chain_arg *a, kura_rpc_error *err)
{
    kura_db_error dberr = {0};
    int rc;
    memset(a, 0, sizeof *a);
    a->height = height;
    if ((rc = kura_store_read(f->st, our_hash_fn, a, &dberr)))
        return db_fail(err, rc, &dberr);
    return KURA_RPC_OK;
}

typedef struct status_arg {
    const kura_rpc_chain_info *info;
    const char *error;
    int64_t fee_rate;
    int64_t now;
} status_arg;

static int status_fn(kura_db *db, void *varg, kura_db_error *err)
{
    status_arg *a = varg;
    if (a->info)
        return kura_db_exec(db, NULL,
                            "UPDATE chain_status SET node_height = $1, node_tip = $2, node_chain = "
                            "$3, checked_at = $4, last_error = $5 WHERE id = 1",
                            (kura_db_param[]){KURA_DB_INT(a->info->blocks),
                                              KURA_DB_TEXT(a->info->best_hash),
                                              KURA_DB_TEXT(a->info->chain), KURA_DB_INT(a->now),
                                              KURA_DB_TEXT(a->error ? a->error : "")},
                            5, err);
    return kura_db_exec(db, NULL,
                        "UPDATE chain_status SET checked_at = $1, last_error = $2 WHERE id = 1",
                        (kura_db_param[]){KURA_DB_INT(a->now), KURA_DB_TEXT(a->error ? a->error : "")},
                        2, err);
}

static void record_status(kura_follower *f, const kura_rpc_chain_info *info, const char *error,
                          int64_t now)
{
    status_arg a = {info, error, 0, now};
    kura_db_error dberr;
    kura_store_write(f->st, status_fn, &a, &dberr);
}

/* Records a scanned block in one transaction (connect_fn) and then applies
 * the scan to the in-memory view: the follower's blocks (run NULL, tip =
 * height) and a recovery scan's alike. */
static int record_block(kura_follower *f, const kura_block *b, const watch_view *v,
                        const char hash[65], const char prev[65], int64_t height, int64_t tip,
                        const rescan_run *run, int64_t now, kura_rpc_error *err)
{
    block_arg a;
    kura_db_error dberr = {0};
    int rc;
    memset(&a, 0, sizeof a);
    a.f = f;
    a.b = b;
    a.r = f->res;
    a.v = v;
    memcpy(a.hash, hash, 65);
    memcpy(a.prev, prev, 65);
    a.height = height;
    a.tip = tip;
    a.rescan = run;
    a.now = now;
    if ((rc = kura_store_write(f->st, connect_fn, &a, &dberr))) {
        f->ops_valid = 0;
        return db_fail(err, rc, &dberr);
    }
    apply_scan(f, v, f->res, NULL, NULL);
    return KURA_RPC_OK;
}

static int connect_block(kura_follower *f, const char *hash, int64_t height, const char *prev,
                         int64_t now, kura_rpc_error *err)
{
    uint8_t *bytes = NULL;
    size_t len = 0;
    kura_block *b = NULL;
    kura_error kerr;
    char got[65], got_prev[65];
    const watch_view live = live_view(f);
    int rc;
    if ((rc = kura_rpc_block(f->rpc, hash, &bytes, &len, err)))
        return rc;
    if (kura_block_parse(&b, bytes, len, 0, &kerr) != 0) {
        free(bytes);
        return fail(err, KURA_FOLLOWER_EBLOCK, "block %s from the node does not parse: %s", hash,
                    kerr.message);
    }
    chain_hex_rev(got, b->hash);
    chain_hex_rev(got_prev, b->header.prev_hash);
    if (strcmp(got, hash) != 0) {
        rc = fail(err, KURA_FOLLOWER_EBLOCK, "the node sent block %s when asked for %s", got, hash);
        goto done;
    }
    if (prev && prev[0] && strcmp(got_prev, prev) != 0) {
        rc = fail(err, KURA_FOLLOWER_EBLOCK,
                  "block %s at height %lld does not link to %s (the node's chain moved; "
                  "following again)",
                  hash, (long long)height, prev);
        goto done;
    }
    if ((rc = load_ops(f, err)))
        goto done;
    if (kura_watch_scan_block(f->res, f->idx, f->ops, b) != 0) {
        rc = fail(err, KURA_RPC_ENOMEM, "out of memory");
        goto done;
    }
    rc = record_block(f, b, &live, got, got_prev, height, height, NULL, now, err);
done:
    kura_block_free(b);
    free(bytes);
    return rc;
}

static int disconnect_block(kura_follower *f, const char *hash, int64_t height, int64_t now,
                            kura_rpc_error *err)
{
    block_arg a;
    kura_db_error dberr = {0};
    int rc;
    memset(&a, 0, sizeof a);
    a.f = f;
    snprintf(a.hash, sizeof a.hash, "%s", hash);
    a.height = height;
    a.now = now;
    rc = kura_store_write(f->st, disconnect_fn, &a, &dberr);
    f->ops_valid = 0;
    return rc ? db_fail(err, rc, &dberr) : KURA_RPC_OK;
}

int kura_follower_step(kura_follower *f, int64_t now, kura_follower_report *rep,
                       kura_rpc_error *err)
{
    kura_follower_report dummy;
    int held = 0;
    load_arg ld;
    kura_rpc_chain_info info;
    kura_db_error dberr = {0};
    chain_arg ours;
    int64_t start, h, fork;
    char prev[65];
    int rc;
    if (!rep)
        rep = &dummy;
    memset(rep, 0, sizeof *rep);
    rep->height = -1;
    if (!f)
        return fail(err, KURA_RPC_EINVAL, "no follower");
    if ((rc = kura_leader_try_acquire(f->elect, now, &held, &dberr))) {
        f->leader = 0;
        return db_fail(err, rc, &dberr);
    }
    if (!held) {
        f->leader = 0;
        return KURA_RPC_OK;
    }
    if (!f->leader) {
        /* Another follower may have written since we last held the lease:
         * what we cached of the database is stale. */
        f->ops_valid = 0;
        f->nseen = 0;
        f->leader = 1;
    }
    rep->leader = 1;
    if ((rc = load_watch(f, &ld, err)))
        return rc;
    if (ld.chains == 0) {
        /* No wallet yet: nothing to follow, but GET /v1/chain shows the node. */
        rc = kura_rpc_chain_info_get(f->rpc, &info, err);
        record_status(f, rc == KURA_RPC_OK ? &info : NULL, rc ? (err ? err->message : "") : "",
                      now);
        return rc;
    }
    if (ld.chains > 1) {
        rc = fail(err, KURA_RPC_EWRONGCHAIN,
                  "the wallets are on more than one chain; one follower follows one node");
        record_status(f, NULL, err ? err->message : "", now);
        return rc;
    }
    start = f->start_height >= 0 ? f->start_height : ld.birth;
    if ((rc = our_chain(f, -1, &ours, err)))
        return rc;
    if ((rc = kura_rpc_check(f->rpc, ld.chain, ours.tip_height >= 0 ? ours.tip_height + 1 : start,
                             &info, err))) {
        record_status(f, info.chain[0] ? &info : NULL, err ? err->message : "", now);
        return rc;
    }
    rep->node_height = info.blocks;
    /* Where our chain and the node's part. */
    h = ours.tip_height < info.blocks ? ours.tip_height : info.blocks;
    fork = start - 1;
    while (h >= start) {
        char node_hash[65];
        if ((rc = our_chain(f, h, &ours, err)))
            return rc;
        if ((rc = kura_rpc_block_hash(f->rpc, h, node_hash, err)))
            goto out;
        if (ours.hash[0] && strcmp(ours.hash, node_hash) == 0) {
            fork = h;
            break;
        }
        h--;
    }
    /* Disconnect ours above the fork, from the top. */
    for (;;) {
        if ((rc = our_chain(f, -1, &ours, err)))
            return rc;
        if (ours.tip_height <= fork || ours.tip_height < 0)
            break;
        if (!kura_leader_still(f->elect, now))
            goto lost;
        if ((rc = disconnect_block(f, ours.tip, ours.tip_height, now, err)))
            goto out;
        rep->disconnected++;
    }
    /* Connect the node's blocks above the fork. */
    prev[0] = '\0';
    if (fork >= start) {
        if ((rc = our_chain(f, fork, &ours, err)))
            return rc;
        snprintf(prev, sizeof prev, "%s", ours.hash);
    }
    for (h = fork + 1; h <= info.blocks; h++) {
        char hash[65];
        if (f->max_blocks && rep->connected >= f->max_blocks)
            break;
        if ((rc = kura_rpc_block_hash(f->rpc, h, hash, err)))
            goto out;
        if (!kura_leader_still(f->elect, now))
            goto lost;
        if ((rc = connect_block(f, hash, h, prev, now, err)))
            goto out;
        memcpy(prev, hash, sizeof prev);
        rep->connected++;
    }
    /* A recovery scan, once caught up (rescan.h). */
    if (h > info.blocks && (rc = rescan_step(f, h - 1, now, err)))
        goto out;
    /* The mempool once caught up (a transaction of a block not connected
     * yet would otherwise be recorded as unconfirmed first). */
    if (!f->no_mempool && h > info.blocks && (rc = mempool_step(f, h - 1, now, rep, err)))
        goto out;
    rc = KURA_RPC_OK;
out:
    if (our_chain(f, -1, &ours, NULL) == KURA_RPC_OK) {
        rep->height = ours.tip_height;
        memcpy(rep->tip, ours.tip, sizeof rep->tip);
    }
    record_status(f, &info, rc ? (err ? err->message : "error") : "", now);
    return rc;
lost:
    /* The election was lost in the middle of the step (the session of
     * leader.h broke): stop here; the next step tries again. */
    f->leader = 0;
    rep->leader = 0;
    if (our_chain(f, -1, &ours, NULL) == KURA_RPC_OK) {
        rep->height = ours.tip_height;
        memcpy(rep->tip, ours.tip, sizeof rep->tip);
    }
    return KURA_RPC_OK;
}

/* ---- the recovery scan (rescan.h) ----
 *
 * A wallet restored elsewhere may have been paid at indexes this server never
 * allocated. The scan runs inside the follower that holds the lease, after
 * it has caught up with the node, so the two never write at once: block by
 * block from the row's next_height up to the follower's tip, each block
 * scanned by libkura against the wallet's gap-limit window and recorded by
 * the follower's own connect_fn (deposits, coins, spends, confirmations,
 * their audit rows and webhook events), with the row's progress in the same
 * transaction. Blocks that the follower connects meanwhile are scanned too
 * (the scan ends only at the follower's tip); after it, the follower watches
 * every address the scan found used, as allocated ones. */

static void rescan_run_free(rescan_run *run)
{
    if (!run)
        return;
    kura_watch_index_free(run->idx);
    free(run->addrs);
    kura_descriptor_free(run->desc);
    kura_ctx_free(run->ctx);
    free(run);
}

/* In the block's transaction: the scan is still the one held (a new request
 * replaces the row; a reorganisation may have moved it back). */
static int rescan_block_fn(kura_db *db, block_arg *a, kura_db_error *err)
{
    kura_db_result *res = NULL;
    int rc = kura_db_exec(db, &res,
                          "SELECT next_height FROM wallet_rescans WHERE wallet_id = $1 AND "
                          "generation = $2 AND state = 'running'",
                          (kura_db_param[]){KURA_DB_TEXT(a->rescan->wallet_id),
                                            KURA_DB_TEXT(a->rescan->generation)},
                          2, err);
    if (rc == KURA_DB_OK &&
        (kura_db_result_rows(res) != 1 || col_int(res, 0, 0, -1) != a->height)) {
        rc = err->code = KURA_DB_ECONFLICT;
        snprintf(err->message, sizeof err->message,
                 "the recovery scan of wallet %s moved (replaced, or a reorganisation)",
                 a->rescan->wallet_id);
    }
    kura_db_result_free(res);
    return rc;
}

typedef struct rescan_row {
    int found;
    char wallet_id[KURA_DB_ID_SIZE];
    char generation[KURA_DB_ID_SIZE];
    int64_t gap, next_height, used[2], next_index[2], min_conf;
    char chain[16];
    char *descriptor;
} rescan_row;

static int rescan_row_fn(kura_db *db, void *varg, kura_db_error *err)
{
    rescan_row *r = varg;
    kura_db_result *res = NULL;
    int rc;
    free(r->descriptor);
    memset(r, 0, sizeof *r);
    rc = kura_db_exec(db, &res,
                      "SELECT r.wallet_id, r.generation, r.gap_limit, r.next_height, "
                      "r.receive_used, r.change_used, w.next_receive_index, w.next_change_index, "
                      "w.min_confirmations, w.chain, w.descriptor FROM wallet_rescans r JOIN "
                      "wallets w ON w.id = r.wallet_id WHERE r.state = 'running' ORDER BY "
                      "r.requested_at, r.wallet_id LIMIT 1",
                      NULL, 0, err);
    if (rc == KURA_DB_OK && kura_db_result_rows(res) == 1) {
        r->found = 1;
        snprintf(r->wallet_id, sizeof r->wallet_id, "%s", col_text(res, 0, 0));
        snprintf(r->generation, sizeof r->generation, "%s", col_text(res, 0, 1));
        r->gap = col_int(res, 0, 2, 20);
        r->next_height = col_int(res, 0, 3, 0);
        r->used[0] = col_int(res, 0, 4, -1);
        r->used[1] = col_int(res, 0, 5, -1);
        r->next_index[0] = col_int(res, 0, 6, 0);
        r->next_index[1] = col_int(res, 0, 7, 0);
        r->min_conf = col_int(res, 0, 8, 1);
        snprintf(r->chain, sizeof r->chain, "%s", col_text(res, 0, 9));
        r->descriptor = strdup(col_text(res, 0, 10));
        if (!r->descriptor)
            rc = KURA_DB_ENOMEM;
    }
    kura_db_result_free(res);
    return rc;
}

typedef struct accounts_arg {
    const char *wallet_id;
    int64_t branch, from, to;
    kura_db_result *res;
} accounts_arg;

static int accounts_fn(kura_db *db, void *varg, kura_db_error *err)
{
    accounts_arg *a = varg;
    kura_db_result_free(a->res);
    a->res = NULL;
    return kura_db_exec(db, &a->res,
                        "SELECT idx, account FROM addresses WHERE wallet_id = $1 AND branch = $2 "
                        "AND idx >= $3 AND idx <= $4 AND account <> '' ORDER BY idx",
                        (kura_db_param[]){KURA_DB_TEXT(a->wallet_id), KURA_DB_INT(a->branch),
                                          KURA_DB_INT(a->from), KURA_DB_INT(a->to)},
                        4, err);
}

/* Widens the scan's window on branch br to index `to`: derives each script
 * (libkura, from the wallet's descriptor) and indexes it; an address
 * allocated here keeps its account. */
static int rescan_widen(kura_follower *f, rescan_run *run, int br, int64_t to,
                        kura_rpc_error *err)
{
    int64_t from = run->window[br] + 1;
    accounts_arg acc = {run->wallet_id, br, from, to, NULL};
    kura_db_error dberr = {0};
    size_t next_acc = 0;
    int rc;
    if (to < from)
        return KURA_RPC_OK;
    if (to >= (int64_t)KURA_BIP32_HARDENED)
        to = (int64_t)KURA_BIP32_HARDENED - 1;
    if ((rc = kura_store_read(f->st, accounts_fn, &acc, &dberr)))
        return db_fail(err, rc, &dberr);
    {
        size_t more = (size_t)(to - from + 1);
        watched_addr *grown = realloc(run->addrs, (run->naddrs + more) * sizeof *grown);
        if (!grown || kura_watch_index_reserve(run->idx, run->naddrs + more) != 0) {
            if (grown)
                run->addrs = grown;
            kura_db_result_free(acc.res);
            return fail(err, KURA_RPC_ENOMEM, "out of memory");
        }
        run->addrs = grown;
    }
    for (int64_t i = from; i <= to; i++) {
        watched_addr *x = &run->addrs[run->naddrs];
        uint8_t script[64];
        size_t n = 0;
        kura_error kerr;
        memset(x, 0, sizeof *x);
        snprintf(x->wallet_id, sizeof x->wallet_id, "%s", run->wallet_id);
        x->branch = br;
        x->idx = i;
        x->min_conf = run->min_conf;
        if (kura_descriptor_script_pubkey(run->ctx, script, sizeof script, &n, run->desc,
                                          (size_t)br, (uint32_t)i, &kerr) != KURA_OK ||
            kura_descriptor_address(run->ctx, x->address, sizeof x->address, run->desc,
                                    (size_t)br, (uint32_t)i, run->network, &kerr) != KURA_OK) {
            kura_db_result_free(acc.res);
            return fail(err, KURA_FOLLOWER_EDB, "wallet %s: cannot derive %d/%lld: %s",
                        run->wallet_id, br, (long long)i, kerr.message);
        }
        sodium_bin2hex(x->script, sizeof x->script, script, n);
        while (next_acc < kura_db_result_rows(acc.res) && col_int(acc.res, next_acc, 0, -1) < i)
            next_acc++;
        if (next_acc < kura_db_result_rows(acc.res) && col_int(acc.res, next_acc, 0, -1) == i)
            snprintf(x->account, sizeof x->account, "%s", col_text(acc.res, next_acc, 1));
        if (kura_watch_index_add(run->idx, script, n, run->naddrs) != 0) {
            kura_db_result_free(acc.res);
            return fail(err, KURA_RPC_ENOMEM, "out of memory");
        }
        run->naddrs++;
    }
    kura_db_result_free(acc.res);
    run->window[br] = to;
    return KURA_RPC_OK;
}

static int rescan_build(kura_follower *f, const rescan_row *row, kura_rpc_error *err)
{
    rescan_run *run = calloc(1, sizeof *run);
    kura_error kerr = {0};
    int rc;
    rescan_run_free(f->rescan);
    f->rescan = NULL;
    if (!run)
        return fail(err, KURA_RPC_ENOMEM, "out of memory");
    snprintf(run->wallet_id, sizeof run->wallet_id, "%s", row->wallet_id);
    snprintf(run->generation, sizeof run->generation, "%s", row->generation);
    run->network = strcmp(row->chain, "bitcoin") == 0   ? KURA_NETWORK_MAINNET
                   : strcmp(row->chain, "regtest") == 0 ? KURA_NETWORK_REGTEST
                                                        : KURA_NETWORK_TESTNET;
    run->min_conf = row->min_conf;
    run->gap = row->gap;
    run->window[0] = run->window[1] = -1;
    for (int br = 0; br < 2; br++) {
        /* Indexes allocated here were handed out: they count as used. */
        run->used[br] = row->used[br] > row->next_index[br] - 1 ? row->used[br]
                                                                  : row->next_index[br] - 1;
    }
    if (!(run->ctx = kura_ctx_new()) || kura_watch_index_new(&run->idx, f->key) != 0) {
        rescan_run_free(run);
        return fail(err, KURA_RPC_ENOMEM, "out of memory");
    }
    if (kura_descriptor_parse(run->ctx, &run->desc, row->descriptor, strlen(row->descriptor),
                              &kerr) != KURA_OK) {
        rescan_run_free(run);
        return fail(err, KURA_FOLLOWER_EDB, "wallet %s: stored descriptor: %s", row->wallet_id,
                    kerr.message);
    }
    for (int br = 0; br < 2; br++)
        if ((rc = rescan_widen(f, run, br, run->used[br] + run->gap, err))) {
            rescan_run_free(run);
            return rc;
        }
    f->rescan = run;
    return KURA_RPC_OK;
}

typedef struct rescan_done_arg {
    kura_follower *f;
    const rescan_run *run;
    int64_t tip, now;
} rescan_done_arg;

static int rescan_done_fn(kura_db *db, void *varg, kura_db_error *err)
{
    rescan_done_arg *a = varg;
    int rc = fence(db, a->f, err);
    if (rc == KURA_DB_OK)
        rc = kura_db_exec(db, NULL,
                          "UPDATE wallet_rescans SET state = 'done', finished_at = $3, "
                          "updated_at = $3 WHERE wallet_id = $1 AND generation = $2 AND state = "
                          "'running' AND next_height > $4",
                          (kura_db_param[]){KURA_DB_TEXT(a->run->wallet_id),
                                            KURA_DB_TEXT(a->run->generation), KURA_DB_INT(a->now),
                                            KURA_DB_INT(a->tip)},
                          4, err);
    return rc;
}

/* One block of the scan: fetched, parsed and checked, scanned (again after
 * each widening of the window, so that an output using an index that only
 * an earlier output of the same block brought into the window is found),
 * recorded. */
static int rescan_block(kura_follower *f, rescan_run *run, int64_t h, int64_t tip, int64_t now,
                        kura_rpc_error *err)
{
    chain_arg ours;
    char hash[65], got[65], prev[65];
    uint8_t *bytes = NULL;
    size_t len = 0;
    kura_block *b = NULL;
    kura_error kerr;
    watch_view v;
    int rc;
    /* The followed chain's block at h, or the node's below where following began. */
    if ((rc = our_chain(f, h, &ours, err)))
        return rc;
    if (ours.hash[0])
        memcpy(hash, ours.hash, sizeof hash);
    else if ((rc = kura_rpc_block_hash(f->rpc, h, hash, err)))
        return rc;
    if ((rc = kura_rpc_block(f->rpc, hash, &bytes, &len, err)))
        return rc;
    if (kura_block_parse(&b, bytes, len, 0, &kerr) != 0) {
        free(bytes);
        return fail(err, KURA_FOLLOWER_EBLOCK, "block %s from the node does not parse: %s", hash,
                    kerr.message);
    }
    chain_hex_rev(got, b->hash);
    if (strcmp(got, hash) != 0) {
        rc = fail(err, KURA_FOLLOWER_EBLOCK, "the node sent block %s when asked for %s", got, hash);
        goto done;
    }
    if ((rc = load_ops(f, err)))
        goto done;
    for (;;) {
        int widened = 0;
        v.idx = run->idx, v.addrs = run->addrs, v.naddrs = run->naddrs;
        if (kura_watch_scan_block(f->res, run->idx, f->ops, b) != 0) {
            rc = fail(err, KURA_RPC_ENOMEM, "out of memory");
            goto done;
        }
        for (size_t i = 0; i < f->res->receipt_count; i++) {
            const watched_addr *w = receipt_ours(&v, &f->res->receipts[i]);
            if (w && w->idx > run->used[w->branch ? 1 : 0])
                run->used[w->branch ? 1 : 0] = w->idx;
        }
        for (int br = 0; br < 2; br++)
            if (run->used[br] + run->gap > run->window[br]) {
                if ((rc = rescan_widen(f, run, br, run->used[br] + run->gap, err)))
                    goto done;
                widened = 1;
            }
        if (!widened)
            break;
    }
    v.idx = run->idx, v.addrs = run->addrs, v.naddrs = run->naddrs;
    chain_hex_rev(prev, b->header.prev_hash);
    rc = record_block(f, b, &v, got, prev, h, tip, run, now, err);
done:
    kura_block_free(b);
    free(bytes);
    return rc;
}

static int rescan_step(kura_follower *f, int64_t tip, int64_t now, kura_rpc_error *err)
{
    rescan_row row;
    kura_db_error dberr = {0};
    rescan_done_arg da;
    size_t blocks = 0;
    int64_t h;
    int rc;
    memset(&row, 0, sizeof row);
    if ((rc = kura_store_read(f->st, rescan_row_fn, &row, &dberr))) {
        free(row.descriptor);
        return db_fail(err, rc, &dberr);
    }
    if (!row.found) {
        free(row.descriptor);
        rescan_run_free(f->rescan);
        f->rescan = NULL;
        return KURA_RPC_OK;
    }
    if (!f->rescan || strcmp(f->rescan->generation, row.generation) != 0 ||
        strcmp(f->rescan->wallet_id, row.wallet_id) != 0)
        rc = rescan_build(f, &row, err);
    free(row.descriptor);
    if (rc)
        return rc;
    for (h = row.next_height; h <= tip; h++) {
        if (f->max_blocks && blocks >= f->max_blocks)
            return KURA_RPC_OK; /* the next step goes on */
        if ((rc = rescan_block(f, f->rescan, h, tip, now, err))) {
            /* Replaced or moved back: the next step reads the row again. */
            rescan_run_free(f->rescan);
            f->rescan = NULL;
            return rc;
        }
        blocks++;
    }
    da.f = f;
    da.run = f->rescan;
    da.tip = tip;
    da.now = now;
    if ((rc = kura_store_write(f->st, rescan_done_fn, &da, &dberr)))
        return db_fail(err, rc, &dberr);
    return KURA_RPC_OK;
}
