/* src/wallet/wallet.c — the BIP174 Updater for a descriptor wallet: every
 * field a signer needs, taken from the wallet's own descriptor, never from
 * whoever sent the PSBT. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "kura/script.h"
#include "kura/wallet.h"

/* Upper bound on distinct x-only keys in one tr() output (a tree of
 * sortedmulti_a leaves with up to 999 keys each is far beyond kura's use). */
#define WALLET_MAX_TAP_KEYS 4096

typedef int (*add_tap_bip32_fn)(kura_psbt *, size_t, const uint8_t *, const uint8_t *, size_t,
                                const uint8_t *, const uint32_t *, size_t);

/* BIP371 wants one TAP_BIP32_DERIVATION record per x-only key, listing every
 * leaf the key appears in; the descriptor lists one entry per appearance.
 * Group them here. */
static int add_tap_keys(kura_psbt *psbt, size_t at, const kura_descriptor_output *o,
                        add_tap_bip32_fn add, kura_error *err)
{
    uint8_t *hashes = NULL;
    int rc = KURA_OK;
    if (o->n_keys > WALLET_MAX_TAP_KEYS)
        return kura_fail(err, KURA_ERANGE, "wallet: %zu taproot keys, at most %d", o->n_keys,
                         WALLET_MAX_TAP_KEYS);
    hashes = malloc((o->n_leaves > 0 ? o->n_leaves : 1) * 32);
    if (hashes == NULL) return kura_fail(err, KURA_ENOMEM, "wallet: out of memory");
    for (size_t i = 0; i < o->n_keys && rc == KURA_OK; i++) {
        const kura_descriptor_key_info *k = &o->keys[i];
        size_t count = 0;
        int seen = 0;
        if (k->pubkey_len != 32) {
            rc = kura_fail(err, KURA_EDATA, "wallet: taproot key %zu is not x-only", i);
            break;
        }
        for (size_t j = 0; j < i && !seen; j++)
            seen = memcmp(o->keys[j].pubkey, k->pubkey, 32) == 0;
        if (seen) continue; /* recorded with its first appearance */
        for (size_t j = i; j < o->n_keys; j++) {
            const kura_descriptor_key_info *kj = &o->keys[j];
            if (memcmp(kj->pubkey, k->pubkey, 32) != 0 || kj->leaf == KURA_DESCRIPTOR_NO_LEAF)
                continue;
            if (kj->leaf >= o->n_leaves) {
                rc = kura_fail(err, KURA_EDATA, "wallet: key %zu names leaf %zu of %zu", j,
                               kj->leaf, o->n_leaves);
                break;
            }
            /* A key used twice in one leaf is still one leaf hash. */
            int dup = 0;
            for (size_t h = 0; h < count && !dup; h++)
                dup = memcmp(hashes + 32 * h, o->leaves[kj->leaf].leaf_hash, 32) == 0;
            if (!dup) memcpy(hashes + 32 * count++, o->leaves[kj->leaf].leaf_hash, 32);
        }
        if (rc != KURA_OK) break;
        rc = add(psbt, at, k->pubkey, count > 0 ? hashes : NULL, count, k->fingerprint, k->path,
                 k->path_len);
        if (rc != KURA_OK) rc = kura_fail(err, rc, "wallet: cannot record taproot key %zu", i);
    }
    free(hashes);
    return rc;
}

static int derive(const kura_ctx *ctx, kura_descriptor_output *work, const kura_descriptor *desc,
                  size_t branch, uint32_t index, kura_error *err)
{
    int rc = kura_descriptor_derive(ctx, work, desc, branch, index, err);
    if (rc != KURA_OK) return rc;
    if (work->n_scripts != 1)
        return kura_fail(err, KURA_EDATA, "wallet: a wallet descriptor must give one script, "
                                          "not %zu (combo() is not a wallet)", work->n_scripts);
    return KURA_OK;
}

