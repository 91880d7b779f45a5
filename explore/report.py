"""HTML report of a sweep database (``subtile report results.sqlite -o report/``).

Writes ``index.html`` (self-contained: plots inline as PNG data, tables inline), the plots as
PNG and SVG files, the points as ``points.csv`` (and ``points.parquet`` when pyarrow is
installed), and ``front.md``: the answer and the front's table in Markdown (what the README's
sweep tables are cut from). Contents, from the top:

* **the answer**: the cheapest design (least energy per inference, then least area) within
  ``tolerance`` points of the float model's accuracy (a workload with a task metric), or within
  ``tolerance`` output LSB RMS of the float model (the ``random`` workload);
* the Pareto front of area x energy x task error (all minimised) and its table;
* accuracy (or error) versus weight bits and energy versus weight bits, one line per family
  (the points that share every other axis value), every family its own colour;
* the energy breakdown per unit of the best points, a ranking by energy-delay product, sum and
  distance, and the table of all points (failed ones with their error).

A point that sends no output event at all (``silent``) or whose accuracy is at chance
(``at_chance``) is marked in every table and plot, takes no part in the front, and is never the
recommended design: a tile that says nothing must not score as a perfect one.

Energy is per inference (the ``random`` workload: per time step) at the nominal supply; delay
is clock cycles per inference, which does not depend on a clock frequency. EDP = E * D; EDS and
EDD use E and D normalised to the best value among the points: EDS = E/E* + D/D*, EDD =
sqrt((E/E*)^2 + (D/D*)^2) (the functions of :mod:`subtile.power.voltage`: the energy-delay sum
of the normalised point with weight 1, and its distance from the origin).
"""

from __future__ import annotations

import base64
import html
import io
import json
import re
import shutil
import subprocess
from pathlib import Path

from subtile.errors import ConfigError
from subtile.explore.sweep import export_table, sweep_records
from subtile.power.voltage import energy_delay_distance, energy_delay_product, energy_delay_sum

__all__ = ["pareto_front", "rank", "write_report", "screenshot", "find_chromium", "CHROMIUM_FLAGS",
           "distinct_colours", "recommend", "UNITS"]

ENERGY, ERROR, DELAY = "energy_pj_per_step", "err_rms_lsb", "cycles_per_step"
#: per-inference names of the headline metrics, and their per-step fallbacks of older databases
ENERGY_INF, DELAY_INF, TASK_ERROR = "energy_pj_per_inference", "cycles_per_inference", "task_error_pct"
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                  "--disable-background-networking", "--hide-scrollbars", "--force-device-scale-factor=1")
#: the unit of every column the report shows ("-" for names and flags)
UNITS = {
    "key": "hash", "status": "-", "flag": "-", "error": "-", "recommended": "-",
    "accuracy_pct": "%", "accuracy_float_pct": "%", "accuracy_rtl_pct": "%", TASK_ERROR: "% of samples",
    "accuracy_drop_points": "points", "chance_pct": "%",
    "err_rms_lsb": "output LSB", "err_max_lsb": "output LSB",
    "output_events_per_inference": "events", "synaptic_ops_per_inference": "ops",
    "events_per_inference": "events",
    "cycles_per_inference": "cycles", "cycles_per_step": "cycles",
    "energy_pj_per_inference": "pJ", "energy_min_pj_per_inference": "pJ",
    "energy_pj_per_step": "pJ", "energy_min_pj_per_step": "pJ", "vdd_min_energy": "V",
    "network_energy_share_pct": "%", "flops": "flip-flops",
    "area_generic_cells": "cells", "area_sky130_cells": "cells", "area_sky130_um2": "um^2",
    "area_ice40_cells": "cells", "area_ecp5_cells": "cells", "area_ice40_luts": "LUT4", "area_ecp5_luts": "LUT4",
    "edp": "pJ x cycles", "eds": "-", "edd": "-", "edp_rank": "rank", "eds_rank": "rank", "edd_rank": "rank",
    "rtl_samples": "samples", "samples": "samples",
    # axes
    "weight_format": "fixed<W,I>", "weight_bits": "bits", "payload_format": "fixed<W,I>", "gating": "mode",
    "delta": "payload LSB", "steps": "steps / inference", "leak_shift": "k (shift)", "lanes": "lanes",
    "hidden": "neurons", "neurons": "neurons", "impl": "kind", "function": "name", "segments": "segments",
    "guard_bits": "bits", "beta": "-", "seed": "-", "branches": "branches", "synapses": "synapses",
    "addresses": "addresses", "weight_density": "fraction", "table_fill": "fraction",
    "dendrite_format": "fixed<W,I>", "membrane_format": "fixed<W,I>",
}
LABELS = {
    "accuracy_pct": "accuracy", "accuracy_float_pct": "float accuracy", "accuracy_rtl_pct": "RTL accuracy",
    TASK_ERROR: "task error", "err_rms_lsb": "RMS error vs float", "err_max_lsb": "max error vs float",
    "output_events_per_inference": "output events / inf.", "synaptic_ops_per_inference": "synaptic ops / inf.",
    "cycles_per_inference": "cycles / inf.", "energy_pj_per_inference": "energy / inf. (nominal Vdd)",
    "energy_min_pj_per_inference": "energy / inf. (min-energy Vdd)", "vdd_min_energy": "min-energy Vdd",
    "network_energy_share_pct": "network energy share", "energy_pj_per_step": "energy / step",
    "cycles_per_step": "cycles / step", "area_sky130_um2": "area sky130", "area_generic_cells": "area generic",
    "rtl_samples": "RTL samples",
}


