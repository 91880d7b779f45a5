"""Constructor validation for Amaranth components."""

import contextlib

from subtile.errors import ConfigError
from subtile.hdl.amaranth_internals import silence_unused
from subtile.spec.config import TileConfig

__all__ = ["unused_if_refused", "checked_tile_config"]


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


def checked_tile_config(component, config) -> TileConfig:
    """``config`` if it is a :class:`~subtile.spec.config.TileConfig` (the argument of a tile
    part's constructor); else :class:`~subtile.errors.ConfigError`, ``component`` marked unused."""
    with unused_if_refused(component):
        if not isinstance(config, TileConfig):
            raise ConfigError(f"config: expected a TileConfig, got {type(config).__name__}")
    return config
