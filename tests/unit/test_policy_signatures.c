/* Policy signatures against real OpenSSH: keys are made with ssh-keygen at
 * test time and the new policy is signed with `ssh-keygen -Y sign -n
 * kura-policy-v1`, in a temporary directory. A quorum of distinct
 * administrators of the policy in force passes; fewer, the same administrator
 * twice, a signer who is not an administrator, another namespace, another
 * text, or garbage do not. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kura/policy.h"
#include "testutil_sshsig.h"

#define K_OTHER "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILZa7w3SR+K2HasVjm0A+MDFdEtC8jqGE4QqBVj/YWaE"

typedef struct fixture {
    char dir[64];
    kura_policy *authority; /* version 1: admins a1, a2 (ed25519), a3 (ecdsa); quorum 2 */
    char *next_text;        /* version 2, the text the signatures cover */
    size_t next_len;
} fixture;

/* Signs `message` with key `name` in namespace `ns`; returns the armoured signature. */
static char *sign(const fixture *fx, const char *name, const char *ns, const char *message,
                  size_t message_len, size_t *sig_len)
{
    return tu_ssh_sign(fx->dir, name, ns, message, message_len, sig_len);
}

static int setup(void **state)
{
    fixture *fx = calloc(1, sizeof(*fx));
    char k[KURA_SSHKEY_STRING_MAX];
    kura_error err;
    kura_policy *p;
    assert_non_null(fx);
    strcpy(fx->dir, "/tmp/kura-policy-sig-XXXXXX");
    if (mkdtemp(fx->dir) == NULL) fail_msg("mkdtemp failed");
    tu_ssh_keygen(fx->dir, "a1", "ed25519");
    tu_ssh_keygen(fx->dir, "a2", "ed25519");
    tu_ssh_keygen(fx->dir, "a3", "ecdsa -b 256");
    tu_ssh_keygen(fx->dir, "approver", "ed25519");

    p = kura_policy_new();
    assert_non_null(p);
    p->version = 1;
    strcpy(p->wallet.name, "treasury-cold");
    strcpy(p->wallet.checksum, "q4x7k2m9");
    tu_ssh_pubkey(k, fx->dir, "a1");
    assert_int_equal(kura_policy_add_admin(p, "admin-one", k, &err), KURA_OK);
    tu_ssh_pubkey(k, fx->dir, "a2");
    assert_int_equal(kura_policy_add_admin(p, "admin-two", k, &err), KURA_OK);
    tu_ssh_pubkey(k, fx->dir, "a3");
    assert_int_equal(kura_policy_add_admin(p, "admin-three", k, &err), KURA_OK);
    p->admin_quorum = 2;
    tu_ssh_pubkey(k, fx->dir, "approver");
    assert_int_equal(kura_policy_add_approver(p, "carol", k, &err), KURA_OK);
    assert_int_equal(kura_policy_add_tier(p, KURA_POLICY_TIER_UNBOUNDED, 1, &err), KURA_OK);
    p->max_per_transfer = 100000000;
    p->max_per_24h = 100000000;
    p->max_fee = 100000;
    p->max_fee_rate = 100;
    p->max_lifetime = 3600;
    fx->authority = p;

    /* The successor raises the caps: what an attacker would want signed. */
    p->version = 2;
    p->max_per_transfer = 2100000000000000ull;
    p->max_per_24h = 2100000000000000ull;
    if (kura_policy_write(&fx->next_text, &fx->next_len, p, &err) != KURA_OK)
        fail_msg("write: %s", err.message);
    p->version = 1;
    p->max_per_transfer = 100000000;
    p->max_per_24h = 100000000;
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fixture *fx = *state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", fx->dir);
    tu_run(cmd);
    kura_policy_free(fx->authority);
    free(fx->next_text);
    free(fx);
    return 0;
}

/* Verifies sigs[0..n) over the successor text against the authority. */
static int verify(const fixture *fx, char **sigs, size_t *lens, size_t n,
                  kura_policy_signature_result *results, size_t *valid, kura_error *err)
{
    return kura_policy_verify_signatures(results, valid, fx->authority,
                                         (const uint8_t *)fx->next_text, fx->next_len,
                                         (const char *const *)sigs, lens, n, err);
}