def header(column: str) -> str:
    """A column's heading with its unit, e.g. ``energy / inf. (nominal Vdd) (pJ)``."""
    leaf = column.split(".")[-1]
    unit = UNITS.get(column, UNITS.get(leaf, "-"))
    return f"{LABELS.get(column, column)} ({unit})"


def distinct_colours(count: int) -> list[tuple]:
    """``count`` RGBA colours, no two alike: tab10, tab20, then evenly spaced hues."""
    import matplotlib
    if count <= 10:
        return [matplotlib.colormaps["tab10"](i) for i in range(count)]
    if count <= 20:
        return [matplotlib.colormaps["tab20"](i) for i in range(count)]
    import colorsys
    return [(*colorsys.hsv_to_rgb(i / count, 0.85 if i % 2 else 0.6, 0.9 if i % 3 else 0.65), 1.0)
            for i in range(count)]


def pareto_front(points: list[dict], objectives: list[str]) -> list[bool]:
    """For each point, whether no other point is at least as good in every objective (all
    minimised) and strictly better in one."""
    values = [[p[o] for o in objectives] for p in points]
    flags = []
    for i, a in enumerate(values):
        dominated = any(all(x <= y for x, y in zip(b, a)) and any(x < y for x, y in zip(b, a))
                        for j, b in enumerate(values) if j != i)
        flags.append(not dominated)
    return flags


def rank(points: list[dict], energy: str = ENERGY, delay: str = DELAY) -> list[dict]:
    """EDP, EDS and EDD of each point (see the module docs), sorted by EDP."""
    if not points:
        return []
    e_best = min(p[energy] for p in points)
    d_best = min(p[delay] for p in points)
    rows = []
    for p in points:
        # The metrics of power.voltage, on E and D normalised to the best point (EDS: weight 1).
        rows.append({"key": p["key"], "edp": energy_delay_product(p[energy], p[delay]),
                     "eds": energy_delay_sum(p[energy] / e_best, p[delay] / d_best, 1.0),
                     "edd": energy_delay_distance(p[energy], p[delay], e_best, d_best)})
    rows.sort(key=lambda r: r["edp"])
    for place, row in enumerate(rows, 1):
        row["edp_rank"] = place
    for name in ("eds", "edd"):
        for place, row in enumerate(sorted(rows, key=lambda r: r[name]), 1):
            row[f"{name}_rank"] = place
    return rows


_FORMAT = re.compile(r"^\s*(?:[su]?fixed)?<\s*(\d+)\s*,\s*(-?\d+)\s*>\s*$")


