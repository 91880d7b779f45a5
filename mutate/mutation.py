"""Mutation testing of the verification: inject single faults into the tile's RTL and check
that the regression notices each one.

All mutants live in ONE Verilator build. Every mutated statement of the generated Verilog is
guarded by a mutant selector read from a plusarg::

    assign emit = (subtile_mut_sel == 16'd7) ? ($signed(\\$3 ) > $signed(3'h2))
                                           : ($signed(\\$3 ) >= $signed(3'h2));

so ``+subtile_mutant=7`` runs mutant 7 and ``+subtile_mutant=0`` (or none) the original design.
Both arms of the guard have the width and signedness of the original expression, so the
unselected arm leaves the design exactly as generated (the baseline run checks this).

Mutation operators, applied to continuous assignments and to the blocking assignments of
combinational ``always @*`` blocks (the whole datapath and control of an Amaranth design):

* ``operator``: a binary operator replaced by a related one (``+``/``-``, ``<``/``<=``,
  ``==``/``!=``, ``&``/``|``, ...);
* ``constant``: one bit of a literal flipped (its lowest bit, or its highest for wide literals);
* ``mux``: the two arms of a ``c ? a : b`` swapped;
* ``stuck``: a one-bit signal stuck at 0 or 1.

Sites are picked deterministically from the seed, spread over the tile's units (synapse table
and weights, accumulator state, neuron update, branch, activation, encoder, tile control and
output stream). Each mutant runs the regression of :func:`regression_cases` (several harnesses
of the same tile with different stimulus, idle cycles and backpressure, state compared after
every step); it is *killed* when any output event or state register differs from the golden
model, or when the run hangs (a cycle budget of a few times the original run's).
Results go to a :class:`subtile.store.ResultStore`, one row per mutant, so a killed run
resumes where it stopped.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from subtile.spec.config import TileConfig
from subtile.spec.fixed import bits
from subtile.errors import ConfigError
from subtile.gen.verilog import module_spans
from subtile.sim.tile_harness import generate_bench
from subtile.golden.tile import SynapseTable, initial_contents, random_stimulus
from subtile.store import ResultStore
from subtile.toolchain import runner
from subtile.sim.tile_bench import PUBLIC_SIGNALS, StepStimulus, TileBench, TileCase

__all__ = ["Mutation", "find_mutations", "select_mutations", "instrument", "MutationBench",
           "regression_cases", "rounding_targets", "run_mutation_testing", "format_report", "PLUSARG", "UNITS"]

PLUSARG = "subtile_mutant"
SELECT = "subtile_mut_sel"
SELECT_BITS = 16

#: Unit of each tile submodule (by the module path below the harness's tile).
UNITS = ("synapse", "state", "neuron", "branch", "activation", "encoder", "control")


def unit_of(path: str) -> str:
    """The unit a module of the tile belongs to, from its path below the harness (``tile.lane_0.soma``)."""
    parts = path.split(".")
    last = re.sub(r"_\d+$", "", parts[-1])
    if parts == ["tile"]:
        return "control"
    return {"synapses": "synapse", "state": "state", "lane": "neuron", "branch": "branch",
            "activation": "activation", "soma": "activation", "encoder": "encoder"}.get(last, "control")


# -- finding sites ---------------------------------------------------------------------------------
_DECL = re.compile(r"^\s*(?:input|output|wire|reg)\s+(?:signed\s+)?(?:\[(\d+):(\d+)\]\s+)?(\\\S+ |[A-Za-z_]\w*)\s*(?:=.*)?;")
_CONTINUOUS = re.compile(r"^(  assign )(.+?) = (.+);$")
_BLOCKING = re.compile(r"^(\s+)(\\\S+ |[A-Za-z_][\w.]*(?: ?\[[^\]]+\])?) = (.+);$")
# A binary operator: after an operand (word character, ')' or ']', then spaces), before a space.
_BINARY = re.compile(r"(?<=[\w)\]]) +(<=|>=|==|!=|&&|\|\||<<|>>>|>>|[-+*<>&|^]) (?=\S)")
_LITERAL = re.compile(r"\b(\d+)'([hdb])([0-9a-fA-F]+)\b")
_SWAPS = {"+": "-", "-": "+", "*": "+", "<": "<=", "<=": "<", ">": ">=", ">=": ">", "==": "!=",
          "!=": "==", "&": "|", "|": "&", "^": "|", "&&": "||", "||": "&&", "<<": ">>", ">>": "<<",
          ">>>": ">>"}


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


def _rhs_mutations(lhs: str, rhs: str, widths: dict[str, int]) -> list[tuple[str, str, str]]:
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


def _is_dead(body: str, lhs: str) -> bool:
    """True when the assigned signal is read nowhere (not an output, no other use): a fault there
    is equivalent by construction, so such statements are not mutation sites."""
    name = lhs.strip().split(" [")[0].split("[")[0].strip()
    if re.search(rf"^\s*output\s+(?:\[[^\]]+\]\s+)?{re.escape(name)}\s*;", body, re.M):
        return False
    # Uses: every occurrence except declarations and the left-hand sides of assignments.
    pattern = re.escape(name) + (r"(?=\s)" if name.startswith("\\") else r"\b")
    for line in body.split("\n"):
        for match in re.finditer((r"" if name.startswith("\\") else r"(?<![\w$])") + pattern, line):
            before = line[:match.start()].strip()
            after = line[match.end():].lstrip()
            if before in ("assign", "") and (after.startswith("=") or after.startswith("[") and "] =" in after):
                continue
            if re.match(r"^(input|output|wire|reg)\b", before):
                continue
            return False
    return True


def find_mutations(verilog: str, top: str, harness: int = 0) -> list[Mutation]:
    """Every candidate single fault in the tile of harness ``harness`` of a bench's Verilog."""
    prefix = f"{top}.h{harness}."
    mutations = []
    for name, start, end in module_spans(verilog):
        if not (name == prefix + "tile" or name.startswith(prefix + "tile.")):
            continue
        body = verilog[start:end]
        widths = _widths(body)
        path = name[len(prefix):]
        seen: dict[tuple[str, str], int] = {}
        for ordinal, (_line, _prefix, lhs, rhs) in enumerate(_statements(body)):
            occurrence = seen[lhs.strip(), rhs.strip()] = seen.get((lhs.strip(), rhs.strip()), -1) + 1
            if _is_dead(body, lhs):
                continue
            for kind, mutated, detail in _rhs_mutations(lhs, rhs, widths):
                mutations.append(Mutation(path, ordinal, lhs, kind, rhs, mutated, detail, occurrence))
    return mutations


