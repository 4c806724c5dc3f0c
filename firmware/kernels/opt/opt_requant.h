/*
 * Requantization for the opt kernels, bit-exact with include/requantize.h.
 *
 * requantize.h is the definition; this is the same arithmetic rearranged so
 * that one output costs about nine instructions instead of about forty. The
 * identities (each checked against requantize.h by tests/host):
 *
 * 1. The saturating rounding doubling high multiply, (a*m + nudge) / 2^31
 *    truncated toward zero with nudge = 2^30 or 1 - 2^30 by sign, equals
 *    floor((a*m + 2^30) / 2^31) for every product: for a*m < 0, truncating
 *    (a*m + 1 - 2^30) / 2^31 is its ceiling, which is the floor of
 *    (a*m + 2^30) / 2^31. The one saturating pair, a == m == INT32_MIN, is
 *    excluded (a channel with multiplier INT32_MIN takes the exact path).
 * 2. floor((a*m + 2^30) / 2^31) = floor((2a*m + 2^31) / 2^32), which is
 *    SMMULR(2a, m), as long as 2a does not overflow. The fast mode is used
 *    only when |bias| + K * 128 * 255 < 2^30 bounds every accumulator.
 * 3. The rounding right shift by e >= 1 (round half away from zero) equals
 *    (x + 2^(e-1) - [x < 0]) >> e, and the output offset z joins the same
 *    sum: ((x + 2^(e-1) + z * 2^e - [x < 0]) >> e) = that + z. The sum is a
 *    saturating add (QADD); when it saturates the true result has magnitude
 *    >= 2^(31-e) >= 2048 (e <= 20), and so does the saturated one, with the
 *    same sign: the int8 clamp maps both to the same 127 or -128.
 *
 * Each call prepares a per-channel table; a call whose channels do not all
 * meet the conditions falls back to a general fast mode (left shifts,
 * e == 0, any activation range) or to requantize_to_s8 itself.
 */
#ifndef OPT_REQUANT_H
#define OPT_REQUANT_H

#include <stdint.h>

#include "kernels.h"
#include "opt_dsp.h"
#include "requantize.h"

#ifndef OPT_MAX_CHANNELS
#define OPT_MAX_CHANNELS 512 /* output channels the per-call table holds (24 bytes each) */
#endif

typedef enum {
    OPT_RQ_FAST = 0,    /* identities 1-3: no left shift, right shift 1..20, act range [-128, 127] */
    OPT_RQ_GENERAL = 1, /* identity 1 only: left shifts, right shift 0..20, any activation range */
    OPT_RQ_EXACT = 2,   /* requantize.h as written */
} opt_rq_mode_t;

typedef struct {
    int32_t mult;
    int32_t bias_round; /* FAST: 2^(e-1) + output_offset * 2^e */
    int32_t right;
    int32_t left;
    int32_t round;      /* GENERAL: 2^(e-1), or 0 when e == 0 */
    int32_t nmask;      /* GENERAL: -1 when e >= 1, else 0 */
} opt_rq_t;

extern opt_rq_t opt_rq_table[OPT_MAX_CHANNELS];

/*
 * Fill opt_rq_table for the n output channels of a call whose outputs each
 * sum at most `terms` products; returns the mode the call may use.
 */
opt_rq_mode_t opt_rq_prepare(const quant_params_t *q, const conv_params_t *p,
                             const int32_t *bias, int32_t n, int32_t terms);

static inline int32_t opt_smmulr(int32_t a, int32_t b)
{
#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
    int32_t r;
    __asm__("smmulr %0, %1, %2" : "=r"(r) : "r"(a), "r"(b));
    return r;
#else
    return (int32_t)(((int64_t)a * b + (1ll << 31)) >> 32);
#endif
}

static inline int32_t opt_srdhm(int32_t a, int32_t m)
{
    return (int32_t)(((int64_t)a * m + (1 << 30)) >> 31);
}

static inline int32_t opt_clamp(int32_t v, int32_t lo, int32_t hi)
{
    v = v < lo ? lo : v;
    return v > hi ? hi : v;
}

static inline int8_t opt_ssat8(int32_t v)
{
#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
    return (int8_t)__ssat(v, 8);
#else
    return (int8_t)opt_clamp(v, -128, 127);
#endif
}

/* One output of channel ch; mode is a compile-time constant at every call site. */
static inline __attribute__((always_inline)) int8_t
opt_requant(int32_t acc, int32_t ch, opt_rq_mode_t mode, const conv_params_t *p,
            const quant_params_t *q)
{
    if (mode == OPT_RQ_EXACT) {
        return requantize_to_s8(acc, q->multiplier[ch], q->shift[ch], p->output_offset,
                                p->act_min, p->act_max);
    }
    const opt_rq_t *r = &opt_rq_table[ch];
    if (mode == OPT_RQ_FAST) {
        const int32_t x = opt_smmulr(acc * 2, r->mult);
        return opt_ssat8(OPT_QADD(x, r->bias_round + (x >> 31)) >> r->right);
    }
    int32_t x = opt_srdhm((int32_t)((uint32_t)acc << r->left), r->mult);
    x = OPT_QADD(x, r->round + ((x >> 31) & r->nmask));
    return (int8_t)opt_clamp((x >> r->right) + p->output_offset, p->act_min, p->act_max);
}

/*
 * A 2x2 tile's accumulators (A, oc), (B, oc), (A, oc + 1), (B, oc + 1) to
 * out_a + {0, out_c} one output at a time; pixel B only when two.
 */
static inline __attribute__((always_inline)) void
opt_store_2x2_each(const int32_t *acc, int8_t *out_a, int32_t oc, int32_t out_c, int two,
                   opt_rq_mode_t mode, const conv_params_t *p, const quant_params_t *q)
{
    out_a[oc] = opt_requant(acc[0], oc, mode, p, q);
    out_a[oc + 1] = opt_requant(acc[2], oc + 1, mode, p, q);
    if (two) {
        out_a[out_c + oc] = opt_requant(acc[1], oc, mode, p, q);
        out_a[out_c + oc + 1] = opt_requant(acc[3], oc + 1, mode, p, q);
    }
}

#endif
