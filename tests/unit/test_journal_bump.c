/* Journal, fee bumps (format version 2): `input` entries and the signed
 * entry that counts them; kura_journal_append_signature's replacement rules
 * (a "replacement" spending other coins, a subset of them, a fee not
 * higher, no BIP125 signal: each refused as a replay, nothing written); the
 * rolling sum counting a bumped intent once with its highest fee; the
 * chain rules for input counts and replaced entries; and a version-1
 * journal that loads and takes version-2 entries. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>

#include "kura/hash.h"
#include "kura/journal.h"
#include "testutil.h"

#define T0 1795000000 /* 2026-11-18T11:06:40Z */

/* A journal written by the version-1 code (docs/journal-format.md's
 * example): init kura-journal-1, a policy, a 10-field signed entry, two
 * refusals, a recovery. */
static const char V1_JOURNAL[] =
    "0 2026-11-18T11:06:40Z init kura-journal-1 0000000000000000000000000000000000000000000000000000000000000000 74ac8f438cf3c5b22ca688d465b6aa8328585995825e74d0bf7c9907ce203136\n"
    "1 2026-11-18T11:06:41Z policy 4 823412d1eacb67956220e532959f0104603057c88704863ca38e7cd188fda812 74ac8f438cf3c5b22ca688d465b6aa8328585995825e74d0bf7c9907ce203136 3f90b264248c28ce065932776ddf814f15586bb27243014cb8a0f5264167e68d\n"
    "2 2026-11-18T11:06:42Z signed 282bcbc3f0a34a8a4ac6f00c276fcf66cf3757a3332e83d92208e5079af46922 4f1c2a9e7b3d4c58a1e0f6b2d9c3e7a1 152500000 4000 6c448e5218b43008561064f5d494c7ed91ff23da9bde30526a008d3ecb9c5b1b 3f90b264248c28ce065932776ddf814f15586bb27243014cb8a0f5264167e68d ea85e5d7514c3c502caf18cd63b296f4da20b0156b351dfc88bac70c1c202adb\n"
    "3 2026-11-18T11:06:43Z refused 282bcbc3f0a34a8a4ac6f00c276fcf66cf3757a3332e83d92208e5079af46922 KURA_JOURNAL_EREPLAY ea85e5d7514c3c502caf18cd63b296f4da20b0156b351dfc88bac70c1c202adb 61007766978b8a51bd370059b9433baf0adcd1583f624e45d8b1c4c11a23502b\n"
    "4 2026-11-18T11:06:44Z refused - KURA_EDATA 61007766978b8a51bd370059b9433baf0adcd1583f624e45d8b1c4c11a23502b 9a6a94dca0f40f779b9532c30d17bfe22b157ed93e0f2142f94aafc31fe8b95d\n"
    "5 2026-11-18T11:08:20Z recovered 20 a1d61dcd442f384a8ac078a2500335b390b7f8eaa930b2dc7e853894f4900425 9a6a94dca0f40f779b9532c30d17bfe22b157ed93e0f2142f94aafc31fe8b95d 8f50a81eb639483d2daeb1bbdcb1ce159048eb8189a4098a7cff75fae9f8cc88\n";
#define V1_INTENT_HASH "282bcbc3f0a34a8a4ac6f00c276fcf66cf3757a3332e83d92208e5079af46922"

