"""Where results are kept: the SQLite results store with baselines, resume by
case content keys, regression checks and step detection over history.

Uses ``bench.build`` (for case keys), ``bench.cases``, ``bench.collect`` (the
results.csv row schema, run-folder files) and shared helpers.
"""
