"""Every tensor of a whole-model run in the reference interpreter.

LiteRT's interpreter with ``experimental_preserve_all_tensors=True`` keeps
intermediate tensors readable after ``invoke()``, and the BUILTIN_REF
resolver runs the reference kernels that firmware must match bit for bit
(see bench/golden.py). Each layer's case takes its input from here, so the
data it sees is what the layer sees in the model, and its golden output is
the interpreter's output of that layer.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from bench.errors import ConfigError
from bench.profile.model_reader import ModelGraph


def sample_input(graph: ModelGraph, seed: int = 0, path: str | Path | None = None) -> list[np.ndarray]:
    """The model's input(s): from a .npy file (one input) or seeded uniform int8 values."""
    details = [graph.tensors[i] for i in graph.inputs]
    if path:
        p = Path(path)
        if not p.is_file():
            raise ConfigError(f"--sample: no file at {p}")
        x = np.load(p)
        t = details[0]
        if len(details) != 1 or x.size != t.elements:
            raise ConfigError(f"--sample {p}: {x.shape} does not fill the model's input "
                              f"{t.name} {list(t.shape)} (models with one input only)")
        return [x.astype(t.dtype).reshape(t.shape)]
    rng = np.random.default_rng(seed)
    out = []
    for t in details:
        if t.dtype is not np.int8:
            raise ConfigError(f"model input {t.name} is {np.dtype(t.dtype).name}; the profiler takes int8 models "
                              "(convert with full-integer quantization)")
        out.append(rng.integers(-128, 128, size=t.shape, dtype=np.int8))
    return out


def run_all_tensors(model: bytes, inputs: list[np.ndarray]) -> dict[int, np.ndarray]:
    """Tensor index -> value after one invoke with the reference kernels."""
    from bench.cases.golden import _interpreter_module

    module = _interpreter_module()
    try:
        interp = module.Interpreter(
            model_content=model,
            experimental_op_resolver_type=module.OpResolverType.BUILTIN_REF,
            experimental_preserve_all_tensors=True,
        )
        interp.allocate_tensors()
    except (ValueError, RuntimeError) as exc:
        raise ConfigError(f"the reference interpreter cannot load the model: {str(exc).splitlines()[0]}") from None
    for d, x in zip(interp.get_input_details(), inputs):
        interp.set_tensor(d["index"], x)
    interp.invoke()
    values = {}
    for d in interp.get_tensor_details():
        try:
            values[d["index"]] = interp.get_tensor(d["index"]).copy()
        except ValueError:  # a tensor with no data (e.g. an omitted optional input)
            continue
    return values


def inputs_digest(model: bytes, inputs: list[np.ndarray]) -> str:
    """Identity of the data every layer case is made from (model bytes and sample input)."""
    h = hashlib.sha256(model)
    for x in inputs:
        h.update(np.ascontiguousarray(x).tobytes())
    return h.hexdigest()[:16]
