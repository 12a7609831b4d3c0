/* src/journal/file.c — the journal on disk: atomic creation, locked opening
 * with full verification, appends that are durable before they return, and
 * recovery of a torn last line. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "internal.h"
#include "journal_internal.h"
#include "kura/hash.h"

#define READ_CHUNK 65536

void kura_journal_free(kura_journal *journal)
{
    if (journal == NULL) return;
    /* Closing the descriptor releases the record lock. */
    if (journal->fd >= 0) close(journal->fd);
    free(journal->spends);
    free(journal->signed_refs);
    free(journal->policies);
    free(journal->outpoints);
    free(journal);
}

/* Takes the record lock on the whole file: exclusive for a writer, shared
 * for a reader. Two signers appending to one journal would interleave their
 * chains and each believe its own summary. */
static int lock_fd(int fd, bool exclusive, const char *path, kura_error *err)
{
    struct flock fl;
    memset(&fl, 0, sizeof(fl));
    fl.l_type = exclusive ? F_WRLCK : F_RDLCK;
    fl.l_whence = SEEK_SET;
    fl.l_start = 0;
    fl.l_len = 0;
    if (fcntl(fd, F_SETLK, &fl) != 0) {
        if (errno == EACCES || errno == EAGAIN)
            return kura_fail(err, KURA_JOURNAL_EBUSY, "journal: %s is open in another process",
                             path);
        return kura_fail(err, KURA_JOURNAL_EIO, "journal: lock %s: %s", path, strerror(errno));
    }
    return KURA_OK;
}

static int open_fd(int *out, const char *path, bool writable, bool lock, kura_error *err)
{
    struct stat st;
    int fd, rc;
    *out = -1;
    /* O_APPEND: every write lands at the end of the file, whatever the file
     * offset; O_NONBLOCK: a FIFO at the path cannot hang open(). */
    fd = open(path, (writable ? O_RDWR | O_APPEND : O_RDONLY) | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        int e = errno;
        if (e == ENOENT) return kura_fail(err, KURA_ENOTFOUND, "journal: %s: no such file", path);
        return kura_fail(err, KURA_JOURNAL_EIO, "journal: open %s: %s", path, strerror(e));
    }
    if (fstat(fd, &st) != 0) {
        rc = kura_fail(err, KURA_JOURNAL_EIO, "journal: stat %s: %s", path, strerror(errno));
        close(fd);
        return rc;
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return kura_fail(err, KURA_JOURNAL_EPERM, "journal: %s: not a regular file", path);
    }
    /* The chain detects edits but anyone who may write the file can rewrite
     * it whole; such a journal is not the signer's alone. */
    if ((st.st_mode & 022) != 0) {
        close(fd);
        return kura_fail(err, KURA_JOURNAL_EPERM,
                         "journal: %s: mode %04o lets group or others write it (chmod 600)", path,
                         (unsigned)(st.st_mode & 07777));
    }
    if (lock) {
        rc = lock_fd(fd, writable, path, err);
        if (rc != KURA_OK) {
            close(fd);
            return rc;
        }
    }
    *out = fd;
    return KURA_OK;
}

/* Reads the file through fd from offset 0 (pread: the O_APPEND offset is
 * irrelevant) into j. *consumed gets the bytes of complete verified lines,
 * *total the bytes read, *bad the entry a failure is about. */
static int load_fd(kura_journal *j, uint64_t *consumed, uint64_t *total, uint64_t *bad, int fd,
                   kura_error *err)
{
    kura_journal_loader l;
    uint8_t *buf = malloc(READ_CHUNK);
    uint64_t off = 0;
    int rc = KURA_OK;
    *consumed = 0;
    *total = 0;
    *bad = 0;
    if (buf == NULL) return kura_fail(err, KURA_ENOMEM, "journal: out of memory");
    kura_journal_loader_init(&l, j);
    for (;;) {
        ssize_t n = pread(fd, buf, READ_CHUNK, (off_t)off);
        if (n < 0) {
            if (errno == EINTR) continue;
            rc = kura_fail(err, KURA_JOURNAL_EIO, "journal: read: %s", strerror(errno));
            break;
        }
        if (n == 0) {
            rc = kura_journal_loader_finish(&l, err);
            break;
        }
        off += (uint64_t)n;
        rc = kura_journal_loader_feed(&l, buf, (size_t)n, err);
        if (rc != KURA_OK) break;
    }
    kura_journal_loader_done(&l);
    free(buf);
    *consumed = l.consumed;
    *total = off;
    *bad = rc == KURA_OK ? j->count : l.bad_entry;
    return rc;
}

