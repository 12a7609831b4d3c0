/* src/assemble/common.c — what the assemble functions share: reason names,
 * refusals, finding which (branch, index) of the wallet a script is, and the
 * intent's binding to the wallet. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "assemble_internal.h"
#include "kura/script.h"

static const char *const REASON_NAMES[KURA_ASSEMBLE_REASON_COUNT] = {
    "KURA_ASSEMBLE_OK",
    "KURA_ASSEMBLE_MALFORMED",
    "KURA_ASSEMBLE_INTENT",
    "KURA_ASSEMBLE_FUNDING_MISSING",
    "KURA_ASSEMBLE_INPUT_FOREIGN",
    "KURA_ASSEMBLE_TX_UNSUPPORTED",
    "KURA_ASSEMBLE_TX_MISMATCH",
    "KURA_ASSEMBLE_FIELD_ADDED",
    "KURA_ASSEMBLE_SIGNATURE_INVALID",
    "KURA_ASSEMBLE_SIGHASH",
    "KURA_ASSEMBLE_THRESHOLD_NOT_MET",
    "KURA_ASSEMBLE_OUTPUT_MISSING",
    "KURA_ASSEMBLE_OUTPUT_DUPLICATE",
    "KURA_ASSEMBLE_OUTPUT_UNEXPECTED",
    "KURA_ASSEMBLE_CHANGE_BEYOND_LIMIT",
    "KURA_ASSEMBLE_FEE",
};

const char *kura_assemble_reason_name(kura_assemble_reason reason)
{
    unsigned v = (unsigned)reason;
    if (v >= KURA_ASSEMBLE_REASON_COUNT) return "KURA_ASSEMBLE_?";
    return REASON_NAMES[v];
}

int kura_assemble_i_refuse(kura_assemble_reason *reason, kura_error *err,
                           kura_assemble_reason why, const char *fmt, ...)
{
    va_list ap;
    if (reason != NULL) *reason = why;
    if (err != NULL) {
        int n = snprintf(err->message, sizeof(err->message), "assemble: ");
        err->code = KURA_EDATA;
        va_start(ap, fmt);
        if (n > 0 && (size_t)n < sizeof(err->message))
            vsnprintf(err->message + n, sizeof(err->message) - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return KURA_EDATA;
}

void kura_assemble_i_describe(char *out, size_t out_len, const uint8_t *script, size_t len,
                              kura_network network)
{
    static const char HEX[] = "0123456789abcdef";
    size_t pos;
    if (out_len == 0) return;
    if (kura_address_from_script(out, out_len, script, len, network, NULL) == KURA_OK) return;
    pos = (size_t)snprintf(out, out_len, "script ");
    for (size_t i = 0; i < len && pos + 3 < out_len; i++) {
        out[pos++] = HEX[script[i] >> 4];
        out[pos++] = HEX[script[i] & 15];
    }
    if (pos < out_len) out[pos] = '\0';
}

size_t kura_assemble_i_signature_count(const kura_psbt_input *in)
{
    return in->partial_sig_count + (in->tap_key_sig_len > 0 ? 1 : 0) + in->tap_script_sig_count;
}

/* ---- locating a script in the wallet ---- */

#define HINTS_MAX 8

typedef struct hint {
    size_t branch;
    uint32_t index;
} hint;

static void add_hint(hint *h, size_t *n, const uint32_t *path, size_t path_len)
{
    hint x;
    if (path == NULL || path_len < 2) return;
    x.branch = path[path_len - 2];
    x.index = path[path_len - 1];
    for (size_t i = 0; i < *n; i++)
        if (h[i].branch == x.branch && h[i].index == x.index) return;
    if (*n < HINTS_MAX) h[(*n)++] = x;
}

