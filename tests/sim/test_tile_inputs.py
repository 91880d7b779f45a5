"""Tile RTL against the golden model on inputs the other regressions never produce (issue 21).

* every (row, neuron) of the weight memory and every synapse-table entry written through the
  programming port, the last row and neuron included, each row then read back by an event;
* saturated level crossings: a signed (tanh) soma whose change from y_sent exceeds the payload
  range in both directions, on narrow payloads with delta > 1;
* out-of-range port inputs (addresses >= A, table entries naming no branch or slot, writes to
  rows or neurons that do not exist), against the golden model's port mode
  (docs/architecture.md, "Out-of-range port inputs").

All configurations share one Verilator build (a session fixture); every run compares every
output event and the architectural state after every step.
"""

import numpy as np
import pytest

from subtile.golden.tile import TileModel, random_stimulus
from subtile.spec.config import TileConfig
from subtile.spec.fixed import bits
from subtile.sim.tile_bench import StepStimulus, TileBench, TileCase

CONFIGS = {
    # A, B, S, B*S and N all not powers of two: every port field has values beyond its memory.
    # No initial weights or mappings: everything the events read comes through the port.
    "ports": TileConfig(name="i_ports", neurons=5, lanes=5, branches=3, synapses=3, addresses=11,
                        weight_format="fixed<6,2>", payload_format="fixed<5,2>", dendrite_format="fixed<10,5>",
                        membrane_format="fixed<10,5>", leak_shift=1, delta=1, weight_density=0.0,
                        table_fill=0.0, gating="icg"),
    "ports_one_lane": TileConfig(name="i_ports1", neurons=3, lanes=1, branches=1, synapses=5, addresses=6,
                                 weight_format="fixed<5,3>", payload_format="fixed<4,2>",
                                 dendrite_format="fixed<9,5>", membrane_format="fixed<9,5>",
                                 branch_activation="identity", soma_activation="softplus", leak_shift=0,
                                 delta=0, weight_density=0.0, table_fill=0.0, gating="none"),
    # tanh soma on 3-bit payloads (codes -4..3, tanh reaches -4 and 3): y - y_sent spans -7..7
    "tanh_sat": TileConfig(name="i_tanh3", neurons=4, lanes=2, branches=2, synapses=4, addresses=8,
                           weight_format="fixed<6,4>", payload_format="fixed<3,1>", dendrite_format="fixed<6,3>",
                           membrane_format="fixed<6,3>", branch_activation="identity", soma_activation="tanh",
                           leak_shift=0, delta=2, weight_density=1.0, table_fill=1.0, gating="enable", seed=3),
    # tanh (direct table) on 2-bit payloads (codes -2..1): y - y_sent spans -3..3 (with delta 2,
    # y_sent could never reach 1, so no change below -2 could occur)
    "tanh_sat2": TileConfig(name="i_tanh2", neurons=3, lanes=1, branches=1, synapses=6, addresses=6,
                            weight_format="fixed<5,4>", payload_format="fixed<2,1>", dendrite_format="fixed<6,3>",
                            membrane_format="fixed<5,2>", branch_activation="identity",
                            soma_activation={"function": "tanh", "impl": "lut"}, leak_shift=0, delta=1,
                            weight_density=1.0, table_fill=1.0, gating="icg", seed=5),
}
NAMES = list(CONFIGS)


@pytest.fixture(scope="session")
def inputs_bench():
    return TileBench(list(CONFIGS.values()), name="tile_inputs", assertions=True)


def run_case(bench, tmp_path, name, stimulus, **case):
    index = NAMES.index(name)
    run = bench.run({index: TileCase(stimulus, **case)}, work_dir=tmp_path)[index]
    assert run.passed, f"{run.mismatch}\nconfig (TOML):\n{CONFIGS[name].to_toml()}"
    return run


def table_word(config, valid, branch, slot) -> int:
    """A table word by the documented packing (bit 0 valid, then b, then s), fields unchecked."""
    return int(valid) | (branch << 1) | (slot << (1 + config.branch_index_width))


def weight_writes(config, rng, *, nonzero=True):
    """A write to every (row, neuron) of the weight memory, last row and neuron included."""
    wf = config.weight_format
    writes = []
    for row in range(config.rows):
        for neuron in range(config.neurons):
            value = int(rng.integers(wf.min_code, wf.max_code + 1))
            value = value or 1 if nonzero else value
            writes.append((1, row, neuron, int(bits(value, wf))))
    return writes


