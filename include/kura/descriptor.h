/*
 * kura/descriptor.h — output script descriptors (BIP380-387) with BIP389
 * multipath key expressions: parsing, canonical serialisation with the BIP380
 * checksum, and derivation of everything a PSBT updater or a signer's change
 * check needs for one output (scripts, key origins, taproot tree data).
 *
 * Supported: pk, pkh, wpkh, sh, wsh, multi, sortedmulti, combo, addr, raw,
 * tr(KEY) and tr(KEY,TREE) with pk, multi_a and sortedmulti_a leaves. Key
 * expressions: hex public keys (compressed; uncompressed where BIP380-386
 * allow; 64-hex x-only inside tr()), WIF, xpub/xprv/tpub/tprv with an optional
 * [fingerprint/path] origin, derivation steps marked hardened by `h` or `'`,
 * a final wildcard step (`*` or `*h`), and one `<a;b;...>` multipath step.
 *
 * Things kura refuses that some other parsers accept, on purpose:
 *  - `H` as a hardened marker (BIP380's test vectors list it as invalid);
 *  - derivation numbers and thresholds with leading zeros ("01");
 *  - spaces anywhere, and pkh()/other non-tapscript fragments as tr() leaves
 *    (BIP386 allows only script expressions defined for tapscript);
 *  - hardened derivation after an xpub (no script can be derived from it),
 *    though kura_descriptor_key_check accepts it as BIP380 key syntax;
 *  - keys or addresses of different networks in one descriptor.
 *
 * The canonical string (kura_descriptor_to_string) writes hardened steps as
 * `h`, hex in lower case, addresses re-encoded, and always appends the
 * checksum, so parse -> to_string is a fixed point after one round.
 *
 * Thread safety: a parsed kura_descriptor is read-only; any number of threads
 * may derive from it at once, each with its own kura_descriptor_output.
 */
#ifndef KURA_DESCRIPTOR_H
#define KURA_DESCRIPTOR_H

#include <stddef.h>
#include <stdint.h>

#include "kura/common.h"
#include "kura/keys.h"

