/* The reference library: one loop nest serves standard, grouped and pointwise. */
#include "kernels.h"

void ref_conv_s8(const conv_params_t *p, const quant_params_t *q,
                 const dims_t *in_dims, const int8_t *in,
                 const dims_t *filter_dims, const int8_t *filter,
                 const int32_t *bias, const dims_t *out_dims, int8_t *out);
void ref_depthwise_conv_s8(const conv_params_t *p, const quant_params_t *q,
                           const dims_t *in_dims, const int8_t *in,
                           const dims_t *filter_dims, const int8_t *filter,
                           const int32_t *bias, const dims_t *out_dims, int8_t *out);

const kernel_lib_t bench_kernels = {
    .name = "ref",
    .version = "1.0",
    .standard = ref_conv_s8,
    .grouped = ref_conv_s8,
    .pointwise = ref_conv_s8,
    .depthwise = ref_depthwise_conv_s8,
    .dilated_conv = ref_dilated_conv_s8,
    .dilated_depthwise = ref_dilated_depthwise_conv_s8,
    /* element-wise and pooling: the reference kernels */
    .add = ref_add_s8,
    .mul = ref_mul_s8,
    .relu6 = ref_relu6_s8,
    .avgpool = ref_avgpool_s8,
    .maxpool = ref_maxpool_s8,
    .fully_connected = ref_fully_connected_s8,
    .softmax = ref_softmax_s8,
};
