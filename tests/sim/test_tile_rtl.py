"""Tile RTL under Verilator against the golden model, event for event and state for state.

Random configurations (seeded) and directed cases; several configurations share one Verilator
build (a HarnessArray), and each group is a test class so `pytest -n 2 --dist loadscope` keeps
a group, and its build, on one worker. Every failure names the first divergence and how to
reproduce it.
"""

import numpy as np
import pytest

from subtile.spec.config import TileConfig, random_config
from subtile.golden.tile import SynapseTable, TileModel, initial_contents, random_stimulus
from subtile.sim.tile_bench import StepStimulus, TileBench, TileCase
from subtile.mutate.regression import settling_emissions, settling_emitters

RANDOM_GROUPS = 3
CONFIGS_PER_GROUP = 7
STEPS = 25


SOAK_GROUPS = 4
SOAK_STEPS = 400


def random_group(group: int) -> list[TileConfig]:
    rng = np.random.default_rng(1000 + group)
    return [random_config(rng, max_neurons=24, name=f"rand{group}_{i}") for i in range(CONFIGS_PER_GROUP)]


def random_case(config: TileConfig, index: int, steps: int = STEPS) -> TileCase:
    rng = np.random.default_rng(config.seed)
    activity = float(rng.choice([0.05, 0.2, 0.5, 1.0]))
    stimulus = [StepStimulus(e) for e in random_stimulus(config, steps, activity, seed=config.seed)]
    return TileCase(stimulus, seed=index + 1, idle=float(rng.choice([0.0, 0.3])),
                    stall=float(rng.choice([0.0, 0.5, 0.9])))


@pytest.fixture(scope="session")
def random_results(tmp_path_factory):
    """Each random group: one build, one concurrent run of all its configurations."""
    results = {}

    def get(group):
        if group not in results:
            configs = random_group(group)
            bench = TileBench(configs, name=f"tile_random{group}", assertions=True)
            cases = {i: random_case(config, i) for i, config in enumerate(configs)}
            results[group] = (configs, bench.run(cases, work_dir=tmp_path_factory.mktemp(f"tile-random{group}")))
        return results[group]
    return get


def reproduce(config: TileConfig) -> str:
    return f"config (TOML):\n{config.to_toml()}"


class _RandomGroup:
    group: int

    @pytest.mark.parametrize("index", range(CONFIGS_PER_GROUP))
    def test_random_config_bit_exact(self, random_results, index):
        configs, runs = random_results(self.group)
        run = runs[index]
        assert run.steps == STEPS and run.cycles > 0
        assert run.passed, f"{run.mismatch}\n{reproduce(configs[index])}"


class TestRandomGroup0(_RandomGroup):
    group = 0


class TestRandomGroup1(_RandomGroup):
    group = 1


class TestRandomGroup2(_RandomGroup):
    group = 2


@pytest.mark.slow
@pytest.mark.parametrize("group", range(RANDOM_GROUPS, RANDOM_GROUPS + SOAK_GROUPS))
def test_soak_random_configs(group, tmp_path):
    """Soak: 4 more groups of 7 random configurations (larger tiles), 400 steps each."""
    rng = np.random.default_rng(1000 + group)
    configs = [random_config(rng, max_neurons=64, max_synapses=16, max_addresses=256,
                             name=f"soak{group}_{i}") for i in range(CONFIGS_PER_GROUP)]
    bench = TileBench(configs, name=f"tile_soak{group}", stimulus_depth=1 << 17, response_depth=1 << 16,
                      assertions=True)
    runs = bench.run({i: random_case(c, i, SOAK_STEPS) for i, c in enumerate(configs)}, work_dir=tmp_path)
    failures = [f"{configs[i].name}: {run.mismatch}\n{reproduce(configs[i])}" for i, run in runs.items() if not run.passed]
    assert not failures, "\n".join(failures)


