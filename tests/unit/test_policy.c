/* Policy: the canonical example round-trips, the builders produce the same
 * text whatever order they are called in, every rule of
 * docs/policy-format.md has a text that breaks it, and the questions the
 * signer asks (tier, allowlist, succession) have the right answers. The
 * signature checks with real ssh-keygen signatures are in
 * test_policy_signatures.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kura/policy.h"
#include "testutil.h"
#include "testutil_sshsig.h"

#define K1 "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMlud7t1LK9qaDg/4myiMyYdVy7r14j+PJiWjC+An5tJ"
#define K2 "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILZa7w3SR+K2HasVjm0A+MDFdEtC8jqGE4QqBVj/YWaE"
#define K3 "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDwwX7wV9hpU6VYmKy3mCh4YNu91w3DoHI9xXV9VkzJJ"
#define K4 "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEj7u4X47RL5rJnvZNzpCLoIjX2OlX5LBQFmiuDuWhSM"
#define K5 "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJUqRqXCB1VLHURqULkKDEiYiWVv4DnNrOPMFVYtpKn8"
#define KE                                                                                     \
    "ecdsa-sha2-nistp256 "                                                                     \
    "AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBPhWISY9ACGDUTN7+jcLjGBRUJ/"          \
    "UbPt3CHJZUleuj5H+t0UE6mrzCOQWC0hxjXNQ0ajHHXC6e8i40ejJmwmWxrI="
#define KRSA                                                                                   \
    "ssh-rsa "                                                                                 \
    "AAAAB3NzaC1yc2EAAAADAQABAAAAgQDntc2cu8CtmZAUVL7NgGXgCd7fbsG0eW+voLeAztX7cZ8wJDh8WdRQW+"   \
    "eGpraHfogQrqVc0/qNmvI0GoRm9WtNE/J4cnL9OR4Vlgou043Ng6xJkw4Rjr2XMeHTqrEE9pI+dEc+vMA0DycsYAZ" \
    "Miu9B7FCplPjw2WjBpSV683TitQ=="

static const char EXAMPLE[] =
    "kura-policy 1\n"
    "version: 3\n"
    "network: bitcoin\n"
    "wallet: treasury-cold #q4x7k2m9\n"
    "mode: cold\n"
    "admin: alice " K1 "\n"
    "admin: bob " K2 "\n"
    "admin-quorum: 2\n"
    "approver: carol " K3 "\n"
    "approver: dave " KE "\n"
    "approver: erin " K4 "\n"
    "tier: 100000000 1\n"
    "tier: 1000000000 2\n"
    "tier: max 3\n"
    "initiator-may-approve: no\n"
    "allowlist-required: yes\n"
    "allowlist-delay: 86400\n"
    "allow: 3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy cold storage\n"
    "allow: bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq exchange deposit\n"
    "max-per-transfer: 5000000000\n"
    "max-per-24h: 20000000000\n"
    "max-fee: 1000000\n"
    "max-fee-rate: 200\n"
    "max-lifetime: 86400\n";

static void refuse_len(const char *text, size_t len, int code, const char *needle)
{
    kura_policy *p = (kura_policy *)(uintptr_t)1;
    kura_error err;
    memset(&err, 0, sizeof(err));
    int rc = kura_policy_parse(&p, (const uint8_t *)text, len, &err);
    if (rc != code || strstr(err.message, needle) == NULL)
        fail_msg("expected %s with '%s', got %s: '%s'", kura_policy_status_name(code), needle,
                 kura_policy_status_name(rc), err.message);
    assert_int_equal(err.code, code);
    assert_null(p);
}

static void refuse_edit(const char *from, const char *to, int code, const char *needle)
{
    char *text = tu_edit(EXAMPLE, from, to);
    refuse_len(text, strlen(text), code, needle);
    free(text);
}

static kura_policy *parse_ok(const char *text)
{
    kura_policy *p = NULL;
    kura_error err;
    memset(&err, 0, sizeof(err));
    if (kura_policy_parse(&p, (const uint8_t *)text, strlen(text), &err) != KURA_OK)
        fail_msg("parse failed: %s", err.message);
    assert_non_null(p);
    return p;
}

static void round_trip(const char *text)
{
    kura_policy *p = parse_ok(text);
    char *out = NULL;
    size_t len = 0;
    kura_error err;
    if (kura_policy_write(&out, &len, p, &err) != KURA_OK) fail_msg("write: %s", err.message);
    assert_int_equal(len, strlen(text));
    assert_string_equal(out, text);
    free(out);
    kura_policy_free(p);
}

static void test_example(void **state)
{
    (void)state;
    kura_policy *p = parse_ok(EXAMPLE);
    assert_int_equal(p->version, 3);
    assert_int_equal(p->chain, KURA_CHAIN_BITCOIN);
    assert_string_equal(p->wallet.name, "treasury-cold");
    assert_int_equal(p->mode, KURA_POLICY_COLD);
    assert_int_equal(p->admin_count, 2);
    assert_string_equal(p->admins[1].name, "bob");
    assert_int_equal(p->admins[1].key.type, KURA_SSHKEY_ED25519);
    assert_int_equal(p->admin_quorum, 2);
    assert_int_equal(p->approver_count, 3);
    assert_int_equal(p->approvers[1].key.type, KURA_SSHKEY_ECDSA_P256);
    assert_int_equal(p->tier_count, 3);
    assert_int_equal(p->tiers[2].up_to, KURA_POLICY_TIER_UNBOUNDED);
    assert_int_equal(p->tiers[2].approvals, 3);
    assert_int_equal(p->initiator_may_approve, 0);
    assert_int_equal(p->allowlist_required, 1);
    assert_int_equal(p->allowlist_delay, 86400);
    assert_int_equal(p->allow_count, 2);
    assert_string_equal(p->allow[1].label, "exchange deposit");
    assert_int_equal(p->allow[0].script_len, 23); /* P2SH */
    assert_int_equal(p->max_per_transfer, 5000000000ull);
    assert_int_equal(p->max_per_24h, 20000000000ull);
    assert_int_equal(p->max_fee, 1000000);
    assert_int_equal(p->max_fee_rate, 200);
    assert_int_equal(p->max_lifetime, 86400);
    kura_policy_free(p);
    round_trip(EXAMPLE);

    /* Variants: hot mode, yes/no flipped, no allowlist, one tier, testnet. */
    char *a = tu_edit(EXAMPLE, "mode: cold", "mode: hot");
    char *b = tu_edit(a,
                      "initiator-may-approve: no\nallowlist-required: yes\nallowlist-delay: 86400\n"
                      "allow: 3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy cold storage\n"
                      "allow: bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq exchange deposit\n",
                      "initiator-may-approve: yes\nallowlist-required: no\nallowlist-delay: 0\n");
    char *c = tu_edit(b, "tier: 100000000 1\ntier: 1000000000 2\ntier: max 3\n", "tier: max 1\n");
    round_trip(c);
    p = parse_ok(c);
    assert_int_equal(p->mode, KURA_POLICY_HOT);
    assert_int_equal(p->initiator_may_approve, 1);
    assert_int_equal(p->allow_count, 0);
    kura_policy_free(p);
    char *d = tu_edit(c, "network: bitcoin", "network: testnet4");
    round_trip(d);
    free(a);
    free(b);
    free(c);
    free(d);
}

