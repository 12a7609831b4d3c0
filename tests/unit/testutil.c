#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

json_t *tu_load_json(const char *name)
{
    char path[1024];
    json_error_t jerr;
    json_t *root;
    snprintf(path, sizeof(path), "%s/%s", KURA_VECTORS_DIR, name);
    root = json_load_file(path, 0, &jerr);
    if (root == NULL) fail_msg("cannot load %s: %s (line %d)", path, jerr.text, jerr.line);
    return root;
}

char *tu_read_file(const char *relpath, size_t *len_out)
{
    char path[1024];
    FILE *f;
    char *buf;
    long n;
    snprintf(path, sizeof(path), "%s/%s", KURA_TESTS_DIR, relpath);
    f = fopen(path, "rb");
    if (f == NULL) fail_msg("cannot open %s", path);
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    if (fread(buf, 1, (size_t)n, f) != (size_t)n) fail_msg("short read on %s", path);
    fclose(f);
    buf[n] = '\0';
    if (len_out != NULL) *len_out = (size_t)n;
    return buf;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

uint8_t *tu_unhex(const char *hex, size_t *len_out)
{
    size_t n = strlen(hex);
    uint8_t *out;
    if (n % 2 != 0) fail_msg("odd-length hex: %.40s", hex);
    out = malloc(n / 2 + 1);
    assert_non_null(out);
    for (size_t i = 0; i < n / 2; i++) {
        int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
        if (hi < 0 || lo < 0) fail_msg("bad hex: %.40s", hex);
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    *len_out = n / 2;
    return out;
}

void tu_unhex_fixed(const char *hex, uint8_t *out, size_t len)
{
    size_t n;
    uint8_t *b = tu_unhex(hex, &n);
    if (n != len) fail_msg("expected %zu bytes of hex, got %zu", len, n);
    memcpy(out, b, len);
    free(b);
}

char *tu_hex(const uint8_t *data, size_t len)
{
    static char *buf = NULL;
    static const char digits[] = "0123456789abcdef";
    free(buf);
    buf = malloc(2 * len + 1);
    assert_non_null(buf);
    for (size_t i = 0; i < len; i++) {
        buf[2 * i] = digits[data[i] >> 4];
        buf[2 * i + 1] = digits[data[i] & 15];
    }
    buf[2 * len] = '\0';
    return buf;
}

const char *tu_str(const json_t *obj, const char *key)
{
    const json_t *v = json_object_get(obj, key);
    if (!json_is_string(v)) fail_msg("vector lacks string field '%s'", key);
    return json_string_value(v);
}

void tu_assert_bytes_equal_impl(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen,
                                const char *file, int line)
{
    if (alen == blen && (alen == 0 || memcmp(a, b, alen) == 0)) return;
    {
        char *ha = strdup(tu_hex(a, alen));
        char *hb = strdup(tu_hex(b, blen));
        print_error("%s:%d: bytes differ\n  got:  %s\n  want: %s\n", file, line, ha, hb);
        free(ha);
        free(hb);
        fail();
    }
}
