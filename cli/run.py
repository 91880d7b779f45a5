"""``subtile run MODEL --data DATA.npz``: a trained network from a model file onto a mesh of tiles.

MODEL is a native TOML topology (with its .npz), an ONNX file or a NIR graph (by extension). The
network is quantized per layer, mapped onto tiles (:mod:`subtile.network.mapper`), evaluated by
the float reference and the batched golden mesh, and with ``--rtl`` run on the generated RTL
under Verilator (RTL == golden on every sample, event for event; energy with routers). Every
refusal is one line naming the layer or node and the limit, exit code 2, before any tool runs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from subtile.cli.options import (add_json_option, add_quiet_option, add_work_dir_option, check_liberty,
                                 check_simulator, emit_json, int_arg, path_arg, work_dir)
from subtile.errors import ConfigError
from subtile.toolchain.verilator import ToolchainError

__all__ = ["register", "load_model", "format_run_table"]

FRONT_ENDS = {".toml": "native", ".onnx": "onnx", ".nir": "nir"}


def _mesh(text):
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"mesh: expected WIDTHxHEIGHT such as 2x2, got {text!r}") from None
    return width, height


def register(commands) -> None:
    """Add ``subtile run`` to the ``commands`` subparsers."""
    run = commands.add_parser("run", help="map a trained network (native TOML + npz, ONNX, NIR) onto tiles and run "
                                          "it: float, golden and RTL accuracy, events, cycles, energy per inference")
    run.add_argument("model", metavar="MODEL", type=path_arg("model", "file", suffixes=tuple(FRONT_ENDS)), help="model file: .toml (native, with its .npz), .onnx or .nir")
    run.add_argument("--data", required=True, metavar="DATA.npz", type=path_arg("data", "file", suffixes=(".npz",)),
                     help="x (samples x inputs, floats) and y (integer labels or float targets)")
    run.add_argument("--samples", type=int_arg("samples"), default=None, help="only the first N samples (default: all)")
    run.add_argument("--steps", type=int_arg("steps"), default=None,
                     help="time steps per sample before the read-out (default: from the depth and the leak)")
    run.add_argument("--delta", type=int_arg("delta"), default=1, help="event threshold in payload LSBs (default 1)")
    run.add_argument("--weight-bits", type=int_arg("weight-bits"), default=8, help="weight width per layer, 2..16 (default 8)")
    run.add_argument("--leak-shift", type=int_arg("leak-shift"), default=0,
                     help="leak k of layers whose model sets none (default 0; NIR takes it from tau)")
    run.add_argument("--neurons", type=int_arg("neurons"), default=64, help="most neurons per tile; wider layers split (default 64)")
    run.add_argument("--branches", type=int_arg("branches"), default=16, help="most branches per neuron (default 16)")
    run.add_argument("--synapses", type=int_arg("synapses"), default=64, help="most synapses per branch (default 64)")
    run.add_argument("--mesh", type=_mesh, default=None, metavar="WxH", help="mesh size (default: the smallest that fits)")
    run.add_argument("--rtl", action="store_true", help="also run the generated RTL under Verilator")
    run.add_argument("--no-energy", action="store_true", help="with --rtl: no energy estimate")
    run.add_argument("--lib", type=path_arg("lib", "file"), default=None, help="Liberty file for the energy (default: sky130_fd_sc_hd tt)")
    add_work_dir_option(run)
    run.add_argument("--write-mapping", type=path_arg("write-mapping", "dir"), default=None, metavar="DIR",
                     help="write the mapped network (mesh.toml, contents.npz, mapping.json) to DIR")
    add_json_option(run)
    add_quiet_option(run)
    run.set_defaults(handler=cmd_run)


def load_model(path: str | Path):
    """The :class:`~subtile.network.graph.Graph` of ``path``, by its extension."""
    path = Path(path)
    kind = FRONT_ENDS.get(path.suffix.lower())
    if kind is None:
        raise ConfigError(f"model: {path.name} has extension {path.suffix or '(none)'!r}; allowed: "
                          f"{', '.join(FRONT_ENDS)}")
    if not path.exists():
        raise ConfigError(f"model: {path} does not exist")
    if kind == "native":
        from subtile.network import native
        return native.load(path)
    package = {"onnx": "onnx", "nir": "nir"}.get(kind)
    if package is not None:
        try:
            __import__(package)
        except ImportError:
            raise ToolchainError(f"model: reading {path.suffix} files needs the Python package {package}, which is "
                                 "not installed (pip install 'subtile[network]')") from None
    if kind == "onnx":
        from subtile.network import onnx_front
        return onnx_front.load(path)
    from subtile.network import nir_front
    return nir_front.load(path)


def format_run_table(report: dict) -> str:
    """A Markdown table of one ``subtile run`` report."""
    metric = "accuracy" if report["task"] == "classification" else "mse"

    def show(value):
        if value is None:
            return "-"
        return f"{100 * value:.1f} %" if metric == "accuracy" else f"{value:.5f}"

    def num(value, fmt):
        return "-" if value is None else format(value, fmt)

    energy = report["energy_per_inference_pj"]
    share = report["network_energy_share"]
    headers = ["model", "samples", "weight bits", "T", "delta", "float", "golden", "RTL", "RTL = golden",
               "events / inf.", "synaptic ops / inf.", "cycles / inf.", "energy / inf. (nJ)", "network share"]
    row = [report["model"], str(report["samples"]), str(report["weight_bits"]), str(report["steps"]), str(report["delta"]),
           show(report[f"{metric}_float"]), show(report[f"{metric}_golden"]), show(report[f"{metric}_rtl"]),
           "-" if report["rtl_golden_agreement"] is None else f"{100 * report['rtl_golden_agreement']:.1f} %",
           f"{report['events_per_inference']:.1f}", f"{report['synaptic_ops_per_inference']:.0f}",
           num(report["cycles_per_inference"], ".0f"), num(None if energy is None else energy / 1000, ".2f"),
           "-" if share is None else f"{100 * share:.0f} %"]
    return "\n".join(["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers), "| " + " | ".join(row) + " |"])


def cmd_run(args) -> int:
    from subtile.network import mapper, quantize, run
    graph = load_model(args.model)
    x, y = run.load_data(args.data, graph.inputs, graph.outputs)
    if args.samples is not None:
        if not 1 <= args.samples <= len(x):
            raise ConfigError(f"samples: {args.samples} is outside the allowed range 1..{len(x)} (the samples in {args.data})")
        x, y = x[:args.samples], y[:args.samples]
    if args.steps is not None and not 1 <= args.steps <= 4096:
        raise ConfigError(f"steps: {args.steps} is outside the allowed range 1..4096")
    if args.rtl:
        check_simulator()
        check_liberty(args.lib)
    q = quantize.quantize(graph, args.weight_bits, leak_shift=args.leak_shift, delta=args.delta)
    mapped = mapper.map_network(q, mapper.MapOptions(neurons=args.neurons, branches=args.branches,
                                                     synapses=args.synapses, mesh=args.mesh))
    if args.write_mapping:
        for path in mapped.write(args.write_mapping):
            print(f"wrote {path}", file=sys.stderr)
    progress = None if args.quiet else (lambda text: print(f"subtile run: {text}", file=sys.stderr, flush=True))
    report = run.evaluate(q, mapped, x, y, steps=args.steps, rtl=args.rtl, energy=not args.no_energy,
                          work_dir=work_dir(args, "run") if args.rtl else None, lib=args.lib, progress=progress)
    if args.json:
        emit_json(report, args.json)
    if args.json != "-":
        m = report["mapping"]
        print(f"{graph.name}: {len(graph.layers)} layers on a {m['mesh'][0]} x {m['mesh'][1]} mesh "
              f"({m['tiles_used']} tiles used, mean {m['mean_hops']:.2f} hops)")
        for layer, qrep in zip(m["layers"], report["quantization"]):
            print(f"  {qrep['layer']}: tiles {layer['tiles']}, {layer['neurons']} neurons, {layer['branches']} x "
                  f"{layer['synapses']} synapses, {qrep['weight_format']} ({qrep['saturated']} of {qrep['weights']} "
                  f"weights saturated, {qrep['zeroed']} rounded to zero), leak shift {qrep['leak_shift']}")
        for note in report["notes"]:
            print(f"  note: {note}")
        print(format_run_table(report))
        print(f"golden: {report['samples']} samples in {report['golden_seconds']:.3f} s "
              f"({report['golden_samples_per_second']} samples/s, batched)")
        if report["energy_per_inference_pj"] is not None:
            kinds = report["energy_by_kind_per_inference_pj"]
            print("energy per inference: " + ", ".join(f"{k} {v / 1000:.2f} nJ" for k, v in kinds.items())
                  + f" ({report['technology']}; whole RTL program / samples)")
        if report["mismatch"]:
            print(f"RTL differs from the golden model: {report['mismatch']}")
    failed = report["rtl_pass"] is False
    return 1 if failed else 0
