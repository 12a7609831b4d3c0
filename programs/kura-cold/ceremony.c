/*
 * programs/kura-cold/ceremony.c — the key ceremony (the wallet descriptor,
 * its name and the first policy, confirmed on the device itself) and the
 * export of the watch-only descriptor for the coordinator.
 *
 * The ceremony is the one moment the signer takes a policy on a person's
 * word instead of an administrator quorum's signatures, so it shows
 * everything that will bind it and accepts only a typed "yes".
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "cold.h"
#include "kura/hash.h"
#include "kura/script.h"

/* Text of --descriptor or --descriptor-file, trailing blanks cut. */
static int descriptor_arg(char **out, const cold_env *env)
{
    const char *v = env->args->value[OPT_DESCRIPTOR];
    const char *f = env->args->value[OPT_DESCRIPTOR_FILE];
    size_t len;
    *out = NULL;
    if ((v == NULL) == (f == NULL))
        return cold_fail(COLD_EXIT_CANNOT,
                         "give the wallet descriptor with --descriptor TEXT or "
                         "--descriptor-file FILE");
    if (v != NULL) {
        *out = strdup(v);
        if (*out == NULL) return cold_fail(COLD_EXIT_CANNOT, "out of memory");
    } else if (cold_read_file((uint8_t **)out, &len, f, KURA_DESCRIPTOR_MAX_LEN) != 0) {
        return cold_fail(COLD_EXIT_CANNOT, "cannot read %s: %s", f, strerror(errno));
    }
    len = strlen(*out);
    while (len > 0 && ((*out)[len - 1] == '\n' || (*out)[len - 1] == '\r' ||
                       (*out)[len - 1] == ' ' || (*out)[len - 1] == '\t'))
        (*out)[--len] = '\0';
    return COLD_EXIT_OK;
}

/* The kinds of wallet kura signs for: P2WSH sortedmulti, P2WPKH, P2TR, each
 * with a receive and a change branch (<0;1>) and a wildcard. */
static int check_wallet_shape(const kura_ctx *ctx, const kura_descriptor *d, const char *canon,
                              kura_network net)
{
    kura_descriptor_type t = kura_descriptor_get_type(d);
    if (kura_descriptor_has_private(d))
        return cold_fail(COLD_EXIT_REFUSED,
                         "the descriptor holds a private key; give the public one");
    if (t != KURA_DESCRIPTOR_WPKH && t != KURA_DESCRIPTOR_TR &&
        !(t == KURA_DESCRIPTOR_WSH && strncmp(canon, "wsh(sortedmulti(", 16) == 0))
        return cold_fail(COLD_EXIT_REFUSED,
                         "kura wallets are wsh(sortedmulti(...)), wpkh(...) or tr(...)");
    if (kura_descriptor_multipath_count(d) != 2 || !kura_descriptor_is_ranged(d))
        return cold_fail(COLD_EXIT_REFUSED,
                         "the descriptor needs a receive and a change branch: every key ends "
                         "in /<0;1>/*");
    /* The check reads (branch, index) from the paths in PSBT records and
     * re-derives there: a wallet numbering its branches otherwise
     * (/<1;0>/ and a wildcard, or keys numbered differently) would have every input
     * refused as foreign after the ceremony. Refused here, where it can be
     * fixed. */
    {
        kura_error err;
        if (kura_descriptor_check_branches(ctx, d, 2, &err) != KURA_OK)
            return cold_fail(COLD_EXIT_REFUSED, "%s", err.message);
    }
    if (!kura_descriptor_allows_network(d, net))
        return cold_fail(COLD_EXIT_REFUSED, "the descriptor's keys are not for %s",
                         kura_network_name(net));
    return COLD_EXIT_OK;
}

/* Checks that every key expression claiming this signer's master
 * fingerprint is this signer's key at the path it claims, on both branches,
 * and that there is at least one. *expression gets the first one's index. */