def select_mutations(candidates: list[Mutation], count: int, seed: int) -> list[Mutation]:
    """``count`` mutations drawn without replacement, round-robin over the units (so every unit
    gets its share) and, within a unit, at random from the seed."""
    rng = np.random.default_rng(seed)
    pools = {}
    for mutation in candidates:
        pools.setdefault(mutation.unit, []).append(mutation)
    for unit in pools:
        order = rng.permutation(len(pools[unit]))
        pools[unit] = [pools[unit][i] for i in order]
    units = [unit for unit in UNITS if unit in pools]
    chosen = []
    while len(chosen) < count and any(pools[u] for u in units):
        for unit in units:
            if pools[unit] and len(chosen) < count:
                chosen.append(pools[unit].pop())
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


# -- the regression run on every mutant ---------------------------------------------------------
def rounding_targets(config: TileConfig) -> list[int]:
    """Accumulator codes every accumulator is taken to by :func:`saturation_ramp`, in order.

    The rounding of an accumulator to the dendrite format (nearest-even, saturating) decides at
    a few places: the two saturation thresholds (``T+``, the first code that rounds above the
    largest dendrite code, and ``-T-``, the first that rounds below the smallest) and the ties
    halfway between two dendrite codes. Off-by-one faults there change the result for one or two
    accumulator codes only, and with one lane per neuron a fault in one lane's copy is seen by
    one neuron only: so every accumulator walks each threshold's neighbourhood, ``T - 64 .. T +
    64`` in steps of 8 and then ``T - 4 .. T + 4`` one code at a time, and then sits on codes
    next to ties (both parities of the rounded value, both signs) where tanh is steep, so that
    a one-LSB error in the rounded value changes the branch output.
    """
    dfmt = config.dendrite_format
    shift = config.accumulator_frac_bits - dfmt.frac_bits
    if shift < 1:
        return []
    half = 1 << (shift - 1)
    upper = ((2 * dfmt.max_code + 1) << shift) // 2            # rounds to max_code + 1/2 and above
    lower = ((2 * -dfmt.min_code + 1) << shift) // 2           # magnitude: -lower rounds below min_code
    walk = [8 * k for k in range(-8, 9)] + list(range(-4, 5))
    targets = [upper + d for d in walk] + [-(lower + d) for d in walk]
    # ties near a quarter of the dendrite range's first unit, where tanh is steep
    middle = (1 << dfmt.frac_bits) // 4 << shift
    for sign in (1, -1):
        for parity in (0, 1):
            for d in (-1, 0, 1):
                targets.append(sign * (middle + ((2 * parity + 1) * half) + d))
    return targets


