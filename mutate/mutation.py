"""Mutation testing of the verification: inject single faults into the RTL and check that the
regression notices each one.

All mutants live in ONE Verilator build: every mutated statement of the generated Verilog is
guarded by a mutant selector read from a plusarg (``+subtile_mutant=7`` runs mutant 7, 0 the
original design). Sites are picked deterministically from the seed, spread over the units (for
the tile: synapse table and weights, accumulator state, neuron update, branch, activation,
encoder, tile control and output stream). A mutant is *killed* when any output event or state
register differs from the golden model, or when the run hangs (a cycle budget of a few times
the original run's). Results go to a :class:`subtile.store.ResultStore`, one row per mutant, so
a killed run resumes where it stopped.

The concepts live in their own modules; this one gathers their public names:
:mod:`~subtile.mutate.sites` (finding sites, instrumenting one build),
:mod:`~subtile.mutate.operators` (the faults of one statement), :mod:`~subtile.mutate.regression`
(the tile's killing suite), :mod:`~subtile.mutate.run` (running the mutants),
:mod:`~subtile.mutate.equivalents` (analysed survivors), :mod:`~subtile.mutate.report` (the
report) and :mod:`~subtile.mutate.proofs` (SAT proofs of equivalence).
"""

from subtile.mutate.equivalents import load_equivalents, match_equivalent
from subtile.mutate.proofs import equivalence_check
from subtile.mutate.regression import regression_cases, rounding_targets, saturation_ramp
from subtile.mutate.report import build_report, format_report
from subtile.mutate.run import MutationBench, run_mutation_testing
from subtile.mutate.sites import (PLUSARG, SELECT, SELECT_BITS, UNITS, Mutation, check_count, copy_pattern,
                                  find_mutations, instrument, select_mutations, unit_of)

__all__ = ["Mutation", "find_mutations", "select_mutations", "instrument", "MutationBench", "regression_cases",
           "rounding_targets", "saturation_ramp", "run_mutation_testing", "build_report", "format_report",
           "load_equivalents", "match_equivalent", "equivalence_check", "check_count", "copy_pattern", "unit_of",
           "PLUSARG", "SELECT", "SELECT_BITS", "UNITS"]