typedef struct fixture {
    char dir[64];
    char path[128];
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    if (f == NULL) return -1;
    snprintf(f->dir, sizeof(f->dir), "/tmp/kura-jbump-XXXXXX");
    if (mkdtemp(f->dir) == NULL) return -1;
    snprintf(f->path, sizeof(f->path), "%s/journal", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    tu_remove_dir(f->dir);
    free(f);
    return 0;
}

static void hash_of(uint8_t out[32], const char *s)
{
    kura_sha256(out, (const uint8_t *)s, strlen(s));
}

static void hex_to(uint8_t out[32], const char *hex)
{
    for (size_t i = 0; i < 32; i++) {
        unsigned v;
        assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
        out[i] = (uint8_t)v;
    }
}

/* Outpoint n: txid sha256("coin n"), vout n % 3. */
static kura_journal_outpoint coin(unsigned n)
{
    kura_journal_outpoint o;
    char s[32];
    snprintf(s, sizeof(s), "coin %u", n);
    hash_of(o.txid, s);
    o.vout = n % 3;
    return o;
}

#define ID "4f1c2a9e7b3d4c58a1e0f6b2d9c3e7a1"

static int sign_with(kura_journal *j, kura_journal_entry *out, int64_t t, const char *intent,
                     uint64_t fee, int bip125, const unsigned *coins, size_t n, kura_error *err)
{
    uint8_t h[32], tx[32];
    kura_journal_outpoint ops[8];
    char s[64];
    hash_of(h, intent);
    snprintf(s, sizeof(s), "%s tx fee %llu", intent, (unsigned long long)fee);
    hash_of(tx, s);
    for (size_t i = 0; i < n; i++) ops[i] = coin(coins[i]);
    return kura_journal_append_signature(j, out, t, h, ID, 60000000, fee, tx, bip125, ops, n, err);
}

static uint64_t file_size(const char *path)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return (uint64_t)st.st_size;
}

/* An original, a bump of it, a bump of the bump: each names the one before,
 * the rolling sum counts the intent once with the highest fee, and a
 * reopened journal agrees. */
