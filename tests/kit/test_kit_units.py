"""The kit's simulator-free parts: layouts from the design, manifests, the mismatch report."""

import json

import numpy as np
import pytest

from subtile.errors import ConfigError
from subtile.gen.tile import generate_tile
from subtile.hdl.synapse import event_in_layout
from subtile.kit import Design, Layout
from subtile.kit.scoreboard import event_mismatch
from subtile.spec.config import TileConfig

CONFIG = TileConfig(name="kitunit", neurons=4, branches=2, synapses=4, addresses=16, lanes=2)


def test_layout_packs_like_the_hardware_layout():
    """Layout.pack gives the same word as Amaranth's own view of the StructLayout."""
    from amaranth.hdl import Const
    hw = event_in_layout(CONFIG)
    layout = Layout(hw, name="events_in")
    for address, payload in [(0, 0), (15, -1), (3, -128), (9, 127)]:
        word = layout.pack(address=address, payload=payload)
        assert word == Const.cast(hw.const({"address": address, "payload": payload})).value
        assert layout.unpack(word) == {"address": address, "payload": payload}


def test_layout_refuses_out_of_range_and_unknown_fields():
    layout = Design(CONFIG).event_in()
    with pytest.raises(ConfigError, match=r"^events_in.payload: 128 is outside -128..127$"):
        layout.pack(address=1, payload=128)
    with pytest.raises(ConfigError, match=r"^events_in.address: 16 is outside 0..15$"):
        layout.pack(address=16, payload=0)
    with pytest.raises(ConfigError, match=r"^events_in: no field neuron \(fields: address, payload\)$"):
        layout.pack(neuron=1)


def test_design_loads_tile_and_mesh_manifests(tmp_path):
    generate_tile(CONFIG).write(tmp_path / "tile")
    assert Design.load(tmp_path / "tile").config == CONFIG
    assert Design.load(tmp_path / "tile" / "manifest.json").kind == "tile"
    from subtile.gen.mesh import generate_mesh
    from subtile.spec.config import MeshConfig
    mesh = MeshConfig.from_dict({"mesh": {"name": "m", "width": 2, "height": 1}, "tile": {"neurons": 2, "lanes": 1,
                                                                                     "addresses": 4}})
    # The manifest alone carries the mesh: no need to elaborate it for the layouts.
    (tmp_path / "mesh").mkdir()
    design = generate_mesh(mesh)
    (tmp_path / "mesh" / "manifest.json").write_text(json.dumps(design.manifest()))
    loaded = Design.load(tmp_path / "mesh")
    assert loaded.kind == "mesh" and loaded.config == mesh
    assert set(loaded.packet().fields) == {"x", "y", "address", "payload", "src_tile", "src_neuron"}
    assert set(loaded.external_out().fields) == {"neuron", "payload"}


def test_design_load_errors_are_one_line(tmp_path, monkeypatch):
    monkeypatch.delenv("SUBTILE_MANIFEST", raising=False)
    with pytest.raises(ConfigError, match=r"^manifest: no path given and \$SUBTILE_MANIFEST is not set"):
        Design.load()
    with pytest.raises(ConfigError, match=r"^manifest: cannot read .*nothing.json"):
        Design.load(tmp_path / "nothing.json")
    (tmp_path / "manifest.json").write_text('{"kind": "synth"}')
    with pytest.raises(ConfigError, match="describes no subtile tile or mesh"):
        Design.load(tmp_path)


@pytest.mark.parametrize("expected, got, report", [
    ([[1, 3], [4, -2]], [[1, 3], [4, -2]], None),
    ([[1, 3], [4, -2]], [[1, 3], [4, -1]], "neuron 4: expected payload -2, got payload -1"),
    ([[1, 3], [4, -2]], [[1, 3]], "neuron 4: expected payload -2, got no event"),
    ([[1, 3]], [[0, 5], [1, 3]], "neuron 0: expected no event, got payload 5"),
    ([[1, 3], [4, -2]], [[4, -2], [1, 3]], "events in another order: expected neurons [1, 4], got [4, 1]"),
    ([[1, 3]], [[1, 3], [1, 3]], "neuron 1: got two events in one step"),
])
def test_event_mismatch_names_the_first_difference(expected, got, report):
    assert event_mismatch(np.array(expected), np.array(got)) == report
