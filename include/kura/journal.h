/*
 * kura/journal.h — the signer's append-only journal (DESIGN "Formats" 5;
 * format in docs/journal-format.md).
 *
 * A journal is a text file, one entry per LF-terminated line, each entry
 * holding the SHA-256 of the one before (the first, `init`, holds 32 zero
 * bytes) and its own SHA-256 over all its other fields. The signer records
 * in it what it signed, what it refused and which policies it accepted; the
 * journal answers the questions the signer's check asks: was this intent
 * signed before (replay), how much was signed in the last 24 hours (rolling
 * limit), which policy is in force and since when was each version known
 * (allowlist delays).
 *
 * Crash safety. kura_journal_append_* write the entry and fsync the file
 * before they return KURA_OK, and the signer writes a signed PSBT only after
 * that (DESIGN "What the signer checks" step 8). So every signature that
 * ever left the signer has its entry durably in the journal; an entry the
 * signer was writing when it crashed was never followed by a signature.
 * Such an entry can survive as a partial last line without its LF: opening
 * reports it as KURA_JOURNAL_ETORN (distinct from damage, KURA_EDATA), and
 * kura_journal_recover cuts it off and records the cut with a `recovered`
 * entry. Nothing else is ever discarded.
 *
 * A missing journal is not an empty one: it is KURA_ENOTFOUND, and a signer
 * must not answer it by creating a new journal on its own (that would forget
 * which intents were signed). Creating one belongs to the key ceremony.
 *
 * Concurrency: an open journal holds a POSIX record lock (fcntl) on the
 * file, exclusive when writable, shared when read-only; a second opener
 * gets KURA_JOURNAL_EBUSY. POSIX drops a process's record locks when it
 * closes *any* descriptor of the file, so a process opens a journal once and
 * does not also read it through other descriptors (kura_journal_verify
 * re-reads through the handle's own descriptor for that reason).
 *
 * Status codes: KURA_OK, the KURA_E* codes of kura/common.h (KURA_EDATA for
 * a damaged journal, KURA_ERANGE for one over the entry limit) and the
 * KURA_JOURNAL_E* codes below. In every case the kura_error (if given)
 * receives the same code and a one-line message starting "journal: ",
 * naming the entry ("journal: entry 41: previous-hash does not match entry
 * 40").
 *
 * Entry numbers are 0-based and equal the entry's sequence number (the init
 * entry is 0); an entry's line number in the file is its number + 1.
 */
#ifndef KURA_JOURNAL_H
#define KURA_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

#include "kura/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- status codes (the journal module owns -500..-599) ---- */

/* The file ends in a partial entry: bytes after the last LF. That is what a
 * crash in the middle of an append leaves; the partial entry was never
 * committed. kura_journal_recover removes it and records that it did. */
#define KURA_JOURNAL_ETORN (-501)
/* An operating-system call failed (open, read, write, fsync, ftruncate,
 * link); the message names the call and strerror. After a failed append the
 * handle refuses further appends: free it and open the journal again. */
#define KURA_JOURNAL_EIO (-502)
/* Creation refused: a file already exists at the path (left as it was). */
#define KURA_JOURNAL_EEXIST (-503)
/* Another process has the journal open (its lock is held). */
#define KURA_JOURNAL_EBUSY (-504)
/* The journal is not a regular file, or group or others may write it. */
#define KURA_JOURNAL_EPERM (-505)
/* An entry out of order: its time is earlier than the last entry's (a clock
 * set back), or a policy version is not above the last one accepted. */
#define KURA_JOURNAL_EORDER (-506)
/* A `signed` entry for an intent hash the journal already records as
 * signed. The signer checks first (kura_journal_find_signed); this is the
 * second line of defence against replay. */
#define KURA_JOURNAL_EREPLAY (-507)

/* Returns a constant, stable name for any code this module returns
 * ("KURA_JOURNAL_ETORN", "KURA_EDATA", ...), or "KURA_E?" for an unknown one. */
const char *kura_journal_status_name(int code);

/* ---- limits ---- */

/* Version 2 added `input` entries and the signed entry's input count,
 * BIP125 signal and replaced entry (fee bumps); version-1 journals still
 * load, and gain version-2 entries when appended to. */
