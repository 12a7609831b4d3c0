/* BBQr (kura/bbqr.h) against the specification's data in tests/vectors/bbqr/
 * (README there): a real scan with repeats, the specification's test files
 * and its compression and size tables; round trips of random and repetitive
 * files up to 1 MB in every encoding, in shuffled order with repeats; and a
 * test for every refusal reason, each checked for its code and reason. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>
#include <zlib.h>

#include "kura/bbqr.h"
#include "testutil.h"

/* ---- helpers ---- */

static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static uint64_t rng(void)
{
    /* xorshift64*: deterministic, so a failure reproduces. */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545f4914f6cdd1du;
}

static uint8_t *random_bytes(size_t n)
{
    uint8_t *b = malloc(n > 0 ? n : 1);
    assert_non_null(b);
    for (size_t i = 0; i < n; i++) b[i] = (uint8_t)(rng() >> 56);
    return b;
}

/* A PSBT-like file: the magic, then runs of random and repeated bytes, so
 * that deflate finds something but not everything. */
static uint8_t *psbt_like(size_t n)
{
    uint8_t *b = random_bytes(n);
    if (n >= 5) memcpy(b, "psbt\xff", 5);
    for (size_t i = 5; i + 40 < n; i += 97) memset(b + i, 0, 20);
    return b;
}

static uint8_t *vector_file(const char *name, size_t *len)
{
    char rel[256];
    snprintf(rel, sizeof(rel), "vectors/bbqr/%s", name);
    return (uint8_t *)tu_read_file(rel, len);
}

/* Joins the parts in the order given by perm (NULL: as they are). */
static int join_parts(uint8_t **out, size_t *out_len, char *type, kura_bbqr_reason *reason,
                      char *const *parts, size_t count, const size_t *perm, size_t max_len)
{
    const char **p = calloc(count ? count : 1, sizeof(char *));
    size_t *l = calloc(count ? count : 1, sizeof(size_t));
    kura_error err;
    int rc;
    assert_non_null(p);
    assert_non_null(l);
    for (size_t i = 0; i < count; i++) {
        p[i] = parts[perm != NULL ? perm[i] : i];
        l[i] = strlen(p[i]);
    }
    rc = kura_bbqr_join(out, out_len, type, reason, p, l, count, max_len, &err);
    free(p);
    free(l);
    return rc;
}

/* A random order of 0..n) with about n/4 repeats appended. *total gets its length. */
static size_t *shuffled(size_t n, size_t *total)
{
    size_t extra = n / 4 + 1, *perm = malloc((n + extra) * sizeof(size_t));
    assert_non_null(perm);
    for (size_t i = 0; i < n; i++) perm[i] = i;
    for (size_t i = n; i > 1; i--) {
        size_t k = (size_t)(rng() % i), t = perm[i - 1];
        perm[i - 1] = perm[k];
        perm[k] = t;
    }
    for (size_t i = 0; i < extra; i++) perm[n + i] = (size_t)(rng() % n);
    *total = n + extra;
    return perm;
}

/* What every split must hold: the header, equal lengths but the last, each
 * part within the reported version's capacity, the encoding's units. */
static void check_series(const kura_bbqr_parts *s, char type, unsigned max_version)
{
    size_t unit = s->encoding == KURA_BBQR_HEX ? 2 : 8;
    assert_true(s->count >= 1 && s->count <= KURA_BBQR_MAX_PARTS);
    assert_true(s->version >= 1 && s->version <= 40);
    if (max_version != 0) assert_true(s->version <= max_version);
    assert_true(s->part_len <= kura_bbqr_qr_capacity(s->version));
    assert_int_equal(s->file_type, type);
    for (size_t i = 0; i < s->count; i++) {
        const char *p = s->parts[i];
        size_t len = strlen(p);
        char hdr[9];
        snprintf(hdr, sizeof(hdr), "B$%c%c%c%c%c%c", s->encoding, type,
                 "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"[s->count / 36],
                 "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"[s->count % 36],
                 "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"[i / 36],
                 "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"[i % 36]);
        assert_memory_equal(p, hdr, 8);
        if (i + 1 < s->count) {
            assert_int_equal(len, s->part_len);
            assert_int_equal((len - 8) % unit, 0);
        } else {
            assert_true(len <= s->part_len && len > 8);
        }
        for (size_t k = 8; k < len; k++)
            assert_non_null(strchr(s->encoding == KURA_BBQR_HEX ? "0123456789ABCDEF"
                                                                : "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567",
                                   p[k]));
    }
}

