/* src/journal/journal.c — the chain rules, the in-memory summary and the
 * queries the signer's check asks of it. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "journal_internal.h"

const char *kura_journal_status_name(int code)
{
    switch (code) {
    case KURA_JOURNAL_ETORN: return "KURA_JOURNAL_ETORN";
    case KURA_JOURNAL_EIO: return "KURA_JOURNAL_EIO";
    case KURA_JOURNAL_EEXIST: return "KURA_JOURNAL_EEXIST";
    case KURA_JOURNAL_EBUSY: return "KURA_JOURNAL_EBUSY";
    case KURA_JOURNAL_EPERM: return "KURA_JOURNAL_EPERM";
    case KURA_JOURNAL_EORDER: return "KURA_JOURNAL_EORDER";
    case KURA_JOURNAL_EREPLAY: return "KURA_JOURNAL_EREPLAY";
    default: return kura_status_name(code);
    }
}

kura_journal *kura_journal_alloc(void)
{
    kura_journal *j = calloc(1, sizeof(*j));
    if (j != NULL) j->fd = -1;
    return j;
}

/* Binary search in the sorted replay index: the first position whose
 * (hash, seq) is not below (hash, seq). */
static size_t signed_lower_bound(const kura_journal *j, const uint8_t hash[32], uint64_t seq)
{
    size_t lo = 0, hi = j->signed_count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = memcmp(j->signed_refs[mid].intent_hash, hash, 32);
        if (c < 0 || (c == 0 && j->signed_refs[mid].seq < seq))
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* The `signed` entry number seq in the summary (spends are in entry
 * order), or NULL. */
static const kura_journal_spend *spend_by_seq(const kura_journal *j, uint64_t seq)
{
    size_t lo = 0, hi = j->spend_count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (j->spends[mid].seq < seq)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < j->spend_count && j->spends[lo].seq == seq ? &j->spends[lo] : NULL;
}

/* Grows *arr (of *cap elements of size elem) to hold one more. */
static bool grow(void **arr, size_t *cap, size_t count, size_t elem)
{
    size_t ncap, bytes;
    void *p;
    if (count < *cap) return true;
    ncap = *cap < 16 ? 16 : *cap;
    if (!kura_size_mul(ncap, 2, &ncap) || !kura_size_mul(ncap, elem, &bytes)) return false;
    p = realloc(*arr, bytes);
    if (p == NULL) return false;
    *arr = p;
    *cap = ncap;
    return true;
}

int kura_journal_check_next(const kura_journal *j, const kura_journal_entry *e, bool appending,
                            kura_error *err)
{
    static const uint8_t genesis[32] = {0};
    uint64_t n = j->count;
    int bad = appending ? KURA_EINVAL : KURA_EDATA;
    if (n >= KURA_JOURNAL_ENTRIES_MAX)
        return kura_fail(err, KURA_ERANGE, "journal: entry %llu: over the limit of %d entries",
                         (unsigned long long)n, KURA_JOURNAL_ENTRIES_MAX);
    if (e->seq != n)
        return kura_fail(err, bad, "journal: entry %llu: sequence number %llu",
                         (unsigned long long)n, (unsigned long long)e->seq);
    /* The previous-hash link is what makes the journal a chain: an entry
     * removed, inserted or reordered breaks the link after it. */
    if (memcmp(e->prev_hash, n == 0 ? genesis : j->head, 32) != 0)
        return kura_fail(err, bad,
                         n == 0 ? "journal: entry %llu: previous hash is not the genesis value"
                                : "journal: entry %llu: previous hash does not match the entry "
                                  "before",
                         (unsigned long long)n);
    if ((n == 0) != (e->kind == KURA_JOURNAL_INIT))
        return kura_fail(err, bad,
                         n == 0 ? "journal: entry %llu: the first entry must be init"
                                : "journal: entry %llu: init entry after the first",
                         (unsigned long long)n);
    /* Times never decrease. The rolling limit sums by time; a clock set back
     * must stop the signer rather than open a window in which earlier
     * signatures no longer count. */
    if (n > 0 && e->time < j->last_time)
        return kura_fail(err, appending ? KURA_JOURNAL_EORDER : KURA_EDATA,
                         "journal: entry %llu: time earlier than the entry before",
                         (unsigned long long)n);
    /* Policy versions only grow (DESIGN "Formats" 3): a replayed older
     * policy must not be recorded as accepted. */
    if (e->kind == KURA_JOURNAL_POLICY && j->policy_count > 0 &&
        e->policy_version <= j->policies[j->policy_count - 1].version)
        return kura_fail(err, appending ? KURA_JOURNAL_EORDER : KURA_EDATA,
                         "journal: entry %llu: policy version %llu not above version %llu",
                         (unsigned long long)n, (unsigned long long)e->policy_version,
                         (unsigned long long)j->policies[j->policy_count - 1].version);
    if (e->kind == KURA_JOURNAL_SIGNED) {
        /* The replay index is sorted only when appending (loading sorts it
         * once at the end). */
        size_t first = appending ? signed_lower_bound(j, e->intent_hash, 0) : j->signed_count;
        bool before = first < j->signed_count &&
                      memcmp(j->signed_refs[first].intent_hash, e->intent_hash, 32) == 0;
        /* Its inputs are the `input` entries right before it, for its intent. */
        if (e->input_count > 0 &&
            (j->pending_count < e->input_count ||
             memcmp(j->pending_hash, e->intent_hash, 32) != 0))
            return kura_fail(err, bad,
                             "journal: entry %llu: signed entry counts %lu inputs, but the input "
                             "entries right before it for its intent are fewer",
                             (unsigned long long)n, (unsigned long)e->input_count);
        /* A fee bump names the latest earlier signature of its intent: a
         * chain of replacements, each visible in the file. */
        if (e->has_replaces) {
            const kura_journal_spend *r = spend_by_seq(j, e->replaces);
            if (r == NULL || r->replaced || memcmp(r->intent_hash, e->intent_hash, 32) != 0)
                return kura_fail(err, appending ? KURA_JOURNAL_EREPLAY : KURA_EDATA,
                                 "journal: entry %llu: replaces entry %llu, which is not the "
                                 "latest signature of its intent",
                                 (unsigned long long)n, (unsigned long long)e->replaces);
        }
        /* A journal written by this code never holds two signatures of one
         * intent unless the later is a fee bump of the earlier that the
         * rules below allow; when appending, refusing anything else is
         * defence in depth behind the signer's own check. A file with
         * other duplicates is still read: it records what happened, and
         * the replay query finds the first. */
        if (appending && before) {
            if (!e->has_replaces)
                return kura_fail(err, KURA_JOURNAL_EREPLAY,
                                 "journal: intent already signed in entry %llu",
                                 (unsigned long long)j->signed_refs[first].seq);
            return kura_journal_bump_allowed(j, e->intent_hash, e->fee, e->bip125,
                                             j->outpoints + j->outpoint_count + j->pending_count -
                                                 e->input_count,
                                             e->input_count, err);
        }
    }
    return KURA_OK;
}

int kura_journal_bump_allowed(const kura_journal *j, const uint8_t intent_hash[32], uint64_t fee,
                              int bip125, const kura_journal_outpoint *inputs, size_t input_count,
                              kura_error *err)
{
    size_t pos = signed_lower_bound(j, intent_hash, 0);
    if (!bip125)
        return kura_fail(err, KURA_JOURNAL_EREPLAY,
                         "journal: a fee bump must signal BIP125 replaceability");
    for (; pos < j->signed_count && memcmp(j->signed_refs[pos].intent_hash, intent_hash, 32) == 0;
         pos++) {
        const kura_journal_spend *sp = &j->spends[j->signed_refs[pos].spend];
        if (sp->input_count == 0 || sp->bip125 != 1)
            return kura_fail(err, KURA_JOURNAL_EREPLAY,
                             "journal: intent signed in entry %llu, %s",
                             (unsigned long long)sp->seq,
                             sp->input_count == 0 ? "without its inputs recorded"
                                                  : "without a BIP125 signal");
        if (fee <= sp->real_fee)
            return kura_fail(err, KURA_JOURNAL_EREPLAY,
                             "journal: fee %llu is not above the fee %llu of entry %llu",
                             (unsigned long long)fee, (unsigned long long)sp->real_fee,
                             (unsigned long long)sp->seq);
        /* Every input of every earlier signature is spent again, so the
         * transactions conflict pairwise and at most one confirms. */
        for (uint32_t k = 0; k < sp->input_count; k++) {
            const kura_journal_outpoint *o = &j->outpoints[sp->input_off + k];
            size_t m = 0;
            while (m < input_count &&
                   (inputs[m].vout != o->vout || memcmp(inputs[m].txid, o->txid, 32) != 0))
                m++;
            if (m == input_count)
                return kura_fail(err, KURA_JOURNAL_EREPLAY,
                                 "journal: does not spend input %lu of entry %llu: a second "
                                 "payment, not a replacement",
                                 (unsigned long)k, (unsigned long long)sp->seq);
        }
    }
    return KURA_OK;
}

bool kura_journal_reserve_inputs(kura_journal *j, size_t n)
{
    size_t need, ncap, bytes;
    void *p;
    if (!kura_size_add(j->outpoint_count, j->pending_count, &need) ||
        !kura_size_add(need, n, &need))
        return false;
    if (need <= j->outpoint_cap) return true;
    ncap = j->outpoint_cap < 16 ? 16 : j->outpoint_cap;
    while (ncap < need)
        if (!kura_size_mul(ncap, 2, &ncap)) return false;
    if (!kura_size_mul(ncap, sizeof(*j->outpoints), &bytes)) return false;
    p = realloc(j->outpoints, bytes);
    if (p == NULL) return false;
    j->outpoints = p;
    j->outpoint_cap = ncap;
    return true;
}

bool kura_journal_reserve(kura_journal *j, kura_journal_kind kind)
{
    if (kind == KURA_JOURNAL_INPUT)
        return grow((void **)&j->outpoints, &j->outpoint_cap, j->outpoint_count + j->pending_count,
                    sizeof(*j->outpoints));
    if (kind == KURA_JOURNAL_SIGNED)
        return grow((void **)&j->spends, &j->spend_cap, j->spend_count, sizeof(*j->spends)) &&
               grow((void **)&j->signed_refs, &j->signed_cap, j->signed_count,
                    sizeof(*j->signed_refs));
    if (kind == KURA_JOURNAL_POLICY)
        return grow((void **)&j->policies, &j->policy_cap, j->policy_count, sizeof(*j->policies));
    return true;
}

int kura_journal_add(kura_journal *j, const kura_journal_entry *e, size_t line_len, bool sorted,
                     kura_error *err)
{
    if (!kura_journal_reserve(j, e->kind))
        return kura_fail(err, KURA_ENOMEM, "journal: out of memory");
    if (e->kind == KURA_JOURNAL_INPUT) {
        /* A run of input entries is for one intent; another intent's input
         * starts a new run (what was pending belonged to no signature). */
        if (j->pending_count > 0 && memcmp(j->pending_hash, e->intent_hash, 32) != 0)
            j->pending_count = 0;
        memcpy(j->pending_hash, e->intent_hash, 32);
        memcpy(j->outpoints[j->outpoint_count + j->pending_count].txid, e->outpoint_txid, 32);
        j->outpoints[j->outpoint_count + j->pending_count].vout = e->outpoint_vout;
        j->pending_count++;
    } else if (e->kind == KURA_JOURNAL_SIGNED) {
        size_t pos;
        kura_journal_spend *sp = &j->spends[j->spend_count];
        memset(sp, 0, sizeof(*sp));
        sp->time = e->time;
        sp->amount = sp->real_amount = e->amount;
        sp->fee = sp->real_fee = e->fee;
        sp->seq = e->seq;
        memcpy(sp->txid, e->txid, 32);
        sp->bip125 = e->input_count > 0 ? e->bip125 : -1;
        if (e->input_count > 0) {
            /* The last input_count pending outpoints are its inputs (check_next
             * made sure there are that many): moved down to follow the
             * inputs already attributed. */
            size_t from = j->outpoint_count + j->pending_count - e->input_count;
            memmove(j->outpoints + j->outpoint_count, j->outpoints + from,
                    e->input_count * sizeof(*j->outpoints));
            sp->input_off = j->outpoint_count;
            sp->input_count = e->input_count;
            j->outpoint_count += e->input_count;
        }
        memcpy(sp->intent_hash, e->intent_hash, 32);
        if (e->has_replaces) {
            /* The intent counts once in the rolling limit: at the latest
             * signature's time, with the chain's highest fee. */
            kura_journal_spend *old = (kura_journal_spend *)spend_by_seq(j, e->replaces);
            if (old != NULL) {
                if (old->fee > sp->fee) sp->fee = old->fee;
                old->amount = 0;
                old->fee = 0;
                old->replaced = true;
            }
            sp->has_replaces = true;
            sp->replaces = e->replaces;
        }
        j->spend_count++;
        /* While loading, refs are appended and sorted once at the end: an
         * insertion per entry would make opening quadratic in its length. */
        pos = sorted ? signed_lower_bound(j, e->intent_hash, e->seq) : j->signed_count;
        memmove(j->signed_refs + pos + 1, j->signed_refs + pos,
                (j->signed_count - pos) * sizeof(*j->signed_refs));
        memcpy(j->signed_refs[pos].intent_hash, e->intent_hash, 32);
        j->signed_refs[pos].seq = e->seq;
        j->signed_refs[pos].spend = j->spend_count - 1;
        j->signed_count++;
    } else if (e->kind == KURA_JOURNAL_POLICY) {
        j->policies[j->policy_count].version = e->policy_version;
        memcpy(j->policies[j->policy_count].hash, e->policy_hash, 32);
        j->policies[j->policy_count].time = e->time;
        j->policy_count++;
    }
    if (e->kind != KURA_JOURNAL_INPUT) j->pending_count = 0;
    j->count++;
    j->size += line_len;
    memcpy(j->head, e->hash, 32);
    j->last_time = e->time;
    return KURA_OK;
}

static int signed_ref_cmp(const void *a, const void *b)
{
    const kura_journal_signed_ref *x = a, *y = b;
    int c = memcmp(x->intent_hash, y->intent_hash, 32);
    if (c != 0) return c;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* ---- loading ---- */

void kura_journal_loader_init(kura_journal_loader *l, kura_journal *j)
{
    memset(l, 0, sizeof(*l));
    l->j = j;
}

static int load_line(kura_journal_loader *l, kura_error *err)
{
    kura_journal_entry e;
    kura_error sub;
    int rc;
    l->bad_entry = l->j->count;
    if (l->j->count >= KURA_JOURNAL_ENTRIES_MAX) {
        l->bad_entry = KURA_JOURNAL_ENTRIES_MAX;
        return kura_fail(err, KURA_ERANGE, "journal: more than %d entries",
                         KURA_JOURNAL_ENTRIES_MAX);
    }
    rc = kura_journal_entry_parse(&e, l->line, l->line_len, &sub);
    if (rc != KURA_OK)
        /* sub.message starts "journal: "; name the entry and keep the rest. */
        return kura_fail(err, rc, "journal: entry %llu (line %llu): %s",
                         (unsigned long long)l->j->count, (unsigned long long)l->j->count + 1,
                         sub.message + 9);
    rc = kura_journal_check_next(l->j, &e, false, err);
    if (rc != KURA_OK) return rc;
    rc = kura_journal_add(l->j, &e, l->line_len + 1, false, err);
    if (rc != KURA_OK) return rc;
    l->consumed += l->line_len + 1;
    l->line_len = 0;
    return KURA_OK;
}

int kura_journal_loader_feed(kura_journal_loader *l, const uint8_t *data, size_t len,
                             kura_error *err)
{
    while (len > 0) {
        const uint8_t *nl = memchr(data, '\n', len);
        size_t take = nl != NULL ? (size_t)(nl - data) : len;
        /* Bounded before copying: a file of one endless line is refused at
         * the limit instead of being buffered. */
        if (take >= KURA_JOURNAL_LINE_MAX - l->line_len) {
            l->bad_entry = l->j->count;
            return kura_fail(err, KURA_EDATA, "journal: entry %llu (line %llu): longer than %d "
                             "bytes",
                             (unsigned long long)l->j->count,
                             (unsigned long long)l->j->count + 1, KURA_JOURNAL_LINE_MAX - 1);
        }
        memcpy(l->line + l->line_len, data, take);
        l->line_len += take;
        data += take;
        len -= take;
        if (nl != NULL) {
            int rc = load_line(l, err);
            if (rc != KURA_OK) return rc;
            data++;
            len--;
        }
    }
    return KURA_OK;
}

int kura_journal_loader_finish(kura_journal_loader *l, kura_error *err)
{
    l->bad_entry = l->j->count;
    if (l->line_len > 0) {
        /* A partial line can only be a torn append if the chain before it
         * is whole, and the init entry exists: a journal is created with its
         * init entry in place, never empty. */
        if (l->j->count == 0)
            return kura_fail(err, KURA_EDATA, "journal: entry 0 (line 1): no complete init entry");
        return kura_fail(err, KURA_JOURNAL_ETORN,
                         "journal: entry %llu (line %llu): partial last line of %zu bytes "
                         "(torn append; recover to discard it)",
                         (unsigned long long)l->j->count, (unsigned long long)l->j->count + 1,
                         l->line_len);
    }
    if (l->j->count == 0) return kura_fail(err, KURA_EDATA, "journal: empty file");
    return KURA_OK;
}

void kura_journal_loader_done(kura_journal_loader *l)
{
    kura_journal *j = l->j;
    if (j->signed_count > 1)
        qsort(j->signed_refs, j->signed_count, sizeof(*j->signed_refs), signed_ref_cmp);
}

int kura_journal_parse(kura_journal **out, uint64_t *bad_entry, const uint8_t *data, size_t len,
                       kura_error *err)
{
    kura_journal_loader l;
    kura_journal *j;
    int rc;
    if (out != NULL) *out = NULL;
    if (bad_entry != NULL) *bad_entry = 0;
    if (out == NULL || (data == NULL && len > 0))
        return kura_fail(err, KURA_EINVAL, "journal: NULL argument");
    j = kura_journal_alloc();
    if (j == NULL) return kura_fail(err, KURA_ENOMEM, "journal: out of memory");
    kura_journal_loader_init(&l, j);
    rc = kura_journal_loader_feed(&l, data, len, err);
    if (rc == KURA_OK) rc = kura_journal_loader_finish(&l, err);
    kura_journal_loader_done(&l);
    if (bad_entry != NULL) *bad_entry = rc == KURA_OK ? j->count : rc == KURA_ENOMEM ? 0 : l.bad_entry;
    if (rc != KURA_OK) {
        kura_journal_free(j);
        return rc;
    }
    *out = j;
    return KURA_OK;
}

/* ---- queries ---- */

int kura_journal_head(const kura_journal *journal, uint64_t *count, uint8_t hash[32],
                      int64_t *last_time)
{
    if (count != NULL) *count = 0;
    if (hash != NULL) memset(hash, 0, 32);
    if (last_time != NULL) *last_time = 0;
    if (journal == NULL) return KURA_EINVAL;
    if (count != NULL) *count = journal->count;
    if (hash != NULL) memcpy(hash, journal->head, 32);
    if (last_time != NULL) *last_time = journal->last_time;
    return KURA_OK;
}

int kura_journal_find_signed(const kura_journal *journal, uint64_t *seq,
                             const uint8_t intent_hash[32])
{
    size_t pos;
    if (seq != NULL) *seq = 0;
    if (journal == NULL || intent_hash == NULL) return KURA_EINVAL;
    pos = signed_lower_bound(journal, intent_hash, 0);
    if (pos >= journal->signed_count ||
        memcmp(journal->signed_refs[pos].intent_hash, intent_hash, 32) != 0)
        return KURA_ENOTFOUND;
    if (seq != NULL) *seq = journal->signed_refs[pos].seq;
    return KURA_OK;
}

int kura_journal_signatures(const kura_journal *journal, kura_journal_signature *out,
                            size_t out_len, size_t *count, const uint8_t intent_hash[32])
{
    size_t pos, n = 0;
    if (count != NULL) *count = 0;
    if (out != NULL && out_len > 0) memset(out, 0, out_len * sizeof(*out));
    if (journal == NULL || intent_hash == NULL || count == NULL || (out == NULL && out_len > 0))
        return KURA_EINVAL;
    pos = signed_lower_bound(journal, intent_hash, 0);
    for (; pos < journal->signed_count &&
           memcmp(journal->signed_refs[pos].intent_hash, intent_hash, 32) == 0;
         pos++, n++) {
        const kura_journal_spend *sp = &journal->spends[journal->signed_refs[pos].spend];
        kura_journal_signature *o;
        if (n >= out_len) continue;
        o = &out[n];
        o->seq = sp->seq;
        o->time = sp->time;
        o->amount = sp->real_amount;
        o->fee = sp->real_fee;
        memcpy(o->txid, sp->txid, 32);
        o->bip125 = sp->bip125;
        o->inputs = sp->input_count > 0 ? journal->outpoints + sp->input_off : NULL;
        o->input_count = sp->input_count;
        o->has_replaces = sp->has_replaces;
        o->replaces = sp->replaces;
    }
    *count = n;
    return KURA_OK;
}

static uint64_t sat_add(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

int kura_journal_sum_24h(const kura_journal *journal, uint64_t *amount, uint64_t *fee,
                         int64_t now)
{
    uint64_t sa = 0, sf = 0;
    int64_t cutoff;
    size_t lo, hi;
    if (amount != NULL) *amount = 0;
    if (fee != NULL) *fee = 0;
    if (journal == NULL || now < 0 || now > KURA_JOURNAL_TIME_MAX) return KURA_EINVAL;
    cutoff = now - KURA_JOURNAL_WINDOW;
    /* Spends are in time order; find the first strictly after the cutoff
     * (an entry exactly 86400 s old is outside the window). */
    lo = 0;
    hi = journal->spend_count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (journal->spends[mid].time <= cutoff)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (size_t i = lo; i < journal->spend_count; i++) {
        sa = sat_add(sa, journal->spends[i].amount);
        sf = sat_add(sf, journal->spends[i].fee);
    }
    if (amount != NULL) *amount = sa;
    if (fee != NULL) *fee = sf;
    return KURA_OK;
}

int kura_journal_last_policy(const kura_journal *journal, uint64_t *version, uint8_t hash[32],
                             int64_t *accepted)
{
    const kura_journal_policy_ref *p;
    if (version != NULL) *version = 0;
    if (hash != NULL) memset(hash, 0, 32);
    if (accepted != NULL) *accepted = 0;
    if (journal == NULL) return KURA_EINVAL;
    if (journal->policy_count == 0) return KURA_ENOTFOUND;
    p = &journal->policies[journal->policy_count - 1];
    if (version != NULL) *version = p->version;
    if (hash != NULL) memcpy(hash, p->hash, 32);
    if (accepted != NULL) *accepted = p->time;
    return KURA_OK;
}

int kura_journal_policy_accepted(const kura_journal *journal, int64_t *accepted, uint8_t hash[32],
                                 uint64_t version)
{
    size_t lo = 0, hi;
    if (accepted != NULL) *accepted = 0;
    if (hash != NULL) memset(hash, 0, 32);
    if (journal == NULL) return KURA_EINVAL;
    hi = journal->policy_count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (journal->policies[mid].version < version)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo >= journal->policy_count || journal->policies[lo].version != version)
        return KURA_ENOTFOUND;
    if (accepted != NULL) *accepted = journal->policies[lo].time;
    if (hash != NULL) memcpy(hash, journal->policies[lo].hash, 32);
    return KURA_OK;
}
