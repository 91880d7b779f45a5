"""The shipped calibration (power/calibration/sky130_fd_sc_hd_tt.json) belongs to the current
design: the file records the design fingerprint it was fitted on (power.gate_level.
design_fingerprint), compared here in the default run without running any tool; the slow
gate-level test checks the factors themselves."""

import json

from amaranth.hdl import Signal

from subtile.hdl.tile import Tile
from subtile.power.energy import DEFAULT_CALIBRATION
from subtile.power.gate_level import check_calibration, design_fingerprint
from subtile.spec.config import TileConfig

SMALL = TileConfig(name="little", neurons=4, branches=2, synapses=4, addresses=8, lanes=2)


def test_the_shipped_calibration_was_fitted_on_the_current_design():
    stale = check_calibration(DEFAULT_CALIBRATION)
    assert stale is None, stale


def test_a_stale_calibration_says_how_to_regenerate_it(tmp_path):
    data = json.loads(DEFAULT_CALIBRATION.read_text())
    data["config"] = SMALL.to_dict()        # (a small tile: cheap to fingerprint)
    data["design_sha256"] = "0" * 64
    path = tmp_path / "cal.json"
    path.write_text(json.dumps(data))
    line = check_calibration(path)
    assert line is not None and "of tile 'little'" in line and "\n" not in line
    assert line.startswith(f"calibration: {path} was fitted on another design")
    assert "regenerate it with `python -m subtile.power.gate_level --steps 50" in line
    assert "--write-calibration power/calibration/sky130_fd_sc_hd_tt.json`" in line
    data["design_sha256"] = design_fingerprint(SMALL)
    path.write_text(json.dumps(data))
    assert check_calibration(path) is None


def test_the_fingerprint_follows_the_design(monkeypatch):
    """Same configuration, one register more in the tile: another fingerprint."""
    before = design_fingerprint(SMALL)
    assert design_fingerprint(SMALL) == before                       # deterministic
    assert design_fingerprint(SMALL.replace(lanes=4)) != before
    module = Tile.module

    def with_a_register(self, platform):
        m = module(self, platform)
        extra = Signal(2, name="extra")
        m.d.g_control += extra.eq(extra + 1)
        return m

    monkeypatch.setattr(Tile, "module", with_a_register)
    assert design_fingerprint(SMALL) != before
