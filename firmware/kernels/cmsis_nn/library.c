/*
 * Adapter: the bench kernel API on top of a user's CMSIS-NN (our code; no
 * CMSIS-NN code lives in this repository). The host adds the CMSIS-NN tree's
 * Include/ and its s8 convolution and support sources to the build from
 * kernels.cmsis_nn_path (bench/build/kernel_libs.py), and passes the version it
 * found as CMSIS_NN_VERSION.
 *
 * Every operator goes through CMSIS-NN's public wrappers, which pick the
 * kernel CMSIS-NN itself would pick for the shape (1x1 fast paths, 3x3
 * depthwise, ...): arm_convolve_wrapper_s8 for standard, pointwise and
 * grouped (CMSIS-NN reads groups from filter_dims->c < input_dims->c; a
 * version without grouped support returns an error or wrong outputs, which
 * the runner's golden check reports), arm_depthwise_conv_wrapper_s8 for
 * depthwise. Scratch comes from one static buffer sized by
 * CMSIS_NN_SCRATCH_BYTES, checked against the *_get_buffer_size queries
 * before each call.
 *
 * A call that CMSIS-NN refuses (status != ARM_CMSIS_NN_SUCCESS), or that
 * needs more scratch than the buffer holds, writes nothing: the golden check
 * then fails the case instead of passing it silently, and cmsis_nn_last_error
 * keeps the status for a debugger.
 */
#include <string.h>

#include "arm_nnfunctions.h"
#include "kernels.h"

#ifndef CMSIS_NN_VERSION
#define CMSIS_NN_VERSION "unknown"
#endif
#ifndef CMSIS_NN_SCRATCH_BYTES
#define CMSIS_NN_SCRATCH_BYTES (64 * 1024)
#endif

static int8_t scratch[CMSIS_NN_SCRATCH_BYTES] __attribute__((aligned(16)));
volatile int32_t cmsis_nn_last_error;

#define CMSIS_NN_SCRATCH_TOO_SMALL (-100)

static void dims4(cmsis_nn_dims *d, int32_t n, int32_t h, int32_t w, int32_t c)
{
    d->n = n;
    d->h = h;
    d->w = w;
    d->c = c;
}

static cmsis_nn_per_channel_quant_params quant(const quant_params_t *q)
{
    cmsis_nn_per_channel_quant_params cq;
    memset(&cq, 0, sizeof cq);
    /* CMSIS-NN's struct is not const-qualified; it only reads them. */
    cq.multiplier = (int32_t *)(uintptr_t)q->multiplier;
    cq.shift = (int32_t *)(uintptr_t)q->shift;
    return cq;
}

static void cmsis_conv(const conv_params_t *p, const quant_params_t *q, const dims_t *in_dims,
                       const int8_t *in, const dims_t *filter_dims, const int8_t *filter,
                       const int32_t *bias, const dims_t *out_dims, int8_t *out)
{
    cmsis_nn_conv_params cp;
    memset(&cp, 0, sizeof cp); /* fields a newer version adds stay at their zero default */
    cp.input_offset = p->input_offset;
    cp.output_offset = p->output_offset;
    cp.stride.h = p->stride_h;
    cp.stride.w = p->stride_w;
    cp.padding.h = p->pad_h;
    cp.padding.w = p->pad_w;
    cp.dilation.h = p->dilation_h > 1 ? p->dilation_h : 1;
    cp.dilation.w = p->dilation_w > 1 ? p->dilation_w : 1;
    cp.activation.min = p->act_min;
    cp.activation.max = p->act_max;
    cmsis_nn_dims id, fd, bd, od;
    dims4(&id, 1, in_dims->h, in_dims->w, in_dims->c);
    dims4(&fd, out_dims->c, filter_dims->h, filter_dims->w, filter_dims->c);
    dims4(&bd, 1, 1, 1, out_dims->c);
    dims4(&od, 1, out_dims->h, out_dims->w, out_dims->c);
    const int32_t need = arm_convolve_wrapper_s8_get_buffer_size(&cp, &id, &fd, &od);
    if (need > (int32_t)sizeof scratch) {
        cmsis_nn_last_error = CMSIS_NN_SCRATCH_TOO_SMALL;
        return;
    }
    const cmsis_nn_context ctx = {scratch, need};
    const cmsis_nn_per_channel_quant_params cq = quant(q);
    cmsis_nn_last_error = arm_convolve_wrapper_s8(&ctx, &cp, &cq, &id, in, &fd, filter, &bd, bias,
                                                  &od, out);
}

