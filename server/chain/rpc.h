/*
 * server/chain/rpc.h — a Bitcoin Core JSON-RPC client over libcurl.
 *
 * One client talks to one node (http://host:port/). Authentication is
 * Core's cookie file (read again on every call, so a restarted node's new
 * cookie is picked up) or a user and password (rpcauth / rpcuser). Every
 * call has a timeout; a call that could not reach the node, timed out, or
 * met a node still warming up (RPC error -28) is retried with exponential
 * back-off (base, doubling, up to `retries` more attempts) before it fails.
 *
 * Errors are stable codes (kura_rpc_status_name) with a message in
 * kura_rpc_error that names what to do:
 *   KURA_RPC_EUNREACHABLE  no node answers at the URL (connection refused,
 *                          host unknown) after the retries
 *   KURA_RPC_ETIMEOUT      the node did not answer within the timeout
 *   KURA_RPC_EAUTH         401/403: wrong user/password, or unreadable cookie
 *   KURA_RPC_ESYNCING      the node is warming up (-28) or in initial block
 *                          download (kura_rpc_check)
 *   KURA_RPC_EWRONGCHAIN   the node's chain is not the wallet's (kura_rpc_check)
 *   KURA_RPC_EPRUNED       the node has pruned blocks the follower needs
 *   KURA_RPC_ERPC          the node answered a JSON-RPC error (code kept in
 *                          rpc_code, message from the node)
 *   KURA_RPC_EPROTO        the answer is not JSON-RPC (or not what was asked)
 *   KURA_RPC_ENOMEM, KURA_RPC_EINVAL
 *
 * The client is used by one thread at a time (the follower's).
 * Raw blocks and transactions are fetched as hex and returned as bytes; they
 * are parsed with libkura (block.h, watch.h), never with the node's decoding.
 */
#ifndef KURA_SERVER_CHAIN_RPC_H
#define KURA_SERVER_CHAIN_RPC_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define KURA_RPC_OK 0
#define KURA_RPC_EINVAL (-1)
#define KURA_RPC_ENOMEM (-2)
#define KURA_RPC_EUNREACHABLE (-3)
#define KURA_RPC_ETIMEOUT (-4)
#define KURA_RPC_EAUTH (-5)
#define KURA_RPC_ESYNCING (-6)
#define KURA_RPC_EWRONGCHAIN (-7)
#define KURA_RPC_EPRUNED (-8)
#define KURA_RPC_ERPC (-9)
#define KURA_RPC_EPROTO (-10)

/* Core's RPC error codes the client and the follower act on. */
#define KURA_RPC_CORE_IN_WARMUP (-28)
#define KURA_RPC_CORE_MISC_ERROR (-1)
#define KURA_RPC_CORE_INVALID_ADDRESS_OR_KEY (-5)
#define KURA_RPC_CORE_VERIFY_REJECTED (-26)
#define KURA_RPC_CORE_VERIFY_ALREADY_IN_CHAIN (-27)

typedef struct kura_rpc_error {
    int code;          /* one of the codes above */
    int rpc_code;      /* KURA_RPC_ERPC: the node's error code; else 0 */
    char message[256];
} kura_rpc_error;

/* "KURA_RPC_EUNREACHABLE", ... ("KURA_RPC_E?" for an unknown code). */
const char *kura_rpc_status_name(int code);

typedef struct kura_rpc_options {
    const char *url;          /* http://127.0.0.1:18443/ (required) */
    const char *cookie_file;  /* Core's .cookie ("user:password"); or NULL */
    const char *user;         /* with password, when no cookie file */
    const char *password;
    long timeout_ms;          /* per attempt; 0: 30000 */
    unsigned retries;         /* more attempts after the first; 0 means none */
    long backoff_ms;          /* first wait between attempts, doubled each time; 0: 250 */
} kura_rpc_options;

typedef struct kura_rpc kura_rpc;

/* A new client (strings copied). KURA_RPC_OK, KURA_RPC_EINVAL (no url, or
 * neither cookie file nor user), KURA_RPC_ENOMEM. *out NULL on failure. */
int kura_rpc_new(kura_rpc **out, const kura_rpc_options *opts, kura_rpc_error *err);
void kura_rpc_free(kura_rpc *rpc);

/* Calls `method` with `params` (a JSON array, borrowed; NULL: []) and gives
 * its "result" in *result (a new reference; JSON null is returned as a
 * json_null()). Retries as described above. */
