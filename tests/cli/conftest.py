"""Shared by the command-line tests."""

import tempfile
from pathlib import Path
from typing import NamedTuple

import pytest

TINY = '[tile]\nneurons = 3\nlanes = 3\nbranches = 2\nsynapses = 2\naddresses = 5\n'


class Place(NamedTuple):
    """The folder a command runs in and the temporary folder it may use."""
    root: Path
    temp: Path

    def snapshot(self):
        """Every path under the folder, relative and sorted."""
        return sorted(str(p.relative_to(self.root)) for p in self.root.rglob("*"))

    def unchanged(self, before):
        """Nothing left behind since ``snapshot()`` gave ``before``: in the folder or in temp."""
        return self.snapshot() == before and not any(self.temp.iterdir())


@pytest.fixture
def place(tmp_path, monkeypatch):
    """A folder with a tile config, a sweep, a file, a folder, a non-UTF-8 file, a calibration and a
    Liberty file that is not one; the current folder and the temporary folder (where runs without
    --work-dir go) are fresh folders. Returns (that folder, the temporary folder)."""
    root = tmp_path / "place"
    root.mkdir()
    (root / "tiny.toml").write_text(TINY)
    (root / "afile").write_text("x")
    (root / "afolder").mkdir()
    (root / "latin1.toml").write_bytes('[tile]\nname = "caf\xe9"\n'.encode("latin-1"))
    (root / "sweep.toml").write_text('[sweep]\nname = "s"\nbase = "tiny.toml"\n[axes]\ngating = ["icg"]\n')
    (root / "cal.json").write_text("{}")
    (root / "bad.lib").write_text("not a liberty file\n")
    temp = tmp_path / "temp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    monkeypatch.chdir(root)
    return Place(root, temp)




@pytest.fixture
def forbid_tools():
    """:func:`_forbid_tools`, for tests that check a refusal comes before any tool runs."""
    return _forbid_tools


def _forbid_tools(patch):
    """Make generation, simulator builds and runs and synthesis fail the test (with ``patch``, a
    ``pytest.MonkeyPatch``): what is refused "before any tool runs" must not reach them."""
    import amaranth.back.rtlil
    import amaranth.back.verilog
    import subtile.gen.design_cache
    import subtile.gen.synth
    import subtile.toolchain.runner
    import subtile.toolchain.yowasp

    def refuse(name):
        def tool(*args, **kwargs):
            raise AssertionError(f"{name} ran although the command is refused")
        return tool

    # design_key: every generation, from the cache (design_cache) or not (Amaranth's convert)
    for module, name in [(amaranth.back.verilog, "convert"), (amaranth.back.rtlil, "convert"),
                         (subtile.gen.design_cache, "design_key"),
                         (subtile.toolchain.runner, "build"), (subtile.toolchain.runner, "run"),
                         (subtile.toolchain.yowasp, "run_yowasp"), (subtile.gen.synth, "run_yowasp")]:
        patch.setattr(module, name, refuse(f"{module.__name__}.{name}"))
