/* src/keystore/keystore.c — the keystore format: header, Argon2id key
 * derivation, XChaCha20-Poly1305 sealing, and the checks on what comes out. */
#include <string.h>
#include <sys/stat.h>

#include <sodium.h>

#include "internal.h"
#include "keystore_internal.h"
#include "kura/keystore.h"
#include "kura/keys.h"

/* Layout of a version-1 file (docs/keystore-format.md). */
#define KS_MAGIC "KURAKEYS"
#define KS_MAGIC_LEN 8
#define KS_OFF_VERSION 8
#define KS_OFF_KDF_ALG 10
#define KS_OFF_AEAD_ALG 11
#define KS_OFF_OPSLIMIT 12
#define KS_OFF_MEMLIMIT 20
#define KS_OFF_SALT 28
#define KS_OFF_NONCE 44
#define KS_OFF_CREATED 68
#define KS_OFF_NETWORK 76
#define KS_OFF_FINGERPRINT 77
#define KS_SALT_LEN 16
#define KS_NONCE_LEN 24
#define KS_KEY_LEN 32
#define KS_PLAIN_LEN (1 + KURA_KEYSTORE_ENTROPY_MAX)
#define KS_TAG_LEN 16
#define KS_KDF_ARGON2ID13 1
#define KS_AEAD_XCHACHA20POLY1305 1
/* Room for the longest mnemonic as kura_bip39_from_entropy asks (9 per word). */
#define KS_MNEMONIC_CAP (24 * 9)

_Static_assert(KS_OFF_FINGERPRINT + 4 == KURA_KEYSTORE_HEADER_LEN, "header layout");
_Static_assert(KURA_KEYSTORE_HEADER_LEN + KS_PLAIN_LEN + KS_TAG_LEN == KURA_KEYSTORE_FILE_LEN,
               "file layout");
_Static_assert(KS_SALT_LEN == crypto_pwhash_SALTBYTES, "Argon2id salt size");
_Static_assert(KS_NONCE_LEN == crypto_aead_xchacha20poly1305_ietf_NPUBBYTES, "nonce size");
_Static_assert(KS_KEY_LEN == crypto_aead_xchacha20poly1305_ietf_KEYBYTES, "key size");
_Static_assert(KS_TAG_LEN == crypto_aead_xchacha20poly1305_ietf_ABYTES, "tag size");

const char *kura_keystore_status_name(int code)
{
    switch (code) {
    case KURA_KEYSTORE_EAUTH: return "KURA_KEYSTORE_EAUTH";
    case KURA_KEYSTORE_EPERM: return "KURA_KEYSTORE_EPERM";
    case KURA_KEYSTORE_EIO: return "KURA_KEYSTORE_EIO";
    case KURA_KEYSTORE_EEXIST: return "KURA_KEYSTORE_EEXIST";
    default: return kura_status_name(code);
    }
}

void kura_keystore_kdf_default(kura_keystore_kdf *out)
{
    out->opslimit = KURA_KEYSTORE_OPSLIMIT_DEFAULT;
    out->memlimit = KURA_KEYSTORE_MEMLIMIT_DEFAULT;
}

static int kdf_in_range(const kura_keystore_kdf *kdf)
{
    return kdf->opslimit >= KURA_KEYSTORE_OPSLIMIT_MIN &&
           kdf->opslimit <= KURA_KEYSTORE_OPSLIMIT_MAX &&
           kdf->memlimit >= KURA_KEYSTORE_MEMLIMIT_MIN &&
           kdf->memlimit <= KURA_KEYSTORE_MEMLIMIT_MAX && kdf->memlimit <= SIZE_MAX;
}

static int entropy_len_valid(size_t len)
{
    return len >= 16 && len <= 32 && len % 4 == 0;
}

void kura_keystore_secret_wipe(kura_keystore_secret *secret)
{
    if (secret != NULL) sodium_memzero(secret, sizeof(*secret));
}

void kura_keystore_secret_free(kura_keystore_secret *secret)
{
    if (secret == NULL) return;
    kura_keystore_secret_wipe(secret);
    sodium_free(secret);
}

