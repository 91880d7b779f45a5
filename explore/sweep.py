"""Design-space sweeps: many tile configurations, each generated, linted, simulated on RTL with
toggle counting (checked against the golden model), costed (energy, area) and compared with the
float model (accuracy).

A sweep is described by a TOML file::

    [sweep]
    name = "tiny-weights"          # the run name in the results database
    base = "tiny.toml"             # tile config (relative to this file), or an inline [base] table
    mode = "grid"                  # or "random": `samples` points drawn with `seed` from the axes
    batch = 6                      # points per Verilator build (several tiles side by side)
    area = ["generic", "sky130"]   # synthesis targets ([] for none; ice40 / ecp5 allowed)

    [workload]
    kind = "random"                # random sigma-delta stimulus (golden.tile.random_stimulus)
    steps = 32                     # or "digits": the built-in digits network on a 2-tile mesh,
                                   # or "model": your network file + data .npz (examples/sweep_iris.toml)
    activity = 0.3
    seed = 1
    weight_scale = 1.75            # real weights uniform in +-this, rounded per point

    [axes]                         # any TileConfig field; activation sub-fields as "soma_activation.impl"
    weight_format = ["fixed<3,1>", "fixed<4,2>"]
    gating = ["icg", "none"]

The workload kinds, their keys and axes, what a point measures and what it is compared with (the
unquantized model) are in :mod:`subtile.explore.workload`.

Each point's result goes to a :class:`subtile.store.ResultStore` row (key = hash of the point's
parameters) as soon as its batch finishes, so a killed sweep started again skips the finished
points and loses none; a failed point is stored with its error and the sweep goes on. Points run
in batches (one Verilator build per batch, cached by the hash of its Verilog) on a local process
pool or, with ``scheduler``, on a Dask distributed cluster. Synthesis results are cached by
:func:`subtile.gen.synth.synthesize`.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import sqlite3
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from subtile.spec.config import TileConfig, load_config, read_toml
from subtile.errors import ConfigError
from subtile.store import ResultStore
from subtile.explore.workload import accuracy, make_workload, point_config, workload_class  # noqa: F401

__all__ = ["SweepSpec", "load_sweep", "run_sweep", "evaluate_batch", "sweep_records", "accuracy",
           "AREA_TARGETS"]

AREA_TARGETS = ("generic", "sky130", "ice40", "ecp5")
_MODES = ("grid", "random")
_SWEEP_KEYS = {"name", "base", "mode", "samples", "seed", "batch", "area"}


@dataclass(frozen=True)
class SweepSpec:
    """A parsed sweep file (see the module docs)."""

    name: str
    base: dict
    axes: dict
    mode: str = "grid"
    samples: int = 0
    seed: int = 1
    batch: int = 6
    area: tuple = ("generic", "sky130")
    workload: dict = field(default_factory=lambda: {"kind": "random", "steps": 32, "activity": 0.3,
                                                    "seed": 1, "jump": 0.5})

    def points(self) -> list[dict]:
        """Parameters of every point, in sweep order (a grid in axis order, or random samples)."""
        names = list(self.axes)
        if self.mode == "grid":
            return [dict(zip(names, values)) for values in itertools.product(*self.axes.values())]
        rng = np.random.default_rng(self.seed)
        seen, points = set(), []
        size = math.prod(len(v) for v in self.axes.values())
        # sampling without replacement from the grid: a repeated point would be the same row
        while len(points) < min(self.samples, size):
            point = {n: self.axes[n][int(rng.integers(len(self.axes[n])))] for n in names}
            text = json.dumps(point, sort_keys=True)
            if text not in seen:
                seen.add(text)
                points.append(point)
        return points

    def to_dict(self) -> dict:
        return {"name": self.name, "base": self.base, "axes": self.axes, "mode": self.mode,
                "samples": self.samples, "seed": self.seed, "batch": self.batch, "area": list(self.area),
                "workload": self.workload}


def point_key(params: dict) -> str:
    """The store key of a point: a hash of its parameters."""
    return hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:16]


def load_sweep(path) -> SweepSpec:
    """Read and validate a sweep TOML file (ConfigError naming the bad key)."""
    path = Path(path)
    data = read_toml(path, "sweep")
    sweep = data.get("sweep", {})
    unknown = set(sweep) - _SWEEP_KEYS
    if unknown:
        raise ConfigError(f"sweep: unknown key(s) {', '.join(sorted(unknown))}; allowed: {', '.join(sorted(_SWEEP_KEYS))}")
    base = sweep.get("base", data.get("base"))
    if base is None:
        base = TileConfig().to_dict()
    elif isinstance(base, str):
        loaded = load_config(path.parent / base)
        if not isinstance(loaded, TileConfig):
            raise ConfigError("sweep.base: a mesh config; sweeps take a tile config for now")
        base = loaded.to_dict()
    elif isinstance(base, dict):
        base = TileConfig.from_dict(base.get("tile", base)).to_dict()
    else:
        raise ConfigError(f"sweep.base: expected a file name or a table, got {base!r}")
    table = data.get("workload", {})
    if not isinstance(table, dict):
        raise ConfigError(f"workload: expected a table, got {table!r}")
    kind = workload_class(table.get("kind", "random"))
    workload = kind.validate(table, path.parent)
    axes = data.get("axes", {})
    if not isinstance(axes, dict) or not axes:
        raise ConfigError("axes: give at least one axis, e.g. weight_format = [\"fixed<4,2>\", \"fixed<6,2>\"]")
    for name, values in axes.items():
        if not isinstance(values, list) or not values:
            raise ConfigError(f"axes.{name}: expected a non-empty list of values, got {values!r}")
    kind.check_axes(axes, workload)
    mode = sweep.get("mode", "grid")
    if mode not in _MODES:
        raise ConfigError(f"sweep.mode: {mode!r} is not one of {', '.join(_MODES)}")
    samples = sweep.get("samples", 0)
    if mode == "random" and (not isinstance(samples, int) or isinstance(samples, bool) or not 1 <= samples <= 100000):
        raise ConfigError(f"sweep.samples: {samples!r} is outside the allowed range 1..100000")
    batch = sweep.get("batch", 6)
    if not isinstance(batch, int) or isinstance(batch, bool) or not 1 <= batch <= 16:
        raise ConfigError(f"sweep.batch: {batch!r} is outside the allowed range 1..16")
    area = sweep.get("area", ["generic", "sky130"])
    if not isinstance(area, list) or any(t not in AREA_TARGETS for t in area):
        raise ConfigError(f"sweep.area: {area!r}; allowed: a list of {', '.join(AREA_TARGETS)}")
    name = sweep.get("name", path.stem)
    if not isinstance(name, str) or not name:
        raise ConfigError(f"sweep.name: {name!r} is not a non-empty string")
    return SweepSpec(name=name, base=base, axes=axes, mode=mode, samples=samples,
                     seed=sweep.get("seed", 1), batch=batch, area=tuple(area), workload=workload)


# -- one batch ---------------------------------------------------------------------------------
def evaluate_batch(spec: dict, points: list[tuple[str, dict]], work_dir: str) -> list[tuple[str, dict, dict | None, str | None]]:
    """Evaluate points of one batch; returns (key, params, metrics, error) per point.

    Runs in a worker (a process of the pool or a Dask worker): everything it needs comes in its
    arguments, and errors of one point become that point's ``error`` rather than exceptions.
    The sweep's workload kind does the work (:mod:`subtile.explore.workload`)."""
    workload = make_workload(spec["workload"], spec["base"])
    return workload.evaluate(points, Path(work_dir), tuple(spec["area"]))


