/* Bitcoin Core's legacy signature hash data (tests/vectors/core/sighash.json,
 * Core's src/test/data, as is): 500 random transactions, scripts, input
 * indexes and hash types (any 32-bit value, as consensus hashes them), with
 * the expected SignatureHash in Core's display order (bytes reversed).
 *
 * kura_sighash_legacy takes the script code with OP_CODESEPARATORs already
 * removed (the caller's job, as in the interpreter); Core's serializer drops
 * every OP_CODESEPARATOR opcode of the script it is given, so this test does
 * that first, walking the opcodes (a push's data is never touched; a
 * malformed push ends the walk and the rest is kept as it is). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kura/sighash.h"
#include "kura/tx.h"
#include "testutil.h"

#define OP_CODESEPARATOR 0xab

/* Copies script without its OP_CODESEPARATOR opcodes into out; returns the
 * length. */
static size_t strip_codeseparators(uint8_t *out, const uint8_t *s, size_t len)
{
    size_t pos = 0, n = 0;
    while (pos < len) {
        uint8_t op = s[pos];
        size_t start = pos, push = 0, hdr = 1;
        if (op >= 0x01 && op <= 0x4b) {
            push = op;
        } else if (op == 0x4c || op == 0x4d || op == 0x4e) {
            size_t w = op == 0x4c ? 1 : op == 0x4d ? 2 : 4;
            if (pos + 1 + w > len) break;
            for (size_t i = 0; i < w; i++) push |= (size_t)s[pos + 1 + i] << (8 * i);
            hdr = 1 + w;
        }
        if (push > len - pos - hdr) break; /* malformed: keep the rest */
        pos += hdr + push;
        if (op == OP_CODESEPARATOR) continue;
        memcpy(out + n, s + start, pos - start);
        n += pos - start;
    }
    if (pos < len) {
        memcpy(out + n, s + pos, len - pos);
        n += len - pos;
    }
    return n;
}

static void test_core_sighash(void **state)
{
    json_t *v = tu_load_json("core/sighash.json");
    size_t i, n = 0;
    json_t *e;
    (void)state;
    json_array_foreach(v, i, e) {
        const char *tx_hex, *script_hex, *want_hex;
        uint8_t *raw, *script, *code, got[32], want[32];
        size_t raw_len, script_len, code_len;
        kura_tx *tx = NULL;
        kura_error err;
        json_int_t in, type;
        if (json_array_size(e) == 1) continue; /* the header comment */
        tx_hex = json_string_value(json_array_get(e, 0));
        script_hex = json_string_value(json_array_get(e, 1));
        in = json_integer_value(json_array_get(e, 2));
        type = json_integer_value(json_array_get(e, 3));
        want_hex = json_string_value(json_array_get(e, 4));
        assert_non_null(tx_hex);
        assert_non_null(want_hex);
        raw = tu_unhex(tx_hex, &raw_len);
        script = tu_unhex(script_hex, &script_len);
        if (kura_tx_parse(&tx, raw, raw_len, 0, &err) != KURA_OK)
            fail_msg("vector %zu: transaction refused: %s", i, err.message);
        code = malloc(script_len + 1);
        assert_non_null(code);
        code_len = strip_codeseparators(code, script, script_len);
        assert_int_equal(kura_sighash_legacy(got, tx, (size_t)in, code, code_len,
                                             (uint32_t)(int32_t)type),
                         KURA_OK);
        tu_unhex_fixed(want_hex, want, 32);
        for (size_t k = 0; k < 16; k++) { /* Core shows uint256 reversed */
            uint8_t t = want[k];
            want[k] = want[31 - k];
            want[31 - k] = t;
        }
        if (memcmp(got, want, 32) != 0)
            fail_msg("vector %zu: sighash %s, want %s", i, tu_hex(got, 32), want_hex);
        kura_tx_free(tx);
        free(raw);
        free(script);
        free(code);
        n++;
    }
    assert_int_equal(n, 500);
    json_decref(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_core_sighash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
