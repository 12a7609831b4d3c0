/*
 * programs/kura-cold/seed.c — the keystore: a new seed (init), a seed from
 * its words (restore), and the extended public keys cosigners need (xpub).
 *
 * Every secret here (OS randomness, typed entropy, the entropy, the words,
 * the passphrase, the master key) lives in memory from sodium_malloc (locked,
 * between guard pages) and is wiped on every path. The words are written to
 * the terminal with write(2) from that memory, never through stdio.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "cold.h"

#define WORDS_CAP (24 * 9 + 1) /* kura_bip39_from_entropy: 9 bytes a word */
#define WORD_PAD 16            /* every BIP39 English word is at most 8 letters */
#define CONFIRM_WORDS 3
#define CONFIRM_TRIES 3

static const char entropy_tag[] = "kura-cold seed entropy v1";

static int keystore_path(char *out, size_t len, const cold_env *env)
{
    if (cold_path(out, len, env->dir, COLD_FILE_KEYSTORE) != 0)
        return cold_fail(COLD_EXIT_CANNOT, "the data directory path is too long");
    return COLD_EXIT_OK;
}

/* The keystore must not exist yet (a new one never replaces it). */
static int keystore_absent(const char *path, const cold_env *env)
{
    if (access(path, F_OK) == 0)
        return cold_fail(COLD_EXIT_CANNOT,
                         "%s already holds a keystore; a new one never replaces it", env->dir);
    if (cold_mkdir(env->dir) != 0)
        return cold_fail(COLD_EXIT_CANNOT, "cannot create %s: %s", env->dir, strerror(errno));
    return COLD_EXIT_OK;
}

static int network_of(kura_network *out, const cold_env *env)
{
    kura_intent_chain chain = KURA_CHAIN_BITCOIN;
    const char *v = env->args->value[OPT_NETWORK];
    if (v != NULL && cold_parse_chain(&chain, v) != 0)
        return cold_fail(COLD_EXIT_CANNOT,
                         "unknown network '%s' (bitcoin, testnet, testnet4, signet, regtest)", v);
    kura_intent_chain_network(out, chain);
    return COLD_EXIT_OK;
}

/* Writes the keystore and says so. */
static int create_keystore(const cold_env *env, const char *path, const uint8_t *entropy,
                           size_t entropy_len, const cold_secret *pass, kura_network network)
{
    kura_keystore_kdf kdf;
    kura_keystore_info info;
    kura_error err;
    char fp[9];
    cold_kdf(&kdf);
    if (kura_keystore_create(env->ctx, path, entropy, entropy_len, pass->p, pass->len, &kdf,
                             network, env->now, &err) != KURA_OK)
        return cold_fail(COLD_EXIT_CANNOT, "%s", err.message);
    if (kura_keystore_read_info(&info, path, &err) != KURA_OK)
        return cold_fail(COLD_EXIT_CANNOT, "%s", err.message);
    sodium_bin2hex(fp, sizeof(fp), info.fingerprint, 4);
    printf("keystore written: %s (master fingerprint %s, network %s)\n", path, fp,
           kura_network_name(network));
    return COLD_EXIT_OK;
}

/* ---- init ---- */

/* Word i (0-based) of the mnemonic, padded with zeros to WORD_PAD bytes. */
static void word_at(uint8_t out[WORD_PAD], const char *mnemonic, size_t index)
{
    size_t w = 0, j = 0;
    sodium_memzero(out, WORD_PAD);
    for (const char *p = mnemonic; *p != '\0'; p++) {
        if (*p == ' ') {
            w++;
            continue;
        }
        if (w == index && j < WORD_PAD) out[j++] = (uint8_t)*p;
    }
}

/* Shows the words, numbered, one a line, straight from locked memory. */
static int show_words(const char *mnemonic, size_t count)
{
    uint8_t line[WORD_PAD + 8];
    int rc = 0;
    fflush(stdout);
    for (size_t i = 0; i < count && rc == 0; i++) {
        uint8_t w[WORD_PAD];
        size_t n = 0, wl = 0;
        word_at(w, mnemonic, i);
        while (wl < WORD_PAD && w[wl] != 0) wl++;
        line[n++] = (uint8_t)(i + 1 >= 10 ? '0' + (i + 1) / 10 : ' ');
        line[n++] = (uint8_t)('0' + (i + 1) % 10);
        line[n++] = '.';
        line[n++] = ' ';
        memcpy(line + n, w, wl);
        n += wl;
        line[n++] = '\n';
        rc = cold_write_all(STDOUT_FILENO, line, n);
        sodium_memzero(w, sizeof(w));
        sodium_memzero(line, sizeof(line));
    }
    return rc;
}

