/* Coin selection: exact branch-and-bound answers, changeless results when
 * they exist, the waste metric (recomputed here from its definition in
 * kura/coinselect.h for every result), the three failure reasons, dust
 * change folded into the fee, determinism, limits, and pools of 5,000
 * coins. */
#include <stdlib.h>
#include <string.h>

#include "kura/coinselect.h"
#include "testutil.h"

#define P2WPKH_IN 272u  /* 41 bytes * 4 + 108 witness bytes */
#define P2WPKH_OUT 124u /* 31 bytes * 4 */

/* A base of 397 WU costs exactly 100 sat at 1 sat/vB: (397 + 3) / 4. */
static kura_coinselect_params params(uint64_t target, uint64_t rate, uint64_t lt)
{
    kura_coinselect_params p;
    memset(&p, 0, sizeof(p));
    p.target = target;
    p.fee_rate = rate;
    p.long_term_fee_rate = lt;
    p.base_weight = 397;
    p.change_output_weight = P2WPKH_OUT;
    p.change_input_weight = P2WPKH_IN;
    p.min_change = 1000;
    p.seed = 42;
    return p;
}

/* Everything the header promises of a result, recomputed independently. */
static void check_result(const kura_coinselect_result *r, const kura_coinselect_coin *coins,
                         size_t n, const kura_coinselect_params *p)
{
    uint64_t amount = 0, weight = p->base_weight, vsize, input_fees = 0;
    int64_t waste = 0;
    uint64_t change_fee = kura_coinselect_fee(p->fee_rate, p->change_output_weight);
    uint64_t coc = change_fee + kura_coinselect_fee(p->long_term_fee_rate, p->change_input_weight);
    uint64_t base_fee = kura_coinselect_fee(p->fee_rate, (uint64_t)p->base_weight + 3);

    assert_true(r->selected_count > 0);
    assert_int_equal(r->failure, KURA_COINSELECT_OK);
    assert_true(r->algorithm >= KURA_COINSELECT_BNB && r->algorithm <= KURA_COINSELECT_LARGEST);
    for (size_t k = 0; k < r->selected_count; k++) {
        size_t i = r->selected[k];
        uint64_t f = kura_coinselect_fee(p->fee_rate, coins[i].weight);
        assert_true(i < n);
        if (k > 0) assert_true(r->selected[k - 1] < i); /* ascending, so distinct */
        assert_true(coins[i].amount > f);               /* positive effective value */
        amount += coins[i].amount;
        weight += coins[i].weight;
        input_fees += f;
        waste += (int64_t)f - (int64_t)kura_coinselect_fee(p->long_term_fee_rate, coins[i].weight);
    }
    assert_int_equal(r->selected_amount, amount);
    assert_int_equal(amount, p->target + r->fee + r->change);
    if (r->change > 0) {
        assert_true(r->change >= p->min_change);
        weight += p->change_output_weight;
        assert_int_equal(r->fee, base_fee + input_fees + change_fee);
        waste += (int64_t)coc;
    } else {
        /* Changeless: the excess is the fee beyond the parts' fees, and it
         * is too small to have made change. */
        uint64_t excess = r->fee - base_fee - input_fees;
        assert_true(r->fee >= base_fee + input_fees);
        assert_true(excess <= change_fee || excess - change_fee < p->min_change);
        waste += (int64_t)excess;
    }
    assert_int_equal(r->weight, weight);
    assert_int_equal(r->waste, waste);
    vsize = (weight + 3) / 4;
    assert_true(r->fee >= (p->fee_rate * vsize + 999) / 1000);
}

static void select_ok(kura_coinselect_result *r, const kura_coinselect_coin *coins, size_t n,
                      const kura_coinselect_params *p)
{
    kura_error err;
    int rc = kura_coinselect_select(r, coins, n, p, &err);
    if (rc != KURA_OK) fail_msg("select: %s", err.message);
    check_result(r, coins, n, p);
}

