/* Keystore: round trip against the BIP39/BIP32 values of a well-known
 * mnemonic, wrong passphrase, every byte of the file altered, truncation,
 * mode checks, atomic creation that never replaces, passphrase change, and
 * the wipe of the secret. Argon2id runs at libsodium's minimum cost here so
 * the suite stays fast; one test checks the defaults land in the header. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "kura/keystore.h"
#include "testutil.h"

static const kura_keystore_kdf cheap = {KURA_KEYSTORE_OPSLIMIT_MIN, KURA_KEYSTORE_MEMLIMIT_MIN};
static const uint8_t pass[] = "correct horse battery staple";
#define PASS_LEN (sizeof(pass) - 1)

typedef struct fixture {
    kura_ctx *ctx;
    char dir[64];
    char path[128];
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    if (f == NULL) return -1;
    f->ctx = kura_ctx_new();
    if (f->ctx == NULL) return -1;
    snprintf(f->dir, sizeof(f->dir), "/tmp/kura-ks-XXXXXX");
    if (mkdtemp(f->dir) == NULL) return -1;
    snprintf(f->path, sizeof(f->path), "%s/seed.kks", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    tu_remove_dir(f->dir);
    kura_ctx_free(f->ctx);
    free(f);
    return 0;
}

/* "abandon abandon ... about": entropy all zero. Seed (empty passphrase) and
 * master fingerprint as published with the BIP39 and BIP84 vectors. */
static const char *zero_seed_hex =
    "5eb00bbddcf069084889a8ab9155568165f5c453ccb85e70811aaed6f6da5fc1"
    "9a5ac40b389cd370d086206dec8aa6c43daea6690f20ad3d8d48b2d2ce9e38e4";

static void read_whole(const char *path, uint8_t *buf, size_t cap, size_t *len)
{
    int fd = open(path, O_RDONLY);
    ssize_t n;
    assert_true(fd >= 0);
    n = read(fd, buf, cap);
    assert_true(n >= 0);
    *len = (size_t)n;
    close(fd);
}