/* The same policy built through the API, members and entries added out of
 * order, writes the example's exact text. */
static void test_build(void **state)
{
    (void)state;
    kura_policy *p = kura_policy_new();
    kura_error err;
    char *out = NULL;
    size_t len = 0;
    assert_non_null(p);
    p->version = 3;
    p->chain = KURA_CHAIN_BITCOIN;
    strcpy(p->wallet.name, "treasury-cold");
    strcpy(p->wallet.checksum, "q4x7k2m9");
    p->mode = KURA_POLICY_COLD;
    assert_int_equal(kura_policy_add_admin(p, "bob", K2, &err), KURA_OK);
    assert_int_equal(kura_policy_add_admin(p, "alice", K1, &err), KURA_OK);
    p->admin_quorum = 2;
    assert_int_equal(kura_policy_add_approver(p, "erin", K4, &err), KURA_OK);
    assert_int_equal(kura_policy_add_approver(p, "carol", K3, &err), KURA_OK);
    assert_int_equal(kura_policy_add_approver(p, "dave", KE, &err), KURA_OK);
    assert_int_equal(kura_policy_add_tier(p, 100000000, 1, &err), KURA_OK);
    assert_int_equal(kura_policy_add_tier(p, 1000000000, 2, &err), KURA_OK);
    assert_int_equal(kura_policy_add_tier(p, KURA_POLICY_TIER_UNBOUNDED, 3, &err), KURA_OK);
    p->allowlist_required = 1;
    p->allowlist_delay = 86400;
    assert_int_equal(kura_policy_add_allow(p, "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq",
                                           "exchange deposit", &err),
                     KURA_OK);
    assert_int_equal(
        kura_policy_add_allow(p, "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy", "cold storage", &err),
        KURA_OK);
    p->max_per_transfer = 5000000000ull;
    p->max_per_24h = 20000000000ull;
    p->max_fee = 1000000;
    p->max_fee_rate = 200;
    p->max_lifetime = 86400;
    if (kura_policy_write(&out, &len, p, &err) != KURA_OK) fail_msg("write: %s", err.message);
    assert_string_equal(out, EXAMPLE);
    assert_int_equal(len, strlen(EXAMPLE));
    kura_policy *back = parse_ok(out);
    assert_true(kura_policy_equal(back, p));
    back->tiers[0].approvals = 2;
    assert_false(kura_policy_equal(back, p));
    kura_policy_free(back);
    free(out);

    /* The builders refuse what the parser refuses; the policy stays as it was. */
    assert_int_equal(kura_policy_add_admin(p, "alice", K5, &err), KURA_EDATA);
    assert_non_null(strstr(err.message, "name already used by admin 'alice'"));
    assert_int_equal(kura_policy_add_approver(p, "frank", K1, &err), KURA_EDATA);
    assert_non_null(strstr(err.message, "approver 'frank': same key as admin 'alice'"));
    assert_int_equal(kura_policy_add_approver(p, "frank", K5 " frank@laptop", &err), KURA_EDATA);
    assert_non_null(strstr(err.message, "no comment"));
    assert_int_equal(kura_policy_add_approver(p, "Frank", K5, &err), KURA_EDATA);
    assert_int_equal(kura_policy_add_approver(p, "fr ank", K5, &err), KURA_EDATA);
    assert_int_equal(kura_policy_add_approver(p, "frank", KRSA, &err), KURA_SSHSIG_EUNSUPPORTED);
    assert_int_equal(kura_policy_add_tier(p, 5, 4, &err), KURA_EDATA);
    assert_non_null(strstr(err.message, "no tier may follow the 'max' tier"));
    assert_int_equal(kura_policy_add_allow(p, "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy", "again", &err),
                     KURA_EDATA);
    assert_non_null(strstr(err.message, "already on the allowlist"));
    assert_int_equal(kura_policy_add_allow(p, "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa", "", &err),
                     KURA_EDATA);
    assert_int_equal(p->approver_count, 3);
    assert_int_equal(p->allow_count, 2);

    /* The writer applies the cross-field rules through the parser. */
    p->admin_quorum = 3;
    assert_int_equal(kura_policy_write(&out, &len, p, &err), KURA_EDATA);
    assert_null(out);
    assert_non_null(strstr(err.message, "admin-quorum 3 is more than the 2 administrators"));
    p->admin_quorum = 2;
    p->max_per_24h = 1;
    assert_int_equal(kura_policy_write(&out, &len, p, &err), KURA_EDATA);
    p->max_per_24h = 20000000000ull;
    p->allow[0].script[3] ^= 1;
    assert_int_equal(kura_policy_write(&out, &len, p, &err), KURA_EINVAL);
    p->allow[0].script[3] ^= 1;
    p->mode = (kura_policy_mode)7;
    assert_int_equal(kura_policy_write(&out, &len, p, &err), KURA_EDATA);
    p->mode = KURA_POLICY_HOT;
    assert_int_equal(kura_policy_write(&out, &len, p, &err), KURA_OK);
    free(out);
    kura_policy_free(p);
    kura_policy_free(NULL);
    assert_int_equal(kura_policy_parse(NULL, (const uint8_t *)"x", 1, NULL), KURA_EINVAL);
    assert_int_equal(kura_policy_write(&out, &len, NULL, NULL), KURA_EINVAL);
}

