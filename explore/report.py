"""HTML report of a sweep database (``subtile report results.sqlite -o report/``).

Writes ``index.html`` (self-contained: plots inline as PNG data, tables inline), the plots as
PNG and SVG files, and the points as ``points.csv`` (and ``points.parquet`` when pyarrow is
installed). Contents: Pareto fronts (area vs energy vs error; the non-dominated points
highlighted and listed), the energy breakdown per unit of the best points, a ranking by
energy-delay product, sum and distance, and the table of all points (failed ones with their
error).

Delay is the time step's length in clock cycles (``cycles_per_step``), which does not depend on
a clock frequency; energy is per time step at the nominal supply. EDP = E * D; EDS and EDD use
E and D normalised to the best value among the points: EDS = E/E* + D/D*, EDD =
sqrt((E/E*)^2 + (D/D*)^2).
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
import shutil
import subprocess
from pathlib import Path

from subtile.errors import ConfigError
from subtile.explore.sweep import export_table, sweep_records

__all__ = ["pareto_front", "rank", "write_report", "screenshot", "find_chromium", "CHROMIUM_FLAGS"]

ENERGY, ERROR, DELAY = "energy_pj_per_step", "err_rms_lsb", "cycles_per_step"
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                  "--disable-background-networking")


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


def rank(points: list[dict]) -> list[dict]:
    """EDP, EDS and EDD of each point (see the module docs), sorted by EDP."""
    if not points:
        return []
    e_best = min(p[ENERGY] for p in points)
    d_best = min(p[DELAY] for p in points)
    rows = []
    for p in points:
        e, d = p[ENERGY] / e_best, p[DELAY] / d_best
        rows.append({"key": p["key"], "edp": p[ENERGY] * p[DELAY], "eds": e + d, "edd": math.hypot(e, d)})
    rows.sort(key=lambda r: r["edp"])
    for place, row in enumerate(rows, 1):
        row["edp_rank"] = place
    for name in ("eds", "edd"):
        for place, row in enumerate(sorted(rows, key=lambda r: r[name]), 1):
            row[f"{name}_rank"] = place
    return rows


def _label(point: dict, axes: list[str], sep: str = ", ") -> str:
    return sep.join(f"{a.split('.')[-1]}={point.get(a)}" for a in axes)


def _save(fig, out_dir: Path, stem: str) -> str:
    fig.savefig(out_dir / f"{stem}.svg")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    (out_dir / f"{stem}.png").write_bytes(buffer.getvalue())
    return base64.b64encode(buffer.getvalue()).decode()


def _pareto_plot(points, front, area, axes, out_dir):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, panels = plt.subplots(1, 2, figsize=(12, 4.8))
    pairs = [(area, ENERGY), (ENERGY, ERROR)]
    titles = {area: area.replace("_", " "), ENERGY: "energy per step (pJ, nominal Vdd)", ERROR: "RMS error (output LSB)"}
    errors = [p[ERROR] for p in points]
    for panel, (x, y) in zip(panels, pairs):
        dominated = [p for p, f in zip(points, front) if not f]
        best = [p for p, f in zip(points, front) if f]
        panel.scatter([p[x] for p in dominated], [p[y] for p in dominated], c="0.7", s=28,
                      label="dominated", zorder=2)
        shown = panel.scatter([p[x] for p in best], [p[y] for p in best], c=[p[ERROR] for p in best],
                              cmap="viridis", vmin=min(errors), vmax=max(errors) or 1, s=70,
                              edgecolors="red", linewidths=1.5, label="Pareto (area, energy, error)", zorder=3)
        for p in best:
            panel.annotate(p["key"][:6], (p[x], p[y]), textcoords="offset points", xytext=(5, 4), fontsize=7)
        panel.set_xlabel(titles[x])
        panel.set_ylabel(titles[y])
        panel.grid(True, alpha=0.3)
    panels[0].legend(loc="best", fontsize=8)
    fig.colorbar(shown, ax=panels, label="RMS error (LSB)")
    fig.suptitle(f"Pareto front over {len(points)} points ({sum(front)} non-dominated)")
    data = _save(fig, out_dir, "pareto")
    plt.close(fig)
    return data


def _breakdown_plot(chosen, axes, out_dir):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    units = sorted({u for p in chosen for u in p["metrics"]["energy"]["breakdown_pj"]})
    fig, ax = plt.subplots(figsize=(12, 4.5))
    bottoms = [0.0] * len(chosen)
    colours = plt.get_cmap("tab20")
    for index, unit in enumerate(units):
        values = [p["metrics"]["energy"]["breakdown_pj"].get(unit, 0.0) / p["metrics"]["steps"] for p in chosen]
        ax.bar(range(len(chosen)), values, bottom=bottoms, label=unit, color=colours(index % 20))
        bottoms = [b + v for b, v in zip(bottoms, values)]
    ax.set_xticks(range(len(chosen)), [f"{p['key'][:6]}\n{_label(p, axes, chr(10))}" for p in chosen], fontsize=7)
    ax.set_ylabel("energy per step (pJ)")
    ax.legend(fontsize=7, ncol=2, bbox_to_anchor=(1.01, 1), loc="upper left")
    ax.set_title("Energy breakdown per unit")
    fig.tight_layout()
    data = _save(fig, out_dir, "breakdown")
    plt.close(fig)
    return data


def _table(rows: list[dict], columns: list[str], highlight=()) -> str:
    def cell(value):
        if isinstance(value, float):
            return f"{value:.4g}"
        return html.escape("" if value is None else str(value))
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    marked = ' class="pareto"'
    body = "".join(
        f"<tr{marked if r.get('key') in highlight else ''}>"
        + "".join(f"<td>{cell(r.get(c))}</td>" for c in columns) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def write_report(db, out_dir, *, run: str | None = None, area: str | None = None, breakdown: int = 4,
                 points: list[str] | None = None) -> dict:
    """Write the report of ``db`` into ``out_dir``; returns what it found (points, Pareto keys, paths).

    The energy breakdown shows ``points`` (key prefixes), or else the ``breakdown`` best by EDP."""
    records = sweep_records(db, run)
    if not records:
        raise ConfigError(f"db: {db} holds no sweep points" + (f" of run {run!r}" if run else ""))
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    axes = []
    for r in records:
        axes += [a for a in r["params"] if a not in axes]
    ok = [r for r in records if r["status"] == "ok" and r.get(ENERGY) is not None]
    if area is None:
        area = next((c for c in ("area_sky130_um2", "area_generic_cells", "area_ice40_luts", "area_ecp5_luts")
                     if ok and all(c in r for r in ok)), None)
    if area is None:
        # no synthesis in the sweep: the flop and cell budget of the energy model stands in for area
        area = "cycles_per_step"
    elif any(area not in r for r in ok):
        raise ConfigError(f"area: {area!r} is not a metric of every point")
    front = pareto_front(ok, [area, ENERGY, ERROR]) if ok else []
    pareto_keys = [r["key"] for r, f in zip(ok, front) if f]
    ranking = rank(ok)
    plots = {}
    if ok:
        plots["pareto"] = _pareto_plot(ok, front, area, axes, out_dir)
        by_key = {r["key"]: r for r in ok}
        chosen = [by_key[row["key"]] for row in ranking[:max(1, breakdown)]]
        if points:
            chosen = []
            for prefix in points:
                matches = [r for r in ok if r["key"].startswith(prefix)]
                if len(matches) != 1:
                    raise ConfigError(f"points: {prefix!r} matches {len(matches)} finished points; give a "
                                      "longer key prefix")
                chosen += matches
        plots["breakdown"] = _breakdown_plot(chosen, axes, out_dir)
    export_table(records, out_dir / "points.csv")
    parquet = None
    try:
        parquet = export_table(records, out_dir / "points.parquet")
    except ConfigError:
        pass        # pyarrow not installed: CSV only
    metric_columns = [area, ENERGY, "energy_min_pj_per_step", "vdd_min_energy", ERROR, "err_max_lsb", DELAY]
    metric_columns = list(dict.fromkeys(metric_columns))
    by_key = {r["key"]: r for r in records}
    ranking_rows = [{**by_key[row["key"]], **row} for row in ranking]
    failed = [r for r in records if r["status"] != "ok"]
    sections = [
        f"<h1>Sweep report</h1><p>{len(records)} points from <code>{html.escape(str(db))}</code>"
        f" ({len(ok)} ok, {len(failed)} failed). Objectives, all minimised: {html.escape(area)}, "
        f"{ENERGY}, {ERROR}. Delay = {DELAY} (clock cycles per time step).</p>",
    ]
    if ok:
        sections += [
            "<h2>Pareto fronts</h2>",
            f'<img alt="Pareto fronts" src="data:image/png;base64,{plots["pareto"]}">',
            f"<h3>Non-dominated points ({len(pareto_keys)})</h3>",
            _table([by_key[k] for k in pareto_keys], ["key", *axes, *metric_columns]),
            "<h2>Energy breakdown</h2>",
            f'<img alt="Energy breakdown" src="data:image/png;base64,{plots["breakdown"]}">',
            "<h2>Ranking</h2>",
            _table(ranking_rows, ["edp_rank", "key", *axes, "edp", "eds", "eds_rank", "edd", "edd_rank"],
                   highlight=pareto_keys),
        ]
    sections += ["<h2>All points</h2>",
                 _table(records, ["key", "status", *axes, *metric_columns, "error"], highlight=pareto_keys)]
    style = ("body{font-family:sans-serif;margin:1.5em;max-width:1400px}table{border-collapse:collapse;"
             "font-size:12px;margin-bottom:1em}td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}"
             "th{background:#eee}tr.pareto{background:#fff3c4;font-weight:bold}img{max-width:100%}")
    page = (f"<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>subtile sweep report</title>"
            f"<style>{style}</style></head><body>{''.join(sections)}</body></html>\n")
    index = out_dir / "index.html"
    index.write_text(page)
    summary = {"points": len(records), "ok": len(ok), "failed": len(failed), "area_metric": area,
               "pareto": pareto_keys, "best_edp": ranking[0]["key"] if ranking else None,
               "html": str(index), "plots": sorted(str(p) for p in out_dir.glob("*.png")),
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
