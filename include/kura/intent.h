/*
 * kura/intent.h — the transfer intent: the canonical text that approvers sign
 * and that the signer checks a transaction against (DESIGN "Formats" 1;
 * grammar in docs/intent-format.md).
 *
 * The parser is strict: it accepts only the one canonical spelling of an
 * intent, so one text has exactly one meaning and the bytes the approvers
 * signed are the bytes the signer reads. The writer produces that spelling
 * from a struct, and the two are exact inverses:
 *     kura_intent_write(kura_intent_parse(x)) == x   for every valid text x,
 *     kura_intent_parse(kura_intent_write(s)) == s   for every valid struct s.
 *
 * Memory: a kura_intent is allocated by kura_intent_new or kura_intent_parse
 * and freed with kura_intent_free. Its strings are fixed NUL-terminated
 * arrays; its outputs array is owned by the intent and changed only through
 * kura_intent_add_output. Text the writer and the renderer return is
 * allocated with malloc and freed by the caller with free().
 */
#ifndef KURA_INTENT_H
#define KURA_INTENT_H

#include <stddef.h>
#include <stdint.h>

#include "kura/common.h"
#include "kura/script.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- limits ---- */

#define KURA_INTENT_TEXT_MAX (256u * 1024u) /* longest intent text, bytes */
#define KURA_INTENT_OUTPUTS_MAX 1000        /* most outputs in one intent */
#define KURA_INTENT_ID_LEN 32               /* id: lower-case hex chars */
#define KURA_INTENT_WALLET_NAME_MAX 32      /* wallet name: [a-z0-9-] */
#define KURA_INTENT_CHECKSUM_LEN 8          /* BIP380 descriptor checksum chars */
#define KURA_INTENT_NAME_MAX 64             /* initiator (and policy member) name: [a-z0-9._-] */
#define KURA_INTENT_LABEL_MAX 64            /* output label chars */
/* The most satoshis that can exist (Bitcoin Core's MAX_MONEY, also
 * KURA_MAX_MONEY in kura/tx.h, which this module may not include). */
#define KURA_INTENT_MAX_AMOUNT 2100000000000000ull
/* Latest time the format can spell: 9999-12-31T23:59:59Z. */
#define KURA_INTENT_TIME_MAX 253402300799LL
/* Highest policy version an intent may name: 2^53 - 1, as the policy's own
 * (KURA_POLICY_VERSION_MAX), so it survives JSON unrounded. */
#define KURA_INTENT_POLICY_VERSION_MAX 9007199254740991ull

/* The exact chain an intent (or policy) is for. Several chains share one
 * address encoding (kura_network), so the chain is named separately: an
 * intent for signet must not be signable by a testnet4 wallet. */
typedef enum kura_intent_chain {
    KURA_CHAIN_BITCOIN = 0, /* "bitcoin": mainnet */
    KURA_CHAIN_TESTNET = 1, /* "testnet": testnet3 */
    KURA_CHAIN_TESTNET4 = 2, /* "testnet4" */
    KURA_CHAIN_SIGNET = 3,  /* "signet" */
    KURA_CHAIN_REGTEST = 4  /* "regtest" */
} kura_intent_chain;

/* Returns the chain's name as written in the text ("bitcoin", "testnet",
 * "testnet4", "signet", "regtest"), or NULL for a value outside the enum. */
const char *kura_intent_chain_name(kura_intent_chain chain);

/* Writes into *network the address encoding of `chain` (MAINNET, TESTNET for
 * testnet/testnet4/signet, REGTEST). Returns KURA_OK, or KURA_EINVAL for a
 * value outside the enum (*network is then MAINNET). */
int kura_intent_chain_network(kura_network *network, kura_intent_chain chain);

/* A wallet as the formats name it: "<name> #<checksum>", the checksum being
 * the 8-char BIP380 checksum of the wallet's descriptor. */
typedef struct kura_intent_wallet {
    char name[KURA_INTENT_WALLET_NAME_MAX + 1];   /* [a-z0-9-]{1,32} */
    char checksum[KURA_INTENT_CHECKSUM_LEN + 1];  /* 8 chars of the BIP380 charset */
} kura_intent_wallet;

/* One destination. */
typedef struct kura_intent_output {
    char address[KURA_ADDRESS_MAX];               /* canonical address for the chain */
    uint8_t script[KURA_SCRIPT_PUBKEY_MAX];       /* its scriptPubKey (derived) */
    size_t script_len;
    uint64_t amount;                              /* satoshis, 1..KURA_INTENT_MAX_AMOUNT */
    char label[KURA_INTENT_LABEL_MAX + 1];        /* "" when the output has none */
} kura_intent_output;

/* A transfer intent. Times are seconds since 1970-01-01T00:00:00Z (UTC). */
typedef struct kura_intent {
    char id[KURA_INTENT_ID_LEN + 1];              /* 32 lower-case hex chars */
    kura_intent_chain chain;
    kura_intent_wallet wallet;
    uint64_t policy_version;                      /* the policy version its approvers saw,
                                                     1..KURA_INTENT_POLICY_VERSION_MAX; a signer
                                                     behind it refuses unless the package
                                                     brings that policy */
    char initiator[KURA_INTENT_NAME_MAX + 1];     /* [a-z0-9._-]{1,64} */
    int64_t created;                              /* 0..KURA_INTENT_TIME_MAX */
    int64_t expires;                              /* created < expires <= KURA_INTENT_TIME_MAX */
    kura_intent_output *outputs;                  /* owned; 1..KURA_INTENT_OUTPUTS_MAX when valid */
    size_t output_count;
    size_t output_cap;                            /* allocated slots (internal) */
    uint64_t max_fee;                             /* satoshis, 1..KURA_INTENT_MAX_AMOUNT */
} kura_intent;