/* Asks for CONFIRM_WORDS words by position. Returns COLD_EXIT_OK when each
 * was typed right within CONFIRM_TRIES tries. */
static int confirm_words(const char *mnemonic, size_t count)
{
    size_t asked[CONFIRM_WORDS];
    cold_secret *typed = cold_secret_new(COLD_LINE_MAX);
    uint8_t want[WORD_PAD], got[WORD_PAD];
    int rc = COLD_EXIT_OK;
    if (typed == NULL) return cold_fail(COLD_EXIT_CANNOT, "cannot lock memory");
    for (size_t k = 0; k < CONFIRM_WORDS; k++) {
        size_t pos;
        int ok = 0;
        /* Distinct positions, chosen at random so that copying three words
         * is not enough: the whole list must have been written down. */
        for (;;) {
            int dup = 0;
            pos = randombytes_uniform((uint32_t)count);
            for (size_t j = 0; j < k; j++) dup |= asked[j] == pos;
            if (!dup) break;
        }
        asked[k] = pos;
        word_at(want, mnemonic, pos);
        for (int t = 0; t < CONFIRM_TRIES && !ok; t++) {
            size_t len = 0, b = 0, e;
            printf("Type word #%zu:\n", pos + 1);
            fflush(stdout);
            if (cold_read_line(STDIN_FILENO, (char *)typed->p, typed->cap, &len) != 1) {
                rc = cold_fail(COLD_EXIT_CANNOT,
                               "the words were not confirmed (end of input); nothing was "
                               "written");
                goto done;
            }
            e = len;
            while (b < e && (typed->p[b] == ' ' || typed->p[b] == '\t')) b++;
            while (e > b && (typed->p[e - 1] == ' ' || typed->p[e - 1] == '\t')) e--;
            sodium_memzero(got, sizeof(got));
            if (e - b <= WORD_PAD) {
                for (size_t i = b; i < e; i++) got[i - b] = (uint8_t)(typed->p[i] | 0x20);
                ok = sodium_memcmp(got, want, WORD_PAD) == 0;
            }
            sodium_memzero(typed->p, typed->cap);
            if (!ok) printf("That is not word #%zu.\n", pos + 1);
        }
        if (!ok) {
            rc = cold_fail(COLD_EXIT_CANNOT,
                           "word #%zu was not confirmed; nothing was written (run init again: "
                           "it shows new words)",
                           pos + 1);
            goto done;
        }
    }
done:
    sodium_memzero(want, sizeof(want));
    sodium_memzero(got, sizeof(got));
    cold_secret_free(typed);
    return rc;
}

/* Operator-typed entropy, hashed into hs line by line. */
static int extra_entropy(crypto_generichash_state *hs)
{
    cold_secret *line = cold_secret_new(COLD_LINE_MAX);
    size_t total = 0;
    int rc = COLD_EXIT_OK;
    if (line == NULL) return cold_fail(COLD_EXIT_CANNOT, "cannot lock memory");
    printf("Type extra entropy (dice rolls, coin flips, random keys); an empty line ends it:\n");
    fflush(stdout);
    for (;;) {
        size_t len = 0;
        int r = cold_read_line(STDIN_FILENO, (char *)line->p, line->cap, &len);
        if (r < 0) {
            rc = cold_fail(COLD_EXIT_CANNOT, "cannot read the extra entropy (line too long?)");
            break;
        }
        if (r == 0 || len == 0) break;
        crypto_generichash_update(hs, line->p, len + 1); /* the NUL separates lines */
        total += len;
        sodium_memzero(line->p, line->cap);
    }
    if (rc == COLD_EXIT_OK) printf("%zu characters of extra entropy mixed in.\n", total);
    cold_secret_free(line);
    return rc;
}

