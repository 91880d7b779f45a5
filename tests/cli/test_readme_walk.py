"""The README's commands, at small sizes, as a new user runs them: the installed ``subtile``
command started from a folder outside the checkout, every path relative to that folder.

Each command must succeed, print its result on stdout and its progress on stderr only (so
``--json -`` is valid JSON), and leave no temporary folder behind.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

CHECKOUT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def walk(tmp_path_factory):
    """A folder outside the checkout, the relative path from it to ``examples/``, and a runner
    of ``subtile`` there (fresh temporary folder, so leftovers can be seen)."""
    home = tmp_path_factory.mktemp("newuser")
    where = home / "elsewhere"
    where.mkdir()
    temp = home / "tmp"
    temp.mkdir()
    examples = os.path.relpath(CHECKOUT / "examples", where)
    env = {**os.environ, "TMPDIR": str(temp)}

    def subtile(*argv, expect=0):
        proc = subprocess.run([sys.executable, "-m", "subtile", *argv], cwd=where, env=env,
                              capture_output=True, text=True, timeout=900)
        assert proc.returncode == expect, f"subtile {' '.join(argv)}: exit {proc.returncode}\n{proc.stderr[-3000:]}"
        assert "Traceback" not in proc.stderr, proc.stderr
        assert list(temp.iterdir()) == [], f"left behind: {list(temp.iterdir())}"
        return proc

    assert not str(where).startswith(str(CHECKOUT)) and not examples.startswith("/")
    return where, examples, subtile


def test_generate_sim_and_energy_with_relative_paths(walk):
    where, examples, subtile = walk
    proc = subtile("generate", "tile", "--config", f"{examples}/tiny.toml", "-o", "out/gen")
    assert (where / "out/gen/tiny.v").is_file() and "wrote" in proc.stdout

    proc = subtile("sim", "--config", f"{examples}/tiny.toml", "--steps", "6", "--activity", "0.5", "--seed", "1",
                   "--work-dir", "work/sim", "--json", "sim.json")
    report = json.loads((where / "sim.json").read_text())
    assert report["pass"] is True and report["steps"] == 6 and report["work_dir"] == str(where / "work/sim")
    assert (where / "work/sim/tile.toml").is_file()

    # No --work-dir: the temporary folder is removed after the run (the fixture checks);
    # --json - keeps stdout pure JSON while the progress lines go to stderr.
    proc = subtile("sim", "--config", f"{examples}/tiny.toml", "--steps", "4", "--json", "-")
    assert json.loads(proc.stdout)["pass"] is True
    assert "simulation of" in proc.stderr
    quiet = subtile("sim", "--config", f"{examples}/tiny.toml", "--steps", "4", "--quiet")
    assert quiet.stderr == "" and quiet.stdout.startswith("PASS")

    subtile("energy", "--config", f"{examples}/tiny.toml", "--steps", "4", "--activity", "0.1,1.0",
            "--json", "energy.json", "--plot", "img", "--quiet")
    energy = json.loads((where / "energy.json").read_text())
    assert {(r["activity"], r["gating"]) for r in energy["rows"]} == {
        (a, g) for a in (0.1, 1.0) for g in ("icg", "enable", "none")}
    assert (where / "img").is_dir() and any((where / "img").iterdir())


def test_sweep_and_report_with_relative_paths(walk):
    """`subtile sweep SWEEP.toml` from another folder: the sweep's base config is found next to
    the sweep file, the database lands in the current folder, `subtile report` reads it."""
    where, examples, subtile = walk
    sweeps = where / "sweeps"
    sweeps.mkdir()
    text = (CHECKOUT / "examples/sweep_tiny.toml").read_text()
    text = text.replace('base = "tiny.toml"', f'base = "{os.path.relpath(CHECKOUT / "examples/tiny.toml", sweeps)}"')
    text = text.replace('area = ["generic", "sky130"]', 'area = ["generic"]').replace("batch = 6", "batch = 2")
    text = text.replace('weight_format = ["fixed<3,1>", "fixed<4,2>", "fixed<6,2>"]', 'weight_format = ["fixed<4,2>"]')
    text = text.replace('"soma_activation.function" = ["relu", "tanh"]', '"soma_activation.function" = ["relu"]')
    (sweeps / "small.toml").write_text(text)
    proc = subtile("sweep", "sweeps/small.toml", "--export", "points.csv")
    summary = json.loads(proc.stdout)
    assert (summary["points"], summary["stored"], summary["failed"]) == (2, 2, 0)
    assert summary["db"] == str(where / "small.sqlite") and (where / "points.csv").is_file()
    assert f"database: {where / 'small.sqlite'}" in proc.stderr
    subtile("report", "small.sqlite", "-o", "report")
    assert (where / "report/index.html").is_file()


def test_export_mutate_accuracy_and_digits_with_relative_paths(walk):
    where, examples, subtile = walk
    subtile("export", "--config", f"{examples}/tiny.toml", "-o", "exported")
    assert (where / "exported/README.md").is_file()
    proc = subtile("mutate", "--config", f"{examples}/tiny.toml", "-n", "2", "--steps", "4", "--harnesses", "1",
                   "--work-dir", "work/mutate", "--json", "-")
    assert json.loads(proc.stdout)["finished"] == 2 and "mutant 2/2" in proc.stderr
    assert (where / "work/mutate/mutation.txt").is_file()
    subtile("accuracy", "--functions", "tanh", "--json", "acc.json")
    assert json.loads((where / "acc.json").read_text())["all_meet_goal"] is True
    pytest.importorskip("sklearn")
    subtile("digits", "--golden-only", "--images", "20", "--json", "digits.json")
    assert json.loads((where / "digits.json").read_text())["accuracy_golden"] > 0.5


@pytest.mark.slow
def test_the_readme_sweep_itself_from_another_folder(walk):
    """The README's own `subtile sweep examples/sweep_tiny.toml` and `subtile report`: 12 points,
    all stored (they all failed on a missing tile_plan.json when run with a relative path)."""
    where, examples, subtile = walk
    proc = subtile("sweep", f"{examples}/sweep_tiny.toml", "-j", "2", "--quiet")
    summary = json.loads(proc.stdout)
    assert (summary["points"], summary["stored"], summary["failed"]) == (12, 12, 0)
    subtile("report", "sweep_tiny.sqlite", "-o", "report_tiny")