def weight_bits(record: dict) -> int | None:
    """The weight width of a point: its ``weight_bits`` axis, else the width of its
    ``weight_format`` (axis or the tile's), else of the first layer's format."""
    if isinstance(record.get("weight_bits"), int):
        return record["weight_bits"]
    for text in (record.get("weight_format"), *(record.get("metrics", {}).get("weight_formats") or [])):
        match = _FORMAT.match(str(text)) if text is not None else None
        if match:
            return int(match.group(1))
    return None


def _flag(record: dict) -> str:
    reasons = []
    if record.get("silent"):
        reasons.append("silent: no output event")
    if record.get("at_chance"):
        reasons.append("accuracy at chance")
    return "; ".join(reasons)


def _prepare(records: list[dict]) -> tuple[str, str, str]:
    """Derived columns of every record (percentages, flag, weight bits); returns the names of
    the energy, delay and task-error objectives."""
    energy = ENERGY_INF if any(r.get(ENERGY_INF) is not None for r in records) else ENERGY
    delay = DELAY_INF if any(r.get(DELAY_INF) is not None for r in records) else DELAY
    tasks = [r for r in records if r["status"] == "ok"]
    task = TASK_ERROR if tasks and all(r.get("accuracy") is not None for r in tasks) else ERROR
    for r in records:
        for name in ("accuracy", "accuracy_float", "accuracy_rtl", "chance", "network_energy_share"):
            if r.get(name) is not None:
                r[f"{name}_pct"] = 100 * r[name]
        if r.get("accuracy") is not None:
            r[TASK_ERROR] = 100 * (1 - r["accuracy"])
        r["flag"] = _flag(r)
        r["weight_width"] = weight_bits(r)
    return energy, delay, task


def recommend(points: list[dict], *, area: str, energy: str, task: str, tolerance: float) -> dict:
    """The cheapest (least ``energy``, then least ``area``) unflagged point within
    ``tolerance`` of the float model: accuracy points for a task metric, output LSB RMS
    otherwise. Returns {"point", "reference", "limit", "text", "candidates"}."""
    valid = [p for p in points if not p["flag"]]
    if task == TASK_ERROR:
        reference = max((p["accuracy_float"] for p in points if p.get("accuracy_float") is not None), default=None)
        limit = None if reference is None else 100 * reference - tolerance
        within = [p for p in valid if limit is not None and p["accuracy_pct"] >= limit - 1e-9]
        what = (f"within {tolerance:g} point{'' if tolerance == 1 else 's'} of the float model's accuracy "
                f"({100 * reference:.1f} %)"
                if reference is not None else "")
    else:
        reference, limit = 0.0, tolerance
        within = [p for p in valid if p[ERROR] <= tolerance]
        what = f"within {tolerance:g} output LSB RMS of the float model"
    within.sort(key=lambda p: (p[energy], p[area], p["key"]))
    best = within[0] if within else None
    if best is None:
        text = f"No design {what}: none of the {len(valid)} usable points qualifies" + (
            f" ({len(points) - len(valid)} silent or at chance)" if len(points) > len(valid) else "") + "."
    else:
        quality = (f"accuracy {best['accuracy_pct']:.1f} %" if task == TASK_ERROR
                   else f"error {best[ERROR]:.3g} LSB RMS")
        joules = f"{best[energy] / 1000:.4g} nJ" if best[energy] >= 1000 else f"{best[energy]:.4g} pJ"
        text = (f"Recommended: {best['key'][:8]} ({_label(best, best['_axes'])}): the cheapest design {what}: "
                f"{quality}, {joules} per inference, {LABELS.get(area, area)} {best[area]:.4g} "
                f"{UNITS.get(area, '')}.")
    return {"point": best, "reference": reference, "limit": limit, "text": text,
            "candidates": [p["key"] for p in within]}


def _label(point: dict, axes: list[str], sep: str = ", ") -> str:
    return sep.join(f"{a.split('.')[-1]}={point.get(a)}" for a in axes)


def _save(fig, out_dir: Path, stem: str) -> str:
    fig.savefig(out_dir / f"{stem}.svg")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    (out_dir / f"{stem}.png").write_bytes(buffer.getvalue())
    return base64.b64encode(buffer.getvalue()).decode()


