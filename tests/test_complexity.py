"""Exact counts and liveness on small networks worked out by hand."""

import pytest
import torch
import torch.nn as nn

from analysis.design.complexity import conv_class, count


class Chain(nn.Module):
    """3x8x8 -> conv3x3(8)+BN+ReLU -> dw3x3+BN+ReLU6 -> pw(16) -> grouped3x3 g4 s2 -> GAP -> FC(10)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(8)
        self.act = nn.ReLU()
        self.dw = nn.Conv2d(8, 8, 3, padding=1, groups=8)
        self.dw_bn = nn.BatchNorm2d(8)
        self.dw_act = nn.ReLU6()
        self.pw = nn.Conv2d(8, 16, 1)
        self.gc = nn.Conv2d(16, 16, 3, stride=2, padding=1, groups=4)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(16, 10)

    def forward(self, x):
        x = self.act(self.bn(self.conv(x)))
        x = self.dw_act(self.dw_bn(self.dw(x)))
        x = self.gc(self.pw(x))
        return self.fc(torch.flatten(self.pool(x), 1))


def test_chain_counts_by_hand():
    cx = count(Chain(), (3, 8, 8))
    t = cx.table().set_index("name")
    # op class, MACs, params (bias always: BN folds into it), flash = w + 4*c_out + 8*c_out
    expect = {
        "conv": ("standard", 8 * 8 * 8 * 3 * 3 * 3, 8 * 27 + 8, 216 + 32 + 64),
        "dw": ("depthwise", 8 * 8 * 8 * 9, 72 + 8, 72 + 32 + 64),
        "pw": ("pointwise", 8 * 8 * 16 * 8, 128 + 16, 128 + 64 + 128),
        "gc": ("grouped", 4 * 4 * 16 * 9 * 4, 16 * 9 * 4 + 16, 576 + 64 + 128),
        "fc": ("linear", 160, 170, 160 + 40 + 8),
    }
    for name, (op, macs, params, flash) in expect.items():
        row = t.loc[name]
        assert (row.op, row.macs, row.params, row.flash_bytes) == (op, macs, params, flash), name
    assert t.loc["pool", "op"] == "pooling" and t.loc["pool", "elem_ops"] == 16 * 16
    assert t.loc["conv", "fused"] == "BatchNorm2d+ReLU"
    assert t.loc["dw", "fused"] == "BatchNorm2d+ReLU6"
    assert list(t.index) == ["conv", "dw", "pw", "gc", "pool", "fc"]   # BN, ReLU, flatten are not layers
    assert cx.macs == 13824 + 4608 + 8192 + 9216 + 160
    # live bytes per operator: input+output (the network input dies after conv)
    assert list(t["live_bytes"]) == [192 + 512, 512 + 512, 512 + 1024, 1024 + 256, 256 + 16, 16 + 10]
    assert cx.peak_ram_bytes == 1536 and cx.peak_layer == "pw"


class Residual(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Conv2d(8, 8, 3, padding=1)
        self.bn_a = nn.BatchNorm2d(8)
        self.b = nn.Conv2d(8, 8, 3, padding=1)
        self.bn_b = nn.BatchNorm2d(8)

    def forward(self, x):
        y = torch.relu(self.bn_a(self.a(x)))
        return torch.relu(self.bn_b(self.b(y)) + x)


def test_residual_keeps_input_alive():
    cx = count(Residual(), (8, 8, 8))
    t = cx.table().set_index("name")
    # x (512 B) stays live until the add: a: x+y; b: x+y+z; add: x+z+out
    assert list(t["live_bytes"]) == [1024, 1536, 1536]
    assert cx.peak_ram_bytes == 1536
    assert t.loc["add", "op"] == "add" and t.loc["add", "elem_ops"] == 512
    assert t.loc["add", "fused"] == "relu"


class SqueezeExcite(nn.Module):
    """Broadcast branch: a (16x4x4) is live while its pooled, projected gate is computed."""

    def __init__(self):
        super().__init__()
        self.pw = nn.Conv2d(16, 16, 1)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Conv2d(16, 16, 1)
        self.gate = nn.Sigmoid()

    def forward(self, x):
        a = self.pw(x)
        return a * self.gate(self.fc(self.pool(a)))


def test_broadcast_branch_liveness():
    cx = count(SqueezeExcite(), (16, 4, 4))
    t = cx.table().set_index("name")
    assert list(t.index) == ["pw", "pool", "fc", "gate", "mul"]
    assert list(t["live_bytes"]) == [512, 256 + 16, 256 + 16 + 16, 256 + 16 + 16, 256 + 16 + 256]
    assert cx.peak_ram_bytes == 528 and cx.peak_layer == "mul"
    assert t.loc["fc", "macs"] == 16 * 16 and t.loc["fc", "op"] == "pointwise"
    assert t.loc["gate", "op"] == "activation" and t.loc["gate", "elem_ops"] == 16
    assert t.loc["mul", "elem_ops"] == 256


def test_relu_not_fused_when_conv_output_has_two_readers():
    class Two(nn.Module):
        def __init__(self):
            super().__init__()
            self.c = nn.Conv2d(4, 4, 1)

        def forward(self, x):
            y = self.c(x)
            return torch.relu(y) + y

    t = count(Two(), (4, 2, 2)).table()
    assert list(t["op"]) == ["pointwise", "activation", "add"]


@pytest.mark.parametrize("c_in,c_out,k,g,expect", [
    (8, 8, 3, 1, "standard"), (8, 16, 1, 1, "pointwise"), (8, 8, 3, 8, "depthwise"),
    (8, 16, 5, 8, "depthwise"), (8, 16, 3, 4, "grouped"), (8, 8, 1, 2, "grouped")])
def test_conv_class(c_in, c_out, k, g, expect):
    assert conv_class(c_in, c_out, k, g) == expect


def test_meta_device_counts_match_cpu():
    with torch.device("meta"):
        meta = Chain()
    assert count(meta, (3, 8, 8)).totals() == count(Chain(), (3, 8, 8)).totals()


def test_pooling_taps_from_kernel_not_ratio():
    class Pools(nn.Module):
        def __init__(self):
            super().__init__()
            self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
            self.gap = nn.AdaptiveAvgPool2d(1)

        def forward(self, x):
            return self.gap(self.maxpool(x))

    t = count(Pools(), (4, 8, 8)).table().set_index("name")
    assert t.loc["maxpool", "elem_ops"] == 4 * 4 * 4 * 9     # 4x4x4 outputs, 3x3 window each
    assert t.loc["gap", "elem_ops"] == 4 * 16


def test_conv_counts_agree_with_bench_cases():
    """Every conv of a network counts the same MACs, params and flash as the bench case that measures it."""
    from analysis.design import phinet, xinet
    from analysis.design.measure import case_for

    with torch.device("meta"):
        convs = count(xinet.xinet(0.5, 3, 5, resolution=50), (3, 50, 50)).convs()
        convs += count(phinet.phinet(0.5, 1.2, 4, 7, resolution=50), (3, 50, 50)).convs()
    assert len(convs) > 40
    for layer in convs:
        case = case_for(layer)
        assert (case.macs, case.params, case.weight_bytes + case.quant_bytes) == \
            (layer.macs, layer.params, layer.flash_bytes), layer.name
        assert (case.out_h, case.out_w) == (layer.out_h, layer.out_w)


def test_count_leaves_the_model_mode_alone():
    m = Chain().train()
    count(m, (3, 8, 8))
    assert m.training


class PaddedClamp(nn.Module):
    """micromind's idioms: explicit ZeroPad2d before a VALID conv, ReLU6 written as clamp(0, 6), and a
    Conv2d subclass (its DepthwiseConv2d)."""

    class Depthwise(nn.Conv2d):
        def __init__(self, c):
            super().__init__(c, c, 3, 2, 0, groups=c, bias=False)

    def __init__(self):
        super().__init__()
        self.pad = nn.ZeroPad2d((0, 1, 0, 1))
        self.dw = self.Depthwise(4)
        self.bn = nn.BatchNorm2d(4)

    def forward(self, x):
        return torch.clamp(self.bn(self.dw(self.pad(x))), min=0, max=6)


def test_padding_folds_and_clamp_fuses():
    t = count(PaddedClamp(), (4, 8, 8)).table()
    assert list(t["op"]) == ["depthwise"]               # no pad layer, no activation layer
    row = t.iloc[0]
    assert (row.h, row.out_h, row.macs) == (8, 4, 4 * 4 * 4 * 9)    # the unpadded map is the conv's input
    assert row.fused == "BatchNorm2d+clamp"
    assert row.live_bytes == 4 * 64 + 4 * 16           # the padded copy is never materialised
