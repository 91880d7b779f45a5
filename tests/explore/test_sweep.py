"""Design-space sweeps (``subtile sweep``): a 12-point grid on the 2-neuron tile, kill-and-resume,
the Dask path on a LocalCluster, failed points, and the sweep file's validation.

The heavy tests share one 12-point sweep (two Verilator builds of six tiles each, generic-cell
synthesis): the resumed and the Dask sweeps cut the same batches, so they hit the build and
synthesis caches and only simulate again.
"""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from subtile.cli.main import main
from subtile.spec.config import TileConfig
from subtile.errors import ConfigError
from subtile.explore.sweep import (accuracy, evaluate_batch, load_sweep, point_config, point_key, run_sweep,
                               sweep_records)
from subtile.explore.workload import RandomWorkload, real_contents
from subtile.golden.tile import random_stimulus

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SWEEP = f"""
[sweep]
name = "t12"
base = "{EXAMPLES / 'tiny.toml'}"
batch = 6
area = ["generic"]

[workload]
steps = 16
activity = 0.5
seed = 2

[axes]
weight_format = ["fixed<3,1>", "fixed<4,2>", "fixed<6,2>"]
"soma_activation.impl" = ["interp", "lut"]
gating = ["icg", "none"]
"""
#: Metrics that do not depend on timing or on caches: a resumed or distributed sweep must match.
STABLE = ("err_max_lsb", "err_rms_lsb", "energy_pj_per_step", "energy_min_pj_per_step", "vdd_min_energy",
          "cycles", "events_in", "events_out", "synaptic_ops", "lint_warnings", "area_generic_cells")


def _rows(db):
    if not Path(db).exists():
        return []
    con = sqlite3.connect(db)
    try:
        return con.execute("SELECT key, status, params, metrics FROM results ORDER BY key").fetchall()
    except sqlite3.OperationalError:
        return []
    finally:
        con.close()


def _stable(db):
    return {r["key"]: (r["status"], {name: r.get(name) for name in STABLE}) for r in sweep_records(db)}


@pytest.fixture(scope="module")
def sweep_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("sweep") / "t12.toml"
    path.write_text(SWEEP)
    return path


@pytest.fixture(scope="module")
def uninterrupted(sweep_file):
    db = sweep_file.parent / "full.sqlite"
    assert main(["sweep", str(sweep_file), "-j", "2", "--db", str(db), "--quiet",
                 "--export", str(sweep_file.parent / "full.csv")]) == 0
    return db


