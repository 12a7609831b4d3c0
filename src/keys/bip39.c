/*
 * src/keys/bip39.c — BIP39 mnemonics: entropy <-> English words, and the seed
 * (PBKDF2-HMAC-SHA512 over the NFKD-normalised mnemonic and passphrase).
 *
 * Mnemonics are secrets. Word lookups therefore scan the whole list and pick
 * the match with masks, so neither a branch nor a memory address depends on
 * which word it is. Splitting the text at spaces and the written word lengths
 * do still depend on the text; the mnemonic's length is visible to anyone who
 * sees it typed, and no lookup reveals more than that.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>
#include <uninorm.h>
#include <unistr.h>

#include "internal.h"
#include "keys_internal.h"
#include "kura/hash.h"

#define MAX_WORDS 24
#define MAX_ENTROPY 32

/* 0xffffffff if x == 0, else 0, without a branch. */
static uint32_t ct_is_zero(uint32_t x)
{
    return (uint32_t)0 - (1u ^ ((x | (0u - x)) >> 31));
}

const char *kura_bip39_word(unsigned index)
{
    return index < KURA_BIP39_WORDS ? kura_bip39_english[index] : NULL;
}

/* Copies word `idx` into w[0..9) by scanning all 2048 slots. */
static void word_select(char w[KURA_BIP39_WORD_SLOT], uint32_t idx)
{
    memset(w, 0, KURA_BIP39_WORD_SLOT);
    for (uint32_t j = 0; j < KURA_BIP39_WORDS; j++) {
        uint8_t m = (uint8_t)ct_is_zero(j ^ idx);
        for (size_t k = 0; k < KURA_BIP39_WORD_SLOT; k++)
            w[k] = (char)((uint8_t)w[k] | (m & (uint8_t)kura_bip39_english[j][k]));
    }
}

/* Index of w (NUL-padded to 9 bytes) in the list, scanning all 2048 slots;
 * *found gets 1 or 0. */
static uint32_t word_index(const char w[KURA_BIP39_WORD_SLOT], uint32_t *found)
{
    uint32_t idx = 0, any = 0;
    for (uint32_t j = 0; j < KURA_BIP39_WORDS; j++) {
        uint32_t diff = 0, eq;
        for (size_t k = 0; k < KURA_BIP39_WORD_SLOT; k++)
            diff |= (uint8_t)((uint8_t)kura_bip39_english[j][k] ^ (uint8_t)w[k]);
        eq = ct_is_zero(diff);
        idx |= eq & j;
        any |= eq;
    }
    *found = any & 1u;
    return idx;
}

/* The 11-bit group number i of buf (big-endian bit order, BIP39 "Generating
 * the mnemonic"). */
static uint32_t get11(const uint8_t *buf, size_t i)
{
    size_t bit = i * 11, byte = bit / 8;
    uint32_t v = ((uint32_t)buf[byte] << 16) | ((uint32_t)buf[byte + 1] << 8) | buf[byte + 2];
    return (v >> (24 - 11 - bit % 8)) & 0x7ffu;
}

static void put11(uint8_t *buf, size_t i, uint32_t v)
{
    size_t bit = i * 11, byte = bit / 8;
    uint32_t shifted = v << (24 - 11 - bit % 8);
    buf[byte] |= (uint8_t)(shifted >> 16);
    buf[byte + 1] |= (uint8_t)(shifted >> 8);
    buf[byte + 2] |= (uint8_t)shifted;
}

