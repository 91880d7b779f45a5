"""The generated tile under Icarus Verilog in both language modes, with a plain Verilog testbench
that sets reset by a declaration initialiser (``reg rst = 1'b1;``), against the golden model.

In SystemVerilog mode (``-g2012``) a declaration initialiser is no event, so Yosys's ``always @*``
blocks, which rely on an initialised dummy register to run once at time 0, would never run for
inputs that do not change: the design stayed X. ``gen.verilog.start_comb_blocks`` fixes the text;
the raw Amaranth output is checked to show the failure this test exists for.
"""

import re
import shutil
import subprocess

import pytest

from amaranth.back import verilog as amaranth_verilog

from subtile.gen.tile import extra_verilog, generate_tile, tile_component
from subtile.gen.verilog import compact_zero_init, start_comb_blocks
from subtile.golden.tile import TileModel, random_stimulus
from subtile.hdl.synapse import event_in_layout
from subtile.spec.config import TileConfig

pytestmark = pytest.mark.skipif(shutil.which("iverilog") is None, reason="needs Icarus Verilog")

def _config() -> TileConfig:
    return TileConfig.from_dict({
        "name": "ivt", "neurons": 4, "branches": 1, "synapses": 4, "addresses": 8, "lanes": 2,
        "weight_format": "fixed<4,2>", "payload_format": "fixed<4,2>", "dendrite_format": "fixed<6,3>",
        "membrane_format": "fixed<6,3>", "branch_activation": "identity",
        "soma_activation": {"function": "tanh", "impl": "interp"}, "delta": 1, "weight_density": 1.0,
        "table_fill": 1.0})


def _testbench(config: TileConfig, steps) -> str:
    """Plain Verilog-2005: reset by declaration initialiser, events and ticks from the falling
    edge, every output event and the state after each step printed."""
    layout = event_in_layout(config)
    width, aw = layout.size, config.address_width
    n, wp = config.neurons, config.payload_format.width
    body = []
    for step, events in enumerate(steps):
        for address, payload in events:
            body.append(f"        send({width}'d{(int(payload) & ((1 << wp) - 1)) << aw | int(address)});")
        body.append(f"        tick_step({step});")
    state = ", ".join(f"dut.v_{i}, dut.y_sent_{i}, dut.dirty_{i}" for i in range(n))
    fmt = " ".join(["%0d"] * (3 * n))
    out_width = config.neuron_width + wp
    # Cycles: far more than the run needs (each event and each neuron update takes a few).
    limit = 50 * (sum(len(events) for events in steps) + len(steps) * (4 * n + 16))
    return f"""\
module tb;
  reg clk = 1'b0;
  reg rst = 1'b1;
  always #5 clk = ~clk;
  reg tick = 1'b0, events_in__valid = 1'b0;
  reg [{width - 1}:0] events_in__payload = {width}'d0;
  wire tick_ready, events_in__ready, prog__ready, done, events_out__valid;
  wire [31:0] unmapped;
  wire [{out_width - 1}:0] events_out__payload;
  integer step = 0;
  {config.name} dut(.clk(clk), .rst(rst), .tick(tick), .tick_ready(tick_ready),
    .events_in__valid(events_in__valid), .events_in__ready(events_in__ready), .events_in__payload(events_in__payload),
    .events_out__valid(events_out__valid), .events_out__ready(1'b1), .events_out__payload(events_out__payload),
    .done(done), .prog__valid(1'b0), .prog__ready(prog__ready), .prog__payload({{{config.row_width + config.neuron_width + config.prog_data_width + 1}{{1'b0}}}}),
    .unmapped(unmapped));
  always @(posedge clk) if (!rst && events_out__valid) $display("OUT %0d %0d", step, events_out__payload);
  task send(input [{width - 1}:0] word);
    begin
      events_in__payload = word; events_in__valid = 1'b1;
      #1; while (!events_in__ready) begin @(negedge clk); #1; end
      @(negedge clk); events_in__valid = 1'b0;
    end
  endtask
  task tick_step(input integer number);
    begin
      tick = 1'b1;
      #1; while (!tick_ready) begin @(negedge clk); #1; end
      @(negedge clk); tick = 1'b0;
      while (!done) @(negedge clk);
      $display("STATE %0d %0d {fmt}", number, unmapped, {state});
      step = number + 1;
    end
  endtask
  initial begin
    repeat (3) @(negedge clk);
    rst = 1'b0;
{chr(10).join(body)}
    $finish;
  end
  // A design that never becomes ready (X state) ends here instead of hanging the test.
  initial begin #{10 * limit}; $display("TIMEOUT"); $finish; end
endmodule
"""