/* 1 when the wallet derives script at (branch, index); -1 out of memory. */
static int derives(const kura_ctx *ctx, const kura_descriptor *wallet, size_t branch,
                   uint32_t index, const uint8_t *script, size_t len)
{
    uint8_t s[KURA_SCRIPT_PUBKEY_MAX];
    size_t n = 0;
    int rc;
    if (branch >= kura_descriptor_multipath_count(wallet) || index >= KURA_BIP32_HARDENED)
        return 0;
    rc = kura_descriptor_script_pubkey(ctx, s, sizeof(s), &n, wallet, branch, index, NULL);
    if (rc == KURA_ENOMEM) return -1;
    return rc == KURA_OK && n == len && memcmp(s, script, len) == 0;
}

typedef struct table_entry {
    uint8_t script[KURA_SCRIPT_PUBKEY_MAX];
    uint8_t len;
    uint32_t branch;
    uint32_t index;
} table_entry;

struct kura_assemble_i_table {
    table_entry *entries; /* sorted by (len, script, branch, index) */
    size_t count;
};

void kura_assemble_i_table_free(kura_assemble_i_table *table)
{
    if (table == NULL) return;
    free(table->entries);
    free(table);
}

static int entry_cmp(const void *a, const void *b)
{
    const table_entry *x = a, *y = b;
    int c;
    if (x->len != y->len) return x->len < y->len ? -1 : 1;
    c = memcmp(x->script, y->script, x->len);
    if (c != 0) return c;
    if (x->branch != y->branch) return x->branch < y->branch ? -1 : 1;
    return x->index < y->index ? -1 : (x->index > y->index ? 1 : 0);
}

static int table_build(const kura_ctx *ctx, kura_assemble_i_table **out,
                       const kura_descriptor *wallet, uint32_t n)
{
    size_t branches = kura_descriptor_multipath_count(wallet), total;
    kura_assemble_i_table *t;
    if (!kura_size_mul(branches, n, &total)) return KURA_ENOMEM;
    t = calloc(1, sizeof(*t));
    if (t == NULL) return KURA_ENOMEM;
    t->entries = calloc(total ? total : 1, sizeof(*t->entries));
    if (t->entries == NULL) {
        free(t);
        return KURA_ENOMEM;
    }
    for (size_t b = 0; b < branches; b++) {
        for (uint32_t i = 0; i < n; i++) {
            table_entry *e = &t->entries[t->count];
            size_t len = 0;
            int rc = kura_descriptor_script_pubkey(ctx, e->script, sizeof(e->script), &len, wallet,
                                                   b, i, NULL);
            if (rc == KURA_ENOMEM) {
                kura_assemble_i_table_free(t);
                return rc;
            }
            if (rc != KURA_OK) continue; /* BIP32's invalid child: no script there */
            e->len = (uint8_t)len;
            e->branch = (uint32_t)b;
            e->index = i;
            t->count++;
        }
    }
    qsort(t->entries, t->count, sizeof(*t->entries), entry_cmp);
    *out = t;
    return KURA_OK;
}