int kura_bip39_from_entropy(char *out, size_t out_len, const uint8_t *entropy, size_t len)
{
    /* entropy || checksum byte || 2 bytes of slack for get11's 3-byte reads */
    uint8_t buf[MAX_ENTROPY + 3] = {0};
    uint8_t hash[32];
    char w[KURA_BIP39_WORD_SLOT];
    size_t words, pos = 0;

    if (out == NULL) return KURA_EINVAL;
    if (out_len > 0) sodium_memzero(out, out_len);
    /* BIP39: ENT is 128..256 bits in steps of 32; the mnemonic has
     * (ENT + ENT/32) / 11 words. */
    if (entropy == NULL || len < 16 || len > 32 || len % 4 != 0) return KURA_EINVAL;
    words = len * 3 / 4;
    /* Each word takes at most 8 letters and a separator or the final NUL; the
     * buffer must hold the longest case so its size reveals nothing. */
    if (out_len < words * KURA_BIP39_WORD_SLOT) return KURA_EINVAL;

    memcpy(buf, entropy, len);
    kura_sha256(hash, entropy, len);
    buf[len] = hash[0]; /* the first ENT/32 bits of SHA256 are the checksum */
    for (size_t i = 0; i < words; i++) {
        uint32_t wlen = 0;
        word_select(w, get11(buf, i));
        memcpy(out + pos, w, KURA_BIP39_WORD_SLOT);
        for (size_t k = 0; k < KURA_BIP39_WORD_SLOT; k++) wlen += (uint32_t)(w[k] != 0);
        pos += wlen;
        out[pos++] = i + 1 < words ? ' ' : '\0';
    }
    sodium_memzero(buf, sizeof(buf));
    sodium_memzero(hash, sizeof(hash));
    sodium_memzero(w, sizeof(w));
    return KURA_OK;
}

int kura_bip39_to_entropy(uint8_t *out, size_t out_len, size_t *written, const char *mnemonic,
                          kura_error *err)
{
    uint8_t buf[MAX_ENTROPY + 3] = {0};
    uint8_t hash[32];
    char w[KURA_BIP39_WORD_SLOT];
    size_t starts[MAX_WORDS], lens[MAX_WORDS];
    size_t words = 0, i = 0, ent_bytes, cs_bits;
    uint32_t found, idx, mask;
    int rc = KURA_EDATA;

    if (written != NULL) *written = 0;
    if (out != NULL && out_len > 0) sodium_memzero(out, out_len);
    if (written == NULL || mnemonic == NULL || (out == NULL && out_len != 0))
        return kura_fail(err, KURA_EINVAL, "bip39: NULL argument");

    /* Words are separated by exactly one ASCII space, with none before the
     * first or after the last: one mnemonic, one spelling. */
    for (;;) {
        size_t start = i;
        while (mnemonic[i] != '\0' && mnemonic[i] != ' ') i++;
        if (i == start) {
            rc = kura_fail(err, KURA_EDATA,
                           mnemonic[i] == '\0' && words == 0
                               ? "bip39: empty mnemonic"
                               : "bip39: words must be separated by single spaces");
            goto done;
        }
        if (words == MAX_WORDS) {
            rc = kura_fail(err, KURA_EDATA, "bip39: more than 24 words");
            goto done;
        }
        starts[words] = start;
        lens[words] = i - start;
        words++;
        if (mnemonic[i] == '\0') break;
        i++;
    }
    if (words < 12 || words % 3 != 0) {
        rc = kura_fail(err, KURA_EDATA, "bip39: %zu words, not 12, 15, 18, 21 or 24", words);
        goto done;
    }
    for (size_t k = 0; k < words; k++) {
        memset(w, 0, sizeof(w));
        found = 0;
        idx = 0;
        if (lens[k] < KURA_BIP39_WORD_SLOT) {
            memcpy(w, mnemonic + starts[k], lens[k]);
            idx = word_index(w, &found);
        }
        if (!found) {
            /* Name the position, never the word: it may be a typo of a
             * secret word and error messages end up in logs. */
            rc = kura_fail(err, KURA_EDATA, "bip39: word %zu is not in the English list", k + 1);
            goto done;
        }
        put11(buf, k, idx);
    }
    /* BIP39: CS = ENT / 32 bits, words = (ENT + CS) / 11. */
    cs_bits = words / 3;
    ent_bytes = words * 4 / 3;
    kura_sha256(hash, buf, ent_bytes);
    mask = (0xffu << (8 - cs_bits)) & 0xffu;
    if (((hash[0] ^ buf[ent_bytes]) & mask) != 0) {
        rc = kura_fail(err, KURA_EDATA, "bip39: checksum mismatch");
        goto done;
    }
    if (out_len < ent_bytes) {
        rc = kura_fail(err, KURA_EINVAL, "bip39: %zu bytes of entropy do not fit in %zu",
                       ent_bytes, out_len);
        goto done;
    }
    memcpy(out, buf, ent_bytes);
    *written = ent_bytes;
    rc = KURA_OK;
done:
    sodium_memzero(buf, sizeof(buf));
    sodium_memzero(hash, sizeof(hash));
    sodium_memzero(w, sizeof(w));
    sodium_memzero(starts, sizeof(starts));
    sodium_memzero(lens, sizeof(lens));
    return rc;
}

