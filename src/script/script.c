/*
 * src/script/script.c — recognising and building output scripts: the
 * standard templates, bare and tapscript multisig, minimal pushes, and the
 * BIP341 tap tree hashes.
 *
 * Classification is what the signer's check leans on to say what an output
 * pays to, so it matches a template byte for byte and calls anything else
 * non-standard; it never guesses.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "kura/hash.h"
#include "kura/script.h"

/* Opcodes used here (Bitcoin Core script/script.h). */
#define OP_0 0x00
#define OP_PUSHDATA1 0x4c
#define OP_PUSHDATA2 0x4d
#define OP_PUSHDATA4 0x4e
#define OP_1NEGATE 0x4f
#define OP_1 0x51
#define OP_16 0x60
#define OP_RETURN 0x6a
#define OP_DUP 0x76
#define OP_EQUAL 0x87
#define OP_EQUALVERIFY 0x88
#define OP_NUMEQUAL 0x9c
#define OP_HASH160 0xa9
#define OP_CHECKSIG 0xac
#define OP_CHECKMULTISIG 0xae
#define OP_CHECKSIGADD 0xba

/* Bitcoin Core's MAX_PUBKEYS_PER_MULTISIG (bare/P2SH/P2WSH CHECKMULTISIG). */
#define MULTISIG_KEYS_MAX 20u
/* BIP387: multi_a takes at most 999 keys (MAX_PUBKEYS_PER_MULTI_A). */
#define MULTI_A_KEYS_MAX 999u

const char *kura_script_type_name(kura_script_type type)
{
    switch (type) {
    case KURA_SCRIPT_NONSTANDARD: return "non-standard";
    case KURA_SCRIPT_P2PKH: return "P2PKH";
    case KURA_SCRIPT_P2SH: return "P2SH";
    case KURA_SCRIPT_P2WPKH: return "P2WPKH";
    case KURA_SCRIPT_P2WSH: return "P2WSH";
    case KURA_SCRIPT_P2TR: return "P2TR";
    case KURA_SCRIPT_WITNESS_UNKNOWN: return "witness (unknown version)";
    case KURA_SCRIPT_MULTISIG: return "bare multisig";
    case KURA_SCRIPT_OP_RETURN: return "OP_RETURN";
    }
    return NULL;
}

/* ---- reading scripts ---- */

int kura_script_next_op(const uint8_t *s, size_t len, size_t *pos, uint8_t *op,
                        const uint8_t **data, size_t *data_len)
{
    size_t p = *pos, n = 0;
    *data = NULL;
    *data_len = 0;
    if (p >= len) return 0;
    *op = s[p++];
    if (*op < OP_PUSHDATA1) {
        n = *op; /* OP_0 pushes nothing; 0x01..0x4b push that many bytes */
    } else if (*op == OP_PUSHDATA1) {
        if (len - p < 1) return 0;
        n = s[p];
        p += 1;
    } else if (*op == OP_PUSHDATA2) {
        if (len - p < 2) return 0;
        n = (size_t)s[p] | (size_t)s[p + 1] << 8;
        p += 2;
    } else if (*op == OP_PUSHDATA4) {
        if (len - p < 4) return 0;
        n = (size_t)kura_load_u32le(s + p);
        p += 4;
    } else {
        *pos = p; /* not a push */
        return 1;
    }
    if (len - p < n) return 0;
    *data = s + p;
    *data_len = n;
    *pos = p + n;
    return 1;
}

/* A small count in a multisig script: OP_1..OP_16, or (for 17..20) the
 * minimal push of a script number, as Bitcoin Core writes `CScript() << n`. */
static bool read_count(const uint8_t *s, size_t len, size_t *pos, unsigned *out)
{
    uint8_t op;
    const uint8_t *d;
    size_t n;
    if (!kura_script_next_op(s, len, pos, &op, &d, &n)) return false;
    if (op >= OP_1 && op <= OP_16) {
        *out = (unsigned)(op - OP_1 + 1);
        return true;
    }
    if (op == 1 && n == 1 && d[0] > 16 && d[0] <= MULTISIG_KEYS_MAX) {
        *out = d[0];
        return true;
    }
    return false;
}

