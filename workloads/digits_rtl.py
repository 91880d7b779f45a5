"""The digits workload (:mod:`subtile.workloads.digits`) on the RTL mesh under Verilator.

One Verilator run plays every image back to back (the program of
:func:`subtile.workloads.digits.program`); the mesh scoreboard compares every output event of both
tiles per step with the golden mesh model, so the RTL's class per image is read from its own
recorded output events. Energy: the mesh harness has no toggle counters, so each tile is run
once more through :class:`subtile.sim.tile_bench.TileBench` (which counts toggles, and is itself
checked against the golden tile model) on exactly the events that tile received in the mesh;
:func:`subtile.power.energy.estimate` per tile, summed. Routers, fan-outs and output FIFOs are
not costed: the figure is "tile energy, routers excluded".
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from subtile.workloads import digits as golden
from subtile.sim.mesh_bench import MeshBench, MeshCase, decode_mesh_responses

__all__ = ["DigitsResult", "evaluate", "rtl_outputs"]


def _depth(words: int) -> int:
    """Next power of two, at least 1024 (few distinct depths: builds are shared)."""
    return max(1024, 1 << (int(words) - 1).bit_length())


def rtl_outputs(bench: MeshBench, run_dir: Path, run: golden.DigitsRun, *, index: int = 0) -> np.ndarray:
    """(images, 10) output levels read from the RTL's recorded external-output events (of the
    bench's mesh ``index``)."""
    config = bench.configs[index]
    _, _, out_files, _ = bench._files(Path(run_dir), index)
    from subtile.sim.tile_bench import read_hex
    words = read_hex(out_files[0]) if out_files[0].exists() and out_files[0].stat().st_size else []
    per_step = decode_mesh_responses(config, words, len(run.steps), config.payload_format.width)
    level = np.zeros(10, dtype=np.int64)
    outputs, readout = [], set(run.readout)
    for s, events in enumerate(per_step):
        for neuron, payload in events:
            level[int(neuron)] += int(payload)
        if s in readout:
            outputs.append(level.copy())
    return np.array(outputs, dtype=np.int64).reshape(-1, 10)


@dataclass
class DigitsResult:
    """Everything ``subtile digits`` reports (``to_dict`` gives the JSON)."""

    spec: golden.DigitsSpec
    images: int
    accuracy_float: float
    accuracy_golden: float
    accuracy_rtl: float | None
    rtl_golden_agreement: float | None
    rtl_pass: bool | None
    mismatch: str | None
    events_per_inference: float
    external_events_per_inference: float
    synaptic_ops_per_inference: float
    steps_per_inference: float
    cycles_per_inference: float | None
    energy_per_inference_pj: float | None
    energy_breakdown_pj: dict | None
    technology: str | None
    weight_formats: tuple[str, str]
    seconds: float

    def to_dict(self) -> dict:
        return {
            "hidden": self.spec.hidden, "weight_bits": self.spec.weight_bits, "steps": self.spec.steps,
            "delta": self.spec.delta, "leak_shift": self.spec.leak_shift, "seed": self.spec.seed,
            "images": self.images, "weight_formats": list(self.weight_formats),
            "accuracy_float": self.accuracy_float, "accuracy_golden": self.accuracy_golden,
            "accuracy_rtl": self.accuracy_rtl, "rtl_golden_agreement": self.rtl_golden_agreement,
            "rtl_pass": self.rtl_pass, "mismatch": self.mismatch,
            "events_per_inference": self.events_per_inference,
            "external_events_per_inference": self.external_events_per_inference,
            "synaptic_ops_per_inference": self.synaptic_ops_per_inference,
            "steps_per_inference": self.steps_per_inference,
            "cycles_per_inference": self.cycles_per_inference,
            "energy_per_inference_pj": self.energy_per_inference_pj,
            "energy_scope": "tiles only (routers, fan-outs and output FIFOs not costed); per inference = "
                            "the whole program over the images, return to rest included",
            "energy_breakdown_pj": self.energy_breakdown_pj, "technology": self.technology,
            "seconds": round(self.seconds, 3),
        }


def _tech(lib):
    """sky130 (or ``lib``), else Horowitz's 45 nm figures when no Liberty file can be found
    (as ``subtile sim``)."""
    from subtile.errors import ConfigError
    from subtile.power.tech_model import TechModel
    try:
        return TechModel.from_liberty(lib), (Path(lib).name if lib else "sky130_fd_sc_hd tt")
    except ConfigError:
        if lib:
            raise
        return TechModel.fallback(), "Horowitz 45 nm fallback, no Liberty found"


def tile_energy(config, contents, run: golden.DigitsRun, work_dir: Path, lib=None) -> tuple[float, dict, str, bool]:
    """Energy of both tiles (pJ, whole program) from a TileBench run on the events each tile
    received in the mesh; also whether both tiles matched their golden model there."""
    from subtile.power.energy import Calibration, estimate
    from subtile.sim.tile_bench import StepStimulus, TileBench, TileCase
    configs = [config.tile_config(i) for i in range(config.count)]
    stimuli = [[StepStimulus(e) for e in run.tile_events[i]] for i in range(config.count)]
    words = max(sum(len(e) for e in run.tile_events[i]) + len(run.steps) + 1 for i in range(config.count))
    responses = max(len(run.steps) * c.neurons for c in configs)
    bench = TileBench(configs, contents=contents, name="digits_tiles", stimulus_depth=_depth(words),
                      response_depth=_depth(min(responses, max(run.events_out, 1) * 2)))
    runs = bench.run({i: TileCase(stimuli[i], read_state=False) for i in range(config.count)},
                     work_dir=Path(work_dir) / "tiles")
    tech, name = _tech(lib)
    calibration = Calibration.for_liberty(lib)
    if calibration is not None:
        name += ", gate-level calibrated"
    breakdown, total, passed = {}, 0.0, True
    for i, tile_run in runs.items():
        passed &= tile_run.passed
        report = estimate(configs[i], tile_run, tech, calibration=calibration)
        breakdown[configs[i].name] = report.total_pj
        total += report.total_pj
    return total, breakdown, name, passed