#define KURA_JOURNAL_FORMAT_VERSION 2
#define KURA_JOURNAL_INPUTS_MAX 10000    /* inputs one signed entry records */
#define KURA_JOURNAL_LINE_MAX 512        /* longest line, LF included */
#define KURA_JOURNAL_ENTRIES_MAX 1000000 /* most entries one journal holds */
#define KURA_JOURNAL_REASON_MAX 64       /* refusal reason: [A-Za-z0-9_.:-]{1,64} */
#define KURA_JOURNAL_INTENT_ID_LEN 32    /* intent id: 32 lower-case hex chars */
#define KURA_JOURNAL_AMOUNT_MAX 2100000000000000ull  /* MAX_MONEY, satoshis */
#define KURA_JOURNAL_POLICY_VERSION_MAX 9007199254740991ull /* 2^53 - 1 */
#define KURA_JOURNAL_CHANGE_INDEX_MAX 2147483647u /* BIP32 non-hardened indexes */
/* Times are seconds since 1970-01-01T00:00:00Z, written as ISO 8601 UTC
 * ("2026-11-21T09:30:00Z"), from 0 to 9999-12-31T23:59:59Z. */
#define KURA_JOURNAL_TIME_MAX 253402300799LL
/* The rolling window of kura_journal_sum_24h, seconds. */
#define KURA_JOURNAL_WINDOW 86400

/* ---- entries ---- */

typedef enum kura_journal_kind {
    KURA_JOURNAL_INIT = 0,     /* "init": the first entry, and only the first */
    KURA_JOURNAL_SIGNED = 1,   /* "signed": a transaction was signed */
    KURA_JOURNAL_REFUSED = 2,  /* "refused": a request was refused */
    KURA_JOURNAL_POLICY = 3,   /* "policy": a policy version was accepted */
    KURA_JOURNAL_RECOVERED = 4, /* "recovered": a torn tail was cut off on recovery */
    KURA_JOURNAL_CHANGE = 5,   /* "change": the highest change index of a transaction about
                                  to be signed (written before its "signed" entry) */
    KURA_JOURNAL_INPUT = 6     /* "input": one outpoint a transaction about to be signed
                                  spends; the N entries right before a signed entry that
                                  counts N inputs are its inputs (format version 2) */
} kura_journal_kind;

/* Returns the kind's name as written ("signed"), or NULL outside the enum. */
const char *kura_journal_kind_name(kura_journal_kind kind);

/* One entry. Only the fields of its kind are meaningful; the others are 0. */
typedef struct kura_journal_entry {
    uint64_t seq;              /* its number: 0 for init, then +1 each */
    int64_t time;              /* seconds since the epoch, 0..KURA_JOURNAL_TIME_MAX */
    kura_journal_kind kind;
    uint32_t format_version;   /* init: KURA_JOURNAL_FORMAT_VERSION */
    int has_intent_hash;       /* signed, input: 1; refused: 0 when the intent was unreadable */
    uint8_t intent_hash[32];   /* signed, refused, input: SHA-256 of the intent text */
    char intent_id[KURA_JOURNAL_INTENT_ID_LEN + 1]; /* signed: the intent's id */
    uint64_t amount;           /* signed: satoshis to non-change destinations */
    uint64_t fee;              /* signed: satoshis */
    uint8_t txid[32];          /* signed: txid of the unsigned tx, internal byte order
                                  (written reversed, as block explorers show it) */
    char reason[KURA_JOURNAL_REASON_MAX + 1]; /* refused: a stable reason code */
    uint64_t policy_version;   /* policy: 1..KURA_JOURNAL_POLICY_VERSION_MAX */
    uint8_t policy_hash[32];   /* policy: SHA-256 of the policy text */
    uint64_t discarded_len;    /* recovered: bytes cut off, 1..KURA_JOURNAL_LINE_MAX - 1 */
    uint8_t discarded_hash[32];/* recovered: SHA-256 of those bytes */
    uint32_t change_index;     /* change: 0..KURA_JOURNAL_CHANGE_INDEX_MAX */
    uint32_t input_count;      /* signed: inputs recorded by the `input` entries right
                                  before it, 1..KURA_JOURNAL_INPUTS_MAX; 0 for a version-1
                                  entry (inputs not recorded) */
    int bip125;                /* signed with inputs: 1 when the transaction signals BIP125
                                  replaceability (an input's nSequence < 0xfffffffe) */
    int has_replaces;          /* signed with inputs: 1 when it is a fee bump of an earlier
                                  signature of the same intent */
    uint64_t replaces;         /* ... the number of that earlier `signed` entry */
    uint8_t outpoint_txid[32]; /* input: the spent outpoint's txid, internal byte order
                                  (written reversed) */
    uint32_t outpoint_vout;    /* input: its output index */
    uint8_t prev_hash[32];     /* hash of the entry before; zeros for init */
    uint8_t hash[32];          /* SHA-256 of the line up to (not including) " <hash>" */
} kura_journal_entry;

