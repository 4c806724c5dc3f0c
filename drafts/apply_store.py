"""Apply the store changes to bench/store/db.py (after the layout merge)."""
import sys
p = sys.argv[1]
s = open(p).read()
old = s[s.index("        with self.db:\n            old = self.db.execute(\"SELECT id FROM runs WHERE path"):s.index("        return self.run(run_id)\n\n    # -- queries")]
new = '''        # One transaction that takes the write lock at once (BEGIN IMMEDIATE) and
        # upserts the run: two processes adding the same folder (two `baseline
        # set` of a run not in the store yet) can neither both insert it nor
        # interleave its result rows.
        with self._write():
            cols = ", ".join(record)
            updates = ", ".join(f"{k} = excluded.{k}" for k in record if k != "path")
            run_id = int(self.db.execute(
                f"INSERT INTO runs ({cols}) VALUES ({', '.join(':' + k for k in record)}) "
                f"ON CONFLICT(path) DO UPDATE SET {updates} RETURNING id", record).fetchone()[0])
            self.db.execute("DELETE FROM results WHERE run_id = ?", (run_id,))
            self.db.executemany(
                "INSERT INTO results VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                [(run_id, r["case_id"], keys.get(r["case_id"]), r.get("op"), r.get("status"),
                  _num(r.get("metric")), _num(r.get("metric_min")), _num(r.get("metric_max")),
                  r.get("metric_unit"), _int(r.get("reps")), r.get("provenance"), r.get("firmware_hash"),
                  r.get("compiler"), r.get("cflags"), _num(r.get("energy_uj")), json.dumps(r))
                 for r in rows])
'''
s = s.replace(old, new)
old = '''        now = _now()
        with self.db:
            self.db.execute("INSERT OR REPLACE INTO baselines'''
assert old in s
s = s.replace(old, '''        now = _now()
        with self._write():
            self.db.execute("INSERT OR REPLACE INTO baselines''')
old = '''    def close(self) -> None:
        self.db.close()
'''
s = s.replace(old, old + '''
    @contextlib.contextmanager
    def _write(self):
        """A write transaction holding SQLite's write lock from its first statement."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.db.rollback()
            raise
        self.db.commit()
''')
s = s.replace("import argparse\n", "import argparse\nimport contextlib\n")
open(p, "w").write(s)
