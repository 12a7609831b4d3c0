/* src/journal/entry.c — one journal line: its canonical spelling, the strict
 * parser that accepts only that spelling, and the entry hash. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "journal_internal.h"
#include "kura/hash.h"

const char *kura_journal_kind_name(kura_journal_kind kind)
{
    switch (kind) {
    case KURA_JOURNAL_INIT: return "init";
    case KURA_JOURNAL_SIGNED: return "signed";
    case KURA_JOURNAL_REFUSED: return "refused";
    case KURA_JOURNAL_POLICY: return "policy";
    case KURA_JOURNAL_RECOVERED: return "recovered";
    case KURA_JOURNAL_CHANGE: return "change";
    case KURA_JOURNAL_INPUT: return "input";
    }
    return NULL;
}

/* Fields per kind: seq, time, kind, the kind's own, prev-hash, entry-hash.
 * A `signed` entry has two spellings: version 1 (10 fields, inputs not
 * recorded) and version 2 (13 fields: input count, BIP125 signal, the
 * entry it replaces). The field count tells them apart, so each line still
 * has one meaning. */
static size_t field_count(kura_journal_kind kind, bool v2)
{
    switch (kind) {
    case KURA_JOURNAL_INIT:
    case KURA_JOURNAL_CHANGE: return 6;
    case KURA_JOURNAL_SIGNED: return v2 ? 13 : 10;
    case KURA_JOURNAL_REFUSED:
    case KURA_JOURNAL_POLICY:
    case KURA_JOURNAL_RECOVERED:
    case KURA_JOURNAL_INPUT: return 7;
    }
    return 0;
}
#define MAX_FIELDS 13

/* The init token names the version a journal was created with. Version 2
 * added `input` entries and the 13-field `signed` entry; readers of version
 * 2 read version-1 journals and append version-2 entries to them (the chain
 * cannot be rewritten to change its first line). */
#define INIT_TOKEN_V1 "kura-journal-1"
#define INIT_TOKEN_V2 "kura-journal-2"

/* ---- time: ISO 8601 UTC, "YYYY-MM-DDTHH:MM:SSZ" ----
 * Readable by an auditor without a converter, and fixed-width, so each
 * instant has exactly one spelling. */

static bool is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static unsigned days_in_month(int64_t y, unsigned m)
{
    static const unsigned dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return dim[m - 1] + (m == 2 && is_leap(y) ? 1u : 0u);
}

/* Leap years in 1..y (y >= 1). */
static int64_t leaps_through(int64_t y)
{
    return y / 4 - y / 100 + y / 400;
}

/* Days from 1970-01-01 to y-01-01 (y >= 1970). */
static int64_t days_to_year(int64_t y)
{
    return 365 * (y - 1970) + leaps_through(y - 1) - leaps_through(1969);
}

/* Writes v as exactly `width` decimal digits (v < 10^width). */
static void put_digits(char *p, unsigned v, int width)
{
    for (int i = width - 1; i >= 0; i--) {
        p[i] = (char)('0' + v % 10);
        v /= 10;
    }
}

/* t in 0..KURA_JOURNAL_TIME_MAX, so the year has four digits. */
static void time_format(char out[21], int64_t t)
{
    int64_t days = t / 86400, secs = t % 86400, y = 1970 + days / 366;
    unsigned m = 1;
    while (days_to_year(y + 1) <= days) y++;
    days -= days_to_year(y);
    while (days >= (int64_t)days_in_month(y, m)) {
        days -= days_in_month(y, m);
        m++;
    }
    memcpy(out, "0000-00-00T00:00:00Z", 21);
    put_digits(out, (unsigned)y, 4);
    put_digits(out + 5, m, 2);
    put_digits(out + 8, (unsigned)days + 1, 2);
    put_digits(out + 11, (unsigned)(secs / 3600), 2);
    put_digits(out + 14, (unsigned)(secs / 60 % 60), 2);
    put_digits(out + 17, (unsigned)(secs % 60), 2);
}

