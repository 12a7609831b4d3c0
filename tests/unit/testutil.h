/* tests/unit/testutil.h — helpers every cmocka test binary shares: loading the
 * vector files in tests/vectors/ and turning hex into bytes. */
#ifndef KURA_TESTUTIL_H
#define KURA_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <jansson.h>

/* Loads tests/vectors/<name> as JSON; fails the test if it cannot. Free with json_decref. */
json_t *tu_load_json(const char *name);

/* Reads tests/<relpath> whole into a NUL-terminated malloc'd buffer; fails the test if it cannot. */
char *tu_read_file(const char *relpath, size_t *len_out);

/* Decodes hex (even length, either case) into a malloc'd buffer; fails the test on bad hex.
 * An empty string gives a 1-byte allocation and *len_out 0. */
uint8_t *tu_unhex(const char *hex, size_t *len_out);

/* Decodes hex into a fixed buffer of exactly `len` bytes; fails the test otherwise. */
void tu_unhex_fixed(const char *hex, uint8_t *out, size_t len);

/* Returns a static buffer (per call site reuse is fine) with the lower-case hex of data. */
char *tu_hex(const uint8_t *data, size_t len);

/* The string member `key` of obj; fails the test when absent or not a string. */
const char *tu_str(const json_t *obj, const char *key);

/* Asserts that two byte strings are equal, printing both in hex when not. */
#define tu_assert_bytes_equal(a, alen, b, blen) \
    tu_assert_bytes_equal_impl((a), (alen), (b), (blen), __FILE__, __LINE__)
void tu_assert_bytes_equal_impl(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen,
                                const char *file, int line);

#endif
