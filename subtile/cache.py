"""Caches: the one folder rule for reusable results (Verilator builds, netlists, parsed Liberty, PyPI
tools' state): ``$SUBTILE_CACHE`` if set, else ``$XDG_CACHE_HOME/subtile``, else
``~/.cache/subtile``. Each user keeps a subfolder of it (``verilator/``, ``gates/``, ``synth/``,
``tech/``, ...), and the one digest of Verilog text their keys use (:func:`verilog_digest`)."""

import hashlib
import os
import re
from pathlib import Path

__all__ = ["cache_root", "verilog_digest"]

_SRC_ATTRIBUTE = re.compile(r'\(\*\s*src\s*=\s*"(?:[^"\\]|\\.)*"\s*\*\)')


def cache_root() -> Path:
    """The folder that holds reusable results (not created here).

    Returns
    -------
    Path
        ``$SUBTILE_CACHE`` if set, else ``$XDG_CACHE_HOME/subtile``, else ``~/.cache/subtile``.
    """
    configured = os.environ.get("SUBTILE_CACHE")
    if configured:
        return Path(configured).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "subtile"


def verilog_digest(text: str) -> str:
    """Return the SHA-256 of Verilog text, ignoring Amaranth's ``(* src = "..." *)`` attributes.

    Parameters
    ----------
    text : str
        Verilog source text.

    Returns
    -------
    str
        Hex digest. Text that differs only in ``src`` attributes (which hold absolute paths and so
        change with the working directory) has the same digest.
    """
    stripped = _SRC_ATTRIBUTE.sub("", text)
    return hashlib.sha256(stripped.encode("utf-8", "surrogateescape")).hexdigest()