/* Returns a new, empty intent (all fields zero, chain BITCOIN, no outputs) for
 * the caller to fill in, or NULL when memory runs out. Free with
 * kura_intent_free. */
kura_intent *kura_intent_new(void);

/* Frees an intent and its outputs. NULL is a no-op. */
void kura_intent_free(kura_intent *intent);

/* Appends an output to an intent being built. `address` must be the
 * canonical spelling of an address valid for intent->chain (set the chain
 * first); `amount` 1..KURA_INTENT_MAX_AMOUNT; `label` NULL or "" for none, or
 * a label as the format allows (printable ASCII words, single spaces, at most
 * KURA_INTENT_LABEL_MAX chars). Fills the output's script.
 * Returns KURA_OK; KURA_EDATA for an address, amount or label the format
 * refuses, or when the total would pass KURA_INTENT_MAX_AMOUNT; KURA_ERANGE
 * when the intent already holds KURA_INTENT_OUTPUTS_MAX outputs; KURA_ENOMEM;
 * KURA_EINVAL for NULL intent or address. On failure the intent is unchanged. */
int kura_intent_add_output(kura_intent *intent, const char *address, uint64_t amount,
                           const char *label, kura_error *err);

/* Parses the canonical text[0..len) (no NUL needed; a NUL byte in it is
 * refused). On success *out receives a new intent (free with
 * kura_intent_free). Returns KURA_OK; KURA_EDATA for any departure from the
 * canonical form, naming the line and field; KURA_ERANGE for a text over
 * KURA_INTENT_TEXT_MAX bytes or with more than KURA_INTENT_OUTPUTS_MAX
 * outputs; KURA_ENOMEM; KURA_EINVAL for NULL out (or NULL text with len > 0).
 * On failure *out is NULL. */
int kura_intent_parse(kura_intent **out, const uint8_t *text, size_t len, kura_error *err);

/* Writes the canonical text of `intent` into a new NUL-terminated buffer:
 * *out gets it (free with free()), *out_len its length without the NUL.
 * Every field is checked as the parser checks it, and the text is parsed
 * back and compared, so the writer never emits a text the parser would
 * refuse or read differently. Returns KURA_OK; KURA_EDATA naming the field
 * the format refuses (total over KURA_INTENT_MAX_AMOUNT included);
 * KURA_ERANGE (too many outputs, text too long);
 * KURA_EINVAL for NULL arguments or an output whose script does not match
 * its address; KURA_ENOMEM. On failure *out is NULL and *out_len 0. */
int kura_intent_write(char **out, size_t *out_len, const kura_intent *intent, kura_error *err);

/* out = SHA-256 of the exact intent text bytes: the name the journal and the
 * replay protection use for an intent. Hash the text as received (or as
 * kura_intent_write produced it), never a re-spelling. */
void kura_intent_hash(uint8_t out[32], const uint8_t *text, size_t len);

/* Sum of the output amounts. A parsed (or successfully written) intent never
 * exceeds KURA_INTENT_MAX_AMOUNT; for any other struct the sum saturates at
 * UINT64_MAX rather than wrapping. */
uint64_t kura_intent_total(const kura_intent *intent);

/* Returns 1 when a and b have the same meaning (every field, every output in
 * order, scripts included), 0 otherwise (or when either is NULL). */
int kura_intent_equal(const kura_intent *a, const kura_intent *b);

/* A destination lookup for the renderer: returns 1 and sets *label (a
 * NUL-terminated string that must live until the render returns) when the
 * output's script is on the allowlist, 0 when it is not. kura/policy.h
 * provides kura_policy_allowlist_lookup of this type. */
typedef int (*kura_intent_allowlist_fn)(void *arg, const uint8_t *script, size_t script_len,
                                        const char **label);

/* Renders `intent` for a person to read before approving: header with id,
 * wallet, chain, initiator, creation and expiry; each output as address,
 * amount in BTC (8 decimals) and satoshis, and label; then the total, the fee
 * cap, the most that can leave the wallet, and the SHA-256 of the canonical
 * text (to compare with what the signer will show). When `lookup` is not NULL
 * every output also reads "allowlisted as <label>" or "NOT ON THE
 * ALLOWLIST". Bytes outside printable ASCII in a label from the lookup are
 * shown as '?'. *out gets the NUL-terminated text (free with free()),
 * *out_len its length. Returns KURA_OK; KURA_EINVAL (NULL arguments) or
 * KURA_EDATA/KURA_ERANGE for an intent the writer refuses (only valid intents
 * are shown); KURA_ENOMEM. On failure *out is NULL and *out_len 0. */
int kura_intent_render(char **out, size_t *out_len, const kura_intent *intent,
                       kura_intent_allowlist_fn lookup, void *lookup_arg, kura_error *err);

/* Formats a time as "YYYY-MM-DDTHH:MM:SSZ" into out (at least 21 bytes).
 * Returns KURA_OK, or KURA_EINVAL for out too small or t outside
 * 0..KURA_INTENT_TIME_MAX. */
int kura_intent_time_format(char *out, size_t out_len, int64_t t);

/* Parses exactly "YYYY-MM-DDTHH:MM:SSZ" (a real calendar date, seconds 00..59,
 * year 1970..9999) from s[0..len). Returns KURA_OK or KURA_EDATA; *t is 0 on
 * failure. */
int kura_intent_time_parse(int64_t *t, const char *s, size_t len, kura_error *err);

#ifdef __cplusplus
}
#endif

#endif /* KURA_INTENT_H */