static void test_refuse_text(void **state)
{
    (void)state;
    refuse_len("", 0, KURA_EDATA, "policy: empty text");
    refuse_edit("kura-policy 1\n", "kura-policy 2\n", KURA_EDATA, "line 1: unsupported version");
    refuse_edit("kura-policy 1\n", "kura-intent 1\n", KURA_EDATA, "line 1: expected 'kura-policy 1'");
    refuse_edit("version: 3\n", "\xef\xbb\xbfversion: 3\n", KURA_EDATA,
                "line 2, column 1: non-ASCII byte 0xef");
    char *bom = malloc(sizeof(EXAMPLE) + 3);
    assert_non_null(bom);
    memcpy(bom, "\xef\xbb\xbf", 3);
    memcpy(bom + 3, EXAMPLE, sizeof(EXAMPLE));
    refuse_len(bom, strlen(bom), KURA_EDATA, "line 1: byte order mark");
    free(bom);
    refuse_len(EXAMPLE, strlen(EXAMPLE) - 1, KURA_EDATA, "line 24: missing final newline");
    refuse_edit("mode: cold\n", "mode: cold\r\n", KURA_EDATA, "line 5, column 11: carriage return");
    refuse_edit("mode: cold\n", "mode: cold \n", KURA_EDATA, "line 5: trailing space");
    refuse_edit("cold storage", "cold  storage", KURA_EDATA, "line 18, column 48: two spaces");
    refuse_edit("mode: cold\n", "mode: cold\nmode: cold\n", KURA_EDATA,
                "line 6: duplicate field 'mode'");
    refuse_edit("mode: cold\n", "mode: cold\ncomment: hi\n", KURA_EDATA,
                "line 6: unknown field 'comment'");
    refuse_edit("version: 3\nnetwork: bitcoin\n", "network: bitcoin\nversion: 3\n", KURA_EDATA,
                "line 2: expected field 'version', found 'network'");
    refuse_edit("max-fee-rate: 200\nmax-lifetime: 86400\n", "max-lifetime: 86400\nmax-fee-rate: 200\n",
                KURA_EDATA, "line 23: expected field 'max-fee-rate', found 'max-lifetime'");
    refuse_edit("admin-quorum: 2\n", "admin-quorum: 2\nadmin: zoe " K5 "\n", KURA_EDATA,
                "line 9: field 'admin' out of order (expected 'approver')");
    refuse_edit("max-lifetime: 86400\n", "max-lifetime: 86400\nallow: x y\n", KURA_EDATA,
                "line 25: field 'allow' out of order");
    refuse_edit("max-lifetime: 86400\n", "", KURA_EDATA, "missing field 'max-lifetime'");
    refuse_edit("cold storage", "cold\tstorage", KURA_EDATA, "control byte 0x09");
    refuse_edit("cold storage", "c\xc3\xb6ld storage", KURA_EDATA, "non-ASCII byte 0xc3");
    size_t big = KURA_POLICY_TEXT_MAX + 1;
    char *huge = malloc(big);
    assert_non_null(huge);
    memset(huge, 'a', big);
    refuse_len(huge, big, KURA_ERANGE, "over the limit");
    free(huge);
}

