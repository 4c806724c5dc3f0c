"""How results come back: the framed serial protocol, per-image record
collection and the ``results.csv`` writer.

Uses shared helpers only.
"""