def _simulate(tmp_path, verilog: str, tb: str, generation: str) -> str:
    (tmp_path / "dut.v").write_text(verilog)
    (tmp_path / "tb.v").write_text(tb)
    binary = tmp_path / f"sim{generation}.vvp"
    subprocess.run(["iverilog", f"-g{generation}", "-o", str(binary), "-s", "tb", str(tmp_path / "tb.v"),
                    str(tmp_path / "dut.v")], check=True, capture_output=True, text=True, timeout=120)
    return subprocess.run(["vvp", "-n", str(binary)], check=True, capture_output=True, text=True,
                          timeout=300).stdout


def _parse(config, text: str, steps: int):
    wp, nw = config.payload_format.width, config.neuron_width
    events = [[] for _ in range(steps)]
    states = []
    for line in text.splitlines():
        if line.startswith("OUT "):
            _, step, word = line.split()
            payload = int(word) >> nw
            events[int(step)].append((int(word) & ((1 << nw) - 1), payload - (1 << wp) if payload >> (wp - 1) else payload))
        elif line.startswith("STATE "):
            states.append(line.split()[1:])
    return events, states


def _expected(config, stimulus):
    model = TileModel(config)
    events, states = [], []
    for step, result in enumerate(model.run(stimulus)):
        events.append([tuple(map(int, e)) for e in result.events_out])
        s = result.state
        mw, wp = config.membrane_format.width, config.payload_format.width
        fields = [str(step), str(s.unmapped)]
        for i in range(config.neurons):
            fields += [str(int(s.v[i]) & ((1 << mw) - 1)), str(int(s.y_sent[i]) & ((1 << wp) - 1)), str(int(s.dirty[i]))]
        states.append(fields)
    return events, states


@pytest.fixture(scope="module")
def case():
    config = _config()
    stimulus = random_stimulus(config, 6, 0.6, 5)
    expected = _expected(config, stimulus)
    assert sum(map(len, expected[0])) > 0, "the stimulus makes no output event"
    return config, stimulus, expected


@pytest.mark.parametrize("generation", ["2005", "2012"])
def test_generated_tile_is_exact_under_icarus(generation, case, tmp_path):
    config, stimulus, expected = case
    out = _simulate(tmp_path, generate_tile(config).verilog, _testbench(config, stimulus), generation)
    assert _parse(config, out, len(stimulus)) == expected


def test_raw_yosys_output_stays_x_in_systemverilog_mode(case, tmp_path):
    """Without start_comb_blocks the same run goes wrong under -g2012 (and stays right in -g2005)."""
    config, stimulus, expected = case
    raw = compact_zero_init(amaranth_verilog.convert(tile_component(config), name=config.name, emit_src=False))
    raw += extra_verilog(config)
    tb = _testbench(config, stimulus)
    assert _parse(config, _simulate(tmp_path, raw, tb, "2005"), len(stimulus)) == expected
    broken = _simulate(tmp_path, raw, tb, "2012")
    assert _parse(config, broken, len(stimulus)) != expected


def test_start_comb_blocks_rewrites_every_trigger():
    text = generate_tile(_config()).verilog
    assert not re.search(r"reg \\\$auto\$verilog_backend\S* = 0;", text)
    triggers = re.findall(r"^  reg (\\\$auto\$verilog_backend\S+) ;$", text, re.M)
    assert triggers and all(f"initial {name}  <= 1'b0;" in text for name in triggers)
    assert start_comb_blocks(text) == text