# -- the sweep ---------------------------------------------------------------------------------
def _columns_view(store: ResultStore, spec: SweepSpec) -> None:
    """A view ``sweep_points`` with one column per parameter and headline metric (SQLite JSON)."""
    names = [*spec.axes, "accuracy", "accuracy_float", "silent", "at_chance", "err_max_lsb", "err_rms_lsb",
             "output_events_per_inference", "synaptic_ops_per_inference", "energy_pj_per_inference",
             "energy_min_pj_per_inference", "network_energy_share", "cycles_per_inference",
             "energy_pj_per_step", "energy_min_pj_per_step", "vdd_min_energy", "cycles_per_step", *[f"area_{t}_cells" for t in spec.area],
             *[f"area_{t}_um2" for t in spec.area if t == "sky130"]]
    columns = ", ".join(
        f"json_extract({'params' if n in spec.axes else 'metrics'}, '$.\"{n}\"') AS \"{n}\"" for n in names)
    db = sqlite3.connect(store.path)
    try:
        db.execute("DROP VIEW IF EXISTS sweep_points")
        db.execute(f"CREATE VIEW sweep_points AS SELECT run, key, status, error, {columns}, params, metrics "
                   f"FROM results")
        db.commit()
    finally:
        db.close()


def _batch_outcome(future, batch) -> list:
    """The results of one batch's future; when the batch itself crashed (its worker died every
    time it ran it: Dask's ``KilledWorker``, a broken process pool), every point of the batch is
    stored as failed with the reason, and the sweep goes on (``--retry-failed`` runs them again)."""
    try:
        return future.result()
    except Exception as error:  # the worker, not the point, failed: evaluate_batch catches point errors
        reason = f"batch crashed its worker: {type(error).__name__}: {error}"
        return [(key, params, None, reason) for key, params in batch]


