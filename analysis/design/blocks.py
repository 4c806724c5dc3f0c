"""Convolutional blocks in torch for the block-design search.

- Baselines: MobileNetV2's ``InvertedResidual``, ResNet's ``BasicBlock`` and
  ``Bottleneck``. PhiNet's and XiNet's blocks and networks are in
  analysis/design/phinet.py and xinet.py (built as micromind builds them).
- ``TemplateBlock``: the search space of analysis.design.search (channel
  structure, operator per conv, kernel size, expansion/compression ratio).

Every builder takes plain numbers and returns an ``nn.Module``; build under
``torch.device("meta")`` when only counting (no weight initialisation cost).
"""

from __future__ import annotations

import math

import torch.nn as nn

from bench.errors import ConfigError


def _act(name: str) -> nn.Module:
    return {"relu": nn.ReLU, "relu6": nn.ReLU6, "hswish": nn.Hardswish, "silu": nn.SiLU}[name]()


def conv_bn(c_in: int, c_out: int, k: int, stride: int = 1, groups: int = 1, act: str | None = "relu") -> nn.Sequential:
    """Conv (SAME padding, no bias: BN folds into it) + BN + optional activation."""
    layers: list[nn.Module] = [nn.Conv2d(c_in, c_out, k, stride, k // 2, groups=groups, bias=False),
                               nn.BatchNorm2d(c_out)]
    if act:
        layers.append(_act(act))
    return nn.Sequential(*layers)


def classifier_head(c_in: int, options: dict) -> nn.Module:
    """micromind's optional head (``include_top``): global average pool, flatten, linear; else identity."""
    if not options["include_top"]:
        return nn.Identity()
    return nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c_in, int(options["num_classes"])))


# -- baselines ---------------------------------------------------------------
class InvertedResidual(nn.Module):
    """MobileNetV2: 1x1 expand (t), kxk depthwise, linear 1x1 project, ReLU6, residual."""

    def __init__(self, c_in: int, c_out: int, stride: int = 1, t: int = 6, k: int = 3):
        super().__init__()
        mid = c_in * t
        self.expand = conv_bn(c_in, mid, 1, act="relu6") if t != 1 else nn.Identity()
        self.dw = conv_bn(mid, mid, k, stride, groups=mid, act="relu6")
        self.project = conv_bn(mid, c_out, 1, act=None)
        self.residual = stride == 1 and c_in == c_out

    def forward(self, x):
        y = self.project(self.dw(self.expand(x)))
        return y + x if self.residual else y


class BasicBlock(nn.Module):
    """ResNet: two 3x3 convs, 1x1 projection shortcut when the shape changes."""

    def __init__(self, c_in: int, c_out: int, stride: int = 1):
        super().__init__()
        self.a = conv_bn(c_in, c_out, 3, stride)
        self.b = conv_bn(c_out, c_out, 3, act=None)
        self.shortcut = conv_bn(c_in, c_out, 1, stride, act=None) if stride != 1 or c_in != c_out else nn.Identity()
        self.out = nn.ReLU()

    def forward(self, x):
        return self.out(self.b(self.a(x)) + self.shortcut(x))


class Bottleneck(nn.Module):
    """ResNet: 1x1 reduce to width, 3x3 (stride), 1x1 expand to c_out, shortcut."""

    def __init__(self, c_in: int, c_out: int, stride: int = 1, width: int | None = None):
        super().__init__()
        width = width or max(1, c_out // 4)
        self.a = conv_bn(c_in, width, 1)
        self.b = conv_bn(width, width, 3, stride)
        self.c = conv_bn(width, c_out, 1, act=None)
        self.shortcut = conv_bn(c_in, c_out, 1, stride, act=None) if stride != 1 or c_in != c_out else nn.Identity()
        self.out = nn.ReLU()

    def forward(self, x):
        return self.out(self.c(self.b(self.a(x))) + self.shortcut(x))


# -- search templates ----------------------------------------------------------
SPATIAL_OPS = ("standard", "depthwise", "grouped")
ONE_BY_ONE_OPS = ("pointwise", "grouped")


def _groups(op: str, c_in: int, c_out: int, g: int) -> int:
    if op in ("standard", "pointwise"):
        return 1
    if op == "depthwise":
        return c_in
    if c_in % g or c_out % g:
        raise ConfigError(f"grouped conv with {g} groups needs C_in={c_in} and C_out={c_out} divisible by {g}")
    return g


class TemplateBlock(nn.Module):
    """Three convs around a wide or narrow middle, residual when shapes match.

    structure ``nwn`` (narrow-wide-narrow): 1x1 expand C_in -> ratio C_in, kxk
    spatial conv, 1x1 project to C_out. ``wnw`` (wide-narrow-wide): 1x1
    compress C_in -> C_out / ratio, kxk spatial conv, 1x1 expand to C_out.
    ``spatial_op``: standard, depthwise or grouped; ``pw_op``: pointwise or
    grouped (1x1) for the two 1x1 convs; ``groups`` for the grouped ones.
    Widths are rounded up to a multiple of ``groups`` so grouped convs divide.
    """

    def __init__(self, c_in: int, c_out: int, stride: int, structure: str, ratio: float,
                 spatial_op: str, k: int, pw_op: str = "pointwise", groups: int = 4, act: str = "relu6"):
        super().__init__()
        if structure == "nwn":
            mid = c_in * ratio
        elif structure == "wnw":
            mid = c_out / ratio
        else:
            raise ConfigError(f"structure must be nwn or wnw, got {structure!r}")
        mid = max(groups, groups * math.ceil(mid / groups - 1e-9))
        self.mid = mid
        self.first = conv_bn(c_in, mid, 1, groups=_groups(pw_op, c_in, mid, groups), act=act)
        self.spatial = conv_bn(mid, mid, k, stride, groups=_groups(spatial_op, mid, mid, groups), act=act)
        self.last = conv_bn(mid, c_out, 1, groups=_groups(pw_op, mid, c_out, groups), act=None)
        self.residual = stride == 1 and c_in == c_out

    def forward(self, x):
        y = self.last(self.spatial(self.first(x)))
        return y + x if self.residual else y
