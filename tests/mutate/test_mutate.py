"""Mutation testing of the verification (``subtile mutate``) and crash-safe resumption.

The short run (6 mutants of a small tile, one Verilator build shared by the tests of the class)
is in the default test run; the 60-mutant run on the default tile carries the ``slow`` marker.
The kill/resume test kills a running ``subtile mutate`` with SIGKILL, starts it again and checks
that the results equal those of an uninterrupted run, with nothing lost or stored twice.
"""

import functools
import json

import numpy as np
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from subtile.cli.main import main
from subtile.spec.config import TileConfig
from subtile.mutate.run import mutation_bench_design
from subtile.golden.tile import initial_contents
from subtile.errors import ConfigError
from subtile.spec.fixed import Overflow, Rounding, resize, shift_right
from subtile.golden.tile import TileModel
from subtile.mutate.operators import CLASSIC, OPERATOR_NAMES
from subtile.mutate.equivalents import load_equivalents, match_equivalent
from subtile.mutate.proofs import equivalence_check
from subtile.mutate.regression import (regression_cases, rounding_targets, saturation_ramp, settling_emissions,
                                      settling_emitters)
from subtile.mutate.report import build_report
from subtile.mutate.sites import (PLUSARG, SELECT, UNITS, copy_pattern, find_mutations, instrument,
                                  select_mutations, unit_of)
from subtile.sim.tile_bench import _apply_writes
from subtile.store import StoredResult

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
EQUIVALENTS = EXAMPLES.parent / "docs" / "mutation-equivalents.toml"
SMALL = ('[tile]\nname = "mt"\nneurons = 4\nlanes = 2\nbranches = 2\nsynapses = 4\naddresses = 12\n'
         'gating = "icg"\n')
# The run must kill some mutants to test the report. Seed 3 drew other mutants once duplicate
# faults were merged: three of the new five are equivalent for this small tile (it cannot reach
# its saturation limits) and one needs a write offered while an event is in flight, which the
# harness never does. Seed 5 with 24 steps (8 are too few for any neuron to settle) kills two.
ARGS = ["-n", "5", "--seed", "5", "--steps", "24", "--harnesses", "2"]


@functools.cache
def small_bench_verilog(harnesses=2):
    config = TileConfig(name="mt", neurons=4, lanes=2, branches=2, synapses=4, addresses=12)
    design = mutation_bench_design([config] * harnesses, [initial_contents(config)] * harnesses, top="mtb")
    return design.verilog


def test_sites_cover_every_unit_and_every_harness_gets_the_same_faults():
    verilog = small_bench_verilog()
    candidates = find_mutations(verilog, "mtb")
    assert {m.unit for m in candidates} == set(UNITS)
    assert {m.kind for m in candidates} == set(OPERATOR_NAMES)
    classic = find_mutations(verilog, "mtb", operators=CLASSIC)
    assert classic == [m for m in candidates if m.kind in CLASSIC]      # the first runs' faults, unchanged
    chosen = select_mutations(candidates, 14, seed=5)
    assert {m.unit for m in chosen} == set(UNITS)                   # two per unit, round robin
    assert chosen == select_mutations(candidates, 14, seed=5)        # deterministic from the seed
    assert chosen != select_mutations(candidates, 14, seed=6)
    assert len(set(chosen)) == 14 and all(m.mutated != m.original for m in chosen)
    text = instrument(verilog, "mtb", 2, chosen)
    for number, mutation in enumerate(chosen, start=1):
        guard = f"({SELECT} == 16'd{number}) ? ({mutation.mutated})"
        assert text.count(guard) == 2, mutation.describe()            # in both harnesses' tiles
    assert text.count(f'$value$plusargs("{PLUSARG}=%d"') == 2 * len({m.module for m in chosen})
    # outside the guarded statements the Verilog is unchanged
    assert len(text.splitlines()) == len(verilog.splitlines()) + 2 * 2 * len({m.module for m in chosen})


def test_signals_nobody_reads_are_not_sites():
    """A fault on a signal that is read nowhere is equivalent by construction: never a site."""
    verilog = small_bench_verilog()
    for mutation in find_mutations(verilog, "mtb"):
        assert mutation.lhs.strip() != "s2_branch"
    assert "assign s2_branch" in verilog          # the dead alias exists in the generated Verilog


