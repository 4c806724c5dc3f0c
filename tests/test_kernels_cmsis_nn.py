"""kernels=cmsis_nn: the adapter over a user's CMSIS-NN tree.

No CMSIS-NN is installable here, so the tests are in three tiers:

- the path checks (missing, not a directory, not a CMSIS-NN tree, a version
  without a needed function) and the one-line CLI error: always run;
- the adapter compiled (not linked) against a STAND-IN header written below:
  it declares CMSIS-NN's public types and the four wrapper functions as
  CMSIS-NN documents them (Include/arm_nn_types.h, Include/arm_nnfunctions.h),
  with no implementation. It proves the adapter matches that API, nothing
  about CMSIS-NN's kernels;
- the real thing, bit-exact on QEMU against the golden outputs: runs only
  when CMSIS_NN_PATH points at a CMSIS-NN checkout, and skips saying so.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from bench import paths
from bench.build import kernel_libs
from bench.orchestrate import pipeline
from bench.build.kernel_libs import KernelLibraryError

STAND_IN_TYPES = """\
/* STAND-IN for tests only: not CMSIS-NN. Declares the public types the
 * adapter uses, with the members CMSIS-NN's arm_nn_types.h documents. */
#include <stdint.h>
typedef enum { ARM_CMSIS_NN_SUCCESS = 0, ARM_CMSIS_NN_ARG_ERROR = -1, ARM_CMSIS_NN_NO_IMPL_ERROR = -2 }
    arm_cmsis_nn_status;
typedef struct { int32_t w; int32_t h; } cmsis_nn_tile;
typedef struct { void *buf; int32_t size; } cmsis_nn_context;
typedef struct { int32_t n; int32_t h; int32_t w; int32_t c; } cmsis_nn_dims;
typedef struct { int32_t *multiplier; int32_t *shift; } cmsis_nn_per_channel_quant_params;
typedef struct { int32_t min; int32_t max; } cmsis_nn_activation;
typedef struct { int32_t input_offset; int32_t output_offset; cmsis_nn_tile stride; cmsis_nn_tile padding;
                 cmsis_nn_tile dilation; cmsis_nn_activation activation; } cmsis_nn_conv_params;
typedef struct { int32_t input_offset; int32_t output_offset; int32_t ch_mult; cmsis_nn_tile stride;
                 cmsis_nn_tile padding; cmsis_nn_tile dilation; cmsis_nn_activation activation; }
    cmsis_nn_dw_conv_params;
typedef struct { int32_t multiplier; int32_t shift; } cmsis_nn_per_tensor_quant_params;
typedef struct { cmsis_nn_tile stride; cmsis_nn_tile padding; cmsis_nn_activation activation; }
    cmsis_nn_pool_params;
typedef struct { int32_t input_offset; int32_t filter_offset; int32_t output_offset;
                 cmsis_nn_activation activation; } cmsis_nn_fc_params;
"""
STAND_IN_FUNCTIONS = {
    "arm_convolve_wrapper_s8": """\
arm_cmsis_nn_status arm_convolve_wrapper_s8(const cmsis_nn_context *ctx, const cmsis_nn_conv_params *conv_params,
    const cmsis_nn_per_channel_quant_params *quant_params, const cmsis_nn_dims *input_dims,
    const int8_t *input_data, const cmsis_nn_dims *filter_dims, const int8_t *filter_data,
    const cmsis_nn_dims *bias_dims, const int32_t *bias_data, const cmsis_nn_dims *output_dims,
    int8_t *output_data);""",
    "arm_convolve_wrapper_s8_get_buffer_size": """\
int32_t arm_convolve_wrapper_s8_get_buffer_size(const cmsis_nn_conv_params *conv_params,
    const cmsis_nn_dims *input_dims, const cmsis_nn_dims *filter_dims, const cmsis_nn_dims *output_dims);""",
    "arm_depthwise_conv_wrapper_s8": """\
arm_cmsis_nn_status arm_depthwise_conv_wrapper_s8(const cmsis_nn_context *ctx,
    const cmsis_nn_dw_conv_params *dw_conv_params, const cmsis_nn_per_channel_quant_params *quant_params,
    const cmsis_nn_dims *input_dims, const int8_t *input_data, const cmsis_nn_dims *filter_dims,
    const int8_t *filter_data, const cmsis_nn_dims *bias_dims, const int32_t *bias_data,
    const cmsis_nn_dims *output_dims, int8_t *output_data);""",
    "arm_depthwise_conv_wrapper_s8_get_buffer_size": """\
int32_t arm_depthwise_conv_wrapper_s8_get_buffer_size(const cmsis_nn_dw_conv_params *dw_conv_params,
    const cmsis_nn_dims *input_dims, const cmsis_nn_dims *filter_dims, const cmsis_nn_dims *output_dims);""",
    "arm_elementwise_add_s8": """\