int cold_cmd_init(const cold_env *env)
{
    char path[PATH_MAX];
    const char *wv = env->args->value[OPT_WORDS];
    size_t words = 24, entropy_len;
    kura_network network;
    cold_secret *pass = NULL, *os = NULL, *entropy = NULL, *mnemonic = NULL;
    crypto_generichash_state *hs = NULL;
    int rc;
    if (wv != NULL) {
        if (strcmp(wv, "12") == 0) words = 12;
        else if (strcmp(wv, "15") == 0) words = 15;
        else if (strcmp(wv, "18") == 0) words = 18;
        else if (strcmp(wv, "21") == 0) words = 21;
        else if (strcmp(wv, "24") == 0) words = 24;
        else return cold_fail(COLD_EXIT_CANNOT, "--words takes 12, 15, 18, 21 or 24");
    }
    entropy_len = words * 4 / 3;
    if ((rc = network_of(&network, env)) != COLD_EXIT_OK) return rc;
    if ((rc = keystore_path(path, sizeof(path), env)) != COLD_EXIT_OK) return rc;
    if ((rc = keystore_absent(path, env)) != COLD_EXIT_OK) return rc;
    /* The passphrase first: the words are shown only once, so nothing that
     * can still fail should come after them but the keystore write. */
    rc = cold_read_passphrase(env, &pass, 1, COLD_PASSPHRASE_MIN);
    if (rc != COLD_EXIT_OK) return rc;
    os = cold_secret_new(32);
    entropy = cold_secret_new(32);
    mnemonic = cold_secret_new(WORDS_CAP);
    hs = sodium_malloc(sizeof(*hs));
    if (os == NULL || entropy == NULL || mnemonic == NULL || hs == NULL) {
        rc = cold_fail(COLD_EXIT_CANNOT, "cannot lock memory for the seed");
        goto done;
    }
    /* The OS random source, hashed together with what the operator types:
     * a weak or backdoored RNG is then not enough alone, and typed entropy
     * never weakens the result (BLAKE2b of both). */
    randombytes_buf(os->p, 32);
    crypto_generichash_init(hs, NULL, 0, entropy_len);
    crypto_generichash_update(hs, (const uint8_t *)entropy_tag, sizeof(entropy_tag));
    crypto_generichash_update(hs, os->p, 32);
    if (env->args->value[OPT_EXTRA_ENTROPY] != NULL) {
        rc = extra_entropy(hs);
        if (rc != COLD_EXIT_OK) goto done;
    }
    crypto_generichash_final(hs, entropy->p, entropy_len);
    entropy->len = entropy_len;
    if (kura_bip39_from_entropy((char *)mnemonic->p, mnemonic->cap, entropy->p, entropy_len) !=
        KURA_OK) {
        rc = cold_fail(COLD_EXIT_CANNOT, "cannot make the words");
        goto done;
    }
    printf("This signer's seed is these %zu words. Write them down in order, on paper.\n"
           "They are shown once and are the only backup of this key.\n\n",
           words);
    fflush(stdout);
    if (show_words((const char *)mnemonic->p, words) != 0) {
        rc = cold_fail(COLD_EXIT_CANNOT, "cannot show the words: %s", strerror(errno));
        goto done;
    }
    printf("\nTo confirm that they are written down, type the words asked for.\n");
    rc = confirm_words((const char *)mnemonic->p, words);
    if (rc != COLD_EXIT_OK) goto done;
    /* Off the screen (and the terminal's scrollback) once confirmed. */
    if (isatty(STDOUT_FILENO)) {
        static const char clear[] = "\033[H\033[2J\033[3J";
        fflush(stdout);
        (void)cold_write_all(STDOUT_FILENO, clear, sizeof(clear) - 1);
    }
    printf("Words confirmed.\n");
    rc = create_keystore(env, path, entropy->p, entropy_len, pass, network);
done:
    if (hs != NULL) {
        sodium_memzero(hs, sizeof(*hs));
        sodium_free(hs);
    }
    cold_secret_free(mnemonic);
    cold_secret_free(entropy);
    cold_secret_free(os);
    cold_secret_free(pass);
    return rc;
}

/* ---- restore ---- */

/* Reads words from stdin into m (single spaces, lower case): up to an empty
 * line, the end of input, or the end of the line that completes 24 words.
 * Never earlier: the first 12 words of 24 pass the 12-word checksum one time
 * in 16, and stopping there would restore another wallet. */
