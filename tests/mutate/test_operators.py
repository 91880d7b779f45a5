"""The mutation operators (mutate/operators.py), each on statements of the shapes Amaranth
writes, and the mesh's sites (units, scope)."""

import pytest

from subtile.mutate.operators import (CLASSIC, OPERATOR_NAMES, OPERATORS, ModuleContext, check_operators,
                                      statement_mutations)
from subtile.mutate.sites import MESH_UNITS, module_context, select_mutations, unit_of, Mutation

WIDTHS = {"acc": 20, "\\$1": 21, "\\$4": 22, "x": 8, "y": 8, "z": 8, "level": 3, "sel": 1, "hit": 1, "q": 8}
CONTEXT = ModuleContext(widths=WIDTHS, sources=("q", "x", "z"))


def faults(rhs, kind, lhs="out"):
    return [(mutated, detail) for k, mutated, detail in statement_mutations(lhs, rhs, CONTEXT, (kind,))]


def test_every_operator_is_described_once_and_the_classic_ones_first():
    assert OPERATOR_NAMES[:4] == CLASSIC and len(set(OPERATOR_NAMES)) == len(OPERATORS) == 10
    assert all(op.fault for op in OPERATORS)
    assert check_operators("term,operator") == ("operator", "term")          # in OPERATORS order
    with pytest.raises(ValueError, match="^operators: bogus is not a list of operator, constant"):
        check_operators("operator,bogus")
    with pytest.raises(ValueError, match=r"^operators: \(none\)"):
        check_operators(" , ")


def test_shift_makes_an_arithmetic_shift_logical():
    rhs = "{ acc[19], acc[19], acc[19], acc[19], acc[19], acc[19:5] }"
    assert faults(rhs, "shift") == [("{ 1'h0, 1'h0, 1'h0, 1'h0, 1'h0, acc[19:5] }",
                                     "arithmetic shift of acc made logical (5 sign copies -> 0)")]
    escaped = "{ \\$4 [21], \\$4 [21], \\$4 [21:5] }"
    assert faults(escaped, "shift")[0][0] == "{ 1'h0, 1'h0, \\$4 [21:5] }"
    assert faults("{ x[7], y[7], y[7:1] }", "shift") == [("{ x[7], 1'h0, y[7:1] }",
                                                         "arithmetic shift of y made logical (1 sign copies -> 0)")]
    assert [m for m, _ in faults("$signed(x) >>> 2'h2", "shift")] == ["$signed(x) >> 2'h2"]
    assert faults("{ x[7], x[6:0] }", "shift") == []                # a rotation-free copy, not a sign extension


def test_rounding_moves_the_half_lsb_addend():
    assert [m for m, _ in faults("$signed(acc) + $signed(5'h0f)", "rounding")] == [
        "$signed(acc) + $signed(5'h00)", "$signed(acc) + $signed(5'h10)"]
    assert [m for m, _ in faults("level + 3'h3", "rounding")] == ["level + 3'h0", "level + 3'h4"]
    assert faults("level + 3'h2", "rounding") == []                   # not 2^k - 1
    assert [m for m, _ in faults("level + 2'h3", "rounding")] == ["level + 2'h0"]     # 4 does not fit


def test_slice_narrows_by_the_top_bit_and_compare_moves_the_constant():
    assert faults("x[7:0] & y[3:3]", "slice") == [("x[6:0] & y[3:3]", "slice [7:0] narrowed to [6:0]")]
    assert [m for m, _ in faults("\\$4 [21:5]", "slice")] == ["\\$4 [20:5]"]
    assert [m for m, _ in faults("$signed(\\$1 ) < $signed(12'h800)", "compare")] == [
        "$signed(\\$1 ) < $signed(12'h7ff)", "$signed(\\$1 ) < $signed(12'h801)"]
    assert [m for m, _ in faults("3'h4 == level", "compare")] == ["3'h3 == level", "3'h5 == level"]
    assert [m for m, _ in faults("level == 2'h0", "compare")] == ["level == 2'h1"]       # -1 is out of range
    assert faults("level + 3'h4", "compare") == []


def test_operand_reads_a_neighbouring_register_or_input_of_the_same_width():
    # x -> q (the next 8-bit source in name order after x wraps to q), y -> z, never the lhs
    assert faults("$signed(x) + $signed(y)", "operand", lhs="z") == [
        ("$signed(q) + $signed(y)", "operand x -> q"), ("$signed(x) + $signed(q)", "operand y -> q")]
    assert faults("x & y", "operand", lhs="out") == [("z & y", "operand x -> z"), ("x & z", "operand y -> z")]
    assert faults("level + acc[3:1]", "operand") == []                 # no source of those widths
    assert faults("$signed(x) * 5'h0f", "operand", lhs="out")[0][0] == "$signed(z) * 5'h0f"   # literals stay


