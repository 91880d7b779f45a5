"""`subtile sweep` as a command: failed points give a non-zero exit naming how many, and
``--retry-failed`` runs them again (a plain rerun skips them)."""

import json
from pathlib import Path

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
