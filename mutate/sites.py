"""Mutation sites in generated Verilog, and the instrumentation that puts many mutants in one build.

A site is a mutable statement of a module: a continuous assignment, or a blocking assignment of
a combinational ``always @*`` block (the whole datapath and control of an Amaranth design). The
faults of one statement come from :mod:`subtile.mutate.operators`. :func:`instrument` guards every
mutated statement by a mutant selector read from a plusarg::

    assign emit = (subtile_mut_sel == 16'd7) ? ($signed(\\$3 ) > $signed(3'h2))
                                           : ($signed(\\$3 ) >= $signed(3'h2));

so ``+subtile_mutant=7`` runs mutant 7 and ``+subtile_mutant=0`` (or none) the original design.
Both arms of the guard have the width and signedness of the original expression, so the
unselected arm leaves the design exactly as generated (the baseline run checks this).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from subtile.errors import ConfigError
from subtile.gen.verilog import module_spans
from subtile.mutate.operators import OPERATOR_NAMES, ModuleContext, statement_mutations

PLUSARG = "subtile_mutant"
SELECT = "subtile_mut_sel"
SELECT_BITS = 16

#: Unit of each tile submodule (by the module path below the harness's tile).
UNITS = ("synapse", "state", "neuron", "branch", "activation", "encoder", "control")
#: Units of a mesh outside its tiles: the routers (with their FIFOs), the fan-outs (axon tables),
#: the network interfaces (merge of the external input, output FIFO) and the mesh's own glue.
MESH_UNITS = ("router", "fanout", "interface", "mesh")
#: Where the sites of a design are, by its kind: the root module below the harness and the
#: modules left out (a mesh's tiles are the tile runs' sites).
SCOPES = {"tile": ("tile", None), "mesh": ("mesh", re.compile(r"^mesh\.tile_\d+(\.|$)"))}


def unit_of(path: str) -> str:
    """The unit a module belongs to, from its path below the harness (``tile.lane_0.soma``,
    ``mesh.network.router_1_0.core``)."""
    parts = path.split(".")
    if parts[0] == "mesh":
        if len(parts) > 1 and parts[1].startswith("tile_"):
            return "tile"
        if any(part.startswith("router_") for part in parts):
            return "router"
        if parts[-1] == "fanout":
            return "fanout"
        if len(parts) > 1 and parts[1].startswith("interface_"):
            return "interface"
        return "mesh"
    last = re.sub(r"_\d+$", "", parts[-1])
    if parts == ["tile"]:
        return "control"
    return {"synapses": "synapse", "state": "state", "lane": "neuron", "branch": "branch",
            "activation": "activation", "soma": "activation", "encoder": "encoder"}.get(last, "control")


# -- finding sites ---------------------------------------------------------------------------------
_DECL = re.compile(r"^\s*(?:input|output|wire|reg)\s+(?:signed\s+)?(?:\[(\d+):(\d+)\]\s+)?(\\\S+ |[A-Za-z_]\w*)\s*(?:=.*)?;")
_CONTINUOUS = re.compile(r"^(  assign )(.+?) = (.+);$")
_BLOCKING = re.compile(r"^(\s+)(\\\S+ |[A-Za-z_][\w.]*(?: ?\[[^\]]+\])?) = (.+);$")


def copy_pattern(path: str) -> str:
    """``path`` with the index of every lane and branch copy replaced by ``*``
    (``tile.lane_3.branch_1.activation`` -> ``tile.lane_*.branch_*.activation``): the copies are
    generated from one description, so their statements are the same text."""
    return re.sub(r"\b(lane|branch)_\d+(?=\.|$)", r"\1_*", path)


@dataclass(frozen=True)
class Mutation:
    """One single fault: in module ``module`` (a path below the harness), the statement
    ``lhs = original`` becomes ``lhs = mutated``.

    ``statement`` is the statement's ordinal among the mutable statements of the module (where
    :func:`instrument` applies it); ``occurrence`` tells apart statements of the same text in one
    module (0 for the first; they occur in the case arms of ``always @*`` blocks). An analysis of
    a mutant refers to it by :attr:`key`, which leaves the ordinal out, so it still fits after
    an unrelated change of the HDL adds or removes statements.
    """

    module: str
    statement: int
    lhs: str
    kind: str
    original: str
    mutated: str
    detail: str
    occurrence: int = 0

    @property
    def unit(self) -> str:
        return unit_of(self.module)

    @property
    def key(self) -> tuple[str, str, int, str, str]:
        """(module, lhs, occurrence, original, mutated), the statement texts stripped."""
        return (self.module, self.lhs.strip(), self.occurrence, self.original.strip(), self.mutated.strip())

    def describe(self) -> str:
        again = f" (occurrence {self.occurrence})" if self.occurrence else ""
        return (f"{self.unit} {self.module}: {self.kind} ({self.detail}) in "
                f"`{self.lhs.strip()} = {self.original.strip()}`{again} -> `{self.mutated.strip()}`")


def _statements(body: str):
    """Yield (line index, kind, indent/prefix, lhs, rhs) of each mutable statement of a module:
    continuous assignments and blocking assignments inside ``always @*`` blocks."""
    in_comb = False
    for index, line in enumerate(body.split("\n")):
        if line.startswith("  always @* begin"):
            in_comb = True
            continue
        if in_comb and line == "  end":
            in_comb = False
            continue
        match = _CONTINUOUS.match(line)
        if match:
            yield index, match.group(1), match.group(2), match.group(3)
            continue
        if in_comb:
            match = _BLOCKING.match(line)
            if match and not line.lstrip().startswith(("reg ", "wire ")):
                yield index, match.group(1), match.group(2), match.group(3)


def _widths(body: str) -> dict[str, int]:
    widths = {}
    for line in body.split("\n"):
        match = _DECL.match(line)
        if match:
            msb, lsb, name = match.groups()
            widths[name.strip()] = abs(int(msb) - int(lsb)) + 1 if msb is not None else 1
    return widths


_NONBLOCKING = re.compile(r"^\s+(\\\S+ |[A-Za-z_]\w*)(?: ?\[[^\]]+\])? <= ")


def module_context(body: str) -> ModuleContext:
    """The widths of a module's signals and its registers and data inputs (the signals an
    ``operand`` fault may read instead of another: none of them closes a combinational loop
    through the faulty statement, except through an input driven from this module's outputs,
    which the baseline run would show)."""
    widths = _widths(body)
    sources = set()
    for line in body.split("\n"):
        match = _NONBLOCKING.match(line)
        if match and not line.lstrip().startswith("initial"):
            sources.add(match.group(1).strip())
        match = _PORT_IN.match(line)
        if match and not re.search(r"(clk|rst)$", match.group(1)):
            sources.add(match.group(1).strip())
    return ModuleContext(widths=widths, sources=tuple(sorted(s for s in sources if s in widths)))


_PORT_IN = re.compile(r"^\s*input\s+(?:signed\s+)?(?:\[\d+:\d+\]\s+)?(\\\S+ |[A-Za-z_]\w*)\s*;")


def _is_dead(body: str, lhs: str) -> bool:
    """True when the assigned signal is read nowhere (not an output, no other use): a fault there
    is equivalent by construction, so such statements are not mutation sites."""
    name = lhs.strip().split(" [")[0].split("[")[0].strip()
    if re.search(rf"^\s*output\s+(?:\[[^\]]+\]\s+)?{re.escape(name)}\s*;", body, re.M):
        return False
    # Uses: every occurrence except declarations and the left-hand sides of assignments.
    # (a plain name is not part of a longer or an escaped one: `x` in `\x$2 ` is no use of `x`)
    pattern = re.escape(name) + (r"(?=\s)" if name.startswith("\\") else r"(?![\w$])")
    for line in body.split("\n"):
        for match in re.finditer((r"" if name.startswith("\\") else r"(?<![\w$\\])") + pattern, line):
            before = line[:match.start()].strip()
            after = line[match.end():].lstrip()
            if before in ("assign", "") and (after.startswith("=") or after.startswith("[") and "] =" in after):
                continue
            if re.match(r"^(input|output|wire|reg)\b", before):
                continue
            if before.endswith("."):           # the port name of a named connection, not the signal
                continue
            return False
    return True


def find_mutations(verilog: str, top: str, harness: int = 0, *, scope: str = "tile",
                   operators=OPERATOR_NAMES) -> list[Mutation]:
    """Every candidate single fault, by the named ``operators``, in the design of harness
    ``harness`` of a bench's Verilog: its tile (``scope="tile"``) or its mesh outside the tiles
    (``scope="mesh"``: routers, fan-outs, network interfaces and the mesh's glue)."""
    prefix = f"{top}.h{harness}."
    root, skip = SCOPES[scope]
    mutations = []
    for name, start, end in module_spans(verilog):
        if not (name == prefix + root or name.startswith(prefix + root + ".")):
            continue
        path = name[len(prefix):]
        if skip is not None and skip.match(path):
            continue
        body = verilog[start:end]
        context = module_context(body)
        seen: dict[tuple[str, str], int] = {}
        for ordinal, (_line, _prefix, lhs, rhs) in enumerate(_statements(body)):
            occurrence = seen[lhs.strip(), rhs.strip()] = seen.get((lhs.strip(), rhs.strip()), -1) + 1
            if _is_dead(body, lhs):
                continue
            for kind, mutated, detail in statement_mutations(lhs, rhs, context, operators):
                mutations.append(Mutation(path, ordinal, lhs, kind, rhs, mutated, detail, occurrence))
    return mutations


def select_mutations(candidates: list[Mutation], count: int, seed: int) -> list[Mutation]:
    """``count`` mutations drawn without replacement, round-robin over the units (so every unit
    gets its share), within a unit round-robin over the operators (so every kind of fault gets
    its share) and, within a unit's operator, at random from the seed."""
    rng = np.random.default_rng(seed)
    pools: dict[str, dict[str, list[Mutation]]] = {}
    for mutation in candidates:
        pools.setdefault(mutation.unit, {}).setdefault(mutation.kind, []).append(mutation)
    queues = {}
    for unit in sorted(pools):
        kinds = {kind: [pools[unit][kind][i] for i in rng.permutation(len(pools[unit][kind]))]
                 for kind in OPERATOR_NAMES if kind in pools[unit]}
        # the operators' turn starts at a random one, so a short run is not all of one kind
        names = list(kinds)
        first = int(rng.integers(len(names)))
        kinds = {name: kinds[name] for name in names[first:] + names[:first]}
        queue = []
        while any(kinds.values()):
            queue += [kinds[kind].pop() for kind in kinds if kinds[kind]]
        queues[unit] = queue[::-1]
    units = [unit for unit in (*UNITS, *MESH_UNITS, "tile") if unit in queues]
    chosen = []
    while len(chosen) < count and any(queues[u] for u in units):
        for unit in units:
            if queues[unit] and len(chosen) < count:
                chosen.append(queues[unit].pop())
    return chosen


def instrument(verilog: str, top: str, harnesses: int, mutations: list[Mutation]) -> str:
    """Verilog with ``mutations`` (numbered from 1) guarded by the mutant selector, applied to the
    tile of every harness."""
    by_site: dict[tuple[str, int], list[tuple[int, Mutation]]] = {}
    for number, mutation in enumerate(mutations, start=1):
        by_site.setdefault((mutation.module, mutation.statement), []).append((number, mutation))
    paths = {mutation.module for mutation in mutations}
    pieces, position = [], 0
    for name, start, end in module_spans(verilog):
        harness = next((h for h in range(harnesses) if name.startswith(f"{top}.h{h}.")), None)
        path = name[len(f"{top}.h{harness}."):] if harness is not None else None
        if path not in paths:
            continue
        lines = verilog[start:end].split("\n")
        for ordinal, (index, prefix, lhs, rhs) in enumerate(_statements(verilog[start:end])):
            site = by_site.get((path, ordinal))
            if not site:
                continue
            expression = f"({rhs})"
            for number, mutation in reversed(site):
                if mutation.original != rhs or mutation.lhs != lhs:
                    raise RuntimeError(f"mutation site {path}#{ordinal} differs in harness {harness}: "
                                       f"{lhs} = {rhs}")
                expression = f"({SELECT} == {SELECT_BITS}'d{number}) ? ({mutation.mutated}) : {expression}"
            lines[index] = f"{prefix}{lhs} = {expression};"
        header_end = next(i for i, line in enumerate(lines) if line.rstrip().endswith(");"))
        lines[header_end + 1:header_end + 1] = [
            f"  reg [{SELECT_BITS - 1}:0] {SELECT};",
            f'  initial if (!$value$plusargs("{PLUSARG}=%d", {SELECT})) {SELECT} = {SELECT_BITS}\'d0;',
        ]
        pieces += [verilog[position:start], "\n".join(lines)]
        position = end
    pieces.append(verilog[position:])
    return "".join(pieces)



def check_count(count: int) -> int:
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= (1 << SELECT_BITS) - 1:
        raise ConfigError(f"n: {count} is outside the allowed range 1..{(1 << SELECT_BITS) - 1}")
    return count


class InstrumentedBench:
    """What the tile's and the mesh's mutation benches share: the instrumented Verilog
    (``self.verilog``, every mutant behind its selector) of ``self.design``, its digest, and its
    one build, handed to the bench (``self.bench``) so that its runs use it. Subclasses set
    ``design``, ``verilog``, ``bench`` and ``public`` (the signals the bench's testbench drives and
    reads), and may set ``public_read`` (those it only reads)."""

    public_read: tuple[str, ...] = ()

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.verilog.encode()).hexdigest()

    def build(self, work_dir: Path):
        from subtile.toolchain import runner
        work_dir.mkdir(parents=True, exist_ok=True)
        path = work_dir / f"{self.design.top}.v"
        path.write_text(self.verilog)
        self.bench._build = runner.build([path], self.design.top, public=self.public,
                                          public_read=self.public_read)
        return self.bench._build
