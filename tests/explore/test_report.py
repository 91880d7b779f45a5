"""``subtile report``: Pareto computation, rankings, and the HTML page rendered in headless
Chromium (skipped with a reason when Debian ``chromium`` is not installed)."""

import json
import math
import os

import numpy as np
import pytest

from subtile.cli.main import main
from subtile.errors import ConfigError
from subtile.explore.report import find_chromium, pareto_front, rank, screenshot, write_report
from subtile.store import ResultStore


def test_pareto_front_is_the_set_of_non_dominated_points():
    points = [{"a": 1, "e": 5, "r": 0}, {"a": 2, "e": 2, "r": 0}, {"a": 2, "e": 3, "r": 0},   # 2 dominates 3
              {"a": 5, "e": 1, "r": 1}, {"a": 1, "e": 5, "r": 0}]                            # a tie is kept
    assert pareto_front(points, ["a", "e", "r"]) == [True, True, False, True, True]
    rng = np.random.default_rng(3)
    cloud = [dict(zip("xyz", map(float, rng.random(3)))) for _ in range(60)]
    flags = pareto_front(cloud, list("xyz"))
    for p, front in zip(cloud, flags):
        beaten = any(all(q[k] <= p[k] for k in "xyz") and q != p for q in cloud)
        assert front == (not beaten)


def test_rank_orders_by_energy_delay_product_sum_and_distance():
    points = [{"key": "a", "energy_pj_per_step": 4.0, "cycles_per_step": 1.0},
              {"key": "b", "energy_pj_per_step": 1.0, "cycles_per_step": 3.0},
              {"key": "c", "energy_pj_per_step": 2.0, "cycles_per_step": 2.5}]
    rows = {r["key"]: r for r in rank(points)}
    assert [r["key"] for r in rank(points)] == ["b", "a", "c"]          # EDP 3, 4, 5
    assert rows["a"]["eds"] == 4.0 + 1.0 and rows["b"]["eds"] == 1.0 + 3.0
    assert rows["c"]["edd"] == pytest.approx(math.hypot(2.0, 2.5))
    assert rows["b"]["eds_rank"] == 1 and rows["a"]["edd_rank"] == 3


def _fake_sweep(db):
    """A results database with points shaped like subtile sweep's (the report reads only the store)."""
    rng = np.random.default_rng(1)
    with ResultStore(db, run="fake") as store:
        for index in range(10):
            params = {"weight_format": f"fixed<{3 + index % 5},2>", "gating": ("icg", "none")[index % 2]}
            energy = float(rng.uniform(5, 40))
            metrics = {"energy_pj_per_step": energy, "energy_min_pj_per_step": energy / 30, "vdd_min_energy": 0.3,
                       "err_rms_lsb": float(rng.uniform(0, 1)), "err_max_lsb": 2.0, "cycles_per_step": 7.0 + index,
                       "area_generic_cells": int(rng.integers(700, 1100)), "steps": 16,
                       "energy": {"breakdown_pj": {"clock.root": energy * 8, "data.synapse": energy * 8}}}
            store.put(f"p{index}", params=params, metrics=metrics)
        store.put("broken", params={"weight_format": "fixed<9,2>", "gating": "icg"}, error="RuntimeError: boom")


def test_report_writes_page_plots_and_tables(tmp_path):
    _fake_sweep(tmp_path / "r.sqlite")
    assert main(["report", str(tmp_path / "r.sqlite"), "-o", str(tmp_path / "out")]) == 0
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["points"] == 11 and summary["failed"] == 1 and summary["area_metric"] == "area_generic_cells"
    page = (tmp_path / "out" / "index.html").read_text()
    for key in summary["pareto"]:
        assert page.count(key) >= 3       # listed as non-dominated, ranked, and in the table
    assert "RuntimeError: boom" in page and page.count("data:image/png;base64,") == 4
    # no task metric: the recommendation is within tolerance LSB RMS of the float model
    assert "output LSB RMS of the float model" in summary["recommendation"]
    for stem in ("pareto", "breakdown", "accuracy_vs_weight_bits", "energy_vs_weight_bits"):
        assert (tmp_path / "out" / f"{stem}.png").stat().st_size > 10_000
        assert (tmp_path / "out" / f"{stem}.svg").read_text().lstrip().startswith("<?xml")
    assert len((tmp_path / "out" / "points.csv").read_text().splitlines()) == 12
    with pytest.raises(ConfigError, match="^area: 'nope' is not a metric"):
        write_report(tmp_path / "r.sqlite", tmp_path / "x", area="nope")
    assert main(["report", str(tmp_path / "missing.sqlite"), "-o", str(tmp_path / "y")]) == 2
    assert write_report(tmp_path / "r.sqlite", tmp_path / "z", points=["p3", "p7"])["points"] == 11
    with pytest.raises(ConfigError, match="^points: 'p' matches 10 finished points"):
        write_report(tmp_path / "r.sqlite", tmp_path / "z", points=["p"])
    parquet = pytest.importorskip("pyarrow.parquet", reason="pyarrow is not installed (subtile[cluster])")
    table = parquet.read_table(tmp_path / "out" / "points.parquet")
    assert table.num_rows == 11 and "energy_pj_per_step" in table.column_names


