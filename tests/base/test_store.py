"""The crash-safe results store: one row per point, no duplicates, failed points kept with their
error, and two processes writing the same database at once."""

import sqlite3
import subprocess
import sys
import textwrap

import pytest

from subtile.errors import ConfigError
from subtile.store import ResultStore


def test_put_done_keys_and_no_duplicates(tmp_path):
    with ResultStore(tmp_path / "r.db", run="a") as store:
        assert store.put("p1", params={"x": 1}, metrics={"y": 2.5})
        assert not store.put("p1", params={"x": 9}, metrics={"y": 0})     # first result wins
        assert store.put("p2", params={"x": 2}, error="RuntimeError: boom")
        assert store.done_keys() == {"p1", "p2"} and len(store) == 2
        rows = {r.key: r for r in store.results()}
        assert rows["p1"].status == "ok" and rows["p1"].params == {"x": 1} and rows["p1"].metrics == {"y": 2.5}
        assert rows["p2"].status == "failed" and rows["p2"].error == "RuntimeError: boom"
        assert store.pending(["p0", "p1", "p2", "p3"]) == ["p0", "p3"]
        assert store.forget_failed() == 1 and store.done_keys() == {"p1"}
    # another run in the same file is independent; a reopened store sees what was committed
    with ResultStore(tmp_path / "r.db", run="b") as other:
        assert other.done_keys() == set() and other.other_runs() == {"a": 1}
    with ResultStore(tmp_path / "r.db", run="a") as again:
        assert again.done_keys() == {"p1"}


def test_not_a_database_is_a_named_error(tmp_path):
    bad = tmp_path / "bad.db"
    bad.write_text("this is not sqlite " * 100)
    with pytest.raises(ConfigError, match=r"^db: .*not a subtile results database"):
        ResultStore(bad, run="a")
    with pytest.raises(ConfigError, match=r"^db: .* is a folder"):
        ResultStore(tmp_path, run="a")


WRITER = textwrap.dedent("""
    import sys
    from subtile.store import ResultStore
    path, start, stop, tag = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    store = ResultStore(path, run="shared", timeout=120)
    written = sum(store.put(f"{k:05d}", params={"k": k, "by": tag}, metrics={"square": k * k})
                  for k in range(start, stop))
    print(written)
""")


def test_two_processes_write_one_database(tmp_path):
    """Two writers, overlapping key ranges, at the same time: every key once, intact rows."""
    path = tmp_path / "shared.db"
    ResultStore(path, run="shared").close()
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, str(path), str(lo), str(hi), tag],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for lo, hi, tag in ((0, 300, "a"), (150, 450, "b"))]
    outputs = [w.communicate(timeout=120) for w in writers]
    assert all(w.returncode == 0 for w in writers), [o[1] for o in outputs]
    written = [int(out.strip()) for out, _err in outputs]
    with ResultStore(path, run="shared") as store:
        rows = store.results()
    keys = [r.key for r in rows]
    assert keys == [f"{k:05d}" for k in range(450)]             # nothing lost, nothing twice
    assert sum(written) == 450                                   # each overlapping key won by one writer
    assert all(r.metrics == {"square": int(r.key) ** 2} and r.params["k"] == int(r.key) for r in rows)
    assert sqlite3.connect(path).execute("PRAGMA integrity_check").fetchone() == ("ok",)
