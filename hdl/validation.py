"""Constructor validation for Amaranth components."""

import contextlib

from subtile.hdl.amaranth_internals import silence_unused

__all__ = ["unused_if_refused"]


@contextlib.contextmanager
def unused_if_refused(component):
    """Validate a component's constructor arguments inside this block; if the block refuses them
    (raises :class:`TypeError` or :class:`ValueError`; :class:`~subtile.errors.ConfigError` is a
    ``ValueError``), the half-built component is marked as deliberately unused before the error
    goes on, so that Amaranth does not add a "created but never used" warning to it.
    """
    try:
        yield
    except (TypeError, ValueError):
        silence_unused(component)
        raise