/* ---- branch and bound ---- */

static void test_bnb_exact_no_fees(void **state)
{
    /* Fee rate 0: T = target and cost_of_change = 0, so only an exact sum
     * is changeless. 17 = 10 + 5 + 2 is the only one. min_change 100 is
     * more than all the coins: no proposal can make change. */
    kura_coinselect_coin coins[] = {{1, 4}, {2, 4}, {5, 4}, {10, 4}, {20, 4}};
    kura_coinselect_params p = params(17, 0, 0);
    kura_coinselect_result r = {0};
    (void)state;
    p.min_change = 100;
    select_ok(&r, coins, 5, &p);
    assert_int_equal(r.algorithm, KURA_COINSELECT_BNB);
    assert_int_equal(r.selected_count, 3);
    assert_int_equal(r.selected[0], 1);
    assert_int_equal(r.selected[1], 2);
    assert_int_equal(r.selected[2], 3);
    assert_int_equal(r.change, 0);
    assert_int_equal(r.fee, 0);
    assert_int_equal(r.waste, 0);
    kura_coinselect_result_clear(&r);

    /* 18 = 10 + 5 + 2 + 1 (and 18 has no other exact subset). */
    p.target = 18;
    select_ok(&r, coins, 5, &p);
    assert_int_equal(r.algorithm, KURA_COINSELECT_BNB);
    assert_int_equal(r.selected_count, 4);
    assert_int_equal(r.change, 0);
    kura_coinselect_result_clear(&r);
}

static void test_bnb_window_with_fees(void **state)
{
    /* 1 sat/vB: each P2WPKH input costs 68 sat, the base 100, the change
     * output 31, spending the change later 68: cost_of_change 99. Amounts
     * are effective values + 68. target 5,900 gives T = 6,000 and the
     * window [6,000, 6,099]: {5000, 1000} and {3000, 2000, 1000} both hit
     * 6,000 exactly with waste 0 (rate = long-term rate); the tie goes to
     * more inputs. Any selection with change wastes 99. */
    kura_coinselect_coin coins[] = {
        {1068, P2WPKH_IN}, {2068, P2WPKH_IN}, {3068, P2WPKH_IN}, {5068, P2WPKH_IN}};
    kura_coinselect_params p = params(5900, 1000, 1000);
    kura_coinselect_result r = {0};
    (void)state;
    select_ok(&r, coins, 4, &p);
    assert_int_equal(r.algorithm, KURA_COINSELECT_BNB);
    assert_int_equal(r.selected_count, 3);
    assert_int_equal(r.selected[0], 0);
    assert_int_equal(r.selected[1], 1);
    assert_int_equal(r.selected[2], 2);
    assert_int_equal(r.change, 0);
    assert_int_equal(r.fee, 100 + 3 * 68);
    assert_int_equal(r.waste, 0);
    kura_coinselect_result_clear(&r);

    /* At 10 sat/vB against a long-term 1 sat/vB every input wastes 612:
     * the two-coin answer wins. Effective values at 10 sat/vB: amount -
     * 680; base fee 1000; T = target + 1000. */
    kura_coinselect_coin coins2[] = {
        {1680, P2WPKH_IN}, {2680, P2WPKH_IN}, {3680, P2WPKH_IN}, {5680, P2WPKH_IN}};
    p = params(5000, 10000, 1000);
    select_ok(&r, coins2, 4, &p);
    assert_int_equal(r.algorithm, KURA_COINSELECT_BNB);
    assert_int_equal(r.selected_count, 2);
    assert_int_equal(r.selected[0], 0);
    assert_int_equal(r.selected[1], 3);
    assert_int_equal(r.change, 0);
    assert_int_equal(r.waste, 2 * 612);
    kura_coinselect_result_clear(&r);
}

