"""Supply-voltage scaling of energy and delay, down to subthreshold: an EKV-style model.

One formula for the on-current covers strong inversion, moderate inversion and subthreshold, the
EKV interpolation (Enz, Krummenacher, Vittoz, "An analytical MOS transistor model valid in all
regions of operation and dedicated to low-voltage and low-current applications", Analog
Integrated Circuits and Signal Processing 8, 1995)::

    I_on(V)   = I_S * ln^2(1 + exp((V - Vth) / (2 n vT)))          vT = k T / q
    t_d(V)    ~ C V / I_on(V)                                        gate delay
    E_dyn(V)  = E_dyn(V0) * (V / V0)^2                               per operation
    I_leak(V) ~ exp(-(Vth - eta V) / (n vT)) * (1 - exp(-V / vT))    off-current (eta: DIBL)
    P_leak(V) = P_leak(V0) * I_leak(V) V / (I_leak(V0) V0)
    T_cycle(V) = logic_depth * t_d(V)    (or 1 / f_nominal scaled like t_d)
    E_leak(V) = P_leak(V) * cycles * T_cycle(V)                      per operation

Well above Vth, ``ln^2(1 + e^x) ~ x^2`` gives the square law; well below, ``~ e^(2x)`` gives the
exponential subthreshold current with slope factor n. Only ratios to the nominal supply V0 are
used, so I_S and C cancel. Dynamic energy falls as V^2 while the delay, and with it the time
over which every cell leaks, grows exponentially below Vth: the energy per operation has a
minimum near or below Vth. That is the minimum-energy point of Calhoun, Wang and Chandrakasan
("Modeling and sizing for minimum energy operation in subthreshold circuits", IEEE JSSC 40(9),
2005), measured at 350 mV for an FFT processor by Wang and Chandrakasan ("A 180-mV subthreshold
FFT processor using a minimum energy design methodology", IEEE JSSC 40(1), 2005); reported
minima lie at about 0.25-0.4 V.

Not modelled: variation (which raises the practical minimum supply), the temperature dependence
of Vth, short-channel effects other than the optional DIBL term, and functional failure below
about 0.15 V (the sweep starts there). The formulas and constants are also in
``docs/energy-model.md``.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import asdict, dataclass

import numpy as np

from subtile.errors import ConfigError

__all__ = [
    "BOLTZMANN_J_PER_K",
    "ELEMENTARY_CHARGE_C",
    "OperatingPoint",
    "Sweep",
    "VoltageModel",
    "energy_delay_distance",
    "energy_delay_product",
    "energy_delay_sum",
]

BOLTZMANN_J_PER_K = 1.380649e-23  # exact, SI 2019
ELEMENTARY_CHARGE_C = 1.602176634e-19  # exact, SI 2019

# Golden-section refinement stops at this bracket width (V): far below anything the model's
# accuracy can resolve, and reached in about 25 steps from a 2 mV bracket.
_REFINE_TOLERANCE_V = 1e-6


@dataclass(frozen=True)
class OperatingPoint:
    """Energy and timing of one operation at one supply.

    Attributes
    ----------
    vdd : float
        Supply in V.
    dynamic_pj, leakage_pj, total_pj : float
        Switching, leakage and total energy of the operation in pJ.
    delay_s : float
        Duration of the operation: ``cycles * T_cycle(vdd)`` in s.
    frequency_hz : float
        Highest clock frequency at this supply, ``1 / T_cycle(vdd)``.
    at_bound : bool
        For :meth:`VoltageModel.minimum_energy_point`: True when the minimum is at an end of the
        searched range, i.e. no interior minimum was found there (e.g. no leakage given).
    """

    vdd: float
    dynamic_pj: float
    leakage_pj: float
    total_pj: float
    delay_s: float
    frequency_hz: float
    at_bound: bool = False

    def to_dict(self) -> dict:
        """Return a JSON-ready dict."""
        return asdict(self)


@dataclass(frozen=True)
class Sweep:
    """Energy and timing over a range of supplies: arrays of equal length, one entry per supply.

    Attributes
    ----------
    vdd, dynamic_pj, leakage_pj, total_pj, delay_s, frequency_hz : numpy.ndarray
        As in :class:`OperatingPoint`.
    """

    vdd: np.ndarray
    dynamic_pj: np.ndarray
    leakage_pj: np.ndarray
    total_pj: np.ndarray
    delay_s: np.ndarray
    frequency_hz: np.ndarray

    def __len__(self) -> int:
        return len(self.vdd)

    def records(self) -> list[OperatingPoint]:
        """Return one :class:`OperatingPoint` per supply."""
        return [OperatingPoint(float(v), float(d), float(lk), float(t), float(s), float(f))
                for v, d, lk, t, s, f in zip(self.vdd, self.dynamic_pj, self.leakage_pj,
                                             self.total_pj, self.delay_s, self.frequency_hz)]

    def to_dict(self) -> dict:
        """Return a JSON-ready dict of lists."""
        return {k: np.asarray(v).tolist() for k, v in asdict(self).items()}


@dataclass(frozen=True)
class VoltageModel:
    """EKV-style voltage scaling of delay, dynamic energy and leakage (see the module docstring).

    Attributes
    ----------
    vth : float
        Threshold voltage in V. Default 0.45 V: an assumed round value in the 0.4-0.5 V range of
        the SKY130 1.8 V nFET (``sky130_fd_pr__nfet_01v8``; the SkyWater PDK device-details pages
        tabulate its e-test VT for a precise figure). Allowed (0, 1.5).
    n : float
        Subthreshold slope factor, 1 + C_dep/C_ox. Default 1.4: bulk CMOS typically has 1.2-1.6
        (subthreshold swing n * vT * ln 10 = 84 mV/decade at 300 K), the range used by Enz et
        al. 1995 and Calhoun et al. 2005. Allowed [1, 3].
    temperature_k : float
        Temperature in K for vT = kT/q. Default 300 K (vT = 25.85 mV); the SKY130 tt Liberty is
        characterised at 25 C = 298 K. Allowed (0, 500].
    vdd_nominal : float
        Supply at which the nominal energies, leakage and frequency are given, in V. Default
        1.8 V (SKY130 hd tt). Allowed (vth, 5].
    logic_depth : float
        Gate delays per clock cycle. Default 40: an assumption for a synthesised datapath (a
        16-20 bit ripple accumulate plus multiplexing). Allowed [1, 10000].
    gate_delay_nominal_s : float
        One gate delay at ``vdd_nominal``. Default 80 ps: sky130_fd_sc_hd__inv_1 at fan-out 4
        (0.0092 pF) with its own output slew (~0.07 ns), mean of ``cell_rise`` and ``cell_fall``
        in the tt 1.80 V Liberty (0.083 ns). Allowed (0, 1 us].
    dibl : float
        Drain-induced barrier lowering eta: Vth falls by ``dibl * V``. Default 0 (off: keeps the
        model to the cited formulas); 0.05-0.15 V/V is typical of short channels. Allowed
        [0, 0.5].
    """

    vth: float = 0.45
    n: float = 1.4
    temperature_k: float = 300.0
    vdd_nominal: float = 1.8
    logic_depth: float = 40.0
    gate_delay_nominal_s: float = 80e-12
    dibl: float = 0.0

    # Sweeps and the minimum search start here: below it static CMOS loses noise margin and the
    # model's smooth curves no longer describe working logic.
    V_MIN = 0.15

    def __post_init__(self):
        _check("vth", self.vth, 0.0, 1.5, "(0, 1.5) V", open_hi=True)
        _check("n", self.n, 1.0, 3.0, "[1, 3]", closed_lo=True)
        _check("temperature_k", self.temperature_k, 0.0, 500.0, "(0, 500] K")
        _check("vdd_nominal", self.vdd_nominal, self.vth, 5.0, f"({self.vth:g}, 5] V (above vth)")
        _check("logic_depth", self.logic_depth, 1.0, 1e4, "[1, 10000]", closed_lo=True)
        _check("gate_delay_nominal_s", self.gate_delay_nominal_s, 0.0, 1e-6, "(0, 1e-6] s")
        _check("dibl", self.dibl, 0.0, 0.5, "[0, 0.5] V/V", closed_lo=True)

    # ---- device currents (relative units: I_S = 1) -----------------------------------------

    @property
    def thermal_voltage(self) -> float:
        """vT = k T / q in V."""
        return BOLTZMANN_J_PER_K * self.temperature_k / ELEMENTARY_CHARGE_C

    def on_current(self, v):
        """EKV on-current ``ln^2(1 + exp((V - Vth_eff) / (2 n vT)))`` in units of I_S."""
        v = np.asarray(v, dtype=float)
        x = (v - self.vth + self.dibl * v) / (2.0 * self.n * self.thermal_voltage)
        # logaddexp(0, x) = ln(1 + e^x) without overflow for large x.
        return np.logaddexp(0.0, x) ** 2

    def leakage_current(self, v):
        """Off-current ``exp(-(Vth - eta V)/(n vT)) * (1 - exp(-V/vT))`` in units of I_S."""
        v = np.asarray(v, dtype=float)
        vt = self.thermal_voltage
        return np.exp(-(self.vth - self.dibl * v) / (self.n * vt)) * -np.expm1(-v / vt)

    # ---- scale factors relative to vdd_nominal -----------------------------------------------

    def delay_scale(self, v):
        """Gate delay at ``v`` relative to ``vdd_nominal``: ``(V / I_on(V)) / (V0 / I_on(V0))``."""
        v = self._supply(v)
        v0 = self.vdd_nominal
        return _out((v / self.on_current(v)) / (v0 / self.on_current(v0)))

    def dynamic_scale(self, v):
        """Dynamic energy at ``v`` relative to ``vdd_nominal``: ``(V / V0)^2``."""
        return _out((self._supply(v) / self.vdd_nominal) ** 2)

    def leakage_power_scale(self, v):
        """Leakage power at ``v`` relative to ``vdd_nominal``: ``I_leak(V) V / (I_leak(V0) V0)``."""
        v = self._supply(v)
        v0 = self.vdd_nominal
        return _out(self.leakage_current(v) * v / (self.leakage_current(v0) * v0))

    def cycle_time_s(self, v, f_nominal: float | None = None):
        """Clock period at ``v`` in s: the nominal period times :meth:`delay_scale`.

        The nominal period is ``1 / f_nominal`` when given, else ``logic_depth *
        gate_delay_nominal_s``.
        """
        return _out(self._nominal_period(f_nominal) * np.asarray(self.delay_scale(v)))

    def max_frequency(self, v, f_nominal: float | None = None):
        """Highest clock frequency at ``v`` in Hz: ``f_nominal / delay_scale(v)``.

        Parameters
        ----------
        v : float or array_like
            Supply in V, in (0, 5].
        f_nominal : float, optional
            Frequency at ``vdd_nominal`` in Hz; default ``1 / (logic_depth *
            gate_delay_nominal_s)``.
        """
        return _out(1.0 / np.asarray(self.cycle_time_s(v, f_nominal)))

    # ---- energy per operation ----------------------------------------------------------------

    def energy_per_operation(self, v: float, dynamic_nominal_pj: float,
                             leakage_nominal_nw: float, cycles: float = 1.0,
                             f_nominal: float | None = None) -> OperatingPoint:
        """Energy of one operation at supply ``v``.

        Parameters
        ----------
        v : float
            Supply in V, in (0, 5].
        dynamic_nominal_pj : float
            Switching energy of the operation at ``vdd_nominal`` in pJ (e.g. from toggle counts
            and :class:`subtile.power.tech_model.TechModel`).
        leakage_nominal_nw : float
            Leakage power of the whole circuit at ``vdd_nominal`` in nW.
        cycles : float
            Clock cycles the operation takes; the circuit leaks during all of them.
        f_nominal : float, optional
            Clock frequency at ``vdd_nominal`` in Hz; default from ``logic_depth`` and
            ``gate_delay_nominal_s``. The clock is assumed to run as fast as the supply allows.

        Returns
        -------
        OperatingPoint
        """
        if np.ndim(v) != 0:
            raise ConfigError("v: energy_per_operation takes one supply; use sweep() for several")
        return self._evaluate(np.array([float(v)]), dynamic_nominal_pj, leakage_nominal_nw,
                              cycles, f_nominal).records()[0]

    def sweep(self, vdd_values, dynamic_pj: float, leakage_nw: float, cycles: float = 1.0,
              f_nominal: float | None = None) -> Sweep:
        """Energy and timing of one operation at each supply of ``vdd_values``.

        Parameters are those of :meth:`energy_per_operation` (``dynamic_pj`` and ``leakage_nw``
        at ``vdd_nominal``), with ``vdd_values`` a sequence of supplies in V.
        """
        v = np.atleast_1d(np.asarray(vdd_values, dtype=float))
        if v.ndim != 1 or v.size == 0:
            raise ConfigError("vdd_values: expected a non-empty 1-D sequence of supplies in V")
        return self._evaluate(v, dynamic_pj, leakage_nw, cycles, f_nominal)

    def minimum_energy_point(self, dynamic_pj: float, leakage_nw: float, cycles: float = 1.0,
                             f_nominal: float | None = None, *, v_min: float | None = None,
                             v_max: float | None = None, step: float = 1e-3) -> OperatingPoint:
        """The supply with the least energy per operation.

        A grid from ``v_min`` (default 0.15 V) to ``v_max`` (default ``vdd_nominal``) in
        ``step`` volts finds the best grid point; a golden-section search between its two
        neighbours then refines it to 1 uV (the total energy is smooth and has a single minimum
        there). When the best grid point is an end of the range, that end is returned with
        ``at_bound=True``: energy still falls beyond it (no leakage, or a range too narrow).

        Parameters
        ----------
        dynamic_pj, leakage_nw, cycles, f_nominal
            As in :meth:`energy_per_operation`.
        v_min, v_max : float, optional
            Search range in V, ``0 < v_min < v_max <= 5``.
        step : float
            Grid step in V, in (0, 0.1].

        Returns
        -------
        OperatingPoint
        """
        lo = self.V_MIN if v_min is None else v_min
        hi = self.vdd_nominal if v_max is None else v_max
        _check("v_min", lo, 0.0, 5.0, "(0, 5] V")
        _check("v_max", hi, lo, 5.0, f"({lo:g}, 5] V (above v_min)")
        _check("step", step, 0.0, 0.1, "(0, 0.1] V")
        grid = np.linspace(lo, hi, int(math.ceil((hi - lo) / step)) + 1)
        args = (dynamic_pj, leakage_nw, cycles, f_nominal)
        total = self._evaluate(grid, *args).total_pj
        k = int(np.argmin(total))
        if k in (0, len(grid) - 1):
            point = self._evaluate(grid[k:k + 1], *args).records()[0]
            return OperatingPoint(**{**point.to_dict(), "at_bound": True})

        def energy(x: float) -> float:
            return float(self._evaluate(np.array([x]), *args).total_pj[0])

        a, b = float(grid[k - 1]), float(grid[k + 1])
        ratio = (math.sqrt(5.0) - 1.0) / 2.0
        c, d = b - ratio * (b - a), a + ratio * (b - a)
        fc, fd = energy(c), energy(d)
        while b - a > _REFINE_TOLERANCE_V:
            if fc < fd:
                b, d, fd = d, c, fc
                c = b - ratio * (b - a)
                fc = energy(c)
            else:
                a, c, fc = c, d, fd
                d = a + ratio * (b - a)
                fd = energy(d)
        return self._evaluate(np.array([(a + b) / 2.0]), *args).records()[0]

    # ---- internals ---------------------------------------------------------------------------

    def _supply(self, v) -> np.ndarray:
        arr = np.asarray(v, dtype=float)
        if not np.all(np.isfinite(arr)) or np.any(arr <= 0) or np.any(arr > 5.0):
            raise ConfigError(f"vdd: supplies must be in (0, 5] V, got {v!r}")
        return arr

    def _nominal_period(self, f_nominal: float | None) -> float:
        if f_nominal is None:
            return self.logic_depth * self.gate_delay_nominal_s
        _check("f_nominal", f_nominal, 0.0, 1e12, "(0, 1e12] Hz")
        return 1.0 / f_nominal

    def _evaluate(self, v: np.ndarray, dynamic_pj: float, leakage_nw: float, cycles: float,
                  f_nominal: float | None) -> Sweep:
        _check("dynamic_pj", dynamic_pj, 0.0, math.inf, ">= 0 pJ", closed_lo=True)
        _check("leakage_nw", leakage_nw, 0.0, math.inf, ">= 0 nW", closed_lo=True)
        _check("cycles", cycles, 0.0, math.inf, "> 0")
        v = self._supply(v)
        period = self._nominal_period(f_nominal) * np.asarray(self.delay_scale(v))
        dynamic = dynamic_pj * np.asarray(self.dynamic_scale(v))
        # nW * s = 1e-9 J = 1e3 pJ.
        leakage = leakage_nw * np.asarray(self.leakage_power_scale(v)) * cycles * period * 1e3
        return Sweep(vdd=v, dynamic_pj=dynamic, leakage_pj=leakage, total_pj=dynamic + leakage,
                     delay_s=cycles * period, frequency_hz=1.0 / period)


# --------------------------------------------------------------------------------------------
# Energy-delay metrics
# --------------------------------------------------------------------------------------------

def energy_delay_product(e, d):
    """Energy-delay product ``E * D`` (e.g. pJ * s); elementwise for arrays."""
    return _out(np.asarray(e, dtype=float) * np.asarray(d, dtype=float))


def energy_delay_sum(e, d, weight: float):
    """Weighted energy-delay sum ``E + weight * D``.

    ``weight`` prices delay in energy units (e.g. pJ per s): minimising this sum over supplies
    is the Lagrangian form of "least energy for a delay budget". Allowed weight >= 0.
    """
    _check("weight", weight, 0.0, math.inf, ">= 0", closed_lo=True)
    return _out(np.asarray(e, dtype=float) + weight * np.asarray(d, dtype=float))


def energy_delay_distance(e, d, e_ref: float, d_ref: float):
    """Distance from the origin of the normalised point ``(E / e_ref, D / d_ref)``.

    ``sqrt((E / e_ref)^2 + (D / d_ref)^2)``: with the references at one operating point (e.g.
    the nominal supply), smaller is better in both energy and delay at once. ``e_ref`` and
    ``d_ref`` must be > 0.
    """
    _check("e_ref", e_ref, 0.0, math.inf, "> 0")
    _check("d_ref", d_ref, 0.0, math.inf, "> 0")
    return _out(np.hypot(np.asarray(e, dtype=float) / e_ref, np.asarray(d, dtype=float) / d_ref))


def _out(x):
    """Return a Python float for a 0-d result, the array otherwise."""
    arr = np.asarray(x)
    return float(arr) if arr.ndim == 0 else arr


def _check(name: str, value, lo: float, hi: float, allowed: str, *, closed_lo: bool = False,
           open_hi: bool = False) -> None:
    """Raise ConfigError naming ``name`` unless ``value`` is a finite real in the range."""
    ok = (isinstance(value, numbers.Real) and not isinstance(value, bool)
          and math.isfinite(value))
    if ok:
        ok = (value >= lo if closed_lo else value > lo) and (value < hi if open_hi else value <= hi)
    if not ok:
        raise ConfigError(f"{name}: must be in {allowed}, got {value!r}")