static int read_words(cold_secret *m, size_t *count)
{
    cold_secret *line = cold_secret_new(COLD_LINE_MAX);
    int rc = COLD_EXIT_OK;
    *count = 0;
    m->len = 0;
    if (line == NULL) return cold_fail(COLD_EXIT_CANNOT, "cannot lock memory");
    for (;;) {
        size_t len = 0;
        int r = cold_read_line(STDIN_FILENO, (char *)line->p, line->cap, &len);
        if (r < 0) {
            rc = cold_fail(COLD_EXIT_CANNOT, "cannot read the words (line too long?)");
            break;
        }
        if (r == 0 || len == 0) break;
        for (size_t i = 0; i < len; i++) {
            uint8_t c = line->p[i];
            if (c == ' ' || c == '\t') continue;
            if (i == 0 || line->p[i - 1] == ' ' || line->p[i - 1] == '\t') {
                if (*count == 24) {
                    rc = cold_fail(COLD_EXIT_CANNOT, "more than 24 words");
                    goto done;
                }
                if (m->len > 0) m->p[m->len++] = ' ';
                (*count)++;
            }
            if (m->len + 2 >= m->cap) {
                rc = cold_fail(COLD_EXIT_CANNOT, "the words are too long to be BIP39 words");
                goto done;
            }
            /* Lower case without a branch on the letter: OR 0x20 leaves
             * lower-case letters alone and lowers upper-case ones. */
            m->p[m->len++] = (uint8_t)(c | 0x20);
        }
        sodium_memzero(line->p, line->cap);
        if (*count == 24) break;
    }
done:
    m->p[m->len] = 0;
    cold_secret_free(line);
    return rc;
}

int cold_cmd_restore(const cold_env *env)
{
    char path[PATH_MAX];
    kura_network network;
    cold_secret *pass = NULL, *m = NULL, *entropy = NULL;
    kura_error err;
    size_t count = 0;
    int rc;
    if ((rc = network_of(&network, env)) != COLD_EXIT_OK) return rc;
    if ((rc = keystore_path(path, sizeof(path), env)) != COLD_EXIT_OK) return rc;
    if ((rc = keystore_absent(path, env)) != COLD_EXIT_OK) return rc;
    rc = cold_read_passphrase(env, &pass, 1, COLD_PASSPHRASE_MIN);
    if (rc != COLD_EXIT_OK) return rc;
    m = cold_secret_new(COLD_LINE_MAX);
    entropy = cold_secret_new(32);
    if (m == NULL || entropy == NULL) {
        rc = cold_fail(COLD_EXIT_CANNOT, "cannot lock memory for the words");
        goto done;
    }
    printf("Type the 12, 15, 18, 21 or 24 words of the seed, separated by spaces, on one line\n"
           "or several; then an empty line (24 words end by themselves):\n");
    fflush(stdout);
    rc = read_words(m, &count);
    if (rc != COLD_EXIT_OK) goto done;
    if (count == 0) {
        rc = cold_fail(COLD_EXIT_CANNOT, "no words were typed");
        goto done;
    }
    /* The error names a position and a reason, never a word. */
    if (kura_bip39_to_entropy(entropy->p, entropy->cap, &entropy->len, (const char *)m->p, &err) !=
        KURA_OK) {
        rc = cold_fail(COLD_EXIT_CANNOT, "%s", err.message);
        goto done;
    }
    rc = create_keystore(env, path, entropy->p, entropy->len, pass, network);
done:
    cold_secret_free(entropy);
    cold_secret_free(m);
    cold_secret_free(pass);
    return rc;
}

/* ---- opening the keystore ---- */

void cold_master_free(kura_bip32_key *master)
{
    if (master == NULL) return;
    kura_bip32_wipe(master);
    sodium_free(master);
}

int cold_open_keystore(const cold_env *env, kura_keystore_secret **secret,
                       kura_keystore_info *info)
{
    char path[PATH_MAX];
    cold_secret *pass = NULL;
    kura_error err;
    int rc;
    *secret = NULL;
    if ((rc = keystore_path(path, sizeof(path), env)) != COLD_EXIT_OK) return rc;
    if (access(path, F_OK) != 0 && errno == ENOENT)
        return cold_fail(COLD_EXIT_CANNOT,
                         "no keystore in %s: run `kura-cold init` or `kura-cold restore`",
                         env->dir);
    /* The file's own faults first, before a passphrase is asked for. */
    rc = kura_keystore_read_info(info, path, &err);
    if (rc == KURA_EDATA)
        return cold_fail(COLD_EXIT_CANNOT, "corrupt keystore: %s", err.message);
    if (rc != KURA_OK) return cold_fail(COLD_EXIT_CANNOT, "%s", err.message);
    rc = cold_read_passphrase(env, &pass, 0, 0);
    if (rc != COLD_EXIT_OK) return rc;
    rc = kura_keystore_open(env->ctx, secret, info, path, pass->p, pass->len, &err);
    cold_secret_free(pass);
    if (rc == KURA_KEYSTORE_EAUTH)
        return cold_fail(COLD_EXIT_CANNOT,
                         "wrong passphrase (or the keystore file was altered: the two cannot "
                         "be told apart)");
    if (rc == KURA_EDATA)
        return cold_fail(COLD_EXIT_CANNOT, "corrupt keystore: %s", err.message);
    if (rc != KURA_OK) return cold_fail(COLD_EXIT_CANNOT, "%s", err.message);
    return COLD_EXIT_OK;
}