static void test_refuse_values(void **state)
{
    (void)state;
    refuse_edit("version: 3", "version: 0", KURA_EDATA, "line 2: version: must be at least 1");
    refuse_edit("version: 3", "version: 03", KURA_EDATA, "line 2: version: leading zero");
    refuse_edit("version: 3", "version: 9007199254740992", KURA_EDATA, "version: above the limit");
    refuse_edit("version: 3", "version: +3", KURA_EDATA, "version: '+3' is not a plain decimal");
    refuse_edit("network: bitcoin", "network: main", KURA_EDATA, "line 3: unknown network");
    refuse_edit("#q4x7k2m9", "#q4x7k2mI", KURA_EDATA, "line 4: wallet: descriptor checksum");
    refuse_edit("mode: cold", "mode: warm", KURA_EDATA, "line 5: mode must be 'cold' or 'hot'");
    refuse_edit("mode: cold", "mode: COLD", KURA_EDATA, "line 5: mode");
    refuse_edit("initiator-may-approve: no", "initiator-may-approve: false", KURA_EDATA,
                "line 15: initiator-may-approve must be 'yes' or 'no'");
    refuse_edit("allowlist-required: yes", "allowlist-required: Yes", KURA_EDATA,
                "line 16: allowlist-required must be 'yes' or 'no'");
    refuse_edit("allowlist-delay: 86400", "allowlist-delay: 086400", KURA_EDATA, "leading zero");
    refuse_edit("allowlist-delay: 86400", "allowlist-delay: 31622401", KURA_EDATA,
                "line 17: allowlist-delay: above the limit of 31622400");
    refuse_edit("max-per-transfer: 5000000000", "max-per-transfer: 0", KURA_EDATA,
                "max-per-transfer: must be at least 1");
    refuse_edit("max-per-transfer: 5000000000", "max-per-transfer: 2100000000000001", KURA_EDATA,
                "max-per-transfer: above the limit");
    refuse_edit("max-per-24h: 20000000000", "max-per-24h: 4999999999", KURA_EDATA,
                "line 21: max-per-24h is below max-per-transfer");
    refuse_edit("max-fee: 1000000", "max-fee: 0", KURA_EDATA, "line 22: max-fee: must be at least 1");
    refuse_edit("max-fee-rate: 200", "max-fee-rate: 0", KURA_EDATA, "max-fee-rate: must be at least");
    refuse_edit("max-fee-rate: 200", "max-fee-rate: 1000001", KURA_EDATA, "max-fee-rate: above");
    refuse_edit("max-fee-rate: 200", "max-fee-rate: 2.5", KURA_EDATA, "not a plain decimal");
    refuse_edit("max-lifetime: 86400", "max-lifetime: 0", KURA_EDATA, "max-lifetime: must be");
}

static void test_refuse_members(void **state)
{
    (void)state;
    /* Names */
    refuse_edit("admin: alice ", "admin: Alice ", KURA_EDATA, "line 6: admin: name may hold only");
    refuse_edit("admin: bob " K2, "admin: alice " K2, KURA_EDATA,
                "line 7: admin 'alice': name already used by admin 'alice'");
    refuse_edit("approver: carol ", "approver: bob ", KURA_EDATA,
                "line 9: approver 'bob': name already used by admin 'bob'");
    refuse_edit("approver: carol ", "approver: ~carol ", KURA_EDATA, "line 9: approver:");
    /* Keys: unique across the whole policy; admins' keys never approve. */
    refuse_edit("admin: bob " K2, "admin: bob " K1, KURA_EDATA,
                "line 7: admin 'bob': same key as admin 'alice'");
    refuse_edit("approver: carol " K3, "approver: carol " K1, KURA_EDATA,
                "line 9: approver 'carol': same key as admin 'alice'");
    refuse_edit("approver: erin " K4, "approver: erin " K3, KURA_EDATA,
                "line 11: approver 'erin': same key as approver 'carol'");
    /* Order */
    refuse_edit("admin: alice " K1 "\nadmin: bob " K2, "admin: bob " K2 "\nadmin: alice " K1,
                KURA_EDATA, "line 7: admin 'alice': admins must be in name order (after 'bob')");
    /* Key spelling */
    refuse_edit("admin: alice " K1, "admin: alice " K1 " alice@laptop", KURA_EDATA,
                "line 6: admin 'alice': key must be written 'TYPE BASE64' with no comment");
    refuse_edit("admin: alice " K1, "admin: alice", KURA_EDATA,
                "line 6: admin: expected '<name> <key type> <base64 key>'");
    refuse_edit("admin: alice " K1, "admin: alice " KRSA, KURA_SSHSIG_EUNSUPPORTED,
                "line 6: admin 'alice': sshsig:");
    refuse_edit("admin: alice ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMlud7t1LK9qaDg/4myiMyYdVy7r14j+PJiWjC+An5tJ",
                "admin: alice ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMlud7t1LK9qaDg/4myiMyYdVy7r14j+PJiWjC+A",
                KURA_EDATA, "line 6: admin 'alice': sshsig:");
    refuse_edit("admin: alice ssh-ed25519 ", "admin: alice ecdsa-sha2-nistp256 ", KURA_EDATA,
                "line 6: admin 'alice': sshsig:");
    /* Counts */
    refuse_edit("admin-quorum: 2", "admin-quorum: 3", KURA_EDATA,
                "line 8: admin-quorum 3 is more than the 2 administrators");
    refuse_edit("admin-quorum: 2", "admin-quorum: 0", KURA_EDATA,
                "line 8: admin-quorum: must be at least 1");
    refuse_edit("admin: alice " K1 "\nadmin: bob " K2 "\n", "", KURA_EDATA,
                "line 6: expected field 'admin', found 'admin-quorum'");
    refuse_edit("approver: carol " K3 "\napprover: dave " KE "\napprover: erin " K4 "\n", "",
                KURA_EDATA, "line 9: expected field 'approver', found 'tier'");
}

