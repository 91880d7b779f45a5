"""Proving a surviving mutant equivalent with Yosys' SAT solver."""

from __future__ import annotations

import re
from pathlib import Path

from subtile.gen.verilog import module_spans
from subtile.mutate.sites import Mutation, _statements

__all__ = ["equivalence_check"]


_PORT = re.compile(r"^\s*(input|output)\s+(?:signed\s+)?(\[\d+:\d+\]\s+)?(\\\S+ |[A-Za-z_]\w*)\s*;", re.M)


def _unit_modules(verilog: str, top: str, module: str, harness: int = 0) -> dict[str, str]:
    """The Verilog text of unit ``module`` (a path below the harness) and of its submodules,
    keyed by the path below the harness."""
    prefix = f"{top}.h{harness}."
    out = {}
    for name, start, end in module_spans(verilog):
        if name.startswith(prefix) and (name[len(prefix):] == module or name[len(prefix):].startswith(module + ".")):
            out[name[len(prefix):]] = verilog[start:end]
    return out


def equivalence_check(verilog: str, top: str, mutation: Mutation, *, assume: str | None = None,
                      work_dir: Path, harness: int = 0) -> tuple[bool, str]:
    """Prove with Yosys' SAT solver that ``mutation`` does not change any output of its unit
    (the module it is in, with its submodules) for any input, or for every input satisfying
    ``assume`` (a Verilog expression over the unit's ports); ``(True, "")`` when proved, else
    ``(False, reason)`` with the counterexample Yosys found.

    Only combinational units (branches, activations, lanes, encoders) can be checked this way:
    a unit with registers is refused with a ValueError.
    """
    from subtile.toolchain.yowasp import run_yowasp
    units = _unit_modules(verilog, top, mutation.module, harness)
    if mutation.module not in units:
        raise ValueError(f"module {mutation.module} is not in the design")
    if any("always @(posedge" in text for text in units.values()):
        raise ValueError(f"module {mutation.module} has registers: only combinational units are checked")
    old = f"\\{top}.h{harness}."

    def copy(label: str, mutate: bool) -> str:
        texts = []
        for path, text in units.items():
            if mutate and path == mutation.module:
                lines = text.split("\n")
                for ordinal, (index, prefix, lhs, rhs) in enumerate(_statements(text)):
                    if ordinal == mutation.statement:
                        if (lhs, rhs) != (mutation.lhs, mutation.original):
                            raise RuntimeError(f"mutation site {path}#{ordinal} is `{lhs} = {rhs}`")
                        lines[index] = f"{prefix}{lhs} = {mutation.mutated};"
                text = "\n".join(lines)
            texts.append(text.replace(old, f"\\{label}."))
        return "\n".join(texts)

    header = units[mutation.module]
    ports = [(direction, (width or "").strip(), name) for direction, width, name in _PORT.findall(header)]
    inputs = [(w, n) for d, w, n in ports if d == "input"]
    outputs = [(w, n) for d, w, n in ports if d == "output"]
    unit = f"{mutation.module}"
    wrapper = ["module equiv_check(" + ", ".join(n for _w, n in inputs) + ", ok);"]
    wrapper += [f"  input {w} {n};" for w, n in inputs]
    wrapper += ["  output ok;"]
    for side in ("gold", "gate"):
        wrapper += [f"  wire {w} {side}_{i};" for i, (w, _n) in enumerate(outputs)]
        connections = [f".{n}({n})" for _w, n in inputs] + [f".{n}({side}_{i})" for i, (_w, n) in enumerate(outputs)]
        wrapper.append(f"  \\{side}.{unit} {side}_unit ({', '.join(connections)});")
    same = " && ".join(f"(gold_{i} == gate_{i})" for i in range(len(outputs))) or "1'b1"
    condition = assume or "1'b1"
    wrapper.append(f"  assign ok = !({condition}) || ({same});")
    wrapper.append("endmodule")
    work_dir = Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    (work_dir / "check.v").write_text(copy("gold", False) + "\n" + copy("gate", True) + "\n" + "\n".join(wrapper) + "\n")
    script = ("read_verilog check.v; hierarchy -top equiv_check; proc; flatten; memory; opt -fast; "
              "sat -prove ok 1 -show-inputs -verify")
    log = work_dir / "yosys.log"
    code = run_yowasp("yosys", ["-p", script], cwd=work_dir, log=log)
    text = log.read_text(errors="replace")
    if code == 0 and "SAT proof finished - no model found: SUCCESS!" in text:
        return True, ""
    witness = [line.strip() for line in text.splitlines() if line.strip().startswith("\\") and "--" not in line]
    return False, ("counterexample: " + "; ".join(witness[:8])) if witness else f"yosys failed, see {log}"