/* Digits s[0..n) as a number; false on a non-digit. */
static bool digits(const uint8_t *s, size_t n, unsigned *out)
{
    unsigned v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return false;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    *out = v;
    return true;
}

static bool time_parse(int64_t *out, const uint8_t *s, size_t n)
{
    unsigned y, mo, d, h, mi, se;
    *out = 0;
    if (n != 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' ||
        s[16] != ':' || s[19] != 'Z')
        return false;
    if (!digits(s, 4, &y) || !digits(s + 5, 2, &mo) || !digits(s + 8, 2, &d) ||
        !digits(s + 11, 2, &h) || !digits(s + 14, 2, &mi) || !digits(s + 17, 2, &se))
        return false;
    /* Seconds 0..59: POSIX time has no leap seconds, and a "60" would give a
     * second spelling of the next minute. */
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 ||
        mi > 59 || se > 59)
        return false;
    {
        int64_t days = days_to_year(y);
        for (unsigned m = 1; m < mo; m++) days += days_in_month(y, m);
        days += d - 1;
        *out = days * 86400 + (int64_t)h * 3600 + (int64_t)mi * 60 + se;
    }
    return true;
}

/* ---- small field parsers ---- */

/* Decimal without sign or leading zeros, at most max. */
static bool u64_parse(uint64_t *out, const uint8_t *s, size_t n, uint64_t max)
{
    uint64_t v = 0;
    *out = 0;
    if (n == 0 || n > 20 || (n > 1 && s[0] == '0')) return false;
    for (size_t i = 0; i < n; i++) {
        unsigned dgt;
        if (s[i] < '0' || s[i] > '9') return false;
        dgt = (unsigned)(s[i] - '0');
        if (v > (UINT64_MAX - dgt) / 10) return false;
        v = v * 10 + dgt;
    }
    if (v > max) return false;
    *out = v;
    return true;
}

static int hexval(uint8_t c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1; /* upper case is not canonical */
}

/* 64 lower-case hex chars into 32 bytes, reversed when `reverse`. */
static bool hex32_parse(uint8_t out[32], const uint8_t *s, size_t n, bool reverse)
{
    memset(out, 0, 32);
    if (n != 64) return false;
    for (size_t i = 0; i < 32; i++) {
        int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            memset(out, 0, 32);
            return false;
        }
        out[reverse ? 31 - i : i] = (uint8_t)(hi << 4 | lo);
    }
    return true;
}

static bool intent_id_valid(const char *s, size_t n)
{
    if (n != KURA_JOURNAL_INTENT_ID_LEN) return false;
    for (size_t i = 0; i < n; i++)
        if (hexval((uint8_t)s[i]) < 0) return false;
    return true;
}

static bool reason_char(uint8_t c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '.' || c == ':' || c == '-';
}

static bool reason_valid(const char *s, size_t n)
{
    if (n < 1 || n > KURA_JOURNAL_REASON_MAX) return false;
    for (size_t i = 0; i < n; i++)
        if (!reason_char((uint8_t)s[i])) return false;
    return true;
}

/* ---- writing ---- */

typedef struct line_writer {
    char *p;
    size_t len, cap;
    bool failed;
} line_writer;

static void put(line_writer *w, const char *s, size_t n)
{
    if (w->failed || n >= w->cap - w->len) {
        w->failed = true;
        return;
    }
    memcpy(w->p + w->len, s, n);
    w->len += n;
    w->p[w->len] = '\0';
}

static void put_str(line_writer *w, const char *s)
{
    put(w, " ", w->len > 0 ? 1 : 0);
    put(w, s, strlen(s));
}

static void put_u64(line_writer *w, uint64_t v)
{
    char b[24];
    snprintf(b, sizeof(b), "%llu", (unsigned long long)v);
    put_str(w, b);
}

static void put_hex32(line_writer *w, const uint8_t h[32], bool reverse)
{
    static const char hexdig[] = "0123456789abcdef";
    char b[65];
    for (size_t i = 0; i < 32; i++) {
        uint8_t v = h[reverse ? 31 - i : i];
        b[2 * i] = hexdig[v >> 4];
        b[2 * i + 1] = hexdig[v & 15];
    }
    b[64] = '\0';
    put_str(w, b);
}