int kura_journal_open(kura_journal **out, const char *path, unsigned flags, kura_error *err)
{
    kura_journal *j;
    uint64_t consumed, total, bad;
    int rc, fd;
    if (out != NULL) *out = NULL;
    if (out == NULL || path == NULL || (flags & ~KURA_JOURNAL_READ_ONLY) != 0)
        return kura_fail(err, KURA_EINVAL, "journal: bad argument");
    j = kura_journal_alloc();
    if (j == NULL) return kura_fail(err, KURA_ENOMEM, "journal: out of memory");
    rc = open_fd(&fd, path, (flags & KURA_JOURNAL_READ_ONLY) == 0, true, err);
    if (rc != KURA_OK) {
        kura_journal_free(j);
        return rc;
    }
    j->fd = fd;
    j->writable = (flags & KURA_JOURNAL_READ_ONLY) == 0;
    rc = load_fd(j, &consumed, &total, &bad, fd, err);
    if (rc != KURA_OK) {
        kura_journal_free(j);
        return rc;
    }
    *out = j;
    return KURA_OK;
}

int kura_journal_verify_file(uint64_t *bad_entry, const char *path, kura_error *err)
{
    kura_journal *j;
    uint64_t consumed, total, bad = 0;
    int rc, fd;
    if (bad_entry != NULL) *bad_entry = 0;
    if (path == NULL) return kura_fail(err, KURA_EINVAL, "journal: NULL argument");
    j = kura_journal_alloc();
    if (j == NULL) return kura_fail(err, KURA_ENOMEM, "journal: out of memory");
    rc = open_fd(&fd, path, false, false, err);
    if (rc == KURA_OK) {
        j->fd = fd;
        rc = load_fd(j, &consumed, &total, &bad, fd, err);
        if (bad_entry != NULL && rc != KURA_ENOMEM && rc != KURA_JOURNAL_EIO) *bad_entry = bad;
    }
    kura_journal_free(j);
    return rc;
}

int kura_journal_verify(kura_journal *journal, uint64_t *bad_entry, kura_error *err)
{
    kura_journal *j;
    uint64_t consumed, total, bad = 0;
    int rc;
    if (bad_entry != NULL) *bad_entry = 0;
    if (journal == NULL || journal->fd < 0)
        return kura_fail(err, KURA_EINVAL, "journal: not a journal opened from a file");
    j = kura_journal_alloc();
    if (j == NULL) return kura_fail(err, KURA_ENOMEM, "journal: out of memory");
    rc = load_fd(j, &consumed, &total, &bad, journal->fd, err);
    if (rc == KURA_OK && (j->count != journal->count || memcmp(j->head, journal->head, 32) != 0)) {
        /* A chain that verifies but is not the one this handle wrote: cut
         * back, extended by another writer, or rewritten. */
        bad = j->count < journal->count ? j->count : journal->count;
        if (j->count == journal->count) bad = 0;
        rc = kura_fail(err, KURA_EDATA,
                       "journal: file holds %llu entries, handle %llu%s: changed on disk since "
                       "it was opened",
                       (unsigned long long)j->count, (unsigned long long)journal->count,
                       j->count == journal->count ? " with another head" : "");
    }
    if (bad_entry != NULL && rc != KURA_ENOMEM && rc != KURA_JOURNAL_EIO) *bad_entry = bad;
    kura_journal_free(j);
    return rc;
}

/* Writes e (kind and kind fields set) as the next entry and makes it
 * durable; the summary changes only once it is. */