int cold_master_from_secret(const cold_env *env, kura_bip32_key **master,
                            const kura_keystore_secret *secret, const kura_keystore_info *info)
{
    kura_bip32_key *m = sodium_malloc(sizeof(*m));
    uint8_t fp[4];
    *master = NULL;
    if (m == NULL) return cold_fail(COLD_EXIT_CANNOT, "cannot lock memory for the key");
    if (kura_bip32_from_seed(env->ctx, m, secret->seed, sizeof(secret->seed), info->network) !=
            KURA_OK ||
        kura_bip32_fingerprint(fp, m) != KURA_OK || memcmp(fp, info->fingerprint, 4) != 0) {
        cold_master_free(m);
        return cold_fail(COLD_EXIT_CANNOT, "the keystore's seed does not give its master key");
    }
    *master = m;
    return COLD_EXIT_OK;
}

int cold_open_master(const cold_env *env, kura_bip32_key **master, kura_keystore_info *info)
{
    kura_keystore_secret *secret = NULL;
    int rc;
    *master = NULL;
    rc = cold_open_keystore(env, &secret, info);
    if (rc != COLD_EXIT_OK) return rc;
    rc = cold_master_from_secret(env, master, secret, info);
    kura_keystore_secret_free(secret);
    return rc;
}

/* ---- xpub ---- */

int cold_cmd_xpub(const cold_env *env)
{
    const char *ps = env->args->value[OPT_PATH];
    uint32_t path[KURA_BIP32_PATH_MAX];
    size_t path_len = 0;
    char text[KURA_BIP32_PATH_MAX * 12 + 8], def[64], xpub[KURA_BIP32_SERIALIZED_LEN], fp[9];
    kura_bip32_key *master = NULL, *child = NULL;
    kura_keystore_info info;
    kura_error err;
    uint8_t mfp[4];
    int rc;
    rc = cold_open_master(env, &master, &info);
    if (rc != COLD_EXIT_OK) return rc;
    if (ps == NULL) {
        /* BIP48: m/48'/coin'/account'/2' for P2WSH multisig. */
        snprintf(def, sizeof(def), "m/48h/%uh/0h/2h",
                 info.network == KURA_NETWORK_MAINNET ? 0u : 1u);
        ps = def;
    }
    if (kura_bip32_path_parse(path, KURA_BIP32_PATH_MAX, &path_len, ps, &err) != KURA_OK) {
        rc = cold_fail(COLD_EXIT_CANNOT, "bad path '%s': %s", ps, err.message);
        goto done;
    }
    child = sodium_malloc(sizeof(*child));
    if (child == NULL) {
        rc = cold_fail(COLD_EXIT_CANNOT, "cannot lock memory for the key");
        goto done;
    }
    if (kura_bip32_derive_path(env->ctx, child, master, path, path_len) != KURA_OK ||
        kura_bip32_fingerprint(mfp, master) != KURA_OK) {
        rc = cold_fail(COLD_EXIT_CANNOT, "cannot derive %s", ps);
        goto done;
    }
    kura_bip32_neuter(child, child);
    if (kura_bip32_serialize(xpub, sizeof(xpub), child, 0) != KURA_OK ||
        kura_bip32_path_format(text, sizeof(text), path, path_len) != KURA_OK) {
        rc = cold_fail(COLD_EXIT_CANNOT, "cannot write the key");
        goto done;
    }
    sodium_bin2hex(fp, sizeof(fp), mfp, 4);
    /* A descriptor key expression with its origin: [fingerprint/path]xpub. */
    printf("[%s%s]%s\n", fp, path_len > 0 ? text + 1 : "", xpub);
    rc = COLD_EXIT_OK;
done:
    cold_master_free(child);
    cold_master_free(master);
    return rc;
}