static int check_fields(const kura_journal_entry *e, kura_error *err)
{
    if (e->seq >= KURA_JOURNAL_ENTRIES_MAX)
        return kura_fail(err, KURA_EINVAL, "journal: sequence number over the limit");
    if (e->time < 0 || e->time > KURA_JOURNAL_TIME_MAX)
        return kura_fail(err, KURA_EINVAL, "journal: time out of range");
    switch (e->kind) {
    case KURA_JOURNAL_INIT:
        if (e->format_version != 1 && e->format_version != KURA_JOURNAL_FORMAT_VERSION)
            return kura_fail(err, KURA_EINVAL, "journal: unknown format version");
        return KURA_OK;
    case KURA_JOURNAL_SIGNED:
        if (!e->has_intent_hash)
            return kura_fail(err, KURA_EINVAL, "journal: signed entry without intent hash");
        if (!intent_id_valid(e->intent_id, strnlen(e->intent_id, sizeof(e->intent_id))))
            return kura_fail(err, KURA_EINVAL, "journal: intent id is not 32 lower-case hex");
        if (e->amount > KURA_JOURNAL_AMOUNT_MAX || e->fee > KURA_JOURNAL_AMOUNT_MAX)
            return kura_fail(err, KURA_EINVAL, "journal: amount or fee over 21e14 sat");
        if (e->input_count > KURA_JOURNAL_INPUTS_MAX)
            return kura_fail(err, KURA_EINVAL, "journal: more than %d inputs",
                             KURA_JOURNAL_INPUTS_MAX);
        /* Version 1 (no inputs) has neither signal nor replacement. */
        if (e->input_count == 0 && (e->bip125 != 0 || e->has_replaces))
            return kura_fail(err, KURA_EINVAL,
                             "journal: a signed entry without inputs cannot replace or signal");
        if (e->bip125 != 0 && e->bip125 != 1)
            return kura_fail(err, KURA_EINVAL, "journal: bip125 must be 0 or 1");
        if (e->has_replaces && e->replaces >= e->seq)
            return kura_fail(err, KURA_EINVAL, "journal: replaces a later entry");
        return KURA_OK;
    case KURA_JOURNAL_INPUT:
        if (!e->has_intent_hash)
            return kura_fail(err, KURA_EINVAL, "journal: input entry without intent hash");
        return KURA_OK;
    case KURA_JOURNAL_REFUSED:
        if (!reason_valid(e->reason, strnlen(e->reason, sizeof(e->reason))))
            return kura_fail(err, KURA_EINVAL,
                             "journal: reason must be 1..64 chars of [A-Za-z0-9_.:-]");
        return KURA_OK;
    case KURA_JOURNAL_POLICY:
        if (e->policy_version < 1 || e->policy_version > KURA_JOURNAL_POLICY_VERSION_MAX)
            return kura_fail(err, KURA_EINVAL, "journal: policy version out of range");
        return KURA_OK;
    case KURA_JOURNAL_RECOVERED:
        if (e->discarded_len < 1 || e->discarded_len >= KURA_JOURNAL_LINE_MAX)
            return kura_fail(err, KURA_EINVAL, "journal: discarded length out of range");
        return KURA_OK;
    case KURA_JOURNAL_CHANGE:
        if (e->change_index > KURA_JOURNAL_CHANGE_INDEX_MAX)
            return kura_fail(err, KURA_EINVAL, "journal: change index out of range");
        return KURA_OK;
    }
    return kura_fail(err, KURA_EINVAL, "journal: unknown entry kind");
}