static void round_trip(const uint8_t *data, size_t n, const kura_bbqr_split_options *o,
                       char expect_encoding)
{
    kura_bbqr_parts *s = NULL;
    uint8_t *back = NULL;
    size_t back_len = 0, total, *perm;
    char type = 0;
    kura_bbqr_reason reason;
    assert_int_equal(kura_bbqr_split(&s, data, n, o), KURA_OK);
    check_series(s, o->file_type, o->max_version);
    if (expect_encoding != 0) assert_int_equal(s->encoding, expect_encoding);
    if (o->max_part_len != 0) assert_true(s->part_len <= o->max_part_len);
    perm = shuffled(s->count, &total);
    assert_int_equal(join_parts(&back, &back_len, &type, &reason, s->parts, total > 0 ? s->count : 0,
                                NULL, 0),
                     KURA_OK);
    tu_assert_bytes_equal_impl(back, back_len, data, n, __FILE__, __LINE__);
    free(back);
    back = NULL;
    {
        char **many = malloc(total * sizeof(char *));
        assert_non_null(many);
        for (size_t i = 0; i < total; i++) many[i] = s->parts[perm[i]];
        assert_int_equal(join_parts(&back, &back_len, &type, &reason, many, total, NULL, 0),
                         KURA_OK);
        free(many);
    }
    assert_int_equal(type, o->file_type);
    assert_int_equal(reason, KURA_BBQR_OK);
    tu_assert_bytes_equal_impl(back, back_len, data, n, __FILE__, __LINE__);
    free(back);
    free(perm);
    kura_bbqr_parts_free(s);
}

/* Adds text to j and checks the status and the reason. */
static void add_expect(kura_bbqr_joiner *j, const char *text, int code, kura_bbqr_reason why)
{
    kura_bbqr_reason reason = (kura_bbqr_reason)99;
    kura_error err;
    memset(&err, 0, sizeof(err));
    int rc = kura_bbqr_joiner_add(j, &reason, text, strlen(text), &err);
    if (rc != code || reason != why)
        fail_msg("%s: got %d %s (%s), want %d %s", text, rc, kura_bbqr_reason_name(reason),
                 err.message, code, kura_bbqr_reason_name(why));
    if (code != KURA_OK) {
        assert_int_equal(err.code, code);
        assert_non_null(strstr(err.message, kura_bbqr_reason_name(why)));
    }
}

/* A whole series of text parts, expected to be refused for why. */
static void join_expect(const char *const *parts, size_t count, size_t max_len, int code,
                        kura_bbqr_reason why)
{
    uint8_t *out = (uint8_t *)1;
    size_t out_len = 1;
    kura_bbqr_reason reason;
    int rc = join_parts(&out, &out_len, NULL, &reason, (char *const *)parts, count, NULL,
                        max_len);
    if (rc != code || reason != why)
        fail_msg("%s...: got %d %s, want %d %s", count ? parts[0] : "(none)", rc,
                 kura_bbqr_reason_name(reason), code, kura_bbqr_reason_name(why));
    assert_null(out);
    assert_int_equal(out_len, 0);
}

/* ---- the specification's data ---- */

