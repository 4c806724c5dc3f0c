"""PhiNet and XiNet against micromind 0.2.1, the authors' reference implementation, layer by layer.

micromind is installed with --no-deps (setup.sh does; this test does it into a temporary folder when it is
missing) and its two network files are loaded by path: the package __init__ imports torchvision and
accelerate, which the torch 2.13 CPU wheel does not carry. For every configuration the micromind network,
ours (analysis.design.phinet / xinet) and our closed-form counts must agree operator by operator.
"""

import importlib.util
import subprocess
import sys

import pytest
import torch

from analysis.design import phinet, reference, xinet
from analysis.design.complexity import count

COLUMNS = ["op", "h", "w", "c_in", "c_out", "k", "stride", "groups", "out_h", "out_w", "macs", "params",
           "flash_bytes", "elem_ops", "out_bytes", "live_bytes"]


@pytest.fixture(scope="session")
def micromind(tmp_path_factory):
    """micromind's networks/phinet.py and xinet.py, loaded by file path."""
    root = reference.installed_root()
    if root is None:
        target = tmp_path_factory.mktemp("micromind")
        pkgs = [f"micromind=={reference.VERSION}"] + ([] if importlib.util.find_spec("torchinfo") else ["torchinfo"])
        done = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target",
                               str(target), *pkgs], capture_output=True, text=True)
        if done.returncode != 0:
            pytest.skip(f"micromind {reference.VERSION} could not be installed (pip install --no-deps): "
                        f"{done.stderr.strip().splitlines()[-1:] or done.returncode}")
        sys.path.insert(0, str(target))      # torchinfo, which micromind's phinet.py imports
        root = target / "micromind"
    return reference.load(root)


def _same_layers(ref, ours, label):
    a, b = ref.table()[COLUMNS], ours.table()[COLUMNS]
    assert len(a) == len(b), f"{label}: {len(a)} operators in micromind, {len(b)} here"
    for i in range(len(a)):
        assert list(a.iloc[i]) == list(b.iloc[i]), (f"{label}: operator {i} ({ref.layers[i].name} vs "
                                                    f"{ours.layers[i].name})")
    assert ref.peak_ram_bytes == ours.peak_ram_bytes


def _same_network(reference_net, family, plan, shape, label):
    """micromind's network, ours built from the plan, and the plan's closed form: the same operators."""
    with torch.device("meta"):       # shapes only: no weight initialisation (count runs the graph on meta)
        ref_net = reference_net()
        ours = (family.PhiNet if family is phinet else family.XiNet)(plan)
    assert sum(p.numel() for p in ours.parameters()) == sum(p.numel() for p in ref_net.parameters())
    ref = count(ref_net, shape)
    _same_layers(ref, count(ours, shape), f"traced {label}")
    _same_layers(ref, family.complexity(plan), f"closed form {label}")


# (micromind keyword arguments, resolution, input channels); the first two PhiNets and the first XiNet are
# the issue's, the rest vary alpha, beta, t0, gamma, the options, the input size and channels
PHINET = [
    (dict(), 224, 3),                                                     # the docstring's PhiNet((3, 224, 224))
    (dict(alpha=1.111, beta=1.375, t_zero=2.25), 96, 3),                  # the scale answer
    (dict(alpha=0.5, beta=0.75, t_zero=4), 97, 3),                        # odd input: other stem padding
    (dict(alpha=1.0, num_layers=9, downsampling_layers=[5, 7, 9], conv5_percent=0.3, divisor=8), 160, 1),
    (dict(alpha=0.35, h_swish=False, squeeze_excite=False, residuals=False), 128, 3),
    (dict(alpha=0.5, pool=True, compatibility=True, include_top=True), 64, 3),
    (dict(alpha=0.3, num_layers=5, conv5_percent=0.5, downsampling_layers=[4, 5], beta=1.3, t_zero=3), 80, 3),
]
XINET = [
    (dict(), 224, 3),                                                     # XiNet((3, 224, 224)) defaults
    (dict(alpha=0.5, gamma=3.7), 96, 3),                                  # gamma truncated to 3
    (dict(alpha=0.25, gamma=2, num_layers=6), 128, 1),
    (dict(alpha=1.5, gamma=6, num_layers=4, include_top=True, num_classes=10), 64, 3),
]


