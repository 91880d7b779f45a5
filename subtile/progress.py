"""Progress lines of long runs (generation, Verilator builds, simulations, energy).

Library code calls :func:`report` at the start and end of each phase that can take more than a
few seconds; nothing is shown unless a front end installed a reporter with :func:`set_reporter`
(the ``subtile`` command prints them on stderr, never on stdout, and not with ``--quiet``).
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Callable, Iterator

_reporter: Callable[[str], None] | None = None


def set_reporter(reporter: Callable[[str], None] | None) -> Callable[[str], None] | None:
    """Install ``reporter`` (called with one line per message; ``None``: silent); returns the
    previous one."""
    global _reporter
    previous, _reporter = _reporter, reporter
    return previous


def report(message: str) -> None:
    """Show one progress line (nothing when no reporter is installed)."""
    if _reporter is not None:
        _reporter(message)


@contextmanager
def phase(what: str, *, estimate: str = "") -> Iterator[None]:
    """Report ``what...`` on entry and ``what: done in N s`` on a normal exit."""
    report(f"{what}{f' ({estimate})' if estimate else ''}...")
    start = time.monotonic()
    yield
    report(f"{what}: done in {time.monotonic() - start:.1f} s")