static int append_entry(kura_journal *j, kura_journal_entry *e, kura_journal_entry *out,
                        kura_error *err)
{
    char line[KURA_JOURNAL_LINE_MAX];
    size_t len = 0;
    int rc;
    if (j->fd < 0 || !j->writable)
        return kura_fail(err, KURA_EINVAL, "journal: not open for appending");
    if (j->poisoned)
        return kura_fail(err, KURA_JOURNAL_EIO,
                         "journal: an earlier append failed; reopen the journal");
    if (j->count >= KURA_JOURNAL_ENTRIES_MAX)
        return kura_fail(err, KURA_ERANGE, "journal: full (%d entries)", KURA_JOURNAL_ENTRIES_MAX);
    e->seq = j->count;
    memcpy(e->prev_hash, j->head, 32);
    /* Fields first (the caller's mistakes, KURA_EINVAL), then the entry's
     * place in the chain (time and policy order, replay). */
    rc = kura_journal_line_format(line, &len, e->hash, e, err);
    if (rc == KURA_OK) rc = kura_journal_check_next(j, e, true, err);
    if (rc != KURA_OK) {
        memset(e->hash, 0, 32);
        return rc;
    }
    line[len] = '\n';
    /* Memory first: once the entry is on disk, recording it in the summary
     * must not be able to fail, or the handle would answer "not signed" for
     * an intent the file says was. */
    if (!kura_journal_reserve(j, e->kind))
        return kura_fail(err, KURA_ENOMEM, "journal: out of memory");
    /* One write of the whole line: a crash leaves a prefix of it at worst,
     * never an interleaving, and the prefix lacks its LF (the torn tail
     * kura_journal_recover handles). */
    if (kura_file_write_all(j->fd, line, len + 1) != 0) {
        rc = kura_fail(err, KURA_JOURNAL_EIO, "journal: write: %s", strerror(errno));
        /* Best effort to take back a partial line; if that fails too, the
         * next open reports the torn tail. Either way this handle stops. */
        if (ftruncate(j->fd, (off_t)j->size) == 0) (void)fsync(j->fd);
        j->poisoned = true;
        return rc;
    }
    /* The crash-safety guarantee: the entry is on stable storage before the
     * caller may release a signature. After a failed fsync the state of the
     * file is unknown (the kernel may have dropped the dirty pages), so the
     * handle refuses to go on. */
    if (fsync(j->fd) != 0) {
        rc = kura_fail(err, KURA_JOURNAL_EIO, "journal: fsync: %s", strerror(errno));
        j->poisoned = true;
        return rc;
    }
    rc = kura_journal_add(j, e, len + 1, true, err);
    if (rc != KURA_OK) { /* cannot happen after the reserve; stop to be safe */
        j->poisoned = true;
        return rc;
    }
    if (out != NULL) *out = *e;
    return KURA_OK;
}

/* Writes es[0..n) (kind and kind fields set; the last may be of any kind,
 * the others `input` entries) as the next n entries with ONE write and ONE
 * fsync, so a signature's inputs cost no more syncs than the signature. A
 * crash leaves a prefix at worst: complete input entries that no signed
 * entry follows (they belong to no signature) and a torn tail. The caller
 * has checked what only the whole group can break (a bump's rules); each
 * entry's place in the chain is checked before the write against the
 * chain as it will be (sequence, previous hash, time, limit), and again
 * when it is added to the summary. */