def _pyplot():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _pareto_plot(points, front, area, energy, task, out_dir, recommended):
    plt = _pyplot()
    fig, panels = plt.subplots(1, 2, figsize=(12, 4.8))
    pairs = [(area, energy), (energy, task)]
    errors = [p[task] for p in points]
    for panel, (x, y) in zip(panels, pairs):
        flagged = [p for p in points if p["flag"]]
        dominated = [p for p, f in zip(points, front) if not f and not p["flag"]]
        best = [p for p, f in zip(points, front) if f]
        panel.scatter([p[x] for p in dominated], [p[y] for p in dominated], c="0.7", s=28,
                      label="dominated", zorder=2)
        if flagged:
            panel.scatter([p[x] for p in flagged], [p[y] for p in flagged], c="black", marker="x", s=50,
                          label="silent or at chance (excluded)", zorder=2)
        shown = panel.scatter([p[x] for p in best], [p[y] for p in best], c=[p[task] for p in best],
                              cmap="viridis", vmin=min(errors), vmax=max(errors) or 1, s=70,
                              edgecolors="red", linewidths=1.5, label="Pareto (area, energy, error)", zorder=3)
        if recommended is not None:
            panel.scatter([recommended[x]], [recommended[y]], marker="*", s=260, facecolors="none",
                          edgecolors="blue", linewidths=1.5, label="recommended", zorder=4)
        for p in best:
            panel.annotate(p["key"][:6], (p[x], p[y]), textcoords="offset points", xytext=(5, 4), fontsize=7)
        panel.set_xlabel(header(x))
        panel.set_ylabel(header(y))
        panel.grid(True, alpha=0.3)
    panels[0].legend(loc="best", fontsize=8)
    fig.colorbar(shown, ax=panels, label=header(task))
    fig.suptitle(f"Pareto front over {len(points)} points ({sum(front)} non-dominated)")
    data = _save(fig, out_dir, "pareto")
    plt.close(fig)
    return data


def families(points: list[dict], axes: list[str]) -> dict[str, list[dict]]:
    """Points grouped by every axis but the weight width (``weight_bits``; ``weight_format``
    keeps its integer bits in the family name), each family sorted by weight bits."""
    groups: dict[str, list[dict]] = {}
    others = [a for a in axes if a not in ("weight_bits", "weight_format")]
    for p in points:
        if p["weight_width"] is None:
            continue
        parts = [f"{a.split('.')[-1]}={p.get(a)}" for a in others]
        match = _FORMAT.match(str(p.get("weight_format"))) if "weight_format" in axes else None
        if match:
            parts.append(f"I={match.group(2)}")
        groups.setdefault(", ".join(parts) or "all points", []).append(p)
    return {name: sorted(group, key=lambda p: p["weight_width"]) for name, group in groups.items()}


def _bits_plot(points, axes, metric, ylabel, stem, out_dir, title) -> tuple[str, list]:
    """One line per family of ``metric`` over weight bits; flagged points as black crosses.
    Returns the PNG data and the legend's colours (all distinct)."""
    plt = _pyplot()
    groups = families(points, axes)
    colours = distinct_colours(len(groups))
    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    for colour, (name, group) in zip(colours, groups.items()):
        ax.plot([p["weight_width"] for p in group], [p[metric] for p in group], "o-", color=colour, label=name)
        bad = [p for p in group if p["flag"]]
        if bad:
            ax.scatter([p["weight_width"] for p in bad], [p[metric] for p in bad], marker="x", s=70,
                       c="black", zorder=4)
    if any(p["flag"] for p in points):
        ax.scatter([], [], marker="x", c="black", label="silent or at chance")
    ax.set_xlabel(header("weight_bits"))
    ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7, bbox_to_anchor=(1.01, 1), loc="upper left")
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    data = _save(fig, out_dir, stem)
    plt.close(fig)
    return data, colours


