/*
 * src/encoding/bech32.c — bech32 (BIP173) and bech32m (BIP350) strings, and
 * the segwit addresses built on them.
 *
 * The decoder is deliberately strict: a custody system must never turn a
 * string that another wallet would read differently (or not at all) into an
 * output script. Every rule below is a MUST of BIP173 or BIP350; each refusal
 * has its own message so that an operator can see why an address was refused.
 */
#include <string.h>

#include "internal.h"
#include "kura/encoding.h"

/* BIP173 "Bech32": "The human-readable part ... [is] 1 to 83 US-ASCII
 * characters, with each character having a value in the range [33-126]", the
 * data part holds at least the 6 checksum characters, and the whole string is
 * at most 90 characters long. */
#define BECH32_MAX_LEN 90
#define BECH32_HRP_MAX 83
#define BECH32_CHECKSUM_LEN 6

/* The checksum constants: BIP173 XORs the polymod with 1, BIP350 with
 * 0x2bc830a3 ("Bech32m", section "Specification"). */
#define BECH32_CONST 1u
#define BECH32M_CONST 0x2bc830a3u

/* BIP141 "Witness program": versions 0..16, programs of 2 to 40 bytes;
 * version 0 programs are 20 (P2WPKH) or 32 (P2WSH) bytes. */
#define WITNESS_VERSION_MAX 16u
#define WITNESS_PROGRAM_MIN 2u
#define WITNESS_PROGRAM_MAX 40u

/* Most 5-bit groups in a segwit address: the version and 40 bytes of program
 * (ceil(320 / 5) = 64 groups). */
#define SEGWIT_DATA_MAX (1u + 64u)

static const char CHARSET[] = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";

/* The 5-bit value of a lower-case data character, or -1 for a character not
 * in the bech32 charset ('1', 'b', 'i', 'o' and anything non-alphanumeric). */
static int charset_value(char c)
{
    for (int i = 0; i < 32; i++) {
        if (CHARSET[i] == c) return i;
    }
    return -1;
}

static char to_lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

/* One step of the BCH code's polymod (BIP173 "Checksum"): shift in a 5-bit
 * value and reduce by the generator. */
static uint32_t polymod_step(uint32_t chk, uint32_t value)
{
    static const uint32_t gen[5] = {0x3b6a57b2u, 0x26508e6du, 0x1ea119fau, 0x3d4233ddu,
                                    0x2a1462b3u};
    uint32_t top = chk >> 25;
    chk = ((chk & 0x1ffffffu) << 5) ^ value;
    for (unsigned i = 0; i < 5; i++) {
        if ((top >> i) & 1u) chk ^= gen[i];
    }
    return chk;
}

/* The polymod state after the expanded hrp (BIP173 "hrp_expand": the high bits
 * of each character, a zero, then the low bits). The checksum is always over
 * the lower-case hrp: BIP173 says the lower-case form is the one used for the
 * checksum, which is why "A1G7SGD8" (checksummed over "A") is invalid. */
static uint32_t polymod_hrp(const char *hrp, size_t hrp_len)
{
    uint32_t chk = 1;
    for (size_t i = 0; i < hrp_len; i++) {
        chk = polymod_step(chk, (uint32_t)(unsigned char)to_lower(hrp[i]) >> 5);
    }
    chk = polymod_step(chk, 0);
    for (size_t i = 0; i < hrp_len; i++) {
        chk = polymod_step(chk, (uint32_t)(unsigned char)to_lower(hrp[i]) & 31u);
    }
    return chk;
}

/*
 * Parses a bech32/bech32m string. `who` prefixes every message ("bech32" or
 * "address"). On success hrp_out holds the lower-cased hrp and NUL,
 * data_out[0..*data_written) the 5-bit data values without the checksum, and
 * *variant the checksum that matched. Outputs have been cleared by the caller.
 */