def _task_sweep(db):
    """Points shaped like a digits sweep: weight format x gating, one silent format whose
    weights all round to zero (cheapest, at chance: must never be recommended)."""
    rows = {  # format: (accuracy, energy pJ, area um^2, silent)
        "fixed<8,2>": (0.972, 100.0, 1000.0, False), "fixed<6,2>": (0.968, 90.0, 900.0, False),
        "fixed<4,2>": (0.947, 80.0, 800.0, False), "fixed<3,5>": (0.100, 10.0, 700.0, True)}
    with ResultStore(db, run="task") as store:
        for fmt, (acc, energy, area, silent) in rows.items():
            for gating, scale in (("icg", 1.0), ("none", 1.3)):
                metrics = {"accuracy": acc, "accuracy_float": 0.975, "chance": 0.1, "silent": silent,
                           "at_chance": silent, "err_rms_lsb": 1 / acc, "err_max_lsb": 5 / acc,
                           "energy_pj_per_inference": energy * scale, "energy_min_pj_per_inference": energy / 30,
                           "vdd_min_energy": 0.25, "cycles_per_inference": 600.0, "area_sky130_um2": area * (2 - scale),
                           "output_events_per_inference": 0.0 if silent else 150.0, "synaptic_ops_per_inference": 4000.0,
                           "network_energy_share": 0.5, "inferences": 8, "steps": 160,
                           "energy": {"breakdown_pj": {"tile_0_0.data.synapse": energy * 4},
                                      "energy_by_kind_pj": {"tile": energy * 4, "router": energy * 4}}}
                store.put(f"{fmt}-{gating}", params={"weight_format": fmt, "gating": gating}, metrics=metrics)


def test_report_recommends_the_cheapest_design_near_the_float_accuracy_never_a_silent_one(tmp_path):
    _task_sweep(tmp_path / "t.sqlite")
    summary = write_report(tmp_path / "t.sqlite", tmp_path / "out")
    assert summary["task_metric"] == "task_error_pct" and summary["area_metric"] == "area_sky130_um2"
    assert summary["energy_metric"] == "energy_pj_per_inference"
    # within 1 point of 97.5 %: the 8- and 6-bit points; the cheapest of them is 6-bit with icg
    assert summary["recommended"] == "fixed<6,2>-icg"
    assert summary["recommendation"].startswith("Recommended: fixed<6,")
    assert "within 1 point of the float model's accuracy (97.5 %)" in summary["recommendation"]
    assert sorted(summary["flagged"]) == ["fixed<3,5>-icg", "fixed<3,5>-none"]
    assert "fixed<8,2>-icg" in summary["pareto"] and not set(summary["flagged"]) & set(summary["pareto"])
    # a looser tolerance lets the 4-bit point in, still never the silent one though it is cheapest
    assert write_report(tmp_path / "t.sqlite", tmp_path / "loose", tolerance=5)["recommended"] == "fixed<4,2>-icg"
    assert write_report(tmp_path / "t.sqlite", tmp_path / "loose", tolerance=100)["recommended"] == "fixed<4,2>-icg"
    none = write_report(tmp_path / "t.sqlite", tmp_path / "tight", tolerance=0.1)
    assert none["recommended"] is None and none["recommendation"].startswith("No design within 0.1 points")
    with pytest.raises(ConfigError, match="^tolerance: -1 is outside the allowed range 0..100"):
        write_report(tmp_path / "t.sqlite", tmp_path / "x", tolerance=-1)
    page = (tmp_path / "out" / "index.html").read_text()
    assert page.index('id="recommended"') < page.index("<h1>")           # the answer comes first
    # front.md: the answer, then one Markdown row per front point, headings with units
    lines = (tmp_path / "out" / "front.md").read_text().splitlines()
    assert lines[0] == summary["recommendation"] and summary["front_markdown"].endswith("front.md")
    table = [line for line in lines if line.startswith("|")]
    assert table[0].startswith("| key (hash) | ") and "| weight_format (fixed<W,I>) |" in table[0]
    assert "| area sky130 (um^2) | energy / inf. (nominal Vdd) (pJ) |" in table[0] and table[1].startswith("|---|")
    assert [row.split(" | ")[0][2:] for row in table[2:]] == summary["pareto"]
    # every column heading has a unit in parentheses
    import re
    headings = re.findall(r"<th>(.*?)</th>", page)
    assert headings and all(re.search(r"\([^()]+\)$", h) for h in headings), headings
    assert "accuracy (%)" in headings and "energy / inf. (nominal Vdd) (pJ)" in headings
    # flagged rows are marked in the tables
    assert page.count('class="flagged"') >= 2 and "silent: no output event; accuracy at chance" in page
    # one family per gating mode and integer bits (I = 2, I = 5), each its own colour
    colours = summary["legend_colours"]["accuracy_bits"]
    assert len(colours) == 4 and len(set(colours)) == 4


