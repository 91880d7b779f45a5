"""Verilog post-processing and manifests of gen/."""

import pytest

from subtile.cache import verilog_digest as verilog_sha256
from subtile.gen.verilog import compact_zero_init


def test_zero_initialisers_become_loops_and_others_stay():
    text = "\n".join([
        "module m;", "  reg [3:0] mem [2:0];",
        "  initial begin", "    mem[0] = 4'h0;", "    mem[1] = 4'h0;", "    mem[2] = 4'h0;", "  end",
        "  initial begin", "    w[0] = 4'h0;", "    w[1] = 4'h3;", "  end",
        "  initial begin", "    \\x.y [0] = 2'h0;", "    \\x.y [1] = 2'h0;", "  end",
        "  initial begin", "    z[1] = 2'h0;", "  end",
        "endmodule"])
    out = compact_zero_init(text)
    assert "for (i = 0; i < 3; i = i + 1) mem [i] = 4'h0;" in out
    assert "for (i = 0; i < 2; i = i + 1) \\x.y [i] = 2'h0;" in out
    assert "    w[1] = 4'h3;" in out and "    z[1] = 2'h0;" in out       # mixed, or not from row 0
    assert out.count("initial begin : zero_init_") == 2


def test_hash_ignores_source_attributes():
    a = '(* src = "/home/a/x.py:1" *)\nmodule m; endmodule\n'
    b = '(* src = "/tmp/b/x.py:9" *)\nmodule m; endmodule\n'
    assert verilog_sha256(a) == verilog_sha256(b) != verilog_sha256("module n; endmodule\n")


def test_module_spans_split_every_module_once():
    from subtile.gen.verilog import module_spans
    text = ('/* head */\n(* top = 1 *)\nmodule a(x);\n  input x;\nendmodule\n\n'
            'module \\b.c #(parameter W = 1) (y);\nendmodule\nmodule d;\nendmodule\n')
    spans = module_spans(text)
    assert [name for name, _s, _e in spans] == ["a", "b.c", "d"]
    assert [text[s:e].split("\n")[0] for _n, s, e in spans] == ["module a(x);", "module \\b.c #(parameter W = 1) (y);",
                                                                 "module d;"]
    assert all(text[s:e].endswith("endmodule") for _n, s, e in spans)
    with pytest.raises(ValueError, match="module e has no endmodule"):
        module_spans("module e;\n")


def test_initialise_registers_only_gives_loaded_registers_an_initialiser():
    from subtile.gen.verilog import initialise_registers
    text = "\n".join([
        "  reg [63:0] _1_;", "  reg _2_;", "  reg [3:0] comb;", "  reg [7:0] foo;",
        "  always @(posedge clk)", "    _1_ <= mem[a];", "  always @(posedge clk)", "    _2_ <= b;",
        "  always @* begin", "    comb = x;", "  end", "  always @(posedge clk)", "    foo_bar <= 1;"])
    result = initialise_registers(text).split("\n")
    assert result[:4] == ["  reg [63:0] _1_ = 64'h0;", "  reg _2_ = 1'h0;", "  reg [3:0] comb;", "  reg [7:0] foo;"]


def test_waive_fsm_state_test_only_for_a_multi_bit_state_register():
    from subtile.gen.verilog import waive_fsm_state_test
    text = "\n".join(["  reg [1:0] phase_state;", "  reg one_state;",
                      "  assign \\$1  = ! phase_state;", "  assign \\$2  = ! one_state;"])
    result = waive_fsm_state_test(text)
    assert result.count("lint_off WIDTHTRUNC") == 1
    assert "lint_off WIDTHTRUNC\n  assign \\$1  = ! phase_state;" in result


def test_module_hierarchy_follows_instances_not_names():
    from subtile.gen.verilog import module_hierarchy
    text = ("module top(a);\n  \\top.x  x (\n    .a(a)\n  );\n  shared s_0 (\n  );\n  shared s_1 (\n  );\nendmodule\n"
            "module \\top.x (a);\nendmodule\nmodule shared;\n  \\shared.y  y (\n  );\nendmodule\n"
            "module \\shared.y ;\nendmodule\nmodule \\top.unused ;\nendmodule\nmodule bench;\n  top t (\n  );\nendmodule\n")
    assert module_hierarchy(text, "top") == ["top", "top.x", "shared", "shared.y"]
    assert module_hierarchy(text, "bench") == ["top", "top.x", "shared", "shared.y", "bench"]
    with pytest.raises(ValueError, match="top: no module nothing in the Verilog"):
        module_hierarchy(text, "nothing")


def test_lanes_are_one_module_instantiated_per_lane():
    """A tile's lanes are one module (converted once) with an instance per lane, its parts
    below it; a mesh whose tiles differ only in their contents has one lane module in all;
    without sharing, every lane is a module of its own (what toggle coverage and mutation need)."""
    import re
    from subtile.gen.verilog import generate, module_hierarchy
    from subtile.gen.tile import tile_component
    from subtile.gen.mesh import generate_mesh
    from subtile.spec.config import MeshConfig, TileConfig
    config = TileConfig(name="lanes4", neurons=8, lanes=4, branches=2, synapses=4, addresses=16)
    shared = generate(tile_component(config), top="lanes4").verilog
    assert re.findall(r"^  (\S+) (lane_\d+) \($", shared, re.M) == [("lanes4_lane", f"lane_{l}") for l in range(4)]
    assert module_hierarchy(shared, "lanes4_lane") == ["lanes4_lane", "lanes4_lane.branch_0",
                                                       "lanes4_lane.branch_0.activation", "lanes4_lane.branch_1",
                                                       "lanes4_lane.branch_1.activation", "lanes4_lane.encoder",
                                                       "lanes4_lane.soma"]
    assert "(* top" not in shared[shared.index("module lanes4_lane("):]
    own = generate(tile_component(config), top="lanes4", share_lanes=False).verilog
    assert "lanes4_lane" not in own
    assert [name for name in module_hierarchy(own, "lanes4") if re.fullmatch(r"lanes4\.lane_\d+", name)] == \
        [f"lanes4.lane_{l}" for l in range(4)]
    mesh = MeshConfig(name="m2", width=2, height=1, tile=config)
    text = generate_mesh(mesh).verilog
    assert text.count("module m2_lane(") == 1 and "module m2_lane_1(" not in text
    assert len(re.findall(r"^  m2_lane lane_\d+ \($", text, re.M)) == 2 * 4
