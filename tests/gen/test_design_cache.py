"""The design cache: generated Verilog is reused only for the same arguments, generator source and
tools, and a hit is the same design as a fresh generation."""

import shutil

import numpy as np
import pytest

import subtile.gen.design_cache as design_cache
from subtile.gen.design_cache import Uncacheable, cached_design, canonical, design_key, generator_digest
from subtile.gen.tile import generate_tile
from subtile.golden.tile import initial_contents
from subtile.sim.tile_harness import generate_bench
from subtile.spec.config import TileConfig

SMALL = TileConfig(name="dc_tile", neurons=2, branches=1, synapses=2, addresses=4, lanes=1)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SUBTILE_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("SUBTILE_DESIGN_CACHE", raising=False)
    return tmp_path / "cache" / "verilog"


@pytest.fixture
def counted(monkeypatch):
    """Count the real generations behind generate_tile and generate_bench."""
    import subtile.gen.tile as gen_tile
    import subtile.sim.tile_harness as tile_harness
    calls = []
    for module, name in ((gen_tile, "_generate_tile"), (tile_harness, "_generate_bench")):
        real = getattr(module, name)
        monkeypatch.setattr(module, name, lambda *a, _real=real, _name=name, **k: calls.append(_name) or _real(*a, **k))
    return calls


def fresh(design):
    return (design.top, design.verilog, design.ports, design.clock, design.reset, design.manifest_extra)


def test_hit_equals_fresh_generation_and_skips_elaboration(cache, counted, monkeypatch):
    first = generate_tile(SMALL)
    second = generate_tile(SMALL)
    assert counted == ["_generate_tile"]
    assert fresh(second) == fresh(first)
    assert second.sha256 == first.sha256
    monkeypatch.setenv("SUBTILE_DESIGN_CACHE", "0")
    uncached = generate_tile(SMALL)
    assert counted == ["_generate_tile"] * 2
    assert fresh(uncached) == fresh(second)
    assert len(list(cache.iterdir())) == 1


def test_a_config_field_or_contents_change_regenerates(cache, counted):
    contents = [initial_contents(SMALL)]
    base = generate_bench([SMALL], contents, top="dc_bench", stimulus_depth=16, response_depth=16)
    changed = generate_bench([SMALL.replace(leak_shift=3)], contents, top="dc_bench", stimulus_depth=16,
                             response_depth=16)
    weights, table = contents[0]
    other = weights.copy()
    other.flat[0] += 1
    rewritten = generate_bench([SMALL], [(other, table)], top="dc_bench", stimulus_depth=16, response_depth=16)
    plain = generate_bench([SMALL], contents, top="dc_bench", count_toggles=False)
    # The buffer depths change no hardware any more (the harness streams): the same entry.
    again = generate_bench([SMALL], contents, top="dc_bench", stimulus_depth=32, response_depth=64)
    assert counted == ["_generate_bench"] * 4
    assert len({base.sha256, changed.sha256, rewritten.sha256, plain.sha256}) == 4
    assert fresh(again) == fresh(base)


def test_one_generator_source_line_changes_the_key(tmp_path, monkeypatch, cache, counted):
    """A copy of the lane module's package folder stands for the installed one: editing one line
    of it gives another key and a fresh generation."""
    import subtile.hdl
    from pathlib import Path
    copy = tmp_path / "hdl_copy"
    shutil.copytree(Path(subtile.hdl.__file__).parent, copy, ignore=shutil.ignore_patterns("__pycache__"))
    real_files = design_cache._source_files
    monkeypatch.setattr(design_cache, "_source_files",
                        lambda package: sorted(copy.glob("*.py")) if package == "subtile.hdl" else real_files(package))
    generator_digest.cache_clear()
    try:
        before = design_key("tile", {"config": SMALL})
        generate_tile(SMALL)
        generate_tile(SMALL)
        assert counted == ["_generate_tile"]
        neuron = copy / "neuron.py"
        neuron.write_text(neuron.read_text() + "\n# one more line\n")
        generator_digest.cache_clear()
        assert design_key("tile", {"config": SMALL}) != before
        generate_tile(SMALL)
        assert counted == ["_generate_tile"] * 2
    finally:
        generator_digest.cache_clear()


def test_tool_versions_are_part_of_the_key(monkeypatch):
    before = design_key("tile", {"config": SMALL})
    import subtile.gen.verilog as verilog
    versions = verilog.tool_versions()
    monkeypatch.setattr(design_cache, "tool_versions", lambda: {**versions, "amaranth": "0.0.0"})
    assert design_key("tile", {"config": SMALL}) != before


def test_a_damaged_entry_is_regenerated(cache, counted):
    first = generate_tile(SMALL)
    (entry,) = cache.iterdir()
    (entry / "design.v").write_text(first.verilog[:-10])
    second = generate_tile(SMALL)
    assert counted == ["_generate_tile"] * 2
    assert fresh(second) == fresh(first)


def test_canonical_values():
    a = np.arange(6, dtype=np.int64).reshape(2, 3)
    assert canonical(a) == canonical(a.copy())
    assert canonical(a) != canonical(a.astype(np.int32))
    assert canonical(a) != canonical(a.reshape(3, 2))
    assert canonical(SMALL) != canonical(SMALL.replace(delta=3))
    assert canonical((1, [2.5, None], {"x": True})) == [1, [2.5, None], {"dict": [["x", True]]}]
    with pytest.raises(Uncacheable):
        canonical(object())


def test_an_uncacheable_argument_generates_without_cache(cache):
    calls = []
    design = generate_tile(SMALL)
    result = cached_design("tile", {"thing": object()}, lambda: calls.append(1) or design, top="dc_tile")
    result = cached_design("tile", {"thing": object()}, lambda: calls.append(1) or design, top="dc_tile")
    assert calls == [1, 1] and result is design
