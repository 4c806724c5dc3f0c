"""``python -m bench build``: images built without a board, sizes against the board's memories."""

from __future__ import annotations

import shutil

import pytest

from bench import cli
from bench.build import settings
from bench.commands import build as build_cmd
from bench.errors import ConfigError

needs_gcc = pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None,
                               reason="arm-none-eabi-gcc not installed (run ./setup.sh)")


def test_registered_in_the_cli():
    assert cli.COMMANDS["build"][0] == "bench.commands.build:main"


@needs_gcc
@pytest.mark.parametrize("board, regions", [("nucleo_h743", ["FLASH", "ITCM", "DTCM", "AXI_SRAM"]),
                                            ("qemu_m7", ["FLASH", "SRAM"])])
def test_build_prints_sizes_per_memory(board, regions, capsys, isolated_cache):
    assert build_cmd.main(["op=depthwise", f"board={board}", "sweep=smoke"]) == 0
    out = capsys.readouterr().out
    assert f"for board {board}" in out
    for region in regions:
        assert f"  {region}" in out
    assert "OVER" not in out and "elf:" in out


def test_bad_override_is_a_config_error():
    with pytest.raises(ConfigError, match="bad override"):
        build_cmd.main(["board=no_such_board"])


def test_help(capsys):
    assert build_cmd.main(["--help"]) == 0
    assert "board=nucleo_h743" in capsys.readouterr().out


def cfg(board_extra=None, power=None):
    board = {"name": "b", "reps": 5, **(board_extra or {})}
    return {"board": board, "power": power or {"kind": "none"}}


def test_repeat_defines():
    assert settings.repeat_defines(cfg()) == ()  # emulators: fixed repetitions
    assert settings.repeat_defines(cfg({"repeat": {"target_rse": 0.002, "max_reps": 200, "budget_ms": 3000}})) == (
        "-DBENCH_RSE_PPM=2000", "-DBENCH_MAX_REPS=200", "-DBENCH_BUDGET_MS=3000")
    assert settings.repeat_defines(cfg(power={"kind": "lpm01a", "min_window_ms": 500, "baseline_ms": 200})) == (
        "-DBENCH_MIN_WINDOW_MS=500", "-DBENCH_IDLE_MS=200")
    with pytest.raises(ConfigError, match="target_rse must be between 0 and 1"):
        settings.repeat_defines(cfg({"repeat": {"target_rse": 2}}))
    with pytest.raises(ConfigError, match="below reps"):
        settings.repeat_defines(cfg({"repeat": {"target_rse": 0.01, "max_reps": 2}}))
    with pytest.raises(ConfigError, match="bad repeat settings"):
        settings.repeat_defines(cfg({"repeat": {"max_reps": 9}}))
