"""The neuron update of the tile's update phase: one lane updates one neuron per cycle."""

from functools import lru_cache

from amaranth.hdl import Const, Module, Mux, Signal, ValueCastable, signed
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from subtile.spec.config import TileConfig
from subtile.errors import ConfigError
from subtile.spec.activation import ActivationPlan, ActivationSpec
from subtile.spec.fixed import FixedFormat, Overflow, Rounding, resize, saturate, shift_right
from subtile.hdl.activation import ActivationUnit
from subtile.hdl.branch import Branch
from subtile.hdl.fixed import AMARANTH_OPS, shape_of
from subtile.hdl.validation import unused_if_refused

__all__ = ["LevelCrossingEncoder", "NeuronLane", "activation_plans"]


@lru_cache(maxsize=64)
def _plan(spec: ActivationSpec) -> ActivationPlan:
    return spec.plan()


def activation_plans(config: TileConfig) -> tuple[ActivationPlan | None, ActivationPlan]:
    """The resolved plans of ``config``'s branch (``None`` for identity) and soma activations.

    Plans are cached per spec, so building many lanes or tiles searches segments once.
    """
    branch = config.branch_spec
    return (None if branch is None else _plan(branch)), _plan(config.soma_spec)


def resting_state_settled(config: TileConfig) -> bool:
    """Whether a neuron in the all-zero state is settled: an update would leave v = 0 and y_sent = 0,
    emit nothing and leave the neuron clean (docs/architecture.md, "State", ``reset_dirty``).

    The lane's datapath rules evaluated once, on constants, for the dirty flags' reset value. It is
    derived here from the shared fixed-point and activation rules, not taken from the golden model,
    so the RTL's reset state is checked against the golden model's independent derivation.
    """
    branch_plan, soma_plan = activation_plans(config)
    dendrite, membrane, k = config.dendrite_format, config.membrane_format, config.leak_shift
    a = resize(0, config.accumulator_frac_bits, dendrite, Rounding.NEAREST_EVEN, Overflow.SATURATE)
    d = a if branch_plan is None else int(branch_plan.evaluate([a])[0])
    u = int(resize(config.branches * d, dendrite.frac_bits, membrane, Rounding.NEAREST_EVEN,
                   Overflow.SATURATE))
    v = int(shift_right(u, k, Rounding.FLOOR))
    y = int(soma_plan.evaluate([v])[0])
    emits = y != 0 and abs(y) >= config.delta
    rest = y - (int(saturate(y, config.payload_format)) if emits else 0)
    dirty = int(shift_right(u - v, k, Rounding.FLOOR)) != 0 or (rest != 0 and abs(rest) >= config.delta)
    return v == 0 and y == 0 and not dirty


class LevelCrossingEncoder(wiring.Component):
    """Sigma-delta output coding of a level: send its change once it is large enough.

    With ``diff = y - y_sent`` (combinational, docs/architecture.md)::

        emit        = diff != 0 and |diff| >= delta
        payload     = saturate(diff, payload_format)
        y_sent_next = y_sent + payload if emit else y_sent
        rest        = y - y_sent_next != 0 and |y - y_sent_next| >= delta

    Parameters
    ----------
    payload_format : FixedFormat
        Signed format of ``y``, ``y_sent`` and the payload.
    delta : int
        Threshold in payload LSBs, ``0 .. 2**W - 1`` (0 and 1 behave alike).

    Members
    -------
    y : In(signed(W))
        The new level.
    y_sent : In(signed(W))
        The level the receiver holds (running sum of sent payloads).
    emit : Out(1)
        An event is sent.
    payload : Out(signed(W))
        Its payload (meaningful when ``emit``).
    y_sent_next : Out(signed(W))
        ``y_sent`` after this update.
    rest : Out(1)
        A saturated event left a change that is still to be sent.
    """

    def __init__(self, *, payload_format: FixedFormat, delta: int):
        with unused_if_refused(self):
            if not isinstance(payload_format, FixedFormat) or not payload_format.signed:
                raise ConfigError(f"payload_format: expected a signed FixedFormat, got {payload_format!r}")
            if isinstance(delta, bool) or not isinstance(delta, int) \
                    or not 0 <= delta <= (1 << payload_format.width) - 1:
                raise ConfigError(f"delta: {delta!r} is outside the allowed range "
                                  f"0..{(1 << payload_format.width) - 1}")
        self.payload_format = payload_format
        self.delta = delta
        shape = shape_of(payload_format)
        super().__init__({
            "y": In(shape),
            "y_sent": In(shape),
            "emit": Out(1),
            "payload": Out(shape),
            "y_sent_next": Out(shape),
            "rest": Out(1),
        })

    def _crosses(self, diff):
        """``diff != 0 and |diff| >= delta``, without a comparison of constant result."""
        if self.delta <= 1:
            return diff != 0
        return Mux(diff < 0, -diff, diff) >= self.delta

    def elaborate(self, platform):
        m = Module()
        width = self.payload_format.width
        diff = Signal(signed(width + 1), name="diff")
        rest_diff = Signal(signed(width + 1), name="rest_diff")
        m.d.comb += [
            diff.eq(self.y - self.y_sent),
            self.emit.eq(self._crosses(diff)),
            self.payload.eq(saturate(diff, self.payload_format, AMARANTH_OPS)),
            self.y_sent_next.eq(Mux(self.emit, self.y_sent + self.payload, self.y_sent)),
            rest_diff.eq(self.y - self.y_sent_next),
            self.rest.eq(self._crosses(rest_diff)),
        ]
        return m


