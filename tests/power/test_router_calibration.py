"""The router calibration (power/router_gate_level.py, power/calibration/sky130_fd_sc_hd_tt_router.json).

Default run: the shipped file was fitted on the current router (its design fingerprint, no tool
run), the factors reach every router of a calibrated mesh estimate, the netlist's units are read
from its names, and bad options stop in one line. The ``slow`` test runs the whole flow (synthesis,
gate-level mesh run on recorded traffic, fit) on a small mesh.
"""

import json
from pathlib import Path

import pytest

from subtile.hdl.router import Router
from subtile.power.energy import DEFAULT_ROUTER_CALIBRATION, ROUTER_GATE_LEVEL_GROUPS, Calibration
from subtile.power.router_gate_level import (_named_unit, check_router_calibration, clock_unit, main,
                                             router_calibrated_ratio, router_factors, router_fingerprint)
from subtile.spec.config import MeshConfig, TileConfig

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SMALL = MeshConfig(name="pair", width=2, height=1, fifo_depth=2, max_destinations=1, inputs=((0, 0),),
                   outputs=((1, 0),), tile=TileConfig(neurons=4, branches=2, synapses=4, addresses=8, lanes=2))


def test_the_shipped_router_calibration_was_fitted_on_the_current_router():
    stale = check_router_calibration(DEFAULT_ROUTER_CALIBRATION)
    assert stale is None, stale


def test_a_stale_router_calibration_says_how_to_regenerate_it(tmp_path):
    data = json.loads(DEFAULT_ROUTER_CALIBRATION.read_text())
    data["design_sha256"] = "0" * 64
    path = tmp_path / "router.json"
    path.write_text(json.dumps(data))
    line = check_router_calibration(path)
    assert line is not None and "\n" not in line
    assert line.startswith(f"calibration: {path} was fitted on another router design")
    assert "python -m subtile.power.router_gate_level" in line and "--write-calibration" in line


def test_the_router_fingerprint_follows_the_design(monkeypatch):
    before = router_fingerprint(SMALL, (0, 0))
    assert router_fingerprint(SMALL, (0, 0)) == before
    assert router_fingerprint(SMALL.replace(fifo_depth=3), (0, 0)) != before
    assert router_fingerprint(SMALL, (1, 0)) != before           # another router (ports) of the mesh
    elaborate = Router.elaborate

    def with_a_register(self, platform):
        from amaranth.hdl import Signal
        m = elaborate(self, platform)
        extra = Signal(2, name="extra")
        m.d.sync += extra.eq(extra + 1)
        return m

    monkeypatch.setattr(Router, "elaborate", with_a_register)
    assert router_fingerprint(SMALL, (0, 0)) != before


def test_the_shipped_factors_reach_the_routers_of_a_calibrated_estimate():
    shipped = Calibration.load()
    assert set(shipped.router_factors) <= {label for label, _rtl, _gate in ROUTER_GATE_LEVEL_GROUPS}
    assert {"fifo storage", "arbiter + crossbar, links", "clock.fifo"} <= set(shipped.router_factors)
    # Clocks near 1 (the structural clock model is close), logic-heavy groups several times more.
    assert all(0.5 < shipped.router_factors[k] < 2 for k in shipped.router_factors if k.startswith("clock.")), shipped.router_factors
    assert all(0.5 < f < 100 for f in shipped.router_factors.values()), shipped.router_factors
    terms = shipped.router_term_factors()
    assert terms["data.fifo"] == shipped.router_factors["fifo storage"]
    assert terms["clock.fifo_word"] == shipped.router_factors.get("clock.fifo_word", 1.0)
    assert "router_gate_level" in shipped.router_source
    # A custom tile calibration without router factors calibrates no router.
    assert Calibration(shipped.factors).router_term_factors() == {}


