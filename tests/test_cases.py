import pytest

from bench.cases.spec import CaseSpec, case_for_slot, expand_sweep, validate
from bench.errors import ConfigError

SLOT = {"hw": 32, "cin": 16, "cout": 32, "k": 3, "stride": 1}


def make(op, slot=SLOT, groups=4):
    return case_for_slot(op, slot, groups=groups, depth_multiplier=1, padding="same", seed=0)


def test_mac_counts_worked_by_hand():
    # 32x32 out, 32 out channels, 3x3 taps over 16 input channels
    assert make("standard").macs == 32 * 32 * 32 * 9 * 16 == 4_718_592
    # depthwise: C_out = C_in = 16, each output reads one channel
    assert make("depthwise").macs == 32 * 32 * 16 * 9 == 147_456
    # 4 groups: each output reads 16 / 4 = 4 channels
    assert make("grouped").macs == 32 * 32 * 32 * 9 * 4 == 1_179_648
    assert make("pointwise").macs == 32 * 32 * 32 * 16 == 524_288


def test_params_and_bytes():
    s = make("standard")
    assert s.params == 32 * 3 * 3 * 16 + 32
    assert s.weight_bytes == 32 * 3 * 3 * 16 + 4 * 32
    assert s.activation_bytes == 32 * 32 * 16 + 32 * 32 * 32


def test_same_padding_is_tflite_style():
    # stride 2 on an even map: total padding 1, all of it after
    s = make("standard", {"hw": 8, "cin": 4, "cout": 4, "k": 3, "stride": 2})
    assert (s.out_h, s.pad_h) == (4, 0)
    s = make("standard", {"hw": 9, "cin": 4, "cout": 4, "k": 5, "stride": 2})
    assert (s.out_h, s.pad_h) == (5, 2)
    s = make("standard", {"hw": 8, "cin": 4, "cout": 4, "k": 3, "stride": 1})
    assert (s.out_h, s.pad_h) == (8, 1)


def test_valid_padding_output_size():
    s = case_for_slot("standard", {"hw": 10, "cin": 4, "cout": 4, "k": 3, "stride": 2},
                      groups=1, depth_multiplier=1, padding="valid", seed=0)
    assert (s.out_h, s.pad_h) == (4, 0)


def test_references_match_the_rule():
    dw = make("depthwise")
    assert dw.reference() == CaseSpec("standard", 32, 32, 16, 16, 3, 1, 1, "same", 3, 0)
    pw = make("pointwise")
    ref = pw.reference()
    assert (ref.op, ref.k, ref.c_out) == ("standard", 3, 32)
    assert pw.case_id != make("pointwise", {**SLOT, "k": 5}).case_id


def test_expand_sweep_adds_references_once():
    cases = expand_sweep(["depthwise", "standard"], [SLOT], groups=4, depth_multiplier=1,
                         padding="same", seed=0)
    ids = [c.case_id for c in cases]
    assert len(ids) == len(set(ids))
    assert {c.op for c in cases} == {"depthwise", "standard"}
    assert "std_32x32x16_o16_k3s1s" in ids  # the depthwise reference


def test_groups_must_divide_channels_and_message_names_choices():
    with pytest.raises(ConfigError) as err:
        expand_sweep(["grouped"], [{"hw": 8, "cin": 12, "cout": 12, "k": 3}], groups=5,
                     depth_multiplier=1, padding="same", seed=0)
    text = str(err.value)
    assert "groups=5" in text and "c_in=12" in text and "valid groups: 1, 2, 3, 4, 6, 12" in text


def test_kernel_larger_than_unpadded_input_is_rejected():
    case = case_for_slot("standard", {"hw": 4, "cin": 4, "cout": 4, "k": 5}, groups=1,
                         depth_multiplier=1, padding="valid", seed=0)
    problems = validate(case)
    assert problems and "larger than the unpadded input" in problems[0]


def test_unknown_op_names_valid_ops():
    with pytest.raises(ConfigError, match="valid ops: standard, depthwise, grouped, pointwise"):
        expand_sweep(["dilated"], [SLOT], groups=4, depth_multiplier=1, padding="same", seed=0)


def test_nonpositive_sizes_rejected():
    case = CaseSpec("standard", 0, 8, 4, 4, 3)
    assert any("h=0" in p for p in validate(case))


def test_sweep_shapes_use_one_vocabulary_and_name_what_is_wrong():
    from bench.cases.spec import slot_shape

    assert slot_shape({"h": 8, "c_in": 4, "c_out": 8, "k": 3}) == (8, 8, 4, 8, 3, 1)
    assert slot_shape({"h": 8, "w": 6, "c_in": 4, "c_out": 8, "k": 3, "stride": 2}) == (8, 6, 4, 8, 3, 2)
    # hw/cin/cout: the keys of sweeps written before, still read the same
    assert slot_shape({"hw": 8, "cin": 4, "cout": 8, "k": 3}) == (8, 8, 4, 8, 3, 1)
    with pytest.raises(ConfigError, match="unknown key.*C_in.*missing c_in.*a shape takes h, w, c_in"):
        slot_shape({"h": 8, "C_in": 4, "c_out": 8, "k": 3})


def test_concurrent_generation_of_one_case_into_an_empty_cache(tmp_path):
    """A farm's ref and opt jobs generate the same standard convs at once: every writer
    must end with the same whole cache entry (each writes its own temporary file)."""
    from concurrent.futures import ThreadPoolExecutor

    import numpy as np

    from bench.cases.generate import generate

    spec = case_for_slot("standard", {"h": 6, "c_in": 4, "c_out": 8, "k": 3}, groups=1,
                         depth_multiplier=1, padding="same", seed=0)
    with ThreadPoolExecutor(max_workers=4) as pool:
        made = list(pool.map(lambda _: generate(spec, tmp_path), range(4)))
    for g in made[1:]:
        assert np.array_equal(g.golden, made[0].golden) and g.model_path.read_bytes() == made[0].model_path.read_bytes()
    assert not list(tmp_path.rglob("*.tmp"))  # no temporary file left behind
