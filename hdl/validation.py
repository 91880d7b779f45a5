"""Constructor validation for Amaranth components."""

import contextlib

__all__ = ["refusing"]


@contextlib.contextmanager
def refusing(component):
    """Validate a component's constructor arguments inside this block.

    When the block raises (:class:`~subtile.errors.ConfigError` is a ``ValueError``), the
    half-built component is marked as deliberately unused, so that Amaranth does not add a
    "created but never used" warning to the user's error.
    """
    try:
        yield
    except (TypeError, ValueError):
        component._MustUse__silence = True
        raise
