"""The mutation report: kill rates, survivors and their analyses, as a dict (JSON) and as text."""

from __future__ import annotations

from dataclasses import asdict

from subtile.mutate.equivalents import describe_entry, match_equivalent
from subtile.mutate.sites import UNITS, Mutation, copy_pattern

__all__ = ["build_report", "format_report"]


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
    stale = [describe_entry(e) for e in equivalents
             if not any(match_equivalent([e], m) is not None for m in mbench.candidates)]
    excluded = [r for r in survivors if r["classification"].startswith("equivalent")]
    scored = len(finished) - len(excluded)
    per_unit = {}
    for r in finished:
        entry = per_unit.setdefault(r["unit"], {"mutants": 0, "killed": 0})
        entry["mutants"] += 1
        entry["killed"] += bool(r["killed"])
    return {"config": config.to_dict(), "mutants": len(mbench.mutations), "candidates": len(mbench.candidates),
            "finished": len(finished), "errors": len(rows) - len(finished), "killed": len(killed),
            "survived": len(survivors), "score": len(killed) / len(finished) if finished else None,
            "equivalent": len(excluded), "contradicted_equivalents": contradicted, "stale_equivalents": stale,
            "score_without_equivalent": len(killed) / scored if scored else None,
            "per_unit": per_unit, "survivors": survivors, "results": rows,
            "count": info["count"], "seed": info["seed"], "steps": info["steps"],
            "baseline_cycles": info["baseline"]["cycles"], "work_dir": str(info["work_dir"]),
            "db": str(info["db"]), "run": info["run_name"]}


def format_report(report: dict) -> str:
    lines = [f"mutation score: {report['killed']} of {report['finished']} mutants killed "
             f"({100 * (report['score'] or 0):.1f} %), {report['survived']} survived, {report['errors']} errors "
             f"(seed {report['seed']}, {report['steps']} steps per case, {report['candidates']} candidate sites)"]
    for unit in UNITS:
        if unit in report["per_unit"]:
            entry = report["per_unit"][unit]
            lines.append(f"  {unit:<10} {entry['killed']:3d} / {entry['mutants']:3d} killed")
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