def _entry_toml(mutation, cls="equivalent", reason="why", module=None, **extra):
    def q(text):
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    fields = {"module": module or mutation.module, "lhs": mutation.lhs.strip(), "original": mutation.original,
              "mutated": mutation.mutated, "class": cls, "reason": reason}
    lines = ["[[mutant]]"] + [f"{k} = {q(v)}" for k, v in fields.items()]
    lines += [f"{k} = {v}" for k, v in extra.items()]
    return "\n".join(lines) + "\n"


def test_an_analysed_mutant_keeps_its_key_when_unrelated_statements_are_added(tmp_path):
    """Analyses name a site by its text, not its position: an unrelated statement inserted before
    it (which shifts every ordinal of the module) leaves the key and the analysis matching."""
    verilog = small_bench_verilog()
    before = find_mutations(verilog, "mtb")
    site = next(m for m in before if m.module == "tile.lane_1.encoder" and m.kind == "operator")
    header = "module \\mtb.h0.tile.lane_1.encoder "
    start = verilog.index(header)
    first = verilog.index("\n  assign ", start)
    edited = (verilog[:first] + "\n  wire unrelated_probe;\n  assign unrelated_probe = y_sent[0] ^ y[0];"
              + verilog[first:])
    after = find_mutations(edited, "mtb")
    moved = [m for m in after if m.key == site.key]
    assert len(moved) == 1 and moved[0].statement == site.statement + 1          # the ordinal moved ...
    assert {m.key for m in before} <= {m.key for m in after}                      # ... no key did
    path = tmp_path / "eq.toml"
    path.write_text(_entry_toml(site))
    entries = load_equivalents(path)
    assert match_equivalent(entries, moved[0]) is entries[0]
    # lane_* stands for every lane: the copies of one description have the same statement text
    path.write_text(_entry_toml(site, module=copy_pattern(site.module)))
    entries = load_equivalents(path)
    copies = [m for m in after if m.key[1:] == site.key[1:] and match_equivalent(entries, m)]
    assert {m.module for m in copies} == {"tile.lane_0.encoder", "tile.lane_1.encoder"}
    assert match_equivalent(entries, next(m for m in after if m.key[1:] != site.key[1:])) is None


def test_statements_of_the_same_text_are_told_apart():
    candidates = find_mutations(small_bench_verilog(), "mtb")
    keys = [m.key for m in candidates]
    assert len(set(keys)) == len(keys)
    assert any(m.occurrence > 0 for m in candidates)            # the case arms of an always @* block


def test_report_names_survivors_killed_entries_and_stale_entries(tmp_path):
    verilog = small_bench_verilog()
    candidates = find_mutations(verilog, "mtb")
    chosen = select_mutations(candidates, 3, seed=2)
    path = tmp_path / "eq.toml"
    ghost = "[[mutant]]\nmodule = \"tile.state\"\nlhs = \"nothing\"\noriginal = \"a\"\nmutated = \"b\"\n" \
            "class = \"equivalent\"\nreason = \"a site the HDL no longer has\"\n"
    path.write_text(_entry_toml(chosen[0]) + _entry_toml(chosen[1], cls="equivalent-config") + ghost)
    entries = load_equivalents(path)
    results = [StoredResult("r", f"{n:04d}", "ok", {}, {"killed": n == 2, "reason": None, "first_mismatch": None,
                                                         "cycles": 1}, None, 0.0, 1) for n in (1, 2, 3)]
    bench = type("B", (), {"mutations": chosen, "candidates": candidates})()
    config = SimpleNamespace(to_dict=dict)
    report = build_report(config, bench, results, equivalents=entries, count=3, seed=2, steps=2,
                     baseline={"cycles": 1}, work_dir=tmp_path, db=path, run_name="r")
    assert report["contradicted_equivalents"] == [2]                  # listed, but the regression kills it
    assert [r["classification"] for r in report["survivors"]] == ["equivalent", "real"]
    assert report["equivalent"] == 1 and report["score_without_equivalent"] == 0.5
    assert len(report["stale_equivalents"]) == 1 and report["stale_equivalents"][0].startswith("entry 2 ")