static void free_sigs(char **sigs, size_t n)
{
    for (size_t i = 0; i < n; i++) free(sigs[i]);
}

static void test_quorum_met(void **state)
{
    fixture *fx = *state;
    char *sigs[3];
    size_t lens[3], valid = 0;
    kura_policy_signature_result res[3];
    kura_error err;
    sigs[0] = sign(fx, "a2", KURA_POLICY_NAMESPACE, fx->next_text, fx->next_len, &lens[0]);
    sigs[1] = sign(fx, "a3", KURA_POLICY_NAMESPACE, fx->next_text, fx->next_len, &lens[1]);
    assert_int_equal(verify(fx, sigs, lens, 2, res, &valid, &err), KURA_OK);
    assert_int_equal(valid, 2);
    assert_int_equal(res[0].status, KURA_OK);
    assert_int_equal(res[0].admin_index, 2); /* admins sort by name: one, three, two */
    assert_string_equal(fx->authority->admins[2].name, "admin-two");
    assert_int_equal(res[1].status, KURA_OK);
    assert_string_equal(fx->authority->admins[res[1].admin_index].name, "admin-three");
    /* All three, and an extra stranger's signature, still pass: it counts for nothing. */
    sigs[2] = sign(fx, "approver", KURA_POLICY_NAMESPACE, fx->next_text, fx->next_len, &lens[2]);
    assert_int_equal(verify(fx, sigs, lens, 3, res, &valid, &err), KURA_OK);
    assert_int_equal(valid, 2);
    assert_int_equal(res[2].status, KURA_POLICY_ENOTADMIN);
    /* The same signatures do not authorise a different text. */
    assert_int_equal(kura_policy_verify_signatures(res, &valid, fx->authority,
                                                   (const uint8_t *)fx->next_text,
                                                   fx->next_len - 1, (const char *const *)sigs,
                                                   lens, 2, &err),
                     KURA_POLICY_EQUORUM);
    assert_int_equal(valid, 0);
    assert_int_equal(res[0].status, KURA_SSHSIG_EBADSIG);
    free_sigs(sigs, 3);
}

static void test_quorum_not_met(void **state)
{
    fixture *fx = *state;
    char *sigs[1];
    size_t lens[1], valid = 9;
    kura_policy_signature_result res[1];
    kura_error err;
    sigs[0] = sign(fx, "a1", KURA_POLICY_NAMESPACE, fx->next_text, fx->next_len, &lens[0]);
    assert_int_equal(verify(fx, sigs, lens, 1, res, &valid, &err), KURA_POLICY_EQUORUM);
    assert_int_equal(err.code, KURA_POLICY_EQUORUM);
    assert_string_equal(err.message, "policy: 1 of 2 required administrator signatures");
    assert_int_equal(valid, 1);
    assert_int_equal(res[0].status, KURA_OK);
    /* No signatures at all. */
    assert_int_equal(verify(fx, NULL, NULL, 0, NULL, &valid, &err), KURA_POLICY_EQUORUM);
    assert_int_equal(valid, 0);
    free_sigs(sigs, 1);
}

static void test_same_admin_twice(void **state)
{
    fixture *fx = *state;
    char *sigs[2];
    size_t lens[2], valid = 0;
    kura_policy_signature_result res[2];
    kura_error err;
    sigs[0] = sign(fx, "a3", KURA_POLICY_NAMESPACE, fx->next_text, fx->next_len, &lens[0]);
    /* A second, different ECDSA signature by the same key still counts once. */
    sigs[1] = sign(fx, "a3", KURA_POLICY_NAMESPACE, fx->next_text, fx->next_len, &lens[1]);
    assert_true(lens[0] != lens[1] || memcmp(sigs[0], sigs[1], lens[0]) != 0);
    assert_int_equal(verify(fx, sigs, lens, 2, res, &valid, &err), KURA_POLICY_EQUORUM);
    assert_int_equal(valid, 1);
    assert_int_equal(res[0].status, KURA_OK);
    assert_int_equal(res[1].status, KURA_POLICY_EDUPLICATE);
    assert_string_equal(res[1].message, "administrator 'admin-three' already signed (signature 1)");
    assert_non_null(strstr(err.message, "1 of 2 required administrator signatures (signature 2: "
                                        "administrator 'admin-three' already signed"));
    free(sigs[1]);
    /* The very same signature passed twice. */
    sigs[1] = sigs[0];
    lens[1] = lens[0];
    assert_int_equal(verify(fx, sigs, lens, 2, res, &valid, &err), KURA_POLICY_EQUORUM);
    assert_int_equal(res[1].status, KURA_POLICY_EDUPLICATE);
    free(sigs[0]);
}

