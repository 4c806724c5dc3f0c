/*
 * The opt library: int8 kernels, bit-exact with ref, for every Cortex-M:
 * DSP-extension kernels (conv_s8.c, depthwise_conv_s8.c) on M4/M7/M33/M55,
 * scalar ones (scalar_s8.c) on M0+/M3; opt_dsp.h picks. One im2col +
 * matrix-multiply kernel serves standard, grouped and pointwise convolution;
 * depthwise has its own.
 */
#include "kernels.h"

void opt_conv_s8(const conv_params_t *p, const quant_params_t *q,
                 const dims_t *in_dims, const int8_t *in,
                 const dims_t *filter_dims, const int8_t *filter,
                 const int32_t *bias, const dims_t *out_dims, int8_t *out);
void opt_depthwise_conv_s8(const conv_params_t *p, const quant_params_t *q,
                           const dims_t *in_dims, const int8_t *in,
                           const dims_t *filter_dims, const int8_t *filter,
                           const int32_t *bias, const dims_t *out_dims, int8_t *out);

const kernel_lib_t bench_kernels = {
    .name = "opt",
    .version = "1.0",
    .standard = opt_conv_s8,
    .grouped = opt_conv_s8,
    .pointwise = opt_conv_s8,
    .depthwise = opt_depthwise_conv_s8,
    /* opt has no dilated paths: the reference kernels take dilated layers */
    .dilated_conv = ref_dilated_conv_s8,
    .dilated_depthwise = ref_dilated_depthwise_conv_s8,
    /* element-wise, pooling, fully connected, softmax: the reference kernels
     * (no optimized ones yet) */
    .add = ref_add_s8,
    .mul = ref_mul_s8,
    .relu6 = ref_relu6_s8,
    .avgpool = ref_avgpool_s8,
    .maxpool = ref_maxpool_s8,
    .fully_connected = ref_fully_connected_s8,
    .softmax = ref_softmax_s8,
};
