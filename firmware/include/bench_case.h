/* One benchmark case as the host generates it (see bench/build/codegen.py). */
#ifndef BENCH_CASE_H
#define BENCH_CASE_H

#include <stdint.h>
#include "kernels.h"

typedef enum {
    OP_STANDARD = 0,
    OP_DEPTHWISE = 1,
    OP_GROUPED = 2,
    OP_POINTWISE = 3,
    OP_ADD = 4,
    OP_MUL = 5,
    OP_RELU6 = 6,
    OP_AVGPOOL = 7,
    OP_MAXPOOL = 8,
    OP_FULLY_CONNECTED = 9,
    OP_SOFTMAX = 10,
} op_kind_t;

typedef struct {
    const char *id;
    op_kind_t op;
    conv_params_t params;
    dims_t in_dims, filter_dims, out_dims;
    const int8_t *input;
    const int8_t *filter;
    const int32_t *bias;
    quant_params_t quant;
    const int8_t *golden; /* expected output from the TFLite reference interpreter */
    /* Element-wise and pooling cases only (zero for convolutions): ``filter``
     * then points at the second input of ADD / MUL. Kept last so the fields a
     * convolution reads keep their offsets. */
    elementwise_params_t ew;
    pool_params_t pool;
    softmax_params_t softmax; /* SOFTMAX only: in_dims {1, rows, depth} */
} bench_case_t;

extern const bench_case_t bench_cases[];
extern const uint32_t bench_case_count;
extern int8_t bench_output[]; /* sized for the largest output in the image */

/* Section names for placement; the board's linker script maps them. */
#define BENCH_WEIGHTS __attribute__((section(".bench_weights"), aligned(4)))
#define BENCH_INPUT __attribute__((section(".bench_input"), aligned(4)))
#define BENCH_GOLDEN __attribute__((section(".bench_golden"), aligned(4)))
#define BENCH_ACTIVATIONS __attribute__((section(".bench_activations"), aligned(4)))

#endif