static void test_not_an_admin(void **state)
{
    fixture *fx = *state;
    char *sigs[2];
    size_t lens[2], valid = 0;
    kura_policy_signature_result res[2];
    kura_error err;
    sigs[0] = sign(fx, "a1", KURA_POLICY_NAMESPACE, fx->next_text, fx->next_len, &lens[0]);
    /* An approver is not an administrator: it cannot make up the quorum. */
    sigs[1] = sign(fx, "approver", KURA_POLICY_NAMESPACE, fx->next_text, fx->next_len, &lens[1]);
    assert_int_equal(verify(fx, sigs, lens, 2, res, &valid, &err), KURA_POLICY_EQUORUM);
    assert_int_equal(valid, 1);
    assert_int_equal(res[1].status, KURA_POLICY_ENOTADMIN);
    assert_int_equal(res[1].admin_index, SIZE_MAX);
    assert_non_null(strstr(res[1].message, "signed by SHA256:"));
    assert_non_null(strstr(err.message, "(signature 2: signed by SHA256:"));
    assert_non_null(strstr(err.message, "which is not an administrator's key"));
    free_sigs(sigs, 2);
}

static void test_wrong_namespace(void **state)
{
    fixture *fx = *state;
    char *sigs[2];
    size_t lens[2], valid = 0;
    kura_policy_signature_result res[2];
    kura_error err;
    sigs[0] = sign(fx, "a1", KURA_POLICY_NAMESPACE, fx->next_text, fx->next_len, &lens[0]);
    /* An intent approval by an administrator is not consent to a policy. */
    sigs[1] = sign(fx, "a2", "kura-intent-v1", fx->next_text, fx->next_len, &lens[1]);
    assert_int_equal(verify(fx, sigs, lens, 2, res, &valid, &err), KURA_POLICY_EQUORUM);
    assert_int_equal(valid, 1);
    assert_int_equal(res[1].status, KURA_SSHSIG_ENAMESPACE);
    assert_non_null(strstr(err.message, "(signature 2: sshsig:"));
    free_sigs(sigs, 2);
}

static void test_other_text_and_garbage(void **state)
{
    fixture *fx = *state;
    char *sigs[3];
    size_t lens[3], valid = 0;
    kura_policy_signature_result res[3];
    kura_error err;
    sigs[0] = sign(fx, "a1", KURA_POLICY_NAMESPACE, fx->next_text, fx->next_len, &lens[0]);
    /* a2 signed the policy in force, not the new one. */
    sigs[1] = sign(fx, "a2", KURA_POLICY_NAMESPACE, "kura-policy 1\n", 14, &lens[1]);
    sigs[2] = strdup("-----BEGIN SSH SIGNATURE-----\nAAAA\n-----END SSH SIGNATURE-----\n");
    assert_non_null(sigs[2]);
    lens[2] = strlen(sigs[2]);
    assert_int_equal(verify(fx, sigs, lens, 3, res, &valid, &err), KURA_POLICY_EQUORUM);
    assert_int_equal(valid, 1);
    assert_int_equal(res[1].status, KURA_SSHSIG_EBADSIG);
    assert_int_equal(res[2].status, KURA_EDATA);
    assert_non_null(strstr(res[2].message, "sshsig:"));
    /* A NULL entry is a missing signature, not a crash. */
    free(sigs[2]);
    sigs[2] = NULL;
    assert_int_equal(verify(fx, sigs, lens, 3, res, &valid, &err), KURA_POLICY_EQUORUM);
    assert_int_equal(res[2].status, KURA_EDATA);
    free_sigs(sigs, 2);
}