class TestSweep:
    def test_twelve_points_each_checked_costed_and_scored(self, uninterrupted, sweep_file):
        records = sweep_records(uninterrupted)
        spec = load_sweep(sweep_file)
        assert sorted(r["key"] for r in records) == sorted(point_key(p) for p in spec.points())
        assert len(records) == 12 and all(r["status"] == "ok" for r in records), \
            [r["error"] for r in records if r["error"]]
        for r in records:
            config = point_config(spec.base, r["params"])
            assert r["weight_format"] == str(config.weight_format)
            # the RTL ran the workload under toggle counting and matched the golden model
            assert r["steps"] == 16 and r["events_in"] > 0 and r["cycles"] > 0
            assert r["energy_pj_per_step"] > 0 and 0 < r["energy_min_pj_per_step"] < r["energy_pj_per_step"]
            assert r["area_generic_cells"] > 0 and r["lint_warnings"] == 0
            assert 0 <= r["err_rms_lsb"] <= r["err_max_lsb"]
            # fidelity is the golden fixed-point tile against the float tile with the real weights
            stimulus = random_stimulus(config, 16, 0.5, 2)
            codes, table, real = RandomWorkload(spec.workload, spec.base).contents(config)
            assert accuracy(config, stimulus, (codes, table), real_weights=real)["err_max_lsb"] == r["err_max_lsb"]
            assert r["silent"] == (r["events_out"] == 0) and r["accuracy"] is None
            assert r["energy_pj_per_inference"] == pytest.approx(r["energy_pj_per_step"])
        by = {(r["weight_format"], r["soma_activation.impl"], r["gating"]): r for r in records}
        for fmt in ("fixed<3,1>", "fixed<4,2>", "fixed<6,2>"):
            for impl in ("interp", "lut"):
                gated, free = by[(fmt, impl, "icg")], by[(fmt, impl, "none")]
                # gating changes energy, never behaviour
                assert gated["events_out"] == free["events_out"] and gated["err_max_lsb"] == free["err_max_lsb"]
                assert gated["energy_pj_per_step"] < free["energy_pj_per_step"]
        # wider weights cost more cells
        assert by[("fixed<3,1>", "interp", "none")]["area_generic_cells"] \
            < by[("fixed<6,2>", "interp", "none")]["area_generic_cells"]
        # one column per parameter and headline metric, plus the full JSON
        con = sqlite3.connect(uninterrupted)
        row = con.execute('SELECT weight_format, gating, energy_pj_per_step, metrics FROM sweep_points '
                          'WHERE key = ?', (records[0]["key"],)).fetchone()
        con.close()
        assert row[:3] == (records[0]["weight_format"], records[0]["gating"], records[0]["energy_pj_per_step"])
        assert json.loads(row[3])["energy"]["breakdown_pj"]
        csv = (sweep_file.parent / "full.csv").read_text().splitlines()
        assert len(csv) == 13 and "energy_pj_per_step" in csv[0]

    def test_sigkill_then_restart_loses_and_duplicates_nothing(self, uninterrupted, sweep_file, tmp_path):
        db = tmp_path / "resume.sqlite"
        command = [sys.executable, "-m", "subtile", "sweep", str(sweep_file), "-j", "1", "--db", str(db),
                   "--work-dir", str(tmp_path / "work")]
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                   start_new_session=True)
        deadline = time.monotonic() + 600
        try:
            while not _rows(db) and process.poll() is None and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)      # the CLI and its simulator child
            process.wait()
        assert process.returncode == -signal.SIGKILL, process.stdout.read().decode()[-2000:]
        before = _rows(db)
        assert 1 <= len(before) < 12, "the kill did not land mid-sweep"
        assert main(["sweep", str(sweep_file), "--db", str(db), "--work-dir", str(tmp_path / "work"),
                     "--quiet"]) == 0
        after = _rows(db)
        assert len(after) == 12 and len({key for key, *_ in after}) == 12     # all, once each
        assert set(before) <= set(after)           # rows written before the kill are kept as they were
        assert _stable(db) == _stable(uninterrupted)

    def test_dask_local_cluster_gives_the_same_results(self, uninterrupted, sweep_file, tmp_path):
        distributed = pytest.importorskip("dask.distributed", reason="dask[distributed] is not installed")
        with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                      dashboard_address=None) as cluster:
            summary = run_sweep(load_sweep(sweep_file), db=tmp_path / "dask.sqlite", work_dir=tmp_path / "work",
                                scheduler=cluster.scheduler_address, progress=False, log=lambda line: None)
        assert summary["ran"] == summary["stored"] == 12 and summary["failed"] == 0
        assert _stable(tmp_path / "dask.sqlite") == _stable(uninterrupted)


def test_failed_points_are_stored_with_their_error_and_the_sweep_goes_on(tmp_path):
    # lanes <= neurons = 2: lanes = 3 fails validation, before any build
    path = tmp_path / "bad.toml"
    path.write_text(f'[sweep]\nbase = "{EXAMPLES / "tiny.toml"}"\narea = []\n[axes]\nlanes = [3]\n')
    summary = run_sweep(load_sweep(path), db=tmp_path / "bad.sqlite", work_dir=tmp_path / "w", progress=False,
                        log=lambda line: None)
    assert summary["stored"] == summary["failed"] == 1
    (record,) = sweep_records(tmp_path / "bad.sqlite")
    assert record["status"] == "failed" and record["error"].startswith("ConfigError: lanes: 3 is outside the allowed range 1..2")
    again = run_sweep(load_sweep(path), db=tmp_path / "bad.sqlite", work_dir=tmp_path / "w", progress=False,
                      log=lambda line: None)
    assert again["ran"] == 0 and again["stored"] == 1          # a stored failure is not rerun


