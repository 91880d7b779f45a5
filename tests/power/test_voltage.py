"""EKV voltage scaling: delay, V^2 dynamic energy, leakage, minimum-energy point, E-D metrics."""

import json
import math

import numpy as np
import pytest

from subtile.errors import ConfigError
from subtile.power.voltage import (
    VoltageModel,
    energy_delay_distance,
    energy_delay_product,
    energy_delay_sum,
)

MODEL = VoltageModel()
GRID = np.linspace(0.15, 1.8, 331)


def leakage_for_ratio(model, ratio, dynamic_pj=1.0):
    """Leakage power (nW) whose energy per cycle at nominal is ``ratio`` of the dynamic energy."""
    period = model.cycle_time_s(model.vdd_nominal)
    return ratio * dynamic_pj / (period * 1e3)


def test_thermal_voltage():
    assert MODEL.thermal_voltage == pytest.approx(0.025852, rel=1e-4)
    assert VoltageModel(temperature_k=350).thermal_voltage > MODEL.thermal_voltage


def test_delay_is_one_at_nominal_and_falls_monotonically_with_supply():
    assert MODEL.delay_scale(1.8) == pytest.approx(1.0)
    scale = MODEL.delay_scale(GRID)
    assert np.all(np.diff(scale) < 0)
    assert MODEL.max_frequency(1.8) == pytest.approx(1 / (40 * 80e-12))
    assert MODEL.max_frequency(0.5, f_nominal=100e6) == pytest.approx(
        100e6 / MODEL.delay_scale(0.5))


def test_delay_is_exponential_below_threshold():
    # Deep in subthreshold ln^2(1 + e^x) ~ e^(2x): t_d ~ V exp(-V / (n vT)).
    n_vt = MODEL.n * MODEL.thermal_voltage
    expected = (0.2 / 0.3) * math.exp(0.1 / n_vt)
    assert MODEL.delay_scale(0.2) / MODEL.delay_scale(0.3) == pytest.approx(expected, rel=0.1)
    # ... and close to the square law well above it: I_on ~ ((V - Vth) / (2 n vT))^2.
    x = (1.8 - MODEL.vth) / (2 * n_vt)
    assert MODEL.on_current(1.8) == pytest.approx(x ** 2, rel=0.01)


def test_dynamic_energy_scales_with_v_squared():
    point = MODEL.energy_per_operation(0.9, dynamic_nominal_pj=10.0, leakage_nominal_nw=0.0)
    assert point.dynamic_pj == pytest.approx(2.5)
    assert point.leakage_pj == 0.0 and point.total_pj == pytest.approx(2.5)
    sweep = MODEL.sweep(GRID, 10.0, 0.0)
    assert np.allclose(sweep.dynamic_pj, 10.0 * (GRID / 1.8) ** 2)


def test_leakage_energy_at_nominal_is_power_times_time():
    point = MODEL.energy_per_operation(1.8, 0.0, leakage_nominal_nw=100.0, cycles=10,
                                       f_nominal=100e6)
    # 100 nW for 10 cycles of 10 ns = 1e-14 J = 0.01 pJ.
    assert point.leakage_pj == pytest.approx(0.01)
    assert point.delay_s == pytest.approx(100e-9)
    assert point.frequency_hz == pytest.approx(100e6)


def test_leakage_energy_per_operation_rises_below_threshold():
    v = np.linspace(0.15, MODEL.vth, 50)
    leakage = MODEL.sweep(v, 1.0, 1.0).leakage_pj
    assert np.all(np.diff(leakage) < 0)  # lower supply, more leakage energy
    assert leakage[0] / leakage[-1] > 100
    # Leakage power itself falls with the supply; the longer cycle is what makes it costly.
    assert MODEL.leakage_power_scale(0.3) < 1.0


@pytest.mark.parametrize("ratio", [1e-5, 1e-4, 3e-4])
def test_minimum_energy_point_lies_in_the_subthreshold_band(ratio):
    # Leakage a 1e-5..3e-4 share of the energy at 1.8 V: a 130 nm-class process at room
    # temperature with activity ~0.1 (the shipped SKY130 library gives ~2e-6).
    point = MODEL.minimum_energy_point(1.0, leakage_for_ratio(MODEL, ratio))
    assert 0.2 < point.vdd < 0.5
    assert not point.at_bound
    assert point.total_pj < MODEL.energy_per_operation(1.8, 1.0,
                                                       leakage_for_ratio(MODEL, ratio)).total_pj
    # Near the minimum the two parts are of the same order.
    assert 0.1 < point.leakage_pj / point.dynamic_pj < 1.0


def test_minimum_energy_point_is_the_true_minimum_and_moves_up_with_leakage():
    leakage = leakage_for_ratio(MODEL, 1e-4)
    point = MODEL.minimum_energy_point(1.0, leakage, cycles=3)
    fine = np.linspace(point.vdd - 0.01, point.vdd + 0.01, 20001)
    brute = MODEL.sweep(fine, 1.0, leakage, cycles=3)
    best = int(np.argmin(brute.total_pj))
    assert point.vdd == pytest.approx(fine[best], abs=2e-6)
    assert point.total_pj <= brute.total_pj[best] * (1 + 1e-12)
    more = MODEL.minimum_energy_point(1.0, 10 * leakage, cycles=3)
    assert more.vdd > point.vdd + 0.05


