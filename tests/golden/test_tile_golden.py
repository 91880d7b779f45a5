"""The tile golden model against hand-computed cases of docs/architecture.md.

Unless a test says otherwise the tiny tiles use the default formats: weights and payloads
fixed<8,2> (6 fractional bits, so acc has 12), dendrite and membrane fixed<12,5> (7 bits);
a weight of 64 is 1.0, so one event of payload p gives acc = 64 p and a = 64 p >> 5 = 2 p.
"""

import numpy as np
import pytest

from subtile.spec.config import TileConfig
from subtile.errors import ConfigError
from subtile.spec.fixed import wrap
from subtile.golden.tile import (FloatTileModel, SynapseTable, TileModel, TileState, reset_dirty,
                                 initial_contents, random_stimulus)

ONE = 64    # weight code of 1.0 in fixed<8,2>


def tiny(**changes) -> TileConfig:
    base = dict(neurons=1, branches=1, synapses=1, addresses=2, lanes=1, leak_shift=0, delta=1,
                branch_activation="identity")
    base.update(changes)
    return TileConfig(**base)


def model(config, weights, mapping) -> TileModel:
    """A model with explicit weights (rows x N) and ``mapping`` {address: (branch, slot)}."""
    table = SynapseTable.empty(config)
    tile = TileModel(config, np.array(weights, dtype=np.int64), table)
    for address, (branch, slot) in mapping.items():
        tile.program_table(address, True, branch, slot)
    return tile


def soma(config, v):
    return int(config.soma_spec.plan().evaluate([v])[0])


# -- one event, then the tick ------------------------------------------------------------------
def test_one_event_then_tick_without_leak():
    cfg = tiny()
    tile = model(cfg, [[ONE]], {0: (0, 0)})
    result = tile.step([[0, 32]])                       # payload 0.5
    assert tile.state.acc.tolist() == [[64 * 32]]       # 2048 = 0.5 with 12 fractional bits
    assert tile.state.v.tolist() == [64]                # k = 0: v = u = 0.5 with 7 bits
    y = soma(cfg, 64)
    assert y == 30                                      # tanh(0.5) * 64 = 29.58
    assert result.events_out.tolist() == [[0, 30]]
    assert tile.state.y_sent.tolist() == [30]
    assert tile.state.dirty.tolist() == [False]
    assert (result.synaptic_ops, result.events_in, result.updated_neurons) == (1, 1, 1)


def test_one_event_then_ticks_with_leak_shift_two():
    cfg = tiny(leak_shift=2)
    tile = model(cfg, [[ONE]], {0: (0, 0)})
    first = tile.step([[0, 32]])                        # u = 64
    assert tile.state.v.tolist() == [16]                # 0 + floor(64 / 4)
    assert soma(cfg, 16) == 8                           # tanh(0.125) * 64 = 7.96
    assert first.events_out.tolist() == [[0, 8]]
    assert tile.state.dirty.tolist() == [True]          # floor((64 - 16) / 4) = 12 != 0
    second = tile.step([])                              # no input: v keeps relaxing
    assert tile.state.v.tolist() == [28]                # 16 + floor(48 / 4)
    assert second.events_out.tolist() == [[0, soma(cfg, 28) - 8]]
    assert tile.state.y_sent.tolist() == [soma(cfg, 28)]


@pytest.mark.parametrize("payload, v", [(16, 0), (48, 2), (80, 2), (-16, 0), (-48, -2)])
def test_branch_input_rounds_to_nearest_even(payload, v):
    """acc = p with 12 fractional bits; a drops 5 bits: 0.5 -> 0, 1.5 -> 2, 2.5 -> 2."""
    tile = model(tiny(), [[1]], {0: (0, 0)})
    tile.step([[0, payload]])
    assert tile.state.v.tolist() == [v]


