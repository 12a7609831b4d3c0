/*
 * kura/coinselect.h — coin selection: which of a wallet's coins fund a
 * payment, and whether the transaction gets a change output.
 *
 * The approach is Bitcoin Core's (wallet/coinselection): every coin is
 * valued by its *effective value* (its amount minus the fee its input costs
 * at the current fee rate); coins whose effective value is zero or less
 * are never selected. Several algorithms each propose a selection, and the
 * one with the least *waste* wins:
 *
 *   BnB         branch-and-bound (Murch, "An Evaluation of Coin Selection
 *               Strategies", 2016): a depth-first search for a changeless
 *               selection whose effective value lies in
 *               [T, T + cost_of_change], T the selection target below;
 *               at most `bnb_max_tries` steps (Core: 100,000).
 *   KNAPSACK    Core's knapsack: an exact single coin, else all smaller
 *               coins if they add up exactly, else the best of a stochastic
 *               subset search (1,000 rounds, seeded; fewer when the pool is
 *               so large that they would pass 20 million coin visits) and
 *               the smallest coin that covers the target with change.
 *   SRD         single random draw: coins in a seeded random order until
 *               the target with change is covered, dropping the smallest
 *               selected coin whenever the input or weight limit is passed.
 *   LARGEST     largest first: coins by effective value, biggest first.
 *
 * Units and rounding. Sizes are in weight units (BIP141: 4 per non-witness
 * byte, 1 per witness byte). Fee rates are in satoshis per 1,000 virtual
 * bytes (sat/kvB, Core's CFeeRate unit: 1 sat/vB = 1000). The fee for w
 * weight units at rate r is fee(r, w) = ceil(r * w / 4000). Each part of the
 * transaction is charged separately, as Core charges each input:
 *   fee = fee(r, base_weight + 3) + sum over inputs fee(r, weight_i)
 *         [+ fee(r, change_output_weight) with change]
 * (the +3 covers rounding the whole weight up to virtual bytes), which is
 * never below ceil(r * vsize / 1000) for the transaction's vsize
 * ceil(total weight / 4).
 *
 * Definitions (Core's):
 *   effective value  ev_i = amount_i - fee(r, weight_i)
 *   T                target + fee(r, base_weight + 3)   (selection target)
 *   change_fee       fee(r, change_output_weight)
 *   cost_of_change   change_fee + fee(long_term_fee_rate, change_input_weight)
 *   waste            sum over inputs (fee(r, w_i) - fee(long_term, w_i))
 *                    + cost_of_change          with a change output
 *                    + (sum ev_i - T)          without (the excess, given to
 *                                               the miners)
 * A selection gets a change output when its excess pays for the change
 * output and leaves at least min_change:  sum ev_i - T - change_fee >=
 * min_change; otherwise it is changeless and the excess (dust) is folded
 * into the fee. This rule is applied to every algorithm's proposal.
 *
 * Ties in waste go to the selection with more inputs (Core's rule: it
 * consolidates at equal cost), then to the earlier algorithm in the order
 * above. Everything is deterministic: the same coins, parameters and seed
 * give the same result. libkura holds no randomness; `seed` drives a
 * counter-based generator (SplitMix64) used by KNAPSACK and SRD only.
 */
#ifndef KURA_COINSELECT_H
#define KURA_COINSELECT_H

#include <stddef.h>
#include <stdint.h>

#include "kura/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- limits ---- */

#define KURA_COINSELECT_MAX_CANDIDATES 1000000u /* coins offered to one call */
#define KURA_COINSELECT_MAX_INPUTS 1000u        /* default and largest max_inputs */
#define KURA_COINSELECT_MAX_WEIGHT 400000u      /* default max_weight: Core's standard limit */
#define KURA_COINSELECT_MAX_FEE_RATE 100000000u /* sat/kvB (100,000 sat/vB) */
#define KURA_COINSELECT_MAX_COIN_WEIGHT 400000u /* one input, the base, or the change */
#define KURA_COINSELECT_BNB_TRIES 100000u       /* default bnb_max_tries (Core's) */
#define KURA_COINSELECT_KNAPSACK_ROUNDS 1000u   /* stochastic subset rounds (Core's) */

/* One candidate coin. */
typedef struct kura_coinselect_coin {
    uint64_t amount; /* satoshis, 0..KURA_MAX_MONEY */
    uint32_t weight; /* the weight its input adds to the finished transaction:
                        outpoint, scriptSig and sequence (4 WU per byte) plus its
                        witness (1 WU per byte). 1..KURA_COINSELECT_MAX_COIN_WEIGHT.
                        kura_assemble_estimate gives it for kura's wallet kinds. */
} kura_coinselect_coin;

/* What to fund and at what cost. Zero in a field marked "0 = default" takes
 * the default. */