/* Bitcoin Core's CPubKey::ValidSize: 33 bytes after 0x02/0x03, 65 after
 * 0x04/0x06/0x07. The curve check is the keys module's job. */
static bool pubkey_size_ok(const uint8_t *d, size_t n)
{
    if (n == 33) return d[0] == 0x02 || d[0] == 0x03;
    if (n == 65) return d[0] == 0x04 || d[0] == 0x06 || d[0] == 0x07;
    return false;
}

/* OP_m <key>... OP_n OP_CHECKMULTISIG with 1 <= m <= n <= 20, each key a
 * direct push of a validly sized public key. */
static bool is_multisig(const uint8_t *s, size_t len)
{
    size_t pos = 0, keys = 0;
    unsigned m, n;
    if (!read_count(s, len, &pos, &m)) return false;
    for (;;) {
        size_t save = pos, dn;
        uint8_t op;
        const uint8_t *d;
        if (!kura_script_next_op(s, len, &pos, &op, &d, &dn)) return false;
        if ((op == 33 || op == 65) && pubkey_size_ok(d, dn)) {
            keys++;
            continue;
        }
        pos = save;
        break;
    }
    if (!read_count(s, len, &pos, &n)) return false;
    if (pos + 1 != len || s[pos] != OP_CHECKMULTISIG) return false;
    return m >= 1 && m <= n && n == keys && n <= MULTISIG_KEYS_MAX;
}

/* OP_RETURN followed only by well-formed pushes (Bitcoin Core's NULL_DATA:
 * IsPushOnly counts every opcode up to OP_16). */
static bool is_op_return(const uint8_t *s, size_t len)
{
    size_t pos = 1;
    if (len < 1 || s[0] != OP_RETURN) return false;
    while (pos < len) {
        uint8_t op;
        const uint8_t *d;
        size_t n;
        if (!kura_script_next_op(s, len, &pos, &op, &d, &n) || op > OP_16) return false;
    }
    return true;
}

kura_script_type kura_script_classify(const uint8_t *script, size_t len, const uint8_t **program,
                                      size_t *program_len, unsigned *witness_version)
{
    kura_script_type type = KURA_SCRIPT_NONSTANDARD;
    const uint8_t *prog = NULL;
    size_t prog_len = 0;
    unsigned version = 0;

    if (script == NULL) len = 0;

    if (len == 25 && script[0] == OP_DUP && script[1] == OP_HASH160 && script[2] == 20 &&
        script[23] == OP_EQUALVERIFY && script[24] == OP_CHECKSIG) {
        type = KURA_SCRIPT_P2PKH;
        prog = script + 3;
        prog_len = 20;
    } else if (len == 23 && script[0] == OP_HASH160 && script[1] == 20 && script[22] == OP_EQUAL) {
        /* BIP16: exactly this form, nothing else, is P2SH. */
        type = KURA_SCRIPT_P2SH;
        prog = script + 2;
        prog_len = 20;
    } else if (len >= 4 && len <= 42 && (script[0] == OP_0 || (script[0] >= OP_1 &&
                                                                 script[0] <= OP_16)) &&
               (size_t)script[1] + 2 == len) {
        /* BIP141 "Witness program": a version push (OP_0..OP_16) then one
         * direct push of 2 to 40 bytes, and nothing else. */
        version = script[0] == OP_0 ? 0u : (unsigned)(script[0] - OP_1 + 1);
        prog = script + 2;
        prog_len = len - 2;
        if (version == 0 && prog_len == 20) {
            type = KURA_SCRIPT_P2WPKH;
        } else if (version == 0 && prog_len == 32) {
            type = KURA_SCRIPT_P2WSH;
        } else if (version == 1 && prog_len == 32) {
            type = KURA_SCRIPT_P2TR;
        } else if (version != 0) {
            type = KURA_SCRIPT_WITNESS_UNKNOWN;
        } else {
            /* BIP141: a v0 program of another length fails validation; no
             * one can spend it, so it is not a witness output kura knows. */
            prog = NULL;
            prog_len = 0;
            version = 0;
        }
    } else if (is_multisig(script, len)) {
        type = KURA_SCRIPT_MULTISIG;
    } else if (is_op_return(script, len)) {
        type = KURA_SCRIPT_OP_RETURN;
    }

    if (program != NULL) *program = prog;
    if (program_len != NULL) *program_len = prog_len;
    if (witness_version != NULL) *witness_version = version;
    return type;
}

