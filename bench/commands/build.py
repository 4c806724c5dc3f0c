"""``python -m bench build``: generate and build a run's images, no board needed.

Takes the same overrides as ``run`` (op=, board=, sweep=, kernels=, any
dotted key), composes the config with Hydra's compose API (no run folder),
plans the cases and images exactly as a run would, builds every image and
prints its size against each of the board's memories. Exit code 1 when an
image does not fit or does not compile. Useful in CI and before taking a
board off the shelf.
"""

from __future__ import annotations

import logging
import sys
from typing import Mapping

from bench import paths
from bench.build.images import build_image, compiler_version, plan_images
from bench.build.settings import build_settings
from bench.cases.plan import plan_cases
from bench.errors import BenchError, ConfigError

log = logging.getLogger(__name__)

USAGE = """usage: python -m bench build [OVERRIDE ...]

Generate the cases and build the firmware images of a run without running
them; print each image's bytes per memory region against the board's memories.

  python -m bench build op=depthwise board=nucleo_h743 sweep=smoke
  python -m bench build board=qemu_m7 sweep=default run.jobs=1

Overrides are Hydra's (group=option, dotted.key=value), as for `run`."""


def compose(overrides: list[str]) -> dict:
    """The plain config a ``run`` with these overrides would get."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.errors import HydraException
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    try:
        with initialize_config_dir(config_dir=str(paths.conf_dir()), version_base="1.3"):
            cfg = hydra_compose(config_name="config", overrides=list(overrides))
        # Keys that only Hydra's runtime resolves (run dirs) are not needed here.
        cfg = OmegaConf.masked_copy(cfg, [k for k in cfg.keys() if k != "hydra"])
        return OmegaConf.to_container(cfg, resolve=True)
    except (HydraException, OmegaConfBaseException) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"bad override: {first}") from None


def size_table(name: str, n_cases: int, sizes: Mapping, memory: Mapping) -> list[str]:
    """Lines: one per memory region, used / size and percent."""
    lines = [f"{name}: {n_cases} case(s), text={sizes['text']} data={sizes['data']} bss={sizes['bss']}"]
    for region in memory:
        used, size = int(sizes[f"{region}_used"]), int(sizes[f"{region}_size"])
        pct = 100.0 * used / size if size else 0.0
        flag = "  OVER" if used > size else ""
        lines.append(f"  {region:<10} {used:>9} / {size:>9} bytes  {pct:5.1f} %{flag}")
    return lines


def build_all(cfg: Mapping, out=print) -> list[dict]:
    """Plan, generate and build every image; returns one size row per image."""
    from bench.cases.generate import generate

    specs = plan_cases(cfg)
    settings = build_settings(cfg)
    compiler_version()
    images = plan_images(specs, settings, jobs=int(cfg["run"]["jobs"]))
    out(f"{len(specs)} case(s) for board {settings.board} in {len(images)} image(s); "
        f"kernels={settings.kernels}; {' '.join(settings.cflags)} {' '.join(settings.defines)}".rstrip())
    cache = paths.cache_dir()
    by_id = {}
    for spec in specs:
        by_id[spec.case_id] = generate(spec, cache)
    rows = []
    memory = settings.memory
    for n, image_specs in enumerate(images):
        image = build_image(f"img{n}", [by_id[s.case_id] for s in image_specs], settings, cache)
        for line in size_table(image.name, len(image_specs), image.sizes, memory):
            out(line)
        out(f"  elf: {image.elf}")
        rows.append({"image": image.name, "cases": len(image_specs), "elf": str(image.elf),
                     "firmware_hash": image.firmware_hash, **image.sizes})
    return rows


def main(args: list[str]) -> int:
    if any(a in ("-h", "--help") for a in args):
        print(USAGE)
        return 0
    cfg = compose(args)
    rows = build_all(cfg)
    over = [r["image"] for r in rows
            if any(int(r[f"{m}_used"]) > int(r[f"{m}_size"]) for m in cfg["board"]["memory"])]
    if over:
        raise BenchError(f"image(s) {', '.join(over)} exceed a memory of board {cfg['board']['name']}")
    print(f"ok: {len(rows)} image(s) built for {cfg['board']['name']}", file=sys.stderr)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(sys.argv[1:]))
