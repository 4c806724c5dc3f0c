"""XiNet as its authors build it (micromind 0.2.1, ``micromind.networks.XiNet``), layer for layer.

Hyperparameters: width ``alpha`` and compression ``gamma``; ``n_blocks`` is
micromind's ``num_layers`` (default 5), options ``base_filters`` (16),
``include_top`` and ``num_classes``. There is no beta: widths are fixed
powers of two times alpha.

Layout (read in micromind's source; the code here is our own):
- stem: 7x7 stride-2 conv (padding 3) to int(base_filters alpha), BN, SiLU;
- widths f_i = int(2^(sqrt(base_filters) + i)), i = 0..N-1 (16 2^i for the
  default base 16); 2 (N - 2) + 2 XiConv blocks: for i = 0..N-3 a block
  int(f_i alpha) -> int(f_{i+1} alpha) with a 2x2 max-pool before its main
  conv, then a block at int(f_{i+1} alpha); then two blocks to and at
  int(f_{N-1} alpha) without attention and without pooling;
- XiConv: broadcast skip (every block but the first: the first block's output,
  average-pooled to int(input size / 2^d), d the halvings so far, then a 1x1
  conv to C_out // g), 1x1 compression to C_out // g (only when g > 1), the
  skip added, the optional max-pool, 3x3 main conv to C_out, BN, SiLU, then
  light attention (1x1 to C_out // g // 2, 3x3 back to C_out, sigmoid,
  multiply). No conv has a bias.
- g = int(gamma): gamma is truncated to an integer. The last two blocks are
  built with micromind's default gamma (4), whatever gamma the network has;
  that is the reference's behaviour and is reproduced.

Both the torch module (``XiNet``) and the closed-form counts (``complexity``)
are built from one plan (``plan``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch.nn as nn

from bench.errors import ConfigError

from .blocks import classifier_head
from .closed_form import Graph

HYPER = ("alpha", "gamma")
DEFAULTS = {"alpha": 1.0, "gamma": 4.0, "n_blocks": 5}
OPTIONS = {"base_filters": 16, "include_top": False, "num_classes": 1000}
LAST_BLOCKS_GAMMA = 4    # micromind builds its last two XiConvs with XiConv's default gamma


@dataclass(frozen=True)
class Block:
    c_in: int
    c_out: int
    comp: int            # compressed channels C_out // g (0: no compression conv, g = 1)
    k: int
    pool: bool           # 2x2 max-pool before the main conv
    skip: bool           # broadcast skip from the first block's output
    skip_res: int        # the skip tensor is average-pooled to skip_res x skip_res
    attention: int       # attention channels C_out // g // 2 (0: no attention)
    g: int               # int(gamma) of this block

    @property
    def mid(self) -> int:
        return self.comp

    @property
    def stride(self) -> int:
        return 1


@dataclass(frozen=True)
class Plan:
    hyper: dict
    options: dict
    resolution: int
    in_channels: int
    stem: int
    skip_channels: int
    blocks: tuple[Block, ...] = field(default_factory=tuple)


def plan(alpha: float = 1.0, gamma: float = 4.0, n_blocks: int = 5, *, resolution: int = 224, in_channels: int = 3,
         **options) -> Plan:
    unknown = set(options) - set(OPTIONS)
    if unknown:
        raise ConfigError(f"unknown XiNet option(s) {sorted(unknown)}; known: {', '.join(OPTIONS)}")
    o = {**OPTIONS, **options}
    n, base = int(n_blocks), int(o["base_filters"])
    if n < 3:
        raise ConfigError(f"XiNet needs n_blocks (num_layers) >= 3, got {n_blocks}")
    filters = [int(2 ** (base ** 0.5 + i)) for i in range(n)]
    skip_ch = int(base * 2 * alpha)
    stem = int(base * alpha)
    # micromind's skip_res: the input size as float32, divided by 2^d, truncated
    size = lambda d: int(np.float32(resolution) / np.float32(2 ** d))  # noqa: E731

    def xiconv(c_in, c_out, g, pool, skip, d, attention=True) -> Block:
        g = int(g)
        comp = c_out // g if g > 1 else 0
        return Block(c_in, c_out, comp, 3, pool, skip, size(d) if skip else 0,
                     (c_out // g // 2) if attention else 0, g)

    blocks, d = [], 1
    for i in range(n - 2):
        blocks.append(xiconv(int(filters[i] * alpha), int(filters[i + 1] * alpha), gamma, True, i != 0, d))
        d += 1
        blocks.append(xiconv(int(filters[i + 1] * alpha), int(filters[i + 1] * alpha), gamma, False, True, d))
    blocks.append(xiconv(int(filters[-2] * alpha), int(filters[-1] * alpha), LAST_BLOCKS_GAMMA, False, True, d,
                         attention=False))
    blocks.append(xiconv(int(filters[-1] * alpha), int(filters[-1] * alpha), LAST_BLOCKS_GAMMA, False, True, d,
                         attention=False))
    p = Plan({"alpha": alpha, "gamma": gamma, "n_blocks": n}, o, int(resolution), int(in_channels), stem, skip_ch,
             tuple(blocks))
    _check(p)
    return p


def _check(p: Plan) -> None:
    """Refuse what micromind could not build or run (it would fail on a shape mismatch or a 0-channel conv)."""
    a, gamma = p.hyper["alpha"], p.hyper["gamma"]
    if p.blocks[0].c_in != p.stem:
        raise ConfigError(f"XiNet base_filters={p.options['base_filters']}: the stem gives {p.stem} channels, the "
                          f"first block expects {p.blocks[0].c_in} (micromind needs 2^sqrt(base) = base, e.g. 16)")
    if p.blocks[0].c_out != p.skip_channels:
        raise ConfigError(f"XiNet alpha={a:g}: the skip tensor has {p.blocks[0].c_out} channels, its convs expect "
                          f"{p.skip_channels}")
    last = len(p.blocks) - 2
    for i, b in enumerate(p.blocks):
        if b.g == 1 and b.skip and b.c_in != b.c_out:
            raise ConfigError(f"XiNet gamma={gamma:g}: int(gamma) = 1 leaves no compression conv, so block {i}'s "
                              f"skip ({b.c_out} channels) cannot add to its input ({b.c_in})")
        if min(b.c_in, b.c_out) < 1 or (b.g > 1 and b.comp < 1) or (i < last and b.attention < 1):
            raise ConfigError(f"XiNet alpha={a:g}, gamma={gamma:g}: block {i} would have a layer without channels")


def complexity(p: Plan):
    """Closed-form counts of the plan's network (see analysis.design.closed_form)."""
    g = Graph(p.in_channels, p.resolution)
    x = g.conv("stem", 0, p.stem, 7, 2, pad=3)
    x = g.act("stem.act", x, "SiLU")
    early = None
    for i, b in enumerate(p.blocks):
        name = f"b{i}"
        s = None
        if b.skip and early is not None:
            s = g.pool(f"{name}.skip.pool", early, b.skip_res)
            s = g.conv(f"{name}.skip.conv", s, b.comp or b.c_out, 1)
        if b.comp:
            x = g.conv(f"{name}.compress", x, b.comp, 1)
        if s is not None:
            if g.shape(x) != g.shape(s):
                raise ConfigError(f"XiNet at resolution {p.resolution}: block {i}'s skip map {g.shape(s)[1:]} does "
                                  f"not match its input {g.shape(x)[1:]} (micromind fails too); use a resolution "
                                  f"divisible by {2 ** (len(p.blocks) // 2)}")
            x = g.binary(f"{name}.skip.add", "add", x, s)
        if b.pool:
            c, h, w = g.shape(x)
            x = g.pool(f"{name}.maxpool", x, h // 2, w // 2, k=2)
        x = g.conv(f"{name}.main", x, b.c_out, b.k)
        x = g.act(f"{name}.act", x, "SiLU")
        if b.attention:
            att = g.conv(f"{name}.att.pw", x, b.attention, 1)
            att = g.conv(f"{name}.att.conv", att, b.c_out, 3)
            att = g.act(f"{name}.att.gate", att, "Sigmoid")
            x = g.binary(f"{name}.att.mul", "mul", x, att)
        if i == 0:
            early = x
    x = g.head(x, p.options)
    if min(min(s[1:]) for s in g.shapes) < 1:
        raise ConfigError(f"XiNet at resolution {p.resolution}: a feature map shrinks to nothing")
    return g.complexity()


# -- torch -----------------------------------------------------------------------------
def block_for_slot(c_in: int, c_out: int, stride: int, gamma: float = 4.0, attention: bool = True) -> Block:
    """One XiConv filling a layer slot: no broadcast skip (a lone block has no early tensor); stride 2 is
    XiNet's max-pool before the main conv."""
    g = int(gamma)
    return Block(c_in, c_out, c_out // g if g > 1 else 0, 3, stride == 2, False, 0,
                 c_out // g // 2 if attention else 0, g)


class XiConv(nn.Module):
    def __init__(self, b: Block, skip_channels: int = 0):
        super().__init__()
        self.skip = None
        if b.skip:
            self.skip = nn.Sequential(nn.AdaptiveAvgPool2d(b.skip_res),
                                      nn.Conv2d(skip_channels, b.comp or b.c_out, 1, bias=False))
        self.compress = nn.Conv2d(b.c_in, b.comp, 1, bias=False) if b.comp else nn.Identity()
        self.pool = nn.MaxPool2d(2) if b.pool else nn.Identity()
        self.main = nn.Sequential(nn.Conv2d(b.comp or b.c_in, b.c_out, b.k, 1, b.k // 2, bias=False),
                                  nn.BatchNorm2d(b.c_out), nn.SiLU())
        self.attention = None
        if b.attention:
            self.attention = nn.Sequential(nn.Conv2d(b.c_out, b.attention, 1, bias=False),
                                           nn.Conv2d(b.attention, b.c_out, 3, 1, 1, bias=False), nn.Sigmoid())

    def forward(self, x, early=None):
        s = self.skip(early) if self.skip is not None and early is not None else None
        x = self.compress(x)
        if s is not None:
            x = x + s
        x = self.main(self.pool(x))
        return x * self.attention(x) if self.attention is not None else x


class XiNet(nn.Module):
    def __init__(self, p: Plan):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(p.in_channels, p.stem, 7, 2, 3, bias=False), nn.BatchNorm2d(p.stem),
                                  nn.SiLU())
        self.blocks = nn.ModuleList([XiConv(b, p.skip_channels) for b in p.blocks])
        self.head = classifier_head(p.blocks[-1].c_out, p.options)
        self.plan = p
        self.plans = list(p.blocks)

    def forward(self, x):
        x = self.stem(x)
        early = None
        for i, block in enumerate(self.blocks):
            x = block(x, early)
            if i == 0:
                early = x
        return self.head(x)


def xinet(alpha: float = 1.0, gamma: float = 4.0, n_blocks: int = 5, **kw) -> XiNet:
    """The torch network; ``resolution`` (default 224) sets the skip pools, as micromind's input_shape."""
    return XiNet(plan(alpha, gamma, n_blocks, **kw))


def micromind_call(p: Plan) -> str:
    """The micromind constructor call that builds the same network."""
    h = p.hyper
    args = [f"input_shape=({p.in_channels}, {p.resolution}, {p.resolution})", f"alpha={h['alpha']:g}",
            f"gamma={h['gamma']:g}", f"num_layers={h['n_blocks']}"]
    args += [f"{k}={p.options[k]!r}" for k, v in OPTIONS.items() if p.options[k] != v]
    return f"XiNet({', '.join(args)})"