/* Parses one line line[0..len) (without its LF) and checks its own hash;
 * does not check its place in a chain (seq, prev_hash, time order).
 * Returns KURA_OK, KURA_EDATA (naming the field) or KURA_EINVAL (NULL out,
 * NULL line with len > 0). *out is zeroed on failure. */
int kura_journal_entry_parse(kura_journal_entry *out, const uint8_t *line, size_t len,
                             kura_error *err);

/* Writes the canonical line of *entry (without LF, NUL-terminated) into
 * out[0..out_len) and its length into *written; the hash written is
 * computed from the other fields (entry->hash is not read). out_len >=
 * KURA_JOURNAL_LINE_MAX always suffices. Returns KURA_OK or KURA_EINVAL
 * (a field outside its range or alphabet, out too small, NULL argument);
 * on failure out holds "" and *written is 0. */
int kura_journal_entry_format(char *out, size_t out_len, size_t *written,
                              const kura_journal_entry *entry);

/* ---- journals ---- */

/* An open journal: the file descriptor and lock (when opened from a file)
 * and a summary of the whole chain for fast queries. */
typedef struct kura_journal kura_journal;

/* Flags for kura_journal_open. */
#define KURA_JOURNAL_READ_ONLY 1u /* shared lock, appends refused */

/* Creates a journal at `path` holding only its init entry with time `now`,
 * atomically (temporary file beside it with mode 0600 and O_EXCL, written,
 * fsynced, linked into place without replacing anything, directory fsynced),
 * and returns it open for appending in *out (free with kura_journal_free).
 * Returns KURA_OK; KURA_JOURNAL_EEXIST; KURA_JOURNAL_EIO; KURA_ENOMEM;
 * KURA_ECRYPTO (no randomness for the temporary name); KURA_EINVAL (NULL
 * argument, now out of range). On failure *out is NULL; the journal file
 * exists only if the failure was the final directory fsync (EIO). */
int kura_journal_create(kura_journal **out, const char *path, int64_t now, kura_error *err);

/* Opens the journal at `path`, locks it, and reads and verifies the whole
 * chain. flags: 0 (for appending) or KURA_JOURNAL_READ_ONLY.
 * Returns KURA_OK; KURA_ENOTFOUND (no file); KURA_JOURNAL_EPERM;
 * KURA_JOURNAL_EBUSY; KURA_JOURNAL_EIO; KURA_EDATA (damaged: the message
 * names the first bad entry, kura_journal_verify_file gives its number);
 * KURA_JOURNAL_ETORN (partial last line, see kura_journal_recover);
 * KURA_ERANGE (more than KURA_JOURNAL_ENTRIES_MAX entries); KURA_ENOMEM;
 * KURA_EINVAL (NULL argument, unknown flag). On failure *out is NULL. */
int kura_journal_open(kura_journal **out, const char *path, unsigned flags, kura_error *err);

/* Opens the journal at `path` for appending like kura_journal_open, and if
 * it ends in a torn tail: checks that every complete entry verifies, cuts
 * the partial line off (ftruncate, fsync), and appends a `recovered` entry
 * with time `now` recording how many bytes were cut and their SHA-256. A
 * journal without a torn tail is opened unchanged. Nothing but bytes after
 * the last LF is ever removed; damage anywhere else is still KURA_EDATA.
 * Returns what kura_journal_open returns (never KURA_JOURNAL_ETORN), and
 * KURA_JOURNAL_EORDER when `now` is earlier than the last entry's time (the
 * file is then left untouched). On failure *out is NULL. */
int kura_journal_recover(kura_journal **out, const char *path, int64_t now, kura_error *err);

/* Reads a journal from memory data[0..len) and verifies it, as open does
 * with a file. The handle answers queries but refuses appends (KURA_EINVAL).
 *   bad_entry: may be NULL; receives the number of the first bad entry on
 *              KURA_EDATA or KURA_JOURNAL_ETORN (the torn one),
 *              KURA_JOURNAL_ENTRIES_MAX on KURA_ERANGE, the entry count on
 *              KURA_OK, and 0 otherwise.
 * Returns KURA_OK, KURA_EDATA, KURA_JOURNAL_ETORN, KURA_ERANGE, KURA_ENOMEM
 * or KURA_EINVAL (NULL out, NULL data with len > 0). On failure *out is NULL. */
int kura_journal_parse(kura_journal **out, uint64_t *bad_entry, const uint8_t *data, size_t len,
                       kura_error *err);

/* Closes the journal (releasing its lock) and frees it. NULL is a no-op. */
void kura_journal_free(kura_journal *journal);