static int append_entries(kura_journal *j, kura_journal_entry *es, size_t n, kura_error *err)
{
    char *buf;
    size_t total = 0, bytes;
    uint8_t prev[32];
    int rc = KURA_OK;
    if (j->fd < 0 || !j->writable)
        return kura_fail(err, KURA_EINVAL, "journal: not open for appending");
    if (j->poisoned)
        return kura_fail(err, KURA_JOURNAL_EIO,
                         "journal: an earlier append failed; reopen the journal");
    if (n == 0 || n > KURA_JOURNAL_ENTRIES_MAX || j->count > KURA_JOURNAL_ENTRIES_MAX - n)
        return kura_fail(err, KURA_ERANGE, "journal: full (%d entries)", KURA_JOURNAL_ENTRIES_MAX);
    if (!kura_size_mul(n, KURA_JOURNAL_LINE_MAX, &bytes) || (buf = malloc(bytes)) == NULL)
        return kura_fail(err, KURA_ENOMEM, "journal: out of memory");
    memcpy(prev, j->head, 32);
    for (size_t i = 0; i < n && rc == KURA_OK; i++) {
        size_t len = 0;
        es[i].seq = j->count + i;
        memcpy(es[i].prev_hash, prev, 32);
        rc = kura_journal_line_format(buf + total, &len, es[i].hash, &es[i], err);
        if (rc != KURA_OK) break;
        if (i == 0) rc = kura_journal_check_next(j, &es[0], true, err);
        else if (es[i].time < es[i - 1].time)
            rc = kura_fail(err, KURA_JOURNAL_EORDER, "journal: times out of order");
        buf[total + len] = '\n';
        total += len + 1;
        memcpy(prev, es[i].hash, 32);
    }
    if (rc != KURA_OK) {
        free(buf);
        return rc;
    }
    /* Memory first, as in append_entry. */
    if (!kura_journal_reserve_inputs(j, n) || !kura_journal_reserve(j, es[n - 1].kind)) {
        free(buf);
        return kura_fail(err, KURA_ENOMEM, "journal: out of memory");
    }
    if (kura_file_write_all(j->fd, buf, total) != 0) {
        rc = kura_fail(err, KURA_JOURNAL_EIO, "journal: write: %s", strerror(errno));
        if (ftruncate(j->fd, (off_t)j->size) == 0) (void)fsync(j->fd);
        j->poisoned = true;
        free(buf);
        return rc;
    }
    free(buf);
    if (fsync(j->fd) != 0) {
        j->poisoned = true;
        return kura_fail(err, KURA_JOURNAL_EIO, "journal: fsync: %s", strerror(errno));
    }
    for (size_t i = 0; i < n; i++) {
        size_t len = 0;
        char line[KURA_JOURNAL_LINE_MAX];
        uint8_t h[32];
        /* Cannot fail: formatted above, memory reserved, rules checked by
         * the caller. If it does, the summary no longer follows the file:
         * stop this handle (the file is read again on the next open). */
        rc = kura_journal_line_format(line, &len, h, &es[i], err);
        if (rc == KURA_OK) rc = kura_journal_check_next(j, &es[i], true, err);
        if (rc == KURA_OK) rc = kura_journal_add(j, &es[i], len + 1, true, err);
        if (rc != KURA_OK) {
            j->poisoned = true;
            return rc == KURA_EINVAL ? KURA_JOURNAL_EIO : rc;
        }
    }
    return KURA_OK;
}

static int begin(kura_journal_entry *e, kura_journal_entry *out, kura_journal *journal,
                 int64_t time, kura_journal_kind kind, kura_error *err)
{
    memset(e, 0, sizeof(*e));
    if (out != NULL) memset(out, 0, sizeof(*out));
    if (journal == NULL) return kura_fail(err, KURA_EINVAL, "journal: NULL journal");
    if (time < 0 || time > KURA_JOURNAL_TIME_MAX)
        return kura_fail(err, KURA_EINVAL, "journal: time out of range");
    e->kind = kind;
    e->time = time;
    return KURA_OK;
}

int kura_journal_append_signed(kura_journal *journal, kura_journal_entry *out, int64_t time,
                               const uint8_t intent_hash[32], const char *intent_id,
                               uint64_t amount, uint64_t fee, const uint8_t txid[32],
                               kura_error *err)
{
    kura_journal_entry e;
    int rc = begin(&e, out, journal, time, KURA_JOURNAL_SIGNED, err);
    if (rc != KURA_OK) return rc;
    if (intent_hash == NULL || intent_id == NULL || txid == NULL)
        return kura_fail(err, KURA_EINVAL, "journal: NULL argument");
    if (strnlen(intent_id, KURA_JOURNAL_INTENT_ID_LEN + 1) != KURA_JOURNAL_INTENT_ID_LEN)
        return kura_fail(err, KURA_EINVAL, "journal: intent id is not 32 lower-case hex");
    e.has_intent_hash = 1;
    memcpy(e.intent_hash, intent_hash, 32);
    memcpy(e.intent_id, intent_id, KURA_JOURNAL_INTENT_ID_LEN);
    e.amount = amount;
    e.fee = fee;
    memcpy(e.txid, txid, 32);
    return append_entry(journal, &e, out, err);
}

