"""``subtile report``: Pareto computation, rankings, and the HTML page rendered in headless
Chromium (skipped with a reason when Debian ``chromium`` is not installed)."""

import json
import math

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
    assert "RuntimeError: boom" in page and page.count("data:image/png;base64,") == 2
    for stem in ("pareto", "breakdown"):
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


@pytest.mark.skipif(find_chromium() is None, reason="Debian chromium is not installed (apt-get install chromium)")
def test_report_renders_in_headless_chromium(tmp_path):
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