def test_branch_sum_is_exact_before_rounding_to_the_membrane():
    """Two branches of a = 1 (7 bits) into a membrane with 6 bits: 2 -> 1, not 0 + 0."""
    cfg = tiny(branches=2, membrane_format="fixed<12,6>")
    tile = model(cfg, [[ONE], [ONE]], {0: (0, 0), 1: (1, 0)})
    tile.step([[0, 1], [1, 1]])                         # acc = 64 each: a = 2 each
    tile_half = model(cfg, [[32], [32]], {0: (0, 0), 1: (1, 0)})
    tile_half.step([[0, 1], [1, 1]])                    # acc = 32 each: a = 1 each
    assert tile.state.v.tolist() == [2]                 # a = 2 + 2 = 4 -> 2 with 6 bits
    assert tile_half.state.v.tolist() == [1]            # 1 + 1 = 2 -> 1; rounding each a gives 0


def test_branch_activation_output_feeds_the_membrane():
    cfg = tiny(branches=2, branch_activation="softplus")
    plan = cfg.branch_spec.plan()
    tile = model(cfg, [[ONE], [ONE]], {0: (0, 0), 1: (1, 0)})
    tile.step([[0, 32], [1, -16]])                      # a = 64 and -32
    d = plan.evaluate([64, -32])
    assert d.tolist() == [124, 74]                      # softplus(0.5), softplus(-0.25): 124.7, 73.7
    assert tile.state.v.tolist() == [int(d.sum())]      # same 7 bits: u = d0 + d1


def test_branch_input_saturates_to_the_dendrite_format():
    cfg = tiny(dendrite_format="fixed<8,3>")            # 5 fractional bits: a = acc >> 7
    tile = model(cfg, [[-128]], {0: (0, 0)})
    tile.step([[0, -128]])                              # acc = 16384 -> 128 > 127
    assert tile.state.v.tolist() == [127 << 2]          # 127 at 5 bits = 508 at 7 bits


# -- the event phase ---------------------------------------------------------------------------
def test_unmapped_events_are_counted_and_dropped():
    tile = model(tiny(), [[ONE]], {0: (0, 0)})
    tile.step([])
    result = tile.step([[1, 5], [1, -3], [0, 0]])
    assert (result.unmapped_in_step, result.events_in, result.synaptic_ops) == (2, 3, 1)
    assert tile.state.unmapped == 2
    assert tile.state.acc.tolist() == [[0]]
    tile.state.unmapped = 2**32 - 1                     # the counter is 32 bits and wraps
    assert tile.step([[1, 1]]).state.unmapped == 0


def test_zero_weights_neither_write_nor_mark_dirty():
    cfg = tiny(neurons=2, lanes=1)
    tile = model(cfg, [[ONE, 0]], {0: (0, 0)})
    tile.step([])                                       # the first tick clears every dirty bit
    result = tile.step([[0, 32]])
    assert result.updated_neurons == 1 and result.visited_groups == 1
    assert result.synaptic_ops == 1
    assert tile.state.acc.tolist() == [[2048], [0]]
    assert result.events_out[:, 0].tolist() == [0]
    # A zero payload on a non-zero weight still marks the neuron dirty (contract step 2).
    assert tile.step([[0, 0]]).updated_neurons == 1


def test_accumulator_wraps_exactly():
    cfg = tiny()
    assert str(cfg.accumulator_format) == "fixed<16,4>"
    tile = model(cfg, [[127]], {0: (0, 0)})
    assert tile.step([[0, 127]] * 3).synaptic_ops == 3  # level 381 is out of range on purpose
    assert tile.state.acc.tolist() == [[3 * 127 * 127 - 65536]]     # -17149
    tile.step([[0, -127]] * 3)
    assert tile.state.acc.tolist() == [[0]]
    # Within one step: intermediate sums far beyond 16 bits, the final level -5 is in range.
    tile.step([[0, 127]] * 5 + [[0, -128]] * 5)
    assert tile.state.acc.tolist() == [[127 * -5]]
    # Against event-by-event wrapping (the contract's literal order).
    events = [[0, 127]] * 4 + [[0, -100]] * 2 + [[0, 99]] * 3
    acc = 127 * -5
    for _, p in events:
        acc = int(wrap(acc + 127 * p, cfg.accumulator_format))
    tile.step(events)
    assert tile.state.acc.tolist() == [[acc]]


