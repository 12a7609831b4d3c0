/* The signing package's records (kura_package_*): written and read back,
 * through serialisation; the reader's refusals; the writers' limits; and
 * the refusal names programs print. docs/signing-package.md is the layout. */
#include <stdlib.h>
#include <string.h>

#include "kura/check.h"
#include "kura/psbt.h"
#include "kura/tx.h"
#include "testutil.h"

static const uint8_t KURA_ID[] = {'k', 'u', 'r', 'a'};

static kura_psbt *empty_package(void)
{
    kura_tx *tx = kura_tx_new();
    kura_psbt *psbt = NULL;
    uint8_t prev[32], spk[22] = {0x00, 0x14};
    assert_non_null(tx);
    memset(prev, 0xab, sizeof(prev));
    assert_int_equal(kura_tx_add_input(tx, prev, 0, 0xfffffffd, NULL, 0), KURA_OK);
    assert_int_equal(kura_tx_add_output(tx, 1000, spk, sizeof(spk)), KURA_OK);
    assert_int_equal(kura_psbt_from_tx(&psbt, tx, 0, NULL), KURA_OK);
    kura_tx_free(tx);
    return psbt;
}

static kura_psbt *roundtrip(kura_psbt *psbt)
{
    uint8_t *bytes = NULL;
    size_t len = 0;
    kura_psbt *again = NULL;
    assert_int_equal(kura_psbt_serialize(&bytes, &len, psbt), KURA_OK);
    assert_int_equal(kura_psbt_parse(&again, bytes, len, NULL), KURA_OK);
    free(bytes);
    kura_psbt_free(psbt);
    return again;
}

#define STR(s) (const uint8_t *)(s), strlen(s)

static void test_write_read(void **state)
{
    kura_psbt *psbt = empty_package();
    kura_package_view v;
    kura_error err;
    const uint8_t *val;
    size_t len;
    uint8_t key[4] = {0, 0, 0, 1};
    (void)state;
    assert_int_equal(kura_package_read(&v, psbt, &err), KURA_OK);
    assert_null(v.intent); /* a missing intent is the check's refusal, not the reader's */
    assert_int_equal(kura_package_set_intent(psbt, STR("first")), KURA_OK);
    assert_int_equal(kura_package_set_intent(psbt, STR("kura-intent 1\n")), KURA_OK); /* replaces */
    assert_int_equal(kura_package_add_approval(psbt, STR("sig-a")), KURA_OK);
    assert_int_equal(kura_package_add_approval(psbt, STR("sig-b")), KURA_OK);
    assert_int_equal(kura_package_add_approval(psbt, STR("sig-a")), KURA_OK); /* bytes as given */
    assert_int_equal(kura_package_set_policy(psbt, STR("kura-policy 1\n")), KURA_OK);
    assert_int_equal(kura_package_add_policy_signature(psbt, STR("psig")), KURA_OK);
    /* Another tool's proprietary record rides along, ignored. */
    assert_int_equal(
        kura_psbt_proprietary_set(psbt, (const uint8_t *)"other", 5, 0, NULL, 0, STR("x")),
        KURA_OK);
    psbt = roundtrip(psbt);
    assert_int_equal(kura_package_read(&v, psbt, &err), KURA_OK);
    assert_int_equal(v.intent_len, 14);
    assert_memory_equal(v.intent, "kura-intent 1\n", 14);
    assert_int_equal(v.approval_count, 3);
    assert_memory_equal(v.approvals[0], "sig-a", 5);
    assert_memory_equal(v.approvals[1], "sig-b", 5);
    assert_int_equal(v.approval_lens[2], 5);
    assert_int_equal(v.policy_len, 14);
    assert_int_equal(v.policy_signature_count, 1);
    assert_memory_equal(v.policy_signatures[0], "psig", 4);
    /* The layout: approval n under 4-byte big-endian key data n. */
    assert_int_equal(
        kura_psbt_proprietary_get(&val, &len, psbt, KURA_ID, 4, KURA_PACKAGE_APPROVAL, key, 4),
        KURA_OK);
    assert_memory_equal(val, "sig-b", 5);
    assert_int_equal(
        kura_psbt_proprietary_get(&val, &len, psbt, KURA_ID, 4, KURA_PACKAGE_INTENT, NULL, 0),
        KURA_OK);
    /* A removed number is reused: the lowest free one. */
    key[3] = 0;
    assert_int_equal(kura_psbt_proprietary_remove(psbt, KURA_ID, 4, KURA_PACKAGE_APPROVAL, key, 4),
                     KURA_OK);
    assert_int_equal(kura_package_add_approval(psbt, STR("sig-c")), KURA_OK);
    assert_int_equal(
        kura_psbt_proprietary_get(&val, &len, psbt, KURA_ID, 4, KURA_PACKAGE_APPROVAL, key, 4),
        KURA_OK);
    assert_memory_equal(val, "sig-c", 5);
    kura_psbt_free(psbt);
}

