/*
 * server/domain/wallets.h — wallets and their policies.
 *
 * A wallet is registered from `kura-cold export` output (a watch-only
 * multipath descriptor (`<0;1>` then a wildcard), canonical, with its BIP380 checksum)
 * and the policy text with its administrators' armoured SSHSIG signatures.
 * Both are verified with libkura exactly as kura-cold verifies them: the
 * policy parses, names this wallet, this descriptor checksum and this chain,
 * and carries a quorum of its own administrators' signatures. A later policy
 * must be a valid successor (kura_policy_check_successor) signed by a quorum
 * of the administrators of the policy IN FORCE.
 *
 * The wallet resource (JSON, as the API answers it, in webhook payloads and
 * in audit snapshots of object_type "wallet"):
 *   {"id", "name", "chain", "descriptor", "checksum", "kind", "threshold",
 *    "policy_version", "next_receive_index", "next_change_index",
 *    "birth_height", "min_confirmations", "created_at"}
 * and GET adds "policy": {"version", "text", "signatures": [...], "accepted_at"}.
 * The "wallet" audit snapshot holds the fields that never move on their own
 * (name, chain, descriptor, checksum, kind, threshold, policy_version);
 * the "policy" snapshot (object id "<wallet_id>:<version>") holds
 * {"wallet_id", "version", "text", "signatures"}. Audit rows:
 * "wallet.registered" (wallet), "policy.updated" (policy, for version 1 too)
 * and, on an update, "wallet.policy_changed" (wallet: its policy_version).
 * No webhook events for wallets.
 *
 * Every function returns 0 or a positive kura_problem_code with p filled;
 * *out / *page are NULL on failure and owned by the caller (json_decref).
 */
#ifndef KURA_SERVER_WALLETS_H
#define KURA_SERVER_WALLETS_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "problem/problem.h"
#include "store/store.h"

/* From server/domain/people.h (the store branch); a repeated typedef of the
 * same type is valid C11. */
typedef struct kura_principal kura_principal;
typedef struct kura_idem kura_idem;

typedef struct kura_wallet_registration {
    const char *name;            /* optional (NULL or ""): else the policy's wallet name; must equal it */
    const char *descriptor;      /* `kura-cold export` output: watch-only multipath descriptor (#checksum allowed) */
    const char *policy;          /* the policy text, exact bytes */
    const char *const *policy_signatures; /* armoured SSHSIG over the policy text */
    size_t policy_signature_count;
    int64_t birth_height;        /* 0 default */
    int64_t min_confirmations;   /* 1 default (0 is taken as 1) */
    /* Instead of `descriptor` (exactly one of the two): a multisig wallet set
     * up with BIP129 (docs/bsms.md). The descriptor record the coordinator
     * wrote and every signer's signed key record; the server registers the
     * descriptor that kura_bsms_descriptor_record_verify returns, the same
     * function each kura-cold device runs before its ceremony accepts it. */
    const char *bsms_descriptor_record;
    const char *const *bsms_key_records;
    size_t bsms_key_record_count;
} kura_wallet_registration;

/* Registers a wallet (audit "wallet.registered" and "policy.updated" for
 * version 1 of its policy, in the same transaction; idempotency completion
 * with 201 and the resource when idem is not NULL).
 * Problems: MISSING_FIELD, INVALID_FIELD (descriptor and BSMS records both
 * given), INVALID_DESCRIPTOR (also: a key record or descriptor record that
 * does not verify), INVALID_POLICY, POLICY_MISMATCH, POLICY_SIGNATURES,
 * CONFLICT (a wallet of that name exists), UNAVAILABLE, INTERNAL. */
int kura_srvwallet_register(kura_store *st, const kura_principal *who,
                            const kura_wallet_registration *req, const kura_idem *idem,
                            int64_t now, json_t **out, kura_problem *p);

/* The wallet resource with its policy in force. NOT_FOUND. */
int kura_srvwallet_get(kura_store *st, const char *wallet_id, json_t **out, kura_problem *p);

/* A page {"items": [...], "next_cursor": id | null} of wallets in id order
 * after `cursor` (NULL or "": from the start); limit 1..500 (0: 50).
 * BAD_CURSOR, INVALID_FIELD (limit). */
int kura_srvwallet_list(kura_store *st, const char *cursor, size_t limit, json_t **page,
                        kura_problem *p);

/* Accepts a new policy for the wallet: it must parse (INVALID_POLICY), name
 * the wallet, checksum and chain (POLICY_MISMATCH), be a successor of the one
 * in force (POLICY_STALE), and be signed by a quorum of the CURRENT policy's
 * administrators (POLICY_SIGNATURES). Audit "policy.updated". *out: the wallet. */
int kura_srvwallet_policy_update(kura_store *st, const kura_principal *who, const char *wallet_id,
                                 const char *policy, const char *const *sigs, size_t nsigs,
                                 int64_t now, json_t **out, kura_problem *p);

/* Registers the audit snapshot functions of "wallet" and "policy" (and of
 * "transfer", see transfers.h) with the audit module. Call once at start,
 * before `audit verify` and before serving. */
void kura_domain_register_snapshots(void);

#endif /* KURA_SERVER_WALLETS_H */
