"""From cases to firmware images: C case tables, memory layout, image packing,
arm-none-eabi-gcc builds and external kernel libraries (CMSIS-NN).

Uses ``bench.cases`` and shared helpers.
"""
