"""Toggle capture modes of a tile run, and their cross-checks.

Three ways to count toggles, from cheapest to most complete:

``fast`` (the default)
    Counters inside the simulation (:class:`subtile.sim.tile_harness.TileHarness`): the
    registers and unit-boundary nets of :class:`subtile.hdl.tile.TileProbes`, sampled once per
    cycle while the program runs, summed per unit (``TileRun.toggles``).
``coverage``
    Verilator toggle coverage of every net of the design (``TileBench(coverage=True)``): per bit,
    0->1 and 1->0 counts over the whole simulation (:mod:`subtile.power.coverage`).
``saif``
    A SAIF file of the whole simulation (``TileBench(saif=True)``), per bit time at 0/1 and
    transition count, for power tools (:mod:`subtile.power.saif`; :func:`export_run_saif` writes it
    for the tile under a scope the user names).

Where two modes see the same net their counts agree exactly (``tests/power/test_toggle_capture.py``),
up to their window: coverage and SAIF start from Verilator's all-zero power-up state, the fast
counters with the program. A register whose reset value is not zero (``dirty_<n>``, reset 1)
thus has one 0->1 transition per set bit in coverage and SAIF that the fast counters do not see;
:func:`unit_toggles` subtracts it (``reset_values``). A net that idles at a non-zero value (the
output payload's neuron field) keeps that difference; see ``docs/toggle-capture.md``.

The fast counter module is :data:`subtile.sim.tile_harness.SIM_BUFFERS_VERILOG`'s
``subtile_toggle_counter``; :func:`toggle_counter` instantiates it for any design.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from amaranth.hdl import ClockSignal, Instance, Value

from subtile.errors import ConfigError
from subtile.power.coverage import BitToggles, read_toggle_coverage
from subtile.power.saif import export_saif, read_saif

__all__ = ["CAPTURE_MODES", "toggle_counter", "probe_nets", "probe_layout", "resolve_net", "tile_scope",
           "reset_values", "coverage_toggles", "saif_toggles", "unit_toggles", "net_table", "export_run_saif",
           "capture_bench", "coverage_report", "write_run_saifs"]

#: The capture modes: what each records in a :class:`subtile.sim.tile_bench.TileRun`.
CAPTURE_MODES = ("fast", "coverage", "saif")


def toggle_counter(value, *, en, count, domain: str = "sync") -> Instance:
    """An instance of ``subtile_toggle_counter``: ``count`` adds, at each clock edge while ``en``
    is high, the number of bits of ``value`` that differ from their value at the previous edge.

    Parameters
    ----------
    value : Value
        The bits to watch.
    en : Value
        One bit: count in this cycle.
    count : Signal
        64-bit output.
    domain : str
        The clock domain that samples.

    Returns
    -------
    Instance
        Add it as a submodule; the design needs
        :data:`subtile.sim.tile_harness.SIM_BUFFERS_VERILOG` (simulation only).
    """
    value = Value.cast(value)
    return Instance("subtile_toggle_counter", p_WIDTH=len(value), i_clk=ClockSignal(domain),
                    i_en=en, i_value=value, o_count=count)


def probe_nets(tile) -> dict[str, list[tuple[str, int]]]:
    """The nets of each :class:`~subtile.hdl.tile.TileProbes` unit, by name in the generated
    Verilog, relative to the tile instance.

    Parameters
    ----------
    tile : subtile.hdl.tile.Tile

    Returns
    -------
    dict of str to list of (str, int)
        Per unit, the nets (``"state.acc_0_0"``, ``"synapses.weights"``, ``"lane_0.v_next"``,
        ``"events_out__valid"``) and their widths: a port of the tile or of one of its parts
        (the synapse pipeline ``synapses``, the lanes ``lane_<i>``) is named after its signature
        member (Amaranth may add ``$<n>`` to it when the name clashes inside the module; see
        :func:`resolve_net`); an architectural register is in the submodule ``state``.

    Raises
    ------
    ValueError
        If a probe is neither a port nor an architectural register (the grouping would not
        know its name).
    """
    names: dict[int, str] = {}
    parts = [("", tile), ("synapses.", tile.synapses),
             *((f"lane_{lane}.", unit) for lane, unit in enumerate(tile.lane_units)),
             *((f"lane_{lane}.branch_{b}.", branch) for lane, unit in enumerate(tile.lane_units)
               for b, branch in enumerate(unit.branch_units)),
             *((f"lane_{lane}.soma.", unit.soma) for lane, unit in enumerate(tile.lane_units)),
             *((f"lane_{lane}.encoder.", unit.encoder) for lane, unit in enumerate(tile.lane_units))]
    for prefix, component in parts:
        for path, _member, value in component.signature.flatten(component):
            names[id(Value.cast(value))] = prefix + "__".join(map(str, path))
    registers = tile.registers
    for signal in [*(s for row in registers.acc for s in row), *registers.v, *registers.y_sent,
                   *registers.dirty]:
        names[id(signal)] = f"state.{signal.name}"
    for signal in [*tile.products, *tile.acc_next]:       # the tile's own named nets
        names[id(signal)] = signal.name
    result = {}
    for unit, values in tile.probes().data.items():
        nets = []
        for value in values:
            value = Value.cast(value)
            if id(value) not in names:
                raise ValueError(f"probe {value!r} of unit {unit} is neither a port of the tile or "
                                 "its parts nor an architectural register")
            nets.append((names[id(value)], len(value)))
        result[unit] = nets
    return result


def resolve_net(toggles: Mapping[str, Mapping], name: str, width: int) -> str:
    """The key of net ``name`` (a full path) of ``width`` bits in per-net counts.

    Amaranth renames a port whose name clashes with a net inside its module by adding ``$<n>``
    (a lane's ``acc`` port becomes ``acc$1``), so the exact name is taken when its width matches,
    else the one ``name$<n>`` with that width.

    Raises
    ------
    KeyError
        If there is no such net, or several (not in the design, wider than Verilator's
        ``--coverage-max-width``, or not traced).
    """
    if len(toggles.get(name, ())) == width:
        return name
    pattern = re.compile(re.escape(name) + r"\$\d+$")
    found = [key for key in toggles if pattern.match(key) and len(toggles[key]) == width]
    if len(found) != 1:
        raise KeyError(f"net {name} ({width} bits): {len(found) or 'no'} candidates with toggle "
                       "counts (not in the design, wider than Verilator's --coverage-max-width, "
                       "or not traced)")
    return found[0]


def reset_values(tile) -> dict[str, int]:
    """Non-zero reset values of probed registers, by net name as in :func:`probe_nets`."""
    registers = tile.registers
    values = {}
    for signal in [*(s for row in registers.acc for s in row), *registers.v, *registers.y_sent,
                   *registers.dirty]:
        init = signal.init & ((1 << len(signal)) - 1)
        if init:
            values[f"state.{signal.name}"] = init
    return values


def probe_layout(config, *, weights=None, table=None) -> tuple[dict[str, list[tuple[str, int]]], dict[str, int]]:
    """:func:`probe_nets` and :func:`reset_values` of the tile of ``config`` (and contents).

    Returns
    -------
    (dict, dict)
        The nets per unit with their widths, and the non-zero reset values.
    """
    from subtile.hdl.amaranth_internals import silence_unused
    from subtile.hdl.tile import Tile
    tile = Tile(config, weights=weights, table=table)
    nets, reset = probe_nets(tile), reset_values(tile)
    # Only inspected, never elaborated: keep Amaranth from warning that they went unused.
    for part in (tile, tile.synapses, tile.sequencer, tile.lane_operands, tile.state, *tile.lane_units,
                 *(part for lane in tile.lane_units for part in lane.parts)):
        silence_unused(part)
    return nets, reset


def tile_scope(bench_name: str, index: int = 0) -> str:
    """The tile's instance path in a :class:`~subtile.sim.tile_bench.TileBench` simulation."""
    return f"{bench_name}.h{index}.tile"


def coverage_toggles(path: Path | str) -> dict[str, dict[int | None, int]]:
    """Toggles (rises + falls) per net and bit of a ``coverage.dat``."""
    return {net: {bit: counts.toggles for bit, counts in bits.items()}
            for net, bits in read_toggle_coverage(path).items()}


def saif_toggles(path: Path | str) -> dict[str, dict[int | None, int]]:
    """Transition counts (``TC``) per net and bit of a SAIF file (all design instances)."""
    return read_saif(path).toggles()


def _count(count) -> int:
    return count.toggles if isinstance(count, BitToggles) else count


def _net_total(toggles, net: str, width: int) -> int:
    return sum(_count(count) for count in toggles[resolve_net(toggles, net, width)].values())


def unit_toggles(toggles: Mapping[str, Mapping[int | None, int]],
                 nets: Mapping[str, list[tuple[str, int]]], *,
                 scope: str, reset: Mapping[str, int] = {}) -> dict[str, int]:
    """Toggles per unit, from per-net counts of the coverage or SAIF mode.

    Parameters
    ----------
    toggles : mapping
        Per net and bit (:func:`coverage_toggles`, :func:`saif_toggles`).
    nets : mapping of str to list of (str, int)
        Per unit, nets relative to ``scope`` and their widths (:func:`probe_nets`).
    scope : str
        The tile's instance path (:func:`tile_scope`).
    reset : mapping of str to int
        Non-zero reset values (:func:`reset_values`): their set bits' power-up 0->1 transitions
        are left out, so that the counts cover the same window as the fast counters.

    Returns
    -------
    dict of str to int
        Per unit, the summed toggles: equal to ``TileRun.toggles`` of the fast mode.
    """
    return {unit: sum(_net_total(toggles, f"{scope}.{net}", width) - bin(reset.get(net, 0)).count("1")
                      for net, width in unit_nets)
            for unit, unit_nets in nets.items()}


def net_table(toggles: Mapping[str, Mapping[int | None, int]], *, scope: str,
              nets: Mapping[str, list[tuple[str, int]]] | None = None) -> list[dict]:
    """A per-net table for calibration: every net below ``scope``, or only the probed ones.

    Parameters
    ----------
    toggles : mapping
        Per net and bit (:func:`coverage_toggles`, :func:`saif_toggles`).
    scope : str
        Instance path of the part of the design to list (e.g. :func:`tile_scope`).
    nets : mapping of str to list of (str, int), optional
        Per unit, the nets to list and their widths (:func:`probe_nets`); None lists every net
        below ``scope`` with unit None.

    Returns
    -------
    list of dict
        ``{"unit", "net", "bits", "toggles", "per_bit"}`` rows, ``net`` relative to ``scope``,
        ``per_bit`` a list of (bit, toggles), in order of ``nets`` or sorted by name.
    """
    prefix = scope + "."

    def row(unit, full):
        per_bit = [(bit, _count(count)) for bit, count in toggles[full].items()]
        return {"unit": unit, "net": full[len(prefix):], "bits": len(per_bit),
                "toggles": sum(c for _, c in per_bit), "per_bit": per_bit}

    if nets is not None:
        return [row(unit, resolve_net(toggles, prefix + net, width))
                for unit, unit_nets in nets.items() for net, width in unit_nets]
    return [row(None, full) for full in sorted(toggles) if full.startswith(prefix)]


def export_run_saif(run, path: Path | str, *, scope: str = "tb/dut", bench_name: str | None = None,
                    index: int = 0, internal_nets: bool = False) -> Path:
    """Write the SAIF of a tile run for power tools, the tile at a scope the user names.

    For ``subtile energy --saif OUT.saif --saif-scope tb/dut``: OpenSTA then reads it with
    ``read_saif -scope tb/dut OUT.saif``, PrimeTime PX with ``read_saif OUT.saif -strip_path
    tb/dut``.

    Parameters
    ----------
    run : subtile.sim.tile_bench.TileRun
        From a :class:`~subtile.sim.tile_bench.TileBench` with ``saif=True``.
    path : Path or str
        The file to write.
    scope : str
        Instance path of the tile in the power tool's view, parts separated by ``/``.
    bench_name : str or None
        The bench's top module name; default: the build's toplevel.
    index : int
        Which tile of the bench.
    internal_nets : bool
        See :func:`subtile.power.saif.write_saif`.

    Raises
    ------
    ValueError
        If the run has no SAIF file, or ``scope`` is not a path of identifiers.
    """
    if run.saif is None:
        raise ValueError("saif: this run recorded no SAIF (build the bench with saif=True)")
    top = bench_name or run.build.toplevel
    return export_saif(run.saif, path, instance=tile_scope(top, index).replace(".", "/"),
                       scope=scope, internal_nets=internal_nets)


def capture_bench(configs, *, capture: str = "fast", saif: bool = False, **bench_args):
    """A :class:`~subtile.sim.tile_bench.TileBench` recording the given capture mode.

    For ``subtile energy --capture coverage`` (and ``--saif OUT``): build the bench with this,
    run it as usual, then :func:`coverage_report` and :func:`write_run_saifs`.

    Parameters
    ----------
    configs : sequence of TileConfig
    capture : str
        One of :data:`CAPTURE_MODES`; ``coverage`` and ``saif`` keep the fast counters too, so
        the modes can be compared on one run.
    saif : bool
        Record a SAIF file as well (whatever ``capture`` is).
    **bench_args
        Passed to :class:`~subtile.sim.tile_bench.TileBench`.

    Raises
    ------
    ConfigError
        For an unknown mode (one line naming the parameter and the allowed values).
    """
    from subtile.sim.tile_bench import TileBench
    if capture not in CAPTURE_MODES:
        raise ConfigError(f"capture: {capture!r} is not one of {', '.join(CAPTURE_MODES)}")
    return TileBench(configs, coverage=capture == "coverage", saif=saif or capture == "saif", **bench_args)


def coverage_report(bench, runs: Mapping[int, object], *, nets: bool = False) -> dict:
    """Per tile of a coverage-mode bench run: the toggles of each unit from coverage next to the
    fast counters' (equal on registers and on nets that do not idle at a non-zero value), and
    optionally the per-net table.

    Parameters
    ----------
    bench : subtile.sim.tile_bench.TileBench
        Built with ``coverage=True`` (:func:`capture_bench`).
    runs : mapping of int to TileRun
        What ``bench.run`` returned.
    nets : bool
        Include the per-net table (:func:`net_table` of the probed nets, without per-bit counts).

    Returns
    -------
    dict
        ``{config name: {"units": {unit: {"fast": int, "coverage": int}}, "nets": [...]}}``.

    Raises
    ------
    ValueError
        If the runs have no coverage file.
    """
    report = {}
    for index, run in runs.items():
        if run.coverage is None:
            raise ValueError("capture: the bench recorded no coverage (build it with capture='coverage')")
        config = bench.configs[index]
        weights, table = bench.contents[index]
        probes, reset = probe_layout(config, weights=weights, table=table)
        toggles, scope = coverage_toggles(run.coverage), tile_scope(bench.name, index)
        counts = unit_toggles(toggles, probes, scope=scope, reset=reset)
        entry = {"units": {unit: {"fast": run.toggles.get(unit), "coverage": count}
                           for unit, count in counts.items()}}
        if nets:
            entry["nets"] = [{key: row[key] for key in ("unit", "net", "bits", "toggles")}
                             for row in net_table(toggles, scope=scope, nets=probes)]
        report[config.name] = entry
    return report


def write_run_saifs(bench, runs: Mapping[int, object], path: Path | str, *, scope: str = "tb/dut") -> list[Path]:
    """Write the SAIF of each tile of a bench run, the tile at ``scope``
    (``subtile energy --saif OUT.saif --saif-scope tb/dut``).

    One run writes ``path``; several write ``<stem>_<config name><suffix>`` beside it.

    Returns
    -------
    list of Path
        The files written.
    """
    path = Path(path)
    written = []
    for index, run in runs.items():
        target = path if len(runs) == 1 else path.with_name(f"{path.stem}_{bench.configs[index].name}{path.suffix}")
        written.append(export_run_saif(run, target, scope=scope, bench_name=bench.name, index=index))
    return written