static int bech32_parse(const char *who, char *hrp_out, size_t hrp_out_len, uint8_t *data_out,
                        size_t data_out_len, size_t *data_written, kura_bech32_variant *variant,
                        const char *str, kura_error *err)
{
    size_t len = strnlen(str, BECH32_MAX_LEN + 1);
    size_t sep = 0, data_len;
    bool has_lower = false, has_upper = false, has_sep = false;
    uint8_t values[BECH32_MAX_LEN];
    uint32_t chk;
    kura_bech32_variant found;

    if (len == 0) return kura_fail(err, KURA_EDATA, "%s: empty string", who);
    /* BIP173 "Bech32": the overall length is at most 90 characters. */
    if (len > BECH32_MAX_LEN)
        return kura_fail(err, KURA_EDATA, "%s: longer than %d characters", who, BECH32_MAX_LEN);

    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)str[i];
        /* BIP173: every character (hrp and data) is US-ASCII in 33..126. */
        if (c < 33 || c > 126)
            return kura_fail(err, KURA_EDATA, "%s: character 0x%02x out of range at position %zu",
                             who, (unsigned)c, i);
        if (c >= 'a' && c <= 'z') has_lower = true;
        if (c >= 'A' && c <= 'Z') has_upper = true;
        if (c == '1') {
            /* The separator is the last '1'; the hrp may itself contain '1'. */
            sep = i;
            has_sep = true;
        }
    }
    /* BIP173: "Decoders MUST NOT accept strings where some characters are
     * uppercase and some are lowercase (such strings are referred to as mixed
     * case strings)." */
    if (has_lower && has_upper)
        return kura_fail(err, KURA_EDATA, "%s: mixed upper and lower case", who);
    if (!has_sep) return kura_fail(err, KURA_EDATA, "%s: no separator '1'", who);
    if (sep == 0) return kura_fail(err, KURA_EDATA, "%s: empty human-readable part", who);
    data_len = len - sep - 1;
    if (data_len < BECH32_CHECKSUM_LEN)
        return kura_fail(err, KURA_EDATA, "%s: checksum shorter than %d characters", who,
                         BECH32_CHECKSUM_LEN);

    for (size_t i = 0; i < data_len; i++) {
        char c = to_lower(str[sep + 1 + i]);
        int v = charset_value(c);
        if (v < 0)
            return kura_fail(err, KURA_EDATA, "%s: invalid data character '%c' at position %zu",
                             who, c, sep + 1 + i);
        values[i] = (uint8_t)v;
    }

    chk = polymod_hrp(str, sep);
    for (size_t i = 0; i < data_len; i++) chk = polymod_step(chk, values[i]);
    /* BIP350 "Specification": a string is valid bech32 if the polymod is 1,
     * valid bech32m if it is 0x2bc830a3. No string can satisfy both. */
    if (chk == BECH32_CONST) {
        found = KURA_BECH32;
    } else if (chk == BECH32M_CONST) {
        found = KURA_BECH32M;
    } else {
        return kura_fail(err, KURA_EDATA, "%s: checksum mismatch", who);
    }

    if (hrp_out_len < sep + 1)
        return kura_fail(err, KURA_EINVAL, "%s: hrp buffer of %zu bytes, %zu needed", who,
                         hrp_out_len, sep + 1);
    if (data_out_len < data_len - BECH32_CHECKSUM_LEN)
        return kura_fail(err, KURA_EINVAL, "%s: data buffer of %zu bytes, %zu needed", who,
                         data_out_len, data_len - BECH32_CHECKSUM_LEN);
    for (size_t i = 0; i < sep; i++) hrp_out[i] = to_lower(str[i]);
    hrp_out[sep] = '\0';
    if (data_len > BECH32_CHECKSUM_LEN)
        memcpy(data_out, values, data_len - BECH32_CHECKSUM_LEN);
    *data_written = data_len - BECH32_CHECKSUM_LEN;
    *variant = found;
    return KURA_OK;
}

int kura_bech32_decode(char *hrp_out, size_t hrp_out_len, uint8_t *data_out,
                       size_t data_out_len, size_t *data_written, kura_bech32_variant *variant,
                       const char *str, kura_error *err)
{
    int rc;
    if (hrp_out == NULL || hrp_out_len == 0 || data_written == NULL || variant == NULL ||
        (data_out == NULL && data_out_len != 0) || str == NULL)
        return kura_fail(err, KURA_EINVAL, "bech32: invalid argument");
    memset(hrp_out, 0, hrp_out_len);
    if (data_out != NULL) memset(data_out, 0, data_out_len);
    *data_written = 0;
    *variant = (kura_bech32_variant)0;
    rc = bech32_parse("bech32", hrp_out, hrp_out_len, data_out, data_out_len, data_written,
                      variant, str, err);
    if (rc != KURA_OK) {
        memset(hrp_out, 0, hrp_out_len);
        if (data_out != NULL) memset(data_out, 0, data_out_len);
        *data_written = 0;
        *variant = (kura_bech32_variant)0;
    }
    return rc;
}