int kura_journal_line_format(char out[KURA_JOURNAL_LINE_MAX], size_t *len, uint8_t hash[32],
                             const kura_journal_entry *e, kura_error *err)
{
    line_writer w = {out, 0, KURA_JOURNAL_LINE_MAX, false};
    char t[21];
    int rc;
    out[0] = '\0';
    *len = 0;
    memset(hash, 0, 32);
    rc = check_fields(e, err);
    if (rc != KURA_OK) return rc;
    put_u64(&w, e->seq);
    time_format(t, e->time);
    put_str(&w, t);
    put_str(&w, kura_journal_kind_name(e->kind));
    switch (e->kind) {
    case KURA_JOURNAL_INIT:
        put_str(&w, e->format_version == 1 ? INIT_TOKEN_V1 : INIT_TOKEN_V2);
        break;
    case KURA_JOURNAL_SIGNED:
        put_hex32(&w, e->intent_hash, false);
        put_str(&w, e->intent_id);
        put_u64(&w, e->amount);
        put_u64(&w, e->fee);
        put_hex32(&w, e->txid, true);
        if (e->input_count > 0) {
            put_u64(&w, e->input_count);
            put_str(&w, e->bip125 ? "rbf" : "final");
            if (e->has_replaces)
                put_u64(&w, e->replaces);
            else
                put_str(&w, "-");
        }
        break;
    case KURA_JOURNAL_INPUT: {
        char op[80];
        put_hex32(&w, e->intent_hash, false);
        /* "txid:vout", the txid in display order, as explorers show it. */
        put_hex32(&w, e->outpoint_txid, true);
        snprintf(op, sizeof(op), ":%" PRIu32, e->outpoint_vout);
        put(&w, op, strlen(op));
        break;
    }
    case KURA_JOURNAL_REFUSED:
        if (e->has_intent_hash)
            put_hex32(&w, e->intent_hash, false);
        else
            put_str(&w, "-");
        put_str(&w, e->reason);
        break;
    case KURA_JOURNAL_POLICY:
        put_u64(&w, e->policy_version);
        put_hex32(&w, e->policy_hash, false);
        break;
    case KURA_JOURNAL_RECOVERED:
        put_u64(&w, e->discarded_len);
        put_hex32(&w, e->discarded_hash, false);
        break;
    case KURA_JOURNAL_CHANGE: put_u64(&w, e->change_index); break;
    }
    put_hex32(&w, e->prev_hash, false);
    /* The hash covers every byte before " <hash>", so the line an auditor
     * reads is exactly what is hashed: `head -c N | sha256sum` checks it. */
    kura_sha256(hash, (const uint8_t *)out, w.len);
    put_hex32(&w, hash, false);
    /* Room for the LF the file adds. */
    if (w.failed || w.len + 1 > KURA_JOURNAL_LINE_MAX) {
        out[0] = '\0';
        memset(hash, 0, 32);
        return kura_fail(err, KURA_EINVAL, "journal: entry longer than a line may be");
    }
    *len = w.len;
    return KURA_OK;
}

int kura_journal_entry_format(char *out, size_t out_len, size_t *written,
                              const kura_journal_entry *entry)
{
    char line[KURA_JOURNAL_LINE_MAX];
    uint8_t hash[32];
    size_t len = 0;
    if (written != NULL) *written = 0;
    if (out != NULL && out_len > 0) out[0] = '\0';
    if (out == NULL || written == NULL || entry == NULL) return KURA_EINVAL;
    if (kura_journal_line_format(line, &len, hash, entry, NULL) != KURA_OK) return KURA_EINVAL;
    if (len + 1 > out_len) return KURA_EINVAL;
    memcpy(out, line, len + 1);
    *written = len;
    return KURA_OK;
}

/* ---- parsing ---- */

typedef struct field {
    const uint8_t *p;
    size_t n;
} field;

static bool field_is(const field *f, const char *s)
{
    return f->n == strlen(s) && memcmp(f->p, s, f->n) == 0;
}

