/*
 * src/journal/journal_internal.h — what the journal's files share; not API.
 */
#ifndef KURA_JOURNAL_INTERNAL_H
#define KURA_JOURNAL_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kura/journal.h"

/* One `signed` entry as the rolling limit and fee bumps need it. Kept in
 * entry order, which is time order (times never decrease along the chain). */
typedef struct kura_journal_spend {
    int64_t time;
    uint64_t amount;         /* what it counts in the rolling limit: 0 once replaced */
    uint64_t fee;            /* ditto: the highest fee of its bump chain, 0 once replaced */
    uint64_t seq;            /* its entry */
    uint64_t real_fee;       /* the fee it recorded */
    uint64_t real_amount;    /* the amount it recorded */
    uint8_t txid[32];
    int bip125;              /* 1, 0, or -1 (version-1 entry) */
    size_t input_off;        /* its inputs: outpoints[input_off .. + input_count) */
    uint32_t input_count;    /* 0: not recorded */
    bool has_replaces;
    uint64_t replaces;
    bool replaced;           /* a later entry replaces it */
    uint8_t intent_hash[32];
} kura_journal_spend;

/* One `signed` entry as replay protection needs it; kept sorted by
 * (hash, seq) for binary search. */
typedef struct kura_journal_signed_ref {
    uint8_t intent_hash[32];
    uint64_t seq;
    size_t spend;            /* its index in spends */
} kura_journal_signed_ref;

/* One `policy` entry; versions strictly ascend along the chain. */
typedef struct kura_journal_policy_ref {
    uint64_t version;
    uint8_t hash[32];
    int64_t time;
} kura_journal_policy_ref;

struct kura_journal {
    int fd;                  /* the locked file; -1 for a journal parsed from memory */
    bool writable;           /* opened for appending */
    bool poisoned;           /* an append's write or fsync failed: refuse appends */
    uint64_t count;          /* entries verified */
    uint64_t size;           /* bytes of those entries, the file length when whole */
    uint8_t head[32];        /* hash of the last entry */
    int64_t last_time;       /* time of the last entry */
    kura_journal_spend *spends;       /* every `signed` entry, in order */
    size_t spend_count, spend_cap;
    kura_journal_signed_ref *signed_refs; /* the same, sorted by intent hash */
    size_t signed_count, signed_cap;
    kura_journal_policy_ref *policies;    /* every `policy` entry, in order */
    size_t policy_count, policy_cap;
    /* Inputs of signed entries, then (from outpoint_count) the run of
     * `input` entries since the last other entry, all for pending_hash:
     * the next signed entry takes the last N of them. */
    kura_journal_outpoint *outpoints;
    size_t outpoint_count, outpoint_cap, pending_count;
    uint8_t pending_hash[32];
};

/* Formats the canonical line of e (without LF) into out[0..KURA_JOURNAL_LINE_MAX)
 * with a NUL, its length into *len and its hash into hash. Returns KURA_OK or
 * KURA_EINVAL (a field out of range); err gets a message naming the field. */
int kura_journal_line_format(char out[KURA_JOURNAL_LINE_MAX], size_t *len, uint8_t hash[32],
                             const kura_journal_entry *e, kura_error *err);

/* A new empty journal (fd -1, nothing verified), or NULL without memory. */
kura_journal *kura_journal_alloc(void);

/* Streaming reader: lines are fed in chunks of any size and each complete
 * line is checked against the chain so far and added to the summary. */
typedef struct kura_journal_loader {
    kura_journal *j;                       /* receives the entries */
    uint8_t line[KURA_JOURNAL_LINE_MAX];   /* the line being assembled */
    size_t line_len;
    uint64_t consumed;                     /* bytes of complete, verified lines */
    uint64_t bad_entry;                    /* the entry a failure is about */
} kura_journal_loader;

void kura_journal_loader_init(kura_journal_loader *l, kura_journal *j);
/* Feeds data[0..len). Returns KURA_OK or the first failure (KURA_EDATA,
 * KURA_ERANGE, KURA_ENOMEM); after a failure, l->bad_entry names the entry. */
int kura_journal_loader_feed(kura_journal_loader *l, const uint8_t *data, size_t len,
                             kura_error *err);
/* At end of input: KURA_OK if the input ended on a LF after at least the
 * init entry; KURA_JOURNAL_ETORN for a partial last line after a verified
 * init (l->consumed is then the length to keep); KURA_EDATA otherwise. */
int kura_journal_loader_finish(kura_journal_loader *l, kura_error *err);
/* Sorts the replay index of what was loaded (entries are added unsorted
 * while loading). Call after the last feed, whatever finish returned. */
void kura_journal_loader_done(kura_journal_loader *l);

/* Checks entry e (parsed or about to be written) against the end of the
 * chain in j, without changing j: sequence number, previous hash, kind
 * placement, time order, policy order, entry limit. Returns KURA_OK,
 * KURA_EDATA (for a parsed entry; `appending` false) or the append codes
 * KURA_JOURNAL_EORDER / KURA_JOURNAL_EREPLAY / KURA_ERANGE (`appending`
 * true), with a message. */
int kura_journal_check_next(const kura_journal *j, const kura_journal_entry *e, bool appending,
                            kura_error *err);

/* Whether a new signature of intent_hash spending inputs[0..input_count)
 * with `fee` may replace the ones j records (kura_journal_append_signature):
 * KURA_OK, or KURA_JOURNAL_EREPLAY with the reason. */
int kura_journal_bump_allowed(const kura_journal *j, const uint8_t intent_hash[32], uint64_t fee,
                              int bip125, const kura_journal_outpoint *inputs, size_t input_count,
                              kura_error *err);

/* Makes room in the summary for n more `input` entries. Returns false
 * without memory (or on overflow). */
bool kura_journal_reserve_inputs(kura_journal *j, size_t n);

/* Makes room in the summary for one more entry of `kind`, so that adding it
 * after it is durably written cannot fail. Returns false without memory. */
bool kura_journal_reserve(kura_journal *j, kura_journal_kind kind);

/* Adds a verified entry (whose line was line_len bytes with its LF) to the
 * summary; `sorted` keeps the replay index sorted (appending), otherwise the
 * entry goes at its end (loading; see kura_journal_loader_done). Returns
 * KURA_OK or KURA_ENOMEM (j then unchanged). */
int kura_journal_add(kura_journal *j, const kura_journal_entry *e, size_t line_len, bool sorted,
                     kura_error *err);

#endif /* KURA_JOURNAL_INTERNAL_H */
