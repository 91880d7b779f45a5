"""Generated Verilog reused by its inputs, looked up before anything is elaborated.

Elaborating a design and emitting its Verilog takes seconds for the default tile and minutes for
a 256-neuron one; the Verilator build cache (:mod:`subtile.toolchain.runner`) is keyed by the
Verilog text, so without this a rerun would regenerate the Verilog only to find its build. Here a
generated design is stored under ``<cache root>/verilog/<top>-<key[:16]>/`` with the key hashing

* what the caller generates (``kind``) and every argument that changes the hardware (the
  configurations, memory contents and axon tables as values, buffer depths, options), made
  canonical by :func:`canonical`;
* the generator's own source: every ``.py`` file of the subpackages generation may import
  (:data:`SOURCE_PACKAGES`), by content;
* the tool versions (:func:`subtile.gen.verilog.tool_versions`: Python, Amaranth, its Yosys,
  NumPy, subtile).

So a changed source line, tool or argument gives another key and a fresh generation; an entry
is complete only once its ``design.json`` (written atomically, after the Verilog) exists. An
argument :func:`canonical` cannot reduce to data (an unknown object) turns the cache off for that
call: the design is then generated as before, never looked up by a partial key.
``SUBTILE_DESIGN_CACHE=0`` turns it off altogether.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import importlib
import json
import os
from pathlib import Path
from typing import Callable

import numpy as np

import subtile.progress as progress
from subtile.cache import cache_root
from subtile.gen.verilog import GeneratedDesign, tool_versions

__all__ = ["cached_design", "design_key", "canonical", "generator_digest", "SOURCE_PACKAGES"]

#: The subpackages whose source can change generated Verilog (all those generation and the
#: simulation harness may import; docs/layout.md): their ``.py`` files are hashed into each key.
SOURCE_PACKAGES = ("subtile", "subtile.spec", "subtile.golden", "subtile.hdl", "subtile.tech",
                   "subtile.toolchain", "subtile.gen", "subtile.sim")

_RECORD = "design.json"
_FORMAT = 1


class Uncacheable(TypeError):
    """An argument that :func:`canonical` cannot reduce to data."""


def canonical(value):
    """``value`` as JSON data that is equal exactly when the hardware arguments are equal:
    configurations through their ``to_dict``, dataclasses field by field, NumPy arrays as dtype,
    shape and a SHA-256 of their bytes, sequences and mappings element by element.

    Raises
    ------
    Uncacheable
        For any other object (its identity could matter but its value is unknown here).
    """
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, np.generic):
        return canonical(value.item())
    if isinstance(value, np.ndarray):
        array = np.ascontiguousarray(value)
        return {"ndarray": str(array.dtype), "shape": list(array.shape),
                "sha256": hashlib.sha256(array.tobytes()).hexdigest()}
    if isinstance(value, (list, tuple)):
        return [canonical(item) for item in value]
    if isinstance(value, dict):
        return {"dict": [[canonical(k), canonical(v)] for k, v in sorted(value.items(), key=lambda kv: repr(kv[0]))]}
    if hasattr(value, "to_dict") and callable(value.to_dict):
        return {type(value).__name__: canonical(value.to_dict())}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {type(value).__name__: {f.name: canonical(getattr(value, f.name))
                                       for f in dataclasses.fields(value)}}
    raise Uncacheable(f"{type(value).__name__} cannot be part of a design cache key")


def _source_files(package: str) -> list[Path]:
    folder = Path(importlib.import_module(package).__file__).parent
    return sorted(folder.glob("*.py"))


@functools.lru_cache(maxsize=None)
def generator_digest(packages: tuple[str, ...] = SOURCE_PACKAGES) -> str:
    """SHA-256 over the names and contents of the ``.py`` files of ``packages`` (once per
    process: the source of a running process does not change under it)."""
    digest = hashlib.sha256()
    for package in packages:
        for path in _source_files(package):
            digest.update(f"{package}/{path.name}\0".encode())
            digest.update(path.read_bytes())
            digest.update(b"\0")
    return digest.hexdigest()


def design_key(kind: str, parameters) -> str:
    """The key of a design: ``kind``, the canonical ``parameters``, the generator's source
    digest and the tool versions.

    Raises
    ------
    Uncacheable
        If ``parameters`` hold an object :func:`canonical` cannot reduce.
    """
    versions = dict(tool_versions())
    record = {"format": _FORMAT, "kind": kind, "parameters": canonical(parameters),
              "generator": generator_digest(), "tools": versions}
    return hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()


def _load(folder: Path) -> GeneratedDesign | None:
    try:
        record = json.loads((folder / _RECORD).read_text())
        if record.get("format") != _FORMAT:
            return None
        text = (folder / "design.v").read_text(encoding="utf-8", errors="surrogateescape")
    except (OSError, ValueError):
        return None
    if len(text.encode("utf-8", "surrogateescape")) != record["verilog_bytes"]:
        return None
    design = GeneratedDesign(record["top"], text, record["ports"], record["clock"], record["reset"],
                             record["manifest_extra"])
    design.digest = record["verilog_sha256"]
    return design


def _store(folder: Path, key: str, design: GeneratedDesign) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    pid = os.getpid()
    staging = folder / f"design.v.{pid}.tmp"
    staging.write_text(design.verilog, encoding="utf-8", errors="surrogateescape")
    os.replace(staging, folder / "design.v")
    record = {"format": _FORMAT, "key": key, "top": design.top, "ports": design.ports,
              "clock": design.clock, "reset": design.reset, "manifest_extra": design.manifest_extra,
              "verilog_sha256": design.sha256,
              "verilog_bytes": len(design.verilog.encode("utf-8", "surrogateescape"))}
    staging = folder / f"{_RECORD}.{pid}.tmp"
    staging.write_text(json.dumps(record) + "\n")
    os.replace(staging, folder / _RECORD)


def cached_design(kind: str, parameters, generate: Callable[[], GeneratedDesign], *,
                  top: str) -> GeneratedDesign:
    """The design ``generate()`` returns for these ``parameters``, from the cache when an entry
    with the same key exists, else generated and stored.

    Parameters
    ----------
    kind : str
        What is generated (``"tile"``, ``"tile_bench"``, ...): part of the key.
    parameters
        Every argument of ``generate`` that changes its result (see :func:`canonical`).
    generate : callable
        Makes the design; called only on a miss.
    top : str
        The top module name (names the cache folder; also part of ``parameters``).

    Returns
    -------
    GeneratedDesign
        Equal to what ``generate()`` returns (its ``digest`` already known on a hit).
    """
    if os.environ.get("SUBTILE_DESIGN_CACHE", "1") == "0":
        return generate()
    try:
        key = design_key(kind, {"top": top, "arguments": parameters})
    except Uncacheable:
        return generate()
    folder = cache_root() / "verilog" / f"{top}-{key[:16]}"
    design = _load(folder)
    if design is not None:
        progress.report(f"Verilog of {top}: reused from {folder}")
        return design
    design = generate()
    try:
        _store(folder, key, design)
    except OSError as error:   # a read-only or full cache folder costs the reuse, not the run
        progress.report(f"Verilog of {top}: not cached ({error})")
    return design
