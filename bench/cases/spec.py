"""Benchmark cases: the shape of one single-operator convolution and its counts.

A sweep lists *layer slots* (input map, channels in and out, kernel size,
stride). Each operator fills a slot in its own way, and every non-standard
case is paired with the standard convolution it is compared against for
eta_op (the matching rule, also stated in docs/eta_op.md):

- depthwise: groups = C_in, C_out = C_in * depth_multiplier; reference is the
  standard kxk conv with the same input, C_out, k and stride.
- grouped:   groups = G (must divide C_in and C_out); reference as above.
- pointwise: a 1x1 conv; reference is the standard conv of the slot's own
  kernel size (``ref_k``), since a 1x1 conv compared with itself says nothing.
- standard:  its own reference (eta_op = 1 by definition).
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from typing import Iterable, Mapping

from bench.errors import ConfigError

OPS = ("standard", "depthwise", "grouped", "pointwise")  # convolutions: the eta_op subjects
# Element-wise and pooling operators (int8, TFLite semantics): benchmarkable so a
# block can be measured as the sequence of its operators, but not eta_op subjects
# (there is no matched standard conv). Their ``macs`` is a work count: elements
# for add/mul/relu6 (one per output element), taps for pooling
# (H_out*W_out*C*K*K, padding taps included, as for convs).
ELEMENTWISE_OPS = ("add", "mul", "relu6")
POOL_OPS = ("avgpool", "maxpool")
EXTRA_OPS = ELEMENTWISE_OPS + POOL_OPS
ALL_OPS = OPS + EXTRA_OPS
PADDINGS = ("same", "valid")
OP_CODES = {"standard": 0, "depthwise": 1, "grouped": 2, "pointwise": 3,
            "add": 4, "mul": 5, "relu6": 6, "avgpool": 7, "maxpool": 8,
            # model layers only (bench/profile/layer_spec.py)
            "fully_connected": 9, "softmax": 10}


@dataclass(frozen=True)
class CaseSpec:
    op: str
    h: int
    w: int
    c_in: int
    c_out: int
    k: int
    stride: int = 1
    groups: int = 1
    padding: str = "same"
    ref_k: int = 0  # kernel size of the matched standard conv (0: same as k)
    seed: int = 0

    # -- derived geometry ------------------------------------------------
    @property
    def out_h(self) -> int:
        return _out_size(self.h, self.k, self.stride, self.padding)

    @property
    def out_w(self) -> int:
        return _out_size(self.w, self.k, self.stride, self.padding)

    @property
    def pad_h(self) -> int:
        return _pad_before(self.h, self.k, self.stride, self.padding)

    @property
    def pad_w(self) -> int:
        return _pad_before(self.w, self.k, self.stride, self.padding)

    # Per-axis geometry as the firmware tables take it; a sweep's case is square
    # (a model's layer need not be: bench/profile/layer_spec.py).
    @property
    def kernel_h(self) -> int:
        return self.k

    @property
    def kernel_w(self) -> int:
        return self.k

    @property
    def stride_h(self) -> int:
        return self.stride

    @property
    def stride_w(self) -> int:
        return self.stride

    @property
    def dilation_h(self) -> int:
        return 1

    @property
    def dilation_w(self) -> int:
        return 1

    # -- counts ------------------------------------------------------------
    @property
    def is_conv(self) -> bool:
        return self.op in OPS

    @property
    def n_inputs(self) -> int:
        return 2 if self.op in ("add", "mul") else 1

    @property
    def macs(self) -> int:
        """Nominal MACs: H_out*W_out*C_out*K*K*C_in/groups, padding taps included.

        For the element-wise ops the work count is the number of output elements;
        for pooling the number of window taps, H_out*W_out*C*K*K (padding taps included).
        """
        if self.op in ELEMENTWISE_OPS:
            return self.h * self.w * self.c_in
        if self.op in POOL_OPS:
            return self.out_h * self.out_w * self.c_in * self.k * self.k
        return self.out_h * self.out_w * self.c_out * self.k * self.k * (self.c_in // self.groups)

    @property
    def weight_count(self) -> int:
        if not self.is_conv:
            return 0
        return self.c_out * self.k * self.k * (self.c_in // self.groups)

    @property
    def params(self) -> int:
        return self.weight_count + self.c_out if self.is_conv else 0

    @property
    def weight_bytes(self) -> int:
        """Flash for the layer's parameters: int8 weights and int32 bias (none for the other ops)."""
        if not self.is_conv:
            return 0
        return self.weight_count + 4 * self.c_out

    @property
    def quant_bytes(self) -> int:
        """Per-channel requantization parameters (int32 multiplier and shift).

        The other ops carry one fixed parameter struct instead (in the case table)."""
        return 8 * self.c_out if self.is_conv else 0

    @property
    def input_bytes(self) -> int:
        return self.h * self.w * self.c_in * self.n_inputs

    @property
    def output_bytes(self) -> int:
        return self.out_h * self.out_w * self.c_out

    @property
    def activation_bytes(self) -> int:
        """int8 input plus output: what must be live in RAM during the call."""
        return self.input_bytes + self.output_bytes

    @property
    def image_bytes(self) -> int:
        """Bytes this case adds to an image: tensors, golden output, tables."""
        return self.weight_bytes + self.quant_bytes + self.input_bytes + self.output_bytes + 128

    @property
    def case_id(self) -> str:
        if self.op in ELEMENTWISE_OPS:
            return f"{self.op}_{self.h}x{self.w}x{self.c_in}"
        if self.op in POOL_OPS:
            return f"{self.op}_{self.h}x{self.w}x{self.c_in}_k{self.k}s{self.stride}{self.padding[0]}"
        tag = {"standard": "std", "depthwise": "dw", "grouped": f"g{self.groups}", "pointwise": "pw"}[self.op]
        ident = f"{tag}_{self.h}x{self.w}x{self.c_in}_o{self.c_out}_k{self.k}s{self.stride}{self.padding[0]}"
        if self.op == "pointwise":
            ident += f"_r{self.ref_k}"
        return ident

    @property
    def content_hash(self) -> str:
        """Identity of the generated data: shape, quantization recipe, seed."""
        return hashlib.sha256(repr(sorted(asdict(self).items())).encode()).hexdigest()[:16]

    def reference(self) -> "CaseSpec":
        """The standard convolution this case's eta_op is measured against.

        Element-wise and pooling cases have none: they are their own (and are
        excluded from eta_op by analysis/eta.py).
        """
        if not self.is_conv:
            return self
        return CaseSpec(
            op="standard", h=self.h, w=self.w, c_in=self.c_in, c_out=self.c_out,
            k=self.ref_k, stride=self.stride, groups=1, padding=self.padding,
            ref_k=self.ref_k, seed=self.seed,
        )

    def row(self) -> dict:
        """Shape fields and counts, as written to results.csv."""
        return {
            "op": self.op, "case_id": self.case_id, "h": self.h, "w": self.w,
            "c_in": self.c_in, "c_out": self.c_out, "k": self.k, "stride": self.stride,
            "groups": self.groups, "padding": self.padding, "ref_k": self.ref_k,
            "out_h": self.out_h, "out_w": self.out_w, "macs": self.macs,
            "params": self.params, "weight_bytes": self.weight_bytes,
            "activation_bytes": self.activation_bytes,
        }


