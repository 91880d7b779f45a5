"""Plots of ``subtile energy``: energy per step versus activity, and energy and delay versus Vdd.

Each figure is written as PNG (to look at) and SVG (to put in papers), with matplotlib's
non-interactive Agg backend, so no display is needed.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["plot_activity", "plot_voltage"]

#: One colour and marker per gating mode, the same in every figure.
_STYLE = {"icg": ("tab:green", "o"), "enable": ("tab:orange", "s"), "none": ("tab:red", "^")}


def _pyplot():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _save(fig, out_dir: Path, stem: str) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / f"{stem}.{ext}" for ext in ("png", "svg")]
    for path in paths:
        fig.savefig(path, dpi=150, bbox_inches="tight")
    return paths


def plot_activity(rows, out_dir, *, title: str = "") -> list[Path]:
    """Energy per time step versus input activity, one line per gating mode.

    ``rows`` are the rows of ``subtile energy`` (dicts with ``activity``, ``gating`` and
    ``energy_per_step_pj``). Returns the written files.
    """
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    for mode in _STYLE:
        points = sorted((r["activity"], r["energy_per_step_pj"]) for r in rows if r["gating"] == mode)
        if points:
            colour, marker = _STYLE[mode]
            ax.plot(*zip(*points), marker=marker, color=colour, label=mode)
    ax.set_xlabel("input activity (probability an input changes level per step)")
    ax.set_ylabel("energy per time step (pJ)")
    ax.set_ylim(bottom=0)
    ax.grid(True, alpha=0.3)
    ax.legend(title="clock gating")
    ax.set_title(title or "Energy per step versus activity")
    try:
        return _save(fig, Path(out_dir), "energy_vs_activity")
    finally:
        plt.close(fig)


def plot_voltage(sweeps, out_dir, *, title: str = "") -> list[Path]:
    """Energy per time step and step time versus supply, one line per gating mode.

    ``sweeps`` maps a gating mode to ``(rows, minimum)``: the rows of
    :meth:`subtile.power.energy.EnergyReport.voltage_sweep` and the minimum-energy point (a dict
    with ``vdd`` and ``energy_per_step_pj``) to mark. Returns the written files.
    """
    plt = _pyplot()
    fig, (energy_ax, delay_ax) = plt.subplots(2, 1, figsize=(6, 6.5), sharex=True)
    for mode, (rows, minimum) in sweeps.items():
        colour, marker = _STYLE.get(mode, ("tab:blue", "o"))
        vdd = [r["vdd"] for r in rows]
        energy_ax.plot(vdd, [r["energy_per_step_pj"] for r in rows], color=colour, label=f"{mode} total")
        energy_ax.plot(vdd, [r["leakage_pj"] for r in rows], color=colour, linestyle=":", label=f"{mode} leakage")
        if minimum:
            energy_ax.plot([minimum["vdd"]], [minimum["energy_per_step_pj"]], marker=marker, color=colour,
                           markersize=8, linestyle="none")
            energy_ax.annotate(f"{minimum['vdd']:.2f} V", (minimum["vdd"], minimum["energy_per_step_pj"]),
                               textcoords="offset points", xytext=(4, -12), fontsize=8, color=colour)
        delay_ax.plot(vdd, [r["step_time_s"] for r in rows], color=colour, label=mode)
    energy_ax.set_yscale("log")
    energy_ax.set_ylabel("energy per time step (pJ)")
    energy_ax.grid(True, which="both", alpha=0.3)
    energy_ax.legend(fontsize=7, ncol=2)
    energy_ax.set_title(title or "Energy and delay versus supply (markers: minimum-energy points)")
    delay_ax.set_yscale("log")
    delay_ax.set_xlabel("supply Vdd (V)")
    delay_ax.set_ylabel("time step duration (s)")
    delay_ax.grid(True, which="both", alpha=0.3)
    delay_ax.legend(fontsize=7)
    try:
        return _save(fig, Path(out_dir), "energy_vs_vdd")
    finally:
        plt.close(fig)
