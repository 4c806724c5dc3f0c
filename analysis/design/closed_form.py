"""Counts of a network from its channel plan, in closed form (no torch, no tracing).

A family's plan (analysis.design.phinet, analysis.design.xinet) gives every
block's channel counts and map sizes as integer expressions in the
hyperparameters. ``Graph`` turns each deployed operator of a block into a
``complexity.Layer`` with the same formulas ``complexity.count`` applies to a
traced model: a conv has MACs = out_h out_w C_out k^2 C_in/groups, params =
weights + C_out (BatchNorm folds into an int32 bias), flash = weights +
4 C_out (bias) + 8 C_out (requantization); element-wise layers count one
operation per output element, pooling one per tap. Peak RAM uses the same
tensor-liveness rule: a tensor lives from the operator that writes it to the
last one that reads it (the network output to the end), and an operator's
figure is the sum of every tensor live while it runs.

So the solver in analysis.design.scale evaluates a candidate in microseconds
and the answer is then checked once on the traced torch network; the tests
check both against each other and against micromind, layer by layer.
"""

from __future__ import annotations

import math

from .complexity import Complexity, Layer


class Graph:
    """A network as the ordered list of its deployed operators; tensor 0 is the input."""

    def __init__(self, c: int, h: int, w: int | None = None):
        w = h if w is None else w
        self.input_shape = (c, h, w)
        self.shapes: list[tuple[int, int, int]] = [(c, h, w)]   # tensor id -> (C, H, W)
        self.reads: list[tuple[int, ...]] = []                   # op i reads these tensor ids
        self.layers: list[Layer] = []

    def _add(self, layer: Layer, reads: tuple[int, ...], shape: tuple[int, int, int]) -> int:
        layer.out_bytes = math.prod(shape)
        self.layers.append(layer)
        self.reads.append(reads)
        self.shapes.append(shape)
        return len(self.shapes) - 1

    def shape(self, t: int) -> tuple[int, int, int]:
        return self.shapes[t]

    def conv(self, name: str, src: int, c_out: int, k: int, stride: int = 1, pad: int | tuple[int, int] | None = None,
             groups: int = 1) -> int:
        """A conv with symmetric padding ``pad`` (default k // 2) or (before, after) per side."""
        from .complexity import conv_class

        c_in, h, w = self.shapes[src]
        before, after = (k // 2, k // 2) if pad is None else (pad, pad) if isinstance(pad, int) else pad
        out_h = (h + before + after - k) // stride + 1
        out_w = (w + before + after - k) // stride + 1
        weights = c_out * k * k * (c_in // groups)
        layer = Layer(name, conv_class(c_in, c_out, k, groups), h=h, w=w, c_in=c_in, c_out=c_out, k=k, stride=stride,
                      groups=groups, out_h=out_h, out_w=out_w, macs=out_h * out_w * weights,
                      params=weights + c_out, weight_bytes=weights, bias_bytes=4 * c_out, quant_bytes=8 * c_out)
        return self._add(layer, (src,), (c_out, out_h, out_w))

    def linear(self, name: str, src: int, out_features: int) -> int:
        n = math.prod(self.shapes[src])
        weights = n * out_features
        layer = Layer(name, "linear", h=1, w=1, c_in=n, c_out=out_features, k=1, out_h=1, out_w=1, macs=weights,
                      params=weights + out_features, weight_bytes=weights, bias_bytes=4 * out_features, quant_bytes=8)
        return self._add(layer, (src,), (out_features, 1, 1))

    def pool(self, name: str, src: int, out_h: int, out_w: int | None = None, k: int | None = None) -> int:
        """Pooling to out_h x out_w; ``k`` the window of a fixed-kernel pool, else adaptive (the ratio of the maps)."""
        out_w = out_h if out_w is None else out_w
        c, h, w = self.shapes[src]
        taps = k * k if k else max(1, (h * w) // max(1, out_h * out_w))
        layer = Layer(name, "pooling", h=h, w=w, c_in=c, c_out=c, k=int(round(math.sqrt(taps))), out_h=out_h,
                      out_w=out_w, elem_ops=c * out_h * out_w * taps)
        return self._add(layer, (src,), (c, out_h, out_w))

    def head(self, src: int, options: dict) -> int:
        """The optional classifier head (``include_top``): global pool and linear, as ``blocks.classifier_head``."""
        if not options["include_top"]:
            return src
        return self.linear("head.fc", self.pool("head.pool", src, 1), int(options["num_classes"]))

    def act(self, name: str, src: int, kind: str) -> int:
        shape = self.shapes[src]
        return self._add(Layer(name, "activation", elem_ops=math.prod(shape), detail=kind), (src,), shape)

    def binary(self, name: str, op: str, a: int, b: int) -> int:
        """add or mul; b may broadcast over a's map (a squeeze-excite gate)."""
        shape = self.shapes[a]
        return self._add(Layer(name, op, elem_ops=math.prod(shape)), (a, b), shape)

    def complexity(self) -> Complexity:
        """Totals and per-operator live bytes by the liveness rule of ``complexity.count``."""
        n = len(self.layers)
        size = [math.prod(s) for s in self.shapes]
        death = list(range(len(self.shapes)))            # tensor t >= 1 is written by operator t (1-based)
        for i, reads in enumerate(self.reads, start=1):
            for t in reads:
                death[t] = max(death[t], i)
        death[-1] = n + 1                                # the network's output lives to the end
        change = [0] * (n + 3)                           # live bytes by operator, as a difference array
        for t, d in enumerate(death):
            change[t] += size[t]
            change[d + 1] -= size[t]
        live, peak, at = change[0], 0, 0
        for i, layer in enumerate(self.layers, start=1):
            live += change[i]
            layer.live_bytes = live
            if live > peak:
                peak, at = live, i
        tensors = [str(t) for t in range(len(self.shapes)) if t <= at <= death[t]]
        return Complexity(self.layers, self.input_shape, peak, self.layers[at - 1].name if at else "", tensors)