int kura_journal_append_signature(kura_journal *journal, kura_journal_entry *out, int64_t time,
                                  const uint8_t intent_hash[32], const char *intent_id,
                                  uint64_t amount, uint64_t fee, const uint8_t txid[32],
                                  int bip125, const kura_journal_outpoint *inputs,
                                  size_t input_count, kura_error *err)
{
    kura_journal_entry e;
    kura_journal_signature last;
    size_t count = 0;
    int rc = begin(&e, out, journal, time, KURA_JOURNAL_SIGNED, err);
    if (rc != KURA_OK) return rc;
    if (intent_hash == NULL || intent_id == NULL || txid == NULL || inputs == NULL)
        return kura_fail(err, KURA_EINVAL, "journal: NULL argument");
    if (strnlen(intent_id, KURA_JOURNAL_INTENT_ID_LEN + 1) != KURA_JOURNAL_INTENT_ID_LEN)
        return kura_fail(err, KURA_EINVAL, "journal: intent id is not 32 lower-case hex");
    if (input_count == 0 || input_count > KURA_JOURNAL_INPUTS_MAX)
        return kura_fail(err, KURA_EINVAL, "journal: input count must be 1..%d",
                         KURA_JOURNAL_INPUTS_MAX);
    if (bip125 != 0 && bip125 != 1) return kura_fail(err, KURA_EINVAL, "journal: bip125 not 0/1");
    e.has_intent_hash = 1;
    memcpy(e.intent_hash, intent_hash, 32);
    memcpy(e.intent_id, intent_id, KURA_JOURNAL_INTENT_ID_LEN);
    e.amount = amount;
    e.fee = fee;
    memcpy(e.txid, txid, 32);
    e.input_count = (uint32_t)input_count;
    e.bip125 = bip125;
    /* A second signature of one intent is a fee bump of the latest, or
     * nothing: decided before any entry is written. */
    rc = kura_journal_signatures(journal, NULL, 0, &count, intent_hash);
    if (rc != KURA_OK) return kura_fail(err, rc, "journal: NULL argument");
    if (count > 0) {
        kura_journal_signature *all = calloc(count, sizeof(*all));
        if (all == NULL) return kura_fail(err, KURA_ENOMEM, "journal: out of memory");
        (void)kura_journal_signatures(journal, all, count, &count, intent_hash);
        last = all[count - 1];
        free(all);
        rc = kura_journal_bump_allowed(journal, intent_hash, fee, bip125, inputs, input_count, err);
        if (rc != KURA_OK) return rc;
        e.has_replaces = 1;
        e.replaces = last.seq;
    }
    if (amount > KURA_JOURNAL_AMOUNT_MAX || fee > KURA_JOURNAL_AMOUNT_MAX)
        return kura_fail(err, KURA_EINVAL, "journal: amount or fee over 21e14 sat");
    {
        kura_journal_entry *es = calloc(input_count + 1, sizeof(*es));
        if (es == NULL) return kura_fail(err, KURA_ENOMEM, "journal: out of memory");
        for (size_t i = 0; i < input_count; i++) {
            es[i].kind = KURA_JOURNAL_INPUT;
            es[i].time = time;
            es[i].has_intent_hash = 1;
            memcpy(es[i].intent_hash, intent_hash, 32);
            memcpy(es[i].outpoint_txid, inputs[i].txid, 32);
            es[i].outpoint_vout = inputs[i].vout;
        }
        es[input_count] = e;
        rc = append_entries(journal, es, input_count + 1, err);
        if (rc == KURA_OK && out != NULL) *out = es[input_count];
        free(es);
        return rc;
    }
}

int kura_journal_append_refused(kura_journal *journal, kura_journal_entry *out, int64_t time,
                                const uint8_t *intent_hash, const char *reason, kura_error *err)
{
    kura_journal_entry e;
    size_t n;
    int rc = begin(&e, out, journal, time, KURA_JOURNAL_REFUSED, err);
    if (rc != KURA_OK) return rc;
    if (reason == NULL) return kura_fail(err, KURA_EINVAL, "journal: NULL reason");
    n = strnlen(reason, KURA_JOURNAL_REASON_MAX + 1);
    if (n > KURA_JOURNAL_REASON_MAX)
        return kura_fail(err, KURA_EINVAL, "journal: reason longer than %d chars",
                         KURA_JOURNAL_REASON_MAX);
    if (intent_hash != NULL) {
        e.has_intent_hash = 1;
        memcpy(e.intent_hash, intent_hash, 32);
    }
    memcpy(e.reason, reason, n);
    return append_entry(journal, &e, out, err);
}

