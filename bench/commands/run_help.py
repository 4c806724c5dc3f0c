"""``python -m bench run --help``: the config groups `run` composes (op, board, sweep, kernels,
power) with their options, the settings most often changed, and Hydra's flags. Hydra's own
help would list every group in conf/, including budget/cores/family/farm that `run` rejects."""

from __future__ import annotations

from omegaconf import OmegaConf

from bench import paths


def _flat(prefix: str, node) -> list[str]:
    if isinstance(node, dict):
        return [line for key, value in node.items() for line in _flat(f"{prefix}.{key}" if prefix else key, value)]
    return [f"{prefix}={node}"]


def run_help() -> str:
    conf = paths.conf_dir()
    top = OmegaConf.to_container(OmegaConf.load(conf / "config.yaml"), resolve=False)
    groups = [next(iter(d)) for d in top["defaults"] if isinstance(d, dict)]
    lines = ["usage: python -m bench run [GROUP=OPTION ...] [KEY=VALUE ...]   (Hydra overrides)",
             "       python -m bench run -m GROUP=A,B ...                     (one job per combination "
             "+ a combined report)", "", "config groups (group=option; the default first):"]
    for group in groups:
        default = next(d[group] for d in top["defaults"] if isinstance(d, dict) and group in d)
        options = sorted(p.stem for p in (conf / group).glob("*.yaml"))
        options.sort(key=lambda o: o != default)
        lines.append(f"  {group + ':':<9}{', '.join(options)}")
    lines += ["", "settings (key=value; any key of `--cfg job` can be set the same way):"]
    for section in ("run", "build", "store"):
        lines += [f"  {item}" for item in _flat(section, top.get(section) or {})]
    lines += ["  op.groups=4  op.depth_multiplier=1  op.names=[standard,depthwise]", "",
              "Hydra flags: --cfg job (print the composed config and stop), hydra.run.dir=DIR, --hydra-help",
              "python -m bench list   describes every option of every group."]
    return "\n".join(lines)