def test_no_leakage_means_no_interior_minimum():
    point = MODEL.minimum_energy_point(1.0, 0.0)
    assert point.at_bound and point.vdd == pytest.approx(0.15)


def test_dibl_lowers_leakage_at_low_supply_relative_to_nominal():
    with_dibl = VoltageModel(dibl=0.1)
    assert with_dibl.leakage_power_scale(0.3) < MODEL.leakage_power_scale(0.3)


def test_sweep_records_and_json():
    sweep = MODEL.sweep([0.3, 0.6, 1.8], 2.0, 5.0, cycles=4)
    assert len(sweep) == 3
    records = sweep.records()
    assert records[2].vdd == 1.8 and records[2].dynamic_pj == pytest.approx(2.0)
    assert all(r.total_pj == pytest.approx(r.dynamic_pj + r.leakage_pj) for r in records)
    assert all(r.delay_s == pytest.approx(4 / r.frequency_hz) for r in records)
    assert json.loads(json.dumps(sweep.to_dict()))["vdd"] == [0.3, 0.6, 1.8]


def test_energy_delay_metrics():
    assert energy_delay_product(2.0, 3e-9) == pytest.approx(6e-9)
    assert energy_delay_sum(2.0, 3e-9, weight=1e9) == pytest.approx(5.0)
    assert energy_delay_distance(3.0, 8e-9, e_ref=1.0, d_ref=2e-9) == pytest.approx(5.0)
    e = np.array([1.0, 2.0])
    d = np.array([4.0, 1.0])
    assert np.allclose(energy_delay_product(e, d), [4.0, 2.0])
    assert np.allclose(energy_delay_sum(e, d, 0.5), [3.0, 2.5])
    assert np.allclose(energy_delay_distance(e, d, 1.0, 1.0), [math.hypot(1, 4), math.hypot(2, 1)])
    # Over a sweep, the EDP optimum sits above the energy optimum: delay is worth something.
    leakage = leakage_for_ratio(MODEL, 1e-4)
    sweep = MODEL.sweep(GRID, 1.0, leakage)
    edp_best = GRID[np.argmin(energy_delay_product(sweep.total_pj, sweep.delay_s))]
    assert edp_best > MODEL.minimum_energy_point(1.0, leakage).vdd


@pytest.mark.parametrize("kwargs, name", [
    ({"vth": -0.1}, "vth"), ({"n": 0.5}, "n"), ({"temperature_k": 0}, "temperature_k"),
    ({"vdd_nominal": 0.3}, "vdd_nominal"), ({"logic_depth": 0}, "logic_depth"),
    ({"gate_delay_nominal_s": -1e-12}, "gate_delay_nominal_s"), ({"dibl": 0.9}, "dibl"),
    ({"vth": float("nan")}, "vth"),
])
def test_invalid_model_parameters(kwargs, name):
    with pytest.raises(ConfigError, match=rf"^{name}: must be in "):
        VoltageModel(**kwargs)


@pytest.mark.parametrize("call, name", [
    (lambda: MODEL.delay_scale(0.0), "vdd"),
    (lambda: MODEL.sweep([0.5, -1.0], 1.0, 1.0), "vdd"),
    (lambda: MODEL.energy_per_operation(0.5, -1.0, 1.0), "dynamic_pj"),
    (lambda: MODEL.energy_per_operation(0.5, 1.0, 1.0, cycles=0), "cycles"),
    (lambda: MODEL.max_frequency(0.5, f_nominal=0.0), "f_nominal"),
    (lambda: MODEL.minimum_energy_point(1.0, 1.0, v_min=0.5, v_max=0.4), "v_max"),
    (lambda: energy_delay_sum(1.0, 1.0, -1.0), "weight"),
    (lambda: energy_delay_distance(1.0, 1.0, 0.0, 1.0), "e_ref"),
])
def test_invalid_arguments(call, name):
    with pytest.raises(ConfigError, match=rf"^{name}: "):
        call()


def test_leakage_current_shape():
    vt = MODEL.thermal_voltage
    # (1 - exp(-V / vT)): a drain at one vT passes (1 - 1/e) of the saturated off-current.
    assert MODEL.leakage_current(vt) / MODEL.leakage_current(1.0) == pytest.approx(1 - math.exp(-1))
    # exp(-Vth / (n vT)): 50 mV more threshold is exp(-0.05 / (n vT)) less leakage.
    higher = VoltageModel(vth=MODEL.vth + 0.05)
    assert higher.leakage_current(1.0) / MODEL.leakage_current(1.0) == pytest.approx(
        math.exp(-0.05 / (MODEL.n * vt)))
