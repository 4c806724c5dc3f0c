/*
 * Kernel library API: int8 convolutions with TFLite's quantization semantics
 * (per-channel symmetric weights, asymmetric activations, int32 bias, a
 * fixed-point multiplier and shift per output channel).
 *
 * Every library (kernels/<library>/) implements the same signatures and
 * exports one descriptor, bench_kernels, naming a function per operator.
 * Tensors are NHWC; conv filters OHWI with I = C_in / groups; depthwise
 * filters 1HWC with C = C_in * depth_multiplier.
 */
#ifndef BENCH_KERNELS_H
#define BENCH_KERNELS_H

#include <stdint.h>

typedef struct {
    int32_t h, w, c;
} dims_t;

typedef struct {
    int32_t input_offset;  /* -input zero point */
    int32_t output_offset; /* +output zero point */
    int32_t stride_h, stride_w;
    int32_t pad_h, pad_w;  /* padding before the first row / column */
    int32_t act_min, act_max;
    /* Dilation (tap spacing) of the filter; 0 is read as 1. Only the
     * dilated_* entries of a library read it: the runner sends a case with a
     * dilation above 1 there, so undilated calls are exactly what they were. */
    int32_t dilation_h, dilation_w;
} conv_params_t;

typedef struct {
    const int32_t *multiplier; /* Q31 per output channel */
    const int32_t *shift;      /* power-of-two exponent per output channel */
} quant_params_t;

typedef void (*conv_fn)(const conv_params_t *p, const quant_params_t *q,
                        const dims_t *in_dims, const int8_t *in,
                        const dims_t *filter_dims, const int8_t *filter,
                        const int32_t *bias,
                        const dims_t *out_dims, int8_t *out);

/*
 * Element-wise int8 operators (ADD, MUL, RELU6) with TFLite's integer
 * semantics; per-tensor parameters as the interpreter's Prepare computes them.
 * Unused fields are 0 (MUL and RELU6 use input1/output only; RELU6 puts the
 * quantized 0 and 6 in act_min / act_max).
 */
typedef struct {
    int32_t input1_offset, input2_offset; /* -zero point of each input */
    int32_t output_offset;                /* +output zero point */
    int32_t left_shift;                   /* ADD: 20 */
    int32_t input1_multiplier, input1_shift;
    int32_t input2_multiplier, input2_shift;
    int32_t output_multiplier, output_shift;
    int32_t act_min, act_max;
} elementwise_params_t;

/* AVERAGE_POOL_2D / MAX_POOL_2D: input and output share scale and zero point. */
typedef struct {
    int32_t stride_h, stride_w;
    int32_t pad_h, pad_w; /* padding before the first row / column */
    int32_t filter_h, filter_w;
    int32_t act_min, act_max;
} pool_params_t;

/*
 * SOFTMAX, int8 in and out (output scale 1/256, zero point -128), with the
 * fixed-point arithmetic of TFLite's reference kernel: the host computes
 * these as the interpreter's Prepare does (bench/profile/params.py).
 */
typedef struct {
    int32_t input_multiplier; /* beta * input scale in Q31, times 2^left_shift */
    int32_t input_left_shift;
    int32_t diff_min;         /* differences from the row maximum below this give 0 */
} softmax_params_t;

typedef void (*binary_fn)(const elementwise_params_t *p, const int8_t *in1, const int8_t *in2,
                          int32_t size, int8_t *out);
typedef void (*unary_fn)(const elementwise_params_t *p, const int8_t *in, int32_t size,
                         int8_t *out);
typedef void (*pool_fn)(const pool_params_t *p, const dims_t *in_dims, const int8_t *in,
                        const dims_t *out_dims, int8_t *out);
/* Softmax over the last dimension: ``rows`` rows of ``depth`` values. */
typedef void (*softmax_fn)(const softmax_params_t *p, int32_t rows, int32_t depth,
                           const int8_t *in, int8_t *out);

/* The portable reference element-wise and pooling kernels (kernels/ref/),
 * linked into every library's image. */
void ref_add_s8(const elementwise_params_t *p, const int8_t *in1, const int8_t *in2,
                int32_t size, int8_t *out);
void ref_mul_s8(const elementwise_params_t *p, const int8_t *in1, const int8_t *in2,
                int32_t size, int8_t *out);
void ref_relu6_s8(const elementwise_params_t *p, const int8_t *in, int32_t size, int8_t *out);
void ref_avgpool_s8(const pool_params_t *p, const dims_t *in_dims, const int8_t *in,
                    const dims_t *out_dims, int8_t *out);
void ref_maxpool_s8(const pool_params_t *p, const dims_t *in_dims, const int8_t *in,
                    const dims_t *out_dims, int8_t *out);
/* FULLY_CONNECTED with the conv signature: in_dims {1, batches, C_in},
 * filter_dims {1, 1, C_in} (weights [C_out, C_in]), out_dims {1, batches, C_out};
 * per-tensor models pass the one multiplier repeated per output channel. */
void ref_fully_connected_s8(const conv_params_t *p, const quant_params_t *q,
                            const dims_t *in_dims, const int8_t *in,
                            const dims_t *filter_dims, const int8_t *filter,
                            const int32_t *bias, const dims_t *out_dims, int8_t *out);
void ref_softmax_s8(const softmax_params_t *p, int32_t rows, int32_t depth, const int8_t *in,
                    int8_t *out);
/* Dilated convolutions (standard/grouped/pointwise, and depthwise), for
 * libraries without dilated paths of their own. */
void ref_dilated_conv_s8(const conv_params_t *p, const quant_params_t *q,
                         const dims_t *in_dims, const int8_t *in,
                         const dims_t *filter_dims, const int8_t *filter,
                         const int32_t *bias, const dims_t *out_dims, int8_t *out);
void ref_dilated_depthwise_conv_s8(const conv_params_t *p, const quant_params_t *q,
                                   const dims_t *in_dims, const int8_t *in,
                                   const dims_t *filter_dims, const int8_t *filter,
                                   const int32_t *bias, const dims_t *out_dims, int8_t *out);

typedef struct {
    const char *name;
    const char *version;
    conv_fn standard;  /* groups == 1, any kernel size */
    conv_fn grouped;   /* 1 < groups < C_in: filter_dims->c == C_in / groups */
    conv_fn pointwise; /* 1x1, groups == 1 */
    conv_fn depthwise; /* groups == C_in, filter 1HWC */
    conv_fn dilated_conv;      /* any of the three above with dilation > 1 */
    conv_fn dilated_depthwise; /* depthwise with dilation > 1 */
    binary_fn add;
    binary_fn mul;
    unary_fn relu6;
    pool_fn avgpool;
    pool_fn maxpool;
    conv_fn fully_connected;
    softmax_fn softmax;
} kernel_lib_t;

extern const kernel_lib_t bench_kernels;

#endif