int kura_journal_append_policy(kura_journal *journal, kura_journal_entry *out, int64_t time,
                               uint64_t version, const uint8_t policy_hash[32], kura_error *err)
{
    kura_journal_entry e;
    int rc = begin(&e, out, journal, time, KURA_JOURNAL_POLICY, err);
    if (rc != KURA_OK) return rc;
    if (policy_hash == NULL) return kura_fail(err, KURA_EINVAL, "journal: NULL policy hash");
    e.policy_version = version;
    memcpy(e.policy_hash, policy_hash, 32);
    return append_entry(journal, &e, out, err);
}

int kura_journal_append_change(kura_journal *journal, kura_journal_entry *out, int64_t time,
                               uint32_t change_index, kura_error *err)
{
    kura_journal_entry e;
    int rc = begin(&e, out, journal, time, KURA_JOURNAL_CHANGE, err);
    if (rc != KURA_OK) return rc;
    if (change_index > KURA_JOURNAL_CHANGE_INDEX_MAX)
        return kura_fail(err, KURA_EINVAL, "journal: change index out of range");
    e.change_index = change_index;
    return append_entry(journal, &e, out, err);
}

/* ---- creation ---- */

int kura_journal_create(kura_journal **out, const char *path, int64_t now, kura_error *err)
{
    static const char hexdig[] = "0123456789abcdef";
    kura_journal *j = NULL;
    kura_journal_entry e;
    char line[KURA_JOURNAL_LINE_MAX];
    size_t len = 0, plen, tlen;
    uint8_t rnd[8];
    char *tmp = NULL;
    int fd = -1, rc;
    if (out != NULL) *out = NULL;
    if (out == NULL || path == NULL) return kura_fail(err, KURA_EINVAL, "journal: NULL argument");
    if (now < 0 || now > KURA_JOURNAL_TIME_MAX)
        return kura_fail(err, KURA_EINVAL, "journal: time out of range");
    if (sodium_init() < 0) return kura_fail(err, KURA_ECRYPTO,
                                            "journal: sodium_init failed (no randomness)");
    j = kura_journal_alloc();
    plen = strlen(path);
    if (j == NULL || !kura_size_add(plen, 5 + 16 + 1, &tlen) || (tmp = malloc(tlen)) == NULL) {
        rc = kura_fail(err, KURA_ENOMEM, "journal: out of memory");
        goto fail;
    }
    randombytes_buf(rnd, sizeof(rnd));
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, ".tmp-", 5);
    for (size_t i = 0; i < sizeof(rnd); i++) {
        tmp[plen + 5 + 2 * i] = hexdig[rnd[i] >> 4];
        tmp[plen + 5 + 2 * i + 1] = hexdig[rnd[i] & 15];
    }
    tmp[plen + 5 + 16] = '\0';

    memset(&e, 0, sizeof(e));
    e.kind = KURA_JOURNAL_INIT;
    e.time = now;
    e.format_version = KURA_JOURNAL_FORMAT_VERSION;
    rc = kura_journal_check_next(j, &e, true, err);
    if (rc == KURA_OK) rc = kura_journal_line_format(line, &len, e.hash, &e, err);
    if (rc != KURA_OK) goto fail;
    line[len] = '\n';

    /* The journal is never seen without its init entry: it is written and
     * synced under a temporary name, locked, and only then given its name. */
    fd = open(tmp, O_RDWR | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        rc = kura_fail(err, KURA_JOURNAL_EIO, "journal: create %s: %s", tmp, strerror(errno));
        goto fail;
    }
    rc = lock_fd(fd, true, tmp, err);
    if (rc != KURA_OK) goto fail_unlink;
    if (kura_file_write_all(fd, line, len + 1) != 0 || fsync(fd) != 0) {
        rc = kura_fail(err, KURA_JOURNAL_EIO, "journal: write %s: %s", tmp, strerror(errno));
        goto fail_unlink;
    }
    if (kura_file_place_new(tmp, path) != 0) {
        if (errno == EEXIST)
            rc = kura_fail(err, KURA_JOURNAL_EEXIST, "journal: %s already exists", path);
        else
            rc = kura_fail(err, KURA_JOURNAL_EIO, "journal: link to %s: %s", path,
                           strerror(errno));
        goto fail_unlink;
    }
    if (kura_file_sync_dir(path) != 0)
        rc = kura_fail(err, KURA_JOURNAL_EIO, "journal: fsync directory of %s: %s", path,
                       strerror(errno));
    if (rc != KURA_OK) goto fail;
    rc = kura_journal_add(j, &e, len + 1, true, err);
    if (rc != KURA_OK) goto fail;
    j->fd = fd;
    j->writable = true;
    free(tmp);
    *out = j;
    return KURA_OK;

