#!/usr/bin/env bash
# Set up this machine for mcu-opbench, then optionally run something.
#
#   ./setup.sh            install only
#   ./setup.sh run [OVERRIDES...]   install, then python -m bench run OVERRIDES
#   ./setup.sh test [PYTEST ARGS...] install, then the test suite
#
# Installs, when missing: the Arm bare-metal toolchain and newlib and
# qemu-system-arm (Debian packages, no Recommends), torch pinned to the CPU
# build (torch==2.13.0; an unpinned torch pulls GBs of CUDA packages), and
# this package in editable mode with its dev extras, and micromind 0.2.1
# without its dependencies (the reference PhiNet/XiNet the tests compare with).
set -euo pipefail
cd "$(dirname "$0")"

PYTHON=${PYTHON:-python3}
DEB_PACKAGES=(gcc gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm)  # gcc: the QEMU cycle plugin

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
        echo "setup.sh: need root for: $*  (run as root or install sudo)" >&2; exit 1; fi
}

missing=()
for pkg in "${DEB_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "setup.sh: installing Debian packages: ${missing[*]}"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
fi

if ! "$PYTHON" -c "import torch, sys; sys.exit(0 if torch.__version__.startswith('2.13.0') else 1)" 2>/dev/null; then
    echo "setup.sh: installing torch==2.13.0 (CPU build)"
    "$PYTHON" -m pip install --quiet "torch==2.13.0"
fi
if ! "$PYTHON" -c "import bench, analysis, pytest" 2>/dev/null || [ pyproject.toml -nt .setup-stamp ]; then
    echo "setup.sh: installing mcu-opbench (editable, with dev extras)"
    "$PYTHON" -m pip install --quiet -e ".[dev]"
    touch .setup-stamp
fi
# micromind (PhiNet/XiNet by their authors) for tests/test_micromind.py: --no-deps, because its
# requirements pull torchvision and accelerate; the test loads its two network files by path.
if ! "$PYTHON" -c "import importlib.metadata as m, sys; sys.exit(m.version('micromind') != '0.2.1')" 2>/dev/null; then
    echo "setup.sh: installing micromind==0.2.1 (--no-deps)"
    "$PYTHON" -m pip install --quiet --no-deps "micromind==0.2.1"
fi

# The QEMU cycle plugin (cycles_estimated) is C built with the host gcc; build it
# now so the first run does not (a run would build it lazily otherwise).
if command -v "${CC:-gcc}" >/dev/null; then
    "$PYTHON" -m bench.timing.plugin_build >/dev/null || echo "setup.sh: building the QEMU cycle plugin failed (runs will retry)" >&2
else
    echo "setup.sh: no host C compiler (${CC:-gcc}): runs need it for cycles_estimated, or use run.cycles=false" >&2
fi

case "${1:-}" in
    "") ;;
    run) shift; exec "$PYTHON" -m bench run "$@" ;;
    test) shift; exec "$PYTHON" -m pytest "$@" ;;
    *) echo "usage: ./setup.sh [run [OVERRIDES...] | test [PYTEST ARGS...]]" >&2; exit 2 ;;
esac
