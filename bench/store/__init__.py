"""Where results are kept: the SQLite results store with baselines, resume by
case content keys, regression checks and step detection over history.

Uses ``bench.build`` (for case keys), ``bench.cases`` and shared helpers.
"""