class NeuronLane(wiring.Component):
    """The update of one neuron (combinational), bit-exact with docs/architecture.md::

        a_b = resize(acc[b], Fa, dendrite, nearest_even, saturate); d_b = branch_act(a_b)
        u   = resize(sum_b d_b, Fd, membrane, nearest_even, saturate)
        v'  = v + shift_right(u - v, k, floor)
        y   = soma_act(v')            (level crossing: see LevelCrossingEncoder)
        dirty' = shift_right(u - v', k, floor) != 0 or rest

    A neuron that is not dirty keeps its state: ``v_next = v``, ``y_sent_next = y_sent``,
    ``dirty_next = 0`` and no event.

    Parameters
    ----------
    config : TileConfig
        Formats, branches B, leak shift k, delta and the activations.
    branch_plan, soma_plan : ActivationPlan, optional
        Resolved plans of ``config.branch_spec`` and ``config.soma_spec`` (default: cached
        :func:`activation_plans`). Both units must be combinational (latency 0).

    Members
    -------
    acc : In(ArrayLayout(signed(Wa), B))
        The neuron's accumulators.
    v : In(signed(Wm))
        Membrane.
    y_sent : In(signed(Wp))
        Last level sent.
    dirty : In(1)
        The neuron is to be updated.
    v_next, y_sent_next, dirty_next : Out
        The neuron's state after the update.
    emit : Out(1)
        The update sends an event.
    payload : Out(signed(Wp))
        The event's payload (meaningful when ``emit``).
    """

    def __init__(self, config: TileConfig, *, branch_plan: ActivationPlan | None = None,
                 soma_plan: ActivationPlan | None = None):
        with unused_if_refused(self):
            if not isinstance(config, TileConfig):
                raise ConfigError(f"config: expected a TileConfig, got {type(config).__name__}")
            branch_spec, soma_spec = config.branch_spec, config.soma_spec
            if branch_spec is None:
                if branch_plan is not None:
                    raise ConfigError("branch_plan: given for the identity branch activation")
            elif branch_plan is None:
                branch_plan = _plan(branch_spec)
            elif branch_plan.spec != branch_spec:
                raise ConfigError("branch_plan: it was resolved for another spec")
            if soma_plan is None:
                soma_plan = _plan(soma_spec)
            elif soma_plan.spec != soma_spec:
                raise ConfigError("soma_plan: it was resolved for another spec")
            for label, spec in (("branch_activation", branch_spec), ("soma_activation", soma_spec)):
                if spec is not None and spec.latency != 0:
                    raise ConfigError(f"{label}: latency {spec.latency}; the lane needs 0 (combinational)")
        self.config = config
        self.branch_plan = branch_plan
        self.soma_plan = soma_plan
        # Parts built here rather than in elaborate(), so that a simulation wrapper can observe
        # their ports (toggle attribution per activation unit and encoder).
        self.branch_units = [Branch(accumulator_format=config.accumulator_format,
                                    dendrite_format=config.dendrite_format,
                                    spec=config.branch_spec, plan=branch_plan)
                             for _ in range(config.branches)]
        self.soma = ActivationUnit(config.soma_spec, plan=soma_plan)
        self.encoder = LevelCrossingEncoder(payload_format=config.payload_format, delta=config.delta)
        membrane = shape_of(config.membrane_format)
        payload = shape_of(config.payload_format)
        super().__init__({
            "acc": In(data.ArrayLayout(shape_of(config.accumulator_format), config.branches)),
            "v": In(membrane),
            "y_sent": In(payload),
            "dirty": In(1),
            "v_next": Out(membrane),
            "y_sent_next": Out(payload),
            "dirty_next": Out(1),
            "emit": Out(1),
            "payload": Out(payload),
        })

    @property
    def parts(self) -> tuple:
        """The lane's submodules: its branches, the soma activation and the encoder."""
        return (*self.branch_units, self.soma, self.encoder)

    def module_ports(self) -> dict:
        """The lane's ports as a module of its own, ``name -> (direction, signal)`` with direction
        ``"i"`` (read) or ``"o"`` (driven), as :class:`~amaranth.hdl.Instance` prefixes them: the
        members of its signature, and the nets inside it that a simulation wrapper observes (each
        branch activation's output ``branch_<b>_d``, the soma's ``soma_y``; see
        :class:`~subtile.hdl.tile_probes.TileProbes`)."""
        ports = {"__".join(map(str, path)): ("i" if member.flow == In else "o",
                                             value.as_value() if isinstance(value, ValueCastable) else value)
                 for path, member, value in self.signature.flatten(self)}
        ports.update({f"branch_{b}_d": ("o", branch.d) for b, branch in enumerate(self.branch_units)})
        ports["soma_y"] = ("o", self.soma.y)
        return ports

    def elaborate(self, platform):
        # Every lane of a design is the same logic: a platform that converts it once and
        # instantiates it (the Verilog generator's, subtile.gen.verilog.SharedLanes) saves
        # elaborating and converting it per lane, for a large tile most of the generation.
        if hasattr(platform, "get_neuron_lane"):
            return platform.get_neuron_lane(self)
        m = Module()
        config, ops = self.config, AMARANTH_OPS
        k = config.leak_shift
        dendrite, membrane = config.dendrite_format, config.membrane_format

        branch_out = []
        for b, branch in enumerate(self.branch_units):
            m.submodules[f"branch_{b}"] = branch
            m.d.comb += branch.acc.eq(self.acc[b])
            branch_out.append(branch.d)

        u = Signal(shape_of(membrane), name="u")
        v_new = Signal(shape_of(membrane), name="v_new")
        m.d.comb += [
            u.eq(resize(sum(branch_out), dendrite.frac_bits, membrane,
                        Rounding.NEAREST_EVEN, Overflow.SATURATE, ops)),
            # v' lies between v and u, so it fits the membrane format.
            v_new.eq(u if k == 0 else self.v + shift_right(u - self.v, k, Rounding.FLOOR, ops)),
        ]

        m.submodules.soma = soma = self.soma
        m.submodules.encoder = encoder = self.encoder
        moving = Signal(name="moving")      # the next update would move v
        m.d.comb += [
            soma.x.eq(v_new),
            encoder.y.eq(soma.y),
            encoder.y_sent.eq(self.y_sent),
            moving.eq(Const(0, 1) if k == 0 else shift_right(u - v_new, k, Rounding.FLOOR, ops) != 0),
        ]

        m.d.comb += [
            self.v_next.eq(Mux(self.dirty, v_new, self.v)),
            self.y_sent_next.eq(Mux(self.dirty, encoder.y_sent_next, self.y_sent)),
            self.dirty_next.eq(self.dirty & (moving | encoder.rest)),
            self.emit.eq(self.dirty & encoder.emit),
            self.payload.eq(encoder.payload),
        ]
        return m