/* ---- building scripts ---- */

size_t kura_script_push(uint8_t *out, size_t out_len, const uint8_t *data, size_t len)
{
    size_t head;
    if (out == NULL || (data == NULL && len != 0)) return 0;
    /* BIP62 "Push operators" / Bitcoin Core CheckMinimalPush: the empty
     * string is OP_0, a single byte 1..16 is OP_1..OP_16, 0x81 is
     * OP_1NEGATE; otherwise the shortest push opcode that holds the length. */
    if (len == 0 || (len == 1 && data[0] >= 1 && data[0] <= 16) || (len == 1 && data[0] == 0x81)) {
        if (out_len < 1) return 0;
        if (len == 0) {
            out[0] = OP_0;
        } else if (data[0] == 0x81) {
            out[0] = OP_1NEGATE;
        } else {
            out[0] = (uint8_t)(OP_1 + data[0] - 1);
        }
        return 1;
    }
    if (len < OP_PUSHDATA1) {
        head = 1;
    } else if (len <= 0xff) {
        head = 2;
    } else if (len <= 0xffff) {
        head = 3;
    } else if (len <= 0xffffffffu) {
        head = 5;
    } else {
        return 0;
    }
    if (out_len < head || out_len - head < len) return 0;
    if (head == 1) {
        out[0] = (uint8_t)len;
    } else if (head == 2) {
        out[0] = OP_PUSHDATA1;
        out[1] = (uint8_t)len;
    } else if (head == 3) {
        out[0] = OP_PUSHDATA2;
        out[1] = (uint8_t)(len & 0xff);
        out[2] = (uint8_t)(len >> 8);
    } else {
        out[0] = OP_PUSHDATA4;
        kura_store_u32le(out + 1, (uint32_t)len);
    }
    memcpy(out + head, data, len);
    return head + len;
}

/* Bytes needed to push a positive number n the way Bitcoin Core's
 * `CScript() << n` does: OP_1..OP_16, else a minimal little-endian script
 * number (with a 0x00 byte when the top bit would read as a sign). */
static size_t number_len(unsigned n)
{
    size_t bytes = 0;
    unsigned v = n;
    if (n >= 1 && n <= 16) return 1;
    while (v > 0) {
        bytes++;
        if (v <= 0xff && (v & 0x80)) bytes++;
        v >>= 8;
    }
    return 1 + bytes;
}

static size_t put_number(uint8_t *out, unsigned n)
{
    uint8_t num[5];
    size_t bytes = 0;
    unsigned v = n;
    if (n >= 1 && n <= 16) {
        out[0] = (uint8_t)(OP_1 + n - 1);
        return 1;
    }
    while (v > 0) {
        num[bytes++] = (uint8_t)(v & 0xff);
        v >>= 8;
    }
    if (num[bytes - 1] & 0x80) num[bytes++] = 0x00;
    out[0] = (uint8_t)bytes;
    memcpy(out + 1, num, bytes);
    return 1 + bytes;
}

/* Writes prefix || hash || suffix, the shape of every hash template. */
static int put_template(uint8_t *out, size_t out_len, size_t *written, const uint8_t *prefix,
                        size_t prefix_len, const uint8_t *hash, size_t hash_len,
                        const uint8_t *suffix, size_t suffix_len)
{
    size_t total = prefix_len + hash_len + suffix_len;
    if (written != NULL) *written = 0;
    if (out == NULL || written == NULL || hash == NULL || out_len < total) return KURA_EINVAL;
    memcpy(out, prefix, prefix_len);
    memcpy(out + prefix_len, hash, hash_len);
    if (suffix_len > 0) memcpy(out + prefix_len + hash_len, suffix, suffix_len);
    *written = total;
    return KURA_OK;
}

