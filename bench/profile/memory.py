"""Activation memory of a model: which tensors are alive while each operator runs."""

from __future__ import annotations

import numpy as np

from bench.profile.model_reader import ModelGraph


def live_activation_bytes(graph: ModelGraph) -> dict[int, int]:
    """Per operator: bytes of every activation tensor alive while it runs.

    A tensor lives from the operator that writes it (the model's inputs from
    the start) to the last operator that reads it (the model's outputs to the
    end); constants (weights, biases, shapes) live in flash and are not counted.
    No in-place reuse is assumed (a RESHAPE's output counts separately), so
    the peak is an upper bound of what an arena planner would need.
    """
    n = len(graph.operators)
    first: dict[int, int] = {i: 0 for i in graph.inputs}
    last: dict[int, int] = {i: n - 1 for i in graph.outputs}
    for op in graph.operators:
        for t in op.outputs:
            first.setdefault(t, op.index)
        for t in op.inputs:
            if t >= 0 and graph.tensors[t].data is None:
                first.setdefault(t, op.index)
                last[t] = max(last.get(t, op.index), op.index)
    for t in first:
        last.setdefault(t, first[t])

    def size(t: int) -> int:
        info = graph.tensors[t]
        return info.elements * np.dtype(info.dtype).itemsize

    return {op.index: sum(size(t) for t in first if first[t] <= op.index <= last[t])
            for op in graph.operators}
