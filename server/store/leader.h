/*
 * server/store/leader.h — one leader per role among any number of
 * kura-server processes on one database: the chain follower, the webhook
 * dispatcher, and any other singleton worker.
 *
 * PostgreSQL: the election is a session-level advisory lock
 * (pg_try_advisory_lock on a key derived from the role's name) held by a
 * connection of the candidate's own, outside the store's pool. The lock
 * vanishes when the process dies or its connection drops (a crash,
 * SIGKILL, pg_terminate_backend, a restart of the database): that is the
 * failover, and it needs no timeout. The leader checks its connection before
 * each unit of work (kura_leader_still); a leader whose connection is gone
 * stops, and steps back one round so that a peer takes over. The session
 * asks the server to probe its TCP connection (keepalives: 10 s idle, 3
 * probes 5 s apart), so a leader cut off by the network without a reset
 * loses the lock within about 25 s rather than hours.
 *
 * SQLite (one process): a lease row, taken when free or expired and renewed
 * while held (at half time), for lease_seconds.
 *
 * Fencing, on both: the `leases` row of the role (leases.name = the role's
 * name) names the leader (leases.holder). A new leader writes its name there
 * as it takes over; on PostgreSQL that UPDATE waits for the row lock held by
 * any transaction of the previous leader still in flight. Every transaction
 * that does a leader's work calls kura_leader_fence first, which locks that
 * row and checks the name is still its own (KURA_DB_ECONFLICT when not).
 * So there is a window in which a leader that lost its connection has not
 * noticed yet, but no transaction of it can commit after its successor's
 * first one: a unit of work is done by one leader or the other, never both.
 * leases.expires_at says until when the leader last promised to be alive
 * (renewed by kura_leader_try_acquire and kura_leader_still), for GET
 * /v1/chain.
 *
 * Threads: a kura_leader is used by one thread (kura_leader_fence may run in
 * a store transaction on another thread while that thread waits for it);
 * kura_leader_each may be called from any thread.
 */
#ifndef KURA_SERVER_LEADER_H
#define KURA_SERVER_LEADER_H

#include <stddef.h>
#include <stdint.h>

#include "store/db.h"
#include "store/store.h"

/* The roles kura-server elects. */
#define KURA_LEADER_FOLLOWER "chain-follower"
#define KURA_LEADER_WEBHOOKS "webhook-dispatcher"

typedef struct kura_leader kura_leader;

/* A candidate for `name` ([a-z0-9-], 1..48 characters) on the store (which
 * must outlive it). holder names this candidate in leases.holder (at most 63
 * characters; NULL or "": "<name>-<random>"): two candidates for one role
 * must not share a holder name. lease_seconds: 0 for 30. Nothing is taken
 * yet. Returns KURA_DB_OK, KURA_DB_EINVAL, KURA_DB_ENOMEM; *out NULL on
 * failure. */
int kura_leader_new(kura_leader **out, kura_store *st, const char *name, const char *holder,
                    int64_t lease_seconds, kura_db_error *err);

/* Releases the role if held, closes the connection, frees. NULL: no-op. */
void kura_leader_free(kura_leader *l);

/* Becomes the leader if no one is, or stays it (with the connection checked
 * and the lease renewed). now: unix seconds. *leading (may be NULL): 1 when
 * this candidate leads after the call. A connection that cannot be made or
 * broke is not an error of the caller's: *leading is 0 and KURA_DB_EIO is
 * returned with err saying why (try again later). */
int kura_leader_try_acquire(kura_leader *l, int64_t now, int *leading, kura_db_error *err);

/* Before a unit of work: 1 when this candidate still leads (PostgreSQL: its
 * connection answers and the lease row still names it; SQLite: the lease has
 * not run out), else 0 and the role is given up. */
int kura_leader_still(kura_leader *l, int64_t now);

/* Inside the caller's write transaction on db (a connection of the same
 * store): locks the role's lease row and checks it names this candidate.
 * Returns KURA_DB_OK, KURA_DB_ECONFLICT (another took over: roll back; err
 * says so; the candidate's next kura_leader_try_acquire or
 * kura_leader_still gives the role up), or a driver code. */
int kura_leader_fence(kura_db *db, kura_leader *l, kura_db_error *err);

/* Gives the role up now (at shutdown), so another takes over at once. */
void kura_leader_release(kura_leader *l);

/* 1 when the last call found this candidate leading. */
int kura_leader_leading(const kura_leader *l);
const char *kura_leader_holder(const kura_leader *l);
const char *kura_leader_name(const kura_leader *l);

/* For /metrics: calls fn(ctx, name, leading) for every candidate alive in
 * this process, in the order they were made. */
void kura_leader_each(void (*fn)(void *ctx, const char *name, int leading), void *ctx);

#endif /* KURA_SERVER_LEADER_H */