static void test_misuse(void **state)
{
    fixture *fx = *state;
    size_t valid;
    kura_error err;
    unsigned quorum = fx->authority->admin_quorum;
    assert_int_equal(kura_policy_verify_signatures(NULL, &valid, NULL, NULL, 0, NULL, NULL, 0, &err),
                     KURA_EINVAL);
    /* An authority with a quorum of 0 would accept no signatures at all. */
    fx->authority->admin_quorum = 0;
    assert_int_equal(verify(fx, NULL, NULL, 0, NULL, &valid, &err), KURA_EINVAL);
    fx->authority->admin_quorum = 4;
    assert_int_equal(verify(fx, NULL, NULL, 0, NULL, &valid, &err), KURA_EINVAL);
    fx->authority->admin_quorum = quorum;
    assert_int_equal(verify(fx, NULL, NULL, 1, NULL, &valid, &err), KURA_EINVAL);
}

/* One administrator's key in two forms (plain and security key, any
 * application) is one administrator: a policy in force written before
 * aliases were refused, naming K twice, still needs two people. And a
 * security-key signature by an administrator listed as a plain key is not
 * theirs. */
static void test_aliased_admin_counts_once(void **state)
{
    (void)state;
    for (int ec = 0; ec <= 1; ec++) {
        tu_sshkey k;
        char plain[KURA_SSHKEY_STRING_MAX], sk[KURA_SSHKEY_STRING_MAX];
        const char *text = "kura-policy 1\nanything the admins sign\n";
        char *s1, *s2;
        const char *sigs[2];
        size_t lens[2], valid = 99;
        kura_policy_signature_result res[2];
        kura_policy *p = kura_policy_new();
        kura_error err;
        assert_non_null(p);
        tu_sshkey_new(&k, ec);
        tu_sshkey_line(plain, &k, NULL);
        tu_sshkey_line(sk, &k, "ssh:");
        assert_int_equal(kura_policy_add_admin(p, "admin-a", plain, &err), KURA_OK);
        assert_int_equal(kura_policy_add_admin(p, "admin-b", K_OTHER, &err), KURA_OK);
        /* What a policy parsed before the fix could hold: admin-b = K as a
         * security key. */
        assert_int_equal(kura_sshkey_parse(&p->admins[1].key, sk, strlen(sk), &err), KURA_OK);
        p->admin_quorum = 2;
        s1 = tu_sshkey_sign(&lens[0], &k, NULL, KURA_POLICY_NAMESPACE, text, strlen(text));
        s2 = tu_sshkey_sign(&lens[1], &k, "ssh:", KURA_POLICY_NAMESPACE, text, strlen(text));
        sigs[0] = s1;
        sigs[1] = s2;
        assert_int_equal(kura_policy_verify_signatures(res, &valid, p, (const uint8_t *)text,
                                                       strlen(text), sigs, lens, 2, &err),
                         KURA_POLICY_EQUORUM);
        assert_int_equal(valid, 1);
        assert_int_equal(res[0].status, KURA_OK);
        assert_int_equal(res[1].status, KURA_POLICY_EDUPLICATE);
        assert_non_null(strstr(res[1].message, "administrator 'admin-a' already signed"));
        /* An authority listing K only as a plain key: the security-key
         * form is not admin-a's signature. */
        assert_int_equal(kura_sshkey_parse(&p->admins[1].key, K_OTHER, strlen(K_OTHER), &err),
                         KURA_OK);
        p->admin_quorum = 1;
        assert_int_equal(kura_policy_verify_signatures(res, &valid, p, (const uint8_t *)text,
                                                       strlen(text), sigs + 1, lens + 1, 1, &err),
                         KURA_POLICY_EQUORUM);
        assert_int_equal(res[0].status, KURA_POLICY_ENOTADMIN);
        assert_non_null(strstr(res[0].message, "key of administrator 'admin-a' as sk-"));
        free(s1);
        free(s2);
        kura_policy_free(p);
        tu_sshkey_free(&k);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quorum_met),       cmocka_unit_test(test_quorum_not_met),
        cmocka_unit_test(test_same_admin_twice), cmocka_unit_test(test_not_an_admin),
        cmocka_unit_test(test_wrong_namespace),  cmocka_unit_test(test_other_text_and_garbage),
        cmocka_unit_test(test_misuse), cmocka_unit_test(test_aliased_admin_counts_once),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