int kura_rpc_call(kura_rpc *rpc, const char *method, json_t *params, json_t **result,
                  kura_rpc_error *err);

/* Reads one HTTP answer of a node (its status and body[0..len), body may be
 * NULL) as JSON-RPC: KURA_RPC_OK with *result (its "result", a new
 * reference), or KURA_RPC_EAUTH (401/403), KURA_RPC_ESYNCING (-28),
 * KURA_RPC_ERPC (err->rpc_code: the node's code), KURA_RPC_EPROTO (not
 * JSON-RPC); *retryable is 1 when another attempt may succeed. Used by
 * kura_rpc_call; fuzzed (tests/fuzz/fuzz_server_chain_reply.c). */
int kura_rpc_parse_reply(long status, const char *body, size_t len, json_t **result,
                         int *retryable, kura_rpc_error *err);

/* ---- typed calls ---- */

typedef struct kura_rpc_chain_info {
    char chain[16];           /* "main", "test", "testnet4", "signet", "regtest" */
    int64_t blocks;           /* height of the node's best block */
    int64_t headers;
    char best_hash[65];
    int initial_block_download;
    int pruned;
    int64_t prune_height;     /* lowest height with a block on disk (0 when not pruned) */
} kura_rpc_chain_info;

/* getblockchaininfo; _parse reads its result (KURA_RPC_EPROTO when it is
 * not what Core sends). */
int kura_rpc_chain_info_get(kura_rpc *rpc, kura_rpc_chain_info *out, kura_rpc_error *err);
int kura_rpc_chain_info_parse(const json_t *result, kura_rpc_chain_info *out, kura_rpc_error *err);

/* The chain name Core uses for a wallet's chain ("bitcoin" -> "main",
 * "testnet" -> "test", others unchanged); NULL for an unknown name. */
const char *kura_rpc_core_chain(const char *wallet_chain);

/* Checks that the node can serve a follower that needs blocks from height
 * `need_height` on for wallets of chain `wallet_chain` (kura's name):
 * KURA_RPC_EWRONGCHAIN, KURA_RPC_ESYNCING (initial block download),
 * KURA_RPC_EPRUNED (prune_height > need_height), else KURA_RPC_OK; *info
 * is filled either way when the call itself succeeded. */
int kura_rpc_check(kura_rpc *rpc, const char *wallet_chain, int64_t need_height,
                   kura_rpc_chain_info *info, kura_rpc_error *err);

/* getbestblockhash / getblockhash HEIGHT: hash as display hex into out. */
int kura_rpc_best_hash(kura_rpc *rpc, char out[65], kura_rpc_error *err);
int kura_rpc_block_hash(kura_rpc *rpc, int64_t height, char out[65], kura_rpc_error *err);

/* getblock HASH 0: the raw block (malloc'd bytes). */
int kura_rpc_block(kura_rpc *rpc, const char *hash, uint8_t **bytes, size_t *len,
                   kura_rpc_error *err);

/* getrawmempool: *txids a malloc'd array of *count display-hex txids
 * (each 65 bytes, NUL-terminated). */
int kura_rpc_mempool(kura_rpc *rpc, char (**txids)[65], size_t *count, kura_rpc_error *err);

/* getrawtransaction TXID: the raw transaction (malloc'd bytes). ERPC with
 * rpc_code -5 when the node does not have it. */
int kura_rpc_raw_tx(kura_rpc *rpc, const char *txid, uint8_t **bytes, size_t *len,
                    kura_rpc_error *err);

/* estimatesmartfee TARGET: *sat_per_kvb 0 when the node has no estimate. */
int kura_rpc_estimate_fee(kura_rpc *rpc, unsigned target, uint64_t *sat_per_kvb,
                          kura_rpc_error *err);

/* testmempoolaccept [HEX]: *allowed 1 or 0; reason (the node's
 * reject-reason) copied into reason[0..reason_size) when refused. */
int kura_rpc_test_accept(kura_rpc *rpc, const char *hex, int *allowed, char *reason,
                         size_t reason_size, kura_rpc_error *err);

/* sendrawtransaction HEX: the txid in out. "already in the mempool / in
 * the chain" answers are returned as KURA_RPC_ERPC with the node's code. */
int kura_rpc_send_raw_tx(kura_rpc *rpc, const char *hex, char out[65], kura_rpc_error *err);

#endif /* KURA_SERVER_CHAIN_RPC_H */