/* Parses the header; on success *salt and *nonce point into data. */
static int parse_header(kura_keystore_info *out, const uint8_t **salt, const uint8_t **nonce,
                        const uint8_t *data, size_t len, kura_error *err)
{
    kura_reader r;
    uint16_t version;
    uint8_t kdf_alg, aead_alg, network;
    uint64_t created;
    kura_keystore_info info;
    memset(&info, 0, sizeof(info));
    *salt = NULL;
    *nonce = NULL;
    /* The magic and version come first so that a file of another kind, or of
     * a later version, gets a message saying so rather than "bad length". */
    if (len < KS_MAGIC_LEN || memcmp(data, KS_MAGIC, KS_MAGIC_LEN) != 0)
        return kura_fail(err, KURA_EDATA, "keystore: not a kura keystore (bad magic)");
    kura_reader_init(&r, data + KS_MAGIC_LEN, len - KS_MAGIC_LEN);
    if (!kura_read_u16le(&r, &version))
        return kura_fail(err, KURA_EDATA, "keystore: truncated: %zu bytes", len);
    if (version != KURA_KEYSTORE_VERSION)
        return kura_fail(err, KURA_EDATA, "keystore: unknown format version %u",
                         (unsigned)version);
    /* Exact length: a truncated file cannot be decrypted, and trailing bytes
     * would sit outside the authenticated data. */
    if (len != KURA_KEYSTORE_FILE_LEN)
        return kura_fail(err, KURA_EDATA,
                         "keystore: %zu bytes where a version-1 keystore has %d (truncated or "
                         "extended)",
                         len, KURA_KEYSTORE_FILE_LEN);
    kura_read_u8(&r, &kdf_alg);
    kura_read_u8(&r, &aead_alg);
    kura_read_u64le(&r, &info.kdf.opslimit);
    kura_read_u64le(&r, &info.kdf.memlimit);
    kura_read_span(&r, salt, KS_SALT_LEN);
    kura_read_span(&r, nonce, KS_NONCE_LEN);
    kura_read_u64le(&r, &created);
    kura_read_u8(&r, &network);
    kura_read_bytes(&r, info.fingerprint, 4);
    if (r.failed) return kura_fail(err, KURA_EDATA, "keystore: truncated header");
    if (kdf_alg != KS_KDF_ARGON2ID13)
        return kura_fail(err, KURA_EDATA, "keystore: unknown KDF algorithm %u", kdf_alg);
    if (aead_alg != KS_AEAD_XCHACHA20POLY1305)
        return kura_fail(err, KURA_EDATA, "keystore: unknown cipher %u", aead_alg);
    /* The KDF cost is read before anything can be authenticated, so it is
     * bounded: a doctored header must not make the signer allocate 2^60
     * bytes or spin for a year before saying "wrong passphrase". */
    if (info.kdf.opslimit < KURA_KEYSTORE_OPSLIMIT_MIN ||
        info.kdf.opslimit > KURA_KEYSTORE_OPSLIMIT_MAX)
        return kura_fail(err, KURA_EDATA, "keystore: KDF opslimit %llu out of range %u..%u",
                         (unsigned long long)info.kdf.opslimit, KURA_KEYSTORE_OPSLIMIT_MIN,
                         KURA_KEYSTORE_OPSLIMIT_MAX);
    if (info.kdf.memlimit < KURA_KEYSTORE_MEMLIMIT_MIN ||
        info.kdf.memlimit > KURA_KEYSTORE_MEMLIMIT_MAX || info.kdf.memlimit > SIZE_MAX)
        return kura_fail(err, KURA_EDATA, "keystore: KDF memlimit %llu out of range %u..%llu",
                         (unsigned long long)info.kdf.memlimit, KURA_KEYSTORE_MEMLIMIT_MIN,
                         (unsigned long long)KURA_KEYSTORE_MEMLIMIT_MAX);
    if (created > (uint64_t)KURA_KEYSTORE_TIME_MAX)
        return kura_fail(err, KURA_EDATA, "keystore: creation time out of range");
    if (network > KURA_NETWORK_REGTEST)
        return kura_fail(err, KURA_EDATA, "keystore: unknown network %u", network);
    info.version = version;
    info.created = (int64_t)created;
    info.network = (kura_network)network;
    *out = info;
    return KURA_OK;
}

