"""``python -m bench list``: every choice a command line can make (ops, boards, sweeps, kernel
libraries, cores, power monitors, and the budgets and families of scale/search), read from
conf/, each with the first line of its description."""

from __future__ import annotations

import argparse
from pathlib import Path

from omegaconf import OmegaConf

from bench import paths
from bench.cases.spec import EXTRA_OPS
from bench.cases.spec import OPS as CONV_OPS

# (config group, how it is chosen, what it is)
GROUPS = [
    ("op", "op=NAME (or op.names=[...])", "operator sets"),
    ("board", "board=NAME", "boards"),
    ("sweep", "sweep=NAME", "sweeps of layer slots"),
    ("kernels", "kernels=NAME", "kernel libraries"),
    ("cores", "board.core (cycle models)", "cores"),
    ("power", "power=NAME", "power monitors"),
    ("budget", "scale/search budget=NAME", "budgets"),
    ("family", "scale family=NAME", "network families"),
]


def _describe(path: Path) -> str:
    """The yaml's description: key, else its first comment line."""
    cfg = OmegaConf.load(path)
    text = cfg.get("description") if hasattr(cfg, "get") else None
    if not text:  # the first sentence of the leading comment
        block = []
        for ln in path.read_text().splitlines():
            if not ln.startswith("#"):
                break
            block.append(ln.lstrip("# ").strip())
        text = " ".join(block)
        text = text.split(". ")[0].split(": ")[0].rstrip(".:") if text else ""
        text = text if len(text) <= 100 else text[:97] + "..."
    details = []
    if "core" in cfg and path.parent.name == "board":
        details.append(f"core {cfg.core}")
    if "shapes" in cfg:
        details.append(f"{len(cfg.shapes)} slots")
    if "names" in cfg:
        details.append("ops " + ", ".join(cfg.names))
    return text + (f" [{'; '.join(details)}]" if details else "")


def catalog() -> dict[str, list[tuple[str, str]]]:
    conf = paths.conf_dir()
    out = {group: [(p.stem, _describe(p)) for p in sorted((conf / group).glob("*.yaml"))]
           for group, _, _ in GROUPS}
    return out


def main(args: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench list",
                                     description="ops, boards, sweeps, kernel libraries, cores and the other "
                                                 "choices a command line can make (from conf/)")
    parser.add_argument("group", nargs="?", choices=[g for g, _, _ in GROUPS], help="only this group")
    ns = parser.parse_args(args)
    items = catalog()
    if ns.group in (None, "op"):
        print("operators (op.names=[...]): convolutions " + ", ".join(CONV_OPS)
              + "; element-wise and pooling " + ", ".join(EXTRA_OPS))
    for group, how, what in GROUPS:
        if ns.group not in (None, group):
            continue
        print(f"\n{what} ({how}):")
        width = max(len(name) for name, _ in items[group]) + 2
        for name, text in items[group]:
            print(f"  {name:<{width}}{text}")
    return 0