def test_event_order_within_a_step_does_not_matter():
    cfg = TileConfig(neurons=4, branches=2, synapses=4, addresses=8, lanes=2, weight_density=0.7)
    rng = np.random.default_rng(5)
    a, b = TileModel(cfg), TileModel(cfg)
    for _ in range(20):
        events = np.stack([rng.integers(0, 8, 30), rng.integers(-128, 128, 30)], axis=1)
        ra, rb = a.step(events), b.step(events[rng.permutation(len(events))])
        assert ra.state == rb.state, ra.state.diff(rb.state)
        assert np.array_equal(ra.events_out, rb.events_out)


def test_two_array_form_equals_event_pairs():
    cfg = TileConfig()
    stimulus = random_stimulus(cfg, 5, 0.5, seed=2)
    a, b = TileModel(cfg), TileModel(cfg)
    for events in stimulus:
        assert a.step(events).state == b.step(events[:, 0], events[:, 1]).state


# -- the encoder -------------------------------------------------------------------------------
def test_delta_threshold_holds_small_changes_back():
    cfg = tiny(delta=3)
    tile = model(cfg, [[ONE]], {0: (0, 0)})
    tile.step([])
    assert soma(cfg, 4) == 2 and soma(cfg, 6) == 3
    held = tile.step([[0, 2]])                          # v = 4, y = 2 < delta
    assert held.events_out.size == 0
    assert tile.state.y_sent.tolist() == [0] and tile.state.dirty.tolist() == [False]
    sent = tile.step([[0, 1]])                          # level 3: v = 6, y = 3 >= delta
    assert sent.events_out.tolist() == [[0, 3]]


def test_delta_zero_behaves_like_one_and_never_sends_zero():
    base = TileConfig(neurons=4, branches=2, synapses=4, addresses=8, lanes=2)
    stimulus = random_stimulus(base, 60, 0.4, seed=9)
    zero = TileModel(base.replace(delta=0)).run(stimulus)
    one = TileModel(base.replace(delta=1)).run(stimulus)
    sent = 0
    for r0, r1 in zip(zero, one):
        assert np.array_equal(r0.events_out, r1.events_out)
        assert r0.state == r1.state
        assert np.all(r0.events_out[:, 1] != 0)
        sent += len(r0.events_out)
    assert sent > 0


@pytest.mark.parametrize("delta, tail", [(1, [[[0, 7]], [[0, 1]]]), (2, [[[0, 7]], []])])
def test_saturated_payload_leaves_a_rest_sent_without_new_input(delta, tail):
    """payload fixed<4,1>: codes -8..7; y jumps from -8 to 7, a change of 15."""
    cfg = tiny(payload_format="fixed<4,1>", delta=delta)
    assert soma(cfg, -254) == -8 and soma(cfg, 190) == 7
    tile = model(cfg, [[127]], {0: (0, 0)})
    results = [tile.step([[0, -8]]),                    # acc -1016 -> a = -254
               tile.step([[0, 7], [0, 7]])]             # level 6: acc 762 -> 190.5 -> 190
    assert results[0].events_out.tolist() == [[0, -8]]
    assert results[1].events_out.tolist() == [[0, 7]]   # saturated: the rest is 8
    assert tile.state.y_sent.tolist() == [-1] and tile.state.dirty.tolist() == [True]
    for expected in tail:                               # no new input
        assert tile.step([]).events_out.tolist() == expected
    assert tile.state.dirty.tolist() == [False]
    assert tile.step([]).updated_neurons == 0
    sent = sum(int(r.events_out[:, 1].sum()) for r in results) + sum(p for e in tail for _, p in e)
    assert tile.state.y_sent.tolist() == [sent] == [7 if delta == 1 else 6]


