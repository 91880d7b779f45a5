"""Toggle counting inside the simulation (hdl.tile.TileProbes + the harness counters), checked
against counts derived independently from the golden model's contents and stimulus."""

import numpy as np
import pytest

from subtile.spec.config import TileConfig
from subtile.spec.fixed import wrap
from subtile.golden.tile import TileModel, initial_contents, random_stimulus
from subtile.sim.tile_bench import StepStimulus, TileBench, TileCase

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
def toggle_runs(tmp_path_factory):
    bench = TileBench(CONFIGS, name="toggle_bench")
    stimulus = {i: [np.asarray(e) for e in random_stimulus(c, 30, 0.3, seed=5)] for i, c in enumerate(CONFIGS)}
    cases = {i: TileCase([StepStimulus(e) for e in s], seed=2, stall=0.3, read_state=False)
             for i, s in stimulus.items()}
    return stimulus, bench.run(cases, work_dir=tmp_path_factory.mktemp("toggles"))


@pytest.mark.parametrize("index", range(len(CONFIGS)), ids=[c.gating for c in CONFIGS])
def test_accumulator_toggles_match_an_independent_count(toggle_runs, index):
    stimulus, results = toggle_runs
    run = results[index]
    assert run.passed, run.mismatch
    assert run.toggles["accumulators"] == accumulator_bit_flips(CONFIGS[index], stimulus[index]) > 0


@pytest.mark.parametrize("index", range(len(CONFIGS)), ids=[c.gating for c in CONFIGS])
def test_gated_clock_pulses_follow_synaptic_ops_and_updates(toggle_runs, index):
    """One accumulator clock pulse per synaptic operation; one pulse of a neuron's (v, y_sent)
    per update of that neuron (an event marking it dirty clocks only the dirty flags)."""
    stimulus, results = toggle_runs
    run = results[index]
    golden = TileModel(CONFIGS[index]).run(stimulus[index])
    updates = sum(r.updated_neurons for r in golden)
    assert run.pulses["accumulators"] == run.synaptic_ops > 0
    assert run.pulses["neuron_state"] == updates > 0


@pytest.mark.parametrize("index", range(len(CONFIGS)), ids=[c.gating for c in CONFIGS])
def test_parent_gates_pass_only_event_and_update_cycles(toggle_runs, index):
    """g_branches passes one cycle per mapped event (stage 2), g_neurons that plus one per
    visited group, the pipeline's gate one to three cycles per event, the sequencer at least
    one cycle per visited group; none of them every cycle."""
    stimulus, results = toggle_runs
    run = results[index]
    golden = TileModel(CONFIGS[index]).run(stimulus[index])
    mapped = sum(r.events_in - r.unmapped_in_step for r in golden)
    visited = sum(r.visited_groups for r in golden)
    assert run.pulses["branches"] == mapped > 0
    assert run.pulses["neurons"] == mapped + visited
    events = sum(r.events_in for r in golden)
    # each event is clocked through three stages; back-to-back events share cycles
    assert events + 2 <= run.pulses["synapse"] <= 3 * events < run.cycles
    assert visited <= run.pulses["control"] < run.cycles
    # the weight-read register loads once per mapped event, the drop counter once per drop
    assert run.pulses["weights"] == mapped
    assert run.pulses["unmapped"] == events - mapped
    assert run.pulses["emit"] <= 2 * run.events_out


def test_gating_modes_toggle_the_same_registers(toggle_runs):
    _, results = toggle_runs
    for unit in ("accumulators", "neuron_state", "output"):
        assert results[0].toggles[unit] == results[1].toggles[unit]


def test_energy_estimate_shows_what_clock_gating_saves(toggle_runs, sky130_tech):
    from subtile.power.energy import estimate
    _, results = toggle_runs
    tech = sky130_tech
    icg, enable = (estimate(CONFIGS[i], results[i], tech) for i in range(2))
    # same stimulus, same registers toggling: the same data energy in those units ...
    for unit in ("accumulators", "neuron_state"):
        assert icg.data_pj[unit] == enable.data_pj[unit] > 0
    # ... but gated flops only see their enabled cycles
    assert icg.clock_pj["accumulators"] < enable.clock_pj["accumulators"]
    assert icg.total_pj < enable.total_pj and icg.clock_toggles < enable.clock_toggles
    report = icg.to_dict()
    assert report["energy_per_step_pj"] == pytest.approx(icg.total_pj / 30)
    assert 0.15 <= report["minimum_energy_point"]["vdd"] < 1.8


def test_energy_command_json(tmp_path, capsys):
    import json
    from subtile.cli.main import main
    config = tmp_path / "tiny.toml"
    config.write_text('neurons = 2\nlanes = 1\nbranches = 1\nsynapses = 2\naddresses = 4\n'
                      'branch_activation = "identity"\n')
    out = tmp_path / "energy.json"
    assert main(["energy", "--config", str(config), "--steps", "20", "--activity", "0,1",
                 "--work-dir", str(tmp_path / "work"), "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    rows = {(r["activity"], r["gating"]): r for r in report["rows"]}
    assert len(rows) == 6
    for mode in ("icg", "enable", "none"):
        busy, idle = rows[(1.0, mode)], rows[(0.0, mode)]
        assert busy["energy_per_step_pj"] > idle["energy_per_step_pj"] > 0
        assert set(busy["breakdown_pj"]) >= {"data.accumulators", "clock.root", "leakage"}
    # idle and clock-gated: after the first tick nothing but the root clock and the gates run
    assert rows[(0.0, "icg")]["data_toggles"] < 50
    assert rows[(0.0, "icg")]["energy_per_step_pj"] < rows[(0.0, "enable")]["energy_per_step_pj"]