def readback_steps(config, rng, rows_of_address):
    """One step per mapped address: a single event reading its row (so each step's state
    change is w[row][n] * p for every n), then one step undoing every level."""
    pf = config.payload_format
    steps, sent = [], []
    for address in rows_of_address:
        p = int(rng.choice([v for v in range(max(pf.min_code, -5), min(pf.max_code, 5) + 1) if v]))
        steps.append(StepStimulus(np.array([[address, p]])))
        sent.append([address, -p])
    steps.append(StepStimulus(np.array(sent).reshape(-1, 2)))
    return steps


# -- 1. every weight and table entry through the programming port -------------------------------------------
@pytest.mark.parametrize("name", ["ports", "ports_one_lane"])
def test_every_weight_and_table_entry_written_and_read_back(inputs_bench, tmp_path, name):
    config = CONFIGS[name]
    rng = np.random.default_rng(NAMES.index(name) + 40)
    assert config.addresses >= config.rows
    # pass 1: address a -> row a (every row reachable), the addresses beyond the rows unmapped
    table1 = [(0, a, 0, table_word(config, a < config.rows, *divmod(a % config.rows, config.synapses)))
              for a in range(config.addresses)]
    stimulus = [StepStimulus(np.zeros((0, 2)), table1 + weight_writes(config, rng))]
    stimulus += readback_steps(config, rng, range(config.rows))
    # pass 2: a permutation of the rows, the last address mapped, every weight rewritten
    perm = rng.permutation(config.rows)
    addresses = list(range(config.addresses - config.rows, config.addresses))
    table2 = [(0, a, 0, table_word(config, False, 0, 0)) for a in range(config.addresses)]
    for a, row in zip(addresses, perm):
        table2[a] = (0, a, 0, table_word(config, True, *divmod(int(row), config.synapses)))
    stimulus.append(StepStimulus(np.zeros((0, 2)), table2 + weight_writes(config, rng)))
    stimulus += readback_steps(config, rng, addresses)
    # pass 3: random rewrites between random events
    for _ in range(6):
        writes = weight_writes(config, rng, nonzero=False)
        picks = rng.choice(len(writes), size=5, replace=False)
        events = [[int(a), int(rng.integers(-3, 4))] for a in rng.choice(addresses, size=4)]
        stimulus.append(StepStimulus(np.array([e for e in events if e[1]]).reshape(-1, 2),
                                     [writes[i] for i in picks]))
    run = run_case(inputs_bench, tmp_path, name, stimulus, stall=0.4, seed=7)
    assert run.synaptic_ops >= 2 * config.rows * config.neurons     # every (row, neuron) read at least twice


# -- 2. saturated level crossings with a signed soma ------------------------------------------------------------
def saturated_crossings(config, contents, stimulus) -> tuple[int, int]:
    """Output events of the golden run whose y - y_sent lay above the payload range (sent as
    the maximum code with a positive rest) and below it (the minimum code, negative rest)."""
    model = TileModel(config, *contents)
    plan = config.soma_spec.plan()
    pf = config.payload_format
    up = down = 0
    for step in stimulus:
        result = model.step(step.events)
        rest = plan.evaluate(result.state.v) - result.state.y_sent
        for neuron, payload in result.events_out.tolist():
            up += payload == pf.max_code and rest[neuron] > 0
            down += payload == pf.min_code and rest[neuron] < 0
    return up, down


def moves(config, levels, targets):
    """Events moving each address's level to its target, each change within the payload
    format (several events per address when the change does not fit one payload)."""
    pf = config.payload_format
    events = []
    for address, (level, target) in enumerate(zip(levels, targets)):
        while level != target:
            change = int(np.clip(target - level, pf.min_code, pf.max_code))
            events.append([address, change])
            level += change
    return StepStimulus(np.array(events, dtype=np.int64).reshape(-1, 2))


