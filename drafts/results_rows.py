# -- to append to bench/collect/results.py ------------------------------------------

# What an ok row must hold for its figures to be used again: carried over by a
# resume, or promoted to a baseline. A row cut short by a power cut, or edited
# by hand, fails here and its case is measured again. A plugin that adds a
# column a later step relies on adds it here.
ROW_FIELDS: dict[str, Field] = {
    "case_id": text(), "op": text(), "board": text(), "kernels": text(), "image": text(),
    "firmware_hash": text(), "compiler": text(), "metric_unit": text(), "provenance": text(),
    "macs": uint(1), "h": uint(1), "w": uint(1), "c_in": uint(1), "c_out": uint(1), "k": uint(1),
    "stride": uint(1), "reps": uint(1), "mismatches": uint(0, 0),
    "metric": real(0), "metric_min": real(0), "metric_max": real(0),
}


# What a baseline is compared on (bench/store/regress.py); a resume needs every field.
BASELINE_NEEDS = ("case_id", "metric", "metric_min", "metric_max", "metric_unit", "provenance")


def ok_row_problems(row: Mapping, needs: Iterable[str] | None = None) -> list[str]:
    """Why an ok results.csv row cannot be used again ([] when it can); ``needs``: the
    fields the user of the row relies on (default: all of ROW_FIELDS, energy included)."""
    problems = []
    full = needs is None
    needs = list(ROW_FIELDS) if full else list(needs)
    if row.get(None):  # csv.DictReader puts the cells beyond the header here
        problems.append(f"{len(row[None])} cell(s) beyond the header: two rows run together")
    if full and row.get("output_ok") != "True":
        problems.append(f"output_ok={row.get('output_ok')!r}, expected True")
    values = {}
    for key in needs:
        spec = ROW_FIELDS[key]
        cell = row.get(key)
        if cell is None or cell == "":
            problems.append(f"{key} is empty")
            continue
        try:
            values[key] = spec.parse(str(cell))
        except ValueError as exc:
            problems.append(f"{key}={cell!r} {exc}")
    if {"metric", "metric_min", "metric_max"} <= values.keys() and \
            not values["metric_min"] <= values["metric"] <= values["metric_max"]:
        problems.append(f"metric={values['metric']} is outside metric_min..metric_max "
                        f"({values['metric_min']}..{values['metric_max']})")
    if full and row.get("energy_provenance") != "not-measured":
        for key in ("energy_uj", "energy_basis"):
            if row.get(key) in (None, ""):
                problems.append(f"{key} is empty")
        try:
            if float(row.get("energy_uj") or 0) < 0 or not math.isfinite(float(row.get("energy_uj") or 0)):
                problems.append(f"energy_uj={row.get('energy_uj')!r} is not a finite number >= 0")
        except ValueError:
            problems.append(f"energy_uj={row.get('energy_uj')!r} is not a number")
    return problems