int kura_bech32_encode(char *out, size_t out_len, const char *hrp, const uint8_t *data,
                       size_t len, kura_bech32_variant variant)
{
    size_t hrp_len, total, pos = 0;
    uint32_t chk, constant;

    if (out == NULL || out_len == 0) return KURA_EINVAL;
    out[0] = '\0';
    if (hrp == NULL || (data == NULL && len != 0)) return KURA_EINVAL;
    if (variant == KURA_BECH32) {
        constant = BECH32_CONST;
    } else if (variant == KURA_BECH32M) {
        constant = BECH32M_CONST;
    } else {
        return KURA_EINVAL;
    }
    hrp_len = strnlen(hrp, BECH32_HRP_MAX + 1);
    if (hrp_len == 0 || hrp_len > BECH32_HRP_MAX) return KURA_EINVAL;
    for (size_t i = 0; i < hrp_len; i++) {
        unsigned char c = (unsigned char)hrp[i];
        if (c < 33 || c > 126) return KURA_EINVAL;
    }
    /* hrp_len <= 83, so this sum cannot overflow once len is bounded. */
    if (len > BECH32_MAX_LEN) return KURA_EINVAL;
    total = hrp_len + 1 + len + BECH32_CHECKSUM_LEN;
    if (total > BECH32_MAX_LEN || out_len < total + 1) return KURA_EINVAL;
    for (size_t i = 0; i < len; i++) {
        if (data[i] >= 32) return KURA_EINVAL;
    }

    /* BIP173: "Encoders MUST always output an all lowercase Bech32 string." */
    for (size_t i = 0; i < hrp_len; i++) out[pos++] = to_lower(hrp[i]);
    out[pos++] = '1';
    chk = polymod_hrp(hrp, hrp_len);
    for (size_t i = 0; i < len; i++) {
        chk = polymod_step(chk, data[i]);
        out[pos++] = CHARSET[data[i]];
    }
    /* The checksum is the polymod of everything followed by six zero groups,
     * XORed with the variant's constant (BIP173 "create_checksum"). */
    for (size_t i = 0; i < BECH32_CHECKSUM_LEN; i++) chk = polymod_step(chk, 0);
    chk ^= constant;
    for (size_t i = 0; i < BECH32_CHECKSUM_LEN; i++) {
        out[pos++] = CHARSET[(chk >> (5 * (5 - i))) & 31u];
    }
    out[pos] = '\0';
    return KURA_OK;
}

/* Whether a witness version / program length pair is allowed by BIP141. */
static bool witness_program_ok(unsigned version, size_t program_len)
{
    if (version > WITNESS_VERSION_MAX) return false;
    if (program_len < WITNESS_PROGRAM_MIN || program_len > WITNESS_PROGRAM_MAX) return false;
    if (version == 0 && program_len != 20 && program_len != 32) return false;
    return true;
}

int kura_segwit_address_encode(char *out, size_t out_len, const char *hrp, unsigned version,
                               const uint8_t *program, size_t program_len)
{
    uint8_t data[SEGWIT_DATA_MAX];
    size_t n = 0;
    uint32_t acc = 0;
    unsigned bits = 0;

    if (out == NULL || out_len == 0) return KURA_EINVAL;
    out[0] = '\0';
    if (hrp == NULL || program == NULL || !witness_program_ok(version, program_len))
        return KURA_EINVAL;

    data[n++] = (uint8_t)version;
    /* BIP173 "Segwit address format": the program is regrouped from 8-bit
     * bytes into 5-bit groups, the last one padded with zero bits. */
    for (size_t i = 0; i < program_len; i++) {
        acc = ((acc << 8) | program[i]) & 0xfffu;
        bits += 8;
        while (bits >= 5) {
            bits -= 5;
            data[n++] = (uint8_t)((acc >> bits) & 31u);
        }
    }
    if (bits > 0) data[n++] = (uint8_t)((acc << (5 - bits)) & 31u);

    /* BIP350: version 0 keeps bech32; versions 1..16 use bech32m. */
    return kura_bech32_encode(out, out_len, hrp, data, n,
                              version == 0 ? KURA_BECH32 : KURA_BECH32M);
}

/* Checks the decoded segwit payload and writes version and program. Outputs
 * have been cleared by the caller and are left cleared on failure. */
