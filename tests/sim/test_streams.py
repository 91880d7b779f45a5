"""Runs of any length: the harness streams its program and its responses through files, so a
run longer than the former fixed buffers (16,384 words each) is neither refused nor cut, and
stays bit-exact against the golden model."""

import numpy as np

from subtile.golden.tile import random_stimulus
from subtile.sim.tile_bench import StepStimulus, TileBench, TileCase, encode_stimulus, split_by_step
from subtile.spec.config import TileConfig

FORMER_DEPTH = 1 << 14
# delta 0: every neuron whose output moves sends an event, so responses pile up too.
LONG = TileConfig(name="long_tile", neurons=8, branches=2, synapses=8, addresses=96, lanes=2, delta=0,
                  weight_density=0.9, table_fill=1.0)


def test_a_program_and_responses_longer_than_the_former_buffers(tmp_path):
    steps = 2300
    stimulus = [StepStimulus(e) for e in random_stimulus(LONG, steps, 0.7, seed=5)]
    program = encode_stimulus(LONG, stimulus)
    assert len(program) > FORMER_DEPTH
    bench = TileBench([LONG], name="long_bench", count_toggles=False)
    run = bench.run({0: TileCase(stimulus, seed=3, idle=0.2, stall=0.3, read_state=False)},
                    work_dir=tmp_path)[0]
    assert run.passed, run.mismatch
    assert run.events_in == sum(len(s.events) for s in stimulus)
    assert run.events_out > FORMER_DEPTH


def test_split_by_step_unwraps_the_step_field():
    bits = 4                                           # wraps every 16 steps
    true_steps = np.array([0, 0, 3, 15, 16, 17, 31, 33, 40])
    neuron = np.arange(len(true_steps))
    payload = -neuron
    per_step = split_by_step(true_steps % (1 << bits), neuron, payload, 41, bits)
    assert len(per_step) == 41
    for s in range(41):
        expected = np.flatnonzero(true_steps == s)
        assert per_step[s][:, 0].tolist() == expected.tolist()
        assert per_step[s][:, 1].tolist() == (-expected).tolist()
    assert sum(len(e) for e in split_by_step(np.array([], dtype=np.int64), [], [], 3, bits)) == 0


def test_one_input_event_per_cycle_without_idle_draws(tmp_path):
    """Without idle draws the harness offers each word the cycle it arrives: fewer than two
    cycles per input event (the former harness spent at least two: one to decide, one to offer),
    and the run stays bit-exact."""
    config = TileConfig(name="rate_tile", neurons=4, branches=2, synapses=8, addresses=32, lanes=4)
    stimulus = [StepStimulus(e) for e in random_stimulus(config, 40, 1.0, seed=2)]
    bench = TileBench([config], name="rate_bench", count_toggles=False)
    run = bench.run({0: TileCase(stimulus, seed=1, read_state=False)}, work_dir=tmp_path)[0]
    assert run.passed, run.mismatch
    assert run.events_in > 1000
    assert run.cycles < 2 * run.events_in, (run.cycles, run.events_in)