@pytest.mark.parametrize("text, message", [
    ('module = "tile"\nlhs = "a"\noriginal = "b"\nmutated = "c"\nclass = "equivalent"\n',
     "entry 0 of {path} lacks reason"),
    ('module = "tile"\nstatement = 3\nlhs = "a"\noriginal = "b"\nmutated = "c"\nclass = "equivalent"\n'
     'reason = "r"\n', "entry 0 of {path} has `statement`"),
    ('module = "tile"\nlhs = "a"\noriginal = "b"\nmutated = "c"\nclass = "maybe"\nreason = "r"\n',
     "entry 0 of {path}: class 'maybe' is not one of equivalent, equivalent-config"),
    ('module = "h0.tile"\nlhs = "a"\noriginal = "b"\nmutated = "c"\nclass = "equivalent"\nreason = "r"\n',
     "entry 0 of {path}: module 'h0.tile' is not a module path below the harness"),
    ('module = "tile"\nlhs = "a"\noriginal = "b"\nmutated = "c"\nclass = "equivalent"\nreason = ""\n',
     "entry 0 of {path}: reason must be a non-empty string"),
    ('module = "tile"\nlhs = "a"\noriginal = "b"\nmutated = "c"\nclass = "equivalent"\nreason = "r"\n'
     'occurrence = -1\n', "entry 0 of {path}: occurrence -1 is outside the allowed range 0.."),
    ('module = "tile"\nlhs = "a"\noriginal = "b"\nmutated = "c"\nclass = "equivalent"\nreason = "r"\n'
     'colour = "red"\n', "entry 0 of {path} has unknown key(s) colour"),
])
def test_bad_equivalents_entries_are_refused_with_one_line(tmp_path, text, message):
    path = tmp_path / "eq.toml"
    path.write_text("[[mutant]]\n" + text)
    with pytest.raises(ConfigError) as error:
        load_equivalents(path)
    assert str(error.value).startswith("equivalent: " + message.format(path=path))
    assert "\n" not in str(error.value)


def test_a_repeated_equivalents_entry_is_refused(tmp_path):
    entry = ('[[mutant]]\nmodule = "tile"\nlhs = "a"\noriginal = "b"\nmutated = "c"\nclass = "equivalent"\n'
             'reason = "r"\n')
    path = tmp_path / "eq.toml"
    path.write_text(entry + entry)
    with pytest.raises(ConfigError, match="entry 1 of .* repeats entry 0"):
        load_equivalents(path)


def test_the_shipped_equivalents_file_is_valid():
    entries = load_equivalents(EXAMPLES.parent / "docs" / "mutation-equivalents.toml")
    assert all(e["reason"] for e in entries)


@functools.cache
def default_bench_verilog():
    """The default tile in a one-harness bench (the module paths below the harness are those of
    the `subtile mutate` run)."""
    config = TileConfig()
    return mutation_bench_design([config], [initial_contents(config)], top="dtb").verilog


@functools.cache
def default_candidates():
    return find_mutations(default_bench_verilog(), "dtb")


def _proved_entries():
    """The entries with a proof; those on a whole neuron lane (4 branch tanh units, the soma and
    the encoder in one SAT problem, 20-30 s each) run with the slow tests."""
    return [pytest.param(entry, id=f"entry{entry['entry']}",
                         marks=[pytest.mark.slow] if unit_of(entry["module"].replace("*", "0")) == "neuron" else [])
            for entry in load_equivalents(EQUIVALENTS) if entry.get("proof") == "sat"]