# -- the leak ----------------------------------------------------------------------------------
def test_leak_stops_below_u_from_below_and_reaches_u_from_above():
    cfg = tiny(leak_shift=2)
    tile = model(cfg, [[ONE]], {0: (0, 0)})
    trace = [tile.step([[0, 32]]).state]                # u = 64
    while trace[-1].dirty[0]:
        trace.append(tile.step([]).state)
        assert len(trace) < 40
    assert [int(s.v[0]) for s in trace] == [16, 28, 37, 43, 48, 52, 55, 57, 58, 59, 60, 61]
    assert 64 - trace[-1].v[0] == 2**2 - 1              # the floor's fixed point
    assert trace[-1].y_sent[0] == soma(cfg, 61)
    assert tile.step([]).updated_neurons == 0
    tile.step([[0, -64]])                               # level -32: u = -64, from above
    for _ in range(40):
        if not tile.step([]).state.dirty[0]:
            break
    assert tile.state.v.tolist() == [-64] and not tile.state.dirty[0]


@pytest.mark.parametrize("soma", ["tanh", "gelu", "relu"])
def test_a_settled_reset_state_is_not_dirty(soma):
    """f(0) = 0: the all-zero state is settled, so an idle tile does no work even at first."""
    cfg = tiny(neurons=4, lanes=2, soma_activation=soma)
    tile = model(cfg, [[0, 0, 0, 0]], {})
    assert not reset_dirty(cfg) and not tile.state.dirty.any()
    first = tile.step([])
    assert (first.updated_neurons, first.visited_groups, first.events_out.size) == (0, 0, 0)
    # updating anyway would change nothing: the flag only saves work
    tile.state.dirty[:] = True
    again = tile.step([])
    assert again.events_out.size == 0 and not tile.state.v.any() and not tile.state.dirty.any()


def test_first_tick_updates_every_neuron():
    cfg = tiny(neurons=4, lanes=2, soma_activation="sigmoid")
    tile = model(cfg, [[0, 0, 0, 0]], {})
    assert tile.state.dirty.all() and reset_dirty(cfg)      # sigmoid(0) = 0.5: not settled
    first = tile.step([])
    assert (first.updated_neurons, first.visited_groups) == (4, 2)
    assert first.events_out.tolist() == [[n, 32] for n in range(4)]    # sigmoid(0) = 0.5
    second = tile.step([])
    assert (second.updated_neurons, second.visited_groups, second.events_out.size) == (0, 0, 0)


def test_outputs_leave_in_ascending_neuron_order():
    cfg = TileConfig(neurons=8, lanes=2, addresses=8, branches=1, synapses=8, weight_density=1.0)
    for result in TileModel(cfg).run(random_stimulus(cfg, 30, 0.5, seed=4)):
        assert np.all(np.diff(result.events_out[:, 0]) > 0)


# -- memories and programming ------------------------------------------------------------------
def test_initial_contents_are_deterministic_and_follow_the_config():
    cfg = TileConfig()
    w1, t1 = initial_contents(cfg)
    w2, t2 = initial_contents(cfg)
    assert np.array_equal(w1, w2) and np.array_equal(t1.encode(), t2.encode())
    w3, _ = initial_contents(cfg.replace(seed=2))
    assert not np.array_equal(w1, w3)
    assert w1.shape == (cfg.rows, cfg.neurons) and w1.dtype == np.int64
    assert cfg.weight_format.contains(w1).all()
    assert 0.4 < np.mean(w1 != 0) < 0.6
    assert t1.valid.sum() == round(0.9 * 64) == 58
    rows = t1.rows[t1.valid]
    assert len(set(rows.tolist())) == 58 and rows.max() < cfg.rows
    assert not t1.branch[~t1.valid].any() and not t1.slot[~t1.valid].any()
    assert np.all(initial_contents(cfg.replace(weight_density=1.0))[0] != 0)
    assert not initial_contents(cfg.replace(weight_density=0.0))[0].any()
    assert initial_contents(cfg.replace(addresses=200, table_fill=1.0))[1].valid.sum() == cfg.rows
    default = TileModel(cfg)
    assert np.array_equal(default.weights, w1)
    assert np.array_equal(default.table.encode(), t1.encode())


