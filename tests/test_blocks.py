"""Blocks and networks: counts by hand, residual/broadcast liveness, PhiNet/XiNet plans as micromind's.

tests/test_micromind.py compares the networks with micromind itself; these tests need no micromind.
"""

import pytest
import torch

from analysis.design import phinet, xinet
from analysis.design.blocks import BasicBlock, Bottleneck, InvertedResidual, TemplateBlock
from analysis.design.complexity import count
from bench.errors import ConfigError


def test_inverted_residual_by_hand():
    cx = count(InvertedResidual(8, 8, 1, t=2), (8, 4, 4))
    t = cx.table()
    assert list(t["op"]) == ["pointwise", "depthwise", "pointwise", "add"]
    assert list(t["macs"]) == [16 * 16 * 8, 16 * 16 * 9, 16 * 8 * 16, 0]
    # x(128) lives to the add: expand x+e, dw x+e+d, project x+d+p, add x+p+out
    assert list(t["live_bytes"]) == [384, 640, 512, 384]
    assert cx.peak_ram_bytes == 640


def test_resnet_blocks_by_hand():
    basic = count(BasicBlock(8, 16, 2), (8, 8, 8)).table()
    assert list(basic["op"]) == ["standard", "standard", "pointwise", "add"]
    assert list(basic["macs"]) == [16 * 16 * 72, 16 * 16 * 144, 16 * 16 * 8, 0]
    assert basic["fused"].iloc[-1] == "ReLU"
    bott = count(Bottleneck(16, 16, 1), (16, 4, 4)).table()
    assert list(bott["op"]) == ["pointwise", "standard", "pointwise", "add"]
    assert list(bott["c_out"].iloc[:3]) == [4, 4, 16]


