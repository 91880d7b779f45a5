"""The energy estimate's bookkeeping on hand-made counter values (no simulation): clock terms
of the clock-gate tree, the gate-level calibration, and the voltage sweep's metrics."""

import json
from types import SimpleNamespace

import pytest

from subtile.spec.config import TileConfig
from subtile.errors import ConfigError
from subtile.hdl.tile import GATED_UNITS, PROBE_UNITS, RegisterBudget
from subtile.power.energy import GATE_LEVEL_GROUPS, Calibration, estimate
from subtile.power.tech_model import TechModel
from subtile.power.voltage import VoltageModel

CONFIG = TileConfig(name="e", neurons=4, lanes=2, branches=2, synapses=4, addresses=8)


def fake_run(**pulses):
    counts = {unit: 0 for unit in GATED_UNITS}
    counts.update(pulses)
    return SimpleNamespace(cycles=1000, steps=10, synaptic_ops=40, events_in=12,
                           toggles={unit: 100 + i for i, unit in enumerate(PROBE_UNITS)}, pulses=counts)


@pytest.fixture(scope="module")
def fallback_tech():
    return TechModel.fallback()


def test_a_child_gate_sees_only_its_parents_cycles(fallback_tech):
    """An accumulator gate's clock pin toggles only in the cycles g_branches passes: with the
    parent closed, the children cost nothing; each parent cycle costs every child gate once."""
    closed = estimate(CONFIG, fake_run(), fallback_tech)
    assert closed.clock_pj["accumulators"] == 0 and closed.clock_pj["neuron_state"] == 0
    assert closed.clock_pj["synapse"] == pytest.approx(1000 * fallback_tech.icg_disabled_cycle_energy_pj())
    gates = RegisterBudget(CONFIG).gated["accumulators"][0]
    open_parent = estimate(CONFIG, fake_run(branches=10), fallback_tech)
    assert open_parent.clock_pj["accumulators"] == pytest.approx(10 * gates * fallback_tech.icg_disabled_cycle_energy_pj())
    assert open_parent.clock_toggles_by_unit["accumulators"] == 0     # no flop clocked yet
    written = estimate(CONFIG, fake_run(branches=10, accumulators=10), fallback_tech)
    flops = RegisterBudget(CONFIG).gated["accumulators"][1]
    assert written.clock_toggles_by_unit["accumulators"] == 2 * 10 * flops


def test_calibration_scales_each_group_and_keeps_the_raw_total(fallback_tech, tmp_path):
    raw = estimate(CONFIG, fake_run(synapse=30, control=20), fallback_tech)
    factors = {label: 2.0 + i for i, (label, _rtl, _gate) in enumerate(GATE_LEVEL_GROUPS)}
    path = tmp_path / "cal.json"
    path.write_text(json.dumps({"factors": factors, "source": "test"}))
    calibrated = estimate(CONFIG, fake_run(synapse=30, control=20), fallback_tech, calibration=Calibration.load(path))
    terms = {**{f"data.{k}": v for k, v in raw.data_pj.items()}, **{f"clock.{k}": v for k, v in raw.clock_pj.items()}}
    expected = sum(factors[label] * terms[t] for label, rtl, _gate in GATE_LEVEL_GROUPS for t in rtl if t in terms)
    assert calibrated.dynamic_pj == pytest.approx(expected)
    assert calibrated.uncalibrated_dynamic_pj == pytest.approx(raw.dynamic_pj)
    assert calibrated.to_dict()["calibration"] == "test"
    # every RTL term belongs to exactly one group
    grouped = [t for _label, rtl, _gate in GATE_LEVEL_GROUPS for t in rtl]
    assert sorted(grouped) == sorted(terms) and len(set(grouped)) == len(grouped)


def test_the_shipped_calibration_loads_and_bad_files_are_refused(tmp_path):
    shipped = Calibration.load()
    assert shipped.source.startswith("python -m subtile.power.gate_level")
    assert all(0.5 < f < 50 for f in shipped.factors.values())
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"factors": {"no such unit": 2.0}}))
    with pytest.raises(ConfigError, match=r"^calibration: .*unknown: no such unit"):
        Calibration.load(bad)
    bad.write_text("not json")
    with pytest.raises(ConfigError, match=r"^calibration: .* is not a calibration file"):
        Calibration.load(bad)


def test_voltage_sweep_metrics(fallback_tech):
    report = estimate(CONFIG, fake_run(synapse=30), fallback_tech)
    voltage = VoltageModel(vdd_nominal=fallback_tech.vdd)
    rows = report.voltage_sweep([0.3, 0.6, fallback_tech.vdd], voltage, delay_weight=2e9)
    assert [r["vdd"] for r in rows] == [0.3, 0.6, fallback_tech.vdd]
    nominal = rows[-1]
    assert nominal["energy_per_step_pj"] == pytest.approx(report.total_pj / report.steps, rel=1e-6)
    assert nominal["edd"] == pytest.approx(2 ** 0.5)
    for row in rows:
        assert row["edp_pj_s"] == pytest.approx(row["energy_per_step_pj"] * row["step_time_s"])
        assert row["eds_pj"] == pytest.approx(row["energy_per_step_pj"] + 2e9 * row["step_time_s"])
    assert rows[0]["step_time_s"] > rows[1]["step_time_s"] > rows[2]["step_time_s"]