def test_table_words_pack_valid_branch_slot_and_round_trip():
    cfg = TileConfig()                                  # 2 branch bits, 4 slot bits
    table = SynapseTable.empty(cfg)
    table.valid[3], table.branch[3], table.slot[3] = True, 3, 5
    words = table.encode()
    assert words[3] == 1 | 3 << 1 | 5 << 3 == 47
    assert not words[np.arange(64) != 3].any()
    _, initial = initial_contents(cfg)
    back = SynapseTable.decode(initial.encode(), cfg)
    for name in ("valid", "branch", "slot"):
        assert np.array_equal(getattr(back, name), getattr(initial, name))
    every = np.arange(64) % (1 << cfg.table_entry_width)     # including invalid words with fields
    assert np.array_equal(SynapseTable.decode(every, cfg).encode(), every)
    with pytest.raises(ConfigError, match="words: 128 at address 0"):
        SynapseTable.decode(np.full(64, 128), cfg)
    odd = tiny(branches=3, addresses=1)                 # branch field 3 exists but is no branch
    with pytest.raises(ConfigError, match="table.branch: 3 at address 0"):
        SynapseTable.decode([1 | 3 << 1], odd)


def test_programming_port_changes_behaviour_and_validates():
    cfg = tiny()
    tile = model(cfg, [[0]], {})
    tile.step([])
    assert tile.step([[0, 32]]).unmapped_in_step == 1
    tile.program_table(0, True, 0, 0)
    tile.program_weight(0, 0, ONE)
    assert tile.step([[0, 32]]).events_out.tolist() == [[0, 30]]
    tile.program_table(0, False)
    assert tile.step([[0, -32]]).unmapped_in_step == 1
    for call, message in [(lambda: tile.program_weight(0, 0, 128), "value: 128 is outside the allowed range -128..127"),
                          (lambda: tile.program_weight(1, 0, 0), "row: 1 is outside the allowed range 0..0"),
                          (lambda: tile.program_weight(0, 1, 0), "neuron: 1 is outside"),
                          (lambda: tile.program_table(2, True), "address: 2 is outside the allowed range 0..1"),
                          (lambda: tile.program_table(0, True, 1, 0), "branch: 1 is outside"),
                          (lambda: tile.program_table(0, True, 0, 1), "slot: 1 is outside"),
                          (lambda: tile.program_table(0, 2), "valid: expected a bool")]:
        with pytest.raises(ConfigError, match=message):
            call()
    with pytest.raises(ConfigError, match="weights: shape"):
        TileModel(cfg, np.zeros((2, 1), dtype=np.int64))
    with pytest.raises(ConfigError, match="weights: weight 200"):
        TileModel(cfg, [[200]])


@pytest.mark.parametrize("events, message", [
    ([[2, 1]], r"events: address 2 at index 0 is outside the allowed range 0\.\.1"),
    ([[0, 1], [-1, 1]], r"events: address -1 at index 1"),
    ([[0, 128]], r"events: payload 128 at index 0 is outside the allowed range -128\.\.127"),
    ([[0, -129]], r"events: payload -129"),
    ([0, 1, 2], r"events: expected an \(E, 2\) array"),
    ([[0.0, 1.0]], r"events: expected integer codes"),
])
def test_invalid_events_are_refused(events, message):
    tile = model(tiny(), [[ONE]], {0: (0, 0)})
    before = tile.state.copy()
    with pytest.raises(ConfigError, match=message):
        tile.step(events)
    assert tile.state == before


# -- state reports -----------------------------------------------------------------------------
def test_state_diff_names_neuron_field_and_values():
    cfg = tiny(neurons=2, branches=2)
    expected = TileState.reset(cfg)
    got = expected.copy()
    assert got == expected and expected.diff(got) == []
    got.acc[1, 0] = 5
    got.dirty[0] = False
    got.unmapped = 3
    assert got != expected
    assert expected.diff(got) == ["tile: unmapped expected 0, got 3",
                                  "neuron 0: dirty expected True, got False",
                                  "neuron 1: acc[0] expected 0, got 5"]


# -- stimulus ----------------------------------------------------------------------------------
@pytest.mark.parametrize("jump", [0.5, 0.8, 1.0])
def test_random_stimulus_payloads_fit_even_for_large_jumps(jump):
    cfg = TileConfig(payload_format="fixed<8,2>", addresses=64)
    for events in random_stimulus(cfg, 200, 1.0, seed=4, jump=jump):
        assert cfg.payload_format.contains(events[:, 1]).all()