#ifdef __cplusplus
extern "C" {
#endif

#define KURA_DESCRIPTOR_CHECKSUM_LEN 8            /* characters after '#' */
#define KURA_DESCRIPTOR_MAX_LEN (1024u * 1024u)   /* longest descriptor text accepted */
#define KURA_DESCRIPTOR_PATH_MAX KURA_BIP32_PATH_MAX /* origin + derivation steps, in total */
#define KURA_DESCRIPTOR_MULTIPATH_MAX 256         /* most values in one <a;b;...> */
#define KURA_DESCRIPTOR_TAPROOT_DEPTH_MAX 128     /* BIP341 control block limit */
#define KURA_DESCRIPTOR_SCRIPTS_MAX 4             /* combo() gives up to four scripts */
#define KURA_DESCRIPTOR_LEAF_VERSION 0xc0         /* BIP342 tapscript */
#define KURA_DESCRIPTOR_NO_LEAF ((size_t)-1)

/* Branches of a BIP389 multipath descriptor: by BIP389's convention the first
 * value is for receiving and the second for change. A descriptor without a
 * multipath step has exactly one branch, 0. */
#define KURA_DESCRIPTOR_BRANCH_RECEIVE 0
#define KURA_DESCRIPTOR_BRANCH_CHANGE 1
/* kura_descriptor_to_string: keep every <a;b> step instead of picking one. */
#define KURA_DESCRIPTOR_ALL_BRANCHES ((size_t)-1)

/* kura_descriptor_to_string flags. */
#define KURA_DESCRIPTOR_PUBLIC 0u  /* xpubs and hex public keys only */
#define KURA_DESCRIPTOR_PRIVATE 1u /* keep xprv and WIF keys as parsed */

/* The top-level script expression. */
typedef enum kura_descriptor_type {
    KURA_DESCRIPTOR_PK = 1,
    KURA_DESCRIPTOR_PKH,
    KURA_DESCRIPTOR_WPKH,
    KURA_DESCRIPTOR_SH,
    KURA_DESCRIPTOR_WSH,
    KURA_DESCRIPTOR_MULTI,
    KURA_DESCRIPTOR_SORTEDMULTI,
    KURA_DESCRIPTOR_COMBO,
    KURA_DESCRIPTOR_ADDR,
    KURA_DESCRIPTOR_RAW,
    KURA_DESCRIPTOR_TR
} kura_descriptor_type;

/* A parsed descriptor. Opaque; created by kura_descriptor_parse, released by
 * kura_descriptor_free (which wipes any private keys it holds). */
typedef struct kura_descriptor kura_descriptor;

/* ---- parsing and inspecting ---- */

/* Parses descriptor text str[0..len) (not necessarily NUL-terminated), with
 * or without a trailing "#checksum"; a checksum that is present must be
 * exactly 8 characters and correct. Every BIP380-387/389 context rule is
 * enforced (uncompressed keys only outside segwit and tr, no hardened step
 * from an xpub, wpkh only at the top or in sh, tr and combo only at the top,
 * multi key limits, equal multipath lengths, one network, ...). The fixed (non-wildcard)
 * part of every extended key's path is derived here, once, so that deriving
 * an index later costs one BIP32 step per key.
 *
 * Args:  ctx  a kura context (kura_ctx_new).
 * Out:   *out receives the new descriptor (free with kura_descriptor_free);
 *        NULL on failure.
 * In:    str, len  the text; err may be NULL.
 * Returns KURA_OK; KURA_EINVAL for NULL arguments; KURA_EDATA for anything
 * malformed or against a rule (err names it); KURA_ERANGE for text over
 * KURA_DESCRIPTOR_MAX_LEN, a path over KURA_DESCRIPTOR_PATH_MAX steps or a
 * multipath step over KURA_DESCRIPTOR_MULTIPATH_MAX values; KURA_ENOMEM;
 * KURA_ECRYPTO if a fixed derivation step hits BIP32's invalid child.
 * Error messages never repeat private key text. */
int kura_descriptor_parse(const kura_ctx *ctx, kura_descriptor **out, const char *str, size_t len,
                          kura_error *err);

/* Contexts for kura_descriptor_key_check: which key forms a script allows. */
typedef enum kura_descriptor_key_context {
    KURA_DESCRIPTOR_KEY_LEGACY = 0,  /* pk(), pkh(), bare or sh() multi(), combo(): any key */
    KURA_DESCRIPTOR_KEY_SEGWIT = 1,  /* wpkh(), anything in wsh(): no uncompressed keys */
    KURA_DESCRIPTOR_KEY_TAPROOT = 2  /* tr(): x-only keys too, no uncompressed keys */
} kura_descriptor_key_context;

/* Checks that str[0..len) is one valid BIP380/BIP389 key expression for
 * `context`: origin syntax, the key itself (on the curve, Base58Check and
 * BIP32 rules), derivation syntax, at most one multipath step. This is the
 * syntax of BIP380 "Key Expressions", which allows hardened steps after an
 * xpub; kura_descriptor_parse additionally refuses those, since such a
 * descriptor cannot produce any script. Returns KURA_OK, KURA_EINVAL (NULL
 * argument, unknown context), KURA_EDATA or KURA_ERANGE as kura_descriptor_parse. */
int kura_descriptor_key_check(const kura_ctx *ctx, const char *str, size_t len,
                              kura_descriptor_key_context context, kura_error *err);

/* Wipes every private key and derived secret in desc, then frees it. NULL is a no-op. */
void kura_descriptor_free(kura_descriptor *desc);

/* The inspectors below take a descriptor from kura_descriptor_parse (not NULL). */

/* The top-level script expression of desc. */
kura_descriptor_type kura_descriptor_get_type(const kura_descriptor *desc);

/* 1 if some key ends in a wildcard (the descriptor describes a range of
 * outputs indexed by child number), else 0. */
int kura_descriptor_is_ranged(const kura_descriptor *desc);

/* 1 if desc holds any private key (xprv/tprv or WIF), else 0. */
int kura_descriptor_has_private(const kura_descriptor *desc);

/* Number of branches: the length of its <a;b;...> tuples (all equal), or 1
 * for a descriptor without a multipath step. */
size_t kura_descriptor_multipath_count(const kura_descriptor *desc);

/* 1 if desc's keys and addresses may be used on `network`: xpub/xprv, mainnet
 * WIF and mainnet addresses allow only MAINNET; tpub/tprv, testnet WIF and
 * base58 testnet addresses allow TESTNET and REGTEST; a "tb1" address only
 * TESTNET and a "bcrt1" address only REGTEST. Hex keys and raw() allow any. */
int kura_descriptor_allows_network(const kura_descriptor *desc, kura_network network);

/* ---- serialising ---- */

/* BIP380 checksum of str[0..len) (the part before '#'): writes 8 characters
 * and a NUL into out. Returns KURA_OK, KURA_EINVAL (NULL arguments), or
 * KURA_EDATA for a character outside the descriptor character set (out is
 * then the empty string). */
int kura_descriptor_checksum(char out[KURA_DESCRIPTOR_CHECKSUM_LEN + 1], const char *str,
                             size_t len, kura_error *err);

/* Writes desc as canonical text followed by "#" and its checksum.
 *
 * Args:  ctx   a kura context (needed to derive xpubs for the public form).
 * Out:   *out  a new NUL-terminated string; release it with
 *              kura_descriptor_string_free (it may hold private keys).
 *              NULL on failure.
 * In:    desc; branch  KURA_DESCRIPTOR_ALL_BRANCHES to keep multipath steps,
 *              or a branch number (< kura_descriptor_multipath_count) to
 *              write the single-path descriptor of that branch;
 *        flags KURA_DESCRIPTOR_PUBLIC or KURA_DESCRIPTOR_PRIVATE. The public
 *              form replaces WIF by its public key (x-only inside tr()) and an
 *              xprv by its xpub; where the xprv's path has hardened steps it
 *              follows BIP380 "Normalization of Key Expressions with Hardened
 *              Derivation": the xpub at the last hardened step, that part of
 *              the path moved into the origin.
 * Returns KURA_OK; KURA_EINVAL (NULL arguments, branch out of range, unknown
 * flags); KURA_EDATA when the public form cannot be written (a hardened
 * wildcard, or a hardened step at or after a multipath step, needs the
 * private key); KURA_ENOMEM; KURA_ECRYPTO. */
int kura_descriptor_to_string(const kura_ctx *ctx, char **out, const kura_descriptor *desc,
                              size_t branch, unsigned flags, kura_error *err);

/* Wipes and frees a string from kura_descriptor_to_string. NULL is a no-op. */
void kura_descriptor_string_free(char *str);

/* ---- deriving ---- */

/* One key as it is used in an output's scripts, with its origin. A key
 * expression written in several places (say, the internal key and a leaf)
 * gives one entry per place; BIP371's PSBT_IN_TAP_BIP32_DERIVATION wants one
 * record per x-only key listing the hashes of all its leaves, so a PSBT
 * updater merges entries with equal pubkey (and leaf hashes from leaves[]). */
typedef struct kura_descriptor_key_info {
    uint8_t pubkey[65];          /* as in the script: compressed (33), uncompressed (65)
                                    or, inside tr(), x-only (32 bytes) */
    size_t pubkey_len;
    uint8_t fingerprint[4];      /* master key fingerprint for BIP174/BIP371 derivation
                                    records: the origin's, or else the key's own
                                    (first 4 bytes of HASH160 of the written key) */
    uint32_t path[KURA_DESCRIPTOR_PATH_MAX]; /* full path from that fingerprint's key:
                                    origin path, derivation steps (with this branch's
                                    multipath value) and the child index */
    size_t path_len;
    int has_origin;              /* 1 if the descriptor gave [fingerprint/path] */
    size_t expression;           /* which key expression of the descriptor (0-based,
                                    in order of appearance) this key comes from */
    size_t leaf;                 /* tr(): index into leaves[] of the leaf using the key,
                                    or KURA_DESCRIPTOR_NO_LEAF for the internal key;
                                    always KURA_DESCRIPTOR_NO_LEAF outside tr() */
} kura_descriptor_key_info;

/* One output script and the scripts needed to spend it. Pointers point into
 * the kura_descriptor_output that holds them. */
typedef struct kura_descriptor_script_info {
    const uint8_t *script_pubkey;
    size_t script_pubkey_len;
    const uint8_t *redeem_script;   /* sh(): the P2SH redeem script, else NULL */
    size_t redeem_script_len;
    const uint8_t *witness_script;  /* wsh() (also inside sh): the witness script, else NULL */
    size_t witness_script_len;
} kura_descriptor_script_info;

/* One tapscript leaf of a tr(KEY,TREE) output, in the tree's left-to-right
 * order (the order of PSBT_OUT_TAP_TREE). */
typedef struct kura_descriptor_leaf {
    const uint8_t *script;         /* the tapscript */
    size_t script_len;
    uint8_t leaf_version;          /* KURA_DESCRIPTOR_LEAF_VERSION */
    unsigned depth;                /* 0 for a lone leaf; at most 128 */
    uint8_t leaf_hash[32];         /* BIP341 TapLeaf hash */
    const uint8_t *control_block;  /* (leaf_version | output key parity) || internal key
                                      || sibling hashes from the leaf up (BIP341) */
    size_t control_block_len;      /* 33 + 32 * depth */
} kura_descriptor_leaf;

/* The result of deriving a descriptor at one index. Allocated by
 * kura_descriptor_output_new and reused across calls: a derive overwrites the
 * previous contents and, once its buffers have grown to the descriptor's
 * needs, allocates nothing. All pointers stay valid until the next derive or
 * kura_descriptor_output_free. Fields are read-only to the caller. */
typedef struct kura_descriptor_output {
    size_t n_scripts;       /* 1, or for combo() 4 (compressed key) or 2 (uncompressed):
                               P2PK, P2PKH, P2WPKH, P2SH-P2WPKH in that order */
    kura_descriptor_script_info scripts[KURA_DESCRIPTOR_SCRIPTS_MAX];
    size_t n_keys;          /* every key the scripts use, in descriptor order
                               (0 for addr() and raw()) */
    const kura_descriptor_key_info *keys;
    int is_taproot;         /* 1 for tr(); the fields below are zero otherwise */
    uint8_t internal_key[32];
    uint8_t output_key[32];
    int output_key_parity;  /* 0 even, 1 odd y */
    int has_merkle_root;    /* 0 for tr(KEY): BIP86-style key-path-only output */
    uint8_t merkle_root[32];
    size_t n_leaves;
    const kura_descriptor_leaf *leaves;
    struct kura_descriptor_work *work_; /* library-private storage */
} kura_descriptor_output;

/* Returns a new, empty output, or NULL if memory runs out. */
kura_descriptor_output *kura_descriptor_output_new(void);

/* Wipes and frees out and everything it points to. NULL is a no-op. */
void kura_descriptor_output_free(kura_descriptor_output *out);

/* Derives desc at child `index` on `branch` into out.
 *
 * Args:  ctx    a kura context.
 * Out:   out    an output from kura_descriptor_output_new; emptied on entry
 *               (n_scripts, n_keys, n_leaves 0, is_taproot 0) and left empty
 *               on failure.
 * In:    desc;
 *        branch 0 .. kura_descriptor_multipath_count(desc) - 1;
 *        index  the child number for the wildcard step, below 2^31 (the `h`
 *               of a hardened wildcard is added here); ignored when desc is
 *               not ranged.
 * Returns KURA_OK; KURA_EINVAL (NULL arguments, branch out of range, index
 * >= 2^31 for a ranged descriptor); KURA_ENOMEM; KURA_ECRYPTO (BIP32's
 * invalid child, about 1 in 2^127). */
int kura_descriptor_derive(const kura_ctx *ctx, kura_descriptor_output *out,
                           const kura_descriptor *desc, size_t branch, uint32_t index,
                           kura_error *err);

/* Checks that desc numbers its branches the way kura's signer reads them:
 * desc has exactly `branches` branches (kura wallets: 2, receive and
 * change), is ranged, and every key, on every branch b, derives with a path
 * ending in b/<index> — so the (branch, index) a PSBT derivation path names
 * is the branch and index that re-derive it. `/<1;0>/` + wildcard (branches
 * swapped), `/<0;2>/`, and mixed descriptors (one key `/<0;1>/`, another
 * `/<1;0>/` or without a multipath step) are refused: their change would be checked
 * against the wrong branch and every input would look foreign.
 * Returns KURA_OK; KURA_EDATA naming the key expression, branch and path;
 * KURA_EINVAL for NULL arguments; KURA_ENOMEM; KURA_ECRYPTO. */
int kura_descriptor_check_branches(const kura_ctx *ctx, const kura_descriptor *desc,
                                   size_t branches, kura_error *err);

/* Only the (first) scriptPubKey of desc at branch/index, into
 * out[0..out_len); *written gets its length. Same rules as
 * kura_descriptor_derive. Allocates nothing for descriptors of up to 20 keys
 * whose scripts fit in 4 KiB (every kura wallet kind); larger ones use a
 * temporary buffer. Returns as kura_descriptor_derive, plus KURA_EINVAL if
 * out_len is too small (KURA_SCRIPT_PUBKEY_MAX suffices for everything but
 * raw() and addr()). On failure *written is 0. */
int kura_descriptor_script_pubkey(const kura_ctx *ctx, uint8_t *out, size_t out_len,
                                  size_t *written, const kura_descriptor *desc, size_t branch,
                                  uint32_t index, kura_error *err);

/* The address of desc's scriptPubKey at branch/index on `network`, written
 * NUL-terminated into out (KURA_ADDRESS_MAX chars suffice). Returns as
 * kura_descriptor_script_pubkey, plus KURA_EDATA when the descriptor's keys
 * belong to another network (see kura_descriptor_allows_network) or the
 * script has no address (pk(), bare multi(), combo(), most raw()). On failure
 * out is the empty string. */
int kura_descriptor_address(const kura_ctx *ctx, char *out, size_t out_len,
                            const kura_descriptor *desc, size_t branch, uint32_t index,
                            kura_network network, kura_error *err);

/* ---- derivation cache ----
 *
 * A signer re-derives the same (branch, index) outputs of its wallet again
 * and again; each derive costs one EC multiplication per key. A derivation
 * cache holds the derived child public keys of every BIP32 key expression for
 * branches 0..multipath_count-1 and indexes 0..count-1, so that a derive of a
 * cached (branch, index) only rebuilds the scripts (hashes and copies).
 *
 * The cache is trusted data: kura_descriptor_cache_parse checks its format,
 * the descriptor it was built for and its integrity digest, but cannot check
 * the keys without deriving them. Keep it where the descriptor is kept (the
 * signer's own storage) and anchor it like the descriptor.
 *
 * tr() descriptors are cached too: each entry also holds the output key (the
 * BIP341 tweak of the internal key by the merkle root), so a cached tr()
 * derive needs no EC multiplication either. (A tr() cache of count 0, which
 * earlier versions wrote, still parses: every derive is then a miss.)
 *
 * A cache is read-only once built or parsed; any number of threads may use
 * it at once. */
typedef struct kura_descriptor_cache kura_descriptor_cache;

#define KURA_DESCRIPTOR_CACHE_VERSION 1u
#define KURA_DESCRIPTOR_CACHE_COUNT_MAX (1u << 20) /* most indexes per branch */

/* Builds a cache of desc for indexes 0..count_per_branch-1 on every branch
 * (a descriptor that is not ranged has one output per branch: its cache
 * holds index 0 only, and every index hits). desc must have a public form
 * (kura_descriptor_to_string with KURA_DESCRIPTOR_PUBLIC): the cache is
 * bound to the SHA-256 of that text.
 * Returns KURA_OK; KURA_EINVAL (NULL arguments); KURA_ERANGE for
 * count_per_branch over KURA_DESCRIPTOR_CACHE_COUNT_MAX; KURA_EDATA when desc
 * has no public form; KURA_ENOMEM; KURA_ECRYPTO (a child is BIP32's invalid
 * child). *out is NULL on failure. */
int kura_descriptor_cache_build(const kura_ctx *ctx, kura_descriptor_cache **out,
                                const kura_descriptor *desc, uint32_t count_per_branch,
                                kura_error *err);

/* Writes cache in its versioned binary form:
 *   "KURADCX\n" (8 bytes), version (u32 big-endian, 1),
 *   SHA-256 of the descriptor's canonical public text (32),
 *   branches, key expressions, indexes per branch (u32 big-endian each),
 *   then for each branch, each index, each key expression 33 bytes (the
 *   compressed child key of a BIP32 key, zeros for any other key),
 *   and last the SHA-256 of everything before it (32).
 * *out is a new buffer (free()), *out_len its length. Returns KURA_OK,
 * KURA_EINVAL or KURA_ENOMEM (then *out is NULL and *out_len 0). */
int kura_descriptor_cache_serialize(uint8_t **out, size_t *out_len,
                                    const kura_descriptor_cache *cache);

/* Parses bytes[0..len) as written by kura_descriptor_cache_serialize for
 * desc. Strict: exact length, known version, the digest, zero padding, and
 * the descriptor binding must all hold. Returns KURA_OK; KURA_EINVAL (NULL
 * arguments); KURA_EDATA for anything malformed, a cache of another
 * descriptor, or a corrupted one (err says which); KURA_ERANGE over
 * KURA_DESCRIPTOR_CACHE_COUNT_MAX; KURA_ENOMEM. *out is NULL on failure. */
int kura_descriptor_cache_parse(const kura_ctx *ctx, kura_descriptor_cache **out,
                                const kura_descriptor *desc, const uint8_t *bytes, size_t len,
                                kura_error *err);

/* Indexes per branch held by cache. */
uint32_t kura_descriptor_cache_count(const kura_descriptor_cache *cache);

/* Frees cache. NULL is a no-op. */
void kura_descriptor_cache_free(kura_descriptor_cache *cache);

/* As kura_descriptor_derive, and fills out exactly as it would; when cache
 * (may be NULL) holds (branch, index), from the cache's keys without any EC
 * multiplication, else by deriving. cache must have been built or parsed for
 * desc (else KURA_EINVAL). */
int kura_descriptor_derive_cached(const kura_ctx *ctx, kura_descriptor_output *out,
                                  const kura_descriptor *desc,
                                  const kura_descriptor_cache *cache, size_t branch,
                                  uint32_t index, kura_error *err);

#ifdef __cplusplus
}
#endif

#endif /* KURA_DESCRIPTOR_H */