/* One public key under another type or application is the same key: as a
 * second approver, as an approver beside its administrator, as a second
 * administrator — for Ed25519 and for P-256, in the parser and in the
 * builders. */
static void test_refuse_aliased_keys(void **state)
{
    (void)state;
    for (int ec = 0; ec <= 1; ec++) {
        tu_sshkey k;
        char plain[KURA_SSHKEY_STRING_MAX], sk[KURA_SSHKEY_STRING_MAX],
            sk2[KURA_SSHKEY_STRING_MAX], from[600], to[600];
        kura_policy *p;
        kura_error err;
        tu_sshkey_new(&k, ec);
        tu_sshkey_line(plain, &k, NULL);
        tu_sshkey_line(sk, &k, "ssh:");
        tu_sshkey_line(sk2, &k, "ssh:kura-approvals");
        /* Admin alice holds K; approver carol is K as a security key. */
        snprintf(from, sizeof(from), "admin: alice " K1);
        snprintf(to, sizeof(to), "admin: alice %s", plain);
        {
            char *text = tu_edit(EXAMPLE, from, to);
            char from2[600], to2[600];
            snprintf(from2, sizeof(from2), "approver: carol " K3);
            snprintf(to2, sizeof(to2), "approver: carol %s", sk);
            {
                char *t2 = tu_edit(text, from2, to2);
                refuse_len(t2, strlen(t2), KURA_EDATA,
                           "line 9: approver 'carol': same key as admin 'alice' (the same public "
                           "key under another type or application)");
                free(t2);
            }
            free(text);
        }
        /* Approvers carol (K plain) and erin (K, sk, another application). */
        {
            char *a, *b;
            snprintf(from, sizeof(from), "approver: carol " K3);
            snprintf(to, sizeof(to), "approver: carol %s", plain);
            a = tu_edit(EXAMPLE, from, to);
            snprintf(from, sizeof(from), "approver: erin " K4);
            snprintf(to, sizeof(to), "approver: erin %s", sk2);
            b = tu_edit(a, from, to);
            refuse_len(b, strlen(b), KURA_EDATA, "line 11: approver 'erin': same key as approver 'carol' (the same public key");
            free(a);
            free(b);
        }
        /* Two security-key forms of one key as two administrators. */
        {
            char *a, *b;
            snprintf(to, sizeof(to), "admin: alice %s", sk);
            a = tu_edit(EXAMPLE, "admin: alice " K1, to);
            snprintf(to, sizeof(to), "admin: bob %s", sk2);
            b = tu_edit(a, "admin: bob " K2, to);
            refuse_len(b, strlen(b), KURA_EDATA, "line 7: admin 'bob': same key as admin 'alice'");
            free(a);
            free(b);
        }
        /* The builders refuse the same. */
        p = kura_policy_new();
        assert_non_null(p);
        assert_int_equal(kura_policy_add_admin(p, "alice", plain, &err), KURA_OK);
        assert_int_equal(kura_policy_add_approver(p, "carol", sk, &err), KURA_EDATA);
        assert_non_null(strstr(err.message, "same key as admin 'alice'"));
        assert_int_equal(kura_policy_add_admin(p, "bob", sk2, &err), KURA_EDATA);
        assert_int_equal(p->approver_count, 0);
        assert_int_equal(p->admin_count, 1);
        kura_policy_free(p);
        tu_sshkey_free(&k);
    }
}

