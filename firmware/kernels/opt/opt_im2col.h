/*
 * Shared by the kernels that fold the input offset into the bias (scalar and
 * MVE paths): sum w * (x + off) = sum w * x + off * sum w, exact in int32.
 * Padding taps of a patch hold the input zero point (x + off == 0), so the
 * fold holds for them too and the inner loops are int8 x int8 dot products.
 */
#ifndef OPT_IM2COL_H
#define OPT_IM2COL_H

#include "opt_dsp.h"
#include "opt_requant.h"

#ifndef OPT_IM2COL_MAX_K
#define OPT_IM2COL_MAX_K 4608 /* kh*kw*C_in per output pixel, e.g. 3x3x512 */
#endif

extern int8_t opt_patch[2][OPT_IM2COL_MAX_K]; /* two output pixels' patches */
extern int32_t opt_bias_fold[OPT_MAX_CHANNELS];
/* Channels per block of the regrouped depthwise filter: the lanes the path's dw_core reads at once. */
#if OPT_PATH_MVE
#define OPT_DW_BLOCK 8
#else
#define OPT_DW_BLOCK 4
#endif

/* Depthwise filter [tap][C] regrouped [block of OPT_DW_BLOCK channels][tap][OPT_DW_BLOCK], zero-padded. */
extern int8_t opt_dw_w[OPT_IM2COL_MAX_K];

/* opt_bias_fold[oc] = bias[oc] + off * (sum of the k weights of row oc). */
void opt_fold_bias(const int32_t *bias, const int8_t *filter, int32_t n, int32_t k, int32_t off);

/* Pixel (oy, ox)'s patch into dst, group after group ([g][fy][fx][gc], the filter's order). */
void opt_fill_patch(int8_t *dst, const conv_params_t *p, const dims_t *in_dims, const int8_t *in,
                    int32_t kh, int32_t kw, int32_t gc, int32_t oy, int32_t ox);

/* opt_dw_w and opt_bias_fold for a depthwise filter of taps x c. */
void opt_dw_prepare(const int8_t *filter, const int32_t *bias, int32_t taps, int32_t c, int32_t off);

#endif
