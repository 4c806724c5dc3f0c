"""Emulated timing: estimated cycles of the timed windows and the models behind them.

- ``qemu_plugin/`` (C) + ``plugin_build``, ``core_model``, ``qemu_cycles``: the QEMU
  cycle plugin, the per-core pipeline models (``conf/cores/<core>.yaml``) and the
  pairing of its totals with the firmware's windows (the default ``cycles_estimated``);
- ``sequence``: short instruction sequences timed like the published experiments
  (the models' validation);
- ``calibrate_pipeline``: the pipeline model's parts fitted to a board's DWT cycles;
- ``instruction_mix``, ``instruction_classes``, ``cycle_model``, ``calibrate``: the
  Unicorn instruction-class histogram and the linear class model (opt-in).

Uses ``bench.collect.protocol`` and shared helpers.
"""