/* Finding 2, field by field: each change that widens what can be spent is a
 * loosening (named by kura_policy_loosenings) that kura_policy_strictest
 * holds back, and its reverse is a tightening that counts at once; then the
 * timing of kura_policy_in_force. */
static void test_loosening_every_field(void **state)
{
    static const struct {
        const char *from, *to, *named;
    } edits[] = {
        {"mode: cold", "mode: hot", "mode hot"},
        {"admin-quorum: 2", "admin-quorum: 1", "admin-quorum 1"},
        {"admin: bob " K2 "\n", "admin: bob " K2 "\nadmin: bobby " K5 "\n", "new administrators"},
        {"approver: erin " K4 "\n", "approver: erin " K4 "\napprover: frank " K5 "\n",
         "new approvers"},
        {"tier: 100000000 1", "tier: 200000000 1", "fewer approvals in a tier"},
        {"tier: 1000000000 2\ntier: max 3", "tier: max 2", "fewer approvals in a tier"},
        {"initiator-may-approve: no", "initiator-may-approve: yes", "initiator-may-approve yes"},
        {"allowlist-required: yes", "allowlist-required: no", "allowlist-required no"},
        {"allowlist-delay: 86400", "allowlist-delay: 0", "allowlist-delay 0"},
        {"allow: bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq exchange deposit\n",
         "allow: bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq exchange deposit\n"
         "allow: bc1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3qccfmv3 new\n",
         "1 new allowlist entries"},
        {"max-per-transfer: 5000000000", "max-per-transfer: 6000000000", "max-per-transfer"},
        {"max-per-24h: 20000000000", "max-per-24h: 30000000000", "max-per-24h"},
        {"max-fee: 1000000", "max-fee: 2000000", "max-fee 2000000"},
        {"max-fee-rate: 200", "max-fee-rate: 300", "max-fee-rate 300"},
        {"max-lifetime: 86400", "max-lifetime: 172800", "max-lifetime 172800"},
        /* a key moved from plain to another form is a new key */
        {"approver: erin " K4, "approver: erin " K5, "new approvers"},
    };
    kura_policy *base = parse_ok(EXAMPLE);
    (void)state;
    for (size_t i = 0; i < sizeof(edits) / sizeof(edits[0]); i++) {
        char *a = tu_edit(EXAMPLE, "version: 3", "version: 4");
        char *b = tu_edit(a, edits[i].from, edits[i].to);
        kura_policy *next = parse_ok(b), *s1 = NULL, *s2 = NULL;
        char why[512];
        unsigned n = kura_policy_loosenings(why, sizeof(why), base, next);
        if (n != 1 || strstr(why, edits[i].named) == NULL)
            fail_msg("edit %zu: %u loosenings '%s', want '%s'", i, n, why, edits[i].named);
        /* Held back: the strictest of the two is the base's rule (version 4). */
        assert_int_equal(kura_policy_strictest(&s1, base, next, NULL), KURA_OK);
        assert_int_equal(s1->version, 4);
        assert_int_equal(kura_policy_loosenings(NULL, 0, base, s1), 0);
        /* The reverse is a tightening: no loosening, and counted at once. */
        /* (a replaced key is both: the new key waits, the old goes at once) */
        if (strstr(edits[i].from, "erin") == NULL || strstr(edits[i].to, "frank") != NULL)
            assert_int_equal(kura_policy_loosenings(NULL, 0, next, base), 0);
        assert_int_equal(kura_policy_strictest(&s2, next, base, NULL), KURA_OK);
        assert_int_equal(kura_policy_loosenings(NULL, 0, base, s2), 0);
        kura_policy_free(s1);
        kura_policy_free(s2);
        kura_policy_free(next);
        free(a);
        free(b);
    }
    /* Timing: v3 (delay 1 day) at t=0; v4 (delay 0, a cap raised) at 1000:
     * its loosening from 1000 + 86400. v5 at 2000 (a cap raised again):
     * the rules then still include v3's delay, so from 2000 + 86400. */
    {
        char *t4a = tu_edit(EXAMPLE, "version: 3", "version: 4");
        char *t4b = tu_edit(t4a, "allowlist-delay: 86400", "allowlist-delay: 0");
        char *t4 = tu_edit(t4b, "max-fee: 1000000", "max-fee: 2000000");
        char *t5a = tu_edit(t4, "version: 4", "version: 5");
        char *t5 = tu_edit(t5a, "max-fee-rate: 200", "max-fee-rate: 300");
        kura_policy *v4 = parse_ok(t4), *v5 = parse_ok(t5), *r = NULL;
        kura_policy_accepted h[3] = {{base, 0}, {v4, 1000}, {v5, 2000}};
        int64_t at = 0;
        assert_int_equal(kura_policy_in_force(&r, &at, h, 3, 1000 + 86399, NULL), KURA_OK);
        assert_int_equal(at, 2000 + 86400);
        assert_int_equal(r->version, 5);
        assert_int_equal(r->max_fee, 1000000);
        assert_int_equal(r->max_fee_rate, 200);
        assert_int_equal(r->allowlist_delay, 86400);
        kura_policy_free(r);
        assert_int_equal(kura_policy_in_force(&r, &at, h, 3, 1000 + 86400, NULL), KURA_OK);
        assert_int_equal(r->max_fee, 2000000);
        assert_int_equal(r->max_fee_rate, 200);
        kura_policy_free(r);
        assert_int_equal(kura_policy_in_force(&r, &at, h, 3, 2000 + 86400, NULL), KURA_OK);
        assert_true(kura_policy_equal(r, v5));
        kura_policy_free(r);
        /* With v4 in force (delay 0), a later loosening counts at once. */
        {
            kura_policy_accepted h2[3] = {{base, 0}, {v4, 1000}, {v5, 90000}};
            assert_int_equal(kura_policy_in_force(&r, &at, h2, 3, 90000, NULL), KURA_OK);
            assert_int_equal(at, 90000);
            assert_true(kura_policy_equal(r, v5));
            kura_policy_free(r);
        }
        /* Misuse: empty or unordered history. */
        assert_int_equal(kura_policy_in_force(&r, NULL, h, 0, 0, NULL), KURA_EINVAL);
        {
            kura_policy_accepted bad[2] = {{v4, 0}, {base, 10}};
            assert_int_equal(kura_policy_in_force(&r, NULL, bad, 2, 0, NULL), KURA_EINVAL);
        }
        assert_null(r);
        kura_policy_free(v4);
        kura_policy_free(v5);
        free(t4a);
        free(t4b);
        free(t4);
        free(t5a);
        free(t5);
    }
    kura_policy_free(base);
}