static void test_bnb_excess_within_window(void **state)
{
    /* One coin lands 50 sat above T, inside the window (cost_of_change 99)
     * but below change_fee + min_change: changeless, the 50 sat excess goes
     * to the fee and counts as waste. The other coin would need change. */
    kura_coinselect_coin coins[] = {{50000 + 100 + 68 + 50, P2WPKH_IN}, {900000, P2WPKH_IN}};
    kura_coinselect_params p = params(50000, 1000, 1000);
    kura_coinselect_result r = {0};
    (void)state;
    select_ok(&r, coins, 2, &p);
    assert_int_equal(r.algorithm, KURA_COINSELECT_BNB);
    assert_int_equal(r.selected_count, 1);
    assert_int_equal(r.selected[0], 0);
    assert_int_equal(r.change, 0);
    assert_int_equal(r.fee, 100 + 68 + 50);
    assert_int_equal(r.waste, 50);
    kura_coinselect_result_clear(&r);
}

static void test_bnb_prefers_changeless(void **state)
{
    /* Three of 40 coins meet T exactly. At the long-term rate inputs
     * waste nothing, so the changeless answer (waste 0) beats every
     * selection with change (waste cost_of_change). */
    kura_coinselect_coin coins[40];
    kura_coinselect_params p = params(0, 2000, 2000);
    kura_coinselect_result r = {0};
    uint64_t in_fee = kura_coinselect_fee(2000, P2WPKH_IN), sum = 0;
    (void)state;
    for (size_t i = 0; i < 40; i++) {
        coins[i].amount = 1000000 + 7919 * i * i + in_fee;
        coins[i].weight = P2WPKH_IN;
    }
    /* target so that coins 3, 17 and 29 meet T exactly. */
    sum = (coins[3].amount - in_fee) + (coins[17].amount - in_fee) + (coins[29].amount - in_fee);
    p.target = sum - kura_coinselect_fee(2000, 400);
    select_ok(&r, coins, 40, &p);
    assert_int_equal(r.change, 0);
    assert_int_equal(r.algorithm, KURA_COINSELECT_BNB);
    assert_int_equal(r.waste, 0);
    kura_coinselect_result_clear(&r);
}

/* ---- waste across algorithms ---- */

static void test_waste_fee_rate_decides_input_count(void **state)
{
    /* One big coin or several small ones. Above the long-term rate each
     * input is waste: one input wins. Below it each input saves: the
     * selection with more inputs wins (consolidation at low fees). */
    kura_coinselect_coin coins[11];
    kura_coinselect_params p;
    kura_coinselect_result r = {0};
    (void)state;
    coins[0].amount = 10000000;
    coins[0].weight = P2WPKH_IN;
    for (size_t i = 1; i < 11; i++) {
        coins[i].amount = 1000000;
        coins[i].weight = P2WPKH_IN;
    }
    p = params(3500000, 20000, 1000);
    select_ok(&r, coins, 11, &p);
    assert_int_equal(r.selected_count, 1);
    assert_int_equal(r.selected[0], 0);
    assert_true(r.change > 0);
    kura_coinselect_result_clear(&r);

    p = params(3500000, 1000, 20000);
    select_ok(&r, coins, 11, &p);
    assert_true(r.selected_count > 1);
    assert_true(r.waste < 0);
    kura_coinselect_result_clear(&r);
}

/* ---- failures ---- */