fail_unlink:
    unlink(tmp);
fail:
    if (fd >= 0) close(fd);
    free(tmp);
    kura_journal_free(j);
    return rc;
}

/* ---- recovery ---- */

int kura_journal_recover(kura_journal **out, const char *path, int64_t now, kura_error *err)
{
    kura_journal *j;
    kura_journal_entry e;
    uint8_t tail[KURA_JOURNAL_LINE_MAX];
    uint64_t consumed, total, bad;
    size_t cut;
    int rc, fd;
    if (out != NULL) *out = NULL;
    if (out == NULL || path == NULL) return kura_fail(err, KURA_EINVAL, "journal: NULL argument");
    if (now < 0 || now > KURA_JOURNAL_TIME_MAX)
        return kura_fail(err, KURA_EINVAL, "journal: time out of range");
    j = kura_journal_alloc();
    if (j == NULL) return kura_fail(err, KURA_ENOMEM, "journal: out of memory");
    rc = open_fd(&fd, path, true, true, err);
    if (rc != KURA_OK) {
        kura_journal_free(j);
        return rc;
    }
    j->fd = fd;
    j->writable = true;
    rc = load_fd(j, &consumed, &total, &bad, fd, err);
    if (rc == KURA_OK) goto done; /* nothing torn: opened as is */
    if (rc != KURA_JOURNAL_ETORN) goto fail;
    /* Only a torn tail is ever cut: the bytes after the last LF, fewer than
     * a line, following a chain that verified to its end. */
    cut = (size_t)(total - consumed);
    if (cut == 0 || cut >= KURA_JOURNAL_LINE_MAX || j->size != consumed) {
        rc = kura_fail(err, KURA_EDATA, "journal: torn tail of %zu bytes cannot be recovered",
                       cut);
        goto fail;
    }
    if (now < j->last_time) {
        rc = kura_fail(err, KURA_JOURNAL_EORDER,
                       "journal: clock earlier than the last entry; not recovering");
        goto fail;
    }
    for (size_t got = 0; got < cut;) {
        ssize_t n = pread(fd, tail + got, cut - got, (off_t)(consumed + got));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            rc = kura_fail(err, KURA_JOURNAL_EIO, "journal: read torn tail: %s",
                           n < 0 ? strerror(errno) : "file shrank");
            goto fail;
        }
        got += (size_t)n;
    }
    memset(&e, 0, sizeof(e));
    e.kind = KURA_JOURNAL_RECOVERED;
    e.time = now;
    e.discarded_len = cut;
    kura_sha256(e.discarded_hash, tail, cut);
    /* Cut, sync, then record the cut. A crash between the two leaves a
     * valid journal without the record (the discarded bytes were never a
     * committed entry); never one with a record and the bytes still there. */
    if (ftruncate(fd, (off_t)consumed) != 0 || fsync(fd) != 0) {
        rc = kura_fail(err, KURA_JOURNAL_EIO, "journal: truncate torn tail: %s", strerror(errno));
        goto fail;
    }
    rc = append_entry(j, &e, NULL, err);
    if (rc != KURA_OK) goto fail;
done:
    *out = j;
    return KURA_OK;
fail:
    kura_journal_free(j);
    return rc;
}