/* Re-reads the whole file of an open journal through its own descriptor and
 * verifies the chain again, and that it still ends where this handle
 * believes (nothing was changed or cut behind its back).
 *   bad_entry: as for kura_journal_parse. A file that verifies but is not
 *              the chain this handle holds gives KURA_EDATA with the lower of
 *              the two entry counts (entries cut off, or added by someone
 *              else), or 0 when the counts agree but the heads do not (a
 *              rewritten chain: the handle keeps only its head, so it cannot
 *              say where the rewrite starts).
 * Returns KURA_OK, KURA_EDATA, KURA_JOURNAL_ETORN, KURA_ERANGE,
 * KURA_JOURNAL_EIO, KURA_ENOMEM, or KURA_EINVAL (NULL journal, or one from
 * kura_journal_parse). */
int kura_journal_verify(kura_journal *journal, uint64_t *bad_entry, kura_error *err);

/* Verifies the journal file at `path` without locking or changing it (for
 * audits of a copy). bad_entry as for kura_journal_parse. Do not call it on
 * a journal this process holds open (see "Concurrency" above).
 * Returns KURA_OK, KURA_ENOTFOUND, KURA_JOURNAL_EPERM, KURA_JOURNAL_EIO,
 * KURA_EDATA, KURA_JOURNAL_ETORN, KURA_ERANGE, KURA_ENOMEM or KURA_EINVAL. */
int kura_journal_verify_file(uint64_t *bad_entry, const char *path, kura_error *err);

/* ---- appending ----
 *
 * Each function writes one entry with the next sequence number and the
 * current head as its previous hash, fsyncs the file, updates the summary,
 * and only then returns KURA_OK. `out` may be NULL; otherwise it receives the
 * entry as written (zeroed on failure). Common returns: KURA_JOURNAL_EORDER
 * (time earlier than the last entry's); KURA_ERANGE (journal full);
 * KURA_JOURNAL_EIO (the write or fsync failed: the entry may or may not be
 * on disk, so do not sign; the handle refuses further appends);
 * KURA_EINVAL (NULL journal, a read-only or parsed journal, a field out of
 * range: time, amounts, id or reason alphabet). On any failure the summary
 * is unchanged. */

/* Records a signature: the intent's hash and id, the amount sent to
 * non-change destinations, the fee, the unsigned transaction's txid
 * (internal byte order). Also KURA_JOURNAL_EREPLAY when intent_hash is
 * already recorded as signed. */
int kura_journal_append_signed(kura_journal *journal, kura_journal_entry *out, int64_t time,
                               const uint8_t intent_hash[32], const char *intent_id,
                               uint64_t amount, uint64_t fee, const uint8_t txid[32],
                               kura_error *err);

/* One outpoint a signed transaction spends. */
typedef struct kura_journal_outpoint {
    uint8_t txid[32]; /* internal byte order */
    uint32_t vout;
} kura_journal_outpoint;

/* Records a signature with the outpoints its transaction spends (format
 * version 2): one `input` entry per element of inputs[0..input_count), in
 * that order, then the `signed` entry counting them. When the journal
 * already records a signature of intent_hash, the new one must be a fee
 * bump of it (docs/journal-format.md, "Fee bumps"), and its entry names the
 * latest earlier signature of the intent as the one it replaces: every
 * earlier signature of the intent recorded its inputs and signalled BIP125,
 * the new transaction spends every one of their inputs (so at most one of
 * them can confirm), signals BIP125 itself (bip125 = 1), and pays a fee
 * strictly above each of theirs; otherwise KURA_JOURNAL_EREPLAY and nothing
 * is written. In the rolling limit the intent then counts once: the
 * replaced entry stops counting and the new one counts its amount and the
 * highest fee of the chain.
 *   bip125: 1 when some input's nSequence is below 0xfffffffe, else 0.
 *   input_count: 1..KURA_JOURNAL_INPUTS_MAX (else KURA_EINVAL).
 * The entries go out in one write and one fsync. `out` receives the
 * `signed` entry. A crash in the write leaves at worst complete `input`
 * entries without their `signed` entry (they belong to no signature:
 * entries are attributed only to a `signed` entry right after them) and a
 * torn tail. */
int kura_journal_append_signature(kura_journal *journal, kura_journal_entry *out, int64_t time,
                                  const uint8_t intent_hash[32], const char *intent_id,
                                  uint64_t amount, uint64_t fee, const uint8_t txid[32],
                                  int bip125, const kura_journal_outpoint *inputs,
                                  size_t input_count, kura_error *err);

/* Records a refusal: the intent's hash (NULL when the request was too broken
 * to name one) and a stable reason code (such as "KURA_POLICY_EQUORUM"). */
