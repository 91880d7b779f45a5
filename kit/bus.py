"""The stream protocol and payload layouts, described once as data.

Every port of a generated tile or mesh that carries events is a valid/ready stream
(docs/architecture.md, "Interfaces of the generated tile"): three signals named
``<port>__valid``, ``<port>__ready`` and ``<port>__payload``, a transfer in every cycle in which
both ``valid`` and ``ready`` are high at the rising clock edge. The payload is a packed word
whose fields come from the design's Amaranth layouts (``subtile.hdl.synapse``,
``subtile.hdl.mesh``); :class:`Layout` is their simulator-side form, built from those layouts,
never typed again.
"""

from __future__ import annotations

from dataclasses import dataclass

from amaranth.hdl import Shape

from subtile.errors import ConfigError

__all__ = ["STREAM", "StreamProtocol", "Field", "Layout", "resolve_bit"]


@dataclass(frozen=True)
class StreamProtocol:
    """A handshake protocol: the signal roles and how their names derive from the port name.

    Attributes
    ----------
    signals : tuple of str
        The roles, in the order a bus lists them.
    separator : str
        Between the port name and the role (Amaranth flattens ``events_in.valid`` to
        ``events_in__valid``).
    """

    signals: tuple[str, ...] = ("valid", "ready", "payload")
    separator: str = "__"

    def signal_name(self, port: str, role: str) -> str:
        if role not in self.signals:
            raise ConfigError(f"role: {role!r} is not one of {', '.join(self.signals)}")
        return f"{port}{self.separator}{role}"

    def handles(self, dut, port: str) -> dict:
        """The simulator handles of ``port``'s signals, by role; a missing one is a one-line error."""
        found = {}
        for role in self.signals:
            name = self.signal_name(port, role)
            try:
                found[role] = getattr(dut, name)
            except AttributeError:
                raise ConfigError(f"port: {dut._name} has no signal {name} (a {port!r} stream needs "
                                  f"{', '.join(self.signal_name(port, r) for r in self.signals)})") from None
        return found


#: The valid/ready stream of every subtile port.
STREAM = StreamProtocol()


@dataclass(frozen=True)
class Field:
    """One field of a packed payload: bits ``offset .. offset + width - 1``."""

    name: str
    offset: int
    width: int
    signed: bool

    @property
    def mask(self) -> int:
        return (1 << self.width) - 1

    @property
    def range(self) -> tuple[int, int]:
        """The codes the field holds, ``(lo, hi)`` inclusive."""
        if self.signed:
            return -(1 << (self.width - 1)), (1 << (self.width - 1)) - 1
        return 0, self.mask


class Layout:
    """A packed payload's fields, from an Amaranth ``StructLayout``.

    ``pack(address=3, payload=-2)`` gives the word a port carries; ``unpack(word)`` the fields
    as a dict (signed fields sign-extended). Values outside a field's range are refused with the
    field's name and range, so a testbench never sends a silently truncated event.
    """

    def __init__(self, struct_layout, *, name: str = "payload"):
        self.name = name
        self.fields: dict[str, Field] = {}
        for field_name, member in struct_layout:
            shape = Shape.cast(member.shape)
            self.fields[field_name] = Field(field_name, member.offset, shape.width, shape.signed)
        self.width = struct_layout.size

    def __repr__(self) -> str:
        inner = ", ".join(f"{f.name}:{'s' if f.signed else 'u'}{f.width}@{f.offset}" for f in self.fields.values())
        return f"Layout({self.name}: {inner})"

    def pack(self, **values) -> int:
        unknown = set(values) - set(self.fields)
        if unknown:
            raise ConfigError(f"{self.name}: no field {', '.join(sorted(unknown))} "
                              f"(fields: {', '.join(self.fields)})")
        word = 0
        for field in self.fields.values():
            value = int(values.get(field.name, 0))
            lo, hi = field.range
            if not lo <= value <= hi:
                raise ConfigError(f"{self.name}.{field.name}: {value} is outside {lo}..{hi}")
            word |= (value & field.mask) << field.offset
        return word

    def unpack(self, word: int) -> dict[str, int]:
        out = {}
        for field in self.fields.values():
            value = (int(word) >> field.offset) & field.mask
            if field.signed and value >> (field.width - 1):
                value -= 1 << field.width
            out[field.name] = value
        return out


def resolve_bit(handle) -> bool:
    """A one-bit signal's value; X or Z reads as 0 (a stream signal that is not driven yet)."""
    return str(handle.value) == "1"