def test_evaluate_batch_keeps_point_order_and_errors_per_point(tmp_path):
    spec = load_sweep(_write(tmp_path, '[axes]\nlanes = [3, 5]\n'))
    points = [(point_key(p), p) for p in spec.points()]
    out = evaluate_batch(spec.to_dict(), points, str(tmp_path))
    assert [key for key, *_ in out] == [key for key, _ in points]
    assert all(metrics is None and "lanes" in error for _, _, metrics, error in out)


def _write(tmp_path, text):
    path = tmp_path / "s.toml"
    path.write_text(f'[sweep]\nbase = "{EXAMPLES / "tiny.toml"}"\narea = []\n' + text)
    return path


def test_random_workload_error_grows_as_weight_bits_shrink(tmp_path):
    """The reference is the float tile with the real weights the codes were rounded from, so a
    narrower weight format shows as a larger error (the old reference, the same codes in float,
    only saw the datapath's rounding and scored a 3-bit tile like an 8-bit one)."""
    path = tmp_path / "s.toml"
    path.write_text('[workload]\nsteps = 48\nactivity = 0.3\nseed = 4\n'
                    '[axes]\nweight_format = ["fixed<3,2>", "fixed<4,2>", "fixed<5,2>", "fixed<6,2>", "fixed<8,2>"]\n')
    spec = load_sweep(path)                    # the default 16-neuron tile
    workload = RandomWorkload(spec.workload, spec.base)
    errors, same_codes = [], []
    for params in spec.points():
        config = point_config(spec.base, params)
        codes, table, real = workload.contents(config)
        stimulus = workload.stimulus(config)
        errors.append(accuracy(config, stimulus, (codes, table), real_weights=real)["err_rms_lsb"])
        same_codes.append(accuracy(config, stimulus, (codes, table))["err_rms_lsb"])
    assert all(a > b for a, b in zip(errors, errors[1:])), errors
    assert errors[0] > 4 * errors[-1]
    assert max(same_codes) < errors[0] / 3          # what the old reference saw
    # one real network for every point: the draw does not depend on the weight format
    a, table_a = real_contents(point_config(spec.base, spec.points()[0]), 2.0)
    b, table_b = real_contents(point_config(spec.base, spec.points()[-1]), 2.0)
    assert np.array_equal(a, b) and np.array_equal(table_a.valid, table_b.valid)
    assert np.count_nonzero(a) > 0.3 * a.size and np.abs(a).max() <= 2.0


def test_grid_and_random_points(tmp_path):
    grid = load_sweep(_write(tmp_path, '[axes]\nleak_shift = [1, 2, 3]\ngating = ["icg", "none"]\n'))
    assert grid.points() == [{"leak_shift": k, "gating": g} for k in (1, 2, 3) for g in ("icg", "none")]
    path = _write(tmp_path, '[axes]\nleak_shift = [1, 2, 3]\ngating = ["icg", "none"]\n')
    path.write_text(path.read_text().replace("[sweep]\n", "[sweep]\nmode = \"random\"\nsamples = 4\nseed = 7\n"))
    sampled = load_sweep(path).points()
    assert len(sampled) == 4 and len({json.dumps(p, sort_keys=True) for p in sampled}) == 4
    assert all(p in grid.points() for p in sampled) and sampled == load_sweep(path).points()
    config = point_config(grid.base, {"soma_activation.impl": "lut", "delta": 1})
    assert config.soma_activation.impl == "lut" and config.soma_activation.function == "relu" and config.delta == 1
    assert isinstance(config, TileConfig)