static void cmsis_depthwise(const conv_params_t *p, const quant_params_t *q,
                            const dims_t *in_dims, const int8_t *in, const dims_t *filter_dims,
                            const int8_t *filter, const int32_t *bias, const dims_t *out_dims,
                            int8_t *out)
{
    cmsis_nn_dw_conv_params dp;
    memset(&dp, 0, sizeof dp);
    dp.input_offset = p->input_offset;
    dp.output_offset = p->output_offset;
    dp.ch_mult = out_dims->c / in_dims->c;
    dp.stride.h = p->stride_h;
    dp.stride.w = p->stride_w;
    dp.padding.h = p->pad_h;
    dp.padding.w = p->pad_w;
    dp.dilation.h = p->dilation_h > 1 ? p->dilation_h : 1;
    dp.dilation.w = p->dilation_w > 1 ? p->dilation_w : 1;
    dp.activation.min = p->act_min;
    dp.activation.max = p->act_max;
    cmsis_nn_dims id, fd, bd, od;
    dims4(&id, 1, in_dims->h, in_dims->w, in_dims->c);
    dims4(&fd, 1, filter_dims->h, filter_dims->w, out_dims->c);
    dims4(&bd, 1, 1, 1, out_dims->c);
    dims4(&od, 1, out_dims->h, out_dims->w, out_dims->c);
    const int32_t need = arm_depthwise_conv_wrapper_s8_get_buffer_size(&dp, &id, &fd, &od);
    if (need > (int32_t)sizeof scratch) {
        cmsis_nn_last_error = CMSIS_NN_SCRATCH_TOO_SMALL;
        return;
    }
    const cmsis_nn_context ctx = {scratch, need};
    const cmsis_nn_per_channel_quant_params cq = quant(q);
    cmsis_nn_last_error = arm_depthwise_conv_wrapper_s8(&ctx, &dp, &cq, &id, in, &fd, filter, &bd,
                                                        bias, &od, out);
}

/* ADD / MUL / pooling / FC / softmax: CMSIS-NN's own kernels, as TFLite Micro calls them. */
static void cmsis_add(const elementwise_params_t *p, const int8_t *in1, const int8_t *in2, int32_t size,
                      int8_t *out)
{
    cmsis_nn_last_error = arm_elementwise_add_s8(
        in1, in2, p->input1_offset, p->input1_multiplier, p->input1_shift, p->input2_offset,
        p->input2_multiplier, p->input2_shift, p->left_shift, out, p->output_offset,
        p->output_multiplier, p->output_shift, p->act_min, p->act_max, size);
}

static void cmsis_mul(const elementwise_params_t *p, const int8_t *in1, const int8_t *in2, int32_t size,
                      int8_t *out)
{
    cmsis_nn_last_error = arm_elementwise_mul_s8(in1, in2, p->input1_offset, p->input2_offset, out,
                                                 p->output_offset, p->output_multiplier,
                                                 p->output_shift, p->act_min, p->act_max, size);
}

static cmsis_nn_pool_params pool_params(const pool_params_t *p)
{
    cmsis_nn_pool_params pp;
    memset(&pp, 0, sizeof pp);
    pp.stride.h = p->stride_h;
    pp.stride.w = p->stride_w;
    pp.padding.h = p->pad_h;
    pp.padding.w = p->pad_w;
    pp.activation.min = p->act_min;
    pp.activation.max = p->act_max;
    return pp;
}

/* Input, window and output dims of a pooling call, as CMSIS-NN takes them. */
static void pool_dims(const pool_params_t *p, const dims_t *in_dims, const dims_t *out_dims,
                      cmsis_nn_dims *id, cmsis_nn_dims *fd, cmsis_nn_dims *od)
{
    dims4(id, 1, in_dims->h, in_dims->w, in_dims->c);
    dims4(fd, 1, p->filter_h, p->filter_w, 1);
    dims4(od, 1, out_dims->h, out_dims->w, out_dims->c);
}