int kura_script_p2pkh(uint8_t *out, size_t out_len, size_t *written, const uint8_t hash160[20])
{
    static const uint8_t pre[] = {OP_DUP, OP_HASH160, 20};
    static const uint8_t post[] = {OP_EQUALVERIFY, OP_CHECKSIG};
    return put_template(out, out_len, written, pre, sizeof(pre), hash160, 20, post, sizeof(post));
}

int kura_script_p2sh(uint8_t *out, size_t out_len, size_t *written, const uint8_t hash160[20])
{
    static const uint8_t pre[] = {OP_HASH160, 20};
    static const uint8_t post[] = {OP_EQUAL};
    return put_template(out, out_len, written, pre, sizeof(pre), hash160, 20, post, sizeof(post));
}

int kura_script_p2wpkh(uint8_t *out, size_t out_len, size_t *written, const uint8_t hash160[20])
{
    static const uint8_t pre[] = {OP_0, 20};
    return put_template(out, out_len, written, pre, sizeof(pre), hash160, 20, NULL, 0);
}

int kura_script_p2wsh(uint8_t *out, size_t out_len, size_t *written, const uint8_t sha256[32])
{
    static const uint8_t pre[] = {OP_0, 32};
    return put_template(out, out_len, written, pre, sizeof(pre), sha256, 32, NULL, 0);
}

int kura_script_p2tr(uint8_t *out, size_t out_len, size_t *written, const uint8_t xonly[32])
{
    static const uint8_t pre[] = {OP_1, 32};
    return put_template(out, out_len, written, pre, sizeof(pre), xonly, 32, NULL, 0);
}

int kura_script_p2sh_of(uint8_t *out, size_t out_len, size_t *written, const uint8_t *redeem,
                        size_t redeem_len)
{
    uint8_t h[20];
    int rc;
    if (written != NULL) *written = 0;
    if (redeem == NULL && redeem_len != 0) return KURA_EINVAL;
    rc = kura_hash160(h, redeem, redeem_len);
    if (rc != KURA_OK) return rc;
    return kura_script_p2sh(out, out_len, written, h);
}

int kura_script_p2wsh_of(uint8_t *out, size_t out_len, size_t *written,
                         const uint8_t *witness_script, size_t witness_script_len)
{
    uint8_t h[32];
    if (written != NULL) *written = 0;
    if (witness_script == NULL && witness_script_len != 0) return KURA_EINVAL;
    /* BIP141: the P2WSH program is the single SHA256 of the witness script. */
    kura_sha256(h, witness_script, witness_script_len);
    return kura_script_p2wsh(out, out_len, written, h);
}

static int cmp_key33(const void *a, const void *b)
{
    return memcmp(*(const uint8_t *const *)a, *(const uint8_t *const *)b, 33);
}

static int cmp_key32(const void *a, const void *b)
{
    return memcmp(*(const uint8_t *const *)a, *(const uint8_t *const *)b, 32);
}

int kura_script_multisig(uint8_t *out, size_t out_len, size_t *written, unsigned m,
                         const uint8_t *pubkeys, size_t n, int sorted)
{
    const uint8_t *keys[MULTISIG_KEYS_MAX];
    size_t total, pos = 0;

    if (written != NULL) *written = 0;
    if (out == NULL || written == NULL || pubkeys == NULL) return KURA_EINVAL;
    if (n < 1 || n > MULTISIG_KEYS_MAX || m < 1 || m > n) return KURA_EINVAL;
    for (size_t i = 0; i < n; i++) {
        keys[i] = pubkeys + 33 * i;
        if (keys[i][0] != 0x02 && keys[i][0] != 0x03) return KURA_EINVAL;
    }
    total = number_len(m) + n * 34 + number_len((unsigned)n) + 1;
    if (out_len < total) return KURA_EINVAL;
    /* BIP67 "Specification": compressed keys in lexicographic order of their
     * serialization, so every cosigner derives the same script (and address)
     * from the same set of keys, whatever order they were listed in. */
    if (sorted) qsort(keys, n, sizeof(keys[0]), cmp_key33);

    pos += put_number(out + pos, m);
    for (size_t i = 0; i < n; i++) {
        out[pos++] = 33;
        memcpy(out + pos, keys[i], 33);
        pos += 33;
    }
    pos += put_number(out + pos, (unsigned)n);
    out[pos++] = OP_CHECKMULTISIG;
    *written = pos;
    return KURA_OK;
}

