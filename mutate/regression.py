"""The tile's killing suite: the regression cases every tile mutant faces."""

from __future__ import annotations

import numpy as np

from subtile.spec.config import TileConfig
from subtile.spec.fixed import bits
from subtile.golden.tile import SynapseTable, TileModel, initial_contents, random_stimulus
from subtile.sim.tile_bench import StepStimulus, TileCase

__all__ = ["regression_cases", "rounding_targets", "saturation_ramp", "settling_emissions", "settling_emitters"]


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


def settling_emitters(result) -> np.ndarray:
    """(neuron, sign of the payload) of each emission of a golden-model step (a
    :class:`~subtile.golden.tile.StepResult`) whose update settled its neuron: not dirty after it.
    """
    out = np.asarray(result.events_out, dtype=np.int64).reshape(-1, 2)
    settled = ~result.state.dirty[out[:, 0]]
    return np.stack([out[settled, 0], np.sign(out[settled, 1])], axis=1)


def settling_emissions(config: TileConfig, seed: int, steps: int = 48, tries: int = 32) -> list[StepStimulus]:
    """Steps (on the tile's initial contents, from reset) in which every neuron emits, with
    either sign where it can, in an update that settles it.

    Such an update moves v by little (one code at most on the default tile), so its emission is
    small (exactly ``delta`` there) and leaves nothing to send: the encoder's ``|diff| >= delta`` threshold and its
    rest test (``y - y_sent_next``, which must come out below delta so the neuron goes clean)
    decide there, and random input rarely lands on it for every lane. Each step is the best of
    ``tries`` random small input changes (one to three addresses, +-3 codes), scored on the
    golden model by the neurons it settles with an emission for the first time, then by the
    (neuron, sign) pairs; the last step
    takes every input level back to 0, so stimulus that follows (which starts its levels at 0)
    keeps the payload bounds. Empty for fewer than two steps.
    """
    if steps < 2:
        return []
    rng = np.random.default_rng(seed)
    model, fmt = TileModel(config), config.payload_format
    level = np.zeros(config.addresses, dtype=np.int64)
    seen: set[tuple[int, int]] = set()
    out = []
    for _ in range(steps - 1):
        best, saved = None, model.state.copy()
        for _ in range(tries):
            count = int(rng.integers(1, 4))
            addresses = rng.choice(config.addresses, size=count, replace=False)
            change = np.clip(level[addresses] + rng.integers(-3, 4, size=count), fmt.min_code, fmt.max_code) \
                - level[addresses]
            events = np.stack([addresses, change], axis=1)[change != 0].astype(np.int64)
            new = {tuple(pair) for pair in settling_emitters(model.step(events)).tolist()} - seen
            # a neuron not yet settled by an emission first, then the other sign
            score = len(new) + config.neurons * len({n for n, _ in new} - {n for n, _ in seen})
            if best is None or score > best[2]:
                best = (events, new, score)
            model.state = saved.copy()
        events, new, _ = best
        model.step(events)
        seen |= new
        level[events[:, 0]] += events[:, 1]
        out.append(StepStimulus(events))
    moved = np.flatnonzero(level)
    out.append(StepStimulus(np.stack([moved, -level[moved]], axis=1).astype(np.int64)))
    return out


def regression_cases(config: TileConfig, steps: int, seed: int) -> list[TileCase]:
    """The stimulus every mutant faces, one case per harness (all on the same tile):

    0. :func:`settling_emissions` (every neuron emits in an update that settles it), then sparse
       input (activity 0.1) with idle cycles and output backpressure;
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
    return [TileCase(settling_emissions(config, seed) + random_steps(0.1, 0), seed=seed + 1, idle=0.2, stall=0.3),
            TileCase(random_steps(1.0, 1), seed=seed + 2, stall=0.6),
            TileCase(programmed, seed=seed + 3, idle=0.1, stall=0.1),
            TileCase(saturation_ramp(config) +
                     [StepStimulus(e, extremes if step == 0 else ()) for step, e in enumerate(swing)],
                     seed=seed + 4, stall=0.2)]