int kura_keystore_parse(kura_keystore_info *out, const uint8_t *data, size_t len,
                        kura_error *err)
{
    const uint8_t *salt, *nonce;
    int rc;
    if (out != NULL) memset(out, 0, sizeof(*out));
    if (out == NULL || (data == NULL && len > 0))
        return kura_fail(err, KURA_EINVAL, "keystore: NULL argument");
    if (data == NULL) return kura_fail(err, KURA_EDATA, "keystore: empty file");
    rc = parse_header(out, &salt, &nonce, data, len, err);
    if (rc != KURA_OK) memset(out, 0, sizeof(*out));
    return rc;
}

/* Derives the BIP39 seed of entropy (empty BIP39 passphrase) into seed and
 * the master fingerprint into fp. The mnemonic and the master key exist only
 * in locked memory and are wiped before return. */
static int seed_and_fingerprint(const kura_ctx *ctx, uint8_t seed[64], uint8_t fp[4],
                                const uint8_t *entropy, size_t entropy_len, kura_error *err)
{
    char *mnemonic = sodium_malloc(KS_MNEMONIC_CAP);
    kura_bip32_key *master = sodium_malloc(sizeof(kura_bip32_key));
    int rc = KURA_OK;
    memset(fp, 0, 4);
    if (mnemonic == NULL || master == NULL) {
        rc = kura_fail(err, KURA_ENOMEM, "keystore: out of locked memory");
        goto done;
    }
    /* Errors below come from the keys module with its own messages, which
     * are not shown: they would only ever say the entropy was bad, and that
     * was checked before. */
    if (kura_bip39_from_entropy(mnemonic, KS_MNEMONIC_CAP, entropy, entropy_len) != KURA_OK ||
        kura_bip39_to_seed(seed, mnemonic, NULL, NULL) != KURA_OK) {
        rc = kura_fail(err, KURA_ECRYPTO, "keystore: BIP39 seed derivation failed");
        goto done;
    }
    if (kura_bip32_from_seed(ctx, master, seed, 64, KURA_NETWORK_MAINNET) != KURA_OK ||
        kura_bip32_fingerprint(fp, master) != KURA_OK) {
        rc = kura_fail(err, KURA_ECRYPTO, "keystore: BIP32 master key derivation failed");
        goto done;
    }
done:
    if (rc != KURA_OK) sodium_memzero(seed, 64);
    if (mnemonic != NULL) {
        sodium_memzero(mnemonic, KS_MNEMONIC_CAP);
        sodium_free(mnemonic);
    }
    if (master != NULL) {
        kura_bip32_wipe(master);
        sodium_free(master);
    }
    return rc;
}

/* Argon2id of the passphrase into key (locked memory the caller owns). */
static int derive_key(uint8_t key[KS_KEY_LEN], const uint8_t *passphrase, size_t passphrase_len,
                      const uint8_t salt[KS_SALT_LEN], const kura_keystore_kdf *kdf,
                      kura_error *err)
{
    static const uint8_t empty = 0;
    if (crypto_pwhash(key, KS_KEY_LEN,
                      (const char *)(passphrase != NULL ? passphrase : &empty),
                      passphrase_len, salt, kdf->opslimit, (size_t)kdf->memlimit,
                      crypto_pwhash_ALG_ARGON2ID13) != 0) {
        sodium_memzero(key, KS_KEY_LEN);
        return kura_fail(err, KURA_ECRYPTO,
                         "keystore: Argon2id failed (not enough memory for %llu bytes?)",
                         (unsigned long long)kdf->memlimit);
    }
    return KURA_OK;
}

/* Builds a whole file in out: header from info (fingerprint included) with a
 * fresh salt and nonce, then the sealed entropy. */