class TestEquivalenceProofs:
    """The analyses of docs/mutation-equivalents.toml that say ``proof = "sat"`` are proved
    here with Yosys' SAT solver on the default tile's generated Verilog."""

    @pytest.mark.parametrize("entry", _proved_entries())
    def test_entry_is_proved(self, entry, tmp_path):
        sites = [m for m in default_candidates() if match_equivalent([entry], m)]
        assert sites, f"entry {entry['entry']} names no mutation site of the default tile (stale)"
        proved, why = equivalence_check(default_bench_verilog(), "dtb", sites[0], assume=entry.get("assume"),
                                        work_dir=tmp_path)
        assert proved, f"entry {entry['entry']}: {why}"

    def test_a_real_fault_gets_a_counterexample(self, tmp_path):
        """The check can fail: a fault the regression kills is not proved equivalent."""
        site = next(m for m in find_mutations(small_bench_verilog(), "mtb")
                    if m.module == "tile.lane_0.encoder" and m.lhs.strip() == "diff" and m.kind == "operator")
        proved, why = equivalence_check(small_bench_verilog(), "mtb", site, work_dir=tmp_path)
        assert not proved and why.startswith("counterexample: ") and "y_sent" in why
        # the same fault under a premise that pins the inputs to where it is harmless (y_sent = 0)
        proved, why = equivalence_check(small_bench_verilog(), "mtb", site, assume="y_sent == 8'd0",
                                        work_dir=tmp_path / "assumed")
        assert proved, why


def test_premises_of_the_equivalent_config_entries():
    """The ranges the `equivalent-config` reasons rely on, checked exhaustively with the golden
    model on the default tile: branch outputs within +-1.0, so u and v within +-4.0 (v' lies
    between v and u); one update moves the soma output y by less than 127 - (delta - 1) codes,
    so with |y - y_sent| <= delta - 1 before an update (true after every update that does not
    clip, and at reset) the encoder's diff stays inside the payload format: it never clips."""
    config = TileConfig()
    dendrite, membrane, payload = config.dendrite_format, config.membrane_format, config.payload_format
    branch = config.branch_spec.plan().evaluate(dendrite.all_codes())
    one = 1 << dendrite.frac_bits
    assert branch.min() >= -one and branch.max() <= one
    sums = np.arange(config.branches * branch.min(), config.branches * branch.max() + 1)
    u = resize(sums, dendrite.frac_bits, membrane, Rounding.NEAREST_EVEN, Overflow.SATURATE)
    assert (u == sums).all() and np.abs(u).max() <= 4 * one < membrane.max_code      # no saturation
    v = np.arange(u.min(), u.max() + 1)[:, None]
    v_new = v + shift_right(u[None, :] - v, config.leak_shift, Rounding.FLOOR)
    assert v_new.min() >= u.min() and v_new.max() <= u.max()                         # the invariant
    soma = config.soma_spec.plan().evaluate(membrane.all_codes())
    y = lambda codes: soma[codes - membrane.min_code]
    move = y(v_new) - y(v)
    slack = config.delta - 1
    assert move.max() + slack <= payload.max_code and move.min() - slack >= payload.min_code
    assert (move.min(), move.max()) == (-68, 67)                  # the figure the reasons quote


def _golden_run(config, case, record):
    """Run a regression case on the golden model, ``record(model, index)`` before each update."""
    class Recording(TileModel):
        def _update(self, index):
            record(self, index)
            return super()._update(index)
    model = Recording(config)
    for step in case.stimulus:
        _apply_writes(model, config, step.writes)
        events = np.asarray(step.events, dtype=np.int64).reshape(-1, 2)
        model.step(events[:, 0], events[:, 1])


def test_the_regression_reaches_every_activation_segment():
    """Every segment of the branch and soma tanh interpolators (and past the last one), for
    positive and negative inputs, is exercised by the regression every mutant faces."""
    config = TileConfig()
    seen = {"branch": [], "soma": []}

    def record(model, index):
        state = model.state
        a = resize(state.acc[index], config.accumulator_frac_bits, config.dendrite_format,
                   Rounding.NEAREST_EVEN, Overflow.SATURATE)
        seen["branch"].append(a.ravel())
        d = config.branch_spec.plan().evaluate(a)
        u = resize(d.sum(axis=1), config.dendrite_format.frac_bits, config.membrane_format,
                   Rounding.NEAREST_EVEN, Overflow.SATURATE)
        v = state.v[index]
        seen["soma"].append(v + shift_right(u - v, config.leak_shift, Rounding.FLOOR))

    for case in regression_cases(config, 24, 1):
        _golden_run(config, case, record)
    for unit, plan in (("branch", config.branch_spec.plan()), ("soma", config.soma_spec.plan())):
        x = np.concatenate(seen[unit])
        segments = np.abs(x) >> plan.segment_shift
        for sign in (x > 0, x < 0):
            assert set(range(plan.used_segments + 1)) <= set(np.minimum(segments[sign], plan.used_segments)), unit