def test_the_fit_reproduces_its_reference_and_scales_out_of_sample():
    """The factors of a row bring that row's RTL estimate exactly to the gate level; applied to
    another row whose units have the same gate/RTL ratios they do too, and the shipped file's
    own check (the other activity) is within 25 %."""
    reference = {"per_unit_pj_per_step": {"fifo storage": {"rtl": 2.0, "gate": 3.0},
                                          "counters": {"rtl": 1.0, "gate": 0.5},
                                          "clock.root": {"rtl": 0.0, "gate": 0.25}}}
    factors = router_factors(reference)
    assert factors == {"fifo storage": 1.5, "counters": 0.5}
    assert router_calibrated_ratio(reference, factors) == pytest.approx((3.0 + 0.5) / 3.75)
    other = {"per_unit_pj_per_step": {"fifo storage": {"rtl": 4.0, "gate": 6.0},
                                      "counters": {"rtl": 8.0, "gate": 4.0}}}
    assert router_calibrated_ratio(other, factors) == pytest.approx(1.0)
    check = json.loads(DEFAULT_ROUTER_CALIBRATION.read_text())["check"]
    assert all(0.75 < row["calibrated"] < 1.25 for row in check.values()), check


@pytest.mark.parametrize("names, unit", [
    (["core.fifo_east.storage.word_1"], "fifo"), (["core.head_west.payload"], "fifo"),
    (["core.fifo_local.level", "level$108"], "fifo_control"), (["core.fifo_east.storage.word_0_en"], "fifo_control"),
    (["core.arb_south_last"], "arbiter"), (["core.req_north_to_east"], "arbiter"), (["g_stallhi_east_en"], "arbiter"),
    (["core.outputs__2__payload.address"], "links"), (["core.arb_east_any", "core.outputs__2__valid"], "links"),
    (["core.packets_east_high"], "counters"), (["max_level__3"], "counters"), (["core.n12_"], None),
])
def test_netlist_nets_take_the_unit_of_their_names(names, unit):
    assert _named_unit(names) == unit


def test_clock_gates_take_the_unit_of_their_domain():
    assert clock_unit("icg_g_router.cell") == "clock.router"
    assert clock_unit("icg_g_fifo_east.cell") == "clock.fifo"
    assert clock_unit("core.fifo_east.icg_word_2.cell") == "clock.fifo_word"
    assert clock_unit("core.fifo_local.icg_head.cell") == "clock.fifo_head"
    assert clock_unit("icg_g_pkthi_south.cell") == "clock.packets_high"
    assert clock_unit("icg_g_stall_south.cell") == "clock.stalls"
    with pytest.raises(ValueError, match="gates no clock unit"):
        clock_unit("icg_g_other.cell")


@pytest.mark.parametrize("argv, message", [
    (["--router", "5,5"], "router: (5, 5) is outside the 2 x 2 mesh"),
    (["--router", "a"], "router: 'a' is not X,Y"),
    (["--activity", "0"], "activity: '0': give activities in (0, 1]"),
    (["--steps", "0"], "steps: 0 is outside the allowed range 1..10000"),
    (["--config", str(EXAMPLES / "tile.toml")], "tile.toml is a tile config"),
    (["--fifo-depth", "1"], "fifo_depth"),
])
def test_bad_options_stop_in_one_line(argv, message, capsys, tmp_path):
    assert main(["--config", str(EXAMPLES / "mesh.toml"), "--work-dir", str(tmp_path / "work"), *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and err.count("\n") == 1
    assert not (tmp_path / "work").exists()


@pytest.mark.slow
def test_router_gate_level_flow_on_a_small_mesh(tmp_path, capsys):
    """Synthesis, the mesh with router (1, 0) as its netlist on recorded traffic (bit-exact with
    the golden model), the fit and its check at another activity."""
    config = tmp_path / "pair.toml"
    config.write_text(SMALL.to_toml())
    out, cal = tmp_path / "result.json", tmp_path / "cal.json"
    assert main(["--config", str(config), "--router", "1,0", "--steps", "6", "--activity", "0.3,1.0",
                 "--work-dir", str(tmp_path / "work"), "--json", str(out), "--write-calibration", str(cal)]) == 0
    result = json.loads(out.read_text())
    for row in result["rows"]:
        assert row["golden_match"] and row["packets_through_router"] > 0
        assert row["nets_without_coverage"] <= 0.02 * row["nets"]
        assert 0.2 < row["ratio_rtl_to_gate"] < 5
        units = row["per_unit_pj_per_step"]
        assert units["fifo storage"]["gate"] > 0 and units["clock.fifo"]["gate"] > 0
        assert units["arbiter + crossbar, links"]["gate"] > 0
    busiest = max(result["rows"], key=lambda r: r["activity"])
    assert busiest["calibrated_ratio_rtl_to_gate"] == pytest.approx(1.0)
    data = json.loads(cal.read_text())
    assert data["factors"] == result["factors"] and check_router_calibration(cal) is None
