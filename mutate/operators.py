"""Mutation operators: the faults of one statement, each a kind of fault real hardware has.

Every operator is described once, as data, in :data:`OPERATORS` (its name, the fault it models
and the function that lists its faults of one statement). The first four are the classic ones
(:data:`CLASSIC`); the others are the kinds hand-written faults take:

* ``operator``: a binary operator replaced by a related one (``+``/``-``, ``<``/``<=``,
  ``==``/``!=``, ``&``/``|``, ...);
* ``constant``: one bit of a literal flipped (its lowest bit, or its highest for wide literals);
* ``mux``: the two arms of a ``c ? a : b`` swapped;
* ``stuck``: a one-bit signal stuck at 0 or 1;
* ``shift``: an arithmetic shift made logical (the sign copies of a sign-extending
  concatenation ``{ x[k], x[k], x[k:j] }`` replaced by zeros; ``>>>`` -> ``>>``) or the reverse;
* ``rounding``: a rounding addend (``x + (2^k - 1)``, the half-LSB of round-to-nearest) set to 0
  (truncation) or moved up to ``2^k`` (round half up);
* ``slice``: a part select ``x[m:l]`` narrowed by its top bit (``x[m-1:l]``);
* ``compare``: the constant a comparison tests against moved by one, both ways;
* ``operand``: a signal operand replaced by its neighbour (the next in name order) of the
  same width among the module's registers and inputs (never a combinational signal, which could
  close a loop through the statement);
* ``term``: a term of a two-term sum or difference dropped (``a + b`` -> ``a``, ``b``;
  ``a - b`` -> ``a``).

Both arms of the instrumented guard keep the original expression's signedness: every operator
edits inside the casts Amaranth writes (``$signed(...)``), so the unselected arm is the original.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable

__all__ = ["Operator", "OPERATORS", "CLASSIC", "OPERATOR_NAMES", "ModuleContext", "statement_mutations",
           "check_operators"]

# A binary operator: after an operand (word character, ')' or ']', then spaces), before a space.
_BINARY = re.compile(r"(?<=[\w)\]]) +(<=|>=|==|!=|&&|\|\||<<|>>>|>>|[-+*<>&|^]) (?=\S)")
_LITERAL = re.compile(r"\b(\d+)'([hdb])([0-9a-fA-F]+)\b")
_SWAPS = {"+": "-", "-": "+", "*": "+", "<": "<=", "<=": "<", ">": ">=", ">=": ">", "==": "!=",
          "!=": "==", "&": "|", "|": "&", "^": "|", "&&": "||", "||": "&&", "<<": ">>", ">>": "<<",
          ">>>": ">>"}
_COMPARISONS = {"<", "<=", ">", ">=", "==", "!="}
# A signal name: an escaped identifier (with its terminating space) or a plain one not part of a
# literal (5'h0f), a system function ($signed) or a longer name.
_NAME = r"(?:\\\S+ |(?<![\w$'\\])[A-Za-z_]\w*)"
_SIGNAL = re.compile(_NAME)
_SLICE = re.compile(r"(?<=[\w ])\[(\d+):(\d+)\]")
# Sign copies and the shifted part, a whole concatenation or one part of one.
_SIGN_EXTENSION = re.compile(r"(?<=\{ |, )((" + _NAME + r")\[(\d+)\], (?:\2\[\3\], )*)\2\[\3:(\d+)\](?= \}|, )")
_ROUNDING_ADDEND = re.compile(r" \+ (\$signed\()?(\d+)'h([0-9a-fA-F]+)(\))?")


@dataclass(frozen=True)
class ModuleContext:
    """What the operators need to know of the module a statement is in: the declared width of
    every signal, and the registers and inputs an ``operand`` fault may read instead."""

    widths: dict[str, int] = field(default_factory=dict)
    sources: tuple[str, ...] = ()


def _literal_text(width: int, base: str, digits: str, value: int) -> str:
    text = {"h": f"{value:0{len(digits)}x}", "d": str(value), "b": f"{value:0{len(digits)}b}"}[base]
    return f"{width}'{base}{text}"


def _literal_variants(match: re.Match) -> list[tuple[str, str]]:
    width, base, digits = int(match.group(1)), match.group(2), match.group(3)
    value = int(digits, {"h": 16, "d": 10, "b": 2}[base])
    bits = {0} | ({width - 1} if width > 2 else set())
    return [(_literal_text(width, base, digits, value ^ (1 << bit)), f"bit {bit} of {match.group(0)} flipped")
            for bit in sorted(bits)]


def _operator(lhs, rhs, context):
    out = []
    for match in _BINARY.finditer(rhs):
        op = match.group(1)
        new = _SWAPS.get(op)
        if new:
            out.append((rhs[:match.start(1)] + new + rhs[match.end(1):], f"{op} -> {new}"))
    return out


def _constant(lhs, rhs, context):
    return [(rhs[:match.start()] + literal + rhs[match.end():], detail)
            for match in _LITERAL.finditer(rhs) for literal, detail in _literal_variants(match)]


def _mux(lhs, rhs, context):
    if rhs.count(" ? ") == 1 and rhs.count(" : ") == 1 and rhs.index(" ? ") < rhs.index(" : "):
        condition, arms = rhs.split(" ? ")
        a, b = arms.split(" : ")
        return [(f"{condition} ? {b} : {a}", "arms swapped")]
    return []


def _stuck(lhs, rhs, context):
    if context.widths.get(lhs.strip()) != 1:
        return []
    return [(f"1'h{value}", f"stuck at {value}") for value in (0, 1) if rhs.strip() != f"1'h{value}"]


def _shift(lhs, rhs, context):
    out = []
    for match in _SIGN_EXTENSION.finditer(rhs):
        copies = match.group(1).count("], ")
        name, top, low = match.group(2).strip(), match.group(3), match.group(4)
        zeros = ", ".join(["1'h0"] * copies)
        out.append((rhs[:match.start()] + f"{zeros}, {match.group(2)}[{top}:{low}]" + rhs[match.end():],
                    f"arithmetic shift of {name} made logical ({copies} sign copies -> 0)"))
    for match in _BINARY.finditer(rhs):
        op = match.group(1)
        if op in (">>>", ">>"):
            new = ">>" if op == ">>>" else ">>>"
            out.append((rhs[:match.start(1)] + new + rhs[match.end(1):], f"shift {op} -> {new}"))
    return out


def _rounding(lhs, rhs, context):
    out = []
    for match in _ROUNDING_ADDEND.finditer(rhs):
        width, digits = int(match.group(2)), match.group(3)
        value = int(digits, 16)
        if value < 1 or value & (value + 1):            # 2^k - 1, k >= 1: the half-LSB addend
            continue
        for new, what in ((0, "truncation"), (value + 1, "round half up")):
            if new >= 1 << width:
                continue
            literal = _literal_text(width, "h", digits, new)
            text = f"{match.group(1) or ''}{literal}{match.group(4) or ''}"
            out.append((rhs[:match.start()] + " + " + text + rhs[match.end():],
                        f"rounding addend {width}'h{digits} -> {literal} ({what})"))
    return out


def _slice(lhs, rhs, context):
    out = []
    for match in _SLICE.finditer(rhs):
        top, low = int(match.group(1)), int(match.group(2))
        if top > low:
            out.append((rhs[:match.start()] + f"[{top - 1}:{low}]" + rhs[match.end():],
                        f"slice [{top}:{low}] narrowed to [{top - 1}:{low}]"))
    return out


def _compare(lhs, rhs, context):
    out = []
    for match in _BINARY.finditer(rhs):
        if match.group(1) not in _COMPARISONS:
            continue
        after = re.match(r"(\$signed\()?" + _LITERAL.pattern, rhs[match.end():])
        before = re.search(_LITERAL.pattern + r"(\))?$", rhs[:match.start()])
        spans = []
        if after:
            spans.append((match.end() + after.start(2), after.group(2), after.group(3), after.group(4)))
        if before:
            spans.append((before.start(), before.group(1), before.group(2), before.group(3)))
        for start, width, base, digits in spans:
            width, value = int(width), int(digits, {"h": 16, "d": 10, "b": 2}[base])
            old = f"{width}'{base}{digits}"
            for new in (value - 1, value + 1):
                if 0 <= new < 1 << width:
                    literal = _literal_text(width, base, digits, new)
                    out.append((rhs[:start] + literal + rhs[start + len(old):],
                                f"comparison constant {old} -> {literal}"))
    return out


def _operand(lhs, rhs, context):
    out = []
    target = lhs.strip().split(" [")[0].split("[")[0].strip()
    done = set()
    for match in _SIGNAL.finditer(rhs):
        name = match.group(0).strip()
        width = context.widths.get(name)
        if width is None or name in done:
            continue
        done.add(name)
        same = [s for s in sorted(context.sources) if context.widths.get(s) == width]
        # the neighbour: the next register or input of the same width in name order
        later = [s for s in same if s > name] + [s for s in same if s < name]
        later = [s for s in later if s not in (name, target)]
        if not later:
            continue
        new = later[0]
        text = new + " " if new.startswith("\\") else new
        mutated = re.sub(re.escape(match.group(0)) if name.startswith("\\") else rf"(?<![\w$'\\]){re.escape(name)}\b",
                         lambda _m: text, rhs)
        out.append((mutated, f"operand {name} -> {new}"))
    return out


def _operand_text(text: str) -> str:
    """``text`` stripped, but an escaped identifier at its end keeps the space that ends it."""
    text = text.strip()
    return text + " " if re.search(r"\\\S+$", text) else text


def _term(lhs, rhs, context):
    matches = list(_BINARY.finditer(rhs))
    if len(matches) != 1 or matches[0].group(1) not in ("+", "-") or "?" in rhs:
        return []
    match = matches[0]
    a, b = _operand_text(rhs[:match.start()]), _operand_text(rhs[match.end():])
    if matches[0].group(1) == "-":
        return [(a, f"subtracted term {b} dropped")]
    return [(a, f"term {b} dropped"), (b, f"term {a} dropped")]


@dataclass(frozen=True)
class Operator:
    """One kind of fault: ``name`` (as reports print it), ``fault`` (what real fault it models)
    and ``faults(lhs, rhs, context)``, the (mutated rhs, detail) pairs it makes of one statement."""

    name: str
    fault: str
    faults: Callable[[str, str, ModuleContext], list[tuple[str, str]]]


#: Every mutation operator, in the order faults of one statement are listed (a fault two
#: operators make is kept once, under the first).
OPERATORS = (
    Operator("operator", "a binary operator replaced by a related one", _operator),
    Operator("constant", "one bit of a literal flipped", _constant),
    Operator("mux", "the arms of a two-way multiplexer swapped", _mux),
    Operator("stuck", "a one-bit signal stuck at 0 or 1", _stuck),
    Operator("shift", "an arithmetic shift made logical or the reverse", _shift),
    Operator("rounding", "a rounding addend set to truncation or round half up", _rounding),
    Operator("slice", "a part select narrowed by its top bit", _slice),
    Operator("compare", "a comparison's constant moved by one", _compare),
    Operator("operand", "an operand replaced by a neighbouring register or input of the same width", _operand),
    Operator("term", "a term of a sum dropped", _term),
)
OPERATOR_NAMES = tuple(op.name for op in OPERATORS)
#: The operators of the first mutation runs (the README's before figures).
CLASSIC = ("operator", "constant", "mux", "stuck")


def check_operators(names) -> tuple[str, ...]:
    """``names`` (an iterable of operator names, or a comma-separated string) validated, in
    :data:`OPERATORS` order; ValueError naming the unknown one."""
    if isinstance(names, str):
        names = [n.strip() for n in names.split(",") if n.strip()]
    names = list(names)
    unknown = [n for n in names if n not in OPERATOR_NAMES]
    if unknown or not names:
        raise ValueError(f"operators: {','.join(unknown) or '(none)'} is not a list of "
                         f"{', '.join(OPERATOR_NAMES)}")
    return tuple(n for n in OPERATOR_NAMES if n in names)


def statement_mutations(lhs: str, rhs: str, context: ModuleContext | dict,
                        operators=OPERATOR_NAMES) -> list[tuple[str, str, str]]:
    """(operator name, mutated rhs, detail) for one statement ``lhs = rhs``, by the operators
    named in ``operators``; ``context`` is a :class:`ModuleContext` (or just the widths)."""
    if isinstance(context, dict):
        context = ModuleContext(widths=context)
    unique = {}
    for operator in OPERATORS:
        if operator.name in operators:
            for mutated, detail in operator.faults(lhs, rhs, context):
                # One fault once: flipping the one-bit literal of `x = 1'h0` is `x` stuck at 1.
                if mutated.strip() != rhs.strip():
                    unique.setdefault(mutated, (operator.name, mutated, detail))
    return list(unique.values())