int kura_script_multi_a(uint8_t *out, size_t out_len, size_t *written, unsigned m,
                        const uint8_t *xonly_keys, size_t n, int sorted)
{
    const uint8_t **keys;
    size_t total, pos = 0;

    if (written != NULL) *written = 0;
    if (out == NULL || written == NULL || xonly_keys == NULL) return KURA_EINVAL;
    if (n < 1 || n > MULTI_A_KEYS_MAX || m < 1 || m > n) return KURA_EINVAL;
    total = n * 34 + number_len(m) + 1; /* n <= 999: no overflow */
    if (out_len < total) return KURA_EINVAL;
    keys = malloc(n * sizeof(*keys));
    if (keys == NULL) return KURA_ENOMEM;
    for (size_t i = 0; i < n; i++) keys[i] = xonly_keys + 32 * i;
    /* BIP387 sortedmulti_a: keys in lexicographic order of their x-only
     * serialization. */
    if (sorted) qsort(keys, n, sizeof(keys[0]), cmp_key32);

    /* BIP387 "multi_a": <key1> OP_CHECKSIG <key2> OP_CHECKSIGADD ...
     * <keyn> OP_CHECKSIGADD <m> OP_NUMEQUAL. */
    for (size_t i = 0; i < n; i++) {
        out[pos++] = 32;
        memcpy(out + pos, keys[i], 32);
        pos += 32;
        out[pos++] = i == 0 ? OP_CHECKSIG : OP_CHECKSIGADD;
    }
    pos += put_number(out + pos, m);
    out[pos++] = OP_NUMEQUAL;
    free(keys);
    *written = pos;
    return KURA_OK;
}

void kura_tapleaf_hash(uint8_t out[32], uint8_t leaf_version, const uint8_t *script, size_t len)
{
    kura_sha256_ctx ctx;
    uint8_t head[1 + 9];
    size_t n = 1;
    uint64_t l = (uint64_t)len;
    /* BIP341 "Constructing and spending Taproot outputs": the leaf hash is
     * hashTapLeaf(leaf_version || compact_size(len(script)) || script). */
    head[0] = leaf_version;
    if (l < 0xfd) {
        head[n++] = (uint8_t)l;
    } else if (l <= 0xffff) {
        head[n++] = 0xfd;
        head[n++] = (uint8_t)(l & 0xff);
        head[n++] = (uint8_t)(l >> 8);
    } else if (l <= 0xffffffffu) {
        head[n++] = 0xfe;
        kura_store_u32le(head + n, (uint32_t)l);
        n += 4;
    } else {
        head[n++] = 0xff;
        kura_store_u64le(head + n, l);
        n += 8;
    }
    kura_sha256_init_tagged(&ctx, "TapLeaf");
    kura_sha256_update(&ctx, head, n);
    kura_sha256_update(&ctx, script, len);
    kura_sha256_final(&ctx, out);
}

void kura_tapbranch_hash(uint8_t out[32], const uint8_t a[32], const uint8_t b[32])
{
    uint8_t buf[64];
    /* BIP341: a branch hashes its children in lexicographic order, so a
     * control block need not say which side each sibling is on. */
    if (memcmp(a, b, 32) <= 0) {
        memcpy(buf, a, 32);
        memcpy(buf + 32, b, 32);
    } else {
        memcpy(buf, b, 32);
        memcpy(buf + 32, a, 32);
    }
    kura_tagged_hash(out, "TapBranch", buf, sizeof(buf));
}