static void test_writer_limits(void **state)
{
    kura_psbt *psbt = empty_package();
    uint8_t *big = calloc(KURA_PSBT_MAX_PROPRIETARY_VALUE + 1, 1);
    kura_package_view v;
    (void)state;
    assert_non_null(big);
    assert_int_equal(kura_package_set_intent(NULL, STR("x")), KURA_EINVAL);
    assert_int_equal(kura_package_set_intent(psbt, NULL, 1), KURA_EINVAL);
    assert_int_equal(kura_package_set_intent(psbt, (const uint8_t *)"x", 0), KURA_EINVAL);
    assert_int_equal(kura_package_add_approval(psbt, (const uint8_t *)"x", 0), KURA_EINVAL);
    assert_int_equal(kura_package_set_policy(psbt, big, KURA_PSBT_MAX_PROPRIETARY_VALUE + 1),
                     KURA_ERANGE);
    assert_int_equal(kura_package_add_approval(psbt, big, KURA_PSBT_MAX_PROPRIETARY_VALUE + 1),
                     KURA_ERANGE);
    for (int i = 0; i < KURA_PACKAGE_APPROVALS_MAX; i++)
        assert_int_equal(kura_package_add_approval(psbt, STR("sig")), KURA_OK);
    assert_int_equal(kura_package_add_approval(psbt, STR("sig")), KURA_ERANGE);
    for (int i = 0; i < KURA_PACKAGE_POLICY_SIGNATURES_MAX; i++)
        assert_int_equal(kura_package_add_policy_signature(psbt, STR("sig")), KURA_OK);
    assert_int_equal(kura_package_add_policy_signature(psbt, STR("sig")), KURA_ERANGE);
    assert_int_equal(kura_package_read(&v, psbt, NULL), KURA_OK);
    assert_int_equal(v.approval_count, KURA_PACKAGE_APPROVALS_MAX);
    assert_int_equal(v.policy_signature_count, KURA_PACKAGE_POLICY_SIGNATURES_MAX);
    /* One more, written around the writer, is refused by the reader. */
    {
        uint8_t key[4] = {0, 0, 0x10, 0};
        assert_int_equal(
            kura_psbt_proprietary_set(psbt, KURA_ID, 4, KURA_PACKAGE_APPROVAL, key, 4, STR("sig")),
            KURA_OK);
        assert_int_equal(kura_package_read(&v, psbt, NULL), KURA_EDATA);
    }
    free(big);
    kura_psbt_free(psbt);
}

/* Each malformed record, alone in an otherwise good package. */
static void expect_refused(uint64_t subtype, const uint8_t *keydata, size_t keydata_len,
                           const uint8_t *value, size_t value_len, const char *words)
{
    kura_psbt *psbt = empty_package();
    kura_package_view v;
    kura_error err;
    assert_int_equal(kura_package_set_intent(psbt, STR("kura-intent 1\n")), KURA_OK);
    assert_int_equal(kura_psbt_proprietary_set(psbt, KURA_ID, 4, subtype, keydata, keydata_len,
                                               value, value_len),
                     KURA_OK);
    psbt = roundtrip(psbt);
    assert_int_equal(kura_package_read(&v, psbt, &err), KURA_EDATA);
    assert_int_equal(err.code, KURA_EDATA);
    if (strstr(err.message, words) == NULL) fail_msg("message '%s' lacks '%s'", err.message, words);
    /* Nothing is left half-read. */
    assert_null(v.intent);
    assert_int_equal(v.approval_count, 0);
    kura_psbt_free(psbt);
}