static void test_insufficient(void **state)
{
    kura_coinselect_coin coins[] = {{30000, P2WPKH_IN}, {20000, P2WPKH_IN}, {50, P2WPKH_IN}};
    kura_coinselect_params p = params(60000, 1000, 1000);
    kura_coinselect_result r = {0};
    kura_error err;
    (void)state;
    /* The amounts themselves fall short. */
    assert_int_equal(kura_coinselect_select(&r, coins, 3, &p, &err), KURA_EDATA);
    assert_int_equal(r.failure, KURA_COINSELECT_INSUFFICIENT_FUNDS);
    assert_string_equal(kura_coinselect_failure_name(r.failure),
                        "KURA_COINSELECT_INSUFFICIENT_FUNDS");
    assert_null(r.selected);
    assert_non_null(strstr(err.message, "insufficient funds"));
    /* 50,050 sat are there for a 50,000 payment, but not its fees. */
    p.target = 50000;
    assert_int_equal(kura_coinselect_select(&r, coins, 3, &p, &err), KURA_EDATA);
    assert_int_equal(r.failure, KURA_COINSELECT_INSUFFICIENT_AFTER_FEES);
    assert_null(r.selected);
    /* Exactly enough after fees: both coins, changeless, fee exact. The 50
     * sat coin costs 68 to spend and is never selected. */
    p.target = 50000 - 100 - 2 * 68;
    kura_coinselect_result_clear(&r);
    select_ok(&r, coins, 3, &p);
    assert_int_equal(r.selected_count, 2);
    assert_int_equal(r.selected[0], 0);
    assert_int_equal(r.selected[1], 1);
    assert_int_equal(r.change, 0);
    assert_int_equal(r.fee, 100 + 2 * 68);
    kura_coinselect_result_clear(&r);
    /* One sat more is insufficient after fees. */
    p.target++;
    assert_int_equal(kura_coinselect_select(&r, coins, 3, &p, &err), KURA_EDATA);
    assert_int_equal(r.failure, KURA_COINSELECT_INSUFFICIENT_AFTER_FEES);
}

static void test_dust_change_folded(void **state)
{
    /* One coin 500 sat above T: change of 500 - 31 = 469 is below
     * min_change 1000, so there is none and the 500 go to the fee. */
    kura_coinselect_coin coins[] = {{100000 + 100 + 68 + 500, P2WPKH_IN}};
    kura_coinselect_params p = params(100000, 1000, 1000);
    kura_coinselect_result r = {0};
    (void)state;
    select_ok(&r, coins, 1, &p);
    assert_int_equal(r.change, 0);
    assert_int_equal(r.fee, 100 + 68 + 500);
    assert_int_equal(r.waste, 500);
    kura_coinselect_result_clear(&r);
    /* With 1,100 above T the change (1,069) is made. */
    coins[0].amount += 600;
    select_ok(&r, coins, 1, &p);
    assert_int_equal(r.change, 1100 - 31);
    assert_int_equal(r.fee, 100 + 68 + 31);
    assert_int_equal(r.waste, 99);
    kura_coinselect_result_clear(&r);
}