static int segwit_check(unsigned *version, uint8_t *program, size_t program_len,
                        size_t *program_written, const uint8_t *data, size_t data_len,
                        kura_bech32_variant variant, kura_error *err)
{
    uint8_t prog[WITNESS_PROGRAM_MAX + 1];
    size_t n = 0;
    uint32_t acc = 0;
    unsigned bits = 0, ver;

    if (data_len == 0) return kura_fail(err, KURA_EDATA, "address: empty data section");
    ver = data[0];
    if (ver > WITNESS_VERSION_MAX)
        return kura_fail(err, KURA_EDATA, "address: witness version %u (0 to 16 allowed)", ver);

    /* BIP173 "Segwit address format": regroup 5-bit values into bytes. Up to
     * 4 bits of padding may be left over, and they must be zero; 5 or more
     * bits of padding means a whole group too many. */
    for (size_t i = 1; i < data_len; i++) {
        acc = ((acc << 5) | data[i]) & 0xfffu;
        bits += 5;
        if (bits >= 8) {
            bits -= 8;
            if (n == sizeof(prog))
                return kura_fail(err, KURA_EDATA,
                                 "address: witness program longer than %u bytes",
                                 WITNESS_PROGRAM_MAX);
            prog[n++] = (uint8_t)((acc >> bits) & 0xffu);
        }
    }
    if (bits >= 5)
        return kura_fail(err, KURA_EDATA, "address: %u bits of padding (at most 4 allowed)", bits);
    if ((acc & ((1u << bits) - 1u)) != 0)
        return kura_fail(err, KURA_EDATA, "address: non-zero padding bits");

    if (n < WITNESS_PROGRAM_MIN || n > WITNESS_PROGRAM_MAX)
        return kura_fail(err, KURA_EDATA, "address: witness program of %zu bytes (2 to 40 allowed)",
                         n);
    if (ver == 0 && n != 20 && n != 32)
        return kura_fail(err, KURA_EDATA,
                         "address: v0 witness program of %zu bytes (20 or 32 required by BIP141)",
                         n);
    /* BIP350 "Addresses for segregated witness outputs": version 0 must use
     * bech32 and versions 1..16 bech32m; the other pairing is invalid. This is
     * what stops a mistyped v1 address from being read as a different one. */
    if (ver == 0 && variant != KURA_BECH32)
        return kura_fail(err, KURA_EDATA, "address: bech32m checksum on a v0 program");
    if (ver != 0 && variant != KURA_BECH32M)
        return kura_fail(err, KURA_EDATA,
                         "address: bech32 checksum on a v%u program (BIP350 requires bech32m)", ver);

    if (program_len < n)
        return kura_fail(err, KURA_EINVAL, "address: program buffer of %zu bytes, %zu needed",
                         program_len, n);
    memcpy(program, prog, n);
    *program_written = n;
    *version = ver;
    return KURA_OK;
}

int kura_segwit_address_parse(char *hrp_out, size_t hrp_out_len, unsigned *version,
                              uint8_t *program, size_t program_len, size_t *program_written,
                              const char *addr, kura_error *err)
{
    uint8_t data[BECH32_MAX_LEN];
    size_t data_len = 0;
    kura_bech32_variant variant = KURA_BECH32;
    int rc;

    if (hrp_out == NULL || hrp_out_len == 0 || version == NULL || program_written == NULL ||
        (program == NULL && program_len != 0) || addr == NULL)
        return kura_fail(err, KURA_EINVAL, "address: invalid argument");
    memset(hrp_out, 0, hrp_out_len);
    if (program != NULL) memset(program, 0, program_len);
    *version = 0;
    *program_written = 0;

    rc = bech32_parse("address", hrp_out, hrp_out_len, data, sizeof(data), &data_len, &variant,
                      addr, err);
    if (rc == KURA_OK)
        rc = segwit_check(version, program, program_len, program_written, data, data_len,
                          variant, err);
    if (rc != KURA_OK) {
        memset(hrp_out, 0, hrp_out_len);
        if (program != NULL) memset(program, 0, program_len);
        *version = 0;
        *program_written = 0;
    }
    return rc;
}

int kura_segwit_address_decode(unsigned *version, uint8_t *program, size_t program_len,
                               size_t *program_written, const char *hrp, const char *addr,
                               kura_error *err)
{
    char got[BECH32_MAX_LEN + 1];
    size_t hrp_len;
    bool same;
    int rc;

    if (version == NULL || program_written == NULL || (program == NULL && program_len != 0) ||
        hrp == NULL || addr == NULL)
        return kura_fail(err, KURA_EINVAL, "address: invalid argument");
    *version = 0;
    *program_written = 0;
    if (program != NULL) memset(program, 0, program_len);

    rc = kura_segwit_address_parse(got, sizeof(got), version, program, program_len,
                                   program_written, addr, err);
    if (rc != KURA_OK) return rc;

    /* The hrp names the network (BIP173 "Segwit address format"); a match is
     * case-insensitive because the decoded hrp is lower-cased. */
    hrp_len = strnlen(hrp, BECH32_MAX_LEN + 1);
    same = hrp_len == strlen(got);
    for (size_t i = 0; same && i < hrp_len; i++) same = to_lower(hrp[i]) == got[i];
    if (!same) {
        *version = 0;
        *program_written = 0;
        if (program != NULL) memset(program, 0, program_len);
        return kura_fail(err, KURA_EDATA, "address: human-readable part \"%s\", expected \"%.*s\"",
                         got, (int)(hrp_len > BECH32_HRP_MAX ? BECH32_HRP_MAX : hrp_len), hrp);
    }
    return KURA_OK;
}
