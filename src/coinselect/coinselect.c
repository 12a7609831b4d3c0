/* src/coinselect/coinselect.c — coin selection as Bitcoin Core does it:
 * effective values, branch-and-bound for a changeless selection, then
 * fallbacks (knapsack, single random draw, largest first), and the least
 * waste wins. Definitions and rounding: include/kura/coinselect.h.
 *
 * Every algorithm proposes a set of coins; one function (evaluate) decides
 * for all of them whether the set funds the payment within the limits,
 * whether it gets change, and what its fee and waste are, so the proposals
 * are compared on exactly the same terms. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "kura/coinselect.h"

/* Coin visits the knapsack's subset search may make (two passes per round). */
#define KNAPSACK_BUDGET 20000000u

/* KURA_MAX_MONEY of kura/tx.h, which this module may not include. */
#define MAX_MONEY 2100000000000000ull

/* A coin of the pool: only coins whose effective value is positive. */
typedef struct pool_coin {
    size_t index;    /* into the caller's coins */
    uint64_t ev;     /* effective value: amount - fee(rate, weight) > 0 */
    uint64_t fee;    /* fee(rate, weight) */
    int64_t waste;   /* fee - fee(long_term, weight) */
    uint64_t amount;
    uint32_t weight;
} pool_coin;

typedef struct selector {
    const kura_coinselect_params *p;
    pool_coin *pool; /* by effective value, largest first */
    size_t n;
    size_t max_inputs;
    uint64_t max_weight;
    uint64_t T;              /* selection target: target + fee of the base */
    uint64_t base_fee;
    uint64_t change_fee;
    uint64_t cost_of_change;
    uint64_t change_target;  /* T + change_fee + min_change: enough for change */
    uint64_t rng;            /* SplitMix64 state */
} selector;

/* One evaluated proposal. */
typedef struct proposal {
    int valid;
    size_t count;
    uint64_t amount;
    uint64_t fee;
    uint64_t change;
    int64_t waste;
    uint64_t weight;
} proposal;

static const char *const ALGORITHM_NAMES[] = {"KURA_COINSELECT_NONE", "KURA_COINSELECT_BNB",
                                              "KURA_COINSELECT_KNAPSACK", "KURA_COINSELECT_SRD",
                                              "KURA_COINSELECT_LARGEST"};
static const char *const FAILURE_NAMES[] = {
    "KURA_COINSELECT_OK", "KURA_COINSELECT_INSUFFICIENT_FUNDS",
    "KURA_COINSELECT_INSUFFICIENT_AFTER_FEES", "KURA_COINSELECT_TOO_MANY_INPUTS"};

const char *kura_coinselect_algorithm_name(kura_coinselect_algorithm algorithm)
{
    unsigned v = (unsigned)algorithm;
    if (v >= sizeof(ALGORITHM_NAMES) / sizeof(ALGORITHM_NAMES[0])) return "KURA_COINSELECT_?";
    return ALGORITHM_NAMES[v];
}

const char *kura_coinselect_failure_name(kura_coinselect_failure failure)
{
    unsigned v = (unsigned)failure;
    if (v >= sizeof(FAILURE_NAMES) / sizeof(FAILURE_NAMES[0])) return "KURA_COINSELECT_?";
    return FAILURE_NAMES[v];
}

void kura_coinselect_result_clear(kura_coinselect_result *result)
{
    if (result == NULL) return;
    free(result->selected);
    memset(result, 0, sizeof(*result));
}

uint64_t kura_coinselect_fee(uint64_t rate, uint64_t weight)
{
    if (rate != 0 && weight > (UINT64_MAX - 3999) / rate) return UINT64_MAX;
    return (rate * weight + 3999) / 4000;
}

/* ---- randomness: SplitMix64 (Steele, Lea, Flood 2014), seeded by the caller ---- */

