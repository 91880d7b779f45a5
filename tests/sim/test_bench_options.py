"""The benches pass their ``build_args`` to the simulator's build (bench/build_options.py measures
Verilator's options through them); nothing is built here."""

import pytest

from subtile.sim import mesh_bench, tile_bench
from subtile.spec.config import MeshConfig, TileConfig

TILE = TileConfig(name="opt_tile", neurons=4, lanes=2, branches=2, synapses=4, addresses=8)


@pytest.fixture
def builds(monkeypatch):
    calls = []

    def build(sources, toplevel, **kwargs):
        calls.append((toplevel, kwargs))
        return "a build"

    monkeypatch.setattr(tile_bench.runner, "build", build)
    monkeypatch.setattr(mesh_bench.runner, "build", build)
    return calls


def test_tile_bench_adds_its_build_args_after_its_own(builds, tmp_path):
    assert tile_bench.TileBench([TILE], build_args=["--threads", "2"], assertions=True).build(tmp_path) == "a build"
    assert tile_bench.TileBench([TILE]).build(tmp_path / "plain") == "a build"
    assert [kwargs["build_args"] for _top, kwargs in builds] == [["--assert", "--threads", "2"], []]


def test_mesh_bench_passes_its_build_args(builds, tmp_path):
    config = MeshConfig(name="opt_mesh", width=2, height=1, tile=TILE)
    assert mesh_bench.MeshBench([config], build_args=["--inline-mult", "0"]).build(tmp_path) == "a build"
    assert builds[0][0] == "mesh_bench" and builds[0][1]["build_args"] == ["--inline-mult", "0"]
