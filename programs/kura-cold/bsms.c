/*
 * programs/kura-cold/bsms.c — BIP129 on the signer (docs/bsms.md):
 * `kura-cold bsms key` writes this device's signed key record, and the
 * ceremony's `--bsms` checks the coordinator's descriptor record against
 * every device's key record before the wallet is accepted.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "cold.h"
#include "kura/bsms.h"

int cold_cmd_bsms_key(const cold_env *env)
{
    const char *ps = env->args->value[OPT_PATH], *out_path = env->args->value[OPT_OUTPUT];
    uint32_t path[KURA_BIP32_PATH_MAX];
    size_t path_len = 0, len = 0;
    char def[64], fp[9], desc[32], *text = NULL;
    kura_bip32_key *master = NULL, *child = NULL;
    kura_keystore_info info;
    uint8_t mfp[4];
    kura_error err;
    const uint8_t no_token[1] = {0};
    int rc;
    if (out_path == NULL) return cold_fail(COLD_EXIT_CANNOT, "usage: kura-cold bsms key -o OUT");
    rc = cold_open_master(env, &master, &info);
    if (rc != COLD_EXIT_OK) return rc;
    if (ps == NULL) {
        /* BIP48: m/48'/coin'/account'/2' for P2WSH multisig. */
        snprintf(def, sizeof(def), "m/48h/%uh/0h/2h", info.network == KURA_NETWORK_MAINNET ? 0u : 1u);
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
    sodium_bin2hex(fp, sizeof(fp), mfp, 4);
    snprintf(desc, sizeof(desc), "kura-cold %s", fp);
    /* Signed by the key at the path itself: the record proves that whoever
     * holds this device's seed vouches for this key. */
    if (kura_bsms_key_record_write(env->ctx, &text, &len, no_token, 1, child, mfp, path, path_len,
                                   desc, &err) != KURA_OK) {
        rc = cold_fail(COLD_EXIT_CANNOT, "%s", err.message);
        goto done;
    }
    if (cold_write_atomic(out_path, (const uint8_t *)text, len, 0644, 0) != 0) {
        rc = cold_fail(COLD_EXIT_CANNOT, "cannot write %s: %s", out_path, strerror(errno));
        goto done;
    }
    printf("key record written to %s:\n%s", out_path, text);
    rc = COLD_EXIT_OK;
done:
    free(text);
    cold_master_free(child);
    cold_master_free(master);
    return rc;
}

int cold_bsms_descriptor(const cold_env *env, char **desc_text, kura_network network)
{
    const cold_args *a = env->args;
    const char *wallet_path = a->value[OPT_BSMS];
    kura_bsms_key_record recs[KURA_BSMS_SIGNERS_MAX];
    kura_descriptor *d = NULL;
    uint8_t *text = NULL;
    size_t len = 0;
    unsigned m = 0;
    kura_bsms_kind kind;
    char addr[KURA_ADDRESS_MAX];
    kura_error err;
    int rc = COLD_EXIT_REFUSED;
    *desc_text = NULL;
    if (a->npos == 0 || a->npos > KURA_BSMS_SIGNERS_MAX)
        return cold_fail(COLD_EXIT_CANNOT,
                         "--bsms FILE takes every device's key record (1 to %d files) after it",
                         KURA_BSMS_SIGNERS_MAX);
    /* Every device's record, each signed by its own key: a record changed
     * on the way (the coordinator's key in a cosigner's record) stops the
     * ceremony here. */
    for (size_t i = 0; i < a->npos; i++) {
        if (cold_read_file(&text, &len, a->pos[i], KURA_BSMS_RECORD_MAX) != 0)
            return cold_fail(COLD_EXIT_CANNOT, "cannot read %s: %s", a->pos[i], strerror(errno));
        rc = kura_bsms_key_record_parse(&recs[i], (const char *)text, len, &err);
        free(text);
        text = NULL;
        if (rc != KURA_OK)
            return cold_fail(COLD_EXIT_REFUSED, "refused: key record %s: %s (%s)", a->pos[i],
                             err.message, rc == KURA_BSMS_EBADSIG ? "KURA_BSMS_EBADSIG" : "KURA_EDATA");
    }
    if (cold_read_file(&text, &len, wallet_path, KURA_BSMS_RECORD_MAX) != 0)
        return cold_fail(COLD_EXIT_CANNOT, "cannot read %s: %s", wallet_path, strerror(errno));
    rc = kura_bsms_descriptor_record_verify(env->ctx, &d, &m, &kind, (const char *)text, len, recs,
                                            a->npos, network, &err);
    free(text);
    if (rc == KURA_ENOMEM) return cold_fail(COLD_EXIT_CANNOT, "out of memory");
    if (rc != KURA_OK)
        return cold_fail(COLD_EXIT_REFUSED, "refused: descriptor record %s: %s", wallet_path,
                         err.message);
    if (kura_descriptor_to_string(env->ctx, desc_text, d, KURA_DESCRIPTOR_ALL_BRANCHES,
                                  KURA_DESCRIPTOR_PUBLIC, &err) != KURA_OK ||
        kura_descriptor_address(env->ctx, addr, sizeof(addr), d, 0, 0, network, &err) != KURA_OK) {
        kura_descriptor_free(d);
        return cold_fail(COLD_EXIT_CANNOT, "%s", err.message);
    }
    kura_descriptor_free(d);
    /* What the people compare across devices (BIP129): M, N, the first
     * address, every key. */
    printf("BSMS: %u of %zu, %s, first address %s; every key record verified:\n", m, a->npos,
           kind == KURA_BSMS_WSH_SORTEDMULTI ? "wsh(sortedmulti)" : "tr(NUMS, sortedmulti_a)", addr);
    for (size_t i = 0; i < a->npos; i++)
        printf("  %zu. %s (%s) from %s\n", i + 1, recs[i].key, recs[i].description, a->pos[i]);
    printf("\n");
    return COLD_EXIT_OK;
}