int kura_wallet_update_input(const kura_ctx *ctx, kura_psbt *psbt, size_t input_index,
                             kura_descriptor_output *work, const kura_descriptor *desc,
                             size_t branch, uint32_t index, uint64_t amount,
                             const kura_tx *prev_tx, kura_error *err)
{
    const kura_descriptor_script_info *s;
    int rc;
    if (ctx == NULL || psbt == NULL || work == NULL || desc == NULL ||
        input_index >= psbt->input_count)
        return kura_fail(err, KURA_EINVAL, "wallet: bad arguments to update_input");
    if ((rc = derive(ctx, work, desc, branch, index, err)) != KURA_OK) return rc;
    s = &work->scripts[0];
    if (prev_tx != NULL) {
        const kura_psbt_input *in = &psbt->inputs[input_index];
        if (in->prev_vout >= prev_tx->output_count)
            return kura_fail(err, KURA_EDATA, "wallet: input %zu: funding tx has no output %u",
                             input_index, in->prev_vout);
        const kura_txout *spent = &prev_tx->outputs[in->prev_vout];
        if (spent->amount != amount || spent->script_pubkey.len != s->script_pubkey_len ||
            memcmp(spent->script_pubkey.data, s->script_pubkey, s->script_pubkey_len) != 0)
            return kura_fail(err, KURA_EDATA,
                             "wallet: input %zu: funding tx output %u is not %llu sat to the "
                             "wallet's script at branch %zu index %u",
                             input_index, in->prev_vout, (unsigned long long)amount, branch,
                             index);
        rc = kura_psbt_input_set_non_witness_utxo(psbt, input_index, prev_tx, err);
        if (rc != KURA_OK) return rc;
    }
    rc = kura_psbt_input_set_witness_utxo(psbt, input_index, amount, s->script_pubkey,
                                          s->script_pubkey_len);
    if (rc == KURA_OK && s->redeem_script != NULL)
        rc = kura_psbt_input_set_redeem_script(psbt, input_index, s->redeem_script,
                                               s->redeem_script_len);
    if (rc == KURA_OK && s->witness_script != NULL)
        rc = kura_psbt_input_set_witness_script(psbt, input_index, s->witness_script,
                                                s->witness_script_len);
    if (rc != KURA_OK) return kura_fail(err, rc, "wallet: input %zu: cannot record scripts", input_index);
    if (!work->is_taproot) {
        for (size_t i = 0; i < work->n_keys; i++) {
            const kura_descriptor_key_info *k = &work->keys[i];
            rc = kura_psbt_input_add_bip32(psbt, input_index, k->pubkey, k->pubkey_len,
                                           k->fingerprint, k->path, k->path_len);
            if (rc != KURA_OK)
                return kura_fail(err, rc, "wallet: input %zu: cannot record key %zu", input_index, i);
        }
        return KURA_OK;
    }
    rc = kura_psbt_input_set_tap_internal_key(psbt, input_index, work->internal_key);
    if (rc == KURA_OK && work->has_merkle_root)
        rc = kura_psbt_input_set_tap_merkle_root(psbt, input_index, work->merkle_root);
    for (size_t i = 0; rc == KURA_OK && i < work->n_leaves; i++) {
        const kura_descriptor_leaf *l = &work->leaves[i];
        rc = kura_psbt_input_add_tap_leaf_script(psbt, input_index, l->control_block,
                                                 l->control_block_len, l->script, l->script_len,
                                                 l->leaf_version);
    }
    if (rc != KURA_OK)
        return kura_fail(err, rc, "wallet: input %zu: cannot record taproot data", input_index);
    return add_tap_keys(psbt, input_index, work, kura_psbt_input_add_tap_bip32, err);
}

int kura_wallet_update_output(const kura_ctx *ctx, kura_psbt *psbt, size_t output_index,
                              kura_descriptor_output *work, const kura_descriptor *desc,
                              size_t branch, uint32_t index, kura_error *err)
{
    const kura_descriptor_script_info *s;
    const kura_psbt_output *po;
    int rc;
    if (ctx == NULL || psbt == NULL || work == NULL || desc == NULL ||
        output_index >= psbt->output_count)
        return kura_fail(err, KURA_EINVAL, "wallet: bad arguments to update_output");
    if ((rc = derive(ctx, work, desc, branch, index, err)) != KURA_OK) return rc;
    s = &work->scripts[0];
    po = &psbt->outputs[output_index];
    if (po->script_pubkey.len != s->script_pubkey_len ||
        memcmp(po->script_pubkey.data, s->script_pubkey, s->script_pubkey_len) != 0)
        return kura_fail(err, KURA_EDATA,
                         "wallet: output %zu does not pay the wallet at branch %zu index %u",
                         output_index, branch, index);
    rc = KURA_OK;
    if (s->redeem_script != NULL)
        rc = kura_psbt_output_set_redeem_script(psbt, output_index, s->redeem_script,
                                                s->redeem_script_len);
    if (rc == KURA_OK && s->witness_script != NULL)
        rc = kura_psbt_output_set_witness_script(psbt, output_index, s->witness_script,
                                                 s->witness_script_len);
    if (rc != KURA_OK)
        return kura_fail(err, rc, "wallet: output %zu: cannot record scripts", output_index);
    if (!work->is_taproot) {
        for (size_t i = 0; i < work->n_keys; i++) {
            const kura_descriptor_key_info *k = &work->keys[i];
            rc = kura_psbt_output_add_bip32(psbt, output_index, k->pubkey, k->pubkey_len,
                                            k->fingerprint, k->path, k->path_len);
            if (rc != KURA_OK)
                return kura_fail(err, rc, "wallet: output %zu: cannot record key %zu",
                                 output_index, i);
        }
        return KURA_OK;
    }
    rc = kura_psbt_output_set_tap_internal_key(psbt, output_index, work->internal_key);
    if (rc == KURA_OK && work->n_leaves > 0) {
        kura_psbt_tap_leaf *leaves = calloc(work->n_leaves, sizeof(*leaves));
        if (leaves == NULL) return kura_fail(err, KURA_ENOMEM, "wallet: out of memory");
        for (size_t i = 0; i < work->n_leaves; i++) {
            leaves[i].depth = (uint8_t)work->leaves[i].depth;
            leaves[i].leaf_version = work->leaves[i].leaf_version;
            /* The PSBT copies the script; the cast only satisfies the struct's type. */
            leaves[i].script.data = (uint8_t *)(uintptr_t)work->leaves[i].script;
            leaves[i].script.len = work->leaves[i].script_len;
        }
        rc = kura_psbt_output_set_tap_tree(psbt, output_index, leaves, work->n_leaves, err);
        free(leaves);
    }
    if (rc != KURA_OK)
        return kura_fail(err, rc, "wallet: output %zu: cannot record taproot data", output_index);
    return add_tap_keys(psbt, output_index, work, kura_psbt_output_add_tap_bip32, err);
}

