"""Toggle counting inside the simulation (hdl.tile.TileProbes + the harness counters), checked
against counts derived independently from the golden model's contents and stimulus."""

import numpy as np
import pytest

from subtile.config import TileConfig
from subtile.golden.fixed import wrap
from subtile.golden.tile import TileModel, initial_contents, random_stimulus
from subtile.sim.tile import StepStimulus, TileBench, TileCase

CONFIGS = [TileConfig(name="t_icg", neurons=8, lanes=2, branches=2, synapses=4, addresses=16, gating="icg"),
           TileConfig(name="t_enable", neurons=8, lanes=2, branches=2, synapses=4, addresses=16, gating="enable")]


def accumulator_bit_flips(config, stimulus):
    """Bit flips of acc[n][b], event by event in arrival order (the hardware writes one event's
    branch of every neuron with a non-zero weight per cycle)."""
    weights, table = initial_contents(config)
    fmt, mask = config.accumulator_format, (1 << config.accumulator_width) - 1
    acc = np.zeros((config.neurons, config.branches), dtype=np.int64)
    flips = 0
    for events in stimulus:
        for address, payload in events:
            if not table.valid[address]:
                continue
            b = table.branch[address]
            w = weights[b * config.synapses + table.slot[address]]
            new = np.where(w != 0, wrap(acc[:, b] + w * payload, fmt), acc[:, b])
            flips += sum(bin(int(x)).count("1") for x in (acc[:, b] ^ new) & mask)
            acc[:, b] = new
    return flips


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    bench = TileBench(CONFIGS, name="toggle_bench")
    stimulus = {i: [np.asarray(e) for e in random_stimulus(c, 30, 0.3, seed=5)] for i, c in enumerate(CONFIGS)}
    cases = {i: TileCase([StepStimulus(e) for e in s], seed=2, stall=0.3, read_state=False)
             for i, s in stimulus.items()}
    return stimulus, bench.run(cases, work_dir=tmp_path_factory.mktemp("toggles"))


@pytest.mark.parametrize("index", range(len(CONFIGS)), ids=[c.gating for c in CONFIGS])
def test_accumulator_toggles_match_an_independent_count(runs, index):
    stimulus, results = runs
    run = results[index]
    assert run.passed, run.mismatch
    assert run.toggles["accumulators"] == accumulator_bit_flips(CONFIGS[index], stimulus[index]) > 0


@pytest.mark.parametrize("index", range(len(CONFIGS)), ids=[c.gating for c in CONFIGS])
def test_gated_clock_pulses_follow_synaptic_ops_and_updates(runs, index):
    """One accumulator clock pulse per synaptic operation; one neuron clock pulse per
    synaptic operation (it marks the neuron dirty) and per neuron update."""
    stimulus, results = runs
    run = results[index]
    golden = TileModel(CONFIGS[index]).run(stimulus[index])
    updates = sum(r.updated_neurons for r in golden)
    assert run.pulses["accumulators"] == run.synaptic_ops > 0
    assert run.pulses["neuron_state"] == run.synaptic_ops + updates


def test_gating_modes_toggle_the_same_registers(runs):
    _, results = runs
    for unit in ("accumulators", "neuron_state", "output"):
        assert results[0].toggles[unit] == results[1].toggles[unit]
