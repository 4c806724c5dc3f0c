/*
 * DSP building blocks of the opt library: ACLE intrinsics on Armv7E-M, plain C
 * equivalents elsewhere (the x86 sanitizer build in tests/host compiles the
 * same kernels through them).
 *
 * The byte-extracting forms with a rotation (SXTB16 Rd, Rm, ROR #8) are
 * written as inline assembly: arm_acle.h has no rotate argument, and GCC 12
 * emits a separate ROR instead of folding it.
 */
#ifndef OPT_DSP_H
#define OPT_DSP_H

#include <stdint.h>
#include <string.h>

/*
 * Which convolution kernels the library compiles (one set per build, README.md):
 * OPT_PATH_MVE     Helium (Cortex-M55, integer MVE): mve_s8.c;
 * OPT_PATH_DSP     the DSP extension (M4, M7, M33), or its C emulation on
 *                  the host, where tests/host checks the same layouts:
 *                  conv_s8.c, depthwise_conv_s8.c;
 * OPT_PATH_SCALAR  Arm cores with neither (M0+, M3), where emulating SMLAD in
 *                  C costs more than it saves: scalar_s8.c; the host selects
 *                  it with -DOPT_FORCE_SCALAR=1.
 */
#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)
#define OPT_PATH_MVE 1
#define OPT_PATH_SCALAR 0
#define OPT_PATH_DSP 0
#elif (defined(__arm__) && !(defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP)) || \
    (defined(OPT_FORCE_SCALAR) && OPT_FORCE_SCALAR)
#define OPT_PATH_MVE 0
#define OPT_PATH_SCALAR 1
#define OPT_PATH_DSP 0
#else
#define OPT_PATH_MVE 0
#define OPT_PATH_SCALAR 0
#define OPT_PATH_DSP 1
#endif

#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
#include <arm_acle.h>

#define OPT_SXTB16(x) ((uint32_t)__sxtb16(x))
#define OPT_SXTAB16(a, x) ((uint32_t)__sxtab16((a), (x)))
#define OPT_SMLAD(a, b, acc) __smlad((a), (b), (acc))
#define OPT_SMLABB(a, b, acc) __smlabb((a), (b), (acc))
#define OPT_SMLATT(a, b, acc) __smlatt((a), (b), (acc))
#define OPT_QADD(a, b) __qadd((a), (b))

static inline uint32_t opt_sxtb16_ror8(uint32_t x)
{
    uint32_t r;
    __asm__("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(x));
    return r;
}

static inline uint32_t opt_sxtab16_ror8(uint32_t a, uint32_t x)
{
    uint32_t r;
    __asm__("sxtab16 %0, %1, %2, ror #8" : "=r"(r) : "r"(a), "r"(x));
    return r;
}

#define OPT_SXTB16_ROR8(x) opt_sxtb16_ror8(x)
#define OPT_SXTAB16_ROR8(a, x) opt_sxtab16_ror8((a), (x))

#else /* portable equivalents, for host builds */

static inline uint32_t opt_pack16(int32_t lo, int32_t hi)
{
    return ((uint32_t)lo & 0xFFFFu) | ((uint32_t)hi << 16);
}
static inline int32_t opt_lo16(uint32_t x) { return (int16_t)(x & 0xFFFFu); }
static inline int32_t opt_hi16(uint32_t x) { return (int16_t)(x >> 16); }

static inline uint32_t opt_sxtab16_c(uint32_t a, uint32_t x)
{
    return opt_pack16(opt_lo16(a) + (int8_t)(x & 0xFF), opt_hi16(a) + (int8_t)((x >> 16) & 0xFF));
}
static inline int32_t opt_smlad_c(uint32_t a, uint32_t b, int32_t acc)
{
    return (int32_t)((uint32_t)acc + (uint32_t)(opt_lo16(a) * opt_lo16(b))
                     + (uint32_t)(opt_hi16(a) * opt_hi16(b)));
}
static inline int32_t opt_qadd_c(int32_t a, int32_t b)
{
    int64_t s = (int64_t)a + b;
    return s > INT32_MAX ? INT32_MAX : s < INT32_MIN ? INT32_MIN : (int32_t)s;
}

#define OPT_SXTB16(x) opt_sxtab16_c(0u, (x))
#define OPT_SXTAB16(a, x) opt_sxtab16_c((a), (x))
#define OPT_SXTB16_ROR8(x) opt_sxtab16_c(0u, (uint32_t)(x) >> 8)
#define OPT_SXTAB16_ROR8(a, x) opt_sxtab16_c((a), (uint32_t)(x) >> 8)
#define OPT_SMLAD(a, b, acc) opt_smlad_c((a), (b), (acc))
#define OPT_SMLABB(a, b, acc) ((int32_t)((uint32_t)(acc) + (uint32_t)(opt_lo16(a) * opt_lo16(b))))
#define OPT_SMLATT(a, b, acc) ((int32_t)((uint32_t)(acc) + (uint32_t)(opt_hi16(a) * opt_hi16(b))))
#define OPT_QADD(a, b) opt_qadd_c((a), (b))

#endif

/* Unaligned 32-bit load (LDR allows it on Armv7-M; memcpy lets the compiler say so). */
static inline uint32_t opt_read32(const void *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* The input offset (-zero point) in both halfwords, for SXTAB16. */
static inline uint32_t opt_offset_pair(int32_t input_offset)
{
    return ((uint32_t)input_offset & 0xFFFFu) | ((uint32_t)input_offset << 16);
}

#endif