static int check_own_key(const cold_env *env, const kura_descriptor *d,
                         const kura_bip32_key *master, size_t *expression, char *where,
                         size_t where_len)
{
    kura_descriptor_output *out = kura_descriptor_output_new();
    kura_bip32_key *child = sodium_malloc(sizeof(kura_bip32_key));
    uint8_t fp[4];
    char fph[9];
    kura_error err;
    size_t found = 0;
    int rc = COLD_EXIT_OK;
    if (out == NULL || child == NULL || kura_bip32_fingerprint(fp, master) != KURA_OK) {
        rc = cold_fail(COLD_EXIT_CANNOT, "out of memory");
        goto done;
    }
    sodium_bin2hex(fph, sizeof(fph), fp, 4);
    for (size_t branch = 0; branch < 2; branch++) {
        if (kura_descriptor_derive(env->ctx, out, d, branch, 0, &err) != KURA_OK) {
            rc = cold_fail(COLD_EXIT_REFUSED, "%s", err.message);
            goto done;
        }
        for (size_t k = 0; k < out->n_keys; k++) {
            const kura_descriptor_key_info *ki = &out->keys[k];
            int same;
            char path[KURA_DESCRIPTOR_PATH_MAX * 12 + 8];
            if (memcmp(ki->fingerprint, fp, 4) != 0) continue;
            kura_bip32_path_format(path, sizeof(path), ki->path, ki->path_len);
            if (kura_bip32_derive_path(env->ctx, child, master, ki->path, ki->path_len) !=
                KURA_OK) {
                rc = cold_fail(COLD_EXIT_REFUSED, "cannot derive this signer's key at %s", path);
                goto done;
            }
            if (ki->pubkey_len == 33)
                same = memcmp(child->pub, ki->pubkey, 33) == 0;
            else if (ki->pubkey_len == 32)
                same = memcmp(child->pub + 1, ki->pubkey, 32) == 0;
            else
                same = 0;
            if (!same) {
                rc = cold_fail(COLD_EXIT_REFUSED,
                               "key expression %zu claims this signer's fingerprint %s, but it "
                               "is not this signer's key at %s",
                               ki->expression + 1, fph, path);
                goto done;
            }
            if (found++ == 0) {
                *expression = ki->expression;
                snprintf(where, where_len, "%s", path);
            }
        }
    }
    if (found == 0)
        rc = cold_fail(COLD_EXIT_REFUSED,
                       "this signer's key (master fingerprint %s) is not in the descriptor", fph);
done:
    cold_master_free(child);
    kura_descriptor_output_free(out);
    return rc;
}

/* The administrators and approvers with their key fingerprints, as
 * ssh-keygen -l shows them, so each person can check their own. */
static void show_members(const char *role, const kura_policy_member *m, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char fp[KURA_SSHKEY_FINGERPRINT_SIZE];
        if (kura_sshkey_fingerprint(fp, &m[i].key) != KURA_OK) snprintf(fp, sizeof(fp), "?");
        printf("  %-9s %-20s %s %s\n", role, m[i].name, kura_sshkey_type_name(m[i].key.type), fp);
    }
}

/* Builds the wallet's derivation cache (COLD_CACHE_COUNT indexes per
 * branch) and writes it to the data directory; dhash gets its SHA-256, which
 * the wallet file records. */
static int write_derivations(const cold_env *env, const kura_descriptor *d, uint8_t dhash[32])
{
    char path[PATH_MAX];
    kura_descriptor_cache *cache = NULL;
    uint8_t *bytes = NULL;
    size_t len = 0;
    kura_error err;
    if (kura_descriptor_cache_build(env->ctx, &cache, d, COLD_CACHE_COUNT, &err) != KURA_OK)
        return cold_fail(COLD_EXIT_CANNOT, "derivation cache: %s", err.message);
    if (kura_descriptor_cache_serialize(&bytes, &len, cache) != KURA_OK) {
        kura_descriptor_cache_free(cache);
        return cold_fail(COLD_EXIT_CANNOT, "out of memory");
    }
    kura_descriptor_cache_free(cache);
    kura_sha256(dhash, bytes, len);
    if (cold_path(path, sizeof(path), env->dir, COLD_FILE_DERIVATIONS) != 0 ||
        cold_write_atomic(path, bytes, len, 0600, 1) != 0) {
        free(bytes);
        return cold_fail(COLD_EXIT_CANNOT, "cannot write %s: %s", path, strerror(errno));
    }
    free(bytes);
    return COLD_EXIT_OK;
}