def test_template_block_structures():
    nwn = TemplateBlock(16, 16, 1, "nwn", 4, "depthwise", 5)
    wnw = TemplateBlock(16, 16, 1, "wnw", 4, "standard", 3, pw_op="grouped", groups=2)
    assert nwn.mid == 64 and wnw.mid == 4
    t = count(wnw, (16, 8, 8)).table()
    assert list(t["op"]) == ["grouped", "standard", "grouped", "add"]
    assert t["macs"].iloc[0] == 64 * 4 * (16 // 2)
    t = count(nwn, (16, 8, 8)).table()
    assert list(t["op"]) == ["pointwise", "depthwise", "pointwise", "add"] and t["k"].iloc[1] == 5


def test_make_divisible_is_micromind_rule():
    assert [phinet.make_divisible(v, 8) for v in (3, 9.6, 12, 20, 48, 100)] == [8, 16, 16, 24, 48, 104]
    assert [phinet.make_divisible(v) for v in (0, 4, 9)] == [1, 4, 9]          # divisor 1: the default


def test_phinet_default_plan():
    """PhiNet((3, 224, 224)): separable block 0 then ids 1..7, widths 24a, 24a, 24a, 48a, 48a, 96a, 96a, 192a."""
    p = phinet.plan()
    assert p.stem == 9                                                   # int(48 x 0.2)
    assert [b.c_out for b in p.blocks] == [4, 4, 4, 9, 9, 19, 19, 38]
    assert [b.stride for b in p.blocks] == [1, 2, 1, 2, 1, 2, 1, 2]     # with the stem: total stride 32
    assert [b.se > 0 for b in p.blocks] == [False] + [True] * 7         # no squeeze-excite in block 0
    assert not p.blocks[0].expand and p.blocks[0].mid == p.stem
    # t_i = t0 beta i / N + t0 (N - i) / N with beta = 1: 6 for every block, truncated after x C_in
    assert [b.mid for b in p.blocks[1:]] == [24, 24, 24, 54, 54, 114, 114]
    assert [b.residual for b in p.blocks] == [False, False, True, False, True, False, True, False]


def test_phinet_expansion_grows_with_beta():
    p = phinet.plan(1.0, beta=2.0, t0=4, n_blocks=4)
    t4 = 4 * 2 * 4 / 4 + 4 * 0 / 4
    assert p.blocks[4].mid == int(t4 * p.blocks[4].c_in)


@pytest.mark.parametrize("kw", [dict(), dict(h_swish=False, divisor=8), dict(pool=True, alpha=0.5),
                                dict(alpha=0.4, n_blocks=6, conv5_percent=0.5, downsampling_layers=(4, 6))])
def test_phinet_closed_form_equals_traced(kw):
    args = {"alpha": 0.3, **kw}
    plan = phinet.plan(**args, resolution=65)
    with torch.device("meta"):
        traced = count(phinet.PhiNet(plan), (3, 65, 65))
    closed = phinet.complexity(plan)
    cols = ["op", "macs", "params", "flash_bytes", "elem_ops", "live_bytes"]
    assert traced.table()[cols].equals(closed.table()[cols])


def test_phinet_options_change_the_network():
    base = phinet.complexity(phinet.plan(0.5, resolution=96))
    no_se = phinet.complexity(phinet.plan(0.5, resolution=96, squeeze_excite=False))
    relu = phinet.complexity(phinet.plan(0.5, resolution=96, h_swish=False))
    assert no_se.params < base.params and (no_se.table()["op"] == "mul").sum() == 0
    assert (relu.table()["detail"] == "Hardswish").sum() == 0 < (base.table()["detail"] == "Hardswish").sum()
    with pytest.raises(ConfigError, match="unknown PhiNet option"):
        phinet.plan(0.5, beta_typo=1)
    with pytest.raises(ConfigError, match="conv2d_input"):
        phinet.plan(0.5, conv2d_input=True)


def test_xinet_default_plan():
    """XiNet((3, 224, 224)): 7x7 stem to 16a, 8 XiConvs at 16 2^i a, attention in all but the last two."""
    p = xinet.plan()
    assert p.stem == 16 and len(p.blocks) == 8
    assert [b.c_out for b in p.blocks] == [32, 32, 64, 64, 128, 128, 256, 256]
    assert [b.pool for b in p.blocks] == [True, False, True, False, True, False, False, False]
    assert [b.skip for b in p.blocks] == [False] + [True] * 7
    assert [b.attention > 0 for b in p.blocks] == [True] * 6 + [False] * 2
    assert [b.skip_res for b in p.blocks[1:]] == [56, 56, 28, 28, 14, 14, 14]


def test_xinet_gamma_is_truncated_and_last_blocks_keep_gamma_4():
    a, b = xinet.plan(0.5, 3.0), xinet.plan(0.5, 3.9)
    assert a.blocks == b.blocks                                        # int(3.9) = 3
    assert [blk.g for blk in a.blocks] == [3] * 6 + [4, 4]
    assert a.blocks[0].comp == 16 // 3 and a.blocks[-1].comp == 128 // 4


def test_xinet_closed_form_equals_traced_with_broadcast_skip_alive():
    plan = xinet.plan(0.5, 4, 5, resolution=64)
    with torch.device("meta"):
        traced = count(xinet.XiNet(plan), (3, 64, 64))
    closed = xinet.complexity(plan)
    cols = ["op", "macs", "params", "flash_bytes", "elem_ops", "live_bytes"]
    assert traced.table()[cols].equals(closed.table()[cols])
    t = closed.table()
    # the first block's output (the broadcast skip) stays live until the last block's skip pooling reads it
    early = plan.blocks[0].c_out * 16 * 16
    first, last = t.index[t["name"] == "b0.att.mul"][0], t.index[t["name"] == "b7.skip.pool"][0]
    assert (t["live_bytes"].iloc[first:last + 1] >= early).all()
    assert set(t.loc[t["op"].isin(["standard", "depthwise", "grouped", "pointwise"]), "op"]) == {"standard",
                                                                                                "pointwise"}


def test_xinet_refuses_what_micromind_cannot_run():
    with pytest.raises(ConfigError, match="skip map"):
        xinet.complexity(xinet.plan(0.5, 4, 5, resolution=103))       # 103: stem 52, pool 26, skip int(103/4)=25
    with pytest.raises(ConfigError, match="without channels"):
        xinet.plan(0.1, 4)
    with pytest.raises(ConfigError, match="int\\(gamma\\) = 1"):
        xinet.plan(1.0, 1.5, 5)
