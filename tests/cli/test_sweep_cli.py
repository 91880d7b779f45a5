"""`subtile sweep` as a command: failed points give a non-zero exit naming how many, and
``--retry-failed`` runs them again (a plain rerun skips them)."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from subtile.cli.main import main

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_failed_points_exit_1_and_retry_failed_runs_them_again(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    # lanes <= neurons = 2: lanes = 3 fails validation in the point, before any build
    (tmp_path / "bad.toml").write_text(f'[sweep]\nbase = "{EXAMPLES / "tiny.toml"}"\narea = []\n'
                                       '[axes]\nlanes = [3]\n')
    assert main(["sweep", "bad.toml", "--quiet"]) == 1
    out, err = capsys.readouterr()
    assert json.loads(out)["failed"] == 1 and json.loads(out)["db"] == str(tmp_path / "bad.sqlite")
    assert err.strip().splitlines()[-1] == (f"subtile: 1 of 1 points failed (errors in {tmp_path / 'bad.sqlite'}); "
                                            "rerun with --retry-failed to run them again")
    assert main(["sweep", "bad.toml", "--quiet"]) == 1            # resumed: the failure stays, is not rerun
    assert json.loads(capsys.readouterr().out)["ran"] == 0
    assert main(["sweep", "bad.toml", "--retry-failed"]) == 1
    out, err = capsys.readouterr()
    assert json.loads(out)["ran"] == 1 and "1 failed point(s) to run again" in err


def _children(pid):
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _alive(pid):
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the parent-death signal is Linux's")
def test_killing_a_parallel_sweep_ends_its_workers(tmp_path):
    """`kill -9` of `subtile sweep -j 2`: its pool workers end too (they used to run on for hours
    with parent 1)."""
    (tmp_path / "s.toml").write_text(f'[sweep]\nname = "k"\nbase = "{EXAMPLES / "tiny.toml"}"\nbatch = 1\n'
                                     'area = []\n[axes]\nweight_format = ["fixed<3,1>", "fixed<4,2>", "fixed<5,2>", '
                                     '"fixed<6,2>"]\n')
    process = subprocess.Popen([sys.executable, "-m", "subtile", "sweep", "s.toml", "-j", "2", "--quiet"],
                               cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    workers = []
    try:
        deadline = time.monotonic() + 60
        while len(workers) < 2 and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
            workers = _children(process.pid)
        assert len(workers) >= 2, "the sweep started no workers"
        process.send_signal(signal.SIGKILL)
        process.wait()
        deadline = time.monotonic() + 20
        while any(_alive(w) for w in workers) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not [w for w in workers if _alive(w)], "pool workers outlived the killed sweep"
    finally:
        if process.poll() is None:
            process.kill()
        for worker in workers:
            if _alive(worker):
                os.kill(worker, signal.SIGKILL)