def test_random_configs_cover_the_space():
    configs = [c for g in range(RANDOM_GROUPS) for c in random_group(g)]
    assert len(configs) >= 20
    assert {c.gating for c in configs} == {"icg", "enable", "none"}
    assert {c.branch_activation.is_identity for c in configs} == {True, False}
    assert len({c.soma_activation.function for c in configs}) >= 4
    assert any(c.lanes == 1 for c in configs) and any(c.lanes == c.neurons > 1 for c in configs)
    assert {0} < {c.leak_shift for c in configs} and len({c.delta for c in configs}) >= 3


# -- directed cases ------------------------------------------------------------------------------
DIRECTED = {
    # narrow formats and a ReLU soma: payloads, dendrites and the membrane saturate
    "saturation": TileConfig(name="d_saturation", neurons=4, lanes=2, branches=2, synapses=4, addresses=8,
                             weight_format="fixed<6,4>", payload_format="fixed<4,2>",
                             dendrite_format="fixed<6,3>", membrane_format="fixed<6,3>",
                             branch_activation="identity", soma_activation="relu", leak_shift=0, delta=0,
                             weight_density=1.0, table_fill=1.0, gating="icg"),
    # all weights zero, a third of the addresses mapped
    "zero_weights": TileConfig(name="d_zero", neurons=4, lanes=4, branches=2, synapses=4, addresses=24,
                               weight_density=0.0, table_fill=0.3, gating="icg"),
    # slow leak, one lane, large delta
    "slow_leak": TileConfig(name="d_slow", neurons=6, lanes=1, branches=3, synapses=4, addresses=16,
                            leak_shift=15, delta=20, gating="icg", soma_activation="sigmoid"),
    # no leak, every neuron in its own lane, any change sent, dense baseline
    "no_leak": TileConfig(name="d_fast", neurons=8, lanes=8, branches=2, synapses=8, addresses=16,
                          leak_shift=0, delta=0, gating="none", branch_activation="softplus"),
    # the default tile with clock enables (used for bursts, hammering and programming)
    "default_enable": TileConfig(name="d_default", gating="enable"),
}
DIRECTED_NAMES = list(DIRECTED)


@pytest.fixture(scope="session")
def directed_bench():
    return TileBench(list(DIRECTED.values()), name="tile_directed", assertions=True)


def run_directed(bench, tmp_path, name, stimulus, **case):
    index = DIRECTED_NAMES.index(name)
    run = bench.run({index: TileCase(stimulus, **case)}, work_dir=tmp_path)[index]
    assert run.passed, f"{run.mismatch}\n{reproduce(DIRECTED[name])}"
    return run


def steps_of(events_per_step):
    return [StepStimulus(np.asarray(e, dtype=np.int64).reshape(-1, 2)) for e in events_per_step]


