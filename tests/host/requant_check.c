/*
 * opt_requant.h against requantize.h, on the host: every mode of the opt
 * requantization must give requantize_to_s8's int8 for every accumulator the
 * mode admits. Random values plus the edges (saturation of the rounding add,
 * accumulators at the mode's bound, shifts 0/1/20, offsets -128/127).
 * Exit code 0 when all agree; prints the first disagreement otherwise.
 */
#include <stdint.h>
#include <stdio.h>

#include "opt_requant.h"

static uint64_t rng = 0x9E3779B97F4A7C15ull;

static uint32_t next32(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 16);
}

static int32_t in_range(int32_t lo, int32_t hi)
{
    return lo + (int32_t)(next32() % (uint32_t)((int64_t)hi - lo + 1));
}

static long checked, failed;

/* terms: the products summed into acc, as a kernel would declare them (at least |acc| / (255 * 128)). */
static void check(int32_t acc, int32_t mult, int32_t shift, int32_t out_off, int32_t amin,
                  int32_t amax, int32_t terms)
{
    const int64_t need = (acc < 0 ? -(int64_t)acc : acc) / (255 * 128) + 1;
    terms = terms > need ? terms : (int32_t)need;
    const int32_t bias = 0;
    const quant_params_t q = {&mult, &shift};
    const conv_params_t p = {0, out_off, 1, 1, 0, 0, amin, amax, 1, 1};
    const opt_rq_mode_t mode = opt_rq_prepare(&q, &p, &bias, 1, terms);
    const int8_t want = requantize_to_s8(acc, mult, shift, out_off, amin, amax);
    int8_t got;
    switch (mode) {
    case OPT_RQ_FAST: got = opt_requant(acc, 0, OPT_RQ_FAST, &p, &q); break;
    case OPT_RQ_GENERAL: got = opt_requant(acc, 0, OPT_RQ_GENERAL, &p, &q); break;
    default: got = opt_requant(acc, 0, OPT_RQ_EXACT, &p, &q); break;
    }
    checked++;
    if (got != want && failed++ < 5) {
        printf("mode %d acc %d mult %d shift %d off %d act [%d,%d]: opt %d, requantize.h %d\n",
               mode, acc, mult, shift, out_off, amin, amax, got, want);
    }
}

int main(void)
{
    /* The fast mode's bound: terms * 255 * 128 < 2^30. */
    const int32_t bound = (1 << 30) - 2 * 255 * 128;
    const int32_t mults[] = {1 << 30, (1 << 30) + 1, 0x5A5A5A5A, INT32_MAX, 1518500250};
    const int32_t accs[] = {0, 1, -1, bound, -bound, 1 << 20, -(1 << 20), 12345, -12345};
    for (int32_t shift = -22; shift <= 3; shift++) {
        for (unsigned mi = 0; mi < sizeof mults / sizeof mults[0]; mi++) {
            for (unsigned ai = 0; ai < sizeof accs / sizeof accs[0]; ai++) {
                for (int32_t off = -128; off <= 127; off += 255) {
                    check(accs[ai], mults[mi], shift, off, -128, 127, 1);
                    check(accs[ai], mults[mi], shift, off, -20, 90, 1);
                }
            }
        }
    }
    /* Exact halves of the rounding shift: acc * mult / 2^31 lands on k + 1/2 * 2^-e. */
    for (int32_t e = 1; e <= 20; e++) {
        for (int32_t k = -64; k <= 64; k++) {
            const int32_t acc = (int32_t)(k * (1 << e) + (1 << (e - 1)));
            check(acc, INT32_MAX, -e, 0, -128, 127, 1);
            check(acc, 1 << 30, -e + 1, 3, -128, 127, 1);
        }
    }
    for (long i = 0; i < 3000000; i++) {
        const int32_t shift = in_range(-24, 4);
        const int32_t mult = in_range(1 << 30, INT32_MAX);
        const int32_t scale = (int32_t)(next32() % 31);
        const int32_t acc = (int32_t)((int32_t)next32() >> scale);
        const int32_t off = in_range(-128, 127);
        const int narrow = (next32() & 7) == 0;
        check(acc, mult, shift, off, narrow ? in_range(-128, 0) : -128, narrow ? in_range(0, 127) : 127,
              (int32_t)(next32() % 4096));
    }
    printf("%ld checked, %ld disagreements\n", checked, failed);
    return failed != 0;
}
