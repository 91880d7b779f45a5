"""The mutation report: kill rates, survivors and their analyses, as a dict (JSON) and as text."""

from __future__ import annotations

from dataclasses import asdict

from subtile.mutate.equivalents import describe_entry, match_equivalent
from subtile.mutate.operators import OPERATOR_NAMES
from subtile.mutate.sites import MESH_UNITS, UNITS, Mutation, copy_pattern

__all__ = ["build_report", "format_report"]


def _tally(rows, field: str) -> dict[str, dict[str, int]]:
    """Per value of ``field`` (unit or operator): mutants, killed, and survivors analysed as
    equivalent."""
    out = {}
    for r in rows:
        entry = out.setdefault(r[field], {"mutants": 0, "killed": 0, "equivalent": 0})
        entry["mutants"] += 1
        entry["killed"] += bool(r["killed"])
        entry["equivalent"] += (not r["killed"]) and r.get("classification", "").startswith("equivalent")
    return out


def _table(title: str, order, tally: dict) -> list[str]:
    """Aligned rows of one tally: killed of mutants, equivalent, killed of the non-equivalent."""
    lines = [f"  {title:<10} {'killed':>6} {'of':>4} {'equiv':>5} {'score':>7}"]
    for name in [n for n in order if n in tally] + sorted(set(tally) - set(order)):
        entry = tally[name]
        scored = entry["mutants"] - entry["equivalent"]
        score = f"{100 * entry['killed'] / scored:6.1f}%" if scored else "      -"
        lines.append(f"  {name:<10} {entry['killed']:6d} {entry['mutants']:4d} {entry['equivalent']:5d} {score}")
    return lines


def build_report(config, mbench, results, *, equivalents=(), **info) -> dict:
    rows = []
    for result in results:
        number = int(result.key)
        mutation = mbench.mutations[number - 1]
        row = {"mutant": number, "unit": mutation.unit, **asdict(mutation), "pattern": copy_pattern(mutation.module),
               "status": result.status, "error": result.error, **result.metrics}
        rows.append(row)
    finished = [r for r in rows if r["status"] == "ok"]
    killed = [r for r in finished if r["killed"]]
    survivors = [r for r in finished if not r["killed"]]
    entry_of = {r["mutant"]: match_equivalent(equivalents, mbench.mutations[r["mutant"] - 1]) for r in finished}
    for row in survivors:
        entry = entry_of[row["mutant"]]
        if entry is not None:
            row["classification"], row["equivalence_reason"] = entry["class"], entry["reason"]
        else:
            row["classification"] = "real" if equivalents else "unanalysed"
    # An analysis entry for a mutant that was killed is wrong, and one that names no site of the
    # design is stale (the HDL changed): say so rather than hide it.
    contradicted = [r["mutant"] for r in killed if entry_of[r["mutant"]] is not None]
    # (an entry of the other kind of design, a mesh's for a tile run, is not stale)
    roots = {m.module.split(".")[0] for m in mbench.candidates}
    stale = [describe_entry(e) for e in equivalents if e["module"].split(".")[0] in roots
             and not any(match_equivalent([e], m) is not None for m in mbench.candidates)]
    excluded = [r for r in survivors if r["classification"].startswith("equivalent")]
    scored = len(finished) - len(excluded)
    per_unit, per_operator = _tally(finished, "unit"), _tally(finished, "kind")
    return {"config": config.to_dict() if hasattr(config, "to_dict") else config.to_toml(), "mutants": len(mbench.mutations), "candidates": len(mbench.candidates),
            "finished": len(finished), "errors": len(rows) - len(finished), "killed": len(killed),
            "survived": len(survivors), "score": len(killed) / len(finished) if finished else None,
            "equivalent": len(excluded), "contradicted_equivalents": contradicted, "stale_equivalents": stale,
            "score_without_equivalent": len(killed) / scored if scored else None,
            "per_unit": per_unit, "per_operator": per_operator, "survivors": survivors, "results": rows,
            "count": info["count"], "seed": info["seed"], "steps": info["steps"],
            "operators": info.get("operators"),
            "baseline_cycles": info["baseline"]["cycles"], "work_dir": str(info["work_dir"]),
            "db": str(info["db"]), "run": info["run_name"]}


def format_report(report: dict) -> str:
    lines = [f"mutation score: {report['killed']} of {report['finished']} mutants killed "
             f"({100 * (report['score'] or 0):.1f} %), {report['survived']} survived, {report['errors']} errors "
             f"(seed {report['seed']}, {report['steps']} steps per case, {report['candidates']} candidate sites)"]
    lines += _table("unit", (*UNITS, *MESH_UNITS), report["per_unit"])
    if "per_operator" in report:
        lines += _table("operator", OPERATOR_NAMES, report["per_operator"])
    if report["equivalent"] or report["contradicted_equivalents"]:
        lines.append(f"without the {report['equivalent']} analysed equivalent mutants: {report['killed']} of "
                     f"{report['finished'] - report['equivalent']} killed "
                     f"({100 * (report['score_without_equivalent'] or 0):.1f} %)")
    for number in report["contradicted_equivalents"]:
        lines.append(f"WARNING mutant {number} is listed as equivalent but was killed")
    for entry in report.get("stale_equivalents", []):
        lines.append(f"WARNING equivalents {entry} names no mutation site of this design (stale)")
    for row in report["survivors"]:
        mutation = Mutation(**{k: row[k] for k in Mutation.__dataclass_fields__})
        lines.append(f"SURVIVED mutant {row['mutant']} [{row['classification']}]: {mutation.describe()}")
        if row.get("equivalence_reason"):
            lines.append(f"    reason: {row['equivalence_reason']}")
    return "\n".join(lines)
