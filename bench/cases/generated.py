"""A case's data as the firmware needs it: int8 tensors, requantization
parameters, golden output and the ``.tflite`` it came from."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.cases.spec import CaseSpec


@dataclass(frozen=True)
class GeneratedCase:
    spec: CaseSpec
    input: np.ndarray         # int8 [H, W, C_in]
    filter: np.ndarray        # int8 OHWI or 1HWC
    bias: np.ndarray          # int32 [C_out]
    multiplier: np.ndarray    # int32 [C_out]
    shift: np.ndarray         # int32 [C_out]
    input_zero_point: int
    output_zero_point: int
    golden: np.ndarray        # int8 [H_out, W_out, C_out]
    model_path: Path          # the .tflite in the cache
    # Element-wise and pooling cases (bench/cases/elementwise.py): ``filter`` holds the
    # second input (ADD, MUL; empty otherwise), bias/multiplier/shift are empty and
    # this is the int32 parameter vector of the kernel's parameter struct.
    op_params: np.ndarray | None = None
    # Output clamp: the fused activation's range in the output's quantization
    # (a model layer's RELU / RELU6); sweep cases have none.
    act_range: tuple[int, int] = (-128, 127)

    @property
    def input_offset(self) -> int:
        return -self.input_zero_point
