"""`subtile generate mesh` and `subtile sim --config mesh.toml`: outputs, JSON keys, one-line errors."""

import json

import pytest

from subtile.cli.main import main

TINY_MESH = """\
[mesh]
name = "tiny_mesh"
width = 2
height = 1
fifo_depth = 2
max_destinations = 2
inputs = [[1, 0]]
outputs = [[0, 0]]
[tile]
neurons = 2
lanes = 1
branches = 1
synapses = 4
addresses = 4
payload_format = "fixed<6,2>"
dendrite_format = "fixed<8,3>"
membrane_format = "fixed<8,3>"
soma_activation = { function = "sigmoid", impl = "lut" }
delta = 1
"""


def test_generate_mesh_writes_verilog_and_axon_tables(tmp_path, capsys):
    config = tmp_path / "mesh.toml"
    config.write_text(TINY_MESH)
    out = tmp_path / "out"
    assert main(["generate", "mesh", "--config", str(config), "-o", str(out)]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["top"] == "tiny_mesh" and "module tiny_mesh(" in (out / "tiny_mesh.v").read_text()
    assert manifest["mesh"]["width"] == 2 and len(manifest["tiles"]) == 2
    assert [len(tile) for tile in manifest["axons"]] == [2, 2]
    names = {p["name"] for p in manifest["ports"]}
    assert {"tick", "tick_ready", "input_0__valid", "output_0__ready"} <= names
    assert "2 x 1 tiles" in capsys.readouterr().out


def test_sim_mesh_json_has_the_tile_keys_and_router_counters(tmp_path, capsys):
    config = tmp_path / "mesh.toml"
    config.write_text(TINY_MESH)
    assert main(["sim", "--config", str(config), "--steps", "15", "--activity", "0.6", "--seed", "2",
                 "--stall", "0.5", "--idle", "0.2", "--work-dir", str(tmp_path / "work"), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["pass"] and report["steps"] == 15 and report["events_in"] > 0
    tile_keys = {"pass", "steps", "events_in", "events_out", "synaptic_ops", "cycles", "seconds",
                 "cycles_per_second", "run_seconds", "build_cached", "build_seconds", "toggles", "clock_pulses",
                 "mismatch", "energy", "simulation_seconds", "events_per_second", "work_dir", "reproduce"}
    assert tile_keys <= set(report)
    routers = report["routers"]
    assert len(routers) == 2 and set(routers[0]["forwarded"]) == {"local", "north", "east", "south", "west"}
    assert sum(r["forwarded"]["local"] for r in routers) == report["events_in"] + report["packets"]
    assert 1 <= report["max_fifo_occupancy"] <= 2
    # and the text form, through the explicit kind `sim mesh`
    assert main(["sim", "mesh", "--config", str(config), "--steps", "15", "--activity", "0.6", "--seed", "2",
                 "--work-dir", str(tmp_path / "work2")]) == 0
    text = capsys.readouterr().out
    assert text.startswith("PASS tiny_mesh (2 x 1 tiles): 15 steps") and "routers: max FIFO occupancy" in text
    assert "routers uncalibrated" in text
    energy = report["energy"]
    assert energy["energy_per_step_pj"] > 0 and set(energy["energy_by_kind_pj"]) == {"tile", "router", "interface"}


def test_energy_of_a_mesh_per_gating_mode_and_block(tmp_path, capsys):
    config = tmp_path / "mesh.toml"
    config.write_text(TINY_MESH)
    out = tmp_path / "energy.json"
    assert main(["energy", "--config", str(config), "--steps", "6", "--activity", "0,0.5", "--vdd", "0.2:1.8:0.4",
                 "--json", str(out), "--plot", str(tmp_path / "plots"), "--work-dir", str(tmp_path / "work")]) == 0
    text = capsys.readouterr().out
    assert "routers pJ" in text and "no gate-level calibration" in text and "versus Vdd" in text
    report = json.loads(out.read_text())
    rows = {(r["activity"], r["gating"]): r for r in report["rows"]}
    assert set(rows) == {(a, g) for a in (0.0, 0.5) for g in ("icg", "enable", "none")}
    for row in rows.values():
        blocks = row["blocks"]
        assert set(blocks) == {f"{kind}_{x}_0" for kind in ("tile", "router", "interface") for x in (0, 1)}
        assert row["energy_pj"] == pytest.approx(sum(b["energy_pj"] for b in blocks.values()))
        assert row["energy_pj"] == pytest.approx(sum(row["energy_by_kind_pj"].values()))
        # The tiles and routers are calibrated (the shipped tile and router calibrations).
        assert sorted(row["uncalibrated_blocks"]) == sorted(n for n in blocks if n.startswith("interface"))
        # The network is gated in the tiles' mode: only icg stops router clocks.
        every_cycle = 2 * row["cycles"] * blocks["router_0_0"]["flops"]
        if row["gating"] == "icg":
            assert blocks["router_0_0"]["clock_toggles"] < every_cycle
        else:
            assert blocks["router_0_0"]["clock_toggles"] == every_cycle
        assert len(row["vdd_sweep"]) == 5 and 0.15 <= row["minimum_energy_point"]["vdd"] < 1.8
    # (This tile's sigmoid soma is not settled at reset: even without input it sends events once.)
    assert 0 < rows[0.0, "icg"]["energy_pj"] < rows[0.5, "icg"]["energy_pj"]
    # The routers are gated in the tiles' mode: clock gates (icg) cost less than clock enables
    # (enable), which clock every flop as the ungated baseline does (none).
    for activity in (0.0, 0.5):
        routers = {g: rows[activity, g]["energy_by_kind_pj"]["router"] for g in ("icg", "enable", "none")}
        clock = {g: sum(pj for key, pj in rows[activity, g]["breakdown_by_unit_pj"].items()
                        if key.startswith("router.clock.")) for g in ("enable", "none")}
        assert routers["icg"] < routers["enable"] and clock["enable"] == pytest.approx(clock["none"])
        assert rows[activity, "icg"]["energy_by_kind_pj"]["tile"] < rows[activity, "none"]["energy_by_kind_pj"]["tile"]
    assert rows[0.5, "icg"]["data_toggles"] > 0 and rows[0.5, "icg"]["packets"] > 0
    assert (tmp_path / "plots" / "energy_vs_activity.png").exists()


@pytest.mark.parametrize("command, text, message", [
    (["generate", "tile"], TINY_MESH, "describes a mesh ([mesh]); this command takes a tile"),
    (["generate", "mesh"], "[tile]\nneurons = 2\nlanes = 1\n", "has no [mesh] table"),
    (["generate", "mesh"], "[mesh]\nwidth = 17\n", "mesh.width: 17 is outside the allowed range 1..16"),
    (["sim"], "[mesh]\nfifo_depth = 0\n", "mesh.fifo_depth: 0 is outside the allowed range 2..1024"),
    (["energy", "--capture", "coverage"], TINY_MESH, "capture: a mesh is counted by the fast counters only"),
    (["energy", "--steps", "0"], TINY_MESH, "steps: 0 is outside the allowed range 1..100000"),
    (["energy", "--activity", "0.1,2"], TINY_MESH, "activity: 2.0 is outside the allowed range 0.0..1.0"),
])
def test_mesh_config_errors_exit_2(tmp_path, capsys, command, text, message):
    config = tmp_path / "c.toml"
    config.write_text(text)
    extra = ["-o", str(tmp_path / "out")] if command[0] == "generate" else []
    assert main([*command, "--config", str(config), *extra]) == 2
    err = capsys.readouterr().err
    assert err.startswith("subtile: error: ") and message in err and err.count("\n") == 1


def test_sim_mesh_refuses_a_tile_config(tmp_path, capsys):
    config = tmp_path / "tile.toml"
    config.write_text("[tile]\nneurons = 2\n")
    assert main(["sim", "mesh", "--config", str(config)]) == 2
    assert capsys.readouterr().err.startswith(f"subtile: error: config: {config} has no [mesh] table")
