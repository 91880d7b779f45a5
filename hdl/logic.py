"""Small combinational building blocks shared by the tile's parts (plain functions on values)."""

from amaranth.hdl import Array, Cat, Const, Mux, Value

__all__ = ["lowest_set", "select", "equals", "clear_lowest"]


def lowest_set(bits):
    """``(any, index)`` of the lowest set bit of a list of one-bit values (a balanced tree)."""
    if len(bits) == 1:
        return bits[0], Const(0, 1)

    def tree(part):
        if len(part) == 1:
            return part[0], None
        half = 1 << ((len(part) - 1).bit_length() - 1)       # largest power of two below len
        any_lo, idx_lo = tree(part[:half])
        any_hi, idx_hi = tree(part[half:])
        width = (half - 1).bit_length()
        if width == 0:
            return any_lo | any_hi, ~any_lo
        lo = Const(0, width) if idx_lo is None else idx_lo
        hi = Const(0, width) if idx_hi is None else idx_hi
        return any_lo | any_hi, Cat(Mux(any_lo, lo, hi), ~any_lo)

    return tree(list(bits))


def select(values, index):
    """``values[index]``, padded to every value of ``index`` (a full case in the Verilog)."""
    values = list(values)
    if len(values) == 1:
        return values[0]
    # A slice knows its width: Amaranth asks the index's width once per case, which for an
    # expression (a priority encoder's tree) means walking it again each time. Same netlist.
    index = Value.cast(index)[:len(index)]
    values += [values[-1]] * ((1 << len(index)) - len(values))
    return Array(values)[index]


def equals(value, constant: int):
    """``value == constant``; a comparison with 0 is written as a reduction (a multi-bit
    ``!x`` in the Verilog is a width warning)."""
    return ~value.any() if constant == 0 else value == constant


def clear_lowest(bits):
    """``bits`` with its lowest set bit cleared (``bits & (bits - 1)``, at the width of ``bits``)."""
    return bits & (bits - 1)[:len(bits)]