static int seal(uint8_t out[KURA_KEYSTORE_FILE_LEN], const kura_keystore_info *info,
                const uint8_t *entropy, size_t entropy_len, const uint8_t *passphrase,
                size_t passphrase_len, kura_error *err)
{
    uint8_t *key = sodium_malloc(KS_KEY_LEN);
    uint8_t *plain = sodium_malloc(KS_PLAIN_LEN);
    unsigned long long clen = 0;
    int rc = KURA_OK;
    memset(out, 0, KURA_KEYSTORE_FILE_LEN);
    if (key == NULL || plain == NULL) {
        rc = kura_fail(err, KURA_ENOMEM, "keystore: out of locked memory");
        goto done;
    }
    memcpy(out, KS_MAGIC, KS_MAGIC_LEN);
    out[KS_OFF_VERSION] = (uint8_t)(KURA_KEYSTORE_VERSION & 0xff);
    out[KS_OFF_VERSION + 1] = (uint8_t)(KURA_KEYSTORE_VERSION >> 8);
    out[KS_OFF_KDF_ALG] = KS_KDF_ARGON2ID13;
    out[KS_OFF_AEAD_ALG] = KS_AEAD_XCHACHA20POLY1305;
    kura_store_u64le(out + KS_OFF_OPSLIMIT, info->kdf.opslimit);
    kura_store_u64le(out + KS_OFF_MEMLIMIT, info->kdf.memlimit);
    /* A fresh salt per encryption makes every file's key unique, so one
     * precomputed table cannot attack many keystores; a random 24-byte nonce
     * is safe for XChaCha20 without any counter to keep. */
    randombytes_buf(out + KS_OFF_SALT, KS_SALT_LEN);
    randombytes_buf(out + KS_OFF_NONCE, KS_NONCE_LEN);
    kura_store_u64le(out + KS_OFF_CREATED, (uint64_t)info->created);
    out[KS_OFF_NETWORK] = (uint8_t)info->network;
    memcpy(out + KS_OFF_FINGERPRINT, info->fingerprint, 4);

    rc = derive_key(key, passphrase, passphrase_len, out + KS_OFF_SALT, &info->kdf, err);
    if (rc != KURA_OK) goto done;
    /* The entropy is padded to 32 bytes so that the file's length does not
     * tell a 12-word seed from a 24-word one. */
    memset(plain, 0, KS_PLAIN_LEN);
    plain[0] = (uint8_t)entropy_len;
    memcpy(plain + 1, entropy, entropy_len);
    /* The header is the associated data: every metadata byte, the KDF cost
     * included, is authenticated, so a header edited to weaken the KDF or
     * relabel the network is refused at open. */
    if (crypto_aead_xchacha20poly1305_ietf_encrypt(out + KURA_KEYSTORE_HEADER_LEN, &clen, plain,
                                                   KS_PLAIN_LEN, out, KURA_KEYSTORE_HEADER_LEN,
                                                   NULL, out + KS_OFF_NONCE, key) != 0 ||
        clen != KS_PLAIN_LEN + KS_TAG_LEN) {
        rc = kura_fail(err, KURA_ECRYPTO, "keystore: encryption failed");
        goto done;
    }
done:
    if (rc != KURA_OK) memset(out, 0, KURA_KEYSTORE_FILE_LEN);
    if (key != NULL) {
        sodium_memzero(key, KS_KEY_LEN);
        sodium_free(key);
    }
    if (plain != NULL) {
        sodium_memzero(plain, KS_PLAIN_LEN);
        sodium_free(plain);
    }
    return rc;
}