typedef struct kura_coinselect_params {
    uint64_t target;               /* sum of the payment outputs, satoshis, 1..KURA_MAX_MONEY */
    uint64_t fee_rate;             /* sat/kvB, 0..KURA_COINSELECT_MAX_FEE_RATE */
    uint64_t long_term_fee_rate;   /* sat/kvB, for the waste metric (Core's default:
                                      10,000 sat/kvB); 0..KURA_COINSELECT_MAX_FEE_RATE */
    uint32_t base_weight;          /* the transaction without inputs and without change:
                                      version, locktime, the input and output counts
                                      (count the input count as 3 bytes to cover more
                                      than 252 inputs), the payment outputs, and the
                                      segwit marker and flag (2 WU) when inputs are
                                      segwit. 1..KURA_COINSELECT_MAX_COIN_WEIGHT */
    uint32_t change_output_weight; /* the change output (8 + 1 + script bytes, times 4) */
    uint32_t change_input_weight;  /* the input that will spend the change later */
    uint64_t min_change;           /* the smallest change output made, satoshis; at
                                      least the change script's dust threshold (the
                                      caller's choice; 0 means any positive change) */
    uint32_t max_weight;           /* most weight of the finished transaction;
                                      0 = KURA_COINSELECT_MAX_WEIGHT */
    size_t max_inputs;             /* most inputs; 0 = KURA_COINSELECT_MAX_INPUTS
                                      (also the largest value accepted) */
    uint32_t bnb_max_tries;        /* 0 = KURA_COINSELECT_BNB_TRIES */
    uint64_t seed;                 /* drives KNAPSACK and SRD; any value */
} kura_coinselect_params;

/* The algorithms; stable values. */
typedef enum kura_coinselect_algorithm {
    KURA_COINSELECT_NONE = 0,
    KURA_COINSELECT_BNB = 1,
    KURA_COINSELECT_KNAPSACK = 2,
    KURA_COINSELECT_SRD = 3,
    KURA_COINSELECT_LARGEST = 4
} kura_coinselect_algorithm;

/* Why no selection exists; stable values and names. */
typedef enum kura_coinselect_failure {
    KURA_COINSELECT_OK = 0,
    /* The coins' amounts together are below the target: the wallet does not
     * hold the money at all. */
    KURA_COINSELECT_INSUFFICIENT_FUNDS = 1,
    /* The amounts cover the target, but not the target plus the fees at
     * this fee rate (coins that cost more than they are worth excluded). */
    KURA_COINSELECT_INSUFFICIENT_AFTER_FEES = 2,
    /* The money is there, but no algorithm found a selection within
     * max_inputs and max_weight (too many small coins: consolidate). */
    KURA_COINSELECT_TOO_MANY_INPUTS = 3
} kura_coinselect_failure;

/* "KURA_COINSELECT_BNB" ...; "KURA_COINSELECT_?" out of range. */
const char *kura_coinselect_algorithm_name(kura_coinselect_algorithm algorithm);
/* "KURA_COINSELECT_INSUFFICIENT_FUNDS" ...; "KURA_COINSELECT_?" out of range. */
const char *kura_coinselect_failure_name(kura_coinselect_failure failure);

/* The result of a selection. */
typedef struct kura_coinselect_result {
    size_t *selected;        /* owned: indexes into the coins array, ascending, distinct */
    size_t selected_count;
    uint64_t selected_amount; /* sum of the selected coins' amounts */
    uint64_t fee;             /* selected_amount - target - change */
    uint64_t change;          /* the change output's amount; 0 = changeless */
    int64_t waste;            /* as defined above (negative when the fee rate is below
                                 the long-term rate) */
    uint64_t weight;          /* the finished transaction's weight as estimated:
                                 base_weight + the inputs' + change_output_weight
                                 with change */
    kura_coinselect_algorithm algorithm; /* which algorithm's proposal won */
    kura_coinselect_failure failure;     /* KURA_COINSELECT_OK on success */
} kura_coinselect_result;

/* Frees what result owns and clears it. NULL is a no-op. */
void kura_coinselect_result_clear(kura_coinselect_result *result);

/* fee(rate, weight) = ceil(rate * weight / 4000) satoshis, as above.
 * rate <= KURA_COINSELECT_MAX_FEE_RATE and weight <= 4 * KURA_TX_MAX_SIZE keep
 * the product far from overflow; beyond that the result saturates at
 * UINT64_MAX. */
uint64_t kura_coinselect_fee(uint64_t rate, uint64_t weight);

/* Selects coins from coins[0..coin_count) to pay params->target at
 * params->fee_rate, as described above.
 *   result: cleared on entry (pass a zeroed result or one emptied with
 *     kura_coinselect_result_clear); on KURA_OK holds the winning selection;
 *     on KURA_EDATA only result->failure is set (the reason); otherwise
 *     left cleared.
 *   coins: not changed; coin_count 1..KURA_COINSELECT_MAX_CANDIDATES.
 *   err: may be NULL; on failure a one-line reason ("coinselect: ...").
 * Returns KURA_OK; KURA_EDATA when no selection exists (result->failure says
 * which of the three reasons); KURA_ERANGE for coin_count over
 * KURA_COINSELECT_MAX_CANDIDATES, or a coin amount or the amounts together
 * over KURA_MAX_MONEY, or a weight, fee rate or max_inputs over its limit;
 * KURA_EINVAL (NULL pointers, coin_count 0, target 0 or over KURA_MAX_MONEY,
 * a zero weight where a weight is required); KURA_ENOMEM. */
int kura_coinselect_select(kura_coinselect_result *result, const kura_coinselect_coin *coins,
                           size_t coin_count, const kura_coinselect_params *params,
                           kura_error *err);

#ifdef __cplusplus
}
#endif

#endif /* KURA_COINSELECT_H */
