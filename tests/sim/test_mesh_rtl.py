"""Mesh RTL under Verilator against the golden mesh model, per step and per tile.

1x2, 2x2 (one config per tile: different sizes and gating modes) and 3x3 meshes share one
Verilator build, their networks in the three clock-gating modes (``none``, ``enable``, ``icg``:
``MeshConfig.network_gating``); seeded random external traffic with random idle cycles on the inputs and
random backpressure on the external outputs. The 3x3 mesh embeds the coverage axon tables
(``coverage_axons``: empty, full, duplicate and single destination lists in every tile). Every
output event of every tile and every external output event is compared per step, and each
router's counters per port with XY routing of the golden traffic (``router_counter_mismatch``,
the checks of the mesh mutation run).
"""

import dataclasses

import numpy as np
import pytest

from subtile.spec.config import MeshConfig, TileConfig
from subtile.golden.mesh import coverage_axons, random_mesh_stimulus
from subtile.mutate.mesh import router_counter_mismatch
from subtile.sim.mesh_bench import MeshBench, MeshCase

SMALL = TileConfig(neurons=4, branches=2, synapses=4, addresses=16, lanes=2, payload_format="fixed<6,2>",
                   dendrite_format="fixed<8,3>", membrane_format="fixed<8,3>", branch_activation="identity",
                   soma_activation={"function": "tanh", "impl": "lut"}, delta=1)

CONFIGS = [
    MeshConfig(name="m1x2", width=2, height=1, tile=SMALL.replace(gating="none"), fifo_depth=2,
               max_destinations=2),
    MeshConfig(name="m2x2", width=2, height=2, fifo_depth=3, max_destinations=3, axon_fill=0.9,
               tiles=(SMALL.replace(gating="enable"),
                      SMALL.replace(neurons=8, addresses=32, lanes=4, gating="enable", seed=5),
                      SMALL.replace(neurons=2, addresses=8, lanes=1, gating="none", seed=6),
                      SMALL.replace(seed=7, leak_shift=0, gating="enable")),
               inputs=((0, 0), (1, 1)), outputs=((1, 0), (0, 1))),
    MeshConfig(name="m3x3", width=3, height=3, tile=SMALL, fifo_depth=4, max_destinations=2,
               inputs=((1, 1),), outputs=((2, 2), (0, 0))),
]
STEPS = 30
#: Per config: its axon tables (None: the seeded ones).
AXONS = [None, None, coverage_axons(CONFIGS[2])]


def test_the_networks_cover_the_three_gating_modes():
    assert [c.network_gating for c in CONFIGS] == ["none", "enable", "icg"]


@pytest.fixture(scope="session")
def regression_mesh_bench():
    return MeshBench(CONFIGS, name="mesh_regress", axons=AXONS)


@pytest.fixture(scope="session")
def regression_mesh_runs(regression_mesh_bench, tmp_path_factory):
    """Two runs of all meshes on the one build: light and heavy backpressure."""
    runs = {}

    def get(variant):
        if variant not in runs:
            activity, idle, stall, seed = {"light": (0.3, 0.2, 0.3, 11), "heavy": (0.6, 0.0, 0.9, 12)}[variant]
            cases = {i: MeshCase(random_mesh_stimulus(c, STEPS, activity, seed + i), seed=seed + i,
                                 idle=idle, stall=stall) for i, c in enumerate(CONFIGS)}
            work_dir = tmp_path_factory.mktemp(f"mesh-{variant}")
            runs[variant] = (cases, work_dir, regression_mesh_bench.run(cases, work_dir=work_dir))
        return runs[variant]
    return get


class TestMeshRTL:
    @pytest.mark.parametrize("variant", ["light", "heavy"])
    @pytest.mark.parametrize("index", range(len(CONFIGS)), ids=[c.name for c in CONFIGS])
    def test_bit_exact_with_the_golden_mesh(self, regression_mesh_runs, variant, index):
        cases, work_dir, runs = regression_mesh_runs(variant)
        run = runs[index]
        assert run.passed, f"{CONFIGS[index].name} ({variant}): {run.mismatch}\n{CONFIGS[index].to_toml()}"
        assert run.packets > 0 and run.events_out > 0 and run.events_in > 0

    @pytest.mark.parametrize("index", range(len(CONFIGS)), ids=[c.name for c in CONFIGS])
    def test_router_counters(self, regression_mesh_runs, index):
        config = CONFIGS[index]
        _, _, runs = regression_mesh_runs("heavy")
        run = runs[index]
        delivered = sum(r.forwarded[0] for r in run.routers)
        # Every packet reaches its tile: the external inputs and the fan-outs' packets, the last
        # step's included (they arrive although no tick applies them).
        assert delivered == run.events_in + run.packets
        assert all(0 <= level <= config.fifo_depth for r in run.routers for level in r.max_level)
        assert max(max(r.max_level) for r in run.routers) >= 2
        # Off-mesh ports never carry a packet.
        for r in run.routers:
            for port, (dx, dy) in zip(range(1, 5), ((0, -1), (1, 0), (0, 1), (-1, 0))):
                if not (0 <= r.x + dx < config.width and 0 <= r.y + dy < config.height):
                    assert r.forwarded[port] == 0 and r.stalls[port] == 0

    @pytest.mark.parametrize("variant", ["light", "heavy"])
    @pytest.mark.parametrize("index", range(len(CONFIGS)), ids=[c.name for c in CONFIGS])
    def test_router_counters_follow_xy_routing(self, regression_mesh_runs, variant, index):
        cases, _, runs = regression_mesh_runs(variant)
        assert router_counter_mismatch(CONFIGS[index], cases[index], runs[index].routers, AXONS[index]) is None

    def test_router_counter_checks_catch_a_misrouted_count(self, regression_mesh_runs):
        cases, _, runs = regression_mesh_runs("heavy")
        routers = [dataclasses.replace(r, forwarded=list(r.forwarded)) for r in runs[2].routers]
        port = next(p for p in range(1, 5) if routers[4].forwarded[p])
        routers[4].forwarded[port] -= 1
        assert "forwarded" in router_counter_mismatch(CONFIGS[2], cases[2], routers, AXONS[2])

    def test_scoreboard_catches_wrong_axon_tables(self, regression_mesh_bench, regression_mesh_runs):
        """The recorded run scored against a model with other axon tables must fail."""
        cases, work_dir, _ = regression_mesh_runs("light")
        other = MeshBench([dataclasses.replace(c, axon_seed=c.axon_seed + 1) for c in CONFIGS], name="unused")
        other._build = regression_mesh_bench._build
        results = [other.score(i, cases[i], work_dir) for i in range(len(CONFIGS))]
        assert not any(r.passed for r in results), [r.mismatch for r in results]

    def test_scoreboard_catches_a_missing_step(self, regression_mesh_bench, regression_mesh_runs):
        cases, work_dir, _ = regression_mesh_runs("light")
        shifted = dataclasses.replace(cases[2], stimulus=[[np.zeros((0, 2), dtype=np.int64)] * 9]
                                      + list(cases[2].stimulus[:-1]))
        assert not regression_mesh_bench.score(2, shifted, work_dir).passed