arm_cmsis_nn_status arm_elementwise_add_s8(const int8_t *input_1_vect, const int8_t *input_2_vect,
    const int32_t input_1_offset, const int32_t input_1_mult, const int32_t input_1_shift,
    const int32_t input_2_offset, const int32_t input_2_mult, const int32_t input_2_shift,
    const int32_t left_shift, int8_t *output, const int32_t out_offset, const int32_t out_mult,
    const int32_t out_shift, const int32_t out_activation_min, const int32_t out_activation_max,
    const int32_t block_size);""",
    "arm_elementwise_mul_s8": """\
arm_cmsis_nn_status arm_elementwise_mul_s8(const int8_t *input_1_vect, const int8_t *input_2_vect,
    const int32_t input_1_offset, const int32_t input_2_offset, int8_t *output, const int32_t out_offset,
    const int32_t out_mult, const int32_t out_shift, const int32_t out_activation_min,
    const int32_t out_activation_max, const int32_t block_size);""",
    "arm_avgpool_s8": """\
arm_cmsis_nn_status arm_avgpool_s8(const cmsis_nn_context *ctx, const cmsis_nn_pool_params *pool_params,
    const cmsis_nn_dims *input_dims, const int8_t *input_data, const cmsis_nn_dims *filter_dims,
    const cmsis_nn_dims *output_dims, int8_t *output_data);""",
    "arm_avgpool_s8_get_buffer_size": """\
int32_t arm_avgpool_s8_get_buffer_size(const int dim_dst_width, const int ch_src);""",
    "arm_max_pool_s8": """\
arm_cmsis_nn_status arm_max_pool_s8(const cmsis_nn_context *ctx, const cmsis_nn_pool_params *pool_params,
    const cmsis_nn_dims *input_dims, const int8_t *input_data, const cmsis_nn_dims *filter_dims,
    const cmsis_nn_dims *output_dims, int8_t *output_data);""",
    "arm_fully_connected_s8": """\
arm_cmsis_nn_status arm_fully_connected_s8(const cmsis_nn_context *ctx, const cmsis_nn_fc_params *fc_params,
    const cmsis_nn_per_tensor_quant_params *quant_params, const cmsis_nn_dims *input_dims,
    const int8_t *input_data, const cmsis_nn_dims *filter_dims, const int8_t *filter_data,
    const cmsis_nn_dims *bias_dims, const int32_t *bias_data, const cmsis_nn_dims *output_dims,
    int8_t *output_data);""",
    "arm_fully_connected_per_channel_s8": """\
arm_cmsis_nn_status arm_fully_connected_per_channel_s8(const cmsis_nn_context *ctx,
    const cmsis_nn_fc_params *fc_params, const cmsis_nn_per_channel_quant_params *quant_params,
    const cmsis_nn_dims *input_dims, const int8_t *input_data, const cmsis_nn_dims *filter_dims,
    const int8_t *filter_data, const cmsis_nn_dims *bias_dims, const int32_t *bias_data,
    const cmsis_nn_dims *output_dims, int8_t *output_data);""",
    "arm_softmax_s8": """\
