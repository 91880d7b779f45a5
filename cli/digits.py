"""``subtile digits``: scikit-learn's 8x8 digits classified by a 2-tile RTL mesh."""

from __future__ import annotations

from pathlib import Path

from subtile.cli import options
from subtile.cli.options import (EXIT_FAIL, EXIT_OK, add_json_option, add_quiet_option, emit_json, int_arg,
                                 path_arg)
from subtile.errors import ConfigError
from subtile.toolchain.verilator import ToolchainError


def register(commands):
    digits = commands.add_parser("digits", help="handwritten digits (scikit-learn's 8x8 set) classified by a "
                                                "2-tile RTL mesh: accuracy and energy per inference")
    digits.add_argument("--hidden", type=int_arg("hidden"), default=24, help="hidden neurons (2..64)")
    digits.add_argument("--weight-bits", type=int_arg("weight-bits"), default=None,
                        help="weight width (2..16); default 8")
    digits.add_argument("--sweep-bits", default=None, metavar="LIST",
                        help="run each weight width of LIST (e.g. 3,4,5,6,7,8) instead of --weight-bits")
    digits.add_argument("--steps", type=int_arg("steps"), default=8, help="time steps T per image (2..64)")
    digits.add_argument("--delta", type=int_arg("delta"), default=1, help="event threshold in payload LSBs")
    digits.add_argument("--leak-shift", type=int_arg("leak-shift"), default=1, help="membrane leak k (0..6)")
    digits.add_argument("--seed", type=int_arg("seed"), default=0, help="split and training seed")
    digits.add_argument("--images", type=int_arg("images"), default=None,
                        help="only the first N test images (default: the whole test split, 360)")
    digits.add_argument("--golden-only", action="store_true", help="no RTL run (float and golden accuracy only)")
    digits.add_argument("--no-energy", action="store_true", help="RTL run without the tile energy runs")
    digits.add_argument("--lib", type=path_arg("lib", "file"), default=None,
                        help="Liberty file (default: sky130_fd_sc_hd tt)")
    digits.add_argument("--work-dir", type=path_arg("work-dir", "dir"), default=None,
                        help="build and run folder (default: a temporary one, removed after a successful run)")
    digits.add_argument("--plot", type=path_arg("plot", "dir"), default=None, metavar="DIR",
                        help="with --sweep-bits: write the plot to DIR")
    add_json_option(digits, "the result")
    add_quiet_option(digits)
    digits.set_defaults(handler=run)


def run(args):
    try:
        import sklearn  # noqa: F401 - the data set and the training
    except ImportError:
        raise ToolchainError("digits: needs scikit-learn, which is not installed "
                             "(pip install 'subtile[digits]')") from None
    from subtile.workloads.digits import DigitsSpec
    from subtile.workloads.digits_rtl import evaluate, plot_sweep
    if args.sweep_bits and args.weight_bits is not None:
        raise ConfigError("weight-bits: --weight-bits and --sweep-bits contradict each other; give one")
    if args.sweep_bits:
        try:
            bits = [int(b) for b in args.sweep_bits.split(",")]
        except ValueError:
            raise ConfigError(f"sweep-bits: {args.sweep_bits!r} is not a comma-separated list of integers") from None
    else:
        bits = [8 if args.weight_bits is None else args.weight_bits]
    specs = [DigitsSpec(hidden=args.hidden, weight_bits=b, steps=args.steps, delta=args.delta,
                        leak_shift=args.leak_shift, seed=args.seed) for b in bits]
    if args.images is not None and not 1 <= args.images <= 360:
        raise ConfigError(f"images: {args.images} is outside the allowed range 1..360")
    if args.plot and not args.sweep_bits:
        raise ConfigError("plot: needs --sweep-bits")
    if args.lib and (args.golden_only or args.no_energy):
        raise ConfigError("lib: the Liberty file is for the energy runs; --golden-only and --no-energy have none")
    options.check_liberty(args.lib)
    if not args.golden_only:
        options.check_simulator()
    work_dir = options.work_dir(args, "digits")
    rows = []
    for spec in specs:
        result = evaluate(spec, images=args.images, rtl=not args.golden_only, energy=not args.no_energy,
                          work_dir=work_dir / f"bits{spec.weight_bits}", lib=args.lib)
        rows.append(result.to_dict())
    report = rows[0] if len(rows) == 1 else {"rows": rows}
    if args.json:
        emit_json(report, args.json)
    if args.json != "-":
        print(format_digits_table(rows))
        for row in rows:
            if row["mismatch"]:
                print(f"weight bits {row['weight_bits']}: RTL differs from the golden model: {row['mismatch']}")
    if args.plot:
        for path in plot_sweep(rows, Path(args.plot)):
            print(f"plot: {path}")
    failed = any(r["rtl_pass"] is False or (r["rtl_golden_agreement"] not in (None, 1.0)) for r in rows)
    return EXIT_FAIL if failed else EXIT_OK


def format_digits_table(rows) -> str:
    """A Markdown table of ``subtile digits`` rows."""
    def pct(value):
        return "-" if value is None else f"{100 * value:.1f} %"

    def num(value, fmt):
        return "-" if value is None else format(value, fmt)

    headers = ["weight bits", "formats (hidden, output)", "T", "delta", "float", "golden", "RTL",
               "RTL = golden", "events / inf.", "synaptic ops / inf.", "cycles / inf.", "energy / inf. (nJ)"]
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    for r in rows:
        lines.append("| " + " | ".join([
            str(r["weight_bits"]), ", ".join(r["weight_formats"]), str(r["steps"]), str(r["delta"]),
            pct(r["accuracy_float"]), pct(r["accuracy_golden"]), pct(r["accuracy_rtl"]),
            pct(r["rtl_golden_agreement"]), f"{r['events_per_inference']:.1f}",
            f"{r['synaptic_ops_per_inference']:.0f}", num(r["cycles_per_inference"], ".0f"),
            num(None if r["energy_per_inference_pj"] is None else r["energy_per_inference_pj"] / 1000, ".2f"),
        ]) + " |")
    return "\n".join(lines)