static void test_bump_chain(void **state)
{
    fixture *f = *state;
    kura_journal *j = NULL;
    kura_journal_entry e;
    kura_journal_signature sigs[4];
    kura_error err;
    uint8_t h[32];
    uint64_t amount, fee, count;
    size_t n;
    const unsigned two[] = {1, 2}, three[] = {2, 1, 3};

    hash_of(h, "intent A");
    assert_int_equal(kura_journal_create(&j, f->path, T0, &err), KURA_OK);
    assert_int_equal(sign_with(j, &e, T0 + 10, "intent A", 5000, 1, two, 2, &err), KURA_OK);
    assert_int_equal(e.seq, 3); /* init, input, input, signed */
    assert_int_equal(e.input_count, 2);
    assert_int_equal(e.has_replaces, 0);
    assert_int_equal(kura_journal_sum_24h(j, &amount, &fee, T0 + 20), KURA_OK);
    assert_int_equal(amount, 60000000);
    assert_int_equal(fee, 5000);

    /* The bump: same coins in another order, higher fee. */
    assert_int_equal(sign_with(j, &e, T0 + 100, "intent A", 9000, 1, two + 1, 1, &err),
                     KURA_JOURNAL_EREPLAY); /* a subset: coin 1 not spent again */
    {
        const unsigned swapped[] = {2, 1};
        assert_int_equal(sign_with(j, &e, T0 + 100, "intent A", 9000, 1, swapped, 2, &err),
                         KURA_OK);
    }
    assert_int_equal(e.seq, 6);
    assert_int_equal(e.has_replaces, 1);
    assert_int_equal(e.replaces, 3);
    assert_int_equal(kura_journal_sum_24h(j, &amount, &fee, T0 + 200), KURA_OK);
    assert_int_equal(amount, 60000000);
    assert_int_equal(fee, 9000);

    /* A bump of the bump may add a coin (to pay the fee). */
    assert_int_equal(sign_with(j, &e, T0 + 200, "intent A", 15000, 1, three, 3, &err), KURA_OK);
    assert_int_equal(e.seq, 10);
    assert_int_equal(e.replaces, 6);
    assert_int_equal(kura_journal_sum_24h(j, &amount, &fee, T0 + 300), KURA_OK);
    assert_int_equal(amount, 60000000);
    assert_int_equal(fee, 15000);
    /* The window follows the latest signature: a day after the original,
     * the intent still counts. */
    assert_int_equal(kura_journal_sum_24h(j, &amount, &fee, T0 + 10 + 86400), KURA_OK);
    assert_int_equal(amount, 60000000);
    assert_int_equal(kura_journal_sum_24h(j, &amount, &fee, T0 + 200 + 86400), KURA_OK);
    assert_int_equal(amount, 0);

    assert_int_equal(kura_journal_signatures(j, sigs, 4, &n, h), KURA_OK);
    assert_int_equal(n, 3);
    assert_int_equal(sigs[0].seq, 3);
    assert_int_equal(sigs[0].fee, 5000);
    assert_int_equal(sigs[0].bip125, 1);
    assert_int_equal(sigs[0].input_count, 2);
    assert_memory_equal(sigs[0].inputs[0].txid, coin(1).txid, 32);
    assert_int_equal(sigs[0].inputs[1].vout, coin(2).vout);
    assert_int_equal(sigs[1].has_replaces, 1);
    assert_int_equal(sigs[1].replaces, 3);
    assert_int_equal(sigs[2].input_count, 3);
    assert_int_equal(sigs[2].fee, 15000);
    assert_int_equal(sigs[2].amount, 60000000);
    assert_int_equal(kura_journal_find_signed(j, &count, h), KURA_OK);
    assert_int_equal(count, 3);
    kura_journal_free(j);

    /* Reopened: the same answers from the file. */
    assert_int_equal(kura_journal_open(&j, f->path, KURA_JOURNAL_READ_ONLY, &err), KURA_OK);
    assert_int_equal(kura_journal_sum_24h(j, &amount, &fee, T0 + 300), KURA_OK);
    assert_int_equal(amount, 60000000);
    assert_int_equal(fee, 15000);
    memset(sigs, 0, sizeof(sigs));
    assert_int_equal(kura_journal_signatures(j, sigs, 4, &n, h), KURA_OK);
    assert_int_equal(n, 3);
    assert_int_equal(sigs[2].replaces, 6);
    assert_int_equal(sigs[2].input_count, 3);
    assert_memory_equal(sigs[2].inputs[2].txid, coin(3).txid, 32);
    assert_int_equal(sigs[1].inputs[0].vout, coin(2).vout);
    /* Only the first two fit: the count is still all of them. */
    assert_int_equal(kura_journal_signatures(j, sigs, 2, &n, h), KURA_OK);
    assert_int_equal(n, 3);
    assert_int_equal(kura_journal_signatures(j, NULL, 0, &n, h), KURA_OK);
    assert_int_equal(n, 3);
    assert_int_equal(kura_journal_signatures(j, NULL, 1, &n, h), KURA_EINVAL);
    hash_of(h, "never signed");
    assert_int_equal(kura_journal_signatures(j, sigs, 4, &n, h), KURA_OK);
    assert_int_equal(n, 0);
    assert_int_equal(kura_journal_verify(j, NULL, &err), KURA_OK);
    kura_journal_free(j);
}

/* Every way a second signature is not a replacement: refused as a replay,
 * and the file is left exactly as it was. */
