/* The opt library's plain-loop fallbacks (fallback_s8.c), shared by its DSP, scalar and MVE paths. */
#ifndef OPT_FALLBACK_H
#define OPT_FALLBACK_H

#include "kernels.h"

void opt_conv_direct(const conv_params_t *p, const quant_params_t *q, const dims_t *in_dims,
                     const int8_t *in, const dims_t *filter_dims, const int8_t *filter,
                     const int32_t *bias, const dims_t *out_dims, int8_t *out);
void opt_dw_direct(const conv_params_t *p, const quant_params_t *q, const dims_t *in_dims,
                   const int8_t *in, const dims_t *filter_dims, const int8_t *filter,
                   const int32_t *bias, const dims_t *out_dims, int8_t *out);

#endif