def saturation_ramp(config: TileConfig) -> list[StepStimulus]:
    """Steps that take every accumulator of the tile, one code per time step, through
    :func:`rounding_targets`: both dendrite saturation thresholds and the rounding ties, where
    off-by-one faults hide. Empty when the formats and sizes cannot do it.

    Every branch b gets the addresses ``b * K + j`` mapped to its slots j = 0..K-1, with the same
    weights for every neuron: the largest weight on slots 0..K-2 and weight 1 on slot K-1; each
    step sets the input levels (greedily, largest weights first, negative for a negative target)
    so that every accumulator holds the step's target.
    """
    wfmt, pfmt = config.weight_format, config.payload_format
    wmax, xmax, xmin = wfmt.max_code, pfmt.max_code, pfmt.min_code
    targets = rounding_targets(config)
    if not targets or xmax < 1:
        return []
    weights = [wmax] * -(-max(abs(t) for t in targets) // (wmax * xmax)) + [1]
    slots = len(weights)
    levels = []
    for target in targets:                                # greedy: the largest weights first
        rest, row = abs(target), []
        for weight in weights:
            row.append(min(xmax, -xmin, rest // weight))
            rest -= weight * row[-1]
        if rest:
            return []
        levels.append(row)
    if slots > config.synapses or config.addresses < config.branches * slots:
        return []
    address = {(b, j): b * slots + j for b in range(config.branches) for j in range(slots)}
    table = initial_contents(config)[1]
    valid, branch, slot = table.valid.copy(), table.branch.copy(), table.slot.copy()
    for (b, j), a in address.items():
        valid[a], branch[a], slot[a] = True, b, j
    words = SynapseTable(valid, branch, slot, config).encode()
    writes = [(0, a, 0, int(words[a])) for a in address.values()]
    # the other slots of each branch get weight 0: their addresses may be sent later
    writes += [(1, b * config.synapses + j, n, bits(weights[j] if j < slots else 0, wfmt))
               for b in range(config.branches) for j in range(config.synapses) for n in range(config.neurons)]
    steps, current = [], {}
    for target, row in zip(targets, levels):
        sign = 1 if target >= 0 else -1
        events = []
        for b in range(config.branches):
            for j, level in enumerate(row):                # move each input level to its target
                change = sign * level - current.get((b, j), 0)
                current[b, j] = sign * level
                while change:
                    part = min(max(change, xmin), xmax)
                    events.append([address[b, j], part])
                    change -= part
        steps.append(StepStimulus(np.array(events, dtype=np.int64).reshape(-1, 2), () if steps else writes))
    return steps


def regression_cases(config: TileConfig, steps: int, seed: int) -> list[TileCase]:
    """The stimulus every mutant faces, one case per harness (all on the same tile):

    0. sparse input (activity 0.1) with idle cycles and output backpressure;
    1. every input every step (activity 1.0) under heavy backpressure;
    2. activity 0.4 with the programming port rewriting table entries and weights mid-run;
    3. a saturation case: every branch's accumulator walked across the dendrite saturation
       limits (:func:`saturation_ramp`), then every weight set to an extreme and inputs swinging
       between their payload extremes.
    """
    rng = np.random.default_rng(seed)

    def random_steps(activity, salt):
        return [StepStimulus(e) for e in random_stimulus(config, steps, activity, seed=seed * 7919 + salt)]

    programmed = random_steps(0.4, 2)
    writes = []
    table = initial_contents(config)[1]
    for _ in range(4):
        row = int(rng.integers(config.addresses))
        entry = SynapseTable(table.valid.copy(), table.branch.copy(), table.slot.copy(), config)
        entry.valid[row] = bool(rng.integers(2))
        entry.branch[row] = int(rng.integers(config.branches))
        entry.slot[row] = int(rng.integers(config.synapses))
        writes.append((0, row, 0, int(entry.encode()[row])))
    for _ in range(12):
        row, neuron = int(rng.integers(config.rows)), int(rng.integers(config.neurons))
        value = int(rng.integers(config.weight_format.min_code, config.weight_format.max_code + 1))
        writes.append((1, row, neuron, value & ((1 << config.weight_format.width) - 1)))
    middle = steps // 2
    programmed[middle] = StepStimulus(programmed[middle].events, writes)

    # The swing case first sets every weight to an extreme (random sign), so sums reach the
    # saturation limits of the dendrites and the membrane.
    width = config.weight_format.width
    extremes = [(1, row, neuron, int(rng.choice([config.weight_format.max_code, config.weight_format.min_code]))
                 & ((1 << width) - 1)) for row in range(config.rows) for neuron in range(config.neurons)]
    fmt = config.payload_format
    swing = []
    for step in range(steps):
        addresses = rng.permutation(config.addresses)[:max(1, config.addresses // 2)]
        if step % 4 == 3:
            swing.append(np.zeros((0, 2), dtype=np.int64))
            continue
        code = fmt.max_code if step % 8 < 4 else fmt.min_code
        swing.append(np.array([[a, code if rng.random() < 0.8 else -code // 2] for a in addresses],
                              dtype=np.int64))
    return [TileCase(random_steps(0.1, 0), seed=seed + 1, idle=0.2, stall=0.3),
            TileCase(random_steps(1.0, 1), seed=seed + 2, stall=0.6),
            TileCase(programmed, seed=seed + 3, idle=0.1, stall=0.1),
            TileCase(saturation_ramp(config) +
                     [StepStimulus(e, extremes if step == 0 else ()) for step, e in enumerate(swing)],
                     seed=seed + 4, stall=0.2)]


class MutationBench:
    """The instrumented bench: ``harnesses`` copies of one tile, all mutants in one build."""

    def __init__(self, config: TileConfig, *, count: int, seed: int, harnesses: int = 4):
        self.config, self.seed, self.harnesses = config, seed, harnesses
        configs = [config] * harnesses
        self.bench = TileBench(configs, name=f"{config.name}_mutants")
        design = generate_bench(configs, self.bench.contents, top=self.bench.name,
                                stimulus_depth=self.bench.stimulus_depth, response_depth=self.bench.response_depth)
        self.design = design
        self.candidates = find_mutations(design.verilog, design.top)
        if not self.candidates:
            raise RuntimeError(f"no mutation sites found in {design.top}")
        self.mutations = select_mutations(self.candidates, count, seed)
        self.verilog = instrument(design.verilog, design.top, harnesses, self.mutations)

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.verilog.encode()).hexdigest()

    def build(self, work_dir: Path) -> runner.Build:
        work_dir.mkdir(parents=True, exist_ok=True)
        path = work_dir / f"{self.design.top}.v"
        path.write_text(self.verilog)
        self.bench._build = runner.build([path], self.design.top, public=PUBLIC_SIGNALS)
        return self.bench._build

    def run(self, number: int, cases: list[TileCase], work_dir: Path, timeout_cycles: int | None) -> dict:
        """Run mutant ``number`` (0 = the original design): outcome and first divergence."""
        start = time.perf_counter()
        try:
            runs = self.bench.run(dict(enumerate(cases)), work_dir=work_dir, plusargs=[f"+{PLUSARG}={number}"],
                                  timeout_cycles=timeout_cycles)
        except AssertionError as error:
            reason = "timeout" if "timeout" in str(error) else "simulation failed"
            return {"killed": True, "reason": reason, "first_mismatch": str(error).strip().splitlines()[-1][:300],
                    "cycles": None, "seconds": round(time.perf_counter() - start, 3)}
        except (ValueError, RuntimeError) as error:
            return {"killed": True, "reason": "bad output", "first_mismatch": str(error)[:300], "cycles": None,
                    "seconds": round(time.perf_counter() - start, 3)}
        failing = [(index, run) for index, run in sorted(runs.items()) if not run.passed]
        cycles = sum(run.cycles for run in runs.values())
        if failing:
            index, run = failing[0]
            return {"killed": True, "reason": "mismatch", "first_mismatch": f"case {index}: {run.mismatch}",
                    "cases_failing": [i for i, _ in failing], "cycles": cycles,
                    "seconds": round(time.perf_counter() - start, 3)}
        return {"killed": False, "reason": None, "first_mismatch": None, "cycles": cycles,
                "seconds": round(time.perf_counter() - start, 3)}


def _stimulus_digest(cases: list[TileCase]) -> str:
    digest = hashlib.sha256()
    for case in cases:
        digest.update(repr((case.seed, case.idle, case.stall, case.read_state)).encode())
        for step in case.stimulus:
            digest.update(np.asarray(step.events, dtype=np.int64).tobytes() + repr(list(step.writes)).encode())
    return digest.hexdigest()


def run_mutation_testing(config: TileConfig, *, count: int, seed: int, steps: int, work_dir: Path,
                         db: Path | None = None, log=print, harnesses: int = 4, equivalents=()) -> dict:
    """Build all mutants once, run the regression on each, return the report (see module doc).

    With ``db``, each mutant's outcome is stored as it finishes and mutants already stored for
    the same design, mutants and stimulus are skipped (resume after a crash or kill).
    """
    work_dir = Path(work_dir)
    mbench = MutationBench(config, count=count, seed=seed, harnesses=harnesses)
    cases = regression_cases(config, steps, seed)[:harnesses]
    run_name = "mutate-" + hashlib.sha256(json.dumps(
        {"verilog": mbench.digest, "steps": steps, "seed": seed, "harnesses": harnesses,
         "stimulus": _stimulus_digest(cases)},
        sort_keys=True).encode()).hexdigest()[:16]
    store = ResultStore(db if db is not None else work_dir / "mutants.db", run=run_name)
    try:
        build = mbench.build(work_dir)
        log(f"{len(mbench.mutations)} mutants of {len(mbench.candidates)} candidate sites in one build "
            f"({'reused' if build.cached else 'compiled'} in {build.seconds:.1f} s)")
        baseline = mbench.run(0, cases, work_dir / "run", timeout_cycles=None)
        if baseline["killed"]:
            raise RuntimeError(f"the regression fails on the original design: {baseline['first_mismatch']}")
        timeout = 4 * baseline["cycles"] + 10_000
        pending = store.pending(f"{n:04d}" for n in range(1, len(mbench.mutations) + 1))
        if len(pending) < len(mbench.mutations):
            log(f"resuming: {len(mbench.mutations) - len(pending)} mutants already in {store.path}")
        for key in pending:
            number = int(key)
            mutation = mbench.mutations[number - 1]
            try:
                outcome = mbench.run(number, cases, work_dir / "run", timeout_cycles=timeout)
            except Exception as error:  # noqa: BLE001 - stored as a failed point, the run goes on
                store.put(key, params=asdict(mutation), error=f"{type(error).__name__}: {error}")
                log(f"mutant {number}: ERROR {error}")
                continue
            store.put(key, params=asdict(mutation), metrics=outcome)
            log(f"mutant {number}/{len(mbench.mutations)}: {'killed' if outcome['killed'] else 'SURVIVED'} "
                f"({outcome['reason'] or 'no difference'}) {mutation.describe()}")
        results = store.results()
    finally:
        store.close()
    return _report(config, mbench, results, equivalents=equivalents, count=count, seed=seed, steps=steps,
                   baseline=baseline,
                   work_dir=work_dir, db=store.path, run_name=run_name)


_ENTRY_KEYS = {"module", "lhs", "original", "mutated", "class", "reason"}
_ENTRY_OPTIONAL = {"occurrence", "proof", "assume"}
_PATTERN = re.compile(r"^tile(\.(lane|branch)_(\d+|\*)|\.[A-Za-z_][A-Za-z0-9_]*)*$")


def load_equivalents(path) -> list[dict]:
    """Analysed surviving mutants: the TOML ``[[mutant]]`` tables of ``path`` (see
    docs/mutation-equivalents.toml), validated.

    An entry names a mutant by its site text, not by its position: ``module`` (a path below the
    harness; ``lane_*`` / ``branch_*`` stand for every copy, whose statements are the same text),
    ``lhs``, ``original`` and ``mutated`` (the statement before and after the fault, as
    :meth:`Mutation.describe` prints them), optionally ``occurrence`` (the how-many-th statement of
    that text in the module, from 0; default 0), and ``class`` and ``reason``. ``proof = "sat"``
    says the entry is proved with :func:`equivalence_check` (tests/mutate/test_mutate.py runs it), for
    every input of the unit or, with ``assume``, for the inputs satisfying that Verilog
    expression over the unit's ports (a premise the reason justifies).
    """
    import tomllib
    try:
        entries = tomllib.loads(Path(path).read_text()).get("mutant", [])
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ConfigError(f"equivalent: cannot read {path}: {error}") from None
    if not isinstance(entries, list):
        raise ConfigError(f"equivalent: {path}: `mutant` must be an array of tables ([[mutant]])")
    seen = {}
    out = []
    for index, entry in enumerate(entries):
        where = f"equivalent: entry {index} of {path}"
        if not isinstance(entry, dict):
            raise ConfigError(f"{where} is not a table")
        if "statement" in entry:
            raise ConfigError(f"{where} has `statement` (an ordinal, which any HDL change shifts); "
                              "name the site by module, lhs, original and mutated")
        missing = _ENTRY_KEYS - set(entry)
        if missing:
            raise ConfigError(f"{where} lacks {', '.join(sorted(missing))}")
        unknown = set(entry) - _ENTRY_KEYS - _ENTRY_OPTIONAL
        if unknown:
            raise ConfigError(f"{where} has unknown key(s) {', '.join(sorted(unknown))}; allowed: "
                              f"{', '.join(sorted(_ENTRY_KEYS | _ENTRY_OPTIONAL))}")
        for field in sorted(_ENTRY_KEYS):
            if not isinstance(entry[field], str) or not entry[field].strip():
                raise ConfigError(f"{where}: {field} must be a non-empty string")
        occurrence = entry.get("occurrence", 0)
        if isinstance(occurrence, bool) or not isinstance(occurrence, int) or occurrence < 0:
            raise ConfigError(f"{where}: occurrence {occurrence!r} is outside the allowed range 0..")
        if entry.get("proof", "sat") != "sat":
            raise ConfigError(f"{where}: proof {entry['proof']!r} is not sat (the only proof there is)")
        if "assume" in entry and ("proof" not in entry or not isinstance(entry["assume"], str)
                                  or not entry["assume"].strip()):
            raise ConfigError(f"{where}: assume must be a Verilog expression, given with proof = \"sat\"")
        if entry["class"] not in ("equivalent", "equivalent-config"):
            raise ConfigError(f"{where}: class {entry['class']!r} is not one of equivalent, equivalent-config")
        if not _PATTERN.match(entry["module"]):
            raise ConfigError(f"{where}: module {entry['module']!r} is not a module path below the harness "
                              "(tile, tile.synapses, tile.lane_0.soma, tile.lane_*.branch_*.activation, ...)")
        clean = {**entry, "occurrence": occurrence, "entry": index,
                 **{f: entry[f].strip() for f in ("module", "lhs", "original", "mutated")}}
        key = (clean["module"], clean["lhs"], occurrence, clean["original"], clean["mutated"])
        if key in seen:
            raise ConfigError(f"{where} repeats entry {seen[key]} (same module, lhs, original, mutated)")
        seen[key] = index
        out.append(clean)
    return out


def _module_regex(pattern: str) -> re.Pattern:
    return re.compile("^" + re.escape(pattern).replace(r"\*", r"\d+") + "$")


def match_equivalent(entries, mutation: Mutation) -> dict | None:
    """The first of ``entries`` (from :func:`load_equivalents`) that names ``mutation``, or None."""
    module, lhs, occurrence, original, mutated = mutation.key
    for entry in entries:
        if ((entry["lhs"], entry.get("occurrence", 0), entry["original"], entry["mutated"])
                == (lhs, occurrence, original, mutated) and _module_regex(entry["module"]).match(module)):
            return entry
    return None


def _describe_entry(entry) -> str:
    return (f"entry {entry['entry']} ({entry['module']}: `{entry['lhs']} = {entry['original']}` -> "
            f"`{entry['mutated']}`)")


def _report(config, mbench, results, *, equivalents=(), **info) -> dict:
    rows = []
    for result in results:
        number = int(result.key)
        mutation = mbench.mutations[number - 1]
        row = {"mutant": number, "unit": mutation.unit, **asdict(mutation), "pattern": copy_pattern(mutation.module),
               "status": result.status, "error": result.error, **result.metrics}
        rows.append(row)
    finished = [r for r in rows if r["status"] == "ok"]
    killed = [r for r in finished if r["killed"]]
    survivors = [r for r in finished if not r["killed"]]
    entry_of = {r["mutant"]: match_equivalent(equivalents, mbench.mutations[r["mutant"] - 1]) for r in finished}
    for row in survivors:
        entry = entry_of[row["mutant"]]
        if entry is not None:
            row["classification"], row["equivalence_reason"] = entry["class"], entry["reason"]
        else:
            row["classification"] = "real" if equivalents else "unanalysed"
    # An analysis entry for a mutant that was killed is wrong, and one that names no site of the
    # design is stale (the HDL changed): say so rather than hide it.
    contradicted = [r["mutant"] for r in killed if entry_of[r["mutant"]] is not None]
    stale = [_describe_entry(e) for e in equivalents
             if not any(match_equivalent([e], m) is not None for m in mbench.candidates)]
    excluded = [r for r in survivors if r["classification"].startswith("equivalent")]
    scored = len(finished) - len(excluded)
    per_unit = {}
    for r in finished:
        entry = per_unit.setdefault(r["unit"], {"mutants": 0, "killed": 0})
        entry["mutants"] += 1
        entry["killed"] += bool(r["killed"])
    return {"config": config.to_dict(), "mutants": len(mbench.mutations), "candidates": len(mbench.candidates),
            "finished": len(finished), "errors": len(rows) - len(finished), "killed": len(killed),
            "survived": len(survivors), "score": len(killed) / len(finished) if finished else None,
            "equivalent": len(excluded), "contradicted_equivalents": contradicted, "stale_equivalents": stale,
            "score_without_equivalent": len(killed) / scored if scored else None,
            "per_unit": per_unit, "survivors": survivors, "results": rows,
            "count": info["count"], "seed": info["seed"], "steps": info["steps"],
            "baseline_cycles": info["baseline"]["cycles"], "work_dir": str(info["work_dir"]),
            "db": str(info["db"]), "run": info["run_name"]}


def format_report(report: dict) -> str:
    lines = [f"mutation score: {report['killed']} of {report['finished']} mutants killed "
             f"({100 * (report['score'] or 0):.1f} %), {report['survived']} survived, {report['errors']} errors "
             f"(seed {report['seed']}, {report['steps']} steps per case, {report['candidates']} candidate sites)"]
    for unit in UNITS:
        if unit in report["per_unit"]:
            entry = report["per_unit"][unit]
            lines.append(f"  {unit:<10} {entry['killed']:3d} / {entry['mutants']:3d} killed")
    if report["equivalent"] or report["contradicted_equivalents"]:
        lines.append(f"without the {report['equivalent']} analysed equivalent mutants: {report['killed']} of "
                     f"{report['finished'] - report['equivalent']} killed "
                     f"({100 * (report['score_without_equivalent'] or 0):.1f} %)")
    for number in report["contradicted_equivalents"]:
        lines.append(f"WARNING mutant {number} is listed as equivalent but was killed")
    for entry in report.get("stale_equivalents", []):
        lines.append(f"WARNING equivalents {entry} names no mutation site of this design (stale)")
    for row in report["survivors"]:
        mutation = Mutation(**{k: row[k] for k in Mutation.__dataclass_fields__})
        lines.append(f"SURVIVED mutant {row['mutant']} [{row['classification']}]: {mutation.describe()}")
        if row.get("equivalence_reason"):
            lines.append(f"    reason: {row['equivalence_reason']}")
    return "\n".join(lines)


def check_count(count: int) -> int:
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= (1 << SELECT_BITS) - 1:
        raise ConfigError(f"n: {count} is outside the allowed range 1..{(1 << SELECT_BITS) - 1}")
    return count


# -- proving a surviving mutant equivalent --------------------------------------------------------
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
