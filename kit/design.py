"""What a testbench needs to know of the design under test: its configuration and its layouts.

A :class:`Design` comes from the ``manifest.json`` that ``subtile export`` (or
:meth:`subtile.gen.verilog.GeneratedDesign.write`) puts beside the Verilog, or from the
configuration itself. The payload layouts are the ones the hardware was generated from
(``subtile.hdl.synapse``, ``subtile.hdl.mesh``), so a testbench never restates a field width.
"""

from __future__ import annotations

import json
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

from subtile.errors import ConfigError
from subtile.kit.bus import Layout
from subtile.spec.config import MeshConfig, TileConfig

__all__ = ["Design", "MANIFEST_ENV"]

#: The environment variable :meth:`Design.load` reads when given no path (the example runner sets it).
MANIFEST_ENV = "SUBTILE_MANIFEST"


@dataclass
class Design:
    """A tile or mesh design: ``config`` and the layouts of its ports.

    Attributes
    ----------
    config : TileConfig or MeshConfig
    kind : str
        ``"tile"`` or ``"mesh"``.
    """

    config: TileConfig | MeshConfig

    @property
    def kind(self) -> str:
        return "mesh" if isinstance(self.config, MeshConfig) else "tile"

    @classmethod
    def load(cls, path: str | Path | None = None) -> "Design":
        """From a ``manifest.json`` (or the folder holding one); default ``$SUBTILE_MANIFEST``."""
        if path is None:
            path = os.environ.get(MANIFEST_ENV)
            if not path:
                raise ConfigError(f"manifest: no path given and ${MANIFEST_ENV} is not set "
                                  "(the manifest.json written by `subtile export`)")
        path = Path(path)
        if path.is_dir():
            path = path / "manifest.json"
        try:
            manifest = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as error:
            raise ConfigError(f"manifest: cannot read {path} ({error})") from None
        kind = manifest.get("kind")
        if kind == "tile" and isinstance(manifest.get("config"), dict):
            return cls(TileConfig.from_dict(manifest["config"]))
        if kind == "mesh" and isinstance(manifest.get("config_toml"), str):
            return cls(MeshConfig.from_dict(tomllib.loads(manifest["config_toml"])))
        raise ConfigError(f"manifest: {path} describes no subtile tile or mesh "
                          "(expected kind 'tile' with 'config', or 'mesh' with 'config_toml')")

    # -- layouts of a tile ------------------------------------------------------------------
    def _tile_config(self, tile: int | None) -> TileConfig:
        if isinstance(self.config, TileConfig):
            return self.config
        return self.config.tile_config(0 if tile is None else tile)

    def event_in(self, tile: int | None = None) -> Layout:
        from subtile.hdl.synapse import event_in_layout
        return Layout(event_in_layout(self._tile_config(tile)), name="events_in")

    def event_out(self, tile: int | None = None) -> Layout:
        from subtile.hdl.synapse import event_out_layout
        return Layout(event_out_layout(self._tile_config(tile)), name="events_out")

    def prog(self, tile: int | None = None) -> Layout:
        from subtile.hdl.synapse import prog_layout
        return Layout(prog_layout(self._tile_config(tile)), name="prog")

    # -- layouts of a mesh ------------------------------------------------------------------
    def _mesh(self) -> MeshConfig:
        if not isinstance(self.config, MeshConfig):
            raise ConfigError("design: a tile has no mesh ports (input_<k>, output_<k>)")
        return self.config

    def packet(self) -> Layout:
        """The packet on a mesh's ``input_<k>`` ports."""
        from subtile.hdl.mesh import mesh_packet_layout
        return Layout(mesh_packet_layout(self._mesh()), name="packet")

    def external_out(self) -> Layout:
        """The (neuron, payload) events on a mesh's ``output_<k>`` ports."""
        from subtile.hdl.fanout import external_event_layout
        from subtile.hdl.mesh import mesh_packet_layout
        return Layout(external_event_layout(mesh_packet_layout(self._mesh())), name="output")
