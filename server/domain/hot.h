/*
 * server/domain/hot.h — the hot wallets' spool (DESIGN "The hot signer";
 * docs/kura-server.md "Hot wallets").
 *
 * A hot wallet is signed by `kura-cold serve --spool DIR`, which has no
 * network code: kura-server and the signer share DIR only,
 *
 *   DIR/inbox/<transfer id>.psbt       written here: the signing package
 *   DIR/outbox/<transfer id>.psbt      written by the signer: the signed PSBT
 *   DIR/refused/<transfer id>.refused  written by the signer: "code: ..." and
 *                                      "message: ..." lines
 *
 * One pass (kura_hot_pass), under the lease "hot-spool" (one server at a
 * time does it), for every configured spool whose wallet's policy in force
 * is hot:
 *   1. every approved transfer of the wallet gets its package built
 *      (kura_transfer_package: coins reserved, awaiting_signatures) and
 *      written to the inbox (a temporary ".<id>.psbt.tmp", fsync, rename,
 *      directory fsync); an awaiting_signatures transfer without signatures
 *      and without a file in any of the three directories (a crash between
 *      the package and the file) is written again — the signer answers a
 *      package it already answered by only removing it, and never signs two
 *      transactions for one intent;
 *   2. every outbox file goes to kura_transfer_add_signatures, the intake of
 *      an upload (checked, combined, finalized at the threshold), then is
 *      removed; a file the intake refuses is renamed ".rejected-<name>" and
 *      the transfer left as it is (it expires);
 *   3. every refusal file moves its transfer to failed with the reason
 *      "hot signer refused: KURA_REFUSE_<X>: <message>" (audit row and
 *      webhook event "transfer.failed", coins released), then is removed.
 * A spool configured for a wallet whose policy is cold is skipped (the signer
 * would refuse it too).
 *
 * The approvals of a hot wallet's transfers come from its approvers as for
 * any wallet (typically a system approver key the back office holds, used
 * with `kura-approve --yes`); kura-server never holds an approver key.
 */
#ifndef KURA_SERVER_DOMAIN_HOT_H
#define KURA_SERVER_DOMAIN_HOT_H

#include <stddef.h>
#include <stdint.h>

#include "problem/problem.h"
#include "store/store.h"

/* The most spools one server serves. */
#define KURA_HOT_SPOOLS_MAX 16

typedef struct kura_hot_spool {
    const char *wallet;  /* the wallet's id or name */
    const char *dir;     /* the directory `kura-cold serve --spool` serves */
} kura_hot_spool;

typedef struct kura_hot_options {
    const kura_hot_spool *spools;
    size_t count;                /* 1..KURA_HOT_SPOOLS_MAX */
    int64_t poll_interval_ms;    /* the worker's pause between passes; 0: 1000 */
    const char *holder;          /* lease holder name; NULL: "hot-<random>" */
    int64_t lease_seconds;       /* 0: 30 */
} kura_hot_options;

typedef struct kura_hot_report {
    int leader;          /* 1: this pass held the lease (else nothing was done) */
    size_t written;      /* packages written to an inbox */
    size_t collected;    /* signed PSBTs taken in */
    size_t refused;      /* transfers failed by a refusal file */
    size_t errors;       /* files or transfers that will be tried again */
} kura_hot_report;

/* One pass as above at time `now`. Problems with one transfer or one file
 * are logged to stderr ("kura-server: hot: ...") and counted in
 * report->errors; they do not stop the pass. Returns 0, or a problem code
 * (p filled) when the store could not be used (the lease, a wallet). */
int kura_hot_pass(kura_store *st, const kura_hot_options *o, int64_t now, kura_hot_report *report,
                  kura_problem *p);

/* The background worker: a pass every poll_interval_ms. The options and the
 * strings they point to are copied. Returns 0, or -1 (bad options, no
 * thread) with errbuf saying why. */
typedef struct kura_hot_worker kura_hot_worker;
int kura_hot_worker_start(kura_hot_worker **out, kura_store *st, const kura_hot_options *o,
                          char *errbuf, size_t errlen);
/* Stops the thread after its pass and gives the lease up. NULL is a no-op. */
void kura_hot_worker_stop(kura_hot_worker *w);

#endif /* KURA_SERVER_DOMAIN_HOT_H */