def test_term_drops_one_term_of_a_sum():
    assert [m for m, _ in faults("$signed(\\$1 ) + $signed(acc)", "term")] == ["$signed(\\$1 )", "$signed(acc)"]
    assert faults("level - 1'h1", "term") == [("level", "subtracted term 1'h1 dropped")]
    # an escaped identifier keeps the space that ends it: `\$1  + index` -> `\$1 `, never `\$1`
    assert [m for m, _ in faults("\\$1  + \\$3 ", "term")] == ["\\$1 ", "\\$3 "]
    assert faults("x + y + z", "term") == [] and faults("sel ? x + y : z", "term") == []


def test_a_fault_two_operators_make_is_listed_once_and_never_the_original():
    listed = statement_mutations("out", "level == 3'h4", CONTEXT)
    assert len({m for _, m, _ in listed}) == len(listed)
    assert ("operator", "level != 3'h4") in [(k, m) for k, m, _ in listed]
    assert ("constant", "level == 3'h5") in [(k, m) for k, m, _ in listed]    # bit 0 flip, before compare's +1
    assert ("compare", "level == 3'h3") in [(k, m) for k, m, _ in listed]
    assert all(m != "level == 3'h4" for _, m, _ in listed)


def test_module_context_lists_registers_and_data_inputs():
    body = ("module \\t.h0.m (clk, a, b, y);\n  input clk;\n  wire clk;\n  input [7:0] a;\n  wire [7:0] a;\n"
            "  input [7:0] b;\n  output [7:0] y;\n  reg [7:0] r = 8'h00;\n  reg [7:0] \\r$2  = 8'h00;\n"
            "  wire [7:0] w;\n  always @(posedge clk)\n    r <= w;\n  always @(posedge clk)\n    \\r$2  <= a;\n"
            "  assign w = a + b;\n  assign y = r;\nendmodule\n")
    context = module_context(body)
    assert context.sources == ("\\r$2", "a", "b", "r") and context.widths["w"] == 8


def test_mesh_units():
    assert unit_of("mesh.network.router_1_0.core.fifo_east.storage") == "router"
    assert unit_of("mesh.network.router_0_0") == "router"
    assert unit_of("mesh.interface_2.fanout") == "fanout"
    assert unit_of("mesh.interface_0.merge") == unit_of("mesh.interface_3.out_fifo") == "interface"
    assert unit_of("mesh") == unit_of("mesh.network") == "mesh"
    assert unit_of("mesh.tile_1.lane_0.encoder") == "tile"
    mutations = [Mutation(f"mesh.{path}", i, "y", kind, "a", f"b{i}", "d")
                 for i, (path, kind) in enumerate([(p, k) for p in ("network.router_0_0", "interface_0.fanout",
                                                                    "interface_0", "network") for k in CLASSIC] * 3)]
    chosen = select_mutations(mutations, 16, seed=1)
    assert [m.unit for m in chosen[:4]] == list(MESH_UNITS)                  # round robin over the units
    assert {(m.unit, m.kind) for m in chosen} == {(u, k) for u in MESH_UNITS for k in CLASSIC}   # and operators


def test_an_alias_read_only_as_a_port_name_is_not_a_site():
    """`assign local_out__2__valid = w;` next to `.local_out__2__valid(w)`: the name there is the
    submodule's port, not the alias, so the alias is read nowhere and a fault in it is equivalent
    by construction (the mesh glue has one per router port)."""
    from subtile.mutate.sites import find_mutations
    verilog = ("module \\t.h0.mesh (a, y);\n  input a;\n  wire a;\n  output y;\n  wire y;\n  wire alias;\n"
               "  wire w;\n  \\t.h0.mesh.network  network (\n    .alias(w),\n    .a(a)\n  );\n"
               "  wire \\alias$2 ;\n  assign \\alias$2  = a;\n  assign alias = w;\n  assign y = w & \\alias$2 ;\n"
               "endmodule\n")
    sites = find_mutations(verilog, "t", scope="mesh")
    # `alias` inside the escaped `\alias$2 ` is not a use of `alias` either
    assert sites and {m.lhs.strip() for m in sites} == {"y", "\\alias$2"}
