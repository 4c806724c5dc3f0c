/*
 * The opt library: int8 kernels for Armv7E-M (Cortex-M4/M7) with the DSP
 * extension, bit-exact with ref. One im2col + matrix-multiply kernel serves
 * standard, grouped and pointwise convolution; depthwise has its own.
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

/* opt has no dilated paths: a dilated call goes to the reference kernels. */
static int dilated(const conv_params_t *p)
{
    return p->dilation_h > 1 || p->dilation_w > 1;
}

static void conv(const conv_params_t *p, const quant_params_t *q, const dims_t *in_dims,
                 const int8_t *in, const dims_t *filter_dims, const int8_t *filter,
                 const int32_t *bias, const dims_t *out_dims, int8_t *out)
{
    (dilated(p) ? ref_conv_s8 : opt_conv_s8)(p, q, in_dims, in, filter_dims, filter, bias,
                                             out_dims, out);
}

static void depthwise(const conv_params_t *p, const quant_params_t *q, const dims_t *in_dims,
                      const int8_t *in, const dims_t *filter_dims, const int8_t *filter,
                      const int32_t *bias, const dims_t *out_dims, int8_t *out)
{
    (dilated(p) ? ref_depthwise_conv_s8 : opt_depthwise_conv_s8)(p, q, in_dims, in, filter_dims,
                                                                 filter, bias, out_dims, out);
}

const kernel_lib_t bench_kernels = {
    .name = "opt",
    .version = "1.0",
    .standard = conv,
    .grouped = conv,
    .pointwise = conv,
    .depthwise = depthwise,
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