int kura_journal_entry_parse(kura_journal_entry *out, const uint8_t *line, size_t len,
                             kura_error *err)
{
    field f[MAX_FIELDS];
    size_t nf = 0, start = 0;
    kura_journal_entry e;
    uint64_t v;
    uint8_t hash[32];
    int kind = -1;
    if (out != NULL) memset(out, 0, sizeof(*out));
    if (out == NULL || (line == NULL && len > 0))
        return kura_fail(err, KURA_EINVAL, "journal: NULL argument");
    memset(&e, 0, sizeof(e));
    if (len == 0) return kura_fail(err, KURA_EDATA, "journal: empty line");
    if (len >= KURA_JOURNAL_LINE_MAX)
        return kura_fail(err, KURA_EDATA, "journal: line longer than %d bytes",
                         KURA_JOURNAL_LINE_MAX - 1);
    /* One spelling per entry: printable ASCII fields separated by exactly
     * one space, none leading or trailing. A CR, a tab or a second space
     * would make two byte strings (two hashes) of one meaning. */
    for (size_t i = 0; i <= len; i++) {
        if (i < len && line[i] != ' ') {
            if (line[i] < 0x21 || line[i] > 0x7e)
                return kura_fail(err, KURA_EDATA, "journal: byte 0x%02x at column %zu",
                                 line[i], i + 1);
            continue;
        }
        if (i == start)
            return kura_fail(err, KURA_EDATA, "journal: empty field at column %zu", i + 1);
        if (nf == MAX_FIELDS) return kura_fail(err, KURA_EDATA, "journal: too many fields");
        f[nf].p = line + start;
        f[nf].n = i - start;
        nf++;
        start = i + 1;
    }
    if (nf < 3) return kura_fail(err, KURA_EDATA, "journal: too few fields");
    if (!u64_parse(&e.seq, f[0].p, f[0].n, KURA_JOURNAL_ENTRIES_MAX - 1))
        return kura_fail(err, KURA_EDATA, "journal: bad sequence number");
    if (!time_parse(&e.time, f[1].p, f[1].n))
        return kura_fail(err, KURA_EDATA, "journal: bad time (want YYYY-MM-DDTHH:MM:SSZ)");
    for (int k = KURA_JOURNAL_INIT; k <= KURA_JOURNAL_INPUT; k++)
        if (field_is(&f[2], kura_journal_kind_name((kura_journal_kind)k))) kind = k;
    if (kind < 0) return kura_fail(err, KURA_EDATA, "journal: unknown entry kind");
    e.kind = (kura_journal_kind)kind;
    if (nf != field_count(e.kind, false) && nf != field_count(e.kind, true))
        return kura_fail(err, KURA_EDATA, "journal: %s entry has %zu fields, expected %zu",
                         kura_journal_kind_name(e.kind), nf, field_count(e.kind, true));
    switch (e.kind) {
    case KURA_JOURNAL_INIT:
        if (field_is(&f[3], INIT_TOKEN_V1))
            e.format_version = 1;
        else if (field_is(&f[3], INIT_TOKEN_V2))
            e.format_version = 2;
        else
            return kura_fail(err, KURA_EDATA, "journal: unknown journal format (want %s or %s)",
                             INIT_TOKEN_V1, INIT_TOKEN_V2);
        break;
    case KURA_JOURNAL_SIGNED:
        e.has_intent_hash = 1;
        if (!hex32_parse(e.intent_hash, f[3].p, f[3].n, false))
            return kura_fail(err, KURA_EDATA, "journal: bad intent hash");
        if (!intent_id_valid((const char *)f[4].p, f[4].n))
            return kura_fail(err, KURA_EDATA, "journal: bad intent id");
        memcpy(e.intent_id, f[4].p, f[4].n);
        if (!u64_parse(&e.amount, f[5].p, f[5].n, KURA_JOURNAL_AMOUNT_MAX))
            return kura_fail(err, KURA_EDATA, "journal: bad amount");
        if (!u64_parse(&e.fee, f[6].p, f[6].n, KURA_JOURNAL_AMOUNT_MAX))
            return kura_fail(err, KURA_EDATA, "journal: bad fee");
        if (!hex32_parse(e.txid, f[7].p, f[7].n, true))
            return kura_fail(err, KURA_EDATA, "journal: bad txid");
        if (nf == field_count(KURA_JOURNAL_SIGNED, true)) {
            if (!u64_parse(&v, f[8].p, f[8].n, KURA_JOURNAL_INPUTS_MAX) || v == 0)
                return kura_fail(err, KURA_EDATA, "journal: bad input count");
            e.input_count = (uint32_t)v;
            if (field_is(&f[9], "rbf"))
                e.bip125 = 1;
            else if (!field_is(&f[9], "final"))
                return kura_fail(err, KURA_EDATA, "journal: bad signal (want rbf or final)");
            if (!field_is(&f[10], "-")) {
                if (!u64_parse(&e.replaces, f[10].p, f[10].n, KURA_JOURNAL_ENTRIES_MAX - 1) ||
                    e.replaces >= e.seq)
                    return kura_fail(err, KURA_EDATA, "journal: bad replaced entry");
                e.has_replaces = 1;
            }
        }
        break;
    case KURA_JOURNAL_INPUT: {
        const uint8_t *colon;
        e.has_intent_hash = 1;
        if (!hex32_parse(e.intent_hash, f[3].p, f[3].n, false))
            return kura_fail(err, KURA_EDATA, "journal: bad intent hash");
        colon = f[4].n > 64 ? f[4].p + 64 : NULL;
        if (colon == NULL || *colon != ':' || !hex32_parse(e.outpoint_txid, f[4].p, 64, true) ||
            !u64_parse(&v, colon + 1, f[4].n - 65, UINT32_MAX))
            return kura_fail(err, KURA_EDATA, "journal: bad outpoint (want txid:vout)");
        e.outpoint_vout = (uint32_t)v;
        break;
    }
    case KURA_JOURNAL_REFUSED:
        if (!field_is(&f[3], "-")) {
            e.has_intent_hash = 1;
            if (!hex32_parse(e.intent_hash, f[3].p, f[3].n, false))
                return kura_fail(err, KURA_EDATA, "journal: bad intent hash");
        }
        if (!reason_valid((const char *)f[4].p, f[4].n))
            return kura_fail(err, KURA_EDATA, "journal: bad reason");
        memcpy(e.reason, f[4].p, f[4].n);
        break;
    case KURA_JOURNAL_POLICY:
        if (!u64_parse(&e.policy_version, f[3].p, f[3].n, KURA_JOURNAL_POLICY_VERSION_MAX) ||
            e.policy_version == 0)
            return kura_fail(err, KURA_EDATA, "journal: bad policy version");
        if (!hex32_parse(e.policy_hash, f[4].p, f[4].n, false))
            return kura_fail(err, KURA_EDATA, "journal: bad policy hash");
        break;
    case KURA_JOURNAL_RECOVERED:
        if (!u64_parse(&v, f[3].p, f[3].n, KURA_JOURNAL_LINE_MAX - 1) || v == 0)
            return kura_fail(err, KURA_EDATA, "journal: bad discarded length");
        e.discarded_len = v;
        if (!hex32_parse(e.discarded_hash, f[4].p, f[4].n, false))
            return kura_fail(err, KURA_EDATA, "journal: bad discarded hash");
        break;
    case KURA_JOURNAL_CHANGE:
        if (!u64_parse(&v, f[3].p, f[3].n, KURA_JOURNAL_CHANGE_INDEX_MAX))
            return kura_fail(err, KURA_EDATA, "journal: bad change index");
        e.change_index = (uint32_t)v;
        break;
    }
    if (!hex32_parse(e.prev_hash, f[nf - 2].p, f[nf - 2].n, false))
        return kura_fail(err, KURA_EDATA, "journal: bad previous hash");
    if (!hex32_parse(e.hash, f[nf - 1].p, f[nf - 1].n, false))
        return kura_fail(err, KURA_EDATA, "journal: bad entry hash");
    /* The hashed bytes are the line up to the space before the hash field. */
    kura_sha256(hash, line, (size_t)(f[nf - 1].p - line) - 1);
    if (memcmp(hash, e.hash, 32) != 0)
        return kura_fail(err, KURA_EDATA, "journal: entry hash does not match its contents");
    *out = e;
    return KURA_OK;
}