static void test_reader_refusals(void **state)
{
    const uint8_t k1[] = {1}, k3[] = {0, 0, 1}, k4[] = {0, 0, 0, 7}, k5[] = {0, 0, 0, 0, 1};
    (void)state;
    expect_refused(4, NULL, 0, STR("x"), "unknown kura record subtype 4");
    expect_refused(0x100, NULL, 0, STR("x"), "unknown kura record subtype 256");
    expect_refused(KURA_PACKAGE_INTENT, k1, 1, STR("x"), "intent record with 1 bytes of key data");
    expect_refused(KURA_PACKAGE_POLICY, k4, 4, STR("x"), "policy record with 4 bytes");
    expect_refused(KURA_PACKAGE_APPROVAL, NULL, 0, STR("x"), "approval record with 0 bytes");
    expect_refused(KURA_PACKAGE_APPROVAL, k3, 3, STR("x"), "approval record with 3 bytes");
    expect_refused(KURA_PACKAGE_APPROVAL, k5, 5, STR("x"), "approval record with 5 bytes");
    expect_refused(KURA_PACKAGE_POLICY_SIGNATURE, k1, 1, STR("x"), "policy signature record");
    expect_refused(KURA_PACKAGE_APPROVAL, k4, 4, NULL, 0, "is empty");
    {
        kura_package_view v;
        kura_psbt *psbt = empty_package();
        assert_int_equal(kura_package_read(NULL, psbt, NULL), KURA_EINVAL);
        assert_int_equal(kura_package_read(&v, NULL, NULL), KURA_EINVAL);
        /* An empty intent record is refused, not read as "no intent". */
        assert_int_equal(
            kura_psbt_proprietary_set(psbt, KURA_ID, 4, KURA_PACKAGE_INTENT, NULL, 0, NULL, 0),
            KURA_OK);
        assert_int_equal(kura_package_read(&v, psbt, NULL), KURA_EDATA);
        kura_psbt_free(psbt);
    }
}

static void test_refusal_names(void **state)
{
    (void)state;
    assert_string_equal(kura_refusal_name(KURA_REFUSE_NONE), "KURA_REFUSE_NONE");
    assert_string_equal(kura_refusal_name(KURA_REFUSE_OUTPUT_MISSING),
                        "KURA_REFUSE_OUTPUT_MISSING");
    assert_string_equal(kura_refusal_name(KURA_REFUSE_LIMIT_ROLLING), "KURA_REFUSE_LIMIT_ROLLING");
    assert_string_equal(kura_refusal_name(KURA_REFUSE_NOTHING_TO_SIGN),
                        "KURA_REFUSE_NOTHING_TO_SIGN");
    assert_string_equal(kura_refusal_name((kura_refusal)KURA_REFUSAL_COUNT), "KURA_REFUSE_?");
    assert_string_equal(kura_refusal_name((kura_refusal)-1), "KURA_REFUSE_?");
    for (int i = 0; i < KURA_REFUSAL_COUNT; i++) {
        const char *a = kura_refusal_name((kura_refusal)i);
        assert_int_equal(strncmp(a, "KURA_REFUSE_", 12), 0);
        assert_string_not_equal(a, "KURA_REFUSE_?");
        for (int j = 0; j < i; j++) assert_string_not_equal(a, kura_refusal_name((kura_refusal)j));
    }
}

static void test_result_clear(void **state)
{
    kura_check_result r;
    (void)state;
    kura_check_result_clear(NULL);
    memset(&r, 0, sizeof(r));
    r.summary = strdup("text");
    r.new_policy = kura_policy_new();
    r.reason = KURA_REFUSE_FEE_POLICY;
    kura_check_result_clear(&r); /* frees both (ASan would see a leak) */
    assert_null(r.summary);
    assert_null(r.new_policy);
    assert_int_equal(r.reason, KURA_REFUSE_NONE);
    kura_check_result_clear(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_write_read),      cmocka_unit_test(test_writer_limits),
        cmocka_unit_test(test_reader_refusals), cmocka_unit_test(test_refusal_names),
        cmocka_unit_test(test_result_clear),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
