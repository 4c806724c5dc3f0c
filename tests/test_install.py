"""The package finds its configs and firmware when installed from a wheel,
not only from the source tree."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_wheel_install_finds_configs_and_firmware(tmp_path):
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels), str(ROOT)],
                   check=True, capture_output=True, timeout=300)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True, timeout=120)
    py = venv / "bin" / "python"
    subprocess.run([str(py), "-m", "pip", "install", "-q", "--no-deps", *map(str, wheels.glob("*.whl"))],
                   check=True, capture_output=True, timeout=300)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    where = subprocess.run([str(py), "-c", "from bench import paths; print(paths.conf_dir()); print(paths.firmware_dir())"],
                           cwd=elsewhere, capture_output=True, text=True, check=True).stdout.split()
    assert all("site-packages" in p for p in where), where
    assert (Path(where[1]) / "runner" / "main.c").exists()
    assert (Path(where[1]) / "boards" / "mps2" / "link.ld").exists()
    cfg = subprocess.run([str(py), "-m", "bench", "run", "op=depthwise", "--cfg", "job"],
                         cwd=elsewhere, capture_output=True, text=True, timeout=120)
    assert cfg.returncode == 0, cfg.stderr
    assert "- depthwise" in cfg.stdout and "mps2-an500" in cfg.stdout