static void test_limits(void **state)
{
    kura_coinselect_coin *coins = calloc(2000, sizeof(*coins));
    kura_coinselect_params p = params(1500000, 1000, 1000);
    kura_coinselect_result r = {0};
    kura_error err;
    (void)state;
    assert_non_null(coins);
    for (size_t i = 0; i < 2000; i++) {
        coins[i].amount = 1068;
        coins[i].weight = P2WPKH_IN;
    }
    /* 1,500 coins would be needed, over 1,000 inputs (and the weight). */
    assert_int_equal(kura_coinselect_select(&r, coins, 2000, &p, &err), KURA_EDATA);
    assert_int_equal(r.failure, KURA_COINSELECT_TOO_MANY_INPUTS);
    /* A smaller max_inputs binds on a payment that would otherwise fit. */
    p.target = 40000;
    p.max_inputs = 30;
    assert_int_equal(kura_coinselect_select(&r, coins, 2000, &p, &err), KURA_EDATA);
    assert_int_equal(r.failure, KURA_COINSELECT_TOO_MANY_INPUTS);
    p.max_inputs = 50;
    select_ok(&r, coins, 2000, &p);
    assert_true(r.selected_count <= 50);
    kura_coinselect_result_clear(&r);
    p.max_inputs = KURA_COINSELECT_MAX_INPUTS + 1;
    assert_int_equal(kura_coinselect_select(&r, coins, 2000, &p, &err), KURA_ERANGE);
    p.max_inputs = 0;
    /* Amounts over 21 million BTC, one or together. */
    coins[0].amount = 2100000000000001ull;
    assert_int_equal(kura_coinselect_select(&r, coins, 1, &p, &err), KURA_ERANGE);
    coins[0].amount = coins[1].amount = 2000000000000000ull;
    assert_int_equal(kura_coinselect_select(&r, coins, 2, &p, &err), KURA_ERANGE);
    coins[0].amount = coins[1].amount = 1068;
    /* Misuse. */
    coins[0].weight = 0;
    assert_int_equal(kura_coinselect_select(&r, coins, 2, &p, &err), KURA_EINVAL);
    coins[0].weight = KURA_COINSELECT_MAX_COIN_WEIGHT + 1;
    assert_int_equal(kura_coinselect_select(&r, coins, 2, &p, &err), KURA_ERANGE);
    coins[0].weight = P2WPKH_IN;
    assert_int_equal(kura_coinselect_select(NULL, coins, 2, &p, &err), KURA_EINVAL);
    assert_int_equal(kura_coinselect_select(&r, coins, 0, &p, &err), KURA_EINVAL);
    p.target = 0;
    assert_int_equal(kura_coinselect_select(&r, coins, 2, &p, &err), KURA_EINVAL);
    p.target = 1000;
    p.fee_rate = KURA_COINSELECT_MAX_FEE_RATE + 1;
    assert_int_equal(kura_coinselect_select(&r, coins, 2, &p, &err), KURA_ERANGE);
    p.fee_rate = 1000;
    p.base_weight = 0;
    assert_int_equal(kura_coinselect_select(&r, coins, 2, &p, &err), KURA_EINVAL);
    assert_int_equal(r.selected_count, 0);
    assert_null(r.selected);
    /* The fee function saturates rather than wrapping. */
    assert_int_equal(kura_coinselect_fee(UINT64_MAX, 2), UINT64_MAX);
    assert_int_equal(kura_coinselect_fee(1000, 4), 1);
    assert_int_equal(kura_coinselect_fee(1000, 5), 2);
    assert_int_equal(kura_coinselect_fee(0, 400000), 0);
    free(coins);
}

/* ---- determinism and large pools ---- */

static uint64_t lcg(uint64_t *x)
{
    *x = *x * 6364136223846793005ull + 1442695040888963407ull;
    return *x >> 33;
}

static kura_coinselect_coin *random_pool(size_t n, uint64_t seed)
{
    kura_coinselect_coin *coins = calloc(n, sizeof(*coins));
    assert_non_null(coins);
    for (size_t i = 0; i < n; i++) {
        uint64_t r = lcg(&seed);
        /* Mostly small deposits, some large; a few dust coins. */
        coins[i].amount = (r % 8 == 0) ? 50 + r % 200 : 10000 + (r % 1000) * (r % 977);
        coins[i].weight = (r % 3 == 0) ? 230 : (r % 3 == 1 ? P2WPKH_IN : 420);
    }
    return coins;
}

static void test_deterministic(void **state)
{
    kura_coinselect_coin *coins = random_pool(300, 7);
    kura_coinselect_params p = params(2500000, 5000, 2000);
    kura_coinselect_result a = {0}, b = {0};
    (void)state;
    for (uint64_t seed = 0; seed < 4; seed++) {
        p.seed = seed;
        select_ok(&a, coins, 300, &p);
        select_ok(&b, coins, 300, &p);
        assert_int_equal(a.selected_count, b.selected_count);
        assert_memory_equal(a.selected, b.selected, a.selected_count * sizeof(size_t));
        assert_int_equal(a.fee, b.fee);
        assert_int_equal(a.change, b.change);
        assert_int_equal(a.waste, b.waste);
        assert_int_equal(a.algorithm, b.algorithm);
        kura_coinselect_result_clear(&a);
        kura_coinselect_result_clear(&b);
    }
    free(coins);
}