def _breakdown_plot(chosen, axes, out_dir):
    plt = _pyplot()
    per_point = []
    for p in chosen:
        energy = p["metrics"]["energy"]
        inferences = p["metrics"].get("inferences") or p["metrics"]["steps"]
        parts = energy.get("energy_by_kind_pj") or energy["breakdown_pj"]
        per_point.append({unit: value / inferences for unit, value in parts.items()})
    totals = {}
    for parts in per_point:
        for unit, value in parts.items():
            totals[unit] = totals.get(unit, 0.0) + value
    units = sorted(totals, key=lambda u: -totals[u])
    if len(units) > 20:          # the smallest units in one bar segment: 20 colours at most
        keep = set(units[:19])
        per_point = [{**{u: v for u, v in parts.items() if u in keep},
                      "other": sum(v for u, v in parts.items() if u not in keep)} for parts in per_point]
        units = units[:19] + ["other"]
    fig, ax = plt.subplots(figsize=(12, 4.5))
    bottoms = [0.0] * len(chosen)
    for colour, unit in zip(distinct_colours(len(units)), units):
        values = [parts.get(unit, 0.0) for parts in per_point]
        ax.bar(range(len(chosen)), values, bottom=bottoms, label=unit, color=colour)
        bottoms = [b + v for b, v in zip(bottoms, values)]
    ax.set_xticks(range(len(chosen)), [f"{p['key'][:6]}\n{_label(p, axes, chr(10))}" for p in chosen], fontsize=7)
    ax.set_ylabel("energy per inference (pJ)")
    ax.legend(fontsize=7, ncol=2, bbox_to_anchor=(1.01, 1), loc="upper left")
    ax.set_title("Energy breakdown per unit")
    fig.tight_layout()
    data = _save(fig, out_dir, "breakdown")
    plt.close(fig)
    return data


