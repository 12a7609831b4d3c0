/*
 * server/chain/notify.h — Bitcoin Core's ZMQ notifications (hashblock,
 * rawtx), for the chain worker (broadcast.h): a thread of its own that
 * subscribes and calls back on every message. Nothing here is trusted:
 * a notification only makes the follower poll now instead of later (the
 * poll, over JSON-RPC, stays the source of truth), and rawtx's bytes are
 * parsed by libkura before the follower's mempool scan reads them.
 *
 * Core sends each notification as three frames: the topic, the body (a
 * block hash in display order, or a raw transaction) and a 4-byte
 * little-endian sequence number counting that topic's messages. A number
 * that is not the last one plus 1 (messages lost to a full queue, a
 * reconnection, a node restart) is reported as a gap. ZMQ reconnects by
 * itself (every 100 ms, backing off to 5 s) when the node goes away.
 */
#ifndef KURA_SERVER_CHAIN_NOTIFY_H
#define KURA_SERVER_CHAIN_NOTIFY_H

#include <stddef.h>
#include <stdint.h>

#define KURA_NOTIFY_HASHBLOCK 0
#define KURA_NOTIFY_RAWTX 1

/* Called on the subscriber's thread for every message of a known topic:
 * body[0..len) (valid during the call only), gap 1 when the sequence
 * number skipped. */
typedef void (*kura_notify_fn)(void *arg, int topic, const uint8_t *body, size_t len, int gap);

typedef struct kura_notify kura_notify;

/* Subscribes to hashblock at `hashblock` and rawtx at `rawtx` (ZMQ
 * endpoints such as tcp://127.0.0.1:28332; either may be NULL or "", and
 * they may be the same endpoint) and starts the thread. Returns 0, or -1
 * with errbuf saying why (a bad endpoint, no memory, no thread). */
int kura_notify_start(kura_notify **out, const char *hashblock, const char *rawtx,
                      kura_notify_fn fn, void *arg, char *errbuf, size_t errlen);

/* Stops the thread (within 100 ms) and closes the sockets. NULL: nothing. */
void kura_notify_stop(kura_notify *n);

#endif /* KURA_SERVER_CHAIN_NOTIFY_H */
