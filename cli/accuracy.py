"""``subtile accuracy``: exhaustive accuracy of activation units against their goals."""

from __future__ import annotations

from subtile.cli.options import EXIT_FAIL, EXIT_OK, activation_spec, add_activation_options, aligned_table, emit_json, path_arg
from subtile.errors import ConfigError


def register(commands):
    accuracy = commands.add_parser("accuracy", help="exhaustive accuracy of activation units (golden model)",
                                   description="Exhaustive accuracy, against the real function, of every "
                                               "input code of the standard activation matrix (or of the "
                                               "one unit given with --input), on the golden model.")
    add_activation_options(accuracy, unit=False)
    accuracy.add_argument("--functions", nargs="+", default=None, metavar="FUNCTION",
                          help="restrict the standard matrix to these functions")
    accuracy.add_argument("--markdown", action="store_true", help="print a Markdown table")
    accuracy.add_argument("--json", type=path_arg("json", "out-or-stdout"), default=None, metavar="FILE",
                          help="write the rows as JSON ('-' = stdout)")
    accuracy.set_defaults(handler=run)


def run(args):
    from subtile.spec.activation import standard_specs
    unit_options = ("function", "output_format", "impl", "segments", "beta", "guard_bits")
    if args.input_format:
        if args.functions:
            raise ConfigError("functions: restricts the standard matrix; with --input one unit is measured "
                              "(use --function)")
        specs = [activation_spec(args)]
    else:
        given = next((name for name in unit_options if getattr(args, name) is not None), None)
        if given:
            option = {"output_format": "output"}.get(given, given).replace("_", "-")
            raise ConfigError(f"{option}: describes one unit and needs --input (without it the standard "
                              f"matrix is measured; --functions restricts it)")
        specs = standard_specs(functions=args.functions)
    rows = []
    for spec in specs:
        plan = spec.plan()
        rows.append({"function": spec.function, "impl": spec.impl,
                     "input_format": str(spec.input_format), "output_format": str(spec.output_format),
                     "segments": plan.segments, "table_entries": plan.table_entries(),
                     "table_bits": plan.table_bits(), **plan.accuracy.to_dict()})
    if args.json:
        emit_json({"rows": rows, "all_meet_goal": all(r["meets_goal"] for r in rows)}, args.json)
    if args.json != "-":
        print(format_accuracy_table(rows, markdown=args.markdown))
    return EXIT_OK if all(r["meets_goal"] for r in rows) else EXIT_FAIL


def format_accuracy_table(rows, *, markdown=False) -> str:
    headers = ["function", "impl", "input", "output", "segments", "table bits",
               "max err (LSB)", "mean err (LSB)", "monotonic", "goal met"]
    body = [[r["function"], r["impl"], r["input_format"], r["output_format"],
             "-" if r["segments"] is None else str(r["segments"]), str(r["table_bits"]),
             f"{r['max_error_lsb']:.3f}", f"{r['mean_error_lsb']:.3f}",
             {True: "yes", False: "NO", None: "n/a"}[r["monotonic"]],
             "yes" if r["meets_goal"] else "NO"] for r in rows]
    if markdown:
        lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
        lines += ["| " + " | ".join(row) + " |" for row in body]
        return "\n".join(lines)
    return aligned_table(headers, body, align="left")