static void real_scan(void **state)
{
    size_t len, n = 0, received, total, out_len, lines = 0;
    char *text = (char *)vector_file("real-scan.txt", &len), *line, *save = NULL;
    char *expect = (char *)vector_file("real-scan.expect", NULL);
    kura_bbqr_joiner *j = NULL, *rev = NULL;
    char *all[64];
    uint8_t *out = NULL, hash[32];
    char type, enc, hex[65];
    kura_error err;
    (void)state;
    assert_int_equal(kura_bbqr_joiner_new(&j, 0), KURA_OK);
    assert_int_equal(kura_bbqr_joiner_new(&rev, 0), KURA_OK);
    for (line = strtok_r(text, "\r\n", &save); line != NULL; line = strtok_r(NULL, "\r\n", &save)) {
        if (line[0] == '\0') continue;
        assert_true(n < 64);
        all[n++] = line;
        assert_int_equal(kura_bbqr_joiner_add(j, NULL, line, strlen(line), &err), KURA_OK);
    }
    /* The same lines backwards into a second joiner. */
    for (size_t i = n; i > 0; i--)
        assert_int_equal(kura_bbqr_joiner_add(rev, NULL, all[i - 1], strlen(all[i - 1]), &err),
                         KURA_OK);
    assert_true(kura_bbqr_joiner_progress(j, &received, &total));
    kura_bbqr_joiner_kind(j, &enc, &type);
    for (line = strtok_r(expect, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
        if (strncmp(line, "lines ", 6) == 0) lines = (size_t)atol(line + 6);
        if (strncmp(line, "parts ", 6) == 0) assert_int_equal(total, atol(line + 6));
        if (strncmp(line, "type ", 5) == 0) assert_int_equal(type, line[5]);
        if (strncmp(line, "encoding ", 9) == 0) assert_int_equal(enc, line[9]);
    }
    assert_int_equal(n, lines);
    assert_int_equal(received, total);
    for (int pass = 0; pass < 2; pass++) {
        assert_int_equal(kura_bbqr_joiner_finish(pass ? rev : j, &out, &out_len, &type, NULL, &err),
                         KURA_OK);
        assert_int_equal(type, 'U');
        crypto_hash_sha256(hash, out, out_len);
        sodium_bin2hex(hex, sizeof(hex), hash, sizeof(hash));
        free(expect);
        expect = (char *)vector_file("real-scan.expect", NULL);
        for (line = strtok_r(expect, "\n", &save); line != NULL;
             line = strtok_r(NULL, "\n", &save)) {
            if (strncmp(line, "length ", 7) == 0) assert_int_equal(out_len, atol(line + 7));
            if (strncmp(line, "sha256 ", 7) == 0) assert_string_equal(hex, line + 7);
            if (strncmp(line, "contains ", 9) == 0) {
                char *z = malloc(out_len + 1);
                assert_non_null(z);
                memcpy(z, out, out_len);
                z[out_len] = '\0';
                assert_non_null(strstr(z, line + 9));
                free(z);
            }
        }
        free(out);
    }
    kura_bbqr_joiner_free(j);
    kura_bbqr_joiner_free(rev);
    free(expect);
    free(text);
}

static void spec_files(void **state)
{
    char *table = (char *)vector_file("compression.txt", NULL), *line, *save = NULL;
    size_t files = 0;
    (void)state;
    for (line = strtok_r(table, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
        char name[64];
        size_t before, after, len, zbytes = 0;
        uint8_t *data;
        kura_bbqr_parts *s = NULL;
        kura_bbqr_split_options o = {0};
        if (line[0] == '#') continue;
        assert_int_equal(sscanf(line, "%63s %zu %zu", name, &before, &after), 3);
        data = vector_file(name, &len);
        assert_int_equal(len, before);
        /* Z: compressed at level 9 with the 1 KiB window, never larger than
         * the specification's figures (made at zlib's default level). */
        o.file_type = strstr(name, ".psbt") != NULL ? KURA_BBQR_PSBT : KURA_BBQR_TRANSACTION;
        o.encoding = KURA_BBQR_ZLIB;
        assert_int_equal(kura_bbqr_split(&s, data, len, &o), KURA_OK);
        assert_int_equal(s->encoding, KURA_BBQR_ZLIB);
        for (size_t i = 0; i < s->count; i++)
            zbytes += (strlen(s->parts[i]) - 8) * 5 / 8;
        assert_true(zbytes <= after);
        kura_bbqr_parts_free(s);
        s = NULL;
        assert_true(zbytes * 100 >= after * 99); /* and no other compression than theirs */
        round_trip(data, len, &o, KURA_BBQR_ZLIB);
        o.encoding = KURA_BBQR_HEX;
        round_trip(data, len, &o, KURA_BBQR_HEX);
        o.encoding = KURA_BBQR_BASE32;
        round_trip(data, len, &o, KURA_BBQR_BASE32);
        free(data);
        files++;
    }
    assert_int_equal(files, 10);
    free(table);
}

/* "Example Headers": a 2,150-byte PSBT as B$HP0300, B$HP0301 (2000 hex
 * digits each) and B$HP0302 (300): a runt last part is accepted, and a
 * 2008-character part needs version 27. */
static void spec_example_headers(void **state)
{
    uint8_t *data = random_bytes(2150), *out = NULL;
    char *text = malloc(4301), *parts[3];
    size_t out_len;
    char type;
    kura_bbqr_reason reason;
    (void)state;
    assert_non_null(text);
    for (size_t i = 0; i < 2150; i++) sprintf(text + 2 * i, "%02X", data[i]);
    for (size_t i = 0; i < 3; i++) {
        size_t n = i < 2 ? 2000 : 300;
        parts[i] = malloc(8 + n + 1);
        assert_non_null(parts[i]);
        snprintf(parts[i], 9, "B$HP030%zu", i);
        memcpy(parts[i] + 8, text + 2000 * i, n);
        parts[i][8 + n] = '\0';
    }
    {
        size_t order[3] = {2, 0, 1};
        assert_int_equal(join_parts(&out, &out_len, &type, &reason, parts, 3, order, 0), KURA_OK);
    }
    assert_int_equal(type, 'P');
    tu_assert_bytes_equal_impl(out, out_len, data, 2150, __FILE__, __LINE__);
    assert_int_equal(kura_bbqr_qr_version_for(2008), 27);
    assert_int_equal(kura_bbqr_qr_capacity(27), 2132);
    free(out);
    for (size_t i = 0; i < 3; i++) free(parts[i]);
    free(text);
    free(data);
}

/* "Size Estimates": the capacity of each version, and that N QR codes of
 * that version hold exactly the bytes the table says (one byte more needs
 * another part). */
static void size_estimates(void **state)
{
    char *table = (char *)vector_file("size-estimates.txt", NULL), *line, *save = NULL;
    const size_t splits[4] = {2, 5, 10, 20};
    size_t rows = 0;
    (void)state;
    for (line = strtok_r(table, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
        unsigned v;
        size_t chars, payload, fits[4];
        if (line[0] == '#') continue;
        assert_int_equal(sscanf(line, "%u %zu %zu %zu %zu %zu %zu", &v, &chars, &payload,
                                &fits[0], &fits[1], &fits[2], &fits[3]),
                         7);
        assert_int_equal(kura_bbqr_qr_capacity(v), chars);
        assert_int_equal((chars - KURA_BBQR_HEADER_LEN) / 2, payload);
        for (size_t k = 0; k < 4; k++) {
            uint8_t *d = random_bytes(fits[k] + 1);
            kura_bbqr_split_options o = {0};
            kura_bbqr_parts *s = NULL;
            o.encoding = KURA_BBQR_HEX;
            o.file_type = KURA_BBQR_PSBT;
            o.min_version = o.max_version = v;
            assert_int_equal(kura_bbqr_split(&s, d, fits[k], &o), KURA_OK);
            assert_int_equal(s->count, splits[k]);
            assert_int_equal(s->version, v);
            kura_bbqr_parts_free(s);
            assert_int_equal(kura_bbqr_split(&s, d, fits[k] + 1, &o), KURA_OK);
            assert_int_equal(s->count, splits[k] + 1);
            kura_bbqr_parts_free(s);
            free(d);
        }
        rows++;
    }
    assert_int_equal(rows, 20);
    free(table);
}

/* BBQr.md "Notes": the largest files, 2,776,480 bytes in hex and 3,470,600 in
 * base32, take all 1,295 version-40 parts; a byte more does not fit. */
static void largest_series(void **state)
{
    const struct {
        char enc;
        size_t max;
    } cases[2] = {{KURA_BBQR_HEX, 2776480}, {KURA_BBQR_BASE32, 3470600}};
    (void)state;
    for (size_t c = 0; c < 2; c++) {
        uint8_t *d = random_bytes(cases[c].max + 1);
        kura_bbqr_split_options o = {0};
        kura_bbqr_parts *s = NULL;
        o.encoding = cases[c].enc;
        o.file_type = KURA_BBQR_TRANSACTION;
        o.min_version = 40;
        assert_int_equal(kura_bbqr_split(&s, d, cases[c].max, &o), KURA_OK);
        assert_int_equal(s->count, KURA_BBQR_MAX_PARTS);
        assert_int_equal(s->part_len, KURA_BBQR_PART_MAX);
        assert_memory_equal(s->parts[KURA_BBQR_MAX_PARTS - 1], "B$2TZZZY", 2);
        assert_memory_equal(s->parts[KURA_BBQR_MAX_PARTS - 1] + 4, "ZZZY", 4);
        {
            uint8_t *back = NULL;
            size_t back_len;
            char type;
            kura_bbqr_reason reason;
            assert_int_equal(join_parts(&back, &back_len, &type, &reason, s->parts, s->count,
                                        NULL, 0),
                             KURA_OK);
            tu_assert_bytes_equal_impl(back, back_len, d, cases[c].max, __FILE__, __LINE__);
            free(back);
        }
        kura_bbqr_parts_free(s);
        assert_int_equal(kura_bbqr_split(&s, d, cases[c].max + 1, &o), KURA_ERANGE);
        assert_null(s);
        free(d);
    }
}

/* ---- round trips ---- */

static void round_trips(void **state)
{
    const size_t sizes[] = {1, 2, 3, 4, 5, 7, 8, 100, 999, 1062, 1063, 2144, 2145, 4000,
                            10007, 65536, 250000, 1000000};
    const char encs[3] = {KURA_BBQR_HEX, KURA_BBQR_BASE32, KURA_BBQR_ZLIB};
    (void)state;
    for (size_t si = 0; si < sizeof(sizes) / sizeof(sizes[0]); si++) {
        for (int kind = 0; kind < 2; kind++) {
            size_t n = sizes[si];
            uint8_t *d = kind == 0 ? random_bytes(n) : psbt_like(n);
            for (size_t e = 0; e < 3; e++) {
                kura_bbqr_split_options o = {0};
                o.encoding = encs[e];
                o.file_type = KURA_BBQR_PSBT;
                /* Random data does not compress: Z falls back to base32. */
                round_trip(d, n, &o,
                           encs[e] == KURA_BBQR_ZLIB && kind == 0 && n > 8 ? KURA_BBQR_BASE32
                                                                         : (encs[e] == KURA_BBQR_ZLIB ? 0 : encs[e]));
                if (n <= 250000) {
                    o.max_version = (unsigned)(11 + rng() % 30);
                    o.min_version = (unsigned)(1 + rng() % o.max_version);
                    {
                        kura_bbqr_parts *fits = NULL;
                        if (kura_bbqr_split(&fits, d, n, &o) == KURA_OK) round_trip(d, n, &o, 0);
                        kura_bbqr_parts_free(fits);
                    }
                    o.min_version = o.max_version = 0;
                    o.max_part_len = (size_t)(16 + rng() % (KURA_BBQR_PART_MAX - 15));
                    if (n * 2 / (o.max_part_len - 8) + 2 < KURA_BBQR_MAX_PARTS)
                        round_trip(d, n, &o, 0);
                }
            }
            free(d);
        }
    }
}

/* Repetitive data compresses: Z stays Z and is much smaller than base32. */
static void zlib_compresses(void **state)
{
    uint8_t *d = calloc(1, 1000000);
    kura_bbqr_split_options o = {0};
    kura_bbqr_parts *s = NULL;
    (void)state;
    assert_non_null(d);
    memcpy(d, "psbt\xff", 5);
    o.file_type = KURA_BBQR_PSBT; /* encoding 0: Z */
    assert_int_equal(kura_bbqr_split(&s, d, 1000000, &o), KURA_OK);
    assert_int_equal(s->encoding, KURA_BBQR_ZLIB);
    assert_true(s->count < 5);
    kura_bbqr_parts_free(s);
    round_trip(d, 1000000, &o, KURA_BBQR_ZLIB);
    free(d);
}

/* The series is shared out evenly: no small runt at the end. */
static void even_parts(void **state)
{
    uint8_t *d = random_bytes(3000);
    kura_bbqr_split_options o = {0};
    kura_bbqr_parts *s = NULL;
    (void)state;
    o.encoding = KURA_BBQR_HEX;
    o.file_type = KURA_BBQR_PSBT;
    o.max_part_len = 2008; /* 1000 bytes a part: 3 parts */
    assert_int_equal(kura_bbqr_split(&s, d, 3000, &o), KURA_OK);
    assert_int_equal(s->count, 3);
    for (size_t i = 0; i < 3; i++) assert_int_equal(strlen(s->parts[i]), 8 + 2000);
    kura_bbqr_parts_free(s);
    assert_int_equal(kura_bbqr_split(&s, d, 2002, &o), KURA_OK);
    assert_int_equal(s->count, 3);
    assert_int_equal(strlen(s->parts[0]), 8 + 1336);
    assert_int_equal(strlen(s->parts[2]), 8 + 4004 - 2 * 1336);
    kura_bbqr_parts_free(s);
    free(d);
}

/* ---- refusals ---- */

static void split_misuse(void **state)
{
    uint8_t d[16] = {1, 2, 3};
    kura_bbqr_split_options o = {0};
    kura_bbqr_parts *s = (kura_bbqr_parts *)1;
    (void)state;
    o.file_type = KURA_BBQR_PSBT;
    assert_int_equal(kura_bbqr_split(&s, d, 0, &o), KURA_EINVAL);
    assert_null(s);
    assert_int_equal(kura_bbqr_split(NULL, d, 3, &o), KURA_EINVAL);
    assert_int_equal(kura_bbqr_split(&s, NULL, 3, &o), KURA_EINVAL);
    assert_int_equal(kura_bbqr_split(&s, d, 3, NULL), KURA_EINVAL);
    o.file_type = 'Q';
    assert_int_equal(kura_bbqr_split(&s, d, 3, &o), KURA_EINVAL);
    o.file_type = KURA_BBQR_PSBT;
    o.encoding = 'h';
    assert_int_equal(kura_bbqr_split(&s, d, 3, &o), KURA_EINVAL);
    o.encoding = KURA_BBQR_HEX;
    o.min_version = 20;
    o.max_version = 10;
    assert_int_equal(kura_bbqr_split(&s, d, 3, &o), KURA_EINVAL);
    o.min_version = 0;
    o.max_version = 41;
    assert_int_equal(kura_bbqr_split(&s, d, 3, &o), KURA_EINVAL);
    o.max_version = 0;
    o.max_part_len = 15;
    assert_int_equal(kura_bbqr_split(&s, d, 3, &o), KURA_EINVAL);
    o.max_part_len = KURA_BBQR_PART_MAX + 1;
    assert_int_equal(kura_bbqr_split(&s, d, 3, &o), KURA_EINVAL);
    o.max_part_len = 0;
    o.min_parts = 3;
    o.max_parts = 2;
    assert_int_equal(kura_bbqr_split(&s, d, 3, &o), KURA_EINVAL);
    /* Does not fit: 16 bytes in hex in one version-1 QR (17 characters). */
    o.min_parts = 0;
    o.max_parts = 1;
    o.max_version = 1;
    assert_int_equal(kura_bbqr_split(&s, d, 16, &o), KURA_ERANGE);
    assert_null(s);
    /* More parts than the data can fill. */
    o.max_parts = 0;
    o.max_version = 0;
    o.min_parts = 5;
    assert_int_equal(kura_bbqr_split(&s, d, 3, &o), KURA_ERANGE);
    kura_bbqr_parts_free(NULL);
    kura_bbqr_joiner_free(NULL);
    assert_string_equal(kura_bbqr_reason_name((kura_bbqr_reason)77), "KURA_BBQR_?");
}

static void refuse_parts(void **state)
{
    kura_bbqr_joiner *j = NULL;
    char longpart[KURA_BBQR_PART_MAX + 2];
    (void)state;
    assert_int_equal(kura_bbqr_joiner_new(&j, KURA_BBQR_DATA_MAX + 1), KURA_EINVAL);
    assert_null(j);
    assert_int_equal(kura_bbqr_joiner_new(&j, 0), KURA_OK);

    add_expect(j, "B$HP01", KURA_EDATA, KURA_BBQR_BAD_HEADER);
    add_expect(j, "", KURA_EDATA, KURA_BBQR_BAD_HEADER);
    add_expect(j, "X$HP0100AB", KURA_EDATA, KURA_BBQR_BAD_HEADER);
    add_expect(j, "b$HP0100AB", KURA_EDATA, KURA_BBQR_BAD_HEADER);
    add_expect(j, "B$XP0100AB", KURA_EDATA, KURA_BBQR_BAD_ENCODING);
    add_expect(j, "B$hP0100AB", KURA_EDATA, KURA_BBQR_BAD_ENCODING);
    add_expect(j, "B$HQ0100AB", KURA_EDATA, KURA_BBQR_BAD_TYPE);
    add_expect(j, "B$Hp0100AB", KURA_EDATA, KURA_BBQR_BAD_TYPE);
    add_expect(j, "B$H 0100AB", KURA_EDATA, KURA_BBQR_BAD_TYPE);
    add_expect(j, "B$HP0000AB", KURA_EDATA, KURA_BBQR_BAD_INDEX);
    add_expect(j, "B$HP0101AB", KURA_EDATA, KURA_BBQR_BAD_INDEX);
    add_expect(j, "B$HP0a00AB", KURA_EDATA, KURA_BBQR_BAD_INDEX);
    add_expect(j, "B$HP01-0AB", KURA_EDATA, KURA_BBQR_BAD_INDEX);
    add_expect(j, "B$HP0100", KURA_EDATA, KURA_BBQR_BAD_LENGTH);
    add_expect(j, "B$HP0100ABC", KURA_EDATA, KURA_BBQR_BAD_LENGTH);
    add_expect(j, "B$2P0100AAA", KURA_EDATA, KURA_BBQR_BAD_LENGTH);
    add_expect(j, "B$2P0100A", KURA_EDATA, KURA_BBQR_BAD_LENGTH);
    add_expect(j, "B$2P0100AAAAAA", KURA_EDATA, KURA_BBQR_BAD_LENGTH);
    memset(longpart, 'A', sizeof(longpart));
    memcpy(longpart, "B$2P0100", 8);
    longpart[KURA_BBQR_PART_MAX + 1] = '\0';
    add_expect(j, longpart, KURA_EDATA, KURA_BBQR_BAD_LENGTH);
    add_expect(j, "B$HP0100ab", KURA_EDATA, KURA_BBQR_BAD_CHARACTER);
    add_expect(j, "B$HP0100AG", KURA_EDATA, KURA_BBQR_BAD_CHARACTER);
    add_expect(j, "B$2P0100A1", KURA_EDATA, KURA_BBQR_BAD_CHARACTER);
    add_expect(j, "B$2P0100a=", KURA_EDATA, KURA_BBQR_BAD_CHARACTER);
    add_expect(j, "B$2P0100AB", KURA_EDATA, KURA_BBQR_BAD_CHARACTER); /* unused bits 01 */
    add_expect(j, "B$ZP0100AB", KURA_EDATA, KURA_BBQR_BAD_CHARACTER);
    /* Nothing refused was kept. */
    assert_false(kura_bbqr_joiner_progress(j, NULL, NULL));
    {
        size_t got, total;
        kura_bbqr_joiner_progress(j, &got, &total);
        assert_int_equal(got, 0);
        assert_int_equal(total, 0);
    }

    /* A 3-part hex series: parts of 4 hex digits, the last 2. */
    add_expect(j, "B$HP0302AB", KURA_OK, KURA_BBQR_OK);
    add_expect(j, "B$HP0302AB", KURA_OK, KURA_BBQR_OK); /* the same part again */
    add_expect(j, "B$HP0302AC", KURA_EDATA, KURA_BBQR_DUPLICATE_DIFFERS);
    add_expect(j, "B$HP0302ABCD", KURA_EDATA, KURA_BBQR_DUPLICATE_DIFFERS);
    add_expect(j, "B$2P0300AAAA", KURA_EDATA, KURA_BBQR_MIXED_HEADER);
    add_expect(j, "B$HT0300ABCD", KURA_EDATA, KURA_BBQR_MIXED_HEADER);
    add_expect(j, "B$HP0400ABCD", KURA_EDATA, KURA_BBQR_MIXED_HEADER);
    add_expect(j, "B$HP0300", KURA_EDATA, KURA_BBQR_BAD_LENGTH);
    add_expect(j, "B$HP0300", KURA_EDATA, KURA_BBQR_BAD_LENGTH);
    add_expect(j, "B$HP0300AB", KURA_OK, KURA_BBQR_OK); /* as long as the last: fine */
    add_expect(j, "B$HP0301ABCD", KURA_EDATA, KURA_BBQR_BAD_LENGTH); /* parts differ */
    {
        uint8_t *out = (uint8_t *)1;
        size_t out_len = 1;
        char type = 'x';
        kura_bbqr_reason reason;
        kura_error err;
        assert_int_equal(kura_bbqr_joiner_finish(j, &out, &out_len, &type, &reason, &err),
                         KURA_EDATA);
        assert_int_equal(reason, KURA_BBQR_MISSING_PARTS);
        assert_null(out);
        assert_int_equal(out_len, 0);
        assert_int_equal(type, 0);
        add_expect(j, "B$HP0301CD", KURA_OK, KURA_BBQR_OK);
        assert_true(kura_bbqr_joiner_progress(j, NULL, NULL));
        assert_int_equal(kura_bbqr_joiner_finish(j, &out, &out_len, &type, &reason, &err),
                         KURA_OK);
        assert_int_equal(out_len, 3);
        assert_memory_equal(out, "\xab\xcd\xab", 3);
        assert_int_equal(type, 'P');
        free(out);
    }
    kura_bbqr_joiner_free(j);

    /* The last part longer than the others, in either order. */
    {
        const char *a[2] = {"B$HP0300ABCD", "B$HP0302ABCDEF"};
        const char *b[2] = {"B$HP0302ABCDEF", "B$HP0300ABCD"};
        const char *none[1] = {NULL};
        join_expect(a, 2, 0, KURA_EDATA, KURA_BBQR_BAD_LENGTH);
        join_expect(b, 2, 0, KURA_EDATA, KURA_BBQR_BAD_LENGTH);
        join_expect(none, 0, 0, KURA_EDATA, KURA_BBQR_MISSING_PARTS);
    }
}

/* Splits raw bytes as base32 and relabels the parts 'Z': a way to hand the
 * joiner any deflate data, good or bad. */
static kura_bbqr_parts *as_z(const uint8_t *raw, size_t n)
{
    kura_bbqr_split_options o = {0};
    kura_bbqr_parts *s = NULL;
    o.encoding = KURA_BBQR_BASE32;
    o.file_type = KURA_BBQR_PSBT;
    o.max_part_len = 200;
    assert_int_equal(kura_bbqr_split(&s, raw, n, &o), KURA_OK);
    for (size_t i = 0; i < s->count; i++) s->parts[i][2] = 'Z';
    return s;
}

static uint8_t *deflate_with(size_t *out_len, const uint8_t *in, size_t n, int wbits)
{
    z_stream zs;
    uLong bound;
    uint8_t *out;
    memset(&zs, 0, sizeof(zs));
    assert_int_equal(deflateInit2(&zs, 9, Z_DEFLATED, wbits, 9, Z_DEFAULT_STRATEGY), Z_OK);
    bound = deflateBound(&zs, (uLong)n);
    out = malloc(bound);
    assert_non_null(out);
    zs.next_in = (Bytef *)(uintptr_t)in;
    zs.avail_in = (uInt)n;
    zs.next_out = out;
    zs.avail_out = (uInt)bound;
    assert_int_equal(deflate(&zs, Z_FINISH), Z_STREAM_END);
    *out_len = zs.total_out;
    deflateEnd(&zs);
    return out;
}

static void expect_z(const uint8_t *raw, size_t n, size_t max_len, int code, kura_bbqr_reason why)
{
    kura_bbqr_parts *s = as_z(raw, n);
    uint8_t *out = NULL;
    size_t out_len;
    kura_bbqr_reason reason;
    int rc = join_parts(&out, &out_len, NULL, &reason, s->parts, s->count, NULL, max_len);
    if (rc != code || reason != why)
        fail_msg("got %d %s, want %d %s", rc, kura_bbqr_reason_name(reason), code,
                 kura_bbqr_reason_name(why));
    free(out);
    kura_bbqr_parts_free(s);
}

static void refuse_deflate(void **state)
{
    uint8_t *plain = psbt_like(5000), *z, *bad;
    size_t zlen, elen;
    (void)state;
    z = deflate_with(&zlen, plain, 5000, -10);
    expect_z(z, zlen, 0, KURA_OK, KURA_BBQR_OK);
    {
        /* A zlib header (wbits +10) is not raw deflate. */
        uint8_t *zh = deflate_with(&elen, plain, 5000, 10);
        expect_z(zh, elen, 0, KURA_EDATA, KURA_BBQR_BAD_DEFLATE);
        free(zh);
    }
    expect_z(z, zlen - 1, 0, KURA_EDATA, KURA_BBQR_BAD_DEFLATE); /* truncated */
    bad = malloc(zlen + 1);
    assert_non_null(bad);
    memcpy(bad, z, zlen);
    bad[zlen] = 0;
    expect_z(bad, zlen + 1, 0, KURA_EDATA, KURA_BBQR_BAD_DEFLATE); /* bytes after the end */
    memset(bad, 0xff, 10);
    expect_z(bad, 10, 0, KURA_EDATA, KURA_BBQR_BAD_DEFLATE); /* invalid block type */
    expect_z(z, zlen, 4999, KURA_ERANGE, KURA_BBQR_TOO_LARGE);
    expect_z(z, zlen, 5000, KURA_OK, KURA_BBQR_OK);
    {
        /* An empty file compressed: refused, nothing is no file. */
        uint8_t *e = deflate_with(&elen, plain, 0, -10);
        expect_z(e, elen, 0, KURA_EDATA, KURA_BBQR_BAD_LENGTH);
        free(e);
    }
    free(bad);
    free(z);
    free(plain);
}

/* A decompression bomb: 16 MiB of zeros is a few kilobytes of Z parts; a
 * joiner capped below that refuses it without holding more than the cap. */
static void refuse_bomb(void **state)
{
    uint8_t *zeros = calloc(1, KURA_BBQR_DATA_MAX);
    kura_bbqr_split_options o = {0};
    kura_bbqr_parts *s = NULL;
    uint8_t *out = NULL;
    size_t out_len;
    kura_bbqr_reason reason;
    (void)state;
    assert_non_null(zeros);
    o.file_type = KURA_BBQR_BINARY;
    assert_int_equal(kura_bbqr_split(&s, zeros, KURA_BBQR_DATA_MAX, &o), KURA_OK);
    assert_int_equal(s->encoding, KURA_BBQR_ZLIB);
    assert_true(s->count <= 10);
    assert_int_equal(join_parts(&out, &out_len, NULL, &reason, s->parts, s->count, NULL,
                                KURA_BBQR_DATA_MAX - 1),
                     KURA_ERANGE);
    assert_int_equal(reason, KURA_BBQR_TOO_LARGE);
    assert_null(out);
    assert_int_equal(join_parts(&out, &out_len, NULL, &reason, s->parts, s->count, NULL, 1000),
                     KURA_ERANGE);
    assert_int_equal(join_parts(&out, &out_len, NULL, &reason, s->parts, s->count, NULL, 0),
                     KURA_OK);
    assert_int_equal(out_len, KURA_BBQR_DATA_MAX);
    free(out);
    kura_bbqr_parts_free(s);
    free(zeros);

    /* Hex and base32 over the cap are refused at the first part that shows it. */
    {
        kura_bbqr_joiner *j = NULL;
        uint8_t *out2 = NULL;
        size_t len2;
        kura_error err;
        assert_int_equal(kura_bbqr_joiner_new(&j, 4), KURA_OK);
        add_expect(j, "B$HP0200ABCDEF", KURA_OK, KURA_BBQR_OK); /* 3 bytes and at least 1 */
        add_expect(j, "B$HP0201ABCD", KURA_OK, KURA_BBQR_OK);   /* 3 + 2 */
        assert_int_equal(kura_bbqr_joiner_finish(j, &out2, &len2, NULL, &reason, &err),
                         KURA_ERANGE);
        assert_int_equal(reason, KURA_BBQR_TOO_LARGE);
        assert_null(out2);
        kura_bbqr_joiner_free(j);
        assert_int_equal(kura_bbqr_joiner_new(&j, 3), KURA_OK);
        add_expect(j, "B$HP0200ABCD", KURA_OK, KURA_BBQR_OK); /* 2 and at least 1: at the cap */
        kura_bbqr_joiner_free(j);
        assert_int_equal(kura_bbqr_joiner_new(&j, 3), KURA_OK);
        add_expect(j, "B$HP0200ABCDEF", KURA_ERANGE, KURA_BBQR_TOO_LARGE);
        add_expect(j, "B$HP0100ABCDEF01", KURA_ERANGE, KURA_BBQR_TOO_LARGE);
        add_expect(j, "B$2P0100AAAAAAA", KURA_ERANGE, KURA_BBQR_TOO_LARGE);
        kura_bbqr_joiner_free(j);
    }
}

static void qr_versions(void **state)
{
    (void)state;
    assert_int_equal(kura_bbqr_qr_version_for(0), 1);
    assert_int_equal(kura_bbqr_qr_version_for(25), 1);
    assert_int_equal(kura_bbqr_qr_version_for(26), 2);
    assert_int_equal(kura_bbqr_qr_version_for(4296), 40);
    assert_int_equal(kura_bbqr_qr_version_for(4297), 0);
    assert_int_equal(kura_bbqr_qr_capacity(0), 0);
    assert_int_equal(kura_bbqr_qr_capacity(41), 0);
    for (unsigned v = 2; v <= 40; v++)
        assert_true(kura_bbqr_qr_capacity(v) > kura_bbqr_qr_capacity(v - 1));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(real_scan),      cmocka_unit_test(spec_files),
        cmocka_unit_test(spec_example_headers), cmocka_unit_test(size_estimates),
        cmocka_unit_test(largest_series), cmocka_unit_test(round_trips),
        cmocka_unit_test(zlib_compresses), cmocka_unit_test(even_parts),
        cmocka_unit_test(split_misuse),   cmocka_unit_test(refuse_parts),
        cmocka_unit_test(refuse_deflate), cmocka_unit_test(refuse_bomb),
        cmocka_unit_test(qr_versions),
    };
    if (sodium_init() < 0) return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