static void test_bump_refusals(void **state)
{
    fixture *f = *state;
    kura_journal *j = NULL;
    kura_error err;
    uint64_t size;
    const unsigned two[] = {1, 2}, other[] = {1, 4}, one[] = {1}, more[] = {1, 2, 5};
    uint8_t h[32], tx[32];
    kura_journal_outpoint ops[2] = {coin(1), coin(2)};

    assert_int_equal(kura_journal_create(&j, f->path, T0, &err), KURA_OK);
    assert_int_equal(sign_with(j, NULL, T0 + 10, "intent A", 5000, 1, two, 2, &err), KURA_OK);
    size = file_size(f->path);
    /* Spends different coins: a second payment. */
    assert_int_equal(sign_with(j, NULL, T0 + 20, "intent A", 9000, 1, other, 2, &err),
                     KURA_JOURNAL_EREPLAY);
    assert_non_null(strstr(err.message, "second payment"));
    /* A subset of the coins. */
    assert_int_equal(sign_with(j, NULL, T0 + 20, "intent A", 9000, 1, one, 1, &err),
                     KURA_JOURNAL_EREPLAY);
    /* Fee not higher (equal, lower). */
    assert_int_equal(sign_with(j, NULL, T0 + 20, "intent A", 5000, 1, more, 3, &err),
                     KURA_JOURNAL_EREPLAY);
    assert_non_null(strstr(err.message, "not above"));
    assert_int_equal(sign_with(j, NULL, T0 + 20, "intent A", 4000, 1, two, 2, &err),
                     KURA_JOURNAL_EREPLAY);
    /* No BIP125 signal on the replacement. */
    assert_int_equal(sign_with(j, NULL, T0 + 20, "intent A", 9000, 0, two, 2, &err),
                     KURA_JOURNAL_EREPLAY);
    assert_int_equal(file_size(f->path), size);
    /* Nor of an original that did not signal. */
    assert_int_equal(sign_with(j, NULL, T0 + 30, "intent B", 5000, 0, two, 2, &err), KURA_OK);
    size = file_size(f->path);
    assert_int_equal(sign_with(j, NULL, T0 + 40, "intent B", 9000, 1, two, 2, &err),
                     KURA_JOURNAL_EREPLAY);
    assert_non_null(strstr(err.message, "BIP125"));
    /* Nor of a version-1 signature (its coins were not recorded). */
    hash_of(h, "intent C");
    hash_of(tx, "tx C");
    assert_int_equal(kura_journal_append_signed(j, NULL, T0 + 50, h, ID, 1000, 100, tx, &err),
                     KURA_OK);
    size = file_size(f->path);
    assert_int_equal(kura_journal_append_signature(j, NULL, T0 + 60, h, ID, 1000, 900, tx, 1, ops,
                                                   2, &err),
                     KURA_JOURNAL_EREPLAY);
    assert_non_null(strstr(err.message, "without its inputs recorded"));
    /* And the version-1 append still refuses any second signature. */
    assert_int_equal(kura_journal_append_signed(j, NULL, T0 + 60, h, ID, 1000, 900, tx, &err),
                     KURA_JOURNAL_EREPLAY);
    assert_int_equal(file_size(f->path), size);
    /* Misuse. */
    assert_int_equal(kura_journal_append_signature(j, NULL, T0 + 60, h, ID, 1, 1, tx, 1, ops, 0,
                                                   &err),
                     KURA_EINVAL);
    assert_int_equal(kura_journal_append_signature(j, NULL, T0 + 60, h, ID, 1, 1, tx, 2, ops, 2,
                                                   &err),
                     KURA_EINVAL);
    assert_int_equal(kura_journal_append_signature(j, NULL, T0 + 60, h, ID, 1, 1, tx, 1, NULL, 2,
                                                   &err),
                     KURA_EINVAL);
    assert_int_equal(file_size(f->path), size);
    kura_journal_free(j);
}

