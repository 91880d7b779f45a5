"""Options that contradict each other or do nothing are refused with one line before any tool
runs; defaults that depend on other keys follow them; an unusable Dask scheduler is refused up
front."""

import socket
import threading
import time

import pytest

from subtile.cli.main import main



@pytest.fixture(autouse=True)
def _tool_guard(forbid_tools):
    """``_refused`` forbids the tools while the refused command runs (tests/cli/conftest.py)."""
    global _forbid_tools
    _forbid_tools = forbid_tools


def _refused(place, argv, message, capsys, seconds=None):
    """Exit code 2 with one line starting with ``message``, no tool run, nothing
    left behind; with ``seconds``, also at once (a network wait would take longer)."""
    root, temp = place
    before = place.snapshot()
    start = time.perf_counter()
    with pytest.MonkeyPatch.context() as patch:
        _forbid_tools(patch)
        assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("subtile: error: " + message), err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert seconds is None or time.perf_counter() - start < seconds
    assert place.unchanged(before)


CASES = [
    (["energy", "--config", "tiny.toml", "--calibration", "cal.json", "--uncalibrated"],
     "calibration: --calibration and --uncalibrated contradict each other"),
    (["energy", "--config", "tiny.toml", "--saif-scope", "tb/x"], "saif-scope: names the tile's scope in the SAIF and needs --saif"),
    (["energy", "--config", "tiny.toml", "--activity", "0.1,,0.5"], "activity: '0.1,,0.5' is not a comma-separated list"),
    (["energy", "--config", "tiny.toml", "--activity", ""], "activity: '' is not a comma-separated list"),
    (["energy", "--config", "tiny.toml", "--activity", "0.1,nan"], "activity: '0.1,nan' is not a comma-separated list"),
    (["energy", "--config", "tiny.toml", "--vdd", "abc"], "vdd: 'abc' is not START:STOP:STEP or one supply"),
    (["digits", "--weight-bits", "4", "--sweep-bits", "3,4"], "weight-bits: --weight-bits and --sweep-bits contradict"),
    (["accuracy", "--beta", "2"], "beta: describes one unit and needs --input"),
    (["accuracy", "--function", "tanh"], "function: describes one unit and needs --input"),
    (["accuracy", "--input", "fixed<6,3>", "--functions", "tanh"], "functions: restricts the standard matrix"),
    (["accuracy", "--input", "fixed<6,3>", "--function", "tanh", "--beta", "2"], "beta: tanh has no beta (only swish)"),
    (["generate", "activation", "--function", "gelu", "--beta", "2", "-o", "out"], "beta: gelu has no beta"),
    (["generate", "activation", "--impl", "lut", "--segments", "4", "-o", "out"],
     "segments: only the interp implementation has segments, not lut"),
    (["generate", "activation", "--top", "module", "-o", "out"], "top: 'module' is a Verilog/SystemVerilog keyword"),
    (["sim", "activation", "--top", "wire"], "top: 'wire' is a Verilog/SystemVerilog keyword"),
    (["sim", "activation", "--top", "1x"], "top: '1x' is not an identifier"),
    (["sim", "--config", "tiny.toml", "--lib", "bad.lib", "--steps", "2"], "lib: "),
    (["synth", "--config", "tiny.toml", "--target", "sky130", "--lib", "bad.lib"], "lib: "),
    (["digits", "--lib", "bad.lib", "--images", "3"], "lib: "),
    (["digits", "--lib", "bad.lib", "--golden-only"], "lib: the Liberty file is for the energy runs"),
    (["sweep", "sweep.toml", "--scheduler", "not-an-address"], "scheduler: 'not-an-address' is not tcp://HOST:PORT"),
    (["sweep", "sweep.toml", "-j", "2", "--scheduler", "tcp://127.0.0.1:8786"], "jobs: -j runs local workers"),
    (["sweep", "sweep.toml", "-j", "0"], "jobs: 0 is outside the allowed range 1..256"),
]


