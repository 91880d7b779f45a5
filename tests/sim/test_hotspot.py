"""Hotspot saturation of the router network: every tile injects in every cycle towards one tile.

Checked inside the simulation: per source, every packet arrives once and in order (a sequence
number per source), none reaches another tile, the network drains (no deadlock) within a bound
set by its buffer capacity. The short version runs by default; the soak (>= 10^5 packets per
mesh) carries the ``slow`` marker. Both print their figures.
"""

import pytest

import numpy as np

from subtile.sim.hotspot import HotspotBench, HotspotCase, round_robin_shares

SHAPES = [(2, 2), (3, 3), (4, 4)]
# One clock-gating mode of the routers per shape: the three modes in one build.
GATING = ["none", "enable", "icg"]
FIFO_DEPTH = 4


@pytest.fixture(scope="session")
def hotspot_bench():
    return HotspotBench(SHAPES, fifo_depth=FIFO_DEPTH, name="hotspot_bench", gating=GATING)


def check(result, stall, hotspot):
    figures = result.to_dict()
    print(f"hotspot {figures}")
    assert result.errors == 0, "a packet arrived out of sequence (lost, duplicated or reordered)"
    assert result.stray == 0, "a packet reached a tile other than the hotspot"
    assert result.received == result.packets and result.complete
    # All remaining packets sit in the FIFOs and leave the hotspot at one per ready cycle.
    bound = result.buffer_capacity / (1 - stall) + 4 * (result.width + result.height) + 16
    assert result.drain_cycles <= bound, f"drain took {result.drain_cycles} cycles, bound {bound:.0f}"
    assert result.max_fifo_occupancy == FIFO_DEPTH         # saturated: some FIFO fills up
    # The hotspot's ejection port is the bottleneck: at most one packet per cycle.
    assert result.cycles >= result.packets
    check_fairness(result, stall, hotspot)


def check_fairness(result, stall, hotspot):
    """Per-source throughput under saturation (while every source still injects): round robin
    at every output gives each source its share of the routing tree (round_robin_shares), so
    none starves; a fixed-priority arbiter gives some source nothing."""
    received = np.array(result.window_received)
    total = received.sum()
    expected = round_robin_shares(result.width, result.height, hotspot) * total
    print(f"hotspot {result.width}x{result.height} at {hotspot}: window {result.window_cycles} cycles, "
          f"received per source {received.tolist()}, round robin predicts {np.round(expected, 1).tolist()}")
    assert total >= 0.9 * result.window_cycles * (1 - stall) - 50, "the hotspot port idled"
    assert received.min() > 0, f"source {int(received.argmin())} starved under saturation"
    slack = 0.2 * expected + 4
    bad = np.flatnonzero(np.abs(received - expected) > slack)
    assert not bad.size, (f"source {int(bad[0])} got {int(received[bad[0]])} packets in the saturation window, "
                          f"round robin gives {expected[bad[0]]:.1f}")
    spread = received.max() / received.min()
    bound = 1.5 * (expected.max() / expected.min())
    assert spread <= bound, f"per-source throughput spread {spread:.1f}, bound {bound:.1f}"


class TestHotspot:
    def test_hotspot_short(self, hotspot_bench, tmp_path_factory):
        cases = {0: HotspotCase(1500, (1, 0), stall=0.5, seed=3),
                 1: HotspotCase(600, (1, 1), stall=0.0, seed=4),
                 2: HotspotCase(300, (3, 3), stall=0.2, seed=5)}
        results = hotspot_bench.run(cases, work_dir=tmp_path_factory.mktemp("hotspot-short"))
        for index, result in results.items():
            check(result, cases[index].stall, cases[index].hotspot)

    @pytest.mark.slow
    @pytest.mark.parametrize("stall", [0.0, 0.5])
    def test_hotspot_soak(self, hotspot_bench, tmp_path_factory, stall):
        """At least 10^5 packets per mesh: 3x3 towards the centre, 4x4 towards a corner, 2x2."""
        cases = {0: HotspotCase(25_000, (0, 0), stall=stall, seed=7),
                 1: HotspotCase(11_112, (1, 1), stall=stall, seed=8),
                 2: HotspotCase(6_250, (3, 3), stall=stall, seed=9)}
        results = hotspot_bench.run(cases, work_dir=tmp_path_factory.mktemp("hotspot-soak"))
        for index, result in results.items():
            assert result.packets >= 100_000
            check(result, stall, cases[index].hotspot)
