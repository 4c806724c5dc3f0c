"""Emulated timing: instruction-class histograms of the timed windows, per-core
cycle models (``conf/cores/``) and their calibration against measured cycles.

Uses ``bench.collect.protocol`` and shared helpers.
"""