/* Writes the derivation cache, the wallet, the policy and the journal: the
 * journal's policy entry last, since it is what makes the ceremony done. */
static int write_ceremony(const cold_env *env, const char *name, kura_intent_chain chain,
                          const char *canon, const kura_descriptor *d,
                          const kura_policy *policy, const uint8_t *ptext, size_t plen,
                          const uint8_t phash[32])
{
    char path[PATH_MAX], jpath[PATH_MAX];
    char *wtext;
    uint8_t dhash[32];
    kura_journal *j = NULL;
    kura_error err;
    int rc;
    rc = write_derivations(env, d, dhash);
    if (rc != COLD_EXIT_OK) return rc;
    wtext = cold_wallet_text(name, chain, canon, dhash);
    if (wtext == NULL) return cold_fail(COLD_EXIT_CANNOT, "out of memory");
    if (cold_path(path, sizeof(path), env->dir, COLD_DIR_POLICIES) != 0 || cold_mkdir(path) != 0) {
        free(wtext);
        return cold_fail(COLD_EXIT_CANNOT, "cannot create %s: %s", path, strerror(errno));
    }
    if (cold_path(path, sizeof(path), env->dir, COLD_FILE_WALLET) != 0 ||
        cold_write_atomic(path, (const uint8_t *)wtext, strlen(wtext), 0600, 1) != 0) {
        free(wtext);
        return cold_fail(COLD_EXIT_CANNOT, "cannot write %s: %s", path, strerror(errno));
    }
    free(wtext);
    if (cold_policy_archive_path(path, sizeof(path), env->dir, policy->version) != 0 ||
        cold_write_atomic(path, ptext, plen, 0600, 1) != 0)
        return cold_fail(COLD_EXIT_CANNOT, "cannot write %s: %s", path, strerror(errno));
    if (cold_path(path, sizeof(path), env->dir, COLD_FILE_POLICY) != 0 ||
        cold_write_atomic(path, ptext, plen, 0600, 1) != 0)
        return cold_fail(COLD_EXIT_CANNOT, "cannot write %s: %s", path, strerror(errno));
    if (cold_path(jpath, sizeof(jpath), env->dir, COLD_FILE_JOURNAL) != 0)
        return cold_fail(COLD_EXIT_CANNOT, "the data directory path is too long");
    rc = kura_journal_create(&j, jpath, env->now, &err);
    /* A journal holding only its init entry is what an interrupted ceremony
     * leaves (checked by the caller): take it up. */
    if (rc == KURA_JOURNAL_EEXIST) rc = kura_journal_open(&j, jpath, 0, &err);
    if (rc != KURA_OK) return cold_fail(COLD_EXIT_CANNOT, "%s", err.message);
    rc = kura_journal_append_policy(j, NULL, env->now, policy->version, phash, &err);
    kura_journal_free(j);
    if (rc != KURA_OK) return cold_fail(COLD_EXIT_CANNOT, "%s", err.message);
    return COLD_EXIT_OK;
}