def test_every_accumulator_walks_the_rounding_targets():
    """After step i of the saturation ramp every accumulator of the default tile holds target i:
    with one lane per neuron a fault in one lane's copy of the rounding is seen by that neuron
    only, so each neuron must pass the places where the rounding decides. They include both
    saturation thresholds one code at a time (a rounding constant 2 too large in the lower check
    is wrong for -65554 and -65553 only) and codes next to rounding ties of both parities."""
    config = TileConfig()
    steps, targets = saturation_ramp(config), rounding_targets(config)
    assert len(steps) == len(targets) and len(steps) <= 70
    first = regression_cases(config, 24, 1)[3].stimulus[0]          # the saturation case starts with it
    assert first.writes == steps[0].writes and (first.events == steps[0].events).all()
    model = TileModel(config)
    for step, target in zip(steps, targets):
        _apply_writes(model, config, step.writes)
        model.step(np.asarray(step.events, dtype=np.int64).reshape(-1, 2))
        assert (model.state.acc == target).all(), target
    assert {65519, 65520, -65552, -65553, -65554} <= set(targets)
    shift = config.accumulator_frac_bits - config.dendrite_format.frac_bits
    ties = [t for t in targets if abs(t) < 1 << 16 and abs(t) % (1 << shift) in (15, 16, 17)]
    assert {(t > 0, (abs(t) >> shift) & 1) for t in ties} == {(s, p) for s in (True, False) for p in (0, 1)}


def test_every_neuron_emits_in_an_update_that_settles_it():
    """The first case starts with :func:`settling_emissions`: on the golden model every neuron of
    the default tile emits in an update after which it is clean, where the encoder's threshold
    and rest test decide (a rest test on y_sent instead of y keeps such a neuron dirty). Its
    input levels end at 0, so the random input after it keeps the payload bounds."""
    config = TileConfig()
    steps = settling_emissions(config, 1)
    assert len(steps) == 48
    first = regression_cases(config, 24, 1)[0].stimulus
    assert all((a.events == b.events).all() for a, b in zip(first, steps))
    model, seen, level = TileModel(config), set(), np.zeros(config.addresses, dtype=np.int64)
    for step in steps:
        events = np.asarray(step.events, dtype=np.int64).reshape(-1, 2)
        np.add.at(level, events[:, 0], events[:, 1])
        assert (np.abs(level) <= config.payload_format.max_code).all()
        result = model.step(events)
        for neuron, sign in settling_emitters(result).tolist():
            # the emission is exactly delta, and the neuron went clean in the same update
            assert abs(int(result.events_out[result.events_out[:, 0] == neuron][0, 1])) == config.delta
            assert not result.state.dirty[neuron]
            seen.add((neuron, sign))
    assert {neuron for neuron, _ in seen} == set(range(config.neurons))
    assert len(seen) > config.neurons                     # some neurons in both directions
    assert not level.any()


def test_bad_mutate_arguments_are_refused(capsys, tmp_path):
    assert main(["mutate", "-n", "0"]) == 2
    assert capsys.readouterr().err.strip() == "subtile: error: n: 0 is outside the allowed range 1..65535"
    assert main(["mutate", "--harnesses", "9"]) == 2
    assert "harnesses: 9 is outside the allowed range 1..4" in capsys.readouterr().err
    assert main(["mutate", "--db", str(tmp_path)]) == 2
    assert capsys.readouterr().err.startswith(f"subtile: error: db: {tmp_path} is a folder")
    assert main(["mutate", "--equivalent", str(tmp_path / "missing.toml")]) == 2
    assert capsys.readouterr().err.startswith(f"subtile: error: equivalent: {tmp_path / 'missing.toml'} does not exist")


def _db_rows(path: Path) -> list[tuple]:
    if not path.exists():
        return []
    try:
        with sqlite3.connect(path, timeout=30) as db:
            return db.execute("SELECT key, status, metrics FROM results ORDER BY key").fetchall()
    except sqlite3.OperationalError:      # the schema is not there yet
        return []