int kura_journal_append_refused(kura_journal *journal, kura_journal_entry *out, int64_t time,
                                const uint8_t *intent_hash, const char *reason, kura_error *err);

/* Records that policy `version` with text hash `policy_hash` was accepted.
 * Also KURA_JOURNAL_EORDER when version is not above the last accepted. */
int kura_journal_append_policy(kura_journal *journal, kura_journal_entry *out, int64_t time,
                               uint64_t version, const uint8_t policy_hash[32], kura_error *err);

/* Records the highest change index (BIP32 index on the wallet's change
 * branch) of a transaction about to be signed, before its "signed" entry:
 * the signer bounds later change indexes by the highest it has seen, so a
 * wallet restored with a gap limit finds every change output. Also
 * KURA_EINVAL for an index over KURA_JOURNAL_CHANGE_INDEX_MAX. */
int kura_journal_append_change(kura_journal *journal, kura_journal_entry *out, int64_t time,
                               uint32_t change_index, kura_error *err);

/* ---- queries (on the summary; no I/O) ---- */

/* The number of entries (>= 1), the hash of the last one (the chain's head:
 * an auditor who notes it can later tell that nothing before it changed),
 * and its time. Any output may be NULL. Returns KURA_OK or KURA_EINVAL
 * (NULL journal); outputs zeroed on failure. */
int kura_journal_head(const kura_journal *journal, uint64_t *count, uint8_t hash[32],
                      int64_t *last_time);

/* Replay protection: was an intent with this hash ever signed?
 * Returns KURA_OK (and *seq, which may be NULL, gets the number of its first
 * `signed` entry), KURA_ENOTFOUND (never signed; *seq 0), or KURA_EINVAL. */
int kura_journal_find_signed(const kura_journal *journal, uint64_t *seq,
                             const uint8_t intent_hash[32]);

/* One signature of an intent as the journal recorded it. Pointers point
 * into the journal's summary and stay valid until the next append or free. */
typedef struct kura_journal_signature {
    uint64_t seq;            /* its `signed` entry */
    int64_t time;
    uint64_t amount;
    uint64_t fee;
    uint8_t txid[32];        /* internal byte order */
    int bip125;              /* 1 signals, 0 final, -1 not recorded (version-1 entry) */
    const kura_journal_outpoint *inputs; /* NULL when not recorded (version 1) */
    size_t input_count;
    int has_replaces;        /* 1 when it is a fee bump of entry `replaces` */
    uint64_t replaces;
} kura_journal_signature;

/* The signatures recorded for intent_hash, in entry order: the first
 * out_len of them into out[] (out may be NULL when out_len is 0) and how
 * many there are in *count. Returns KURA_OK (count 0 when never signed) or
 * KURA_EINVAL (NULL journal, hash or count; NULL out with out_len > 0). */
int kura_journal_signatures(const kura_journal *journal, kura_journal_signature *out,
                            size_t out_len, size_t *count, const uint8_t intent_hash[32]);

/* The rolling limit: the sums of `amount` and `fee` (each may be NULL) over
 * the `signed` entries with now - 86400 < time <= now (a fee bump counts
 * its intent once: at the time of the latest signature of the chain, with
 * the chain's highest fee; the entries it replaced count 0), an entry exactly
 * 86400 s old being out. Entries with time > now (possible only if the clock
 * was set back) count too, so that setting the clock back never frees limit.
 * Sums saturate at UINT64_MAX. Returns KURA_OK, or KURA_EINVAL (NULL journal,
 * now outside 0..KURA_JOURNAL_TIME_MAX); outputs 0 on failure. */
int kura_journal_sum_24h(const kura_journal *journal, uint64_t *amount, uint64_t *fee,
                         int64_t now);

/* The last policy accepted: its version, text hash and time of acceptance
 * (each output may be NULL). Returns KURA_OK, KURA_ENOTFOUND (no policy
 * entry yet) or KURA_EINVAL; outputs zeroed unless KURA_OK. */
int kura_journal_last_policy(const kura_journal *journal, uint64_t *version, uint8_t hash[32],
                             int64_t *accepted);

/* When policy `version` was first accepted, and its text hash (outputs may
 * be NULL): the start of an allowlist entry's waiting time is the
 * acceptance of the first version that contained it. Returns KURA_OK,
 * KURA_ENOTFOUND (never accepted) or KURA_EINVAL; outputs zeroed unless
 * KURA_OK. */
int kura_journal_policy_accepted(const kura_journal *journal, int64_t *accepted, uint8_t hash[32],
                                 uint64_t version);

#ifdef __cplusplus
}
#endif

#endif /* KURA_JOURNAL_H */
