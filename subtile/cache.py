"""The one folder rule for reusable results (Verilator builds, netlists, parsed Liberty, PyPI
tools' state): ``$SUBTILE_CACHE`` if set, else ``$XDG_CACHE_HOME/subtile``, else
``~/.cache/subtile``. Each user keeps a subfolder of it (``verilator/``, ``gates/``, ``synth/``,
``tech/``, ...)."""

import os
from pathlib import Path

__all__ = ["cache_root"]


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
