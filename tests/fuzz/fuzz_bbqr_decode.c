/* Fuzz target: the BBQr joiner (kura/bbqr.h), as a scanner feeds it.
 *
 * The input is read as lines, each one part. Whatever the bytes, the joiner
 * must not crash or read past a line; a refusal must carry KURA_EDATA or
 * KURA_ERANGE with a named reason in its message and leave the progress as it
 * was; a complete series must decode within the cap (64 KiB here, so that a
 * decompression bomb shows as KURA_BBQR_TOO_LARGE, never as a huge
 * allocation); and what decodes must split again, in the same encoding and
 * file type, into parts that join back to the same bytes. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kura/bbqr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CAP (64u * 1024u)

static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_bbqr_decode: %s\n", what);
        abort();
    }
}

/* Splits out again and joins the parts back: the same bytes and type. */
static void round_trip(const uint8_t *out, size_t out_len, char encoding, char type)
{
    kura_bbqr_split_options o = {0};
    kura_bbqr_parts *s = NULL;
    uint8_t *back = NULL;
    size_t back_len = 0, *lens;
    char back_type = 0;
    kura_bbqr_reason reason;
    kura_error err;
    o.encoding = encoding;
    o.file_type = type;
    /* Many small parts exercise the joiner's bookkeeping; larger files take
     * whole-QR parts so the count stays within 1,295. */
    o.max_part_len = out_len <= 30000 ? 64 : KURA_BBQR_PART_MAX;
    check(kura_bbqr_split(&s, out, out_len, &o) == KURA_OK, "split of decoded data failed");
    lens = calloc(s->count, sizeof(size_t));
    check(lens != NULL, "no memory");
    for (size_t i = 0; i < s->count; i++) lens[i] = strlen(s->parts[i]);
    check(kura_bbqr_join(&back, &back_len, &back_type, &reason, (const char *const *)s->parts,
                         lens, s->count, FUZZ_CAP, &err) == KURA_OK,
          "join of a fresh split failed");
    check(back_len == out_len && memcmp(back, out, out_len) == 0, "round trip changed the data");
    check(back_type == type, "round trip changed the type");
    free(back);
    free(lens);
    kura_bbqr_parts_free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    kura_bbqr_joiner *j = NULL;
    size_t start = 0;
    if (kura_bbqr_joiner_new(&j, FUZZ_CAP) != KURA_OK) return 0;
    while (start < size) {
        const uint8_t *nl = memchr(data + start, '\n', size - start);
        size_t end = nl != NULL ? (size_t)(nl - data) : size, before, after, total;
        /* Each part in its own allocation of exactly its length, so ASan
         * sees any read past it. */
        char *line = malloc(end - start + 1);
        kura_bbqr_reason reason;
        kura_error err = {0};
        int rc;
        check(line != NULL, "no memory");
        memcpy(line, data + start, end - start);
        kura_bbqr_joiner_progress(j, &before, &total);
        rc = kura_bbqr_joiner_add(j, &reason, line, end - start, &err);
        if (rc != KURA_OK) {
            check(rc == KURA_EDATA || rc == KURA_ERANGE, "unexpected status");
            check(reason != KURA_BBQR_OK && err.code == rc, "refusal without a reason");
            check(strstr(err.message, kura_bbqr_reason_name(reason)) != NULL,
                  "message does not name the reason");
            kura_bbqr_joiner_progress(j, &after, NULL);
            check(after == before, "a refused part changed the joiner");
        } else {
            check(reason == KURA_BBQR_OK, "accepted with a reason");
        }
        free(line);
        start = end + 1;
    }
    if (kura_bbqr_joiner_progress(j, NULL, NULL)) {
        uint8_t *out = NULL;
        size_t out_len = 0;
        char type = 0, enc = 0;
        kura_bbqr_reason reason;
        kura_error err = {0};
        int rc = kura_bbqr_joiner_finish(j, &out, &out_len, &type, &reason, &err);
        kura_bbqr_joiner_kind(j, &enc, NULL);
        if (rc == KURA_OK) {
            check(out_len > 0 && out_len <= FUZZ_CAP, "decoded size outside 1..cap");
            round_trip(out, out_len, enc, type);
        } else {
            check(rc == KURA_EDATA || rc == KURA_ERANGE, "unexpected status at finish");
            check(enc == KURA_BBQR_ZLIB || reason == KURA_BBQR_TOO_LARGE,
                  "hex or base32 refused at finish for something other than size");
            check(out == NULL && out_len == 0, "output left on failure");
        }
        free(out);
    }
    kura_bbqr_joiner_free(j);
    return 0;
}