static void test_large_pool(void **state)
{
    kura_coinselect_coin *coins = random_pool(5000, 99);
    kura_coinselect_params p;
    kura_coinselect_result r = {0};
    uint64_t targets[] = {1000, 123456, 5000000, 90000000};
    (void)state;
    for (size_t t = 0; t < sizeof(targets) / sizeof(targets[0]); t++) {
        for (uint64_t rate = 1000; rate <= 50000; rate *= 7) {
            p = params(targets[t], rate, 10000);
            p.seed = t;
            select_ok(&r, coins, 5000, &p);
            kura_coinselect_result_clear(&r);
        }
    }
    /* A 5,000-coin pool where one changeless answer exists among many coins
     * that all need change: BnB finds it. */
    for (size_t i = 0; i < 5000; i++) {
        coins[i].amount = 3000000 + 1000 * (uint64_t)i + 68;
        coins[i].weight = P2WPKH_IN;
    }
    p = params(3000000 + 1000 * 1234 + 3000000 + 1000 * 4321 - 100, 1000, 1000);
    select_ok(&r, coins, 5000, &p);
    assert_int_equal(r.change, 0);
    assert_int_equal(r.algorithm, KURA_COINSELECT_BNB);
    assert_int_equal(r.waste, 0);
    kura_coinselect_result_clear(&r);
    free(coins);
}

static void test_huge_pool(void **state)
{
    /* 200,000 coins: every algorithm's work stays bounded (the knapsack's
     * rounds shrink, the random draw drops coins through a heap). */
    const size_t n = 200000;
    kura_coinselect_coin *coins = random_pool(n, 5);
    kura_coinselect_params p = params(40000000, 3000, 10000);
    kura_coinselect_result r = {0};
    kura_error err;
    (void)state;
    select_ok(&r, coins, n, &p);
    kura_coinselect_result_clear(&r);
    /* All tiny: the money is there (200,000 x 1,000 sat) but needs far
     * more than 1,000 inputs. */
    for (size_t i = 0; i < n; i++) {
        coins[i].amount = 1000;
        coins[i].weight = P2WPKH_IN;
    }
    p = params(100000000, 1000, 1000);
    assert_int_equal(kura_coinselect_select(&r, coins, n, &p, &err), KURA_EDATA);
    assert_int_equal(r.failure, KURA_COINSELECT_TOO_MANY_INPUTS);
    free(coins);
}

static void test_names(void **state)
{
    (void)state;
    assert_string_equal(kura_coinselect_algorithm_name(KURA_COINSELECT_BNB), "KURA_COINSELECT_BNB");
    assert_string_equal(kura_coinselect_algorithm_name(KURA_COINSELECT_LARGEST),
                        "KURA_COINSELECT_LARGEST");
    assert_string_equal(kura_coinselect_algorithm_name((kura_coinselect_algorithm)99),
                        "KURA_COINSELECT_?");
    assert_string_equal(kura_coinselect_failure_name(KURA_COINSELECT_TOO_MANY_INPUTS),
                        "KURA_COINSELECT_TOO_MANY_INPUTS");
    assert_string_equal(kura_coinselect_failure_name((kura_coinselect_failure)-1),
                        "KURA_COINSELECT_?");
    kura_coinselect_result_clear(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bnb_exact_no_fees),
        cmocka_unit_test(test_bnb_window_with_fees),
        cmocka_unit_test(test_bnb_excess_within_window),
        cmocka_unit_test(test_bnb_prefers_changeless),
        cmocka_unit_test(test_waste_fee_rate_decides_input_count),
        cmocka_unit_test(test_insufficient),
        cmocka_unit_test(test_dust_change_folded),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_large_pool),
        cmocka_unit_test(test_huge_pool),
        cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