def _outcomes(report):
    return {row["mutant"]: (row["killed"], row["reason"], row["first_mismatch"]) for row in report["results"]}


@pytest.fixture(scope="session")
def small_config(tmp_path_factory):
    path = tmp_path_factory.mktemp("mutate-config") / "small.toml"
    path.write_text(SMALL)
    return path


@pytest.fixture(scope="session")
def uninterrupted(small_config, tmp_path_factory):
    work = tmp_path_factory.mktemp("mutate-whole")
    assert main(["mutate", "--config", str(small_config), *ARGS, "--work-dir", str(work), "--quiet",
                 "--json", str(work / "report.json")]) == 0
    return json.loads((work / "report.json").read_text()), work


class TestMutate:
    def test_reports_kill_rate_and_survivors(self, uninterrupted):
        report, work = uninterrupted
        assert report["mutants"] == report["finished"] == 5 and report["errors"] == 0
        assert report["killed"] + report["survived"] == 5 and report["killed"] >= 2
        assert sorted(r["mutant"] for r in report["results"]) == list(range(1, 6))
        for row in report["results"]:
            if row["killed"]:
                assert row["reason"] in ("mismatch", "timeout", "bad output", "simulation failed")
                if row["reason"] == "mismatch":
                    assert row["first_mismatch"].startswith("case ") and "expected" in row["first_mismatch"]
        text = (work / "mutation.txt").read_text()
        assert text.startswith(f"mutation score: {report['killed']} of 5 mutants killed")
        assert text.count("SURVIVED mutant") == report["survived"]
        assert json.loads((work / "mutation.json").read_text())["score"] == report["score"]

    def test_sigkill_then_restart_loses_and_duplicates_nothing(self, uninterrupted, small_config, tmp_path):
        expected, _ = uninterrupted
        db, work = tmp_path / "resume.db", tmp_path / "work"
        command = [sys.executable, "-m", "subtile", "mutate", "--config", str(small_config), *ARGS,
                   "--work-dir", str(work), "--db", str(db)]
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                   start_new_session=True)
        deadline = time.monotonic() + 600
        try:
            while len(_db_rows(db)) < 2 and process.poll() is None and time.monotonic() < deadline:
                time.sleep(0.2)
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)      # the CLI and its simulator child
            process.wait()
        assert process.returncode == -signal.SIGKILL, process.stdout.read().decode()[-2000:]
        before = _db_rows(db)
        assert 2 <= len(before) < 5, "the kill did not land mid-run"

        assert main(["mutate", "--config", str(small_config), *ARGS, "--work-dir", str(work), "--db", str(db),
                     "--json", str(tmp_path / "resumed.json")]) == 0
        resumed = json.loads((tmp_path / "resumed.json").read_text())
        after = _db_rows(db)
        assert [key for key, *_ in after] == [f"{n:04d}" for n in range(1, 6)]     # all, once each
        assert set(before) <= set(after)                 # rows written before the kill are kept as they were
        assert _outcomes(resumed) == _outcomes(expected)
        assert resumed["score"] == expected["score"]


@pytest.mark.slow
def test_default_tile_60_mutants(tmp_path):
    """The figure in the README and docs/mutation.md: 60 mutants of the default tile, seed 1,
    all operators."""
    work = tmp_path / "m60"
    assert main(["mutate", "--config", str(EXAMPLES / "tile.toml"), "-n", "60", "--seed", "1", "--quiet",
                 "--equivalent", str(EXAMPLES.parent / "docs" / "mutation-equivalents.toml"),
                 "--work-dir", str(work), "--json", str(tmp_path / "m60.json")]) == 0
    report = json.loads((tmp_path / "m60.json").read_text())
    assert report["finished"] == 60 and report["errors"] == 0
    assert set(report["per_unit"]) == set(UNITS)
    # no analysed survivor killed, no stale entry
    assert not report["contradicted_equivalents"] and not report["stale_equivalents"]
    # every survivor of this draw is analysed (docs/mutation.md): the floor
    assert report["score_without_equivalent"] >= 0.95, (work / "mutation.txt").read_text()