static void test_refuse_tiers(void **state)
{
    (void)state;
    refuse_edit("tier: 1000000000 2", "tier: 100000000 2", KURA_EDATA,
                "line 13: tier: tier bounds must ascend (100000000 is not above 100000000)");
    refuse_edit("tier: 1000000000 2", "tier: 10000000 2", KURA_EDATA, "tier bounds must ascend");
    refuse_edit("tier: 1000000000 2", "tier: 1000000000 1", KURA_EDATA,
                "line 13: tier: approvals must ascend with the tiers (1 is not above 1)");
    refuse_edit("tier: max 3", "tier: max 4", KURA_EDATA,
                "line 14: tier: 4 approvals but only 3 approvers");
    refuse_edit("tier: max 3", "tier: 2000000000 3", KURA_EDATA,
                "line 14: the last tier must be 'max'");
    refuse_edit("tier: max 3", "tier: max 3\ntier: max 3", KURA_EDATA,
                "line 15: tier: no tier may follow the 'max' tier");
    refuse_edit("tier: 100000000 1", "tier: 0 1", KURA_EDATA, "line 12: tier: bound: must be at least 1");
    refuse_edit("tier: 100000000 1", "tier: 100000000 0", KURA_EDATA,
                "line 12: tier: approvals: must be at least 1");
    refuse_edit("tier: 100000000 1", "tier: 0100000000 1", KURA_EDATA, "bound: leading zero");
    refuse_edit("tier: max 3", "tier: MAX 3", KURA_EDATA, "line 14: tier: bound:");
    refuse_edit("tier: max 3", "tier: max", KURA_EDATA, "line 14: tier: expected");
    refuse_edit("tier: max 3", "tier: max 3 4", KURA_EDATA, "line 14: tier: expected");
    refuse_edit("tier: 100000000 1", "tier: 2100000000000001 1", KURA_EDATA, "bound: above");
}

static void test_refuse_allowlist(void **state)
{
    (void)state;
    refuse_edit("allow: 3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy cold storage\n"
                "allow: bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq exchange deposit\n",
                "allow: bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq exchange deposit\n"
                "allow: 3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy cold storage\n",
                KURA_EDATA, "line 19: allow: allowlist entries must be in address order");
    refuse_edit("allow: 3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy cold storage\n",
                "allow: 3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy cold storage\n"
                "allow: 3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy cold storage\n",
                KURA_EDATA, "line 19: allow: 3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy is already on");
    refuse_edit(" cold storage\n", "\n", KURA_EDATA, "line 18: allow: an allowlist entry needs a label");
    refuse_edit("bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq exchange",
                "BC1QAR0SRRR7XFKVY5L643LYDNW9RE59GTZZWF5MDQ exchange", KURA_EDATA,
                "line 19: allow: address not in canonical form");
    refuse_edit("bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq exchange",
                "tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx exchange", KURA_EDATA,
                "line 19: allow: address: testnet address on");
    refuse_edit("exchange deposit",
                "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", KURA_EDATA,
                "line 19: allow: label longer than 64");
    /* Allowlist entries belong to the policy's network. */
    char *t = tu_edit(EXAMPLE, "network: bitcoin", "network: regtest");
    refuse_len(t, strlen(t), KURA_EDATA, "line 18: allow: address: mainnet address on");
    free(t);
}