@pytest.mark.parametrize("kw,res,c", PHINET, ids=[f"phinet{i}" for i in range(len(PHINET))])
def test_phinet_layer_for_layer(micromind, kw, res, c):
    mine = dict(kw)
    hyper = [mine.pop("alpha", 0.2), mine.pop("beta", 1.0), mine.pop("t_zero", 6), mine.pop("num_layers", 7)]
    plan = phinet.plan(*hyper, resolution=res, in_channels=c, **mine)
    _same_network(lambda: micromind["phinet"].PhiNet((c, res, res), **kw), phinet, plan, (c, res, res), kw)
    assert phinet.micromind_call(plan).startswith(f"PhiNet(input_shape=({c}, {res}, {res})")


@pytest.mark.parametrize("kw,res,c", XINET, ids=[f"xinet{i}" for i in range(len(XINET))])
def test_xinet_layer_for_layer(micromind, kw, res, c):
    mine = dict(kw)
    plan = xinet.plan(mine.pop("alpha", 1.0), mine.pop("gamma", 4.0), mine.pop("num_layers", 5), resolution=res,
                      in_channels=c, **mine)
    _same_network(lambda: micromind["xinet"].XiNet((c, res, res), **kw), xinet, plan, (c, res, res), kw)


def test_docstring_figures(micromind):
    """micromind's own PhiNet((3, 224, 224)) figures (torchinfo: BN parameters counted, no conv biases) and
    ours at int8 deployment (BN folded into one bias per conv output channel), as the issue states them."""
    with torch.device("meta"):
        ours = phinet.phinet()
    assert sum(p.numel() for p in ours.parameters()) == 30_917
    cx = phinet.complexity(phinet.plan())
    assert (cx.params, cx.macs) == (30_456, 9_815_790)
    if importlib.util.find_spec("torchinfo") is not None:
        assert micromind["phinet"].PhiNet((3, 224, 224)).get_complexity() == {"MAC": 9_817_670, "params": 30_917}


def test_micromind_call_builds_the_same_network(micromind):
    plan = phinet.plan(0.7, 1.2, 5.0, 7, resolution=96, divisor=8, downsampling_layers=(5, 6))
    call = phinet.micromind_call(plan)
    with torch.device("meta"):
        ref_net = reference.build(call, micromind)                   # the printed call, run as printed
        xref = reference.build(xinet.micromind_call(xinet.plan(0.6, 5.0, 5, resolution=96)), micromind)
    _same_layers(count(ref_net, (3, 96, 96)), phinet.complexity(plan), call)
    xplan = xinet.plan(0.6, 5.0, 5, resolution=96)
    xcall = xinet.micromind_call(xplan)
    assert xcall == "XiNet(input_shape=(3, 96, 96), alpha=0.6, gamma=5, num_layers=5)"
    _same_layers(count(xref, (3, 96, 96)), xinet.complexity(xplan), xcall)


def test_scale_answer_is_the_micromind_network(micromind):
    from analysis.design.scale import Budget, Problem, against_micromind, solve, verify

    p = Problem("phinet", Budget(flash_bytes=96 * 1024, ram_bytes=64 * 1024),
                {"alpha": (0.05, 3.0), "beta": (0.5, 1.5), "t0": (2.0, 6.0)}, {"n_blocks": 7}, resolutions=(64,),
                grid=3)
    answer, _ = solve(p)
    v = verify(p, answer)
    check = against_micromind(v["micromind"], (3, 64, 64), v, micromind)
    assert check["compared"] and check["equal"], (check, v["closed_form"])
