"""What is measured: case specs and sweeps, int8 quantization, single-operator
``.tflite`` models and their golden outputs from the LiteRT reference kernels.

Uses only shared helpers (``bench.errors``, ``bench.paths``).
"""