static void test_tier_required(void **state)
{
    (void)state;
    kura_policy *p = parse_ok(EXAMPLE);
    unsigned n = 99;
    const struct {
        uint64_t total;
        unsigned want;
    } cases[] = {{0, 1},          {1, 1},          {100000000, 1}, {100000001, 2},
                 {1000000000, 2}, {1000000001, 3}, {UINT64_MAX, 3}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(kura_policy_tier_required(&n, p, cases[i].total), KURA_OK);
        assert_int_equal(n, cases[i].want);
    }
    assert_int_equal(kura_policy_tier_required(NULL, p, 1), KURA_EINVAL);
    p->tiers[2].up_to = 5000000000ull; /* no unbounded tier: refuse to answer */
    assert_int_equal(kura_policy_tier_required(&n, p, 1), KURA_EINVAL);
    assert_int_equal(n, 0);
    kura_policy_free(p);
}

static void test_allowlist_and_render(void **state)
{
    (void)state;
    kura_policy *p = parse_ok(EXAMPLE);
    const char *label = "x";
    assert_int_equal(kura_policy_allowlist_lookup(p, p->allow[1].script, p->allow[1].script_len,
                                                  &label),
                     1);
    assert_string_equal(label, "exchange deposit");
    uint8_t other[22] = {0x00, 0x14};
    assert_int_equal(kura_policy_allowlist_lookup(p, other, sizeof(other), &label), 0);
    assert_null(label);

    /* What kura-approve shows: one destination listed, one not. */
    const char *intent_text =
        "kura-intent 1\n"
        "id: 4f1c2a9e7b3d4c58a1e0f6b2d9c3e7a1\n"
        "network: bitcoin\n"
        "wallet: treasury-cold #q4x7k2m9\n"
        "policy: 3\n"
        "initiator: ops-tanaka\n"
        "created: 2026-11-21T09:30:00Z\n"
        "expires: 2026-11-21T21:30:00Z\n"
        "output: bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq 150000000 withdrawal 8812\n"
        "output: 1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa 2500000\n"
        "max-fee: 40000\n";
    kura_intent *in = NULL;
    kura_error err;
    char *shown = NULL;
    size_t len = 0;
    assert_int_equal(kura_intent_parse(&in, (const uint8_t *)intent_text, strlen(intent_text),
                                       &err),
                     KURA_OK);
    assert_int_equal(kura_intent_render(&shown, &len, in, kura_policy_allowlist_lookup, p, &err),
                     KURA_OK);
    assert_non_null(strstr(shown, "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq\n"
                                  "  amount:    1.50000000 BTC (150000000 sats)\n"
                                  "  label:     withdrawal 8812\n"
                                  "  allowlist: allowlisted as exchange deposit\n"));
    assert_non_null(strstr(shown, "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa\n"
                                  "  amount:    0.02500000 BTC (2500000 sats)\n"
                                  "  allowlist: NOT ON THE ALLOWLIST\n"));
    free(shown);
    kura_intent_free(in);
    kura_policy_free(p);
}

static void test_successor(void **state)
{
    (void)state;
    kura_policy *cur = parse_ok(EXAMPLE);
    char *t = tu_edit(EXAMPLE, "version: 3", "version: 4");
    kura_policy *next = parse_ok(t);
    kura_error err;
    assert_int_equal(kura_policy_check_successor(cur, next, &err), KURA_OK);
    assert_int_equal(kura_policy_check_successor(next, cur, &err), KURA_POLICY_ESTALE);
    assert_non_null(strstr(err.message, "version 3 is not newer than the policy in force (version 4)"));
    assert_int_equal(kura_policy_check_successor(cur, cur, &err), KURA_POLICY_ESTALE);
    strcpy(next->wallet.checksum, "qqqqqqqq");
    assert_int_equal(kura_policy_check_successor(cur, next, &err), KURA_POLICY_ESTALE);
    assert_non_null(strstr(err.message, "wallet"));
    strcpy(next->wallet.checksum, "q4x7k2m9");
    next->chain = KURA_CHAIN_SIGNET;
    assert_int_equal(kura_policy_check_successor(cur, next, &err), KURA_POLICY_ESTALE);
    assert_non_null(strstr(err.message, "network signet, not bitcoin"));
    assert_int_equal(kura_policy_check_successor(NULL, next, &err), KURA_EINVAL);
    free(t);
    kura_policy_free(cur);
    kura_policy_free(next);
    assert_string_equal(kura_policy_status_name(KURA_POLICY_EQUORUM), "KURA_POLICY_EQUORUM");
    assert_string_equal(kura_policy_status_name(KURA_SSHSIG_EBADSIG), "KURA_SSHSIG_EBADSIG");
    assert_string_equal(kura_policy_status_name(KURA_EDATA), "KURA_EDATA");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_example),          cmocka_unit_test(test_build),
        cmocka_unit_test(test_refuse_text),      cmocka_unit_test(test_refuse_values),
        cmocka_unit_test(test_refuse_members), cmocka_unit_test(test_refuse_aliased_keys), cmocka_unit_test(test_loosening_every_field),   cmocka_unit_test(test_refuse_tiers),
        cmocka_unit_test(test_refuse_allowlist), cmocka_unit_test(test_tier_required),
        cmocka_unit_test(test_allowlist_and_render), cmocka_unit_test(test_successor),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