int kura_assemble_i_locate(const kura_ctx *ctx, size_t *branch, uint32_t *index,
                           kura_assemble_i_table **table, const kura_descriptor *wallet,
                           const uint8_t *script, size_t len, const kura_psbt_bip32 *bip32,
                           size_t bip32_count, const kura_psbt_tap_bip32 *tap, size_t tap_count,
                           const kura_assemble_lookup *lookup, size_t only_branch,
                           uint32_t scan_limit)
{
    hint hints[HINTS_MAX];
    size_t n = 0, lo, hi;
    table_entry key;
    int d;
    *branch = 0;
    *index = 0;
    for (size_t k = 0; k < bip32_count; k++)
        add_hint(hints, &n, bip32[k].origin.path, bip32[k].origin.path_len);
    for (size_t k = 0; k < tap_count; k++)
        add_hint(hints, &n, tap[k].origin.path, tap[k].origin.path_len);
    for (size_t k = 0; k < n; k++) {
        if (only_branch != SIZE_MAX && hints[k].branch != only_branch) continue;
        d = derives(ctx, wallet, hints[k].branch, hints[k].index, script, len);
        if (d < 0) return KURA_ENOMEM;
        if (d) {
            *branch = hints[k].branch;
            *index = hints[k].index;
            return KURA_OK;
        }
    }
    if (lookup != NULL && lookup->locate != NULL) {
        size_t b = 0;
        uint32_t i = 0;
        if (lookup->locate(lookup->arg, script, len, &b, &i) &&
            (only_branch == SIZE_MAX || b == only_branch)) {
            d = derives(ctx, wallet, b, i, script, len);
            if (d < 0) return KURA_ENOMEM;
            if (d) {
                *branch = b;
                *index = i;
                return KURA_OK;
            }
        }
    }
    if (lookup == NULL || lookup->scan_limit == 0 || scan_limit == 0 ||
        len > KURA_SCRIPT_PUBKEY_MAX)
        return KURA_ENOTFOUND;
    if (*table == NULL) {
        int rc = table_build(ctx, table, wallet, lookup->scan_limit);
        if (rc != KURA_OK) return rc;
    }
    /* The first entry of this script (entries of one script are ordered by
     * branch and index), then the first that fits the branch and bound. */
    memset(&key, 0, sizeof(key));
    memcpy(key.script, script, len);
    key.len = (uint8_t)len;
    lo = 0;
    hi = (*table)->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (entry_cmp(&(*table)->entries[mid], &key) < 0) lo = mid + 1;
        else hi = mid;
    }
    for (; lo < (*table)->count; lo++) {
        const table_entry *e = &(*table)->entries[lo];
        if (e->len != len || memcmp(e->script, script, len) != 0) break;
        if ((only_branch == SIZE_MAX || e->branch == only_branch) && e->index < scan_limit) {
            *branch = e->branch;
            *index = e->index;
            return KURA_OK;
        }
    }
    return KURA_ENOTFOUND;
}

/* ---- the intent names this wallet ---- */

int kura_assemble_i_intent(const kura_ctx *ctx, kura_intent **out, kura_assemble_reason *reason,
                           const kura_descriptor *wallet, const uint8_t *text, size_t len,
                           kura_error *err)
{
    kura_intent *intent = NULL;
    kura_error ierr;
    kura_network network;
    char *canon = NULL;
    const char *hash;
    int rc;

    *out = NULL;
    if (text == NULL || len == 0)
        return kura_assemble_i_refuse(reason, err, KURA_ASSEMBLE_INTENT, "no intent text");
    rc = kura_intent_parse(&intent, text, len, &ierr);
    if (rc == KURA_ENOMEM) return kura_fail(err, rc, "assemble: out of memory");
    if (rc != KURA_OK)
        return kura_assemble_i_refuse(reason, err, KURA_ASSEMBLE_INTENT, "intent: %s",
                                      ierr.message);
    rc = kura_descriptor_to_string(ctx, &canon, wallet, KURA_DESCRIPTOR_ALL_BRANCHES,
                                   KURA_DESCRIPTOR_PUBLIC, NULL);
    if (rc != KURA_OK) {
        kura_intent_free(intent);
        return kura_fail(err, rc == KURA_EDATA ? KURA_EINVAL : rc,
                         "assemble: the wallet descriptor has no public form");
    }
    hash = strrchr(canon, '#');
    if (hash == NULL || strcmp(hash + 1, intent->wallet.checksum) != 0) {
        rc = kura_assemble_i_refuse(reason, err, KURA_ASSEMBLE_INTENT,
                                    "the intent names wallet #%s; this wallet is #%s",
                                    intent->wallet.checksum, hash != NULL ? hash + 1 : "?");
        kura_descriptor_string_free(canon);
        kura_intent_free(intent);
        return rc;
    }
    kura_descriptor_string_free(canon);
    if (kura_intent_chain_network(&network, intent->chain) != KURA_OK ||
        !kura_descriptor_allows_network(wallet, network)) {
        rc = kura_assemble_i_refuse(reason, err, KURA_ASSEMBLE_INTENT,
                                    "the intent is for %s; the wallet's keys are not",
                                    kura_intent_chain_name(intent->chain));
        kura_intent_free(intent);
        return rc;
    }
    *out = intent;
    return KURA_OK;
}
