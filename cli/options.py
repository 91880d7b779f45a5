"""Option helpers shared by the ``subtile`` commands: argument types, the common option groups,
configs, the JSON report and the range checks.

A command module (``cli/<command>.py``) defines ``register(commands)``: it adds its parser to
the argparse subparsers object ``commands``, its arguments (with the helpers here) and sets
``handler`` to the function run with the parsed arguments. Every parameter is checked before any
tool runs; a bad one raises :class:`~subtile.errors.ConfigError` (one line, exit code 2).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from subtile.errors import ConfigError

EXIT_OK, EXIT_FAIL, EXIT_USAGE, EXIT_TOOL = 0, 1, 2, 3


# -- argument types ------------------------------------------------------------------------------
def int_arg(name):
    """An argparse type: an integer (``0x`` and ``0b`` prefixes accepted)."""
    def parse(text):
        try:
            return int(text, 0)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    return parse


def float_arg(name):
    """An argparse type: a number."""
    def parse(text):
        try:
            return float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    return parse


def float_list(name, text):
    """``text`` as a comma-separated list of numbers (at least one, no empty item)."""
    parts = [part.strip() for part in str(text).split(",")]
    try:
        values = [float(part) for part in parts]
    except ValueError:
        raise ConfigError(f"{name}: {text!r} is not a comma-separated list of numbers") from None
    if any(v != v for v in values):
        raise ConfigError(f"{name}: {text!r} is not a comma-separated list of numbers")
    return values


def check_range(name, value, lo, hi):
    if not lo <= value <= hi:
        raise ConfigError(f"{name}: {value} is outside the allowed range {lo}..{hi}")


# -- common options ------------------------------------------------------------------------------
def add_json_option(parser, what="the report"):
    parser.add_argument("--json", nargs="?", const="-", default=None, metavar="FILE",
                        type=path_arg("json", "out-or-stdout"),
                        help=f"print (or write to FILE) {what} as JSON")


def add_config_option(parser, kinds="tile"):
    """``--config``: a tile TOML, or (``kinds="any"``) a tile or mesh TOML."""
    text = {"tile": "tile TOML (default: the documented default tile)",
            "any": "tile TOML, or mesh TOML with a [mesh] table (default: the documented default tile)",
            "mesh": "mesh TOML with a [mesh] table (default: a 2 x 2 mesh)"}[kinds]
    parser.add_argument("--config", type=path_arg("config", "text"), default=None, help=text)


#: Defaults of the activation options (``None``: given by the function or the format).
ACTIVATION_DEFAULTS = {"function": "sigmoid", "input_format": "fixed<8,4>", "output_format": "ufixed<8,0>",
                       "impl": "interp", "segments": None, "beta": 1.0, "guard_bits": 4, "latency": 0}


def add_activation_options(parser, *, unit: bool = True):
    """The options of one activation unit (``generate activation``, ``sim activation``; with
    ``unit=False`` for ``accuracy``: no module name or latency, and the options describe the one
    unit measured instead of the standard matrix when ``--input`` is given)."""
    from subtile.spec.activation import FUNCTIONS, IMPLEMENTATIONS
    d = ACTIVATION_DEFAULTS
    only = "" if unit else " (with --input)"
    parser.add_argument("--function", default=None, choices=list(FUNCTIONS),
                        help=f"activation function{only}; default {d['function']}")
    parser.add_argument("--input", dest="input_format", default=None, metavar="FORMAT",
                        help="input format, fixed<W,I> or ufixed<W,I> (W 1..16); default " + d["input_format"]
                        if unit else "input format fixed<W,I> or ufixed<W,I> (W 1..16): measure this one unit "
                                     "instead of the standard matrix")
    parser.add_argument("--output", dest="output_format", default=None, metavar="FORMAT",
                        help=f"output format (W 1..24){only}; default {d['output_format']}")
    parser.add_argument("--impl", default=None, choices=list(IMPLEMENTATIONS),
                        help=f"implementation{only}; default {d['impl']}")
    parser.add_argument("--segments", type=int_arg("segments"), default=None,
                        help=f"interp segments, a power of two{only}; default: the fewest meeting 1 LSB")
    parser.add_argument("--beta", type=float_arg("beta"), default=None,
                        help=f"swish beta (0, 64]{only}; only swish has one; default {d['beta']:g}")
    parser.add_argument("--guard-bits", type=int_arg("guard-bits"), default=None,
                        help=f"extra fractional bits inside interp (0..8){only}; default {d['guard_bits']}")
    if unit:
        parser.add_argument("--latency", type=int_arg("latency"), default=0,
                            help="0 = combinational (default), 1 = registered table read")
        parser.add_argument("--top", default=None, help="module name (default: <function>_<impl>)")


def activation_spec(args):
    """The :class:`ActivationSpec` of the activation options, after refusing options that
    do nothing with the chosen function and implementation."""
    from subtile.gen.verilog import check_identifier
    from subtile.spec.activation import FUNCTIONS, ActivationSpec
    values = {name: getattr(args, name, None) for name in ACTIVATION_DEFAULTS}
    values = {name: default if values[name] is None else values[name] for name, default in ACTIVATION_DEFAULTS.items()}
    if args.beta is not None and not FUNCTIONS[values["function"]].uses_beta:
        raise ConfigError(f"beta: {values['function']} has no beta (only "
                          f"{', '.join(n for n, f in FUNCTIONS.items() if f.uses_beta)})")
    if values["impl"] != "interp":
        for option, name in (("segments", "segments"), ("guard-bits", "guard_bits")):
            if getattr(args, name, None) is not None:
                raise ConfigError(f"{option}: only the interp implementation has {option}, not {values['impl']}")
    if getattr(args, "top", None) is not None:
        check_identifier(args.top, parameter="top")
    return ActivationSpec(**values)


# -- configs, work folders, reports -----------------------------------------------------------------
def tile_config(args):
    """The tile config named by --config (default: the default tile); a mesh is refused."""
    from subtile.spec.config import MeshConfig, TileConfig, load_config
    config = load_config(args.config) if args.config else TileConfig()
    if isinstance(config, MeshConfig):
        raise ConfigError(f"config: {args.config} describes a mesh ([mesh]); this command takes a tile")
    return config


def any_config(args):
    """The tile or mesh config named by --config (default: the default tile)."""
    from subtile.spec.config import TileConfig, load_config
    return load_config(args.config) if args.config else TileConfig()


def mesh_config(args):
    from subtile.spec.config import MeshConfig, load_config
    config = load_config(args.config) if args.config else MeshConfig()
    if not isinstance(config, MeshConfig):
        raise ConfigError(f"config: {args.config} has no [mesh] table; a tile config goes to the tile kind of the command")
    return config


def add_contents_option(parser):
    """``--contents``: the memories and axon tables of a mapped network for a mesh config."""
    parser.add_argument("--contents", type=path_arg("contents", "file", suffixes=(".npz",)), default=None,
                        metavar="NPZ", help="weights, synapse and axon tables of the mesh (the contents.npz that "
                                            "`subtile run --write-mapping DIR` writes next to DIR/mesh.toml; "
                                            "default: the config's seeded random contents)")


def mesh_contents_arg(args, config):
    """``(contents, axons)`` of ``--contents`` for the mesh ``config`` (checked against it), or
    ``(None, None)`` for the seeded defaults."""
    from subtile.spec.config import MeshConfig
    if getattr(args, "contents", None) is None:
        return None, None
    if not isinstance(config, MeshConfig):
        raise ConfigError(f"contents: applies to a mesh config (one with a [mesh] table); "
                          f"{args.config or 'the default config'} is a tile config")
    from subtile.network.mapper import load_contents
    contents, axons, _ = load_contents(args.contents, config)
    return contents, axons


#: Temporary work folders made by :func:`work_dir` in this command (see :func:`finish_temporary`).
_TEMPORARY: list[Path] = []


def work_dir(args, prefix: str, *, keep: bool = False) -> Path:
    """``--work-dir``, else a new temporary folder ``<tmp>/subtile-<prefix>-*``, removed when the
    command succeeds and kept (its path printed) when it fails; with ``keep`` (the folder holds
    the command's report) always kept."""
    if args.work_dir:
        return Path(args.work_dir)
    folder = Path(tempfile.mkdtemp(prefix=f"subtile-{prefix}-"))
    if not keep:
        _TEMPORARY.append(folder)
    return folder


def is_temporary(folder) -> bool:
    """Whether ``folder`` is a temporary work folder of this command."""
    return Path(folder) in _TEMPORARY


def finish_temporary(code: int) -> None:
    """Remove the temporary work folders after a success (or a refused option); after a failure
    keep them and say where they are."""
    import shutil
    while _TEMPORARY:
        folder = _TEMPORARY.pop()
        if code in (EXIT_OK, EXIT_USAGE):
            shutil.rmtree(folder, ignore_errors=True)
        elif folder.exists():
            print(f"subtile: the run's files are kept in {folder}", file=sys.stderr)


def add_quiet_option(parser):
    parser.add_argument("-q", "--quiet", action="store_true",
                        help="no progress lines on stderr (generation, Verilator build, simulation)")


def check_simulator(simulator: str = "verilator") -> None:
    """The simulator's tools, checked before any generation or build: Verilator, make and a C++
    compiler, or Icarus's ``iverilog`` and ``vvp`` (a missing one is one line saying what to
    install, exit code 3)."""
    if simulator == "icarus":
        from subtile.toolchain.runner import icarus_version
        icarus_version()
    else:
        from subtile.toolchain.verilator import check_toolchain
        check_toolchain()


def check_liberty(path) -> None:
    """Read ``--lib`` before any tool runs (a file that is not Liberty is refused up front, not
    after the simulation or synthesis); the parse is cached."""
    if path:
        from subtile.tech.liberty import load_liberty
        load_liberty(path)


def aligned_table(headers, body, *, align: str = "right") -> str:
    """Plain-text table: ``headers`` and the rows of ``body`` (strings), columns as wide as their
    widest cell, two spaces apart, right-aligned (numbers) or left-aligned."""
    widths = [max(len(h), *(len(row[i]) for row in body)) for i, h in enumerate(headers)]
    pad = str.rjust if align == "right" else str.ljust
    return "\n".join("  ".join(pad(c, w) for c, w in zip(row, widths)) for row in [headers, *body])


def _json_scalar(value):
    """NumPy scalars (``np.float64``, ``np.int64``, ...) as the Python numbers they hold."""
    item = getattr(value, "item", None)
    if item is None:
        raise TypeError(f"{type(value).__name__} is not JSON serializable")
    return item()


def emit_json(obj, target):
    """Write ``obj`` as JSON to stdout (``target == "-"``) or to the file ``target``."""
    text = json.dumps(obj, indent=2, default=_json_scalar) + "\n"
    if target == "-":
        sys.stdout.write(text)
    else:
        Path(target).write_text(text)


def calibration(lib, path, uncalibrated):
    """The gate-level calibration to apply: ``path``, else the shipped sky130 one when the
    default Liberty is used; none with ``--uncalibrated`` or another Liberty without ``path``."""
    from subtile.power.energy import Calibration
    if uncalibrated:
        return None
    return Calibration.load(path) if path else Calibration.for_liberty(lib)


# -- user paths ----------------------------------------------------------------------------------
class _UserPath:
    """A path as the user typed it, resolved and checked by :func:`resolve_paths` before the
    command runs (argparse types run before the working folder matters, and their errors are
    two lines)."""

    def __init__(self, text, option, kind, suffixes):
        self.text, self.option, self.kind, self.suffixes = text, option, kind, suffixes


def path_arg(option: str, kind: str, *, suffixes=None):
    """An argparse type for a path option: ``kind`` is ``"file"`` (an existing file to read),
    ``"text"`` (an existing UTF-8 text file: configs), ``"out"`` (a file to write; its folder
    must exist), ``"out-or-stdout"`` (the same, or ``-``), ``"dir"`` (a folder to write, made
    if missing) or ``"db"`` (a database to create or resume). ``suffixes``: the allowed file
    suffixes. See :func:`resolve_paths`."""
    if kind not in ("file", "text", "out", "out-or-stdout", "dir", "db"):
        raise ValueError(f"path kind {kind!r}")
    return lambda text: _UserPath(text, option, kind, suffixes)


def add_work_dir_option(parser, help_text="folder for the build and the runs (default: a temporary folder, "
                                          "removed after a successful run)"):
    parser.add_argument("--work-dir", type=path_arg("work-dir", "dir"), default=None, help=help_text)


def resolve_paths(args) -> None:
    """Replace every path option of ``args`` by its absolute path (``str``) after checking it:
    a file to read exists, is a file and is readable (configs: UTF-8 text); a file or folder to
    write can be written (its folder, or the nearest existing parent of a folder to make, is a
    writable folder; an existing file or folder is of the right kind). Nothing is created.
    Raises :class:`ConfigError` naming the option."""
    for name, value in vars(args).items():
        if isinstance(value, _UserPath):
            setattr(args, name, _check_path(value))
        elif isinstance(value, list) and any(isinstance(v, _UserPath) for v in value):
            setattr(args, name, [_check_path(v) if isinstance(v, _UserPath) else v for v in value])


def check_writable(option: str, folder: Path, shown: Path) -> None:
    """Refuse ``folder`` (or, when it does not exist yet, its nearest existing parent) if a file
    cannot be made in it: a probe file is made and removed at once, so nothing is left behind
    (permission bits alone do not tell: root, read-only file systems, /proc)."""
    import os
    import tempfile
    parent = Path(folder)
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    try:
        handle, probe = tempfile.mkstemp(dir=parent, prefix=".subtile-probe-")
    except OSError as error:
        raise ConfigError(f"{option}: {shown} cannot be written: {parent} refuses new files "
                          f"({error.strerror or type(error).__name__})") from None
    os.close(handle)
    os.unlink(probe)


def _check_path(arg: _UserPath) -> str:
    import os
    option, text = arg.option, arg.text
    if arg.kind == "out-or-stdout" and text == "-":
        return text
    if not text.strip():
        raise ConfigError(f"{option}: an empty path")
    path = Path(text).expanduser().absolute()
    shown = text
    if arg.suffixes and path.suffix.lower() not in arg.suffixes:
        raise ConfigError(f"{option}: {shown} must end in {' or '.join(arg.suffixes)}")
    if arg.kind in ("file", "text"):
        if not path.exists():
            raise ConfigError(f"{option}: {shown} does not exist")
        if not path.is_file():
            raise ConfigError(f"{option}: {shown} is a folder, not a file" if path.is_dir()
                              else f"{option}: {shown} is not a regular file")
        if not os.access(path, os.R_OK):
            raise ConfigError(f"{option}: {shown} cannot be read (permission denied)")
        if arg.kind == "text":
            try:
                path.read_bytes().decode("utf-8")
            except UnicodeDecodeError as error:
                raise ConfigError(f"{option}: {shown} is not UTF-8 text (byte {error.start})") from None
        return str(path)
    if arg.kind == "dir":
        if path.exists():
            if not path.is_dir():
                raise ConfigError(f"{option}: {shown} is a file, not a folder")
            check_writable(option, path, shown)
            return str(path)
        parent = path.parent
        while not parent.exists():
            parent = parent.parent
        if not parent.is_dir():
            raise ConfigError(f"{option}: {shown} cannot be made: {parent} is a file")
        check_writable(option, parent, shown)
        return str(path)
    # a file to write ("out", "out-or-stdout", "db")
    if path.is_dir():
        raise ConfigError(f"{option}: {shown} is a folder; give a file name")
    if not path.parent.is_dir():
        raise ConfigError(f"{option}: {shown}: the folder {path.parent} does not exist"
                          if not path.parent.exists() else f"{option}: {shown}: {path.parent} is not a folder")
    if path.exists() and not os.access(path, os.W_OK):
        raise ConfigError(f"{option}: {shown} is not writable")
    check_writable(option, path.parent, shown)
    return str(path)
