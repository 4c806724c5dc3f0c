"""LayerSpec: a CaseSpec with a real layer's full geometry.

A sweep's CaseSpec has one kernel size and one stride; a model's layer can
have a 10x4 kernel, strides 2x1, dilation, explicit padding and a fused
activation. LayerSpec keeps CaseSpec's interface (codegen, image planning,
results rows read it the same way) and adds the per-axis fields. ``k`` and
``stride`` hold the height values so results.csv's columns stay meaningful.

Ops beyond the sweep's: ``fully_connected`` (a 1 x batches x C_in input,
weights [C_out, C_in]) and ``softmax`` (1 x rows x depth).
"""

from __future__ import annotations

from dataclasses import dataclass

from bench.cases.spec import CaseSpec

PROFILE_OPS = ("fully_connected", "softmax")


@dataclass(frozen=True)
class LayerSpec(CaseSpec):
    layer: int = 0          # operator index in the model
    data_hash: str = ""     # model bytes + sample input: the layer's data is part of its identity
    kh: int = 1
    kw: int = 1
    sh: int = 1
    sw: int = 1
    dh: int = 1
    dw: int = 1
    ph: int = 0             # padding before the first row / column
    pw: int = 0
    oh: int = 1
    ow: int = 1

    # -- geometry (CaseSpec derives these from k/stride; a layer states them) --
    @property
    def out_h(self) -> int:
        return self.oh

    @property
    def out_w(self) -> int:
        return self.ow

    @property
    def pad_h(self) -> int:
        return self.ph

    @property
    def pad_w(self) -> int:
        return self.pw

    @property
    def kernel_h(self) -> int:
        return self.kh

    @property
    def kernel_w(self) -> int:
        return self.kw

    @property
    def stride_h(self) -> int:
        return self.sh

    @property
    def stride_w(self) -> int:
        return self.sw

    @property
    def dilation_h(self) -> int:
        return self.dh

    @property
    def dilation_w(self) -> int:
        return self.dw

    # -- counts ---------------------------------------------------------------
    @property
    def is_conv(self) -> bool:
        """Has weights, bias and per-channel requantization (the conv tables)."""
        return self.op in ("standard", "depthwise", "grouped", "pointwise", "fully_connected")

    @property
    def macs(self) -> int:
        if self.op in ("add", "mul", "relu6", "softmax"):
            return self.h * self.w * self.c_in
        if self.op in ("avgpool", "maxpool"):
            return self.oh * self.ow * self.c_in * self.kh * self.kw
        return self.oh * self.ow * self.c_out * self.kh * self.kw * (self.c_in // self.groups)

    @property
    def weight_count(self) -> int:
        if not self.is_conv:
            return 0
        return self.c_out * self.kh * self.kw * (self.c_in // self.groups)

    @property
    def case_id(self) -> str:
        tag = {"standard": "conv", "depthwise": "dw", "grouped": f"g{self.groups}", "pointwise": "pw",
               "fully_connected": "fc"}.get(self.op, self.op)
        ident = f"L{self.layer:02d}_{tag}_{self.h}x{self.w}x{self.c_in}"
        if self.op not in ("add", "mul", "relu6", "softmax"):
            ident += f"_o{self.c_out}_k{self.kh}x{self.kw}s{self.sh}x{self.sw}"
            if self.dh > 1 or self.dw > 1:
                ident += f"d{self.dh}x{self.dw}"
        return ident

    def reference(self) -> CaseSpec:
        """The standard conv of the same slot (eta_op), for square stride, kernel and no dilation.

        Its weights are the sweep generator's seeded ones (cost depends on the
        shape, not the values); other layers are their own reference.
        """
        if self.op not in ("depthwise", "grouped", "pointwise") or not self.square:
            return self
        return CaseSpec(op="standard", h=self.h, w=self.w, c_in=self.c_in, c_out=self.c_out,
                        k=self.ref_k, stride=self.sh, groups=1, padding=self.padding,
                        ref_k=self.ref_k, seed=0)

    @property
    def square(self) -> bool:
        return self.kh == self.kw and self.sh == self.sw and self.dh == self.dw == 1
