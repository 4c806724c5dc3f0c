"""Golden int8 outputs from the TFLite reference kernels.

The LiteRT interpreter (``ai-edge-litert``, or ``tflite_runtime`` where that is
what is installed) runs the model with the BUILTIN_REF op resolver: the
default optimized kernels differ by +-1 on a fraction of a percent of int8
outputs, the reference kernels are what firmware must match bit for bit.
"""

from __future__ import annotations

import numpy as np

from bench.errors import ToolchainError


def _interpreter_module():
    try:
        from ai_edge_litert import interpreter
    except ImportError:
        try:
            from tflite_runtime import interpreter  # type: ignore[no-redef]
        except ImportError:
            raise ToolchainError(
                "no TFLite interpreter: install ai-edge-litert (pip install ai-edge-litert)") from None
    return interpreter


def interpreter_name() -> str:
    module = _interpreter_module()
    return module.__name__.split(".")[0]


def reference_output(model: bytes, x) -> np.ndarray:
    """Run the single-operator model on int8 input ``x`` [1,H,W,C] with the reference kernels.

    ``x`` may be a list of arrays for a model with several inputs (ADD, MUL), in
    the model's input order.
    """
    module = _interpreter_module()
    interp = module.Interpreter(
        model_content=model,
        experimental_op_resolver_type=module.OpResolverType.BUILTIN_REF,
    )
    interp.allocate_tensors()
    xs = list(x) if isinstance(x, (list, tuple)) else [x]
    details = interp.get_input_details()
    if len(details) != len(xs):
        raise ValueError(f"model has {len(details)} inputs, {len(xs)} given")
    for d, arr in zip(details, xs):
        interp.set_tensor(d["index"], arr)
    interp.invoke()
    return interp.get_tensor(interp.get_output_details()[0]["index"]).copy()
