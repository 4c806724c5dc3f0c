"""Apply the remaining edits after the layout merge: resume, results writer, Hydra app, pyOCD, build."""
import sys


def edit(path, pairs):
    s = open(path).read()
    for old, new in pairs:
        assert s.count(old) == 1, (path, old[:90], s.count(old))
        s = s.replace(old, new)
    open(path, "w").write(s)


# -- resume: decisions must match; a row is carried only when every field checks -----
edit(sys.argv[1] if len(sys.argv) > 1 else "bench/store/resume.py", [
    ('''def prepare(specs: Sequence[CaseSpec], cfg: Mapping, settings: BuildSettings,
            run_dir: Path) -> list[CaseSpec]:''',
     '''def prepare(specs: Sequence[CaseSpec], cfg: Mapping, settings: BuildSettings,
            run_dir: Path, decisions: Mapping | None = None) -> list[CaseSpec]:'''),
    ('''        for case_id, row in _finished_rows(src, keys).items():''',
     '''        for case_id, row in _finished_rows(src, keys, decisions).items():'''),
    ('''def _finished_rows(run: Path, keys: Mapping[str, str]) -> dict[str, dict]:
    try:
        recorded = json.loads((run / KEYS_FILE).read_text())["keys"]
    except (OSError, ValueError, KeyError):
        return {}
    out = {}''',
     '''def _finished_rows(run: Path, keys: Mapping[str, str], decisions: Mapping | None = None) -> dict[str, dict]:
    """Rows of ``run`` that may be carried over: ok, same case key, and every field
    they need present and in range (a row cut by a power loss is measured again)."""
    try:
        recorded = json.loads((run / KEYS_FILE).read_text())["keys"]
    except (OSError, ValueError, KeyError):
        return {}
    if decisions is not None and read_decisions(run) != json.loads(json.dumps(dict(decisions), default=str)):
        log.info("resume: %s was run with other run-wide decisions (%s); nothing carried from it",
                 run, DECISIONS_FILE)
        return {}
    out = {}'''),
    ('''                if row.get("status") == "ok" and cid in keys and recorded.get(cid) == keys[cid]:
                    out[cid] = row''',
     '''                if row.get("status") == "ok" and cid in keys and recorded.get(cid) == keys[cid]:
                    problems = ok_row_problems(row)
                    if problems:
                        log.info("resume: %s in %s not carried (%s); measuring it again",
                                 cid, run, "; ".join(problems))
                        continue
                    out[cid] = row'''),
])