@pytest.mark.parametrize("text, message", [
    ('[axes]\nbogus = [1]\n', "axes.bogus: not a tile field"),
    ('[axes]\n"soma_activation.bogus" = [1]\n', "axes.soma_activation.bogus: 'bogus' is not one of"),
    ('[axes]\nlanes = []\n', "axes.lanes: expected a non-empty list"),
    ('[axes]\n', "axes: give at least one axis"),
    ('[workload]\nkind = "bogus"\n[axes]\nlanes = [1]\n', "workload.kind: 'bogus' is not supported"),
    ('[workload]\nweight_scale = -1\n[axes]\nlanes = [1]\n', "workload.weight_scale: -1 is outside"),
    ('[workload]\nactivty = 0.5\n[axes]\nlanes = [1]\n', "workload: unknown key(s) activty"),
    ('[workload]\nsteps = 0\n[axes]\nlanes = [1]\n', "workload.steps: 0 is outside"),
    ('[axes]\n"neurons.x" = [1]\n', "axes.neurons.x: only branch_activation, soma_activation"),
])
def test_bad_sweep_files_are_one_line_config_errors(tmp_path, text, message, capsys):
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError, match="^" + message.replace("(", r"\(").replace(")", r"\)")):
        load_sweep(path)
    assert main(["sweep", str(path), "--db", str(tmp_path / "x.sqlite")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message.split(":")[0] in err[0]


def test_a_batch_that_crashes_its_worker_is_stored_as_failed_points():
    """A worker that dies while running a batch (a broken process pool here; Dask raises
    KilledWorker after its retries) fails that batch's points with the reason, not the sweep."""
    from concurrent.futures import ProcessPoolExecutor

    from subtile.explore.sweep import _batch_outcome
    batch = [("k1", {"lanes": 1}), ("k2", {"lanes": 2})]
    with ProcessPoolExecutor(max_workers=1) as pool:
        future = pool.submit(os._exit, 1)
        outcome = _batch_outcome(future, batch)
    assert [(key, params, metrics) for key, params, metrics, _ in outcome] == [
        ("k1", {"lanes": 1}, None), ("k2", {"lanes": 2}, None)]
    assert all(error.startswith("batch crashed its worker: BrokenProcessPool") for *_, error in outcome)


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs /proc, a folder that refuses new files even to root")
@pytest.mark.parametrize("argv, message", [
    (["--db", "/proc/x.sqlite"], "db: /proc/x.sqlite cannot be written: /proc refuses new files"),
    (["--work-dir", "/proc/w/x"], "work-dir: /proc/w/x cannot be written: /proc refuses new files"),
])
def test_unwritable_database_or_work_folder_is_one_line_before_anything_runs(tmp_path, monkeypatch, capsys,
                                                                             argv, message):
    path = tmp_path / "s.toml"
    path.write_text('[sweep]\narea = []\n[workload]\nkind = "random"\nsteps = 2\n[axes]\ngating = ["icg"]\n')
    monkeypatch.chdir(tmp_path)
    assert main(["sweep", "s.toml", *argv]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [f"subtile: error: {message} (No such file or directory)"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.toml"]


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs /proc")
def test_report_into_an_unwritable_folder_is_one_line(tmp_path, capsys):
    from subtile.store import ResultStore
    with ResultStore(tmp_path / "r.sqlite", run="r") as store:
        store.put("k", params={"gating": "icg"}, metrics={"energy_pj_per_step": 1.0, "err_rms_lsb": 0.5})
    assert main(["report", str(tmp_path / "r.sqlite"), "-o", "/proc/report"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["subtile: error: output-dir: /proc/report cannot be written: /proc refuses new files "
                   "(No such file or directory)"]


def test_the_tiny_example_sweep_has_no_silent_point():
    """examples/sweep_tiny.toml (the README's first sweep): every point's tile, on the golden
    model with the point's quantized weights and the sweep's stimulus, sends output events, so
    the report has designs to recommend (the 2-neuron tile of tiny.toml rounded to silence)."""
    from subtile.explore.sweep import load_sweep
    from subtile.explore.workload import make_workload, point_config
    from subtile.golden.tile import TileModel
    spec = load_sweep(Path(__file__).resolve().parents[2] / "examples" / "sweep_tiny.toml")
    workload = make_workload(spec.workload, spec.base)
    assert len(spec.points()) == 12
    for params in spec.points():
        config = point_config(spec.base, params)
        codes, table, _ = workload.contents(config)
        model = TileModel(config, weights=codes, table=table)
        sent = sum(len(model.step(events).events_out) for events in workload.stimulus(config))
        assert sent >= workload.settings["steps"], (params, sent)
