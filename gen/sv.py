"""The SystemVerilog layer of the tile: payload structs (:func:`package_sv`), a wrapper with
struct ports (:func:`wrapper_sv`), assertions on the stream protocol and the tile's invariants
(:data:`STREAM_CHECK_SV`, :func:`checks_sv`) and a SystemVerilog or Verilog testbench skeleton
(:func:`testbench_sv`). :mod:`subtile.gen.export` writes them into the export folder; the
simulation harness binds the checks (``TileBench(assertions=True)``).
"""

from __future__ import annotations

from subtile.gen.verilog import GeneratedDesign

__all__ = ["STREAM_CHECK_SV", "package_sv", "checks_sv", "wrapper_sv", "testbench_sv"]


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
