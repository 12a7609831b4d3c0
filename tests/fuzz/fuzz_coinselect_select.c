/* Fuzz target: kura_coinselect_select over arbitrary coins and parameters.
 * Every accepted selection must keep the header's promises, and any
 * violation aborts:
 *   - selected indexes ascending (so distinct), each below the coin count,
 *     each coin worth more than its input's fee;
 *   - selected sum = target + fee + change, so sum >= target + fee;
 *   - change 0 or >= min_change;
 *   - fee at least the fee rate times the estimated vsize (rounded up), and
 *     the weight the base, the inputs and the change output add up to;
 *   - within max_inputs and max_weight.
 * A refusal (KURA_EDATA) names one of the three failure reasons and leaves
 * no selection.
 *
 * Input: a 40-byte header (parameters), then 6 bytes per coin (amount as a
 * 32-bit little-endian, weight as 16-bit + 1), at most 200 coins. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kura/coinselect.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t le(const uint8_t *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) v |= (uint64_t)p[i] << (8 * i);
    return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    kura_coinselect_coin coins[200];
    kura_coinselect_params p;
    kura_coinselect_result r;
    size_t n, max_inputs;
    uint64_t sum = 0, weight, max_weight, vsize;
    int rc;

    if (size < 40) return 0;
    memset(&p, 0, sizeof(p));
    p.target = le(data, 4);
    p.fee_rate = le(data + 4, 3);           /* up to ~16,777 sat/vB */
    p.long_term_fee_rate = le(data + 7, 2) * 4;
    p.base_weight = (uint32_t)le(data + 9, 2) % 4000 + 1;
    p.change_output_weight = (uint32_t)le(data + 11, 2) % 1000 + 1;
    p.change_input_weight = (uint32_t)le(data + 13, 2) % 2000 + 1;
    p.min_change = le(data + 15, 3);
    p.max_inputs = data[18];                /* 0 = default */
    p.max_weight = (uint32_t)le(data + 19, 3); /* 0 = default */
    p.bnb_max_tries = (uint32_t)le(data + 22, 2);
    p.seed = le(data + 24, 8);
    /* data[32..40) reserved */
    n = (size - 40) / 6;
    if (n > 200) n = 200;
    if (n == 0) return 0;
    for (size_t i = 0; i < n; i++) {
        coins[i].amount = le(data + 40 + 6 * i, 4);
        coins[i].weight = (uint32_t)le(data + 44 + 6 * i, 2) + 1;
    }
    memset(&r, 0, sizeof(r));
    rc = kura_coinselect_select(&r, coins, n, &p, NULL);
    if (rc == KURA_EDATA) {
        if (r.failure == KURA_COINSELECT_OK || r.selected != NULL || r.selected_count != 0) abort();
        return 0;
    }
    if (rc != KURA_OK) {
        if (r.selected != NULL) abort();
        return 0;
    }
    max_inputs = p.max_inputs ? p.max_inputs : KURA_COINSELECT_MAX_INPUTS;
    max_weight = p.max_weight ? p.max_weight : KURA_COINSELECT_MAX_WEIGHT;
    weight = p.base_weight;
    if (r.selected_count == 0 || r.selected_count > max_inputs) abort();
    for (size_t k = 0; k < r.selected_count; k++) {
        size_t i = r.selected[k];
        if (i >= n || (k > 0 && r.selected[k - 1] >= i)) abort();
        if (coins[i].amount <= kura_coinselect_fee(p.fee_rate, coins[i].weight)) abort();
        sum += coins[i].amount;
        weight += coins[i].weight;
    }
    if (r.change > 0) weight += p.change_output_weight;
    if (sum != r.selected_amount || sum < p.target || sum - p.target < r.fee ||
        sum - p.target - r.fee != r.change)
        abort();
    if (r.change != 0 && r.change < p.min_change) abort();
    if (weight != r.weight || weight > max_weight) abort();
    vsize = (weight + 3) / 4;
    if (r.fee < (p.fee_rate * vsize + 999) / 1000) abort();
    if (r.failure != KURA_COINSELECT_OK || r.algorithm == KURA_COINSELECT_NONE) abort();
    kura_coinselect_result_clear(&r);
    return 0;
}