int kura_wallet_create_psbt(const kura_ctx *ctx, kura_psbt **out, const kura_descriptor *desc,
                            const kura_wallet_coin *coins, size_t coin_count,
                            const kura_wallet_payment *payments, size_t payment_count,
                            uint64_t change_amount, uint32_t change_index, uint32_t locktime,
                            kura_error *err)
{
    kura_tx *tx = NULL;
    kura_psbt *psbt = NULL;
    kura_descriptor_output *work = NULL;
    uint64_t in_total = 0, out_total = 0;
    int rc = KURA_OK;

    if (out != NULL) *out = NULL;
    if (ctx == NULL || out == NULL || desc == NULL || (coins == NULL && coin_count > 0) ||
        (payments == NULL && payment_count > 0) || coin_count == 0)
        return kura_fail(err, KURA_EINVAL, "wallet: bad arguments to create_psbt");
    for (size_t i = 0; i < coin_count; i++) {
        in_total += coins[i].amount;
        if (coins[i].amount > KURA_MAX_MONEY || in_total > KURA_MAX_MONEY)
            return kura_fail(err, KURA_ERANGE, "wallet: coin amounts exceed 21 million BTC");
    }
    for (size_t i = 0; i <= payment_count; i++) {
        uint64_t a = i < payment_count ? payments[i].amount : change_amount;
        out_total += a;
        if (a > KURA_MAX_MONEY || out_total > KURA_MAX_MONEY)
            return kura_fail(err, KURA_ERANGE, "wallet: output amounts exceed 21 million BTC");
    }
    if (out_total > in_total)
        return kura_fail(err, KURA_EDATA, "wallet: outputs (%llu sat) exceed the coins (%llu sat)",
                         (unsigned long long)out_total, (unsigned long long)in_total);

    work = kura_descriptor_output_new();
    tx = kura_tx_new();
    if (work == NULL || tx == NULL) {
        rc = kura_fail(err, KURA_ENOMEM, "wallet: out of memory");
        goto done;
    }
    tx->version = 2;
    tx->locktime = locktime;
    for (size_t i = 0; i < coin_count && rc == KURA_OK; i++)
        rc = kura_tx_add_input(tx, coins[i].txid, coins[i].vout,
                               coins[i].sequence != 0 ? coins[i].sequence : 0xfffffffdu, NULL, 0);
    for (size_t i = 0; i < payment_count && rc == KURA_OK; i++)
        rc = kura_tx_add_output(tx, payments[i].amount, payments[i].script_pubkey,
                                payments[i].script_pubkey_len);
    if (rc == KURA_OK && change_amount > 0) {
        uint8_t script[KURA_SCRIPT_PUBKEY_MAX];
        size_t script_len = 0;
        rc = kura_descriptor_script_pubkey(ctx, script, sizeof(script), &script_len, desc,
                                           KURA_DESCRIPTOR_BRANCH_CHANGE, change_index, err);
        if (rc == KURA_OK) rc = kura_tx_add_output(tx, change_amount, script, script_len);
    }
    if (rc != KURA_OK) {
        rc = kura_fail(err, rc, "wallet: cannot build the transaction: %s",
                       err != NULL ? err->message : kura_status_name(rc));
        goto done;
    }
    if ((rc = kura_psbt_from_tx(&psbt, tx, 0, err)) != KURA_OK) goto done;
    for (size_t i = 0; i < coin_count && rc == KURA_OK; i++)
        rc = kura_wallet_update_input(ctx, psbt, i, work, desc, coins[i].branch, coins[i].index,
                                      coins[i].amount, coins[i].prev_tx, err);
    if (rc == KURA_OK && change_amount > 0)
        rc = kura_wallet_update_output(ctx, psbt, payment_count, work, desc,
                                       KURA_DESCRIPTOR_BRANCH_CHANGE, change_index, err);
    if (rc == KURA_OK) {
        *out = psbt;
        psbt = NULL;
    }
done:
    kura_psbt_free(psbt);
    kura_tx_free(tx);
    kura_descriptor_output_free(work);
    return rc;
}