def _out_size(n: int, k: int, stride: int, padding: str) -> int:
    if padding == "same":
        return -(-n // stride)
    return (n - k) // stride + 1


def _pad_before(n: int, k: int, stride: int, padding: str) -> int:
    """TFLite SAME padding: the odd pixel of padding goes after, not before."""
    if padding == "valid":
        return 0
    out = -(-n // stride)
    total = max((out - 1) * stride + k - n, 0)
    return total // 2


def case_for_slot(op: str, slot: Mapping, *, groups: int, depth_multiplier: int,
                  padding: str, seed: int) -> CaseSpec:
    """Fill a sweep slot with an operator (see module docstring)."""
    h, w, c_in, c_out, k, stride = slot_shape(slot)
    base = dict(h=h, w=w, c_in=c_in, stride=stride, padding=padding, seed=seed, ref_k=k)
    if op == "standard":
        return CaseSpec(op=op, c_out=c_out, k=k, groups=1, **base)
    if op == "depthwise":
        return CaseSpec(op=op, c_out=c_in * depth_multiplier, k=k, groups=c_in, **base)
    if op == "grouped":
        return CaseSpec(op=op, c_out=c_out, k=k, groups=groups, **base)
    if op == "pointwise":
        return CaseSpec(op=op, c_out=c_out, k=1, groups=1, **base)
    # Element-wise ops take the slot's input map (H, W, C_in); pooling also its k and stride.
    if op in ELEMENTWISE_OPS:
        return CaseSpec(op=op, h=h, w=w, c_in=c_in, c_out=c_in, k=1, stride=1, groups=1,
                        padding="same", ref_k=0, seed=seed)
    if op in POOL_OPS:
        return CaseSpec(op=op, h=h, w=w, c_in=c_in, c_out=c_in, k=k, stride=stride, groups=1,
                        padding=padding, ref_k=0, seed=seed)
    raise ConfigError(f"unknown op {op!r}; valid ops: {', '.join(ALL_OPS)}")


# One shape vocabulary everywhere (sweeps, predict, results.csv, reports): h, w (default h),
# c_in, c_out, k, stride. hw/cin/cout are still read, for sweeps written before issue 17.
SLOT_KEYS = ("h", "w", "c_in", "c_out", "k", "stride")
OLD_SLOT_KEYS = {"hw": "h", "cin": "c_in", "cout": "c_out"}


def slot_shape(slot: Mapping) -> tuple[int, int, int, int, int, int]:
    """(h, w, c_in, c_out, k, stride) of a sweep slot; raises ConfigError naming what is wrong."""
    given = {OLD_SLOT_KEYS.get(key, key): value for key, value in dict(slot).items()}
    unknown = sorted(set(given) - set(SLOT_KEYS))
    missing = [key for key in ("h", "c_in", "c_out", "k") if key not in given]
    if unknown or missing:
        raise ConfigError(f"sweep shape {dict(slot)}: "
                          + (f"unknown key(s) {', '.join(unknown)}; " if unknown else "")
                          + (f"missing {', '.join(missing)}; " if missing else "")
                          + f"a shape takes {', '.join(SLOT_KEYS)} (w defaults to h, stride to 1)")
    try:
        return (int(given["h"]), int(given.get("w", given["h"])), int(given["c_in"]), int(given["c_out"]),
                int(given["k"]), int(given.get("stride", 1)))
    except (TypeError, ValueError):
        raise ConfigError(f"sweep shape {dict(slot)}: every value must be an integer") from None


def validate(case: CaseSpec) -> list[str]:
    """Every reason this case cannot be built, in words a user can act on."""
    problems = []
    where = f"{case.op} shape h={case.h} w={case.w} c_in={case.c_in} c_out={case.c_out} k={case.k} stride={case.stride}"
    if case.op not in ALL_OPS:
        problems.append(f"unknown op {case.op!r}; valid ops: {', '.join(ALL_OPS)}")
    if case.padding not in PADDINGS:
        problems.append(f"padding {case.padding!r} is not one of {', '.join(PADDINGS)}")
    for name in ("h", "w", "c_in", "c_out", "k", "stride", "groups"):
        if getattr(case, name) < 1:
            problems.append(f"{where}: {name}={getattr(case, name)} must be >= 1")
    if problems:
        return problems
    if case.op in EXTRA_OPS:
        if case.c_out != case.c_in or case.groups != 1:
            problems.append(f"{where}: {case.op} keeps the channels: c_out must equal c_in and groups be 1")
        if case.op in ELEMENTWISE_OPS and (case.k != 1 or case.stride != 1):
            problems.append(f"{where}: {case.op} is element-wise: k and stride must be 1")
    if case.c_in % case.groups or case.c_out % case.groups:
        problems.append(
            f"{where}: groups={case.groups} must divide c_in={case.c_in} and c_out={case.c_out}"
            f" (valid groups: {', '.join(map(str, _common_divisors(case.c_in, case.c_out)))})")
    if case.op == "depthwise" and case.c_out % case.c_in:
        problems.append(f"{where}: depthwise c_out must be a multiple of c_in")
    # With SAME padding the padded input always holds the kernel; with VALID
    # there is no padding, so the kernel must fit the input itself.
    if case.padding == "valid" and (case.k > case.h or case.k > case.w):
        problems.append(f"{where}: kernel {case.k}x{case.k} is larger than the unpadded input "
                        f"{case.h}x{case.w} (padding=valid); use padding=same or a smaller k")
    return problems


def _common_divisors(a: int, b: int) -> list[int]:
    return [g for g in range(1, min(a, b) + 1) if a % g == 0 and b % g == 0]


def with_references(cases: Iterable[CaseSpec]) -> list[CaseSpec]:
    """The cases plus the standard convs they are compared against, deduplicated, in order."""
    seen: dict[str, CaseSpec] = {}
    for case in cases:
        for c in (case, case.reference()):
            seen.setdefault(c.case_id, c)
    return list(seen.values())


def expand_sweep(op_names: Iterable[str], slots: Iterable[Mapping], *, groups: int,
                 depth_multiplier: int, padding: str, seed: int) -> list[CaseSpec]:
    """Cases for every (op, slot) pair, with their references; raises on any invalid case."""
    cases, problems = [], []
    slots = list(slots)
    for op in op_names:
        if op not in ALL_OPS:
            raise ConfigError(f"unknown op {op!r}; valid ops: {', '.join(ALL_OPS)}")
        for slot in slots:
            case = case_for_slot(op, slot, groups=groups, depth_multiplier=depth_multiplier,
                                 padding=padding, seed=seed)
            found = validate(case)
            problems.extend(found)
            if not found:
                cases.append(case)
    if problems:
        raise ConfigError("invalid sweep:\n  " + "\n  ".join(dict.fromkeys(problems)))
    return with_references(cases)