void arm_softmax_s8(const int8_t *input, const int32_t num_rows, const int32_t row_size, const int32_t mult,
    const int32_t shift, const int32_t diff_min, int8_t *output);""",
}


def _stand_in_tree(root: Path, leave_out: str | None = None, version: str = "9.9.9-standin") -> Path:
    (root / "Include").mkdir(parents=True)
    for d in kernel_libs.CMSIS_NN_SOURCE_DIRS:
        (root / d).mkdir(parents=True)
    decls = [text for name, text in STAND_IN_FUNCTIONS.items() if name != leave_out]
    (root / "Include" / "arm_nnfunctions.h").write_text(
        "#ifndef STANDIN_ARM_NNFUNCTIONS_H\n#define STANDIN_ARM_NNFUNCTIONS_H\n"
        + STAND_IN_TYPES + "\n".join(decls) + "\n#endif\n")
    (root / "ARM.CMSIS-NN.pdsc").write_text(f'<package><releases><release version="{version}"/></releases></package>\n')
    return root


def test_missing_path_says_how_to_give_one():
    with pytest.raises(KernelLibraryError, match=r"kernels\.cmsis_nn_path=.*CMSIS_NN_PATH"):
        kernel_libs.library_build({"name": "cmsis_nn", "cmsis_nn_path": None})


def test_nonexistent_path(tmp_path):
    with pytest.raises(KernelLibraryError, match="no such directory"):
        kernel_libs.library_build({"name": "cmsis_nn", "cmsis_nn_path": str(tmp_path / "nope")})


def test_not_a_cmsis_nn_tree(tmp_path):
    with pytest.raises(KernelLibraryError, match=r"not a CMSIS-NN source tree \(missing Include/arm_nnfunctions.h"):
        kernel_libs.library_build({"name": "cmsis_nn", "cmsis_nn_path": str(tmp_path)})


def test_version_without_a_function_names_it(tmp_path):
    root = _stand_in_tree(tmp_path / "old", leave_out="arm_depthwise_conv_wrapper_s8_get_buffer_size",
                          version="3.1.0")
    with pytest.raises(KernelLibraryError,
                       match=r"version 3\.1\.0\) does not declare arm_depthwise_conv_wrapper_s8_get_buffer_size"):
        kernel_libs.library_build({"name": "cmsis_nn", "cmsis_nn_path": str(root)})


def test_other_libraries_add_nothing():
    assert kernel_libs.library_build({"name": "opt"}) == kernel_libs.LibraryBuild()


def test_cli_error_is_one_line_without_a_path(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "CMSIS_NN_PATH"}
    proc = subprocess.run([sys.executable, "-m", "bench", "run", "kernels=cmsis_nn", "sweep=smoke",
                           f"hydra.run.dir={tmp_path}"], capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode != 0
    assert "kernels.cmsis_nn_path" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_adapter_compiles_against_the_documented_api(tmp_path):
    """Against the stand-in header (see module docstring): API shape only, no CMSIS-NN code."""
    if shutil.which("arm-none-eabi-gcc") is None:
        pytest.skip("arm-none-eabi-gcc not installed")
    root = _stand_in_tree(tmp_path / "standin")
    build = kernel_libs.library_build({"name": "cmsis_nn", "cmsis_nn_path": str(root), "scratch_bytes": 4096})
    assert build.version == "9.9.9-standin"
    assert '-DCMSIS_NN_VERSION="9.9.9-standin"' in build.defines
    assert build.include_dirs == (str(root / "Include"),)
    fw = paths.firmware_dir()
    cmd = ["arm-none-eabi-gcc", "-mcpu=cortex-m7", "-mthumb", "-mfloat-abi=soft", "-O2", "-std=c11",
           "-Wall", "-Wextra", "-Werror", f"-I{fw / 'include'}", *(f"-I{d}" for d in build.include_dirs),
           *build.defines, "-c", str(fw / "kernels" / "cmsis_nn" / "library.c"), "-o", str(tmp_path / "a.o")]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    nm = subprocess.run(["arm-none-eabi-nm", str(tmp_path / "a.o")], capture_output=True, text=True).stdout
    for name in STAND_IN_FUNCTIONS:
        assert f" U {name}\n" in nm, name  # the adapter calls each public function


@pytest.mark.qemu
def test_real_cmsis_nn_bit_exact(compose_cfg, tmp_path, have_qemu_toolchain, isolated_cache):
    path = os.environ.get("CMSIS_NN_PATH")
    if not path:
        pytest.skip("set CMSIS_NN_PATH to a CMSIS-NN checkout to run kernels=cmsis_nn on QEMU")
    cfg = compose_cfg("board=qemu_m7", "kernels=cmsis_nn", f"kernels.cmsis_nn_path={path}", "sweep=smoke",
                      "run.report=false")
    pipeline.run_benchmark(cfg, tmp_path)
    results = pd.read_csv(tmp_path / "results.csv")
    assert (results["kernels"] == "cmsis_nn").all()
    assert (results["kernels_version"].astype(str) != "unknown").all()
    bad = results[results["status"] != "ok"]
    assert bad.empty, bad[["case_id", "status", "mismatches", "detail"]].to_string()


@pytest.mark.qemu
@pytest.mark.parametrize("seed", [1, 2])  # zero points -128 and 127
def test_real_cmsis_nn_elementwise_and_pooling_bit_exact(seed, compose_cfg, tmp_path, have_qemu_toolchain,
                                                         isolated_cache):
    """CMSIS-NN's add, mul, avg and max pool through the adapter (all-positive and all-negative ranges)."""
    path = os.environ.get("CMSIS_NN_PATH")
    if not path:
        pytest.skip("set CMSIS_NN_PATH to a CMSIS-NN checkout to run kernels=cmsis_nn on QEMU")
    cfg = compose_cfg("board=qemu_m7", "kernels=cmsis_nn", f"kernels.cmsis_nn_path={path}", "op=elementwise",
                      "sweep=smoke", f"sweep.seed={seed}", "run.report=false", "run.instruction_mix=false")
    pipeline.run_benchmark(cfg, tmp_path)
    results = pd.read_csv(tmp_path / "results.csv")
    bad = results[results["status"] != "ok"]
    assert bad.empty, bad[["case_id", "status", "mismatches", "detail"]].to_string()