@pytest.mark.parametrize("argv, message", CASES, ids=[" ".join(c[0])[:60] for c in CASES])
def test_contradicting_or_meaningless_options_are_refused(place, argv, message, capsys):
    _refused(place, argv, message, capsys)


def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_scheduler_nobody_listens_on_is_refused_at_once(place, capsys):
    port = _free_port()
    _refused(place, ["sweep", "sweep.toml", "--scheduler", f"tcp://127.0.0.1:{port}"],
             f"scheduler: cannot reach tcp://127.0.0.1:{port}", capsys)


def test_a_port_that_is_no_dask_scheduler_is_refused_in_seconds(place, capsys):
    """Something that accepts connections and answers garbage (a proxy, another server)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]

    def serve():
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            conn.sendall(b"HTTP/1.0 400 Bad Request\r\n\r\n" * 8)
            conn.close()

    threading.Thread(target=serve, daemon=True).start()
    try:
        _refused(place, ["sweep", "sweep.toml", "--scheduler", f"tcp://127.0.0.1:{port}"],
                 f"scheduler: no Dask scheduler answers at tcp://127.0.0.1:{port}", capsys, seconds=15)
    finally:
        server.close()


def test_lanes_default_follows_neurons(place, capsys):
    """`[tile] neurons = 4` alone: lanes (never written by the user) is 4, not the 16 of the
    default tile."""
    root, _ = place
    (root / "four.toml").write_text("[tile]\nneurons = 4\n")
    assert main(["generate", "tile", "--config", "four.toml", "-o", "out"]) == 0
    import json
    manifest = json.loads((root / "out" / "manifest.json").read_text())
    assert "4 neurons" in capsys.readouterr().out
    text = json.dumps(manifest)
    assert '"lanes": 4' in text and '"neurons": 4' in text


@pytest.mark.parametrize("module, argv, message", [
    ("sklearn", ["digits", "--golden-only"], "digits: needs scikit-learn, which is not installed (pip install 'subtile[digits]')"),
    ("distributed", ["sweep", "sweep.toml", "--scheduler", "tcp://127.0.0.1:8786"],
     "scheduler: needs Dask distributed, which is not installed (pip install 'subtile[cluster]')"),
    ("pyarrow", ["sweep", "sweep.toml", "--export", "p.parquet"], "export: Parquet needs pyarrow, which is not installed"),
])
def test_a_missing_extra_names_what_to_install(place, monkeypatch, module, argv, message, capsys):
    """Without the optional package: one line, exit code 3 (a missing tool), nothing written."""
    import sys
    root, temp = place
    before = place.snapshot()
    monkeypatch.setitem(sys.modules, module, None)        # `import module` raises ImportError
    assert main(argv) == 3
    err = capsys.readouterr().err
    assert err.startswith("subtile: error: " + message) and err.count("\n") == 1, err
    assert place.unchanged(before)


@pytest.mark.parametrize("argv, message", [
    (["sim", "--steps", "x"], "subtile sim tile: error: argument --steps: 'x' is not an integer (see subtile sim tile --help)"),
    (["sim", "--activity", ""], "subtile sim tile: error: argument --activity: '' is not a number"),
    (["energy", "--bogus"], "subtile: error: unrecognized arguments: --bogus"),
    (["generate", "activation", "--function", "elu", "-o", "x"], "subtile generate activation: error: argument --function: invalid choice: 'elu'"),
])
def test_usage_errors_are_one_line_naming_the_option(place, argv, message, capsys):
    root, temp = place
    before = place.snapshot()
    with pytest.raises(SystemExit) as stop:
        main(argv)
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(message) and err.count("\n") == 1, err
    assert place.unchanged(before)


@pytest.mark.parametrize("argv", [["sim", "--config", "tiny.toml", "--steps", "2"],
                                  ["synth", "--config", "tiny.toml", "--target", "sky130"],
                                  ["digits", "--images", "3"]])
def test_a_file_that_is_not_liberty_is_refused_before_the_run(place, argv, capsys):
    root, _ = place
    _refused(place, [*argv, "--lib", "bad.lib"], f"lib: {root / 'bad.lib'} is not a Liberty file", capsys)