static void test_round_trip(void **state)
{
    fixture *f = *state;
    uint8_t entropy[16] = {0}, want_seed[64], want_fp[4] = {0x73, 0xc5, 0xda, 0x0a};
    kura_keystore_secret *s = NULL;
    kura_keystore_info info, info2;
    kura_error err;
    struct stat st;
    tu_unhex_fixed(zero_seed_hex, want_seed, 64);
    assert_int_equal(kura_keystore_create(f->ctx, f->path, entropy, 16, pass, PASS_LEN, &cheap,
                                          KURA_NETWORK_TESTNET, 1795000000, &err),
                     KURA_OK);
    assert_int_equal(stat(f->path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    assert_int_equal(st.st_size, KURA_KEYSTORE_FILE_LEN);

    assert_int_equal(kura_keystore_open(f->ctx, &s, &info, f->path, pass, PASS_LEN, &err),
                     KURA_OK);
    assert_non_null(s);
    assert_int_equal(s->entropy_len, 16);
    tu_assert_bytes_equal(s->entropy, 16, entropy, 16);
    tu_assert_bytes_equal(s->seed, 64, want_seed, 64);
    assert_int_equal(info.version, KURA_KEYSTORE_VERSION);
    assert_int_equal(info.network, KURA_NETWORK_TESTNET);
    assert_int_equal(info.created, 1795000000);
    assert_int_equal(info.kdf.opslimit, cheap.opslimit);
    assert_int_equal(info.kdf.memlimit, cheap.memlimit);
    tu_assert_bytes_equal(info.fingerprint, 4, want_fp, 4);
    kura_keystore_secret_free(s);

    /* Metadata without the passphrase is the same. */
    assert_int_equal(kura_keystore_read_info(&info2, f->path, &err), KURA_OK);
    assert_memory_equal(&info, &info2, sizeof(info));
}

static void test_round_trip_24_words(void **state)
{
    fixture *f = *state;
    uint8_t entropy[32];
    kura_keystore_secret *s = NULL;
    kura_error err;
    uint8_t seed[64];
    char words[24 * 9];
    for (size_t i = 0; i < 32; i++) entropy[i] = (uint8_t)(i * 7 + 1);
    assert_int_equal(kura_keystore_create(f->ctx, f->path, entropy, 32, pass, PASS_LEN, &cheap,
                                          KURA_NETWORK_MAINNET, 0, &err),
                     KURA_OK);
    assert_int_equal(kura_keystore_open(f->ctx, &s, NULL, f->path, pass, PASS_LEN, &err), KURA_OK);
    assert_int_equal(s->entropy_len, 32);
    tu_assert_bytes_equal(s->entropy, 32, entropy, 32);
    assert_int_equal(kura_bip39_from_entropy(words, sizeof(words), entropy, 32), KURA_OK);
    assert_int_equal(kura_bip39_to_seed(seed, words, NULL, NULL), KURA_OK);
    tu_assert_bytes_equal(s->seed, 64, seed, 64);
    kura_keystore_secret_free(s);
}

static void test_wrong_passphrase(void **state)
{
    fixture *f = *state;
    uint8_t entropy[20] = {1, 2, 3};
    kura_keystore_secret *s = (kura_keystore_secret *)(uintptr_t)1;
    kura_keystore_info info;
    kura_error err;
    assert_int_equal(kura_keystore_create(f->ctx, f->path, entropy, 20, pass, PASS_LEN, &cheap,
                                          KURA_NETWORK_MAINNET, 5, &err),
                     KURA_OK);
    memset(&info, 0xaa, sizeof(info));
    assert_int_equal(kura_keystore_open(f->ctx, &s, &info, f->path, pass, PASS_LEN - 1, &err),
                     KURA_KEYSTORE_EAUTH);
    assert_null(s);
    assert_int_equal(err.code, KURA_KEYSTORE_EAUTH);
    assert_non_null(strstr(err.message, "wrong passphrase or tampered file"));
    assert_int_equal(info.created, 0);
    assert_int_equal(kura_keystore_open(f->ctx, &s, NULL, f->path, (const uint8_t *)"", 0, &err),
                     KURA_KEYSTORE_EAUTH);
    assert_null(s);
    assert_string_equal(kura_keystore_status_name(KURA_KEYSTORE_EAUTH), "KURA_KEYSTORE_EAUTH");
}

/* Every byte of the file, flipped in its lowest and highest bit, is refused:
 * as a corrupt format when the field's range says so, otherwise by the AEAD. */
static void test_every_byte_flipped(void **state)
{
    fixture *f = *state;
    uint8_t entropy[16] = {9}, file[KURA_KEYSTORE_FILE_LEN + 1], bad[KURA_KEYSTORE_FILE_LEN];
    size_t len = 0;
    kura_keystore_secret *s = NULL;
    kura_error err;
    assert_int_equal(kura_keystore_create(f->ctx, f->path, entropy, 16, pass, PASS_LEN, &cheap,
                                          KURA_NETWORK_MAINNET, 1000, &err),
                     KURA_OK);
    read_whole(f->path, file, sizeof(file), &len);
    assert_int_equal(len, KURA_KEYSTORE_FILE_LEN);
    assert_int_equal(kura_keystore_decrypt(f->ctx, &s, NULL, file, len, pass, PASS_LEN, &err),
                     KURA_OK);
    kura_keystore_secret_free(s);
    for (size_t i = 0; i < KURA_KEYSTORE_FILE_LEN; i++) {
        static const uint8_t masks[2] = {0x01, 0x80};
        for (size_t m = 0; m < 2; m++) {
            int rc;
            memcpy(bad, file, sizeof(bad));
            bad[i] ^= masks[m];
            s = (kura_keystore_secret *)(uintptr_t)1;
            rc = kura_keystore_decrypt(f->ctx, &s, NULL, bad, sizeof(bad), pass, PASS_LEN, &err);
            if (rc != KURA_EDATA && rc != KURA_KEYSTORE_EAUTH)
                fail_msg("byte %zu mask %02x: got %s", i, masks[m], kura_keystore_status_name(rc));
            assert_null(s);
            /* Fields with no range to violate must be caught by the AEAD:
             * salt, nonce, network's low bit, fingerprint, the ciphertext. */
            if ((i >= 28 && i < 68) || (i >= 77) || (i == 76 && m == 0))
                assert_int_equal(rc, KURA_KEYSTORE_EAUTH);
            /* Magic, version and algorithm bytes are format errors. */
            if (i < 12) assert_int_equal(rc, KURA_EDATA);
        }
    }
    /* The same through the file path, for one header byte. */
    memcpy(bad, file, sizeof(bad));
    bad[KURA_KEYSTORE_HEADER_LEN - 1] ^= 0x10; /* a fingerprint byte */
    tu_write_new_file(f->path, bad, sizeof(bad), 0600);
    assert_int_equal(kura_keystore_open(f->ctx, &s, NULL, f->path, pass, PASS_LEN, &err),
                     KURA_KEYSTORE_EAUTH);
    assert_null(s);
}

static void test_truncated_and_extended(void **state)
{
    fixture *f = *state;
    uint8_t entropy[16] = {4}, file[KURA_KEYSTORE_FILE_LEN + 1];
    size_t len = 0;
    kura_keystore_secret *s = NULL;
    kura_keystore_info info;
    kura_error err;
    assert_int_equal(kura_keystore_create(f->ctx, f->path, entropy, 16, pass, PASS_LEN, &cheap,
                                          KURA_NETWORK_REGTEST, 1, &err),
                     KURA_OK);
    read_whole(f->path, file, sizeof(file), &len);
    for (size_t n = 0; n < KURA_KEYSTORE_FILE_LEN; n++) {
        assert_int_equal(kura_keystore_parse(&info, n ? file : NULL, n, &err), KURA_EDATA);
        assert_int_equal(kura_keystore_decrypt(f->ctx, &s, NULL, file, n, pass, PASS_LEN, &err),
                         KURA_EDATA);
        assert_null(s);
    }
    /* A truncated file on disk. */
    tu_write_new_file(f->path, file, 100, 0600);
    assert_int_equal(kura_keystore_open(f->ctx, &s, NULL, f->path, pass, PASS_LEN, &err),
                     KURA_EDATA);
    assert_non_null(strstr(err.message, "truncated"));
    /* One byte appended. */
    file[KURA_KEYSTORE_FILE_LEN] = 0;
    tu_write_new_file(f->path, file, KURA_KEYSTORE_FILE_LEN + 1, 0600);
    assert_int_equal(kura_keystore_open(f->ctx, &s, NULL, f->path, pass, PASS_LEN, &err),
                     KURA_EDATA);
    assert_int_equal(kura_keystore_read_info(&info, f->path, &err), KURA_EDATA);
    /* Unknown version and wrong magic say so. */
    file[8] = 2;
    assert_int_equal(kura_keystore_parse(&info, file, KURA_KEYSTORE_FILE_LEN, &err), KURA_EDATA);
    assert_non_null(strstr(err.message, "unknown format version 2"));
    file[0] = 'X';
    assert_int_equal(kura_keystore_parse(&info, file, KURA_KEYSTORE_FILE_LEN, &err), KURA_EDATA);
    assert_non_null(strstr(err.message, "bad magic"));
    assert_int_equal(info.kdf.opslimit, 0);
}

static void test_mode_check(void **state)
{
    fixture *f = *state;
    uint8_t entropy[16] = {5};
    kura_keystore_secret *s = NULL;
    kura_keystore_info info;
    kura_error err;
    static const mode_t open_modes[] = {0640, 0604, 0620, 0602, 0610, 0601, 0644, 0666};
    char sub[160];
    assert_int_equal(kura_keystore_create(f->ctx, f->path, entropy, 16, pass, PASS_LEN, &cheap,
                                          KURA_NETWORK_MAINNET, 1, &err),
                     KURA_OK);
    for (size_t i = 0; i < sizeof(open_modes) / sizeof(open_modes[0]); i++) {
        assert_int_equal(chmod(f->path, open_modes[i]), 0);
        assert_int_equal(kura_keystore_open(f->ctx, &s, NULL, f->path, pass, PASS_LEN, &err),
                         KURA_KEYSTORE_EPERM);
        assert_null(s);
        assert_non_null(strstr(err.message, "chmod 600"));
        assert_int_equal(kura_keystore_read_info(&info, f->path, &err), KURA_KEYSTORE_EPERM);
    }
    assert_int_equal(chmod(f->path, 0400), 0);
    assert_int_equal(kura_keystore_open(f->ctx, &s, NULL, f->path, pass, PASS_LEN, &err), KURA_OK);
    kura_keystore_secret_free(s);
    /* A directory is not a keystore. */
    snprintf(sub, sizeof(sub), "%s/dir", f->dir);
    assert_int_equal(mkdir(sub, 0700), 0);
    assert_int_equal(kura_keystore_read_info(&info, sub, &err), KURA_KEYSTORE_EPERM);
    /* A missing file. */
    snprintf(sub, sizeof(sub), "%s/missing", f->dir);
    assert_int_equal(kura_keystore_open(f->ctx, &s, NULL, sub, pass, PASS_LEN, &err),
                     KURA_ENOTFOUND);
}

static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;
    assert_non_null(d);
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.') n++;
    closedir(d);
    return n;
}

static void test_create_refuses_existing(void **state)
{
    fixture *f = *state;
    uint8_t e1[16] = {1}, e2[16] = {2}, before[200], after[200];
    size_t blen = 0, alen = 0;
    kura_keystore_secret *s = NULL;
    kura_error err;
    mode_t old;
    struct stat st;
    char other[160];
    /* A permissive umask must not loosen the mode. */
    old = umask(0);
    assert_int_equal(kura_keystore_create(f->ctx, f->path, e1, 16, pass, PASS_LEN, &cheap,
                                          KURA_NETWORK_MAINNET, 1, &err),
                     KURA_OK);
    umask(old);
    assert_int_equal(stat(f->path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    read_whole(f->path, before, sizeof(before), &blen);
    assert_int_equal(kura_keystore_create(f->ctx, f->path, e2, 16, pass, PASS_LEN, &cheap,
                                          KURA_NETWORK_MAINNET, 2, &err),
                     KURA_KEYSTORE_EEXIST);
    read_whole(f->path, after, sizeof(after), &alen);
    tu_assert_bytes_equal(after, alen, before, blen);
    assert_int_equal(kura_keystore_open(f->ctx, &s, NULL, f->path, pass, PASS_LEN, &err), KURA_OK);
    tu_assert_bytes_equal(s->entropy, 16, e1, 16);
    kura_keystore_secret_free(s);
    /* Any file at the path, even an empty one, is never replaced. */
    snprintf(other, sizeof(other), "%s/other", f->dir);
    tu_write_new_file(other, (const uint8_t *)"x", 1, 0600);
    assert_int_equal(kura_keystore_create(f->ctx, other, e2, 16, pass, PASS_LEN, &cheap,
                                          KURA_NETWORK_MAINNET, 2, &err),
                     KURA_KEYSTORE_EEXIST);
    /* No temporary files are left behind: the keystore and "other" only. */
    assert_int_equal(count_entries(f->dir), 2);
    /* A directory that does not exist is an I/O error. */
    snprintf(other, sizeof(other), "%s/nope/seed.kks", f->dir);
    assert_int_equal(kura_keystore_create(f->ctx, other, e2, 16, pass, PASS_LEN, &cheap,
                                          KURA_NETWORK_MAINNET, 2, &err),
                     KURA_KEYSTORE_EIO);
}

static void test_change_passphrase(void **state)
{
    fixture *f = *state;
    uint8_t entropy[24], before[200], after[200];
    size_t blen = 0, alen = 0;
    static const uint8_t newpass[] = "new passphrase";
    kura_keystore_kdf other = {2, 16384};
    kura_keystore_secret *s = NULL;
    kura_keystore_info i1, i2;
    kura_error err;
    struct stat st;
    for (size_t i = 0; i < sizeof(entropy); i++) entropy[i] = (uint8_t)(0xf0 ^ i);
    assert_int_equal(kura_keystore_create(f->ctx, f->path, entropy, 24, pass, PASS_LEN, &cheap,
                                          KURA_NETWORK_TESTNET, 77, &err),
                     KURA_OK);
    assert_int_equal(kura_keystore_read_info(&i1, f->path, &err), KURA_OK);
    read_whole(f->path, before, sizeof(before), &blen);
    /* Wrong old passphrase: nothing changes. */
    assert_int_equal(kura_keystore_change_passphrase(f->ctx, f->path, newpass, 3, newpass,
                                                     sizeof(newpass) - 1, &other, &err),
                     KURA_KEYSTORE_EAUTH);
    read_whole(f->path, after, sizeof(after), &alen);
    tu_assert_bytes_equal(after, alen, before, blen);
    /* Empty new passphrase refused. */
    assert_int_equal(
        kura_keystore_change_passphrase(f->ctx, f->path, pass, PASS_LEN, newpass, 0, &other, &err),
        KURA_EINVAL);
    assert_int_equal(kura_keystore_change_passphrase(f->ctx, f->path, pass, PASS_LEN, newpass,
                                                     sizeof(newpass) - 1, &other, &err),
                     KURA_OK);
    assert_int_equal(stat(f->path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    assert_int_equal(kura_keystore_open(f->ctx, &s, &i2, f->path, pass, PASS_LEN, &err),
                     KURA_KEYSTORE_EAUTH);
    assert_int_equal(kura_keystore_open(f->ctx, &s, &i2, f->path, newpass, sizeof(newpass) - 1,
                                        &err),
                     KURA_OK);
    tu_assert_bytes_equal(s->entropy, s->entropy_len, entropy, 24);
    kura_keystore_secret_free(s);
    assert_int_equal(i2.created, i1.created);
    assert_int_equal(i2.network, i1.network);
    assert_memory_equal(i2.fingerprint, i1.fingerprint, 4);
    assert_int_equal(i2.kdf.opslimit, 2);
    assert_int_equal(i2.kdf.memlimit, 16384);
    read_whole(f->path, after, sizeof(after), &alen);
    /* Fresh salt and nonce. */
    assert_memory_not_equal(after + 28, before + 28, 16);
    assert_memory_not_equal(after + 44, before + 44, 24);
    assert_int_equal(count_entries(f->dir), 1);
}

static void test_bad_arguments(void **state)
{
    fixture *f = *state;
    uint8_t entropy[32] = {0};
    kura_keystore_kdf k = cheap;
    kura_error err;
    kura_keystore_info info;
    assert_int_equal(kura_keystore_create(f->ctx, f->path, entropy, 15, pass, PASS_LEN, &cheap,
                                          KURA_NETWORK_MAINNET, 0, &err),
                     KURA_EINVAL);
    assert_int_equal(kura_keystore_create(f->ctx, f->path, entropy, 17, pass, PASS_LEN, &cheap,
                                          KURA_NETWORK_MAINNET, 0, &err),
                     KURA_EINVAL);
    assert_int_equal(kura_keystore_create(f->ctx, f->path, entropy, 16, pass, 0, &cheap,
                                          KURA_NETWORK_MAINNET, 0, &err),
                     KURA_EINVAL);
    k.opslimit = 0;
    assert_int_equal(kura_keystore_create(f->ctx, f->path, entropy, 16, pass, PASS_LEN, &k,
                                          KURA_NETWORK_MAINNET, 0, &err),
                     KURA_EINVAL);
    k = cheap;
    k.memlimit = KURA_KEYSTORE_MEMLIMIT_MAX + 1;
    assert_int_equal(kura_keystore_create(f->ctx, f->path, entropy, 16, pass, PASS_LEN, &k,
                                          KURA_NETWORK_MAINNET, 0, &err),
                     KURA_EINVAL);
    assert_int_equal(kura_keystore_create(f->ctx, f->path, entropy, 16, pass, PASS_LEN, &cheap,
                                          (kura_network)7, 0, &err),
                     KURA_EINVAL);
    assert_int_equal(kura_keystore_create(f->ctx, f->path, entropy, 16, pass, PASS_LEN, &cheap,
                                          KURA_NETWORK_MAINNET, -1, &err),
                     KURA_EINVAL);
    assert_int_equal(kura_keystore_create(NULL, f->path, entropy, 16, pass, PASS_LEN, &cheap,
                                          KURA_NETWORK_MAINNET, 0, &err),
                     KURA_EINVAL);
    assert_int_equal(count_entries(f->dir), 0);
    assert_int_equal(kura_keystore_parse(NULL, entropy, 1, &err), KURA_EINVAL);
    assert_int_equal(kura_keystore_read_info(&info, NULL, &err), KURA_EINVAL);
    kura_keystore_secret_free(NULL);
    kura_keystore_secret_wipe(NULL);
}

/* A header edited to a KDF cost outside the bounds is refused before any
 * Argon2id runs (the cost is not authenticated until after it). */
static void test_kdf_bounds_in_header(void **state)
{
    fixture *f = *state;
    uint8_t entropy[16] = {3}, file[KURA_KEYSTORE_FILE_LEN + 1];
    size_t len = 0;
    kura_keystore_info info;
    kura_error err;
    assert_int_equal(kura_keystore_create(f->ctx, f->path, entropy, 16, pass, PASS_LEN, &cheap,
                                          KURA_NETWORK_MAINNET, 1, &err),
                     KURA_OK);
    read_whole(f->path, file, sizeof(file), &len);
    memset(file + 20, 0xff, 8); /* memlimit 2^64-1 */
    assert_int_equal(kura_keystore_parse(&info, file, len, &err), KURA_EDATA);
    assert_non_null(strstr(err.message, "memlimit"));
    memset(file + 20, 0, 8);
    file[21] = 0x20; /* memlimit 8192 again */
    file[12] = 65;   /* opslimit 65 */
    assert_int_equal(kura_keystore_parse(&info, file, len, &err), KURA_EDATA);
    assert_non_null(strstr(err.message, "opslimit"));
}

static void test_default_kdf_recorded(void **state)
{
    fixture *f = *state;
    uint8_t entropy[16] = {8};
    kura_keystore_info info;
    kura_keystore_kdf d;
    kura_error err;
    kura_keystore_kdf_default(&d);
    assert_int_equal(d.opslimit, crypto_pwhash_OPSLIMIT_MODERATE);
    assert_int_equal(d.memlimit, crypto_pwhash_MEMLIMIT_MODERATE);
    assert_int_equal(kura_keystore_create(f->ctx, f->path, entropy, 16, pass, PASS_LEN, NULL,
                                          KURA_NETWORK_MAINNET, 1, &err),
                     KURA_OK);
    assert_int_equal(kura_keystore_read_info(&info, f->path, &err), KURA_OK);
    assert_int_equal(info.kdf.opslimit, d.opslimit);
    assert_int_equal(info.kdf.memlimit, d.memlimit);
}

/* The wipe helper zeroes the whole struct, and _free uses it. Checked on a
 * secret the library decrypted (sodium_malloc'd), before it is freed. */
static void test_secret_wiped(void **state)
{
    fixture *f = *state;
    uint8_t entropy[32];
    kura_keystore_secret *s = NULL;
    kura_error err;
    const uint8_t *bytes;
    memset(entropy, 0x5a, sizeof(entropy));
    assert_int_equal(kura_keystore_create(f->ctx, f->path, entropy, 32, pass, PASS_LEN, &cheap,
                                          KURA_NETWORK_MAINNET, 1, &err),
                     KURA_OK);
    assert_int_equal(kura_keystore_open(f->ctx, &s, NULL, f->path, pass, PASS_LEN, &err), KURA_OK);
    bytes = (const uint8_t *)s;
    {
        size_t nonzero = 0;
        for (size_t i = 0; i < sizeof(*s); i++) nonzero += bytes[i] != 0;
        assert_true(nonzero > 64);
    }
    kura_keystore_secret_wipe(s);
    for (size_t i = 0; i < sizeof(*s); i++)
        if (bytes[i] != 0) fail_msg("byte %zu of the secret not wiped", i);
    kura_keystore_secret_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_round_trip_24_words, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_passphrase, setup, teardown),
        cmocka_unit_test_setup_teardown(test_every_byte_flipped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncated_and_extended, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mode_check, setup, teardown),
        cmocka_unit_test_setup_teardown(test_create_refuses_existing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_change_passphrase, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_arguments, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kdf_bounds_in_header, setup, teardown),
        cmocka_unit_test_setup_teardown(test_default_kdf_recorded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_secret_wiped, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