int cold_cmd_ceremony(const cold_env *env)
{
    const char *policy_file = env->args->value[OPT_POLICY];
    const char *want_name = env->args->value[OPT_WALLET];
    char *desc_text = NULL, *canon = NULL, jpath[PATH_MAX];
    char where[KURA_DESCRIPTOR_PATH_MAX * 12 + 8];
    char fph[9], hhex[65], checksum[KURA_DESCRIPTOR_CHECKSUM_LEN + 1], recv[KURA_ADDRESS_MAX],
        chg[KURA_ADDRESS_MAX];
    uint8_t *ptext = NULL, phash[32];
    size_t plen = 0, expression = 0;
    kura_descriptor *d = NULL;
    kura_policy *policy = NULL;
    kura_bip32_key *master = NULL;
    kura_keystore_info info;
    kura_network pnet;
    kura_error err;
    cold_journal_snap snap;
    int rc;
    if (policy_file == NULL)
        return cold_fail(COLD_EXIT_CANNOT, "give the first policy with --policy FILE");
    if (cold_path(jpath, sizeof(jpath), env->dir, COLD_FILE_JOURNAL) != 0)
        return cold_fail(COLD_EXIT_CANNOT, "the data directory path is too long");
    if (cold_journal_snapshot(&snap, jpath) == 0) {
        size_t policies = snap.policy_count, count = (size_t)snap.count;
        cold_journal_snap_free(&snap);
        if (policies > 0 || count > 1)
            return cold_fail(COLD_EXIT_CANNOT,
                             "the key ceremony of %s was done already; a signer has one wallet "
                             "and takes new policies only signed by its administrators",
                             env->dir);
    } else if (errno != ENOENT) {
        return cold_fail(COLD_EXIT_CANNOT, "cannot read %s: %s", jpath, strerror(errno));
    }
    if (env->args->value[OPT_BSMS] == NULL) {
        if (env->args->npos > 0)
            return cold_fail(COLD_EXIT_CANNOT, "unexpected argument '%s'", env->args->pos[0]);
        if ((rc = descriptor_arg(&desc_text, env)) != COLD_EXIT_OK) return rc;
    } else if (env->args->value[OPT_DESCRIPTOR] != NULL ||
               env->args->value[OPT_DESCRIPTOR_FILE] != NULL) {
        return cold_fail(COLD_EXIT_CANNOT, "give the wallet by --bsms or by --descriptor, not both");
    }
    if (cold_read_file(&ptext, &plen, policy_file, KURA_POLICY_TEXT_MAX) != 0) {
        rc = cold_fail(COLD_EXIT_CANNOT, "cannot read %s: %s", policy_file, strerror(errno));
        goto done;
    }
    if ((rc = cold_open_master(env, &master, &info)) != COLD_EXIT_OK) goto done;
    /* BIP129: the wallet from the coordinator's descriptor record, checked
     * against every device's signed key record before anything else. */
    if (env->args->value[OPT_BSMS] != NULL) {
        char *bsms_desc = NULL;
        rc = cold_bsms_descriptor(env, &bsms_desc, info.network);
        if (rc != COLD_EXIT_OK) goto done;
        desc_text = strdup(bsms_desc);
        kura_descriptor_string_free(bsms_desc);
        if (desc_text == NULL) {
            rc = cold_fail(COLD_EXIT_CANNOT, "out of memory");
            goto done;
        }
    }
    rc = COLD_EXIT_REFUSED;
    if (kura_descriptor_parse(env->ctx, &d, desc_text, strlen(desc_text), &err) != KURA_OK) {
        rc = cold_fail(COLD_EXIT_REFUSED, "%s", err.message);
        goto done;
    }
    if (kura_descriptor_to_string(env->ctx, &canon, d, KURA_DESCRIPTOR_ALL_BRANCHES,
                                  KURA_DESCRIPTOR_PUBLIC, &err) != KURA_OK) {
        rc = cold_fail(COLD_EXIT_REFUSED, "%s", err.message);
        goto done;
    }
    if ((rc = check_wallet_shape(env->ctx, d, canon, info.network)) != COLD_EXIT_OK) goto done;
    memcpy(checksum, canon + strlen(canon) - KURA_DESCRIPTOR_CHECKSUM_LEN, sizeof(checksum));
    rc = check_own_key(env, d, master, &expression, where, sizeof(where));
    if (rc != COLD_EXIT_OK) goto done;
    sodium_bin2hex(fph, sizeof(fph), info.fingerprint, 4);
    cold_master_free(master);
    master = NULL;

    /* The first policy: exactly its canonical text, for this wallet. */
    if (kura_policy_parse(&policy, ptext, plen, &err) != KURA_OK) {
        rc = cold_fail(COLD_EXIT_REFUSED, "%s: %s", policy_file, err.message);
        goto done;
    }
    kura_intent_chain_network(&pnet, policy->chain);
    if (want_name != NULL && strcmp(want_name, policy->wallet.name) != 0) {
        rc = cold_fail(COLD_EXIT_REFUSED, "the policy is for wallet '%s', not '%s'",
                       policy->wallet.name, want_name);
        goto done;
    }
    if (strcmp(policy->wallet.checksum, checksum) != 0) {
        rc = cold_fail(COLD_EXIT_REFUSED,
                       "the policy names the wallet's descriptor by checksum #%s, but this "
                       "descriptor's is #%s",
                       policy->wallet.checksum, checksum);
        goto done;
    }
    if (pnet != info.network) {
        rc = cold_fail(COLD_EXIT_REFUSED, "the policy is for %s, but this signer's key is for %s",
                       kura_intent_chain_name(policy->chain), kura_network_name(info.network));
        goto done;
    }
    if (kura_descriptor_address(env->ctx, recv, sizeof(recv), d, KURA_DESCRIPTOR_BRANCH_RECEIVE, 0,
                                pnet, &err) != KURA_OK ||
        kura_descriptor_address(env->ctx, chg, sizeof(chg), d, KURA_DESCRIPTOR_BRANCH_CHANGE, 0,
                                pnet, &err) != KURA_OK) {
        rc = cold_fail(COLD_EXIT_REFUSED, "%s", err.message);
        goto done;
    }
    kura_sha256(phash, ptext, plen);
    cold_hex32(hhex, phash);

    printf("KEY CEREMONY — check every line with the other key holders and administrators.\n\n"
           "wallet:      %s #%s\n"
           "chain:       %s\n"
           "descriptor:  %s\n"
           "this signer: key expression %zu, master fingerprint %s, first key %s\n"
           "receive 0:   %s\n"
           "change 0:    %s\n\n"
           "first policy: version %" PRIu64 ", mode %s, sha256 %s\n",
           policy->wallet.name, checksum, kura_intent_chain_name(policy->chain), canon,
           expression + 1, fph, where, recv, chg, policy->version,
           policy->mode == KURA_POLICY_HOT ? "hot (signs unattended)" : "cold", hhex);
    show_members("admin", policy->admins, policy->admin_count);
    printf("  admin quorum: %u of %zu sign every later policy\n", policy->admin_quorum,
           policy->admin_count);
    show_members("approver", policy->approvers, policy->approver_count);
    printf("\n--- the policy text ---\n%.*s--- end of the policy text ---\n\n", (int)plen,
           (const char *)ptext);
    if (!cold_ask_yes("Type yes to make this the signer's wallet and first policy:")) {
        rc = cold_fail(COLD_EXIT_REFUSED, "refused: the operator did not confirm; nothing was "
                                          "written");
        goto done;
    }
    rc = write_ceremony(env, policy->wallet.name, policy->chain, canon, d, policy, ptext, plen,
                        phash);
    if (rc != COLD_EXIT_OK) goto done;
    printf("ceremony done: wallet %s #%s on %s, policy version %" PRIu64 " in force.\n"
           "Give the coordinator the watch-only descriptor: kura-cold export\n",
           policy->wallet.name, checksum, kura_intent_chain_name(policy->chain), policy->version);
done:
    cold_master_free(master);
    kura_policy_free(policy);
    kura_descriptor_string_free(canon);
    kura_descriptor_free(d);
    free(ptext);
    free(desc_text);
    return rc;
}

int cold_cmd_export(const cold_env *env)
{
    cold_state st;
    int rc = cold_state_load(env, &st, 0);
    if (rc == COLD_EXIT_OK) printf("%s\n", st.descriptor_text);
    cold_state_free(&st);
    return rc;
}