class TestDirected:
    def test_payload_dendrite_and_membrane_saturation(self, directed_bench, tmp_path):
        config = DIRECTED["saturation"]
        top = config.payload_format.max_code
        # every input climbs to the top of its range, then swings to the bottom and back
        up = [[a, top] for a in range(config.addresses)]
        down = [[a, config.payload_format.min_code] for a in range(config.addresses)]
        stimulus = steps_of([up, [], down, down[:4], [], up, up[:2], []])
        run = run_directed(directed_bench, tmp_path, "saturation", stimulus, stall=0.5)
        assert run.events_out > 0

    def test_unmapped_addresses_and_zero_weights(self, directed_bench, tmp_path):
        config = DIRECTED["zero_weights"]
        table = initial_contents(config)[1]
        unmapped = np.flatnonzero(~table.valid)
        assert 0 < len(unmapped) < config.addresses
        events = [[a, 3] for a in range(config.addresses)]
        run = run_directed(directed_bench, tmp_path, "zero_weights", steps_of([events, events, [], events]))
        # zero weights: after the first tick (every neuron starts dirty) nothing changes
        assert run.events_out <= config.neurons

    def test_ticks_with_no_events(self, directed_bench, tmp_path):
        run = run_directed(directed_bench, tmp_path, "slow_leak", steps_of([[]] * 6 + [[[0, 5]]] + [[]] * 6))
        assert run.events_in == 1

    def test_slow_leak_one_lane_large_delta(self, directed_bench, tmp_path):
        config = DIRECTED["slow_leak"]
        stimulus = [StepStimulus(e) for e in random_stimulus(config, 40, 0.5, seed=7)]
        run_directed(directed_bench, tmp_path, "slow_leak", stimulus, idle=0.3, stall=0.3)

    def test_no_leak_all_lanes_delta_zero_dense(self, directed_bench, tmp_path):
        config = DIRECTED["no_leak"]
        stimulus = [StepStimulus(e) for e in random_stimulus(config, 40, 0.5, seed=8)]
        run = run_directed(directed_bench, tmp_path, "no_leak", stimulus, stall=0.2)
        assert run.events_out > 0

    def test_one_branch_hammered_under_full_backpressure(self, directed_bench, tmp_path):
        config = DIRECTED["default_enable"]
        table = initial_contents(config)[1]
        branch0 = np.flatnonzero(table.valid & (table.branch == 0))
        rng = np.random.default_rng(3)
        steps = []
        for _ in range(12):
            addresses = rng.choice(branch0, size=60)
            steps.append([[a, int(rng.choice([-3, -1, 1, 3]))] for a in addresses])
        # +-1 and +-3 changes on a handful of inputs keep every level far inside the payload range
        run = run_directed(directed_bench, tmp_path, "default_enable", steps_of(steps), stall=0.95)
        assert run.events_in == 12 * 60

    def test_emissions_that_settle_their_neuron(self, directed_bench, tmp_path):
        """Every neuron emits in an update after which it is clean (the encoder's rest test decides
        there), RTL against the golden model event for event and state for state."""
        config = DIRECTED["default_enable"]
        stimulus = settling_emissions(config, 3)
        model, settled = TileModel(config), set()
        for step in stimulus:
            settled |= set(settling_emitters(model.step(step.events))[:, 0].tolist())
        assert settled == set(range(config.neurons))
        run = run_directed(directed_bench, tmp_path, "default_enable", stimulus, stall=0.3)
        assert run.events_out >= config.neurons

    def test_programming_port_rewrites_weights_and_table(self, directed_bench, tmp_path):
        config = DIRECTED["default_enable"]
        rng = np.random.default_rng(5)
        stimulus = [StepStimulus(e) for e in random_stimulus(config, 8, 0.3, seed=9)]
        # step 3: remap address 0 to branch 1 slot 2 and unmap address 1; rewrite some weights
        table = initial_contents(config)[1]
        valid, branch, slot = table.valid.copy(), table.branch.copy(), table.slot.copy()
        valid[0], branch[0], slot[0] = True, 1, 2
        valid[1], branch[1], slot[1] = False, 0, 0
        words = SynapseTable(valid, branch, slot, config).encode()
        writes = [(0, 0, 0, int(words[0])), (0, 1, 0, int(words[1]))]
        for _ in range(10):
            row, neuron = int(rng.integers(config.rows)), int(rng.integers(config.neurons))
            value = int(rng.integers(config.weight_format.min_code, config.weight_format.max_code + 1))
            writes.append((1, row, neuron, value & ((1 << config.weight_format.width) - 1)))
        stimulus[3] = StepStimulus(stimulus[3].events, writes)
        run_directed(directed_bench, tmp_path, "default_enable", stimulus)

    def test_scoreboard_reports_a_wrong_model(self, directed_bench, tmp_path):
        """The comparison can fail: score a real run against a golden model with one weight changed."""
        index = DIRECTED_NAMES.index("default_enable")
        config = DIRECTED["default_enable"]
        stimulus = [StepStimulus(e) for e in random_stimulus(config, 4, 1.0, seed=11)]
        case = TileCase(stimulus)
        assert directed_bench.run({index: case}, work_dir=tmp_path)[index].passed
        weights, table = directed_bench.contents[index]
        wrong = weights.copy()
        row = int(table.branch[table.valid][0] * config.synapses + table.slot[table.valid][0])
        wrong[row, 0] = wrong[row, 0] + 1 if wrong[row, 0] < config.weight_format.max_code else 1
        directed_bench.contents[index] = (wrong, table)
        try:
            rescored = directed_bench.score(index, case, tmp_path)
        finally:
            directed_bench.contents[index] = (weights, table)
        assert not rescored.passed and rescored.mismatch.startswith("step ")