int kura_keystore_decrypt(const kura_ctx *ctx, kura_keystore_secret **out,
                          kura_keystore_info *info, const uint8_t *data, size_t len,
                          const uint8_t *passphrase, size_t passphrase_len, kura_error *err)
{
    kura_keystore_info hdr;
    const uint8_t *salt, *nonce;
    uint8_t *key = NULL, *plain = NULL;
    kura_keystore_secret *secret = NULL;
    uint8_t fp[4];
    unsigned long long plen = 0;
    int rc;
    if (out != NULL) *out = NULL;
    if (info != NULL) memset(info, 0, sizeof(*info));
    if (ctx == NULL || out == NULL || (data == NULL && len > 0) ||
        (passphrase == NULL && passphrase_len > 0))
        return kura_fail(err, KURA_EINVAL, "keystore: NULL argument");
    if (sodium_init() < 0) return kura_fail(err, KURA_ECRYPTO, "keystore: sodium_init failed");
    if (data == NULL) return kura_fail(err, KURA_EDATA, "keystore: empty file");
    rc = parse_header(&hdr, &salt, &nonce, data, len, err);
    if (rc != KURA_OK) return rc;

    key = sodium_malloc(KS_KEY_LEN);
    plain = sodium_malloc(KS_PLAIN_LEN);
    secret = sodium_malloc(sizeof(*secret));
    if (key == NULL || plain == NULL || secret == NULL) {
        rc = kura_fail(err, KURA_ENOMEM, "keystore: out of locked memory");
        goto done;
    }
    sodium_memzero(secret, sizeof(*secret));
    rc = derive_key(key, passphrase, passphrase_len, salt, &hdr.kdf, err);
    if (rc != KURA_OK) goto done;
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(
            plain, &plen, NULL, data + KURA_KEYSTORE_HEADER_LEN,
            KURA_KEYSTORE_FILE_LEN - KURA_KEYSTORE_HEADER_LEN, data, KURA_KEYSTORE_HEADER_LEN,
            nonce, key) != 0 ||
        plen != KS_PLAIN_LEN) {
        rc = kura_fail(err, KURA_KEYSTORE_EAUTH,
                       "keystore: wrong passphrase or tampered file (cannot tell which)");
        goto done;
    }
    /* Past this point the bytes are authentic, so a bad length or non-zero
     * padding means a faulty writer, not an attacker. The entropy length is
     * public (the word count) and may be branched on; the padding check
     * folds all bytes before a single branch. */
    if (!entropy_len_valid(plain[0])) {
        rc = kura_fail(err, KURA_EDATA, "keystore: decrypted entropy length invalid");
        goto done;
    }
    {
        uint8_t pad = 0;
        for (size_t i = 1u + plain[0]; i < KS_PLAIN_LEN; i++) pad |= plain[i];
        if (pad != 0) {
            rc = kura_fail(err, KURA_EDATA, "keystore: decrypted padding not zero");
            goto done;
        }
    }
    secret->entropy_len = plain[0];
    memcpy(secret->entropy, plain + 1, secret->entropy_len);
    rc = seed_and_fingerprint(ctx, secret->seed, fp, secret->entropy, secret->entropy_len, err);
    if (rc != KURA_OK) goto done;
    /* The fingerprint is public (it is in the header); comparing it is a
     * cross-check that the seed the signer will use is the one the file was
     * made for. */
    if (sodium_memcmp(fp, hdr.fingerprint, 4) != 0) {
        rc = kura_fail(err, KURA_EDATA,
                       "keystore: master fingerprint of the decrypted seed does not match the "
                       "header");
        goto done;
    }
    *out = secret;
    secret = NULL;
    if (info != NULL) *info = hdr;
done:
    if (key != NULL) {
        sodium_memzero(key, KS_KEY_LEN);
        sodium_free(key);
    }
    if (plain != NULL) {
        sodium_memzero(plain, KS_PLAIN_LEN);
        sodium_free(plain);
    }
    kura_keystore_secret_free(secret);
    return rc;
}

int kura_keystore_open(const kura_ctx *ctx, kura_keystore_secret **out, kura_keystore_info *info,
                       const char *path, const uint8_t *passphrase, size_t passphrase_len,
                       kura_error *err)
{
    uint8_t file[KURA_KEYSTORE_FILE_LEN + 1];
    size_t len = 0;
    int rc;
    if (out != NULL) *out = NULL;
    if (info != NULL) memset(info, 0, sizeof(*info));
    if (ctx == NULL || out == NULL || path == NULL || (passphrase == NULL && passphrase_len > 0))
        return kura_fail(err, KURA_EINVAL, "keystore: NULL argument");
    /* One byte more than a keystore, so an extended file is seen as such. */
    rc = kura_keystore_read_file(file, sizeof(file), &len, path, err);
    if (rc != KURA_OK) return rc;
    return kura_keystore_decrypt(ctx, out, info, file, len, passphrase, passphrase_len, err);
}

int kura_keystore_read_info(kura_keystore_info *out, const char *path, kura_error *err)
{
    uint8_t file[KURA_KEYSTORE_FILE_LEN + 1];
    size_t len = 0;
    int rc;
    if (out != NULL) memset(out, 0, sizeof(*out));
    if (out == NULL || path == NULL) return kura_fail(err, KURA_EINVAL, "keystore: NULL argument");
    rc = kura_keystore_read_file(file, sizeof(file), &len, path, err);
    if (rc != KURA_OK) return rc;
    return kura_keystore_parse(out, file, len, err);
}

