"""A benchmark run end to end: plan, generate, build, run on a target, collect,
store. Plain functions over a config mapping; no Hydra, no analysis.

Uses every stage package below it; only ``bench.commands`` uses it.
"""
