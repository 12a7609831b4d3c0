/*
 * src/descriptor/descriptor_internal.h — the parsed descriptor tree, shared by
 * the parser (parse.c), the writer (string.c) and derivation (derive.c).
 * Not installed, not API.
 */
#ifndef KURA_DESCRIPTOR_INTERNAL_H
#define KURA_DESCRIPTOR_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <secp256k1.h>
#include <sodium.h>

#include "internal.h"
#include "kura/descriptor.h"
#include "kura/keys.h"

/* Script expressions, in the tree. */
typedef enum kd_kind {
    KD_PK = 1,
    KD_PKH,
    KD_WPKH,
    KD_SH,
    KD_WSH,
    KD_MULTI,
    KD_SORTEDMULTI,
    KD_MULTI_A,
    KD_SORTEDMULTI_A,
    KD_COMBO,
    KD_ADDR,
    KD_RAW,
    KD_TR
} kd_kind;

/* How a key expression was written. */
typedef enum kd_key_kind {
    KD_KEY_HEX = 1, /* 66 or 130 hex characters */
    KD_KEY_XONLY,   /* 64 hex characters, only inside tr() */
    KD_KEY_WIF,
    KD_KEY_BIP32
} kd_key_kind;

/* Bits of kura_descriptor.networks: which networks the keys allow. */
#define KD_NET_MAINNET 1u
#define KD_NET_TESTNET 2u
#define KD_NET_REGTEST 4u
#define KD_NET_ANY 7u

#define KD_NO_MULTIPATH ((size_t)-1)

typedef enum kd_wildcard { KD_WILD_NONE = 0, KD_WILD_UNHARDENED, KD_WILD_HARDENED } kd_wildcard;

/* One key expression. Holds secrets when kind is WIF or an xprv. */
typedef struct kd_key {
    kd_key_kind kind;
    int xonly_ctx;                    /* inside tr(): scripts use the 32-byte x-only form */
    int has_origin;
    uint8_t origin_fp[4];
    uint32_t origin_path[KURA_DESCRIPTOR_PATH_MAX];
    size_t origin_len;
    uint8_t own_fp[4];                /* fingerprint of the key itself, for no origin */
    /* HEX, XONLY, WIF: the public key as written (WIF: 33 or 65 bytes by its flag). */
    uint8_t pub[65];
    size_t pub_len;
    /* WIF only. */
    uint8_t priv[32];
    int wif_compressed;
    kura_network network;             /* WIF and BIP32 */
    /* BIP32 only. */
    kura_bip32_key xkey;              /* as written */
    uint32_t steps[KURA_DESCRIPTOR_PATH_MAX]; /* derivation after xkey; the multipath
                                         slot holds mp_values[0] */
    size_t n_steps;
    size_t mp_pos;                    /* index of the multipath slot, or KD_NO_MULTIPATH */
    uint32_t *mp_values;
    size_t mp_count;
    kd_wildcard wildcard;
    /* The key after every fixed step, one per branch (mp_count, or 1). Public
     * only, unless the wildcard is hardened: then private, to derive children. */
    kura_bip32_key *bases;
    size_t n_bases;
    /* For an unhardened wildcard, per base: its decompressed point and the
     * HMAC-SHA512 state keyed with its chain code, so that one child step
     * (BIP32 CKDpub) is one HMAC and one point tweak. Public data, but wiped
     * with the bases. NULL otherwise. */
    secp256k1_pubkey *base_points;
    crypto_auth_hmacsha512_state *base_hmacs;
} kd_key;

typedef struct kd_node kd_node;

/* A taproot tree node: a leaf (script) or a branch {left,right}. */
typedef struct kd_tree {
    struct kd_tree *left, *right; /* both NULL for a leaf */
    kd_node *leaf;
    size_t id;                    /* pre-order number, for per-derive hash storage */
    unsigned depth;
} kd_tree;

struct kd_node {
    kd_kind kind;
    unsigned threshold;           /* multi and multi_a */
    size_t first_key, n_keys;     /* range in kura_descriptor.keys */
    kd_node *sub;                 /* sh, wsh */
    uint8_t *script;              /* raw, addr */
    size_t script_len;
    kura_network addr_network;    /* addr: the network its text was written for */
    kd_tree *tree;                /* tr with a script tree */
};

struct kura_descriptor {
    kd_node *root;
    kd_key *keys;
    size_t n_keys, keys_cap;
    size_t n_branches;     /* multipath tuple length, or 1 */
    int ranged;
    int has_private;
    unsigned networks;     /* KD_NET_* bits */
    size_t n_leaves;       /* tr leaves */
    size_t n_tree_nodes;
    secp256k1_context *gen; /* for the CKDpub fast path (IL*G by the generator table);
                               NULL when no key has an unhardened wildcard */
    size_t arena_bound;    /* most bytes a derive writes for scripts and control blocks */
    size_t script_bound;   /* longest single script a derive builds */
};

/* BIP380 checksum of s[0..len) into out[0..8) (no NUL). Returns 0 and sets
 * *bad to the offending offset if a character is outside the set, else 1. */
int kd_checksum8(char out[8], const char *s, size_t len, size_t *bad);

/* Frees a node tree (no secrets live in nodes). */
void kd_node_free(kd_node *node);

/* Wipes one key expression's secrets and frees what it owns. */
void kd_key_clear(kd_key *key);

/* kura_descriptor_derive with, when row is not NULL, the child keys taken
 * from a cache row: 33 bytes per key expression of desc (used for BIP32 keys
 * only). derive.c. */
int kd_derive_row(const kura_ctx *ctx, kura_descriptor_output *out, const kura_descriptor *desc,
                  size_t branch, uint32_t index, const uint8_t *row, kura_error *err);

#endif /* KURA_DESCRIPTOR_INTERNAL_H */