def _table(rows: list[dict], columns: list[str], highlight=()) -> str:
    def cell(value):
        if isinstance(value, bool):
            return "yes" if value else "no"
        if isinstance(value, float):
            return f"{value:.4g}"
        return html.escape("" if value is None else str(value))
    head = "".join(f"<th>{html.escape(header(c))}</th>" for c in columns)

    def mark(r):
        classes = (["pareto"] if r.get("key") in highlight else []) + (["flagged"] if r.get("flag") else [])
        return f' class="{" ".join(classes)}"' if classes else ""
    body = "".join(
        f"<tr{mark(r)}>" + "".join(f"<td>{cell(r.get(c))}</td>" for c in columns) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _markdown_table(rows: list[dict], columns: list[str]) -> str:
    """The rows as a Markdown table (the headings with units, numbers as in the HTML tables)."""
    def cell(value):
        if isinstance(value, bool):
            return "yes" if value else "no"
        if isinstance(value, float):
            return f"{value:.4g}"
        return "" if value is None else str(value).replace("|", "\\|")
    lines = ["| " + " | ".join(header(c) for c in columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(r.get(c)) for c in columns) + " |" for r in rows]
    return "\n".join(lines) + "\n"


STYLE = ("body{font-family:sans-serif;margin:1.5em;max-width:1400px}table{border-collapse:collapse;"
         "font-size:12px;margin-bottom:1em}td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}"
         "th{background:#eee}tr.pareto{background:#fff3c4;font-weight:bold}"
         "tr.flagged{background:#f4d4d4;color:#700}img{max-width:100%}"
         "#recommended{background:#d8f0d8;border:2px solid #2a7a2a;padding:10px 14px;font-size:18px;"
         "font-weight:bold;color:#000;margin:0 0 1em 0;width:1100px;box-sizing:border-box}")


def _hex(colour) -> str:
    import matplotlib.colors
    return matplotlib.colors.to_hex(colour, keep_alpha=False)


def recommendation_html(text: str) -> str:
    """The answer line at the top of the page (also what the screenshot check renders alone)."""
    return f'<div id="recommended">{html.escape(text)}</div>'


def page_html(body: str) -> str:
    return (f"<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>subtile sweep report</title>"
            f"<style>{STYLE}</style></head><body>{body}</body></html>\n")


def write_report(db, out_dir, *, run: str | None = None, area: str | None = None, breakdown: int = 4,
                 points: list[str] | None = None, tolerance: float = 1.0) -> dict:
    """Write the report of ``db`` into ``out_dir``; returns what it found (points, Pareto keys,
    the recommended design, paths).

    The energy breakdown shows ``points`` (key prefixes), or else the ``breakdown`` best by EDP.
    ``tolerance``: how far from the float model the recommended design may be (accuracy points,
    or output LSB RMS without a task metric)."""
    if isinstance(tolerance, bool) or not isinstance(tolerance, (int, float)) or not 0 <= tolerance <= 100:
        raise ConfigError(f"tolerance: {tolerance!r} is outside the allowed range 0..100")
    records = sweep_records(db, run)
    if not records:
        raise ConfigError(f"db: {db} holds no sweep points" + (f" of run {run!r}" if run else ""))
    out_dir = Path(out_dir)
    axes = []
    for r in records:
        axes += [a for a in r["params"] if a not in axes]
    energy, delay, task = _prepare(records)
    ok = [r for r in records if r["status"] == "ok" and r.get(energy) is not None]
    for r in records:
        r["_axes"] = axes
    if area is None:
        area = next((c for c in ("area_sky130_um2", "area_generic_cells", "area_ice40_luts", "area_ecp5_luts", "flops")
                     if ok and all(r.get(c) is not None for r in ok)), None)
    if area is None:
        # no synthesis and no register count: the delay stands in for the cost of the hardware
        area = delay
    elif any(r.get(area) is None for r in ok):
        raise ConfigError(f"area: {area!r} is not a metric of every point")
    out_dir.mkdir(parents=True, exist_ok=True)
    usable = [r for r in ok if not r["flag"]]
    flags = pareto_front(usable, [area, energy, task]) if usable else []
    pareto_keys = [r["key"] for r, f in zip(usable, flags) if f]
    front = [r["key"] in pareto_keys for r in ok]
    answer = recommend(ok, area=area, energy=energy, task=task, tolerance=tolerance) if ok else None
    best = answer["point"] if answer else None
    ranking = rank(usable, energy, delay)
    plots, colours = {}, {}
    if ok:
        plots["pareto"] = _pareto_plot(ok, front, area, energy, task, out_dir, best)
        if any(r["weight_width"] is not None for r in ok):
            quality = "accuracy_pct" if task == TASK_ERROR else ERROR
            plots["accuracy_bits"], colours["accuracy_bits"] = _bits_plot(
                ok, axes, quality, header(quality), "accuracy_vs_weight_bits", out_dir,
                "Accuracy versus weight bits per family" if task == TASK_ERROR
                else "Error versus the float model over weight bits per family")
            plots["energy_bits"], colours["energy_bits"] = _bits_plot(
                ok, axes, energy, header(energy), "energy_vs_weight_bits", out_dir,
                "Energy per inference versus weight bits per family")
        by_key = {r["key"]: r for r in ok}
        chosen = [by_key[row["key"]] for row in ranking[:max(1, breakdown)]] or ok[:1]
        if points:
            chosen = []
            for prefix in points:
                matches = [r for r in ok if r["key"].startswith(prefix)]
                if len(matches) != 1:
                    raise ConfigError(f"points: {prefix!r} matches {len(matches)} finished points; give a "
                                      "longer key prefix")
                chosen += matches
        plots["breakdown"] = _breakdown_plot(chosen, axes, out_dir)
    export_table([{k: v for k, v in r.items() if k != "_axes"} for r in records], out_dir / "points.csv")
    parquet = None
    try:
        parquet = export_table([{k: v for k, v in r.items() if k != "_axes"} for r in records],
                               out_dir / "points.parquet")
    except ConfigError:
        pass        # pyarrow not installed: CSV only
    quality_columns = (["accuracy_pct", "accuracy_float_pct"] if task == TASK_ERROR else []) + [ERROR, "err_max_lsb"]
    metric_columns = [area, energy, "energy_min_pj_per_inference" if energy == ENERGY_INF else "energy_min_pj_per_step",
                      "vdd_min_energy", *quality_columns, "output_events_per_inference", "synaptic_ops_per_inference",
                      delay, "network_energy_share_pct", "area_generic_cells", "area_sky130_um2", "flops", "flag"]
    metric_columns = [c for c in dict.fromkeys(metric_columns)
                      if c == "flag" or any(r.get(c) is not None for r in records)]
    by_key = {r["key"]: r for r in records}
    ranking_rows = [{**by_key[row["key"]], **row} for row in ranking]
    failed = [r for r in records if r["status"] != "ok"]
    flagged = [r for r in ok if r["flag"]]
    sections = [recommendation_html(answer["text"] if answer else "No finished point: nothing to recommend."),
                f"<h1>Sweep report</h1><p>{len(records)} points from <code>{html.escape(str(db))}</code>"
                f" ({len(ok)} ok, {len(failed)} failed, {len(flagged)} silent or at chance: marked red, "
                f"never on the front nor recommended). Objectives, all minimised: {html.escape(header(area))}, "
                f"{html.escape(header(energy))}, {html.escape(header(task))}. Delay = {html.escape(header(delay))}."
                "</p>"]
    if answer and answer["point"] is not None:
        sections.append(_table([answer["point"]], ["key", *axes, *metric_columns]))
    if ok:
        sections += [
            "<h2>Pareto front</h2>",
            f'<img alt="Pareto fronts" src="data:image/png;base64,{plots["pareto"]}">',
            f"<h3>Non-dominated points ({len(pareto_keys)})</h3>",
            _table([by_key[k] for k in pareto_keys], ["key", *axes, *metric_columns]),
        ]
        if "accuracy_bits" in plots:
            sections += ["<h2>Weight bits</h2>",
                         f'<img alt="Accuracy versus weight bits" src="data:image/png;base64,{plots["accuracy_bits"]}">',
                         f'<img alt="Energy versus weight bits" src="data:image/png;base64,{plots["energy_bits"]}">']
        sections += [
            "<h2>Energy breakdown</h2>",
            f'<img alt="Energy breakdown" src="data:image/png;base64,{plots["breakdown"]}">',
            "<h2>Ranking</h2>",
            _table(ranking_rows, ["edp_rank", "key", *axes, "edp", "eds", "eds_rank", "edd", "edd_rank"],
                   highlight=pareto_keys),
        ]
    sections += ["<h2>All points</h2>",
                 _table(records, ["key", "status", *axes, *metric_columns, "error"], highlight=pareto_keys)]
    index = out_dir / "index.html"
    index.write_text(page_html("".join(sections)))
    front_columns = ["key", *axes, *[c for c in metric_columns if c != "flag"]]
    (out_dir / "front.md").write_text(
        f"{answer['text'] if answer else 'No finished point: nothing to recommend.'}\n\n"
        f"Pareto front ({len(pareto_keys)} of {len(ok)} finished points; objectives, all minimised: "
        f"{header(area)}, {header(energy)}, {header(task)}):\n\n"
        + _markdown_table([by_key[k] for k in pareto_keys], front_columns))
    summary = {"points": len(records), "ok": len(ok), "failed": len(failed), "area_metric": area,
               "energy_metric": energy, "task_metric": task,
               "pareto": pareto_keys, "flagged": [r["key"] for r in flagged],
               "recommended": best["key"] if best else None,
               "recommendation": answer["text"] if answer else None, "tolerance": tolerance,
               "best_edp": ranking[0]["key"] if ranking else None,
               "legend_colours": {k: [_hex(c) for c in v] for k, v in colours.items()},
               "html": str(index), "front_markdown": str(out_dir / "front.md"), "plots": sorted(str(p) for p in out_dir.glob("*.png")),
               "csv": str(out_dir / "points.csv"), "parquet": str(parquet) if parquet else None}
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def find_chromium() -> str | None:
    """The headless browser (Debian ``chromium``), or None."""
    return next((shutil.which(name) for name in ("chromium", "chromium-browser", "google-chrome")
                 if shutil.which(name)), None)


def screenshot(page, png, *, width: int = 1400, height: int = 1800, timeout: float = 120.0) -> Path:
    """Render ``page`` in headless Chromium and save a PNG screenshot."""
    browser = find_chromium()
    if browser is None:
        raise ConfigError("screenshot: chromium is not installed (apt-get install chromium)")
    png = Path(png).resolve()
    subprocess.run([browser, *CHROMIUM_FLAGS, f"--screenshot={png}", f"--window-size={width},{height}",
                    Path(page).resolve().as_uri()], check=True, capture_output=True, timeout=timeout)
    if not png.is_file():
        raise RuntimeError(f"screenshot: chromium wrote no {png}")
    return png
