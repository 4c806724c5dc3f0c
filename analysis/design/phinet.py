"""PhiNet as its authors build it (micromind 0.2.1, ``micromind.networks.PhiNet``), layer for layer.

Hyperparameters: width ``alpha``, shape factor ``beta``, base expansion ``t0``
(micromind's ``t_zero``), number of blocks ``n_blocks`` (``num_layers``); the
options keep micromind's names and defaults (``downsampling_layers=(5, 7)``,
``conv5_percent``, ``first_conv_stride``, ``residuals``, ``pool``,
``h_swish``, ``squeeze_excite``, ``divisor=1``, ``compatibility``,
``include_top``, ``num_classes``). ``conv2d_input=True`` is not built here
(its BatchNorm follows the activation, which does not fold into a conv).

Layout (read in micromind's source; the code here is our own):
- stem: zero padding as TensorFlow's SAME for a stride-2 3x3 (right/bottom
  only on an even map), a 3x3 depthwise conv with stride ``first_conv_stride``
  on the input channels (no BatchNorm), a 1x1 conv to d(48 alpha), BN, act;
- block 0: depthwise-separable (3x3 depthwise, BN, act, 1x1 to d(24 alpha),
  BN), no expansion, no squeeze-excite;
- blocks 1..N (ids as micromind's ``block_id``): 1x1 expansion to
  d(int(t_i C_in)), BN, act; kxk depthwise (stride 2: padding 1 on every side,
  whatever k), BN, act; squeeze-excite (global average pool, 1x1 to
  d(max(1, int(C/6))) without bias, act, 1x1 back without bias, sigmoid,
  multiply); 1x1 projection, BN; residual add when stride 1 and C_in = C_out.
  Widths: ids 1, 2 at 24 alpha, id 3 at 48 alpha, then doubling at each id in
  ``downsampling_layers``; stride 2 at ids 1, 3 and the downsampling ids
  (with ``pool``, stride 1 and a 2x2 max-pool instead); k = 5 where
  id / N > 1 - conv5_percent (ids 1-3 always 3);
- t_i = (t0 beta) i / N + t0 (N - i) / N; d(v) = micromind's
  ``_make_divisible(int(v), divisor)``; act = hard-swish or ReLU6.

Both the torch module (``PhiNet``) and the closed-form counts
(``complexity``) are built from one plan (``plan``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import torch.nn as nn

from bench.errors import ConfigError

from .blocks import classifier_head
from .closed_form import Graph

HYPER = ("alpha", "beta", "t0")
DEFAULTS = {"alpha": 0.2, "beta": 1.0, "t0": 6.0, "n_blocks": 7}
OPTIONS = {"downsampling_layers": (5, 7), "conv5_percent": 0.0, "first_conv_stride": 2, "residuals": True,
           "pool": False, "h_swish": True, "squeeze_excite": True, "divisor": 1, "compatibility": False,
           "include_top": False, "num_classes": 10}
BN_EPS = 1e-3    # micromind's; irrelevant to the counts, kept so trained weights would transfer


def make_divisible(v: float, divisor: int = 1) -> int:
    """Nearest multiple of ``divisor`` (at least ``divisor``), never more than 10 % below v (micromind's rule)."""
    new_v = max(divisor, int(v + divisor / 2) // divisor * divisor)
    return new_v + divisor if new_v < 0.9 * v else new_v


def expansion(t0: float, beta: float, block_id: int, n_blocks: int) -> float:
    """t_i, evaluated in micromind's floating-point order (channel counts truncate it)."""
    return (t0 * beta) * block_id / n_blocks + t0 * (n_blocks - block_id) / n_blocks


def same_pad(size: int, k: int = 3) -> tuple[int, int]:
    """Padding (before, after) of micromind's ``correct_pad``: TF SAME for a stride-2 conv."""
    return (k // 2 - (1 - size % 2), k // 2)


@dataclass(frozen=True)
class Block:
    block_id: int        # 0: the separable first block
    c_in: int
    mid: int             # expanded channels (= c_in when there is no expansion)
    c_out: int
    k: int
    stride: int
    se: int              # squeeze-excite reduced channels, 0 without
    residual: bool
    expand: bool
    pools_after: int = 0  # 2x2 max-pools after the block (option ``pool``)


@dataclass(frozen=True)
class Plan:
    hyper: dict
    options: dict
    resolution: int
    in_channels: int
    stem: int
    blocks: tuple[Block, ...] = field(default_factory=tuple)


def plan(alpha: float = 0.2, beta: float = 1.0, t0: float = 6.0, n_blocks: int = 7, *, resolution: int = 224,
         in_channels: int = 3, **options) -> Plan:
    unknown = set(options) - set(OPTIONS)
    if "conv2d_input" in unknown and not options["conv2d_input"]:
        unknown.discard("conv2d_input")
    if unknown:
        raise ConfigError(f"unknown PhiNet option(s) {sorted(unknown)}; known: {', '.join(OPTIONS)}"
                          + ("; conv2d_input=True is not built (BatchNorm after the activation)"
                             if "conv2d_input" in unknown else ""))
    o = {**OPTIONS, **{k: v for k, v in options.items() if k != "conv2d_input"}}
    o["downsampling_layers"] = tuple(int(i) for i in o["downsampling_layers"])
    n = round(n_blocks) if not isinstance(n_blocks, int) else n_blocks
    if n < 1:
        raise ConfigError(f"PhiNet needs n_blocks >= 1, got {n_blocks}")
    if o["compatibility"]:
        o["h_swish"], o["squeeze_excite"] = False, False
    div = int(o["divisor"])
    d = lambda v: make_divisible(int(v), div)  # noqa: E731

    blocks: list[Block] = []

    def block(block_id: int, c_in: int, c_out: int, t: float, stride: int, k: int = 3, se: bool = True) -> None:
        expand = bool(block_id)
        mid = make_divisible(int(t * c_in), div) if expand else c_in
        se_ch = make_divisible(max(1, int(mid / 6)), div) if se else 0
        blocks.append(Block(block_id, c_in, mid, c_out, k, stride, se_ch,
                            bool(o["residuals"]) and c_in == c_out and stride == 1, expand))

    def pool_after() -> None:
        blocks[-1] = Block(**{**asdict(blocks[-1]), "pools_after": blocks[-1].pools_after + 1})

    stem = d(48 * alpha)
    b1, b2 = d(24 * alpha), d(48 * alpha)
    down = 1 if o["pool"] else 2
    se = bool(o["squeeze_excite"])
    block(0, stem, b1, 1, 1, se=False)
    block(1, b1, b1, expansion(t0, beta, 1, n), down, se=se)
    if o["pool"]:
        pool_after()
    block(2, b1, b1, expansion(t0, beta, 2, n), 1, se=se)
    block(3, b1, b2, expansion(t0, beta, 3, n), down, se=se)
    if o["pool"]:
        pool_after()
    filters, c_in = 48, b2
    for i in range(4, n + 1):
        ds = i in o["downsampling_layers"]
        if ds:
            filters *= 2
            if o["pool"]:
                pool_after()
        k = 5 if i / n > 1 - o["conv5_percent"] else 3
        c_out = d(filters * alpha)
        block(i, c_in, c_out, expansion(t0, beta, i, n), 2 if ds and not o["pool"] else 1, k, se)
        c_in = c_out
    for b in blocks:
        if min(b.c_in, b.mid, b.c_out) < 1:
            raise ConfigError(f"PhiNet alpha={alpha:g}: block {b.block_id} would have no channels")
    return Plan({"alpha": alpha, "beta": beta, "t0": t0, "n_blocks": n}, o, int(resolution), int(in_channels),
                stem, tuple(blocks))


def _act_name(p: Plan) -> str:
    return "Hardswish" if p.options["h_swish"] else "ReLU6"


def complexity(p: Plan):
    """Closed-form counts of the plan's network (see analysis.design.closed_form)."""
    g = Graph(p.in_channels, p.resolution)
    act = _act_name(p)
    s = int(p.options["first_conv_stride"])
    x = g.conv("stem.dw", 0, p.in_channels, 3, s, pad=same_pad(p.resolution), groups=p.in_channels)
    x = g.conv("stem.pw", x, p.stem, 1)
    x = g.act("stem.act", x, act) if act != "ReLU6" else x        # ReLU6 fuses into the conv
    for b in p.blocks:
        inp, name = x, f"b{b.block_id}"
        if b.expand:
            x = g.conv(f"{name}.expand", x, b.mid, 1)
            x = g.act(f"{name}.expand_act", x, act) if act != "ReLU6" else x
        x = g.conv(f"{name}.dw", x, b.mid, b.k, b.stride, pad=b.k // 2 if b.stride == 1 else 1, groups=b.mid)
        x = g.act(f"{name}.dw_act", x, act) if act != "ReLU6" else x
        if b.se:
            gate = g.pool(f"{name}.se.pool", x, 1)
            gate = g.conv(f"{name}.se.reduce", gate, b.se, 1)
            gate = g.act(f"{name}.se.act", gate, act) if act != "ReLU6" else gate
            gate = g.conv(f"{name}.se.expand", gate, b.mid, 1)
            gate = g.act(f"{name}.se.gate", gate, "Sigmoid")
            x = g.binary(f"{name}.se.mul", "mul", x, gate)
        x = g.conv(f"{name}.project", x, b.c_out, 1)
        if b.residual:
            x = g.binary(f"{name}.add", "add", x, inp)
        for j in range(b.pools_after):
            c, h, w = g.shape(x)
            x = g.pool(f"{name}.maxpool{j}", x, h // 2, w // 2, k=2)
    x = g.head(x, p.options)
    cx = g.complexity()
    for c, h, w in g.shapes:
        if h < 1 or w < 1:
            raise ConfigError(f"PhiNet at resolution {p.resolution}: a feature map shrinks to nothing")
    return cx


# -- torch -----------------------------------------------------------------------------
def _act(h_swish: bool) -> nn.Module:
    return nn.Hardswish() if h_swish else nn.ReLU6()


class SqueezeExcite(nn.Module):
    """Global pool, 1x1 reduce (no bias), act, 1x1 expand (no bias), sigmoid, scale the input."""

    def __init__(self, c: int, reduced: int, act: nn.Module):
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.reduce = nn.Conv2d(c, reduced, 1, bias=False)
        self.act = act
        self.expand = nn.Conv2d(reduced, c, 1, bias=False)
        self.gate = nn.Sigmoid()

    def forward(self, x):
        return x * self.gate(self.expand(self.act(self.reduce(self.pool(x)))))


def _bn(c: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(c, eps=BN_EPS)


def block_for_slot(c_in: int, c_out: int, stride: int, t: float = 6.0, k: int = 3, se: bool = True,
                   divisor: int = 1) -> Block:
    """One PhiNet block (id >= 1) filling a layer slot, with micromind's channel rounding."""
    mid = make_divisible(int(t * c_in), divisor)
    return Block(1, c_in, mid, c_out, k, stride, make_divisible(max(1, int(mid / 6)), divisor) if se else 0,
                 c_in == c_out and stride == 1, True)


class PhiNetBlock(nn.Module):
    def __init__(self, b: Block, h_swish: bool = True):
        super().__init__()
        layers: list[nn.Module] = []
        if b.expand:
            layers += [nn.Conv2d(b.c_in, b.mid, 1, bias=False), _bn(b.mid), _act(h_swish)]
        pad = b.k // 2 if b.stride == 1 else 1
        layers += [nn.Conv2d(b.mid, b.mid, b.k, b.stride, pad, groups=b.mid, bias=False), _bn(b.mid),
                   _act(h_swish)]
        if b.se:
            layers.append(SqueezeExcite(b.mid, b.se, _act(h_swish)))
        layers += [nn.Conv2d(b.mid, b.c_out, 1, bias=False), _bn(b.c_out)]
        self.body = nn.Sequential(*layers)
        self.residual = b.residual
        self.pool = nn.Sequential(*[nn.MaxPool2d(2) for _ in range(b.pools_after)])

    def forward(self, x):
        y = self.body(x)
        return self.pool(y + x if self.residual else y)


class PhiNet(nn.Module):
    def __init__(self, p: Plan):
        super().__init__()
        c, s = p.in_channels, int(p.options["first_conv_stride"])
        before, after = same_pad(p.resolution)
        self.stem = nn.Sequential(nn.ZeroPad2d((before, after, before, after)),
                                  nn.Conv2d(c, c, 3, s, 0, groups=c, bias=False),
                                  nn.Conv2d(c, p.stem, 1, bias=False), _bn(p.stem), _act(p.options["h_swish"]))
        self.blocks = nn.Sequential(*[PhiNetBlock(b, p.options["h_swish"]) for b in p.blocks])
        self.head = classifier_head(p.blocks[-1].c_out, p.options)
        self.plan = p
        self.plans = list(p.blocks)

    def forward(self, x):
        return self.head(self.blocks(self.stem(x)))


def phinet(alpha: float = 0.2, beta: float = 1.0, t0: float = 6.0, n_blocks: int = 7, **kw) -> PhiNet:
    """The torch network; ``resolution`` (default 224) sets the stem's SAME padding, as micromind's input_shape."""
    return PhiNet(plan(alpha, beta, t0, n_blocks, **kw))


def micromind_call(p: Plan) -> str:
    """The micromind constructor call that builds the same network."""
    h = p.hyper
    args = [f"input_shape=({p.in_channels}, {p.resolution}, {p.resolution})", f"num_layers={h['n_blocks']}",
            f"alpha={h['alpha']:g}", f"beta={h['beta']:g}", f"t_zero={h['t0']:g}"]
    for k, default in OPTIONS.items():
        v = p.options[k]
        if k in ("h_swish", "squeeze_excite") and p.options["compatibility"]:
            continue
        if (tuple(v) if isinstance(v, (list, tuple)) else v) != default:
            args.append(f"{k}={list(v) if isinstance(v, tuple) else v!r}")
    return f"PhiNet({', '.join(args)})"