/* The old format loads, answers, and takes version-2 entries after it. */
static void test_v1_journal_loads(void **state)
{
    fixture *f = *state;
    kura_journal *j = NULL;
    kura_journal_entry e;
    kura_journal_signature sig;
    kura_error err;
    uint64_t bad, amount, fee;
    uint8_t h[32], tx[32];
    size_t n;
    int fd;
    const unsigned two[] = {1, 2};
    kura_journal_outpoint ops[2] = {coin(1), coin(2)};

    assert_int_equal(kura_journal_parse(&j, &bad, (const uint8_t *)V1_JOURNAL, strlen(V1_JOURNAL),
                                        &err),
                     KURA_OK);
    assert_int_equal(bad, 6);
    hex_to(h, V1_INTENT_HASH);
    assert_int_equal(kura_journal_find_signed(j, NULL, h), KURA_OK);
    assert_int_equal(kura_journal_signatures(j, &sig, 1, &n, h), KURA_OK);
    assert_int_equal(n, 1);
    assert_int_equal(sig.bip125, -1);
    assert_null(sig.inputs);
    assert_int_equal(sig.input_count, 0);
    assert_int_equal(sig.fee, 4000);
    assert_int_equal(kura_journal_sum_24h(j, &amount, &fee, T0 + 100), KURA_OK);
    assert_int_equal(amount, 152500000);
    assert_int_equal(fee, 4000);
    kura_journal_free(j);
    assert_int_equal(kura_journal_entry_parse(&e, (const uint8_t *)V1_JOURNAL,
                                              (size_t)(strchr(V1_JOURNAL, '\n') - V1_JOURNAL),
                                              &err),
                     KURA_OK);
    assert_int_equal(e.format_version, 1);

    /* On disk: opened for appending, it takes a version-2 signature, and
     * its version-1 one cannot be bumped. */
    fd = open(f->path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, V1_JOURNAL, strlen(V1_JOURNAL)), (ssize_t)strlen(V1_JOURNAL));
    close(fd);
    assert_int_equal(kura_journal_open(&j, f->path, 0, &err), KURA_OK);
    assert_int_equal(sign_with(j, &e, T0 + 200, "intent A", 5000, 1, two, 2, &err), KURA_OK);
    assert_int_equal(e.seq, 8);
    hash_of(tx, "tx");
    assert_int_equal(kura_journal_append_signature(j, NULL, T0 + 300, h, ID, 152500000, 9000, tx,
                                                   1, ops, 2, &err),
                     KURA_JOURNAL_EREPLAY);
    kura_journal_free(j);
    assert_int_equal(kura_journal_verify_file(&bad, f->path, &err), KURA_OK);
    assert_int_equal(bad, 9);
}

/* A newly created journal says version 2. */
static void test_new_journal_is_v2(void **state)
{
    fixture *f = *state;
    kura_journal *j = NULL;
    kura_error err;
    size_t len;
    char *text;
    assert_int_equal(kura_journal_create(&j, f->path, T0, &err), KURA_OK);
    kura_journal_free(j);
    text = tu_slurp(f->path, &len);
    assert_non_null(strstr(text, " init kura-journal-2 "));
    free(text);
}

/* ---- lines and chain rules ---- */

/* Formats es[0..n) as a chain (seq, prev, hash filled in). */
static char *chain(kura_journal_entry *es, size_t n, size_t *len)
{
    char *out = calloc(n, KURA_JOURNAL_LINE_MAX);
    uint8_t prev[32] = {0};
    size_t at = 0;
    assert_non_null(out);
    for (size_t i = 0; i < n; i++) {
        size_t w;
        kura_journal_entry back;
        es[i].seq = i;
        memcpy(es[i].prev_hash, prev, 32);
        assert_int_equal(kura_journal_entry_format(out + at, KURA_JOURNAL_LINE_MAX, &w, &es[i]),
                         KURA_OK);
        assert_int_equal(kura_journal_entry_parse(&back, (const uint8_t *)out + at, w, NULL),
                         KURA_OK);
        memcpy(prev, back.hash, 32);
        at += w;
        out[at++] = '\n';
    }
    *len = at;
    return out;
}

static void entry(kura_journal_entry *e, kura_journal_kind kind, int64_t t, const char *intent)
{
    memset(e, 0, sizeof(*e));
    e->kind = kind;
    e->time = t;
    if (kind == KURA_JOURNAL_INIT) e->format_version = KURA_JOURNAL_FORMAT_VERSION;
    if (intent != NULL) {
        e->has_intent_hash = 1;
        hash_of(e->intent_hash, intent);
    }
    if (kind == KURA_JOURNAL_SIGNED) {
        memcpy(e->intent_id, ID, 32);
        e->amount = 1000;
        e->fee = 10;
    }
}

static void input(kura_journal_entry *e, int64_t t, const char *intent, unsigned n)
{
    kura_journal_outpoint o = coin(n);
    entry(e, KURA_JOURNAL_INPUT, t, intent);
    memcpy(e->outpoint_txid, o.txid, 32);
    e->outpoint_vout = o.vout;
}