def swing_stimulus(config, seed):
    """Every input to the top of its range, to the bottom, back, with quiet steps between (so
    the saturated remainders are sent); then random full-range jumps."""
    pf, count = config.payload_format, config.addresses
    top, bottom, zero = [pf.max_code] * count, [pf.min_code] * count, [0] * count
    half = [pf.max_code if a % 2 else pf.min_code for a in range(count)]
    plan = [top, top, bottom, bottom, bottom, top, half, half, bottom, zero]
    stimulus, levels = [], zero
    for targets in plan:
        stimulus.append(moves(config, levels, targets))
        levels = targets
    return stimulus + [StepStimulus(e) for e in random_stimulus(config, 30, 1.0, seed=seed, jump=1.0)]


@pytest.mark.parametrize("name", ["tanh_sat", "tanh_sat2"])
def test_signed_soma_crossings_saturate_in_both_directions(inputs_bench, tmp_path, name):
    config = CONFIGS[name]
    stimulus = swing_stimulus(config, seed=NAMES.index(name))
    up, down = saturated_crossings(config, inputs_bench.contents[NAMES.index(name)], stimulus)
    assert up > 0 and down > 0, f"the stimulus saturates y - y_sent only {up} times up, {down} down"
    assert config.delta > 1 or config.payload_format.width == 2
    run = run_case(inputs_bench, tmp_path, name, stimulus, stall=0.5, idle=0.2, seed=3)
    assert run.events_out > 0


# -- 3. out-of-range port inputs ---------------------------------------------------------------------------
def out_of_range_directed(config):
    """Each kind of out-of-range input once, each followed by events reading every row."""
    address_limit = 1 << config.address_width
    row_limit, neuron_limit = 1 << config.row_width, 1 << config.neuron_width
    wf, high_data = config.weight_format, (1 << config.prog_data_width) - 1
    assert address_limit > config.addresses and row_limit > config.rows and neuron_limit > config.neurons
    assert (1 << config.branch_index_width) > config.branches or (1 << config.slot_index_width) > config.synapses
    mapping = [(0, a, 0, table_word(config, a < config.rows, *divmod(a % config.rows, config.synapses)))
               for a in range(config.addresses)]
    weights = [(1, r, n, int(bits(r - n or 1, wf))) for r in range(config.rows) for n in range(config.neurons)]
    readback = np.array([[a, 1] for a in range(config.rows)] + [[a, -1] for a in range(config.rows)])
    steps = [StepStimulus(np.zeros((0, 2)), mapping + weights), StepStimulus(readback)]
    # events to addresses >= A, between mapped ones
    steps.append(StepStimulus(np.array([[a, 2] for a in range(config.addresses - 1, address_limit)]
                                       + [[a, -2] for a in range(config.addresses - 1, address_limit)])))
    # weight writes to rows >= B*S (any neuron) and to neurons >= N (any row), and data with
    # every bit above Ww set
    ignored = [(1, r, n, high_data) for r in range(config.rows, row_limit) for n in range(neuron_limit)]
    ignored += [(1, r, n, high_data) for r in range(config.rows) for n in range(config.neurons, neuron_limit)]
    steps.append(StepStimulus(readback, ignored + [(1, config.rows - 1, config.neurons - 1, high_data)]))
    # table writes to rows >= A, and entries naming a branch >= B or a slot >= S
    bad_entries = [(0, a, 0, table_word(config, True, b, s)) for a in range(config.addresses, row_limit)
                   for b, s in [(0, 0), (config.branches - 1, config.synapses - 1)]]
    names = [(b, s) for b in range(1 << config.branch_index_width) for s in range(1 << config.slot_index_width)
             if b >= config.branches or s >= config.synapses]
    for a, (b, s) in zip(range(config.rows), names):
        bad_entries.append((0, a, 0, table_word(config, True, b, s)))
    # a table word with every bit above table_entry_width set (valid, row 0)
    bad_entries.append((0, config.addresses - 1, 0, high_data & ~((1 << config.table_entry_width) - 1) | 1))
    steps.append(StepStimulus(np.concatenate([readback, [[config.addresses - 1, 3], [config.addresses - 1, -3]]]),
                              bad_entries))
    return steps


def out_of_range_random(config, rng, steps):
    """Random writes and events over the full width of every port field."""
    pf = config.payload_format
    stimulus = []
    for _ in range(steps):
        writes = [(int(rng.integers(2)), int(rng.integers(1 << config.row_width)),
                   int(rng.integers(1 << config.neuron_width)), int(rng.integers(1 << config.prog_data_width)))
                  for _ in range(int(rng.integers(0, 6)))]
        events = np.stack([rng.integers(0, 1 << config.address_width, size=8),
                           rng.integers(max(pf.min_code, -3), min(pf.max_code, 3) + 1, size=8)], axis=1)
        stimulus.append(StepStimulus(events, writes))
    return stimulus