/* Checks the arguments create and change share. */
static int check_new_passphrase(const uint8_t *passphrase, size_t passphrase_len,
                                const kura_keystore_kdf *kdf, kura_error *err)
{
    if (passphrase == NULL || passphrase_len == 0)
        return kura_fail(err, KURA_EINVAL, "keystore: empty passphrase");
    if (!kdf_in_range(kdf))
        return kura_fail(err, KURA_EINVAL, "keystore: KDF cost out of range");
    return KURA_OK;
}

int kura_keystore_create(const kura_ctx *ctx, const char *path, const uint8_t *entropy,
                         size_t entropy_len, const uint8_t *passphrase, size_t passphrase_len,
                         const kura_keystore_kdf *kdf, kura_network network, int64_t created,
                         kura_error *err)
{
    kura_keystore_info info;
    kura_keystore_kdf defaults;
    uint8_t file[KURA_KEYSTORE_FILE_LEN];
    uint8_t *seed = NULL;
    struct stat st;
    int rc;
    if (ctx == NULL || path == NULL || entropy == NULL)
        return kura_fail(err, KURA_EINVAL, "keystore: NULL argument");
    if (!entropy_len_valid(entropy_len))
        return kura_fail(err, KURA_EINVAL, "keystore: entropy must be 16, 20, 24, 28 or 32 bytes");
    if (kdf == NULL) {
        kura_keystore_kdf_default(&defaults);
        kdf = &defaults;
    }
    rc = check_new_passphrase(passphrase, passphrase_len, kdf, err);
    if (rc != KURA_OK) return rc;
    if (kura_network_name(network) == NULL)
        return kura_fail(err, KURA_EINVAL, "keystore: unknown network");
    if (created < 0 || created > KURA_KEYSTORE_TIME_MAX)
        return kura_fail(err, KURA_EINVAL, "keystore: creation time out of range");
    if (sodium_init() < 0) return kura_fail(err, KURA_ECRYPTO, "keystore: sodium_init failed");
    /* An early answer before seconds of Argon2id; the link() at the end is
     * what actually guarantees no keystore is ever replaced. */
    if (lstat(path, &st) == 0)
        return kura_fail(err, KURA_KEYSTORE_EEXIST, "keystore: %s already exists", path);

    memset(&info, 0, sizeof(info));
    info.version = KURA_KEYSTORE_VERSION;
    info.kdf = *kdf;
    info.created = created;
    info.network = network;
    seed = sodium_malloc(64);
    if (seed == NULL) return kura_fail(err, KURA_ENOMEM, "keystore: out of locked memory");
    rc = seed_and_fingerprint(ctx, seed, info.fingerprint, entropy, entropy_len, err);
    sodium_memzero(seed, 64);
    sodium_free(seed);
    if (rc != KURA_OK) return rc;
    rc = seal(file, &info, entropy, entropy_len, passphrase, passphrase_len, err);
    if (rc != KURA_OK) return rc;
    return kura_keystore_write_file(path, file, sizeof(file), 0, err);
}

int kura_keystore_change_passphrase(const kura_ctx *ctx, const char *path,
                                    const uint8_t *old_passphrase, size_t old_len,
                                    const uint8_t *new_passphrase, size_t new_len,
                                    const kura_keystore_kdf *kdf, kura_error *err)
{
    kura_keystore_secret *secret = NULL;
    kura_keystore_info info;
    kura_keystore_kdf defaults;
    uint8_t file[KURA_KEYSTORE_FILE_LEN];
    int rc;
    if (ctx == NULL || path == NULL || (old_passphrase == NULL && old_len > 0))
        return kura_fail(err, KURA_EINVAL, "keystore: NULL argument");
    if (kdf == NULL) {
        kura_keystore_kdf_default(&defaults);
        kdf = &defaults;
    }
    rc = check_new_passphrase(new_passphrase, new_len, kdf, err);
    if (rc != KURA_OK) return rc;
    rc = kura_keystore_open(ctx, &secret, &info, path, old_passphrase, old_len, err);
    if (rc != KURA_OK) return rc;
    info.kdf = *kdf;
    rc = seal(file, &info, secret->entropy, secret->entropy_len, new_passphrase, new_len, err);
    kura_keystore_secret_free(secret);
    if (rc != KURA_OK) return rc;
    return kura_keystore_write_file(path, file, sizeof(file), 1, err);
}