@pytest.mark.parametrize("count", [3, 10, 14, 20, 33])
def test_legend_colours_never_repeat(count):
    from subtile.explore.report import distinct_colours
    colours = distinct_colours(count)
    assert len(colours) == count and len({tuple(round(x, 6) for x in c) for c in colours}) == count


def _chromium():
    if find_chromium() is None:
        if os.environ.get("CI") == "true":
            pytest.fail("chromium is not installed in CI (apt-get install chromium): the report must render")
        pytest.skip("Debian chromium is not installed (apt-get install chromium)")


def test_report_renders_in_headless_chromium(tmp_path):
    _chromium()
    import matplotlib.image
    _fake_sweep(tmp_path / "r.sqlite")
    summary = write_report(tmp_path / "r.sqlite", tmp_path / "out")
    png = screenshot(summary["html"], tmp_path / "shot.png", width=1200, height=1400)
    image = matplotlib.image.imread(png)
    assert image.shape[:2] == (1400, 1200)
    # the page rendered: not a blank canvas, and the plot's colours (red Pareto edges) are on it
    assert image[..., :3].std() > 0.05
    red = (image[..., 0] > 0.8) & (image[..., 1] < 0.2) & (image[..., 2] < 0.2)
    assert red.sum() > 50


def _box(image):
    """Bounding box (rows, columns) of the recommendation's green background."""
    rgb = (image[..., :3] * 255).round()
    green = (abs(rgb[..., 0] - 0xd8) < 2) & (abs(rgb[..., 1] - 0xf0) < 2) & (abs(rgb[..., 2] - 0xd8) < 2)
    rows, cols = np.flatnonzero(green.any(axis=1)), np.flatnonzero(green.any(axis=0))
    assert rows.size and cols.size, "no recommendation box on the page"
    return slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1)


def test_screenshot_shows_the_recommended_design_line(tmp_path):
    """Read the answer off the rendered page: the recommendation box of the report's screenshot
    must be pixel for pixel the rendering of the expected line (the chosen key and figures) on
    its own, and differ from the rendering of the same line naming another design."""
    _chromium()
    import matplotlib.image
    from subtile.explore.report import page_html, recommendation_html
    _task_sweep(tmp_path / "t.sqlite")
    summary = write_report(tmp_path / "t.sqlite", tmp_path / "out")
    shot = matplotlib.image.imread(screenshot(summary["html"], tmp_path / "report.png", width=1200, height=700))
    expected = summary["recommendation"]
    assert "fixed<6,2>" in expected and "90 pJ per inference" in expected
    pages = {"right": expected, "wrong": expected.replace("fixed<6,", "fixed<8,")}
    shots = {}
    for name, text in pages.items():
        (tmp_path / f"{name}.html").write_text(page_html(recommendation_html(text)))
        shots[name] = matplotlib.image.imread(screenshot(tmp_path / f"{name}.html", tmp_path / f"{name}.png",
                                                         width=1200, height=700))
    rows, cols = _box(shots["right"])
    assert rows.start < 80                                          # at the top of the page
    assert _box(shot) == (rows, cols)
    ink = shots["right"][rows, cols, :3].mean(axis=2) < 0.3         # the text is drawn (dark pixels)
    assert ink.sum() > 500
    assert np.array_equal(shot[rows, cols], shots["right"][rows, cols])
    assert not np.array_equal(shot[rows, cols], shots["wrong"][rows, cols])