def run_sweep(spec: SweepSpec, *, db, work_dir, jobs: int = 1, scheduler: str | None = None,
              progress: bool = True, log: Callable[[str], None] | None = None) -> dict:
    """Run the points of ``spec`` not yet in ``db``; returns a summary.

    Batches are cut from the full point list (not from the pending points), so a resumed sweep
    rebuilds the same bench Verilog and hits the Verilator build cache."""
    log = log or (lambda line: print(line, file=sys.stderr, flush=True))
    work_dir = Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    points = spec.points()
    keyed = [(point_key(p), p) for p in points]
    store = ResultStore(db, run=spec.name)
    started = time.perf_counter()
    try:
        _columns_view(store, spec)
        done = store.done_keys()
        pending = [kp for kp in keyed if kp[0] not in done]
        if len(pending) < len(keyed):
            log(f"resuming: {len(keyed) - len(pending)} of {len(keyed)} points already in {store.path}")
        batches = [keyed[i:i + spec.batch] for i in range(0, len(keyed), spec.batch)]
        batches = [b for b in batches if any(k not in done for k, _ in b)]
        spec_dict = spec.to_dict()
        bar = None
        if progress:
            from tqdm import tqdm
            bar = tqdm(total=len(pending), unit="point", desc=f"sweep {spec.name}", file=sys.stderr)
        written = failed = 0

        def record(results):
            nonlocal written, failed
            for key, params, metrics, error in results:
                if key in done:
                    continue
                if store.put(key, params=params, metrics=metrics, error=error):
                    written += 1
                    failed += error is not None
                    if error is not None:
                        log(f"point {key} {params} failed: {error}")
                if bar is not None:
                    bar.update(1)

        if scheduler:
            from dask.distributed import Client, as_completed
            with Client(scheduler) as client:
                futures = {client.submit(evaluate_batch, spec_dict, b, str(work_dir), pure=False): b
                           for b in batches}
                for future in as_completed(futures):
                    record(_batch_outcome(future, futures[future]))
        elif jobs <= 1:
            for b in batches:
                record(evaluate_batch(spec_dict, b, str(work_dir)))
        else:
            from concurrent.futures import ProcessPoolExecutor, as_completed as done_first
            with ProcessPoolExecutor(max_workers=jobs) as pool:
                futures = {pool.submit(evaluate_batch, spec_dict, b, str(work_dir)): b for b in batches}
                for future in done_first(futures):
                    record(_batch_outcome(future, futures[future]))
        if bar is not None:
            bar.close()
        seconds = time.perf_counter() - started
        total = store.results()
    finally:
        store.close()
    keys = {k for k, _ in keyed}
    mine = [r for r in total if r.key in keys]
    return {"sweep": spec.name, "points": len(keyed), "ran": written, "failed_now": failed,
            "stored": len(mine), "failed": sum(r.status == "failed" for r in mine),
            "seconds": round(seconds, 1),
            "points_per_hour": round(written / seconds * 3600, 1) if written and seconds else None,
            "reference": make_workload(spec.workload, spec.base).reference(),
            "db": str(Path(db))}


# -- reading results ---------------------------------------------------------------------------
def sweep_records(db, run: str | None = None) -> list[dict]:
    """Flat records (key, run, status, error, parameters, scalar metrics) of a results database;
    the full metrics JSON is under ``"metrics"``."""
    path = Path(db)
    if not path.is_file():
        raise ConfigError(f"db: {path} does not exist")
    con = sqlite3.connect(path)
    try:
        query = "SELECT run, key, status, params, metrics, error FROM results"
        rows = con.execute(query + (" WHERE run = ?" if run else "") + " ORDER BY written, key",
                           (run,) if run else ()).fetchall()
    except sqlite3.DatabaseError as error:
        raise ConfigError(f"db: {path} is not a subtile results database ({error})") from None
    finally:
        con.close()
    records = []
    for run_name, key, status, params, metrics, error in rows:
        params, metrics = json.loads(params), json.loads(metrics)
        record = {"run": run_name, "key": key, "status": status, "error": error}
        record.update({name: value for name, value in params.items()})
        record.update({name: value for name, value in metrics.items()
                       if isinstance(value, (int, float, str, bool)) or value is None})
        record["params"], record["metrics"] = params, metrics
        records.append(record)
    return records


def export_table(records: list[dict], path) -> Path:
    """Write the flat records to CSV (``.csv``) or Parquet (``.parquet``, needs pyarrow)."""
    import csv
    path = Path(path)
    columns = []
    for record in records:
        columns += [c for c in record if c not in columns and c not in ("params", "metrics")]
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".parquet":
        try:
            import pyarrow as pa
            import pyarrow.parquet as pq
        except ImportError:
            raise ConfigError("export: Parquet needs pyarrow (pip install subtile[cluster])") from None
        table = pa.table({c: [None if r.get(c) is None else str(r[c]) if isinstance(r.get(c), str) else r.get(c)
                              for r in records] for c in columns})
        pq.write_table(table, path)
    else:
        with path.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
            writer.writeheader()
            writer.writerows(records)
    return path