def evaluate(spec: golden.DigitsSpec, *, images: int | None = None, rtl: bool = True, energy: bool = True,
             work_dir: Path | None = None, lib=None) -> DigitsResult:
    """Train, quantize and map the network; run the golden mesh on the test split (or its first
    ``images``), and with ``rtl`` the RTL mesh on the same program (plus ``energy``)."""
    import tempfile
    start = time.perf_counter()
    x_train, y_train, x_test, y_test, pixels = golden.load_digits_split(spec.seed)
    if images is not None:
        x_test, y_test, pixels = x_test[:images], y_test[:images], pixels[:images]
    net = golden.train(x_train, y_train, hidden=spec.hidden, seed=spec.seed, epochs=spec.epochs)
    accuracy_float = float((golden.float_predict(net, x_test) == y_test).mean())
    q = golden.quantize(net, spec.weight_bits)
    config, contents, axons, run = golden.run_golden(q, spec, pixels)
    count = run.images
    result = DigitsResult(
        spec=spec, images=count, accuracy_float=accuracy_float,
        accuracy_golden=float((run.predictions == y_test).mean()), accuracy_rtl=None,
        rtl_golden_agreement=None, rtl_pass=None, mismatch=None,
        events_per_inference=run.events_in / count, external_events_per_inference=run.external_events / count,
        synaptic_ops_per_inference=run.synaptic_ops / count, steps_per_inference=len(run.steps) / count,
        cycles_per_inference=None, energy_per_inference_pj=None, energy_breakdown_pj=None, technology=None,
        weight_formats=(str(q.format1), str(q.format2)), seconds=0.0)
    if rtl:
        work_dir = Path(work_dir) if work_dir else Path(tempfile.mkdtemp(prefix="subtile-digits-"))
        words = run.external_events + len(run.steps) + 1
        bench = MeshBench([config], name="digits_mesh_bench", stimulus_depth=_depth(words),
                          response_depth=_depth(max(run.events_out, 1)), contents=[contents], axons=[axons])
        mesh_run = bench.run({0: MeshCase(run.steps)}, work_dir=work_dir / "mesh")[0]
        outputs = rtl_outputs(bench, work_dir / "mesh", run)
        if outputs.shape != run.outputs.shape:
            outputs = np.zeros_like(run.outputs) - 1
        same = (outputs == run.outputs).all(axis=1)
        result.rtl_pass = mesh_run.passed
        result.mismatch = mesh_run.mismatch
        result.accuracy_rtl = float((outputs.argmax(axis=1) == y_test).mean())
        result.rtl_golden_agreement = float(same.mean())
        result.cycles_per_inference = mesh_run.cycles / count
        if energy:
            total, breakdown, name, passed = tile_energy(config, contents, run, work_dir, lib)
            if not passed:
                result.rtl_pass = False
                result.mismatch = result.mismatch or "tile energy run: a tile differs from its golden model"
            result.energy_per_inference_pj = total / count
            result.energy_breakdown_pj = {k: v / count for k, v in breakdown.items()}
            result.technology = name
    result.seconds = time.perf_counter() - start
    return result


def plot_sweep(rows, out_dir: Path) -> list[Path]:
    """Accuracy (float, golden, RTL) and energy per inference over the weight width of ``rows``
    (``DigitsResult.to_dict`` of a ``--sweep-bits`` run): ``digits_weight_bits.png`` and ``.svg``."""
    from subtile.power.plots import _pyplot, _save
    plt = _pyplot()
    rows = sorted(rows, key=lambda r: r["weight_bits"])
    bits = [r["weight_bits"] for r in rows]
    fig, ax = plt.subplots(figsize=(6, 4))
    for key, label, style in (("accuracy_float", "float model", "k--"), ("accuracy_golden", "golden (fixed point)", "bs-"),
                              ("accuracy_rtl", "RTL (Verilator)", "go:")):
        values = [r[key] for r in rows]
        if all(v is not None for v in values):
            ax.plot(bits, [100 * v for v in values], style, label=label)
    ax.set_xlabel("weight bits")
    ax.set_ylabel("test accuracy (%)")
    ax.grid(True, alpha=0.3)
    energy = [r["energy_per_inference_pj"] for r in rows]
    if all(e is not None for e in energy):
        right = ax.twinx()
        right.plot(bits, [e / 1000 for e in energy], "r^-", label="energy per inference (tiles)")
        right.set_ylabel("energy per inference (nJ, tiles only)")
        right.set_ylim(bottom=0)
        lines, labels = ax.get_legend_handles_labels()
        more, more_labels = right.get_legend_handles_labels()
        ax.legend(lines + more, labels + more_labels, loc="lower right", fontsize=8)
    else:
        ax.legend(loc="lower right", fontsize=8)
    r = rows[0]
    ax.set_title(f"digits, {r['images']} test images: {r['hidden']} hidden, T = {r['steps']}, delta = {r['delta']}")
    paths = _save(fig, Path(out_dir), "digits_weight_bits")
    plt.close(fig)
    return paths
