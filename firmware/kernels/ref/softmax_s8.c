/*
 * Reference int8 SOFTMAX with the fixed-point arithmetic of TFLite's
 * reference kernel (reference_ops::Softmax for int8, which the interpreter's
 * BUILTIN_REF resolver runs; the same algorithm as gemmlowp's fixed-point
 * exp and reciprocal). Per row: differences from the row maximum, scaled by
 * beta * input scale into a Q5.26 value, exp() of it in Q0.31, summed in
 * Q12.19, one reciprocal of the sum, and each exp times the reciprocal gives
 * the probability in 1/256 steps, offset by the output zero point -128.
 *
 * Fixed-point products are saturating rounding doubling high multiplies
 * (requantize.h); additions wrap as int32 additions do. Constants are the
 * named values in Q0.31 (or Q2.29 where noted), rounded to nearest.
 */
#include "kernels.h"
#include "requantize.h"

#define Q31_ONE INT32_MAX

/* x * 2^exponent (exponent > 0) with saturation: the fixed-point "rescale" to fewer integer bits. */
static int32_t sat_shift_left(int32_t x, int32_t exponent)
{
    const int32_t limit = (int32_t)((1u << (31 - exponent)) - 1u);
    if (x > limit) {
        return INT32_MAX;
    }
    if (x < -limit) {
        return INT32_MIN;
    }
    return (int32_t)((uint32_t)x << exponent);
}

static int32_t mul(int32_t a, int32_t b)
{
    return sat_rounding_doubling_high_mul(a, b);
}

/* exp(a) for a in [-1/4, 0), a and the result in Q0.31: Taylor series around -1/8. */
static int32_t exp_quarter_interval(int32_t a)
{
    const int32_t exp_minus_one_eighth = 1895147668; /* exp(-1/8) */
    const int32_t one_third = 715827883;
    const int32_t x = a + (1 << 28);                  /* a + 1/8 */
    const int32_t x2 = mul(x, x);
    const int32_t x3 = mul(x2, x);
    const int32_t x4_over_4 = rounding_divide_by_pot(mul(x2, x2), 2);
    /* x^2/2 + x^3/6 + x^4/24 = ((x^4/4 + x^3) / 3 + x^2) / 2 */
    const int32_t tail = rounding_divide_by_pot(mul(x4_over_4 + x3, one_third) + x2, 1);
    return exp_minus_one_eighth + mul(exp_minus_one_eighth, x + tail);
}

/* exp(a) for a <= 0; a in Q5.26, the result in Q0.31. */
static int32_t exp_negative(int32_t a)
{
    /* exp(-2^k) for k = -2 .. 4, applied for each set bit of the remainder. */
    static const int32_t exp_of_minus_pot[7] = {
        1672461947, /* exp(-1/4) */
        1302514674, /* exp(-1/2) */
        790015084,  /* exp(-1) */
        290630308,  /* exp(-2) */
        39332535,   /* exp(-4) */
        720401,     /* exp(-8) */
        242,        /* exp(-16) */
    };
    const int32_t frac_bits = 26, quarter = 1 << (frac_bits - 2);
    const int32_t mod_quarter_minus_quarter = (a & (quarter - 1)) - quarter;
    int32_t result = exp_quarter_interval(sat_shift_left(mod_quarter_minus_quarter, 5));
    const int32_t remainder = mod_quarter_minus_quarter - a;
    for (int32_t k = 0; k < 7; k++) {
        if (remainder & (1 << (frac_bits - 2 + k))) {
            result = mul(result, exp_of_minus_pot[k]);
        }
    }
    return a == 0 ? Q31_ONE : result;
}

/* (a + b) / 2 rounded half away from zero, without overflow. */
static int32_t rounding_half_sum(int32_t a, int32_t b)
{
    const int64_t sum = (int64_t)a + b;
    return (int32_t)((sum + (sum >= 0 ? 1 : -1)) / 2);
}

/* 1 / (1 + x) for x in [0, 1) in Q0.31: Newton-Raphson on the half denominator. */
static int32_t one_over_one_plus_x(int32_t x)
{
    const int32_t half_den = rounding_half_sum(x, Q31_ONE);
    const int32_t q2_one = 1 << 29;
    int32_t r = 1515870810 + mul(half_den, -1010580540); /* 48/17 - 32/17 * d, Q2.29 */
    for (int i = 0; i < 3; i++) {
        const int32_t e = q2_one - mul(half_den, r);   /* Q2.29 */
        r = r + sat_shift_left(mul(r, e), 2);          /* product is Q4.27 */
    }
    return sat_shift_left(r, 1);                       /* r / 2 as Q1.30, then Q0.31 */
}

static int32_t count_leading_zeros(uint32_t x)
{
    return x ? __builtin_clz(x) : 32;
}

void ref_softmax_s8(const softmax_params_t *p, int32_t rows, int32_t depth, const int8_t *in,
                    int8_t *out)
{
    const int32_t accum_int_bits = 12;
    for (int32_t r = 0; r < rows; r++, in += depth, out += depth) {
        int32_t max_in_row = INT8_MIN;
        for (int32_t c = 0; c < depth; c++) {
            max_in_row = in[c] > max_in_row ? in[c] : max_in_row;
        }
        int32_t sum_of_exps = 0; /* Q12.19 */
        for (int32_t c = 0; c < depth; c++) {
            const int32_t diff = in[c] - max_in_row;
            if (diff >= p->diff_min) {
                const int32_t scaled = mul(diff * (1 << p->input_left_shift), p->input_multiplier);
                sum_of_exps += rounding_divide_by_pot(exp_negative(scaled), accum_int_bits);
            }
        }
        /* 1 / sum: normalise the sum to [1, 2), take 1 / (1 + x), remember the scale. */
        const int32_t headroom_plus_one = count_leading_zeros((uint32_t)sum_of_exps);
        const int32_t bits_over_unit = accum_int_bits - headroom_plus_one;
        const int32_t shifted_minus_one =
            (int32_t)(((uint32_t)sum_of_exps << headroom_plus_one) - (1u << 31));
        const int32_t reciprocal = one_over_one_plus_x(shifted_minus_one);
        for (int32_t c = 0; c < depth; c++) {
            const int32_t diff = in[c] - max_in_row;
            int32_t v = INT8_MIN;
            if (diff >= p->diff_min) {
                const int32_t scaled = mul(diff * (1 << p->input_left_shift), p->input_multiplier);
                const int32_t prob = rounding_divide_by_pot(mul(reciprocal, exp_negative(scaled)),
                                                            bits_over_unit + 31 - 8);
                v = prob + INT8_MIN;
                v = v > INT8_MAX ? INT8_MAX : (v < INT8_MIN ? INT8_MIN : v);
            }
            out[c] = (int8_t)v;
        }
    }
}