def test_random_stimulus_keeps_levels_in_range():
    cfg = TileConfig(payload_format="fixed<4,1>", addresses=32)
    stimulus = random_stimulus(cfg, 300, 0.5, seed=3)
    assert len(stimulus) == 300
    level = np.zeros(32, dtype=np.int64)
    shuffled = False
    for events in stimulus:
        assert events.dtype == np.int64 and events.shape[1] == 2
        addresses = events[:, 0]
        assert len(set(addresses.tolist())) == len(addresses)
        assert np.all(events[:, 1] != 0)
        shuffled |= bool(np.any(np.diff(addresses) < 0))
        level[addresses] += events[:, 1]
        assert cfg.payload_format.contains(level).all()
    assert shuffled
    total = sum(len(e) for e in stimulus)
    assert 0.3 * 300 * 32 < total < 0.5 * 300 * 32
    again = random_stimulus(cfg, 300, 0.5, seed=3)
    assert all(np.array_equal(x, y) for x, y in zip(stimulus, again))
    assert all(e.size == 0 for e in random_stimulus(cfg, 10, 0.0, seed=3))
    with pytest.raises(ConfigError, match="activity"):
        random_stimulus(cfg, 10, 1.5, seed=3)


# -- the float reference -----------------------------------------------------------------------
def test_float_model_stays_within_a_few_lsb_of_the_exact_model():
    """Bound: both encoders leave under delta = 1 LSB unsent; the soma unit is within 1 LSB;
    v differs by the leak floor (< 2**k = 2 membrane LSB) plus the roundings of a and u, i.e.
    about 1.25 payload LSB through tanh (slope <= 1, membrane LSB = payload LSB / 2)."""
    cfg = TileConfig(neurons=4, branches=2, synapses=4, addresses=8, lanes=1, leak_shift=1, delta=1)
    stimulus = random_stimulus(cfg, 200, 0.3, seed=3)
    exact, real = TileModel(cfg).run(stimulus), FloatTileModel(cfg).run(stimulus)
    lsb = cfg.payload_format.lsb
    errors = [np.abs(e.state.y_sent * lsb - f.state.y_sent).max() / lsb for e, f in zip(exact, real)]
    assert max(errors) <= 4.0
    # The accumulators hold exact sums of power-of-two reals in both models.
    assert np.array_equal(exact[-1].state.acc * cfg.accumulator_format.lsb, real[-1].state.acc)
    # Same receiver bookkeeping: the running sum of sent payloads is y_sent.
    totals = np.zeros(cfg.neurons)
    for result in real:
        np.add.at(totals, result.events_out[:, 0].astype(int), result.events_out[:, 1])
    assert np.allclose(totals, real[-1].state.y_sent)


def test_float_tile_takes_the_real_weights_the_codes_came_from():
    """``real_weights`` replaces the codes' real values in the float tile only (a sweep's
    unquantized reference); the real values of the codes themselves give the default model."""
    from subtile.golden.tile import FloatTileModel, random_stimulus
    config = TileConfig(neurons=4, branches=2, synapses=4, addresses=8, lanes=4, delta=1)
    weights, table = initial_contents(config)
    stimulus = random_stimulus(config, 12, 0.5, 3)
    same = FloatTileModel(config, weights, table, real_weights=config.weight_format.to_real(weights))
    default = FloatTileModel(config, weights, table)
    nudged = FloatTileModel(config, weights, table,
                            real_weights=config.weight_format.to_real(weights) + 0.3 * (weights != 0))
    a, b, c = ([m.step(e).state.y_sent for e in stimulus] for m in (same, default, nudged))
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert any(not np.array_equal(x, z) for x, z in zip(a, c))
    with pytest.raises(ConfigError, match=r"^real_weights: expected finite reals of shape \(8, 4\)"):
        FloatTileModel(config, weights, table, real_weights=np.zeros((3, 4)))
