"""User paths: resolved once at the CLI boundary, checked before any tool runs.

A path that cannot be read or written gives one line naming the option, exit code 2, no
traceback, and nothing is left behind: no output file, no work folder, no temporary folder.
"""


import pytest

from subtile.cli.main import main



CASES = [
    # (command line, the start of the one error line)
    (["sim", "--config", "tiny.toml", "--json", "missing/out.json"], "json: missing/out.json: the folder"),
    (["sim", "--config", "tiny.toml", "--json", "afolder"], "json: afolder is a folder; give a file name"),
    (["sim", "--config", "tiny.toml", "--json", "afile/x.json"], "json: afile/x.json: "),
    (["sim", "--config", "tiny.toml", "--json", ""], "json: an empty path"),
    (["sim", "--config", "tiny.toml", "--work-dir", "afile"], "work-dir: afile is a file, not a folder"),
    (["sim", "--config", "tiny.toml", "--work-dir", "afile/sub"], "work-dir: afile/sub cannot be made"),
    (["sim", "--config", "tiny.toml", "--waves", "missing/w.fst"], "waves: missing/w.fst: the folder"),
    (["sim", "--config", "afolder"], "config: afolder is a folder, not a file"),
    (["sim", "--config", "latin1.toml"], "config: latin1.toml is not UTF-8 text"),
    (["sim", "--config", "missing.toml"], "config: missing.toml does not exist"),
    (["sim", "--config", "tiny.toml", "--lib", "missing.lib"], "lib: missing.lib does not exist"),
    (["sim", "activation", "--work-dir", "afile"], "work-dir: afile is a file"),
    (["energy", "--config", "tiny.toml", "--plot", "afile"], "plot: afile is a file, not a folder"),
    (["energy", "--config", "tiny.toml", "--saif", "missing/x.saif"], "saif: missing/x.saif: the folder"),
    (["energy", "--config", "tiny.toml", "--calibration", "afolder"], "calibration: afolder is a folder"),
    (["energy", "--config", "tiny.toml", "--json", "missing/x.json"], "json: missing/x.json: the folder"),
    (["generate", "tile", "--config", "tiny.toml", "-o", "afile"], "output-dir: afile is a file"),
    (["generate", "activation", "-o", "afile/x"], "output-dir: afile/x cannot be made"),
    (["export", "--config", "tiny.toml", "-o", "afile"], "output-dir: afile is a file"),
    (["synth", "--config", "tiny.toml", "--json", "missing/x.json"], "json: missing/x.json: the folder"),
    (["synth", "--config", "tiny.toml", "--lib", "missing.lib", "--target", "sky130"], "lib: missing.lib does not"),
    (["mutate", "--config", "tiny.toml", "--equivalent", "afolder"], "equivalent: afolder is a folder"),
    (["mutate", "--config", "tiny.toml", "--db", "afolder"], "db: afolder is a folder"),
    (["mutate", "--config", "tiny.toml", "--json", "missing/m.json"], "json: missing/m.json: the folder"),
    (["sweep", "missing.toml"], "sweep: missing.toml does not exist"),
    (["sweep", "afolder"], "sweep: afolder is a folder"),
    (["sweep", "sweep.toml", "--export", "points.xlsx"], "export: points.xlsx must end in .csv or .parquet"),
    (["sweep", "sweep.toml", "--export", "missing/p.csv"], "export: missing/p.csv: the folder"),
    (["sweep", "sweep.toml", "--db", "missing/r.sqlite"], "db: missing/r.sqlite: the folder"),
    (["report", "missing.sqlite", "-o", "out"], "db: missing.sqlite does not exist"),
    (["report", "afile", "-o", "afile/out"], "output-dir: afile/out cannot be made"),
    (["accuracy", "--functions", "tanh", "--json", "missing/a.json"], "json: missing/a.json: the folder"),
    (["digits", "--golden-only", "--json", "missing/d.json"], "json: missing/d.json: the folder"),
    (["digits", "--golden-only", "--work-dir", "afile"], "work-dir: afile is a file"),
    # permission bits do not tell (root, /proc, read-only mounts): a probe file does
    (["mutate", "--config", "tiny.toml", "--json", "/proc/m.json"], "json: /proc/m.json cannot be written"),
    (["sim", "--config", "tiny.toml", "--work-dir", "/proc/w"], "work-dir: /proc/w cannot be written"),
    (["generate", "tile", "--config", "tiny.toml", "-o", "/proc/out"], "output-dir: /proc/out cannot be written"),
]


@pytest.mark.parametrize("argv, message", CASES, ids=[" ".join(c[0])[:60] for c in CASES])
def test_a_bad_path_is_refused_before_any_tool_runs(place, argv, message, capsys, monkeypatch, forbid_tools):
    root, temp = place
    before = place.snapshot()
    forbid_tools(monkeypatch)                       # refused up front, not after a build
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("subtile: error: " + message), err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert place.unchanged(before)


def test_paths_are_resolved_against_the_current_folder(place, monkeypatch):
    """The handler sees absolute paths (a simulator running in another folder finds them)."""
    from subtile.cli import generate
    root, _ = place
    seen = {}
    monkeypatch.setattr(generate, "run_tile", lambda args: seen.update(vars(args)) or 0)
    assert main(["generate", "tile", "--config", "tiny.toml", "-o", "new/out"]) == 0
    assert seen["config"] == str(root / "tiny.toml") and seen["output_dir"] == str(root / "new" / "out")
    assert not (root / "new").exists()              # checking makes nothing


@pytest.mark.parametrize("code", [0, 1, 2])
def test_a_temporary_work_folder_is_removed_on_success_and_kept_on_failure(place, monkeypatch, capsys, code):
    """Without --work-dir a command works in <tmp>/subtile-*: removed after exit 0 (and after a
    refused option, exit 2), kept with its path on stderr after a failure."""
    from subtile.cli import options, sim
    root, temp = place
    made = []

    def handler(args):
        folder = options.work_dir(args, "sim")
        (folder / "run.log").write_text("x")
        made.append(folder)
        if code == 2:
            raise options.ConfigError("steps: refused late")
        return code

    monkeypatch.setattr(sim, "run_activation", handler)
    assert main(["sim", "activation"]) == code
    (folder,) = made
    assert folder.parent == temp
    err = capsys.readouterr().err
    if code == 1:
        assert folder.is_dir() and f"subtile: the run's files are kept in {folder}" in err
    else:
        assert not folder.exists() and "kept" not in err