@pytest.mark.parametrize("name", ["ports", "ports_one_lane"])
def test_out_of_range_port_inputs_match_the_golden_port_mode(inputs_bench, tmp_path, name):
    config = CONFIGS[name]
    stimulus = out_of_range_directed(config)
    stimulus += out_of_range_random(config, np.random.default_rng(60 + NAMES.index(name)), 40)
    # the golden user interface refuses this stimulus; only the port mode takes it
    model = TileModel(config, *inputs_bench.contents[NAMES.index(name)])
    with pytest.raises(Exception, match="address"):
        model.step(stimulus[2].events)
    run = run_case(inputs_bench, tmp_path, name, stimulus, port_inputs=True, idle=0.3, stall=0.3, seed=11)
    assert run.events_in == sum(len(s.events) for s in stimulus)


def test_golden_port_mode_mirrors_the_documented_rules():
    """The port mode itself, against docs/architecture.md's table (no RTL)."""
    config = CONFIGS["ports"]
    model = TileModel(config)
    model.write_port(0, 2, 0, table_word(config, True, 1, 2))
    model.write_port(1, 5, 4, 0b111111)                             # w[5][4] = -1
    model.write_port(1, config.rows, 0, 5)                          # row >= B*S: ignored
    model.write_port(1, 0, config.neurons, 5)                       # neuron >= N: ignored
    model.write_port(0, config.addresses, 0, table_word(config, True, 0, 0))   # row >= A: ignored
    model.write_port(0, 3, 0, table_word(config, True, 3, 0))       # b >= B: unmapped
    model.write_port(0, 4, 0, table_word(config, True, 0, 3))       # s >= S: unmapped
    weights, table = model.weights, model.table
    assert weights[5, 4] == -1 and np.count_nonzero(weights) == 1
    assert table.valid.tolist() == [a == 2 for a in range(config.addresses)]
    assert (int(table.branch[2]), int(table.slot[2])) == (1, 2)
    result = model.step([[2, 3], [3, 1], [4, 1], [config.addresses, 1], [15, 1]], port=True)
    assert result.unmapped_in_step == 4 and result.state.unmapped == 4
    assert int(result.state.acc[4, 1]) == -3 and np.count_nonzero(result.state.acc) == 1
    # the user interface still refuses all of it
    for call in (lambda: model.step([[config.addresses, 1]]), lambda: model.program_weight(config.rows, 0, 1),
                 lambda: model.program_table(0, True, config.branches, 0)):
        with pytest.raises(Exception):
            call()
    with pytest.raises(Exception, match="row: 16 is outside the allowed range 0..15"):
        model.write_port(0, 16, 0, 0)


# -- 4. rows whose payloads sum to exactly zero within a step ------------------------------------------------
def test_rows_summing_to_zero_within_a_step(inputs_bench, tmp_path):
    """(a, p), (a, -p) and (a, p), (a, p), (a, -2p) in one step, among other events: the
    accumulators end where they were, yet every neuron with a non-zero weight is marked dirty."""
    config = CONFIGS["tanh_sat"]
    rng = np.random.default_rng(17)
    pf = config.payload_format
    stimulus = []
    for k, events in enumerate(random_stimulus(config, 24, 0.4, seed=17)):
        extra = []
        for a in rng.choice(config.addresses, size=3, replace=False):
            p = int(rng.integers(1, pf.max_code // 2 + 1)) * int(rng.choice([-1, 1]))
            extra += [[a, p], [a, -p]] if rng.random() < 0.5 else [[a, p], [a, p], [a, -2 * p]]
        both = np.concatenate([events, np.array(extra)])
        stimulus.append(StepStimulus(both[rng.permutation(len(both))]))
        if k % 4 == 3:
            # a quiet step but for one cancelling row: only it marks neurons dirty
            stimulus.append(StepStimulus(np.array([[k % config.addresses, 1], [k % config.addresses, -1]])))
    run_case(inputs_bench, tmp_path, "tanh_sat", stimulus, stall=0.3, seed=19)
