"""The digits workload (:mod:`subtile.workloads.digits`) on the RTL mesh under Verilator.

Digits is a built-in model of :mod:`subtile.network`: :func:`evaluate` trains it, maps it
(:func:`subtile.workloads.digits.mapped`) and runs it through :func:`subtile.network.run.evaluate`,
the same code as ``subtile run``: the batched golden mesh on the test split, and with ``rtl`` one
Verilator run of every image back to back, the scoreboard comparing every output event of both
tiles per step with the golden mesh, the class read from the RTL's own output events, and the
energy from the mesh run's toggle counters: tiles, routers and network interfaces (fan-outs,
output FIFOs).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from subtile.workloads import digits as golden

__all__ = ["DigitsResult", "evaluate", "plot_sweep"]


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
            "energy_scope": "tiles, routers and network interfaces (fan-outs, output FIFOs); per inference = "
                            "the whole program over the images, return to rest included",
            "energy_breakdown_pj": self.energy_breakdown_pj, "technology": self.technology,
            "seconds": round(self.seconds, 3),
        }


def evaluate(spec: golden.DigitsSpec, *, images: int | None = None, rtl: bool = True, energy: bool = True,
             work_dir: Path | None = None, lib=None) -> DigitsResult:
    """Train, quantize and map the network; run the golden mesh on the test split (or its first
    ``images``), and with ``rtl`` the RTL mesh on the same program (plus ``energy``)."""
    from subtile.network import run
    start = time.perf_counter()
    x_train, y_train, x_test, y_test, pixels = golden.load_digits_split(spec.seed)
    if images is not None:
        x_test, y_test = x_test[:images], y_test[:images]
    net = golden.train(x_train, y_train, hidden=spec.hidden, seed=spec.seed, epochs=spec.epochs)
    q, mapped = golden.mapped(net, spec)
    report = run.evaluate(q, mapped, x_test, y_test, steps=spec.steps, max_rest=spec.max_rest, rtl=rtl,
                          energy=energy, work_dir=Path(work_dir) / "mesh" if work_dir else None, lib=lib)
    count = report["samples"]
    result = DigitsResult(
        spec=spec, images=count, accuracy_float=report["accuracy_float"], accuracy_golden=report["accuracy_golden"],
        accuracy_rtl=report["accuracy_rtl"], rtl_golden_agreement=report["rtl_golden_agreement"],
        rtl_pass=report["rtl_pass"], mismatch=report["mismatch"],
        events_per_inference=report["events_per_inference"],
        external_events_per_inference=report.get("external_events_per_inference",
                                                 float((pixels[:count] != 0).sum(axis=1).mean())),
        synaptic_ops_per_inference=report["synaptic_ops_per_inference"],
        steps_per_inference=report["steps_per_inference"], cycles_per_inference=report["cycles_per_inference"],
        energy_per_inference_pj=report["energy_per_inference_pj"],
        energy_breakdown_pj=report["energy_by_kind_per_inference_pj"], technology=report["technology"],
        weight_formats=tuple(r["weight_format"] for r in report["quantization"]), seconds=0.0)
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
        right.plot(bits, [e / 1000 for e in energy], "r^-", label="energy per inference (mesh)")
        right.set_ylabel("energy per inference (nJ, tiles and routers)")
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