static int parse_chain(kura_journal_entry *es, size_t n, uint64_t *bad)
{
    size_t len;
    char *text = chain(es, n, &len);
    kura_journal *j = NULL;
    kura_error err;
    int rc = kura_journal_parse(&j, bad, (const uint8_t *)text, len, &err);
    kura_journal_free(j);
    free(text);
    return rc;
}

static void test_lines_and_chain_rules(void **state)
{
    kura_journal_entry es[8], back;
    char line[KURA_JOURNAL_LINE_MAX];
    size_t w;
    uint64_t bad;
    kura_error err;
    (void)state;

    /* The spellings: "input <hash> <txid>:<vout>" and the 13-field signed. */
    input(&es[0], T0, "intent A", 7);
    es[0].outpoint_vout = 4294967295u;
    assert_int_equal(kura_journal_entry_format(line, sizeof(line), &w, &es[0]), KURA_OK);
    assert_non_null(strstr(line, " input "));
    assert_non_null(strstr(line, ":4294967295 "));
    assert_int_equal(kura_journal_entry_parse(&back, (const uint8_t *)line, w, &err), KURA_OK);
    assert_int_equal(back.outpoint_vout, 4294967295u);
    assert_memory_equal(back.outpoint_txid, es[0].outpoint_txid, 32);
    entry(&es[1], KURA_JOURNAL_SIGNED, T0, "intent A");
    es[1].seq = 9;
    es[1].input_count = 2;
    es[1].bip125 = 1;
    es[1].has_replaces = 1;
    es[1].replaces = 4;
    assert_int_equal(kura_journal_entry_format(line, sizeof(line), &w, &es[1]), KURA_OK);
    assert_non_null(strstr(line, " 2 rbf 4 "));
    assert_int_equal(kura_journal_entry_parse(&back, (const uint8_t *)line, w, &err), KURA_OK);
    assert_int_equal(back.input_count, 2);
    assert_int_equal(back.bip125, 1);
    assert_int_equal(back.replaces, 4);
    es[1].has_replaces = 0;
    es[1].bip125 = 0;
    assert_int_equal(kura_journal_entry_format(line, sizeof(line), &w, &es[1]), KURA_OK);
    assert_non_null(strstr(line, " 2 final - "));
    /* Not spellable: replaces itself or later; signal without inputs. */
    es[1].has_replaces = 1;
    es[1].replaces = 9;
    assert_int_equal(kura_journal_entry_format(line, sizeof(line), &w, &es[1]), KURA_EINVAL);
    es[1].has_replaces = 0;
    es[1].input_count = 0;
    es[1].bip125 = 1;
    assert_int_equal(kura_journal_entry_format(line, sizeof(line), &w, &es[1]), KURA_EINVAL);
    /* Parser: a leading zero in the vout, a missing colon, an input count
     * of 0, an unknown signal word. */
    {
        const char *bad_lines[] = {
            "1 2026-11-18T11:06:40Z input "
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa "
            "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb:01 ",
            "1 2026-11-18T11:06:40Z input "
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa "
            "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb1 ",
            "5 2026-11-18T11:06:40Z signed "
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa " ID " 1 1 "
            "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb 0 rbf - ",
            "5 2026-11-18T11:06:40Z signed "
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa " ID " 1 1 "
            "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb 1 yes - ",
        };
        for (size_t i = 0; i < sizeof(bad_lines) / sizeof(bad_lines[0]); i++) {
            char l[KURA_JOURNAL_LINE_MAX];
            uint8_t hh[32];
            char hex[65];
            /* prev and a correct hash, so only the field is wrong */
            snprintf(l, sizeof(l), "%s%s", bad_lines[i],
                     "0000000000000000000000000000000000000000000000000000000000000000");
            kura_sha256(hh, (const uint8_t *)l, strlen(l));
            for (size_t k = 0; k < 32; k++) snprintf(hex + 2 * k, 3, "%02x", hh[k]);
            strncat(l, " ", sizeof(l) - strlen(l) - 1);
            strncat(l, hex, sizeof(l) - strlen(l) - 1);
            if (kura_journal_entry_parse(&back, (const uint8_t *)l, strlen(l), &err) != KURA_EDATA)
                fail_msg("bad line %zu parsed", i);
        }
    }

    /* Chain: init, input, input, signed counting 2: fine. */
    entry(&es[0], KURA_JOURNAL_INIT, T0, NULL);
    input(&es[1], T0, "intent A", 1);
    input(&es[2], T0, "intent A", 2);
    entry(&es[3], KURA_JOURNAL_SIGNED, T0, "intent A");
    es[3].input_count = 2;
    es[3].bip125 = 1;
    assert_int_equal(parse_chain(es, 4, &bad), KURA_OK);
    /* Counting 3 with 2 before it: damage at the signed entry. */
    es[3].input_count = 3;
    assert_int_equal(parse_chain(es, 4, &bad), KURA_EDATA);
    assert_int_equal(bad, 3);
    /* Inputs of another intent right before it. */
    es[3].input_count = 2;
    input(&es[2], T0, "intent B", 2);
    assert_int_equal(parse_chain(es, 4, &bad), KURA_EDATA);
    assert_int_equal(bad, 3);
    /* Another entry between the inputs and the signed entry. */
    input(&es[1], T0, "intent A", 1);
    input(&es[2], T0, "intent A", 2);
    entry(&es[3], KURA_JOURNAL_CHANGE, T0, NULL);
    entry(&es[4], KURA_JOURNAL_SIGNED, T0, "intent A");
    es[4].input_count = 2;
    es[4].bip125 = 1;
    assert_int_equal(parse_chain(es, 5, &bad), KURA_EDATA);
    assert_int_equal(bad, 4);
    /* Orphaned inputs of a crashed attempt before the real ones: only the
     * last N count. */
    input(&es[3], T0, "intent A", 1);
    es[4].input_count = 1;
    assert_int_equal(parse_chain(es, 5, &bad), KURA_OK);
    /* A replacement naming an entry that is not a signature of its
     * intent, or one already replaced. */
    entry(&es[0], KURA_JOURNAL_INIT, T0, NULL);
    input(&es[1], T0, "intent A", 1);
    entry(&es[2], KURA_JOURNAL_SIGNED, T0, "intent A");
    es[2].input_count = 1;
    es[2].bip125 = 1;
    input(&es[3], T0, "intent A", 1);
    entry(&es[4], KURA_JOURNAL_SIGNED, T0, "intent A");
    es[4].input_count = 1;
    es[4].bip125 = 1;
    es[4].fee = 20;
    es[4].has_replaces = 1;
    es[4].replaces = 2;
    assert_int_equal(parse_chain(es, 5, &bad), KURA_OK);
    es[4].replaces = 1; /* an input entry */
    assert_int_equal(parse_chain(es, 5, &bad), KURA_EDATA);
    assert_int_equal(bad, 4);
    es[4].replaces = 2;
    hash_of(es[3].intent_hash, "intent B");
    hash_of(es[4].intent_hash, "intent B"); /* another intent's signature */
    assert_int_equal(parse_chain(es, 5, &bad), KURA_EDATA);
    hash_of(es[3].intent_hash, "intent A");
    hash_of(es[4].intent_hash, "intent A");
    input(&es[5], T0, "intent A", 1);
    entry(&es[6], KURA_JOURNAL_SIGNED, T0, "intent A");
    es[6].input_count = 1;
    es[6].bip125 = 1;
    es[6].fee = 30;
    es[6].has_replaces = 1;
    es[6].replaces = 2; /* already replaced by entry 4 */
    assert_int_equal(parse_chain(es, 7, &bad), KURA_EDATA);
    assert_int_equal(bad, 6);
    es[6].replaces = 4;
    assert_int_equal(parse_chain(es, 7, &bad), KURA_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_bump_chain, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bump_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_v1_journal_loads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_new_journal_is_v2, setup, teardown),
        cmocka_unit_test(test_lines_and_chain_rules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
