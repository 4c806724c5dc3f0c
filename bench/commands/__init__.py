"""The command layer: one module per ``python -m bench`` command (registered in
``bench.cli``) and the Hydra entry points. The only part of ``bench`` that may
compose a measurement with ``analysis`` (reports, the predictor).
"""