/* NFKD of a NUL-terminated UTF-8 string into a malloc'd buffer (*out, *out_len;
 * *out may be NULL for an empty result). Returns KURA_OK, KURA_EDATA for
 * invalid UTF-8, KURA_ENOMEM. */
static int nfkd(uint8_t **out, size_t *out_len, const char *s, const char *what, kura_error *err)
{
    size_t n = strlen(s);
    *out = NULL;
    *out_len = 0;
    if (u8_check((const uint8_t *)s, n) != NULL)
        return kura_fail(err, KURA_EDATA, "bip39: %s is not valid UTF-8", what);
    if (n == 0) return KURA_OK;
    *out = u8_normalize(UNINORM_NFKD, (const uint8_t *)s, n, NULL, out_len);
    if (*out == NULL) {
        *out_len = 0;
        return kura_fail(err, KURA_ENOMEM, "bip39: out of memory normalising the %s", what);
    }
    return KURA_OK;
}

static void free_secret(uint8_t *p, size_t len)
{
    if (p == NULL) return;
    sodium_memzero(p, len);
    free(p);
}

int kura_bip39_to_seed(uint8_t seed[64], const char *mnemonic, const char *passphrase,
                       kura_error *err)
{
    static const char prefix[] = "mnemonic";
    uint8_t *m = NULL, *p = NULL, *salt = NULL;
    size_t m_len = 0, p_len = 0, salt_len = 0;
    int rc;

    if (seed == NULL || mnemonic == NULL)
        return kura_fail(err, KURA_EINVAL, "bip39: NULL argument");
    sodium_memzero(seed, 64);
    if (passphrase == NULL) passphrase = "";

    /* BIP39 "From mnemonic to seed": both strings in UTF-8 NFKD, so the same
     * words typed with composed or decomposed accents (or, in Japanese, with
     * U+3000 ideographic spaces) give the same seed. */
    rc = nfkd(&m, &m_len, mnemonic, "mnemonic", err);
    if (rc != KURA_OK) goto done;
    rc = nfkd(&p, &p_len, passphrase, "passphrase", err);
    if (rc != KURA_OK) goto done;
    if (!kura_size_add(sizeof(prefix) - 1, p_len, &salt_len)) {
        rc = kura_fail(err, KURA_ENOMEM, "bip39: passphrase too long");
        goto done;
    }
    salt = malloc(salt_len);
    if (salt == NULL) {
        rc = kura_fail(err, KURA_ENOMEM, "bip39: out of memory");
        goto done;
    }
    memcpy(salt, prefix, sizeof(prefix) - 1);
    if (p_len > 0) memcpy(salt + sizeof(prefix) - 1, p, p_len);
    rc = kura_pbkdf2_sha512(seed, 64, m, m_len, salt, salt_len, 2048);
    if (rc != KURA_OK) rc = kura_fail(err, rc, "bip39: PBKDF2 failed");
done:
    if (rc != KURA_OK) sodium_memzero(seed, 64);
    free_secret(m, m_len);
    free_secret(p, p_len);
    free_secret(salt, salt_len);
    return rc;
}