static void cmsis_avgpool(const pool_params_t *p, const dims_t *in_dims, const int8_t *in,
                          const dims_t *out_dims, int8_t *out)
{
    const cmsis_nn_pool_params pp = pool_params(p);
    cmsis_nn_dims id, fd, od;
    pool_dims(p, in_dims, out_dims, &id, &fd, &od);
    const int32_t need = arm_avgpool_s8_get_buffer_size(out_dims->w, in_dims->c);
    if (need > (int32_t)sizeof scratch) {
        cmsis_nn_last_error = CMSIS_NN_SCRATCH_TOO_SMALL;
        return;
    }
    const cmsis_nn_context ctx = {scratch, need};
    cmsis_nn_last_error = arm_avgpool_s8(&ctx, &pp, &id, in, &fd, &od, out);
}

static void cmsis_maxpool(const pool_params_t *p, const dims_t *in_dims, const int8_t *in,
                          const dims_t *out_dims, int8_t *out)
{
    const cmsis_nn_pool_params pp = pool_params(p);
    cmsis_nn_dims id, fd, od;
    pool_dims(p, in_dims, out_dims, &id, &fd, &od);
    const cmsis_nn_context ctx = {scratch, 0};
    cmsis_nn_last_error = arm_max_pool_s8(&ctx, &pp, &id, in, &fd, &od, out);
}

/* Per-tensor weights (every channel's multiplier equal, as the converter writes
 * FULLY_CONNECTED) take arm_fully_connected_s8, the call TFLite Micro makes;
 * per-channel ones the per-channel variant. The check is a few cycles per channel. */
static void cmsis_fully_connected(const conv_params_t *p, const quant_params_t *q,
                                  const dims_t *in_dims, const int8_t *in,
                                  const dims_t *filter_dims, const int8_t *filter,
                                  const int32_t *bias, const dims_t *out_dims, int8_t *out)
{
    cmsis_nn_fc_params fp;
    memset(&fp, 0, sizeof fp);
    fp.input_offset = p->input_offset;
    fp.output_offset = p->output_offset;
    fp.activation.min = p->act_min;
    fp.activation.max = p->act_max;
    cmsis_nn_dims id, fd, bd, od;
    dims4(&id, in_dims->w, 1, 1, filter_dims->c); /* batches x depth */
    dims4(&fd, filter_dims->c, 1, 1, out_dims->c);
    dims4(&bd, 1, 1, 1, out_dims->c);
    dims4(&od, out_dims->w, 1, 1, out_dims->c);
    const cmsis_nn_context ctx = {scratch, 0};
    int per_tensor = 1;
    for (int32_t c = 1; c < out_dims->c; c++) {
        per_tensor &= q->multiplier[c] == q->multiplier[0] && q->shift[c] == q->shift[0];
    }
    if (per_tensor) {
        const cmsis_nn_per_tensor_quant_params tq = {q->multiplier[0], q->shift[0]};
        cmsis_nn_last_error = arm_fully_connected_s8(&ctx, &fp, &tq, &id, in, &fd, filter, &bd, bias,
                                                     &od, out);
    } else {
        const cmsis_nn_per_channel_quant_params cq = quant(q);
        cmsis_nn_last_error = arm_fully_connected_per_channel_s8(&ctx, &fp, &cq, &id, in, &fd, filter,
                                                                 &bd, bias, &od, out);
    }
}

static void cmsis_softmax(const softmax_params_t *p, int32_t rows, int32_t depth, const int8_t *in,
                          int8_t *out)
{
    arm_softmax_s8(in, rows, depth, p->input_multiplier, p->input_left_shift, p->diff_min, out);
}

const kernel_lib_t bench_kernels = {
    .name = "cmsis_nn",
    .version = CMSIS_NN_VERSION,
    .standard = cmsis_conv,
    .grouped = cmsis_conv,
    .pointwise = cmsis_conv,
    .depthwise = cmsis_depthwise,
    .dilated_conv = cmsis_conv, /* CMSIS-NN takes the dilation itself */
    .dilated_depthwise = cmsis_depthwise,
    .add = cmsis_add,
    .mul = cmsis_mul,
    /* CMSIS-NN's ReLU6 does not requantize: the reference kernel (kernels/ref/) */
    .relu6 = ref_relu6_s8,
    .avgpool = cmsis_avgpool,
    .maxpool = cmsis_maxpool,
    .fully_connected = cmsis_fully_connected,
    .softmax = cmsis_softmax,
};
