"""Mutation operators: the faults of one statement, each a kind of fault real hardware has.

* ``operator``: a binary operator replaced by a related one (``+``/``-``, ``<``/``<=``,
  ``==``/``!=``, ``&``/``|``, ...);
* ``constant``: one bit of a literal flipped (its lowest bit, or its highest for wide literals);
* ``mux``: the two arms of a ``c ? a : b`` swapped;
* ``stuck``: a one-bit signal stuck at 0 or 1.
"""

from __future__ import annotations

import re

# A binary operator: after an operand (word character, ')' or ']', then spaces), before a space.
_BINARY = re.compile(r"(?<=[\w)\]]) +(<=|>=|==|!=|&&|\|\||<<|>>>|>>|[-+*<>&|^]) (?=\S)")
_LITERAL = re.compile(r"\b(\d+)'([hdb])([0-9a-fA-F]+)\b")
_SWAPS = {"+": "-", "-": "+", "*": "+", "<": "<=", "<=": "<", ">": ">=", ">=": ">", "==": "!=",
          "!=": "==", "&": "|", "|": "&", "^": "|", "&&": "||", "||": "&&", "<<": ">>", ">>": "<<",
          ">>>": ">>"}



def _literal_variants(match: re.Match) -> list[tuple[str, str]]:
    width, base, digits = int(match.group(1)), match.group(2), match.group(3)
    value = int(digits, {"h": 16, "d": 10, "b": 2}[base])
    bits = {0} | ({width - 1} if width > 2 else set())
    out = []
    for bit in sorted(bits):
        new = value ^ (1 << bit)
        text = {"h": f"{new:0{len(digits)}x}", "d": str(new), "b": f"{new:0{len(digits)}b}"}[base]
        out.append((f"{width}'{base}{text}", f"bit {bit} of {match.group(0)} flipped"))
    return out


def statement_mutations(lhs: str, rhs: str, widths: dict[str, int]) -> list[tuple[str, str, str]]:
    """(kind, mutated rhs, detail) for one statement."""
    out = []
    for match in _BINARY.finditer(rhs):
        op = match.group(1)
        new = _SWAPS.get(op)
        if new:
            mutated = rhs[:match.start(1)] + new + rhs[match.end(1):]
            out.append(("operator", mutated, f"{op} -> {new}"))
    for match in _LITERAL.finditer(rhs):
        for literal, detail in _literal_variants(match):
            out.append(("constant", rhs[:match.start()] + literal + rhs[match.end():], detail))
    if rhs.count(" ? ") == 1 and rhs.count(" : ") == 1 and rhs.index(" ? ") < rhs.index(" : "):
        condition, arms = rhs.split(" ? ")
        a, b = arms.split(" : ")
        out.append(("mux", f"{condition} ? {b} : {a}", "arms swapped"))
    if widths.get(lhs.strip()) == 1:
        for value in (0, 1):
            if rhs.strip() != f"1'h{value}":
                out.append(("stuck", f"1'h{value}", f"stuck at {value}"))
    # One fault once: flipping the one-bit literal of `x = 1'h0` is `x` stuck at 1.
    unique = {}
    for kind, mutated, detail in out:
        unique.setdefault(mutated, (kind, mutated, detail))
    return list(unique.values())
