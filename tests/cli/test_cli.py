"""The `subtile` command: outputs, JSON, and one-line errors with exit code 2."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from subtile.cli.main import main


def test_generate_activation_writes_verilog_and_manifest(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["generate", "activation", "--function", "sigmoid", "--input", "fixed<8,4>",
                 "--output", "ufixed<8,0>", "--impl", "interp", "--segments", "32", "-o", str(out)]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    verilog = (out / f"{manifest['top']}.v").read_text()
    assert manifest["top"] == "sigmoid_interp" and f"module {manifest['top']}(" in verilog
    assert manifest["latency"] == 0 and manifest["clock"] is None and manifest["reset"] is None
    assert manifest["input_format"] == "fixed<8,4>" and manifest["output_format"] == "ufixed<8,0>"
    assert manifest["parameters"]["segments"] == 32 and manifest["parameters"]["function"] == "sigmoid"
    assert {p["name"]: (p["direction"], p["width"], p["signed"]) for p in manifest["ports"]} == {
        "x": ("input", 8, True), "y": ("output", 8, False)}
    assert len(manifest["verilog_sha256"]) == 64 and "amaranth" in manifest["tools"]
    assert "wrote" in capsys.readouterr().out


def test_generate_with_latency_has_clock_and_reset(tmp_path):
    assert main(["generate", "activation", "--function", "tanh", "--output", "fixed<8,1>",
                 "--latency", "1", "--top", "tanh_q", "-o", str(tmp_path)]) == 0
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert (manifest["top"], manifest["latency"], manifest["clock"], manifest["reset"]) == ("tanh_q", 1, "clk", "rst")


@pytest.mark.parametrize("args, message", [
    (["--input", "fixed<40,4>"], "subtile: error: input_format: 'fixed<40,4>': width: 40 is outside the allowed range 1..32"),
    (["--segments", "12"], "subtile: error: segments: 12 is not a power of two in 1..65536"),
    (["--function", "swish", "--beta", "-1"], "subtile: error: beta: -1.0 is outside the allowed range (0, 64]"),
    (["--top", "1bad"], "subtile: error: top: '1bad' is not an identifier"),
    (["--latency", "3"], "subtile: error: latency: 3 is outside the allowed range 0..1"),
])
def test_bad_parameters_give_one_line_and_exit_2(args, message, tmp_path, capsys):
    assert main(["generate", "activation", *args, "-o", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(message) and err.count("\n") == 1
    assert not list(tmp_path.iterdir())         # refused before anything was written


def test_usage_errors_exit_2_without_traceback():
    proc = subprocess.run([sys.executable, "-m", "subtile", "generate", "activation", "--function", "elu",
                           "-o", "x"], capture_output=True, text=True)
    assert proc.returncode == 2 and "invalid choice: 'elu'" in proc.stderr and "Traceback" not in proc.stderr


def test_accuracy_json(tmp_path):
    target = tmp_path / "acc.json"
    assert main(["accuracy", "--functions", "tanh", "gelu", "--json", str(target)]) == 0
    rows = json.loads(target.read_text())["rows"]
    assert len(rows) == 2 * 2 * 6 and all(r["meets_goal"] for r in rows)
    assert max(r["max_error_lsb"] for r in rows if r["impl"] == "lut") <= 0.5


def test_sim_activation_end_to_end(tmp_path, capsys):
    report_path = tmp_path / "report.json"
    assert main(["sim", "activation", "--function", "swish", "--input", "fixed<6,3>", "--output", "fixed<6,3>",
                 "--latency", "1", "--work-dir", str(tmp_path / "work"), "--json", str(report_path)]) == 0
    report = json.loads(report_path.read_text())
    assert report["pass"] and report["codes"] == 64 and report["mismatches"] == 0
    assert capsys.readouterr().out.startswith("PASS ")


def test_sim_tile_json_and_energy(tmp_path, capsys):
    config = tmp_path / "tiny.toml"
    config.write_text('[tile]\nneurons = 3\nlanes = 3\nbranches = 2\nsynapses = 2\naddresses = 5\n')
    assert main(["sim", "--config", str(config), "--steps", "12", "--activity", "0.5", "--seed", "3",
                 "--stall", "0.3", "--work-dir", str(tmp_path / "work"), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["pass"] and report["steps"] == 12 and report["events_in"] > 0
    assert {"events_out", "synaptic_ops", "cycles", "seconds", "reproduce"} <= set(report)
    assert report["energy"]["energy_per_step_pj"] > 0 and report["energy"]["vdd"] == pytest.approx(1.8)


@pytest.mark.skipif(__import__("shutil").which("iverilog") is None, reason="needs Icarus Verilog")
def test_sim_under_icarus(tmp_path, capsys):
    config = tmp_path / "tiny.toml"
    config.write_text('[tile]\nneurons = 3\nlanes = 3\nbranches = 2\nsynapses = 2\naddresses = 5\n')
    assert main(["sim", "--config", str(config), "--steps", "12", "--activity", "0.5", "--seed", "3",
                 "--stall", "0.3", "--simulator", "icarus", "--work-dir", str(tmp_path / "work"), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["pass"] and report["simulator"] == "icarus" and report["events_in"] > 0
    assert report["reproduce"].endswith("--simulator icarus") and report["energy"]["energy_per_step_pj"] > 0
    assert main(["sim", "--simulator", "icarus", "--waves", str(tmp_path / "w.fst")]) == 2
    assert capsys.readouterr().err == "subtile: error: waves: Verilator only; drop --waves or use --simulator verilator\n"
    assert not (tmp_path / "w.fst").exists()


def test_sim_tile_refuses_bad_ranges(capsys):
    assert main(["sim", "--steps", "0"]) == 2
    assert capsys.readouterr().err.startswith("subtile: error: steps: 0 is outside the allowed range 1..100000")


def test_energy_sweeps_activity_and_supply_and_plots(tmp_path, capsys):
    config = tmp_path / "small.toml"
    config.write_text('[tile]\nname = "small_tile"\nneurons = 4\nlanes = 2\nbranches = 2\nsynapses = 4\naddresses = 8\n')
    out = tmp_path / "energy.json"
    assert main(["energy", "--config", str(config), "--steps", "15", "--activity", "0,0.1,1",
                 "--vdd", "0.2:1.8:0.1", "--delay-weight", "1e9", "--plot", str(tmp_path / "plots"),
                 "--work-dir", str(tmp_path / "work"), "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "icg: energy per step at activity 0.1 is" in text and "versus Vdd" in text
    report = json.loads(out.read_text())
    rows = {(r["activity"], r["gating"]): r for r in report["rows"]}
    assert set(rows) == {(a, g) for a in (0.0, 0.1, 1.0) for g in ("icg", "enable", "none")}
    idle = rows[0.0, "icg"]
    # an idle clock-gated tile: no data toggles; of all flops only the sequencer's few are
    # clocked, for the tick-to-done handshake; the other gates see only their own clock pins
    assert idle["data_toggles"] == 0 < idle["clock_toggles"]
    assert idle["clock_toggles"] == idle["clock_toggles_by_unit"]["control"] <= 15 * 4 * 2 * 8
    assert 0 < idle["energy_per_step_pj"] < rows[0.0, "enable"]["energy_per_step_pj"]
    for mode in ("icg", "enable", "none"):
        assert rows[0.1, mode]["energy_per_step_pj"] < rows[1.0, mode]["energy_per_step_pj"]
        assert set(rows[1.0, mode]["breakdown_pj"]) >= {"data.accumulators", "clock.accumulators", "leakage"}
    assert set(report["proportionality"]) == {"icg", "enable", "none"}
    sweep = rows[0.1, "icg"]["vdd_sweep"]
    assert [round(r["vdd"], 3) for r in sweep] == [round(0.2 + 0.1 * i, 3) for i in range(17)]
    times = [r["step_time_s"] for r in sweep]
    assert times == sorted(times, reverse=True)                 # a higher supply is faster
    best = min(sweep, key=lambda r: r["energy_per_step_pj"])
    assert abs(best["vdd"] - rows[0.1, "icg"]["minimum_energy_point"]["vdd"]) <= 0.1
    assert all(r["eds_pj"] == pytest.approx(r["energy_per_step_pj"] + 1e9 * r["step_time_s"]) for r in sweep)
    nominal = next(r for r in sweep if abs(r["vdd"] - 1.8) < 1e-9)
    assert nominal["edd"] == pytest.approx(2 ** 0.5)            # normalised to the nominal point
    for stem in ("energy_vs_activity", "energy_vs_vdd"):
        assert (tmp_path / "plots" / f"{stem}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert "<svg" in (tmp_path / "plots" / f"{stem}.svg").read_text()[:1000]


def test_energy_refuses_a_bad_supply_range(capsys):
    assert main(["energy", "--vdd", "1.8:0.2:0.1"]) == 2
    assert capsys.readouterr().err.startswith("subtile: error: vdd: '1.8:0.2:0.1' is not START:STOP:STEP")


def test_energy_coverage_capture_and_saif_export(tmp_path, capsys):
    """--capture coverage compares the fast counters with Verilator toggle coverage unit by unit;
    --saif writes one SAIF per activity and gating mode with the tile at the named scope."""
    config = tmp_path / "small.toml"
    config.write_text('[tile]\nname = "small_tile"\nneurons = 4\nlanes = 2\nbranches = 2\nsynapses = 4\naddresses = 8\n')
    out = tmp_path / "energy.json"
    assert main(["energy", "--config", str(config), "--steps", "8", "--activity", "0.5", "--capture", "coverage",
                 "--saif", str(tmp_path / "run.saif"), "--saif-scope", "tb/dut",
                 "--work-dir", str(tmp_path / "work"), "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    icg = report["captured"]["0.5"]["small_tile_icg"]["units"]
    # registers: identical counts in both modes
    for unit in ("accumulators", "synapse", "mac"):
        assert icg[unit]["fast"] == icg[unit]["coverage"] > 0, unit
    saifs = report["captured"]["saif"]
    assert len(saifs) == 3 and all(Path(p).exists() for p in saifs)
    text = Path(saifs[0]).read_text()
    assert "(SAIFILE" in text and "(INSTANCE tb" in text and "(INSTANCE dut" in text
    assert "saif:" in capsys.readouterr().out