static uint64_t next_random(selector *s)
{
    uint64_t z = (s->rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Uniform in [0, bound), bound > 0: rejection removes the modulo bias. */
static uint64_t random_below(selector *s, uint64_t bound)
{
    uint64_t threshold = (0 - bound) % bound, r;
    do {
        r = next_random(s);
    } while (r < threshold);
    return r % bound;
}

/* ---- one rule for every proposal ---- */

/* Evaluates the pool coins marked in sel[0..n). */
static proposal evaluate(const selector *s, const uint8_t *sel)
{
    proposal r;
    uint64_t ev = 0, input_fees = 0, excess;
    int64_t waste = 0;
    memset(&r, 0, sizeof(r));
    r.weight = s->p->base_weight;
    for (size_t i = 0; i < s->n; i++) {
        if (!sel[i]) continue;
        r.count++;
        r.amount += s->pool[i].amount; /* total checked <= MAX_MONEY on entry */
        ev += s->pool[i].ev;
        input_fees += s->pool[i].fee;
        waste += s->pool[i].waste;
        r.weight += s->pool[i].weight;
    }
    if (r.count == 0 || r.count > s->max_inputs || r.weight > s->max_weight || ev < s->T)
        return r;
    excess = ev - s->T;
    if (excess > s->change_fee && excess - s->change_fee >= s->p->min_change) {
        /* Change: the excess pays for the change output and leaves at least
         * min_change. Without room for the change output the excess would
         * go to the miners; such a proposal is refused instead. */
        if (r.weight + s->p->change_output_weight > s->max_weight) return r;
        r.change = excess - s->change_fee;
        r.fee = s->base_fee + input_fees + s->change_fee;
        r.weight += s->p->change_output_weight;
        r.waste = waste + (int64_t)s->cost_of_change;
    } else {
        /* Changeless: what a change output could not usefully hold is
         * folded into the fee (Core drops change below its minimum). */
        r.fee = r.amount - s->p->target;
        r.waste = waste + (int64_t)excess;
    }
    r.valid = 1;
    return r;
}

/* ---- branch and bound ---- */

/* Depth-first over the pool (largest effective value first): at each coin,
 * first the branch that includes it, then the one that omits it. A branch is
 * cut when it cannot reach T with what is left, overshoots T +
 * cost_of_change, passes the input or weight limit, or (when fees are above
 * the long-term rate, so every further input only adds waste) already
 * wastes more than the best found. Writes the best selection into best;
 * returns 1 if there is one. stack and best_stack hold n entries each. */
static int bnb(selector *s, uint8_t *best, size_t *stack, size_t *best_stack)
{
    const uint64_t upper = s->T + s->cost_of_change;
    const int fees_high = s->p->fee_rate > s->p->long_term_fee_rate;
    uint32_t tries = s->p->bnb_max_tries ? s->p->bnb_max_tries : KURA_COINSELECT_BNB_TRIES;
    uint64_t value = 0, available = 0, weight = s->p->base_weight;
    int64_t waste = 0, best_waste = INT64_MAX;
    size_t depth = 0, pos = 0, best_depth = 0;
    int found = 0;

    for (size_t i = 0; i < s->n; i++) available += s->pool[i].ev;
    if (available < s->T) return 0;
    for (uint32_t t = 0; t < tries; t++) {
        int back = 0;
        if (value + available < s->T || value > upper || depth > s->max_inputs ||
            weight > s->max_weight || (fees_high && waste > best_waste)) {
            back = 1;
        } else if (value >= s->T) {
            int64_t total = waste + (int64_t)(value - s->T);
            if (total <= best_waste) {
                best_waste = total;
                memcpy(best_stack, stack, depth * sizeof(*stack));
                best_depth = depth;
                found = 1;
            }
            back = 1;
        }
        if (back) {
            size_t last;
            if (depth == 0) break; /* the whole tree is searched */
            last = stack[depth - 1];
            /* Coins passed over since the last inclusion are undecided again. */
            while (pos > last + 1) available += s->pool[--pos].ev;
            /* Now take the branch that omits `last` (still off `available`). */
            depth--;
            value -= s->pool[last].ev;
            waste -= s->pool[last].waste;
            weight -= s->pool[last].weight;
            pos = last + 1;
            continue;
        }
        /* pos < n here: with nothing left and value < T the first test cut. */
        available -= s->pool[pos].ev;
        if (pos > 0 && (depth == 0 || stack[depth - 1] != pos - 1) &&
            s->pool[pos].ev == s->pool[pos - 1].ev &&
            s->pool[pos].weight == s->pool[pos - 1].weight) {
            /* The previous coin is interchangeable with this one and was
             * omitted: including this one repeats a branch already searched. */
        } else {
            stack[depth++] = pos;
            value += s->pool[pos].ev;
            waste += s->pool[pos].waste;
            weight += s->pool[pos].weight;
        }
        pos++;
    }
    memset(best, 0, s->n);
    for (size_t k = 0; k < best_depth; k++) best[best_stack[k]] = 1;
    return found;
}

/* ---- knapsack ---- */

/* Core's approximation of the smallest subset of the coins idx[0..m) (in
 * pool order) whose effective values reach `goal`: rounds of random
 * inclusion, each finished by a second pass that adds what the first left
 * out, recording every partial sum that reaches the goal. */
static void best_subset(selector *s, uint8_t *mark, const size_t *idx, size_t m, uint64_t goal,
                        uint8_t *inc, uint64_t *best_out)
{
    uint64_t best = 0;
    for (size_t k = 0; k < m; k++) {
        best += s->pool[idx[k]].ev;
        mark[k] = 1;
    }
    /* Core's 1,000 rounds, fewer for very large pools: the work stays
     * under about KNAPSACK_BUDGET coin visits whatever the pool. */
    unsigned rounds = KURA_COINSELECT_KNAPSACK_ROUNDS;
    if (m > 0 && KNAPSACK_BUDGET / m < rounds) rounds = (unsigned)(KNAPSACK_BUDGET / m) + 1;
    for (unsigned round = 0; round < rounds && best != goal; round++) {
        uint64_t total = 0, bits = 0;
        unsigned nbits = 0;
        int reached = 0;
        memset(inc, 0, m);
        for (int pass = 0; pass < 2 && !reached; pass++) {
            for (size_t k = 0; k < m; k++) {
                int take;
                if (pass == 0) {
                    if (nbits == 0) {
                        bits = next_random(s);
                        nbits = 64;
                    }
                    take = (int)(bits & 1u);
                    bits >>= 1;
                    nbits--;
                } else {
                    take = !inc[k];
                }
                if (!take) continue;
                total += s->pool[idx[k]].ev;
                inc[k] = 1;
                if (total >= goal) {
                    reached = 1;
                    if (total < best) {
                        best = total;
                        memcpy(mark, inc, m);
                    }
                    total -= s->pool[idx[k]].ev;
                    inc[k] = 0;
                }
            }
        }
    }
    *best_out = best;
}

static int knapsack(selector *s, uint8_t *sel, size_t *idx, uint8_t *mark, uint8_t *inc)
{
    const uint64_t goal = s->change_target;
    size_t m = 0, larger = SIZE_MAX;
    uint64_t lower = 0, best = 0;

    memset(sel, 0, s->n);
    for (size_t i = 0; i < s->n; i++) {
        /* A coin that pays the target exactly, with change or without. */
        if (s->pool[i].ev == goal || s->pool[i].ev == s->T) {
            sel[i] = 1;
            return 1;
        }
        if (s->pool[i].ev > goal) {
            larger = i; /* pool is sorted: the last one is the smallest */
        } else {
            idx[m++] = i;
            lower += s->pool[i].ev;
        }
    }
    if (lower == goal) {
        for (size_t k = 0; k < m; k++) sel[idx[k]] = 1;
        return 1;
    }
    if (lower < goal) {
        if (larger != SIZE_MAX) {
            sel[larger] = 1;
            return 1;
        }
        if (lower < s->T) return 0;
        for (size_t k = 0; k < m; k++) sel[idx[k]] = 1; /* changeless, excess to fee */
        return 1;
    }
    best_subset(s, mark, idx, m, goal, inc, &best);
    if (larger != SIZE_MAX && best != goal && s->pool[larger].ev <= best) {
        sel[larger] = 1;
        return 1;
    }
    for (size_t k = 0; k < m; k++)
        if (mark[k]) sel[idx[k]] = 1;
    return 1;
}

/* ---- single random draw ---- */

/* A max-heap of pool positions: the top is the selected coin of least
 * effective value (the pool is sorted largest first). */
static void heap_push(size_t *heap, size_t *len, size_t v)
{
    size_t i = (*len)++;
    while (i > 0 && heap[(i - 1) / 2] < v) {
        heap[i] = heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    heap[i] = v;
}

static size_t heap_pop(size_t *heap, size_t *len)
{
    size_t top = heap[0], v = heap[--(*len)], i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= *len) break;
        if (c + 1 < *len && heap[c + 1] > heap[c]) c++;
        if (heap[c] <= v) break;
        heap[i] = heap[c];
        i = c;
    }
    if (*len > 0) heap[i] = v;
    return top;
}

static int srd(selector *s, uint8_t *sel, size_t *order, size_t *heap)
{
    uint64_t value = 0, weight = s->p->base_weight;
    size_t count = 0;
    memset(sel, 0, s->n);
    for (size_t i = 0; i < s->n; i++) order[i] = i;
    for (size_t i = s->n; i > 1; i--) { /* Fisher-Yates */
        size_t j = (size_t)random_below(s, i), t = order[i - 1];
        order[i - 1] = order[j];
        order[j] = t;
    }
    for (size_t k = 0; k < s->n; k++) {
        size_t c = order[k];
        sel[c] = 1;
        heap_push(heap, &count, c);
        value += s->pool[c].ev;
        weight += s->pool[c].weight;
        /* Over a limit: drop the selected coin of least effective value. */
        while (count > 0 && (count > s->max_inputs ||
                             weight + s->p->change_output_weight > s->max_weight)) {
            size_t drop = heap_pop(heap, &count);
            sel[drop] = 0;
            value -= s->pool[drop].ev;
            weight -= s->pool[drop].weight;
        }
        if (value >= s->change_target) return 1;
    }
    return 0;
}

/* ---- largest first ---- */

static int largest(selector *s, uint8_t *sel)
{
    uint64_t value = 0;
    memset(sel, 0, s->n);
    for (size_t i = 0; i < s->n; i++) {
        sel[i] = 1;
        value += s->pool[i].ev;
        if (value >= s->change_target) return 1;
    }
    return value >= s->T; /* changeless: all there is */
}

/* ---- the call ---- */

static int by_value(const void *a, const void *b)
{
    const pool_coin *x = a, *y = b;
    if (x->ev != y->ev) return x->ev > y->ev ? -1 : 1;
    if (x->weight != y->weight) return x->weight < y->weight ? -1 : 1;
    return x->index < y->index ? -1 : (x->index > y->index ? 1 : 0);
}

static int by_index(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return x < y ? -1 : (x > y ? 1 : 0);
}

static int check_params(const kura_coinselect_params *p, kura_error *err)
{
    if (p->target == 0 || p->target > MAX_MONEY)
        return kura_fail(err, KURA_EINVAL, "coinselect: target must be 1..21e14 sat");
    if (p->fee_rate > KURA_COINSELECT_MAX_FEE_RATE ||
        p->long_term_fee_rate > KURA_COINSELECT_MAX_FEE_RATE)
        return kura_fail(err, KURA_ERANGE, "coinselect: fee rate over %u sat/kvB",
                         KURA_COINSELECT_MAX_FEE_RATE);
    if (p->base_weight == 0 || p->change_output_weight == 0 || p->change_input_weight == 0)
        return kura_fail(err, KURA_EINVAL,
                         "coinselect: base, change output and change input weights are required");
    if (p->base_weight > KURA_COINSELECT_MAX_COIN_WEIGHT ||
        p->change_output_weight > KURA_COINSELECT_MAX_COIN_WEIGHT ||
        p->change_input_weight > KURA_COINSELECT_MAX_COIN_WEIGHT)
        return kura_fail(err, KURA_ERANGE, "coinselect: a weight over %u WU",
                         KURA_COINSELECT_MAX_COIN_WEIGHT);
    if (p->max_inputs > KURA_COINSELECT_MAX_INPUTS)
        return kura_fail(err, KURA_ERANGE, "coinselect: max_inputs over %u",
                         KURA_COINSELECT_MAX_INPUTS);
    if (p->min_change > MAX_MONEY)
        return kura_fail(err, KURA_ERANGE, "coinselect: min_change over 21e14 sat");
    return KURA_OK;
}

int kura_coinselect_select(kura_coinselect_result *result, const kura_coinselect_coin *coins,
                           size_t coin_count, const kura_coinselect_params *params,
                           kura_error *err)
{
    selector s;
    uint8_t *sel = NULL, *best = NULL, *mark = NULL, *inc = NULL;
    size_t *scratch = NULL, *scratch2 = NULL;
    proposal won;
    uint64_t total = 0, positive = 0;
    int rc;

    if (result != NULL) memset(result, 0, sizeof(*result));
    if (result == NULL || coins == NULL || params == NULL || coin_count == 0)
        return kura_fail(err, KURA_EINVAL, "coinselect: NULL argument or no coins");
    if (coin_count > KURA_COINSELECT_MAX_CANDIDATES)
        return kura_fail(err, KURA_ERANGE, "coinselect: %zu coins, over the limit of %u",
                         coin_count, KURA_COINSELECT_MAX_CANDIDATES);
    rc = check_params(params, err);
    if (rc != KURA_OK) return rc;
    for (size_t i = 0; i < coin_count; i++) {
        if (coins[i].weight == 0)
            return kura_fail(err, KURA_EINVAL, "coinselect: coin %zu has weight 0", i);
        if (coins[i].weight > KURA_COINSELECT_MAX_COIN_WEIGHT)
            return kura_fail(err, KURA_ERANGE, "coinselect: coin %zu weighs over %u WU", i,
                             KURA_COINSELECT_MAX_COIN_WEIGHT);
        /* Each amount <= MAX_MONEY, so the sum cannot wrap before the test. */
        if (coins[i].amount > MAX_MONEY || (total += coins[i].amount) > MAX_MONEY)
            return kura_fail(err, KURA_ERANGE, "coinselect: coin amounts over 21 million BTC");
    }

    memset(&s, 0, sizeof(s));
    s.p = params;
    s.rng = params->seed;
    s.max_inputs = params->max_inputs ? params->max_inputs : KURA_COINSELECT_MAX_INPUTS;
    s.max_weight = params->max_weight ? params->max_weight : KURA_COINSELECT_MAX_WEIGHT;
    s.base_fee = kura_coinselect_fee(params->fee_rate, (uint64_t)params->base_weight + 3);
    s.T = params->target + s.base_fee;
    s.change_fee = kura_coinselect_fee(params->fee_rate, params->change_output_weight);
    s.cost_of_change =
        s.change_fee + kura_coinselect_fee(params->long_term_fee_rate, params->change_input_weight);
    s.change_target = s.T + s.change_fee + params->min_change;

    if (total < params->target) {
        result->failure = KURA_COINSELECT_INSUFFICIENT_FUNDS;
        return kura_fail(err, KURA_EDATA,
                         "coinselect: insufficient funds: the coins hold %llu sat of %llu",
                         (unsigned long long)total, (unsigned long long)params->target);
    }

    s.pool = calloc(coin_count, sizeof(*s.pool));
    if (s.pool == NULL) return kura_fail(err, KURA_ENOMEM, "coinselect: out of memory");
    for (size_t i = 0; i < coin_count; i++) {
        uint64_t fee = kura_coinselect_fee(params->fee_rate, coins[i].weight);
        uint64_t lt = kura_coinselect_fee(params->long_term_fee_rate, coins[i].weight);
        if (coins[i].amount <= fee) continue; /* costs more to spend than it holds */
        s.pool[s.n].index = i;
        s.pool[s.n].amount = coins[i].amount;
        s.pool[s.n].ev = coins[i].amount - fee;
        s.pool[s.n].fee = fee;
        s.pool[s.n].waste = (int64_t)fee - (int64_t)lt;
        s.pool[s.n].weight = coins[i].weight;
        positive += s.pool[s.n].ev;
        s.n++;
    }
    if (positive < s.T) {
        free(s.pool);
        result->failure = KURA_COINSELECT_INSUFFICIENT_AFTER_FEES;
        return kura_fail(err, KURA_EDATA,
                         "coinselect: insufficient funds after fees: the coins are worth %llu "
                         "sat at this fee rate, the payment and its fee need %llu",
                         (unsigned long long)positive, (unsigned long long)s.T);
    }
    qsort(s.pool, s.n, sizeof(*s.pool), by_value);

    sel = calloc(s.n, 1);
    best = calloc(s.n, 1);
    mark = calloc(s.n, 1);
    inc = calloc(s.n, 1);
    scratch = calloc(s.n, sizeof(*scratch));
    scratch2 = calloc(s.n, sizeof(*scratch2));
    if (sel == NULL || best == NULL || mark == NULL || inc == NULL || scratch == NULL ||
        scratch2 == NULL) {
        rc = kura_fail(err, KURA_ENOMEM, "coinselect: out of memory");
        goto done;
    }

    memset(&won, 0, sizeof(won));
    for (int a = KURA_COINSELECT_BNB; a <= KURA_COINSELECT_LARGEST; a++) {
        int ok = 0;
        proposal pr;
        switch (a) {
        case KURA_COINSELECT_BNB:
            ok = bnb(&s, sel, scratch, scratch2);
            break;
        case KURA_COINSELECT_KNAPSACK:
            ok = knapsack(&s, sel, scratch, mark, inc);
            break;
        case KURA_COINSELECT_SRD:
            ok = srd(&s, sel, scratch, scratch2);
            break;
        default:
            ok = largest(&s, sel);
            break;
        }
        if (!ok) continue;
        pr = evaluate(&s, sel);
        if (!pr.valid) continue;
        /* Least waste; at equal waste more inputs (Core's rule); at equal
         * both, the earlier algorithm. */
        if (!won.valid || pr.waste < won.waste ||
            (pr.waste == won.waste && pr.count > won.count)) {
            won = pr;
            result->algorithm = (kura_coinselect_algorithm)a;
            memcpy(best, sel, s.n);
        }
    }
    if (!won.valid) {
        result->algorithm = KURA_COINSELECT_NONE;
        result->failure = KURA_COINSELECT_TOO_MANY_INPUTS;
        rc = kura_fail(err, KURA_EDATA,
                       "coinselect: no selection within %zu inputs and %llu weight units "
                       "(consolidate small coins)",
                       s.max_inputs, (unsigned long long)s.max_weight);
        goto done;
    }
    result->selected = calloc(won.count, sizeof(*result->selected));
    if (result->selected == NULL) {
        memset(result, 0, sizeof(*result));
        rc = kura_fail(err, KURA_ENOMEM, "coinselect: out of memory");
        goto done;
    }
    for (size_t i = 0; i < s.n; i++)
        if (best[i]) result->selected[result->selected_count++] = s.pool[i].index;
    qsort(result->selected, result->selected_count, sizeof(size_t), by_index);
    result->selected_amount = won.amount;
    result->fee = won.fee;
    result->change = won.change;
    result->waste = won.waste;
    result->weight = won.weight;
    result->failure = KURA_COINSELECT_OK;
    rc = KURA_OK;
done:
    free(s.pool);
    free(sel);
    free(best);
    free(mark);
    free(inc);
    free(scratch);
    free(scratch2);
    return rc;
}
