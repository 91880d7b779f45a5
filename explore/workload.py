"""Sweep workloads: what each point of a sweep runs, and the unquantized model it is measured
against.

A workload kind is a small class (registered in :data:`WORKLOADS`, see :func:`register_workload`):

* ``KIND`` and ``KEYS`` (the ``[workload]`` table's keys and their defaults), ``AXES`` (the axes
  it takes besides the tile's fields, with their meaning) and ``TILE_AXES`` (which tile fields it
  lets a sweep vary; None: all of them);
* ``validate(table)`` -> the full settings (ConfigError naming the bad key, before anything runs);
* ``Workload(settings, base)`` then ``reference()`` -> the unquantized model's own figures
  (e.g. its task accuracy), and ``evaluate(points, work_dir, area)`` -> one
  ``(key, params, metrics, error)`` per point, in order; the error of one point is that point's
  ``error``, never an exception.

Every kind writes the same headline metrics, so the report needs no workload knowledge
(``None`` where a kind has no such figure):

=================================  ==============================================================
``accuracy`` / ``accuracy_float``   task metric of the quantized golden model / of the float model
                                    (fraction correct; None for ``random``)
``chance``                          the accuracy of always answering the most frequent class
``err_rms_lsb``, ``err_max_lsb``    fidelity: |fixed - float model| in output LSB
``output_events_per_inference``     output events (what leaves the tile) per inference (random)
``outputs_moved_per_inference``     outputs whose read-out moved from rest (network kinds)
``synaptic_ops_per_inference``      synaptic operations per inference
``cycles_per_inference``            clock cycles per inference (RTL)
``energy_pj_per_inference``         energy per inference at nominal Vdd (pJ, RTL toggle counts)
``energy_min_pj_per_inference``     the same at the minimum-energy supply (``vdd_min_energy``)
``network_energy_share``            routers + network interfaces over the total (meshes only)
``silent``, ``at_chance``           flags: no output event at all / accuracy at most chance
``area_<target>_cells`` ...         synthesis (``area_sky130_um2``: sky130 cell area)
``flops``                           flip-flops of the design (the energy model's register
                                    budget): the report's area stand-in when nothing is synthesised
=================================  ==============================================================

``random``: one tile, random sigma-delta stimulus; an inference is one time step. The weights
are drawn as reals (uniform in +-``weight_scale``, zero with probability 1 - weight_density)
from the base tile's seed, independently of the point's weight format, and rounded to each
point's format (nearest even, saturating): the float tile with the real weights is the
reference, so weight quantization shows in the error.

``digits``: the built-in 8x8 digits network on its 2-tile mesh (:mod:`subtile.workloads.digits`,
quantized and mapped by :mod:`subtile.network`): trained once in float, quantized at each point's
formats, the batched golden mesh over ``images`` test images (all 360 by default; each sample
from rest, a fraction of a second) for the task accuracy, fidelity and counts, and the RTL mesh
under Verilator, with toggle counting, on the sequential program of the first ``rtl_images``
of them (``rtl = "none"``: no RTL). Wherever the RTL runs, the mesh scoreboard checks every
tile's events at every step and the read-out codes must equal the golden program's (else the
point fails); cycles and energy per inference come from that run. The float reference is the
float network on the same images. A network point is ``silent`` when no output of any sample
moved from rest by its read-out (``outputs_moved_per_inference`` = 0); the random workload counts
its output events instead.

``model``: any network file :mod:`subtile.network` imports (native TOML + npz, ONNX, NIR) with
its data set (.npz: ``x`` and integer labels ``y`` for accuracy, or float targets for MSE), paths
relative to the sweep file, run as ``digits`` is (:class:`ModelWorkload`; a regression point's
``accuracy`` is None and its ``mse``, ``mse_float`` are set; it is ``at_chance`` when no better
than always answering the targets' mean).

Another network kind subclasses :class:`NetworkWorkload` and provides ``prepare()`` (load or train; the float
outputs and labels, a :class:`Prepared`) and ``map(params)`` (quantize and map one point, a
:class:`MappedPoint`), then ``register_workload`` it.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, fields
from functools import lru_cache
from pathlib import Path

import numpy as np

from subtile.errors import ConfigError
from subtile.spec.config import ActivationChoice, TileConfig

__all__ = ["Workload", "RandomWorkload", "NetworkWorkload", "DigitsWorkload", "ModelWorkload", "MappedPoint",
           "WORKLOADS", "map_point",
           "register_workload", "workload_class", "make_workload", "point_config", "real_contents", "accuracy",
           "quantize_weights", "ACTIVATION_FIELDS"]

ACTIVATION_FIELDS = ("branch_activation", "soma_activation")
#: chance + this is still "at chance" (a few images of luck)
CHANCE_MARGIN = 0.02


def point_config(base: dict, params: dict) -> TileConfig:
    """The tile of one point: ``base`` with the point's tile parameters applied (ConfigError if
    invalid). Activation sub-fields are written ``soma_activation.impl``."""
    data = json.loads(json.dumps(base))
    for name, value in params.items():
        head, _, sub = name.partition(".")
        if sub:
            if head not in ACTIVATION_FIELDS:
                raise ConfigError(f"axes.{name}: only {', '.join(ACTIVATION_FIELDS)} have sub-fields")
            choice = data.get(head, "tanh")
            choice = dict(choice) if isinstance(choice, dict) else {"function": choice}
            choice[sub] = value
            data[head] = choice
        else:
            data[head] = value
    return TileConfig.from_dict(data)


def check_tile_axis(name: str, allowed: tuple | None = None) -> None:
    """Tile axis names must be tile fields (values are checked per point: a bad value is a
    failed point); ``allowed`` restricts them further."""
    head, _, sub = name.partition(".")
    tile_fields = [f.name for f in fields(TileConfig) if f.name != "name"]
    if allowed is not None and name not in allowed:
        raise ConfigError(f"axes.{name}: not an axis of this workload; allowed: {', '.join(allowed)}")
    if head not in tile_fields:
        raise ConfigError(f"axes.{name}: not a tile field; allowed: {', '.join(tile_fields)}")
    if sub:
        subs = [f.name for f in fields(ActivationChoice)]
        if head not in ACTIVATION_FIELDS:
            raise ConfigError(f"axes.{name}: only {', '.join(ACTIVATION_FIELDS)} have sub-fields")
        if sub not in subs:
            raise ConfigError(f"axes.{name}: {sub!r} is not one of {', '.join(subs)}")


def _int_setting(settings: dict, name: str, lo: int, hi: int) -> None:
    value = settings[name]
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise ConfigError(f"workload.{name}: {value!r} is outside the allowed range {lo}..{hi}")


# -- the interface ---------------------------------------------------------------------------
class Workload:
    """Base of the workload kinds (see the module docs)."""

    KIND = ""
    KEYS: dict = {}
    AXES: dict = {}
    TILE_AXES: tuple | None = None

    def __init__(self, settings: dict, base: dict):
        self.settings = settings
        self.base = base

    @classmethod
    def validate(cls, table: dict, folder: Path | None = None) -> dict:
        """The full settings of a ``[workload]`` table (its defaults filled in); ``folder``: the
        sweep file's folder, against which a kind resolves its relative paths."""
        settings = {**cls.KEYS, **table, "kind": cls.KIND}
        unknown = set(settings) - set(cls.KEYS)
        if unknown:
            raise ConfigError(f"workload: unknown key(s) {', '.join(sorted(unknown))}; "
                              f"allowed: {', '.join(sorted(cls.KEYS))}")
        return settings

    @classmethod
    def check_axis(cls, name: str) -> None:
        if name in cls.AXES:
            return
        allowed = None if cls.TILE_AXES is None else tuple(cls.AXES) + cls.TILE_AXES
        check_tile_axis(name, allowed)

    @classmethod
    def check_axes(cls, axes: dict, settings: dict) -> None:
        """Every axis name of the sweep (values are lists, checked by the caller); a kind that
        knows more up front (its model's layers, its axes' ranges) checks more."""
        for name in axes:
            cls.check_axis(name)

    def reference(self) -> dict:
        """The unquantized model's figures (same for every point)."""
        return {}

    def evaluate(self, points: list[tuple[str, dict]], work_dir: Path,
                 area: tuple = ()) -> list[tuple[str, dict, dict | None, str | None]]:
        raise NotImplementedError


WORKLOADS: dict[str, type[Workload]] = {}


def register_workload(cls: type[Workload]) -> type[Workload]:
    """Make ``cls`` the workload of ``kind = cls.KIND`` (usable as a class decorator)."""
    WORKLOADS[cls.KIND] = cls
    return cls


def workload_class(kind) -> type[Workload]:
    if kind not in WORKLOADS:
        raise ConfigError(f"workload.kind: {kind!r} is not supported; allowed: {', '.join(WORKLOADS)}")
    return WORKLOADS[kind]


def make_workload(settings: dict, base: dict) -> Workload:
    return workload_class(settings.get("kind", "random"))(settings, base)


def _failure(error: Exception) -> str:
    return f"{type(error).__name__}: {error}"


# -- shared measurement pieces ---------------------------------------------------------------
@lru_cache(maxsize=1)
def _tech():
    from subtile.power.tech_model import TechModel
    from subtile.power.voltage import VoltageModel
    tech = TechModel.from_liberty()
    return tech, VoltageModel(vdd_nominal=tech.vdd)


def _energy_metrics(energy: dict, inferences: int, steps: int) -> dict:
    """Headline energy figures of an ``EnergyReport.to_dict()`` for ``inferences`` inferences."""
    best = energy["minimum_energy_point"]
    per_step_min = best.get("energy_per_step_pj")
    out = {"energy_pj_per_inference": energy["energy_pj"] / inferences,
           "energy_min_pj_per_inference": per_step_min * steps / inferences if per_step_min is not None else None,
           "vdd_min_energy": best.get("vdd"), "step_time_min_s": best.get("step_time_s")}
    by_kind = energy.get("energy_by_kind_pj")
    if by_kind:
        total = sum(by_kind.values())
        out["network_energy_share"] = (by_kind.get("router", 0.0) + by_kind.get("interface", 0.0)) / total \
            if total else None
    return out


def _area_metrics(metrics: dict, targets, *, verilog=None, top=None, config=None) -> None:
    """Synthesis of each target into ``metrics`` (cached by :func:`subtile.gen.synth.synthesize`).
    ASIC targets take ``verilog``; FPGA ones regenerate it from the tile ``config``."""
    from subtile.gen.synth import DEVICES, synthesize, synthesize_config
    quiet = lambda line: None  # noqa: E731
    for target in targets:
        if target in DEVICES:
            if config is None:
                raise ConfigError(f"sweep.area: {target} is only available for single-tile workloads")
            result = synthesize_config(config, target, progress=quiet)
        else:
            result = synthesize(verilog, top, target, progress=quiet)
        metrics[f"area_{target}_cells"] = result.cell_count
        if result.area_um2 is not None:
            metrics[f"area_{target}_um2"] = result.area_um2
        if result.luts is not None:
            metrics[f"area_{target}_luts"] = result.luts
        metrics[f"synth_{target}_cached"] = result.cached


def _pow2(n: int) -> int:
    return 1 << max(1, (max(2, n) - 1).bit_length())


def _batch_dir(work_dir: Path, keys) -> Path:
    return Path(work_dir) / "batches" / hashlib.sha256("".join(keys).encode()).hexdigest()[:12]


# -- random: one tile, random stimulus -------------------------------------------------------
def real_contents(config: TileConfig, scale: float):
    """The unquantized weights and the synapse table of ``config``'s tile, drawn from
    ``config.seed``: (real weights (rows, N), SynapseTable). The draw does not depend on the
    weight format, so every point of a bit-width sweep quantizes the same real network."""
    from subtile.spec.contents import SynapseTable
    rng = np.random.default_rng([config.seed, 0x5eed])
    rows, neurons = config.rows, config.neurons
    nonzero = rng.random((rows, neurons)) < config.weight_density
    values = rng.uniform(-scale, scale, size=(rows, neurons))
    real = np.where(nonzero, values, 0.0)
    mapped = min(round(config.table_fill * config.addresses), rows)
    addresses = rng.permutation(config.addresses)[:mapped]
    slots = rng.permutation(rows)[:mapped]
    valid = np.zeros(config.addresses, dtype=bool)
    branch = np.zeros(config.addresses, dtype=np.int64)
    slot = np.zeros(config.addresses, dtype=np.int64)
    valid[addresses] = True
    branch[addresses], slot[addresses] = np.divmod(slots, config.synapses)
    return real, SynapseTable(valid, branch, slot, config)


def accuracy(config: TileConfig, stimulus, contents=None, *, real_weights=None) -> dict:
    """Fidelity of the bit-exact tile against the float tile on the same stimulus, in output
    LSBs: the sent output levels ``y_sent`` after every step, over all neurons.

    ``real_weights``: the unquantized weights the codes of ``contents`` were rounded from, for
    the float tile (the reference of a sweep); without them the float tile uses the real values
    of the same codes and only measures the datapath's rounding."""
    from subtile.golden.tile import FloatTileModel, TileModel, initial_contents
    weights, table = contents if contents is not None else initial_contents(config)
    fixed = TileModel(config, weights=weights, table=table)
    real = FloatTileModel(config, weights=weights, table=table, real_weights=real_weights)
    errors = []
    for events in stimulus:
        a, b = fixed.step(events), real.step(events)
        errors.append(config.payload_format.to_real(a.state.y_sent) - b.state.y_sent)
    errors = np.abs(np.concatenate(errors)) / config.payload_format.lsb if errors else np.zeros(1)
    return {"err_max_lsb": float(errors.max()), "err_rms_lsb": float(np.sqrt(np.mean(errors ** 2)))}


def quantize_weights(real: np.ndarray, fmt) -> np.ndarray:
    """Real weights to codes of ``fmt``: nearest even, saturating."""
    return fmt.quantize(real)


@register_workload
class RandomWorkload(Workload):
    """One tile under random sigma-delta stimulus (see the module docs)."""

    KIND = "random"
    KEYS = {"kind": "random", "steps": 32, "activity": 0.3, "seed": 1, "jump": 0.5, "weight_scale": None}

    @classmethod
    def validate(cls, table: dict, folder: Path | None = None) -> dict:
        settings = super().validate(table, folder)
        _int_setting(settings, "steps", 1, 4096)
        scale = settings["weight_scale"]
        if scale is not None and (isinstance(scale, bool) or not isinstance(scale, (int, float))
                                  or not 0 < scale <= 1e6):
            raise ConfigError(f"workload.weight_scale: {scale!r} is outside the allowed range (0, 1e6]")
        return settings

    def scale(self) -> float:
        """Real weights are uniform in +- this: ``weight_scale``, else the largest value of the
        base tile's weight format."""
        if self.settings.get("weight_scale") is not None:
            return float(self.settings["weight_scale"])
        return float(TileConfig.from_dict(self.base).weight_format.max_value)

    def contents(self, config: TileConfig):
        """(codes, table, real weights) of a point's tile."""
        real, table = real_contents(config, self.scale())
        return quantize_weights(real, config.weight_format), table, real

    def stimulus(self, config: TileConfig):
        from subtile.golden.tile import random_stimulus
        w = self.settings
        return random_stimulus(config, w["steps"], w["activity"], w["seed"], jump=w.get("jump", 0.5))

    def evaluate(self, points, work_dir, area=()):
        from subtile.gen.tile import generate_tile
        from subtile.power.energy import estimate, tile_block
        from subtile.sim.tile_bench import StepStimulus, TileBench, TileCase, encode_stimulus
        from subtile.toolchain import runner

        work, workload = Path(work_dir), self.settings
        out, live, designs = {}, [], {}
        for key, params in points:
            start = time.perf_counter()
            try:
                config = point_config(self.base, params)
                design = designs[key] = generate_tile(config)
                verilog = design.write(work / "lint" / key)
                messages = runner.lint([verilog.with_suffix(".vlt"), verilog], design.top)
                if any(m.startswith("%Error") for m in messages):
                    raise RuntimeError(f"lint: {messages[0]}")
                stimulus = self.stimulus(config)
                codes, table, real = self.contents(config)
                metrics = {"lint_warnings": len(messages),
                           **accuracy(config, stimulus, (codes, table), real_weights=real),
                           "weights_zeroed": int(np.count_nonzero((real != 0) & (codes == 0))),
                           "weights_nonzero_real": int(np.count_nonzero(real))}
                live.append((key, params, config, stimulus, (codes, table), metrics, start))
            except Exception as error:  # noqa: BLE001 - a failed point is stored, the sweep goes on
                out[key] = (key, params, None, _failure(error))
        if live:
            try:
                steps = [[StepStimulus(events) for events in item[3]] for item in live]
                depth = _pow2(max(len(encode_stimulus(item[2], s)) for item, s in zip(live, steps)) + 1)
                responses = _pow2(max(workload["steps"] * (item[2].neurons + 1) for item in live) + 16)
                bench = TileBench([item[2] for item in live], contents=[item[4] for item in live],
                                  name="sweep_bench", stimulus_depth=depth, response_depth=responses)
                sim_start = time.perf_counter()
                runs = bench.run({i: TileCase(s, seed=workload["seed"], read_state=True) for i, s in enumerate(steps)},
                                 work_dir=_batch_dir(work, [k for k, *_ in live]))
                sim_seconds = time.perf_counter() - sim_start
            except Exception as error:  # noqa: BLE001
                for key, params, *_ in live:
                    out[key] = (key, params, None, _failure(error))
                live = []
        for index, (key, params, config, stimulus, contents, metrics, start) in enumerate(live):
            try:
                run = runs[index]
                if not run.passed:
                    raise AssertionError(f"RTL differs from the golden model: {run.mismatch}")
                tech, voltage = _tech()
                energy = estimate(config, run, tech, voltage=voltage).to_dict()
                best = energy["minimum_energy_point"]
                metrics["flops"] = tile_block(config, run.toggles, run.pulses).flops
                metrics.update({
                    "steps": run.steps, "cycles": run.cycles, "cycles_per_step": run.cycles / run.steps,
                    "events_in": run.events_in, "events_out": run.events_out, "synaptic_ops": run.synaptic_ops,
                    "energy_pj_per_step": energy["energy_per_step_pj"],
                    "energy_min_pj_per_step": best.get("energy_per_step_pj"),
                    # an inference of the random workload is one time step
                    "inferences": run.steps, "cycles_per_inference": run.cycles / run.steps,
                    "output_events_per_inference": run.events_out / run.steps,
                    "synaptic_ops_per_inference": run.synaptic_ops / run.steps,
                    **_energy_metrics(energy, run.steps, run.steps),
                    "accuracy": None, "accuracy_float": None, "chance": None,
                    "silent": run.events_out == 0, "at_chance": False,
                    "build_cached": run.build.cached, "build_seconds": round(run.build.seconds, 2),
                    "sim_seconds_batch": round(sim_seconds, 2), "batch_size": len(live),
                    "energy": energy,
                })
                _area_metrics(metrics, area, verilog=designs[key].verilog, top=designs[key].top, config=config)
                metrics["seconds"] = round(time.perf_counter() - start, 2)
                out[key] = (key, params, metrics, None)
            except Exception as error:  # noqa: BLE001
                out[key] = (key, params, None, _failure(error))
        return [out[key] for key, _ in points]


# -- networks on a mesh ----------------------------------------------------------------------
@dataclass
class MappedPoint:
    """One point's quantized, mapped network (:mod:`subtile.network`): the QuantizedNetwork,
    the MappedNetwork, the steps per sample before the read-out and the rest limit."""

    q: object
    mapped: object
    steps: int
    max_rest: int = 64

    @property
    def formats(self) -> tuple:
        return tuple(str(layer.weight_format) for layer in self.q.layers)


@dataclass
class Prepared:
    """A network workload's data and float model, computed once per process: the evaluated
    samples' inputs and labels (integer classes, or float targets (samples, outputs) for a
    regression), the float model's outputs (real) and its task metric (accuracy, or MSE)."""

    inputs: np.ndarray
    labels: np.ndarray
    float_outputs: np.ndarray
    accuracy_float: float | None
    mse_float: float | None = None

    @property
    def classification(self) -> bool:
        return bool(np.issubdtype(np.asarray(self.labels).dtype, np.integer))


class NetworkWorkload(Workload):
    """A float network mapped on a mesh (:mod:`subtile.network`), with its data set and a
    classification metric.

    Subclasses give ``prepare()`` (a :class:`Prepared`) and ``map(params)`` (a
    :class:`MappedPoint`); the rest is shared: the batched golden mesh over every sample (task
    accuracy, fidelity, counts), the sequential program of the first ``rtl_images`` samples on
    the RTL mesh (every point of a batch in one Verilator build; the scoreboard checks every
    event, and the read-out codes must equal the golden program's), energy and area.
    ``silent``: no read-out of any sample moved from rest (nothing ever left the mesh).
    """

    KEYS = {"kind": "", "images": 0, "rtl_images": 32, "rtl": "all"}

    @classmethod
    def validate(cls, table: dict, folder: Path | None = None) -> dict:
        settings = super().validate(table, folder)
        _int_setting(settings, "images", 0, 1_000_000)
        _int_setting(settings, "rtl_images", 1, 100_000)
        if settings["rtl"] not in ("all", "none"):
            raise ConfigError(f"workload.rtl: {settings['rtl']!r} is not one of all, none")
        return settings

    @classmethod
    def check_axes(cls, axes: dict, settings: dict) -> None:
        super().check_axes(axes, settings)
        cls.check_tile_values(axes)

    @classmethod
    def check_tile_values(cls, axes: dict) -> None:
        """The values of the tile axes (applied to every tile of the mesh): each must make a
        valid tile, checked on the default tile (ConfigError naming the axis and the value)."""
        from subtile.network.mapper import MAX_NEURONS
        base = TileConfig().to_dict()
        for name, values in axes.items():
            if cls.TILE_AXES is None or name not in cls.TILE_AXES:
                continue
            for value in values:
                if name == "lanes":     # the mapper takes the largest divisor of each tile's N up to this
                    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_NEURONS:
                        raise ConfigError(f"axes.lanes: {value!r} is outside the allowed range 1..{MAX_NEURONS}")
                    continue
                try:
                    point_config(base, {name: value})
                except ConfigError as error:
                    raise ConfigError(f"axes.{name}: {value!r} is not allowed ({error})") from None

    def prepare(self) -> Prepared:
        raise NotImplementedError

    def map(self, params: dict) -> MappedPoint:
        raise NotImplementedError

    def reference(self) -> dict:
        prep = self.prepare()
        if not prep.classification:
            return {"mse_float": prep.mse_float, "mse_mean_predictor": _mean_predictor_mse(prep.labels),
                    "samples": len(prep.labels)}
        return {"accuracy_float": prep.accuracy_float, "chance": _chance(prep.labels)[0],
                "samples": len(prep.labels)}

    def evaluate(self, points, work_dir, area=()):
        from subtile.network import run as network_run
        work = Path(work_dir)
        out, live = {}, []
        try:
            prep = self.prepare()
        except Exception as error:  # noqa: BLE001
            return [(key, params, None, _failure(error)) for key, params in points]
        classify = prep.classification
        chance, chance_limit = _chance(prep.labels) if classify else (None, None)
        baseline = None if classify else _mean_predictor_mse(prep.labels)
        count = len(prep.labels)
        rtl_count = min(self.settings["rtl_images"], count)
        for key, params in points:
            start = time.perf_counter()
            try:
                point = self.map(params)
                batch = network_run.golden_batch(point.mapped, prep.inputs, steps=point.steps,
                                                 max_rest=point.max_rest)
                lsb = point.mapped.config.payload_format.lsb
                fidelity = np.abs(batch.values - prep.float_outputs) / lsb
                golden_score = network_run.score(batch.values, prep.labels)
                moved = np.count_nonzero(batch.codes, axis=1)
                if classify:
                    task = {"accuracy": golden_score, "accuracy_float": prep.accuracy_float,
                            "accuracy_drop_points": 100 * (prep.accuracy_float - golden_score),
                            "chance": chance, "at_chance": golden_score <= chance_limit}
                else:    # regression: MSE; "at chance" = no better than predicting the targets' mean
                    task = {"accuracy": None, "accuracy_float": None, "chance": None,
                            "mse": golden_score, "mse_float": prep.mse_float, "mse_mean_predictor": baseline,
                            "at_chance": golden_score >= baseline}
                metrics = {
                    "weight_formats": list(point.formats), "samples": count, **task,
                    "err_rms_lsb": float(np.sqrt(np.mean(fidelity ** 2))), "err_max_lsb": float(fidelity.max()),
                    "silent": not moved.any(), "outputs_moved_per_inference": float(moved.mean()),
                    "events_per_inference": float(batch.events_in.mean()),
                    "synaptic_ops_per_inference": float(batch.synaptic_ops.mean()),
                    "packets_per_inference": float(batch.packets.mean()),
                    "steps": point.steps, "golden_seconds": round(time.perf_counter() - start, 2),
                }
                if self.settings["rtl"] == "none":
                    if area:
                        _area_metrics(metrics, area, **self._design(point))
                    metrics["seconds"] = round(time.perf_counter() - start, 2)
                    out[key] = (key, params, metrics, None)
                    continue
                program = network_run.sequential_program(point.mapped, prep.inputs[:rtl_count], steps=point.steps,
                                                         max_rest=point.max_rest)
                live.append((key, params, point, program, metrics, start))
            except Exception as error:  # noqa: BLE001 - a failed point is stored, the sweep goes on
                out[key] = (key, params, None, _failure(error))
        if live:
            try:
                sim_start = time.perf_counter()
                results = network_run.rtl_run([(item[2].mapped, item[3]) for item in live],
                                              work_dir=_batch_dir(work, [k for k, *_ in live]), energy=True,
                                              name="sweep_mesh_bench")
                sim_seconds = time.perf_counter() - sim_start
            except Exception as error:  # noqa: BLE001
                for key, params, *_ in live:
                    out[key] = (key, params, None, _failure(error))
                live = []
        for index, (key, params, point, program, metrics, start) in enumerate(live):
            try:
                result = results[index]
                if not result.passed:
                    raise AssertionError(f"RTL differs from the golden model: {result.mismatch}")
                if result.codes.shape != program.codes.shape or not np.array_equal(result.codes, program.codes):
                    raise AssertionError("RTL read-out codes differ from the golden program's")
                kinds = result.energy_by_kind_pj
                network = kinds.get("router", 0.0) + kinds.get("interface", 0.0)
                metrics.update({
                    "rtl_samples": rtl_count, "inferences": rtl_count,
                    f"{'accuracy' if classify else 'mse'}_rtl": network_run.score(
                        point.mapped.config.payload_format.to_real(result.codes), prep.labels[:rtl_count]),
                    "rtl_golden_agreement": 1.0,
                    "cycles": result.cycles, "cycles_per_inference": result.cycles / rtl_count,
                    "rtl_steps_per_inference": len(program.steps) / rtl_count,
                    "tile_events_out_per_inference": program.events_out / rtl_count,
                    "energy_pj_per_inference": result.energy_pj / rtl_count,
                    "network_energy_share": network / result.energy_pj if result.energy_pj else None,
                    "technology": result.technology,
                    "build_cached": result.build_cached, "build_seconds": round(result.build_seconds, 2),
                    "sim_seconds_batch": round(sim_seconds, 2), "batch_size": len(live),
                    "energy": {"energy_by_kind_pj": kinds, "energy_pj": result.energy_pj, "steps": len(program.steps)},
                })
                best, steps = result.minimum_energy, len(program.steps)
                metrics.update({
                    "energy_min_pj_per_inference": best["energy_per_step_pj"] * steps / rtl_count
                    if best.get("energy_per_step_pj") is not None else None,
                    "vdd_min_energy": best.get("vdd"), "flops": _mesh_flops(point.mapped.config)})
                if area:
                    _area_metrics(metrics, area, **self._design(point))
                metrics["seconds"] = round(time.perf_counter() - start, 2)
                out[key] = (key, params, metrics, None)
            except Exception as error:  # noqa: BLE001
                out[key] = (key, params, None, _failure(error))
        return [out[key] for key, _ in points]

    def _design(self, point) -> dict:
        """What synthesis takes: the mesh's Verilog with its memories' contents."""
        from subtile.gen.mesh import generate_mesh
        m = point.mapped
        design = generate_mesh(m.config, contents=m.contents, axons=m.axons)
        return {"verilog": design.verilog, "top": design.top}


def map_point(q, params: dict, options):
    """Map the QuantizedNetwork ``q`` with one point's tile axes applied: ``weight_format`` (one
    explicit format for every layer, replacing the per-layer choice), ``gating`` and ``lanes``
    (into the MapOptions ``options``) and the activation sub-fields on every tile."""
    from dataclasses import replace
    from subtile.network.mapper import map_network
    from subtile.spec.fixed import FixedFormat
    if "weight_format" in params:
        from subtile.network.quantize import bias_level
        fmt = FixedFormat.parse(params["weight_format"], name="weight_format")
        level = bias_level(q.payload_format) * q.payload_format.lsb
        layers = []
        for layer in q.layers:
            real = layer.layer.weight
            codes = fmt.quantize(real)
            bias = None if layer.layer.bias is None else fmt.quantize(layer.layer.bias / level)
            zeroed = int(np.count_nonzero((codes == 0) & (real != 0)))
            if bias is not None:
                zeroed += int(np.count_nonzero((bias == 0) & (layer.layer.bias != 0)))
            layers.append(replace(layer, weight=codes, bias=bias, weight_format=fmt, zeroed=zeroed))
        q = replace(q, layers=layers)
    options = replace(options, **{k: params[k] for k in ("gating", "lanes") if k in params})
    mapped = map_network(q, options)
    tile_params = {k: v for k, v in params.items() if "." in k and k.partition(".")[0] in ACTIVATION_FIELDS}
    if tile_params:
        config = mapped.config
        tiles = tuple(point_config(config.tile_config(i).to_dict(), tile_params) for i in range(config.count))
        mapped = replace(mapped, config=replace(config, tiles=tiles))
    return mapped


def _mesh_flops(config) -> int:
    from subtile.hdl.mesh import network_flops
    from subtile.hdl.tile import RegisterBudget
    total = 0
    for i in range(config.count):
        budget = RegisterBudget(config.tile_config(i))
        total += budget.root_flops + sum((1 if g is None else g) * f for g, f in budget.gated.values())
    flops = network_flops(config)
    return total + sum(sum(v) for v in flops.values())


def _mean_predictor_mse(targets: np.ndarray) -> float:
    """The MSE of always answering the targets' mean (a regression's "chance")."""
    targets = np.asarray(targets, dtype=np.float64)
    return float(((targets - targets.mean(axis=0)) ** 2).mean())


def _chance(labels: np.ndarray) -> tuple[float, float]:
    """(chance, limit): the accuracy of always answering the most frequent class, and that plus
    two standard errors of such a guesser over the samples (at most this is "at chance")."""
    labels = np.asarray(labels)
    if not len(labels):
        return 0.0, 0.0
    chance = float(np.bincount(labels).max() / len(labels))
    return chance, chance + max(CHANCE_MARGIN / 2, 2 * float(np.sqrt(chance * (1 - chance) / len(labels))))


@lru_cache(maxsize=8)
def _digits_trained(hidden: int, seed: int, epochs: int):
    from subtile.workloads import digits
    x_train, y_train, x_test, y_test, pixels = digits.load_digits_split(seed)
    net = digits.train(x_train, y_train, hidden=hidden, seed=seed, epochs=epochs)
    return net, x_test, y_test


@register_workload
class DigitsWorkload(NetworkWorkload):
    """The built-in digits network (:mod:`subtile.workloads.digits`) on its 2-tile mesh.

    Axes: ``weight_bits`` (every layer, each with its own best integer bits, as ``subtile
    digits``), ``weight_format`` (one explicit format for every layer), ``steps`` (T),
    ``delta``, ``leak_shift``, ``hidden``, and the tile fields in ``TILE_AXES`` applied to both
    tiles (gating, lanes, activation implementation, segments, guard bits)."""

    KIND = "digits"
    KEYS = {**NetworkWorkload.KEYS, "kind": "digits", "hidden": 24, "seed": 0, "epochs": 600, "steps": 8,
            "delta": 1, "leak_shift": 1, "weight_bits": 8, "max_rest": 64}
    AXES = {"weight_bits": "weight width of every layer (integer bits per layer)", "steps": "T, steps per image",
            "delta": "event threshold (payload LSB)", "leak_shift": "leak k", "hidden": "hidden neurons"}
    TILE_AXES = ("weight_format", "gating", "lanes",
                 *(f"{head}.{sub}" for head in ACTIVATION_FIELDS for sub in ("impl", "segments", "guard_bits")))

    @classmethod
    def validate(cls, table: dict, folder: Path | None = None) -> dict:
        from subtile.workloads.digits import DigitsSpec
        settings = super().validate(table, folder)
        try:
            DigitsSpec(**cls._spec_fields(settings))
        except ConfigError as error:
            raise ConfigError(f"workload.{error}") from None
        return settings

    @staticmethod
    def _spec_fields(values: dict) -> dict:
        names = ("hidden", "weight_bits", "steps", "delta", "leak_shift", "seed", "epochs", "max_rest")
        return {name: values[name] for name in names}

    def prepare(self) -> Prepared:
        from subtile.workloads import digits
        s = self.settings
        net, x_test, y_test = _digits_trained(s["hidden"], s["seed"], s["epochs"])
        if s["images"]:
            x_test, y_test = x_test[:s["images"]], y_test[:s["images"]]
        y_float = digits.graph(net).forward(x_test)
        return Prepared(inputs=x_test, labels=y_test, float_outputs=y_float,
                        accuracy_float=float((y_float.argmax(axis=1) == y_test).mean()))

    def map(self, params: dict) -> MappedPoint:
        from subtile.network import quantize as network_quantize
        from subtile.network.mapper import MapOptions
        from subtile.workloads import digits
        values = {**self.settings, **{k: v for k, v in params.items() if k in self.AXES}}
        spec = digits.DigitsSpec(**self._spec_fields(values))
        net = _digits_trained(spec.hidden, spec.seed, spec.epochs)[0]
        q = network_quantize.quantize(digits.graph(net), spec.weight_bits, leak_shift=spec.leak_shift,
                                      delta=spec.delta, payload_format=digits.PAYLOAD_FORMAT,
                                      internal_format=digits.INTERNAL_FORMAT)
        mapped = map_point(q, params, MapOptions(neurons=64))
        return MappedPoint(q, mapped, spec.steps, spec.max_rest)


# -- any model the network front ends import -------------------------------------------------
@lru_cache(maxsize=4)
def _model_graph(path: str):
    from subtile.network.model_file import load_model
    try:
        return load_model(path, name="workload.model")
    except ConfigError as error:
        text = str(error)
        raise ConfigError(text if text.startswith("workload.") else
                          "workload." + text if text.startswith("model:") else f"workload.model: {text}") from None


@lru_cache(maxsize=4)
def _model_data(path: str, inputs: int, outputs: int):
    from subtile.network.run import load_data
    try:
        return load_data(path, inputs, outputs)
    except ConfigError as error:
        raise ConfigError(f"workload.{error}") from None


def _resolve(folder: Path | None, name: str, value, suffixes: tuple) -> str:
    """A ``[workload]`` path key: relative paths against the sweep file's folder; absolute."""
    if not isinstance(value, str) or not value:
        raise ConfigError(f"workload.{name}: give the path of a {' / '.join(suffixes)} file "
                          f"(relative to the sweep file's folder), got {value!r}")
    path = Path(value).expanduser()
    if not path.is_absolute():
        path = (folder or Path.cwd()) / path
    if path.suffix.lower() not in suffixes:
        raise ConfigError(f"workload.{name}: {value} has extension {path.suffix or '(none)'!r}; "
                          f"allowed: {', '.join(suffixes)}")
    if not path.is_file():
        raise ConfigError(f"workload.{name}: {path} does not exist")
    return str(path.resolve())


@register_workload
class ModelWorkload(NetworkWorkload):
    """Any network the front ends of :mod:`subtile.network` import (native TOML + npz, ONNX, NIR),
    with its data set and task metric, mapped onto a mesh as ``subtile run`` maps it.

    ``[workload]`` keys: ``model`` (.toml / .onnx / .nir) and ``data`` (.npz with ``x``
    (samples, inputs) and ``y``: integer labels for classification accuracy, or float targets
    (samples, outputs) for MSE), both relative to the sweep file's folder; ``metric`` (``auto``:
    from ``y``; ``accuracy`` or ``mse`` to insist); ``images`` (the first N samples; 0: all),
    ``rtl_images``, ``rtl`` (as ``digits``); the defaults of the axes ``weight_bits`` (8),
    ``steps`` (T; 0: from the depth and the leak, as ``subtile run``), ``delta`` (1),
    ``leak_shift`` (0; a NIR model's own tau wins), ``neurons`` (64: most neurons per tile,
    wider layers split), and the mapper's ``branches`` (16), ``synapses`` (64), ``max_rest``.

    Axes: those five, ``weight_bits.<layer>`` (one layer's width, the layer named as the model
    names it), and the tile fields of :attr:`TILE_AXES` applied to every tile (``weight_format``
    for all layers, ``gating``, ``lanes``, the activations' ``impl``, ``segments``,
    ``guard_bits``). Everything, axis values included, is checked when the sweep file is read,
    and the model is quantized and mapped once at the defaults, so a model that does not map is
    refused before anything runs.
    """

    KIND = "model"
    KEYS = {**NetworkWorkload.KEYS, "kind": "model", "model": None, "data": None, "metric": "auto",
            "weight_bits": 8, "steps": 0, "delta": 1, "leak_shift": 0, "neurons": 64, "branches": 16,
            "synapses": 64, "max_rest": 64}
    AXES = {"weight_bits": "weight width of every layer (integer bits per layer)",
            "steps": "T, steps per sample before the read-out", "delta": "event threshold (payload LSB)",
            "leak_shift": "leak k", "neurons": "most neurons per tile (wider layers split)"}
    TILE_AXES = DigitsWorkload.TILE_AXES
    #: the allowed range of each integer key and axis
    RANGES = {"weight_bits": (2, 16), "steps": (1, 4096), "delta": (0, 127), "leak_shift": (0, 15),
              "neurons": (1, 256), "branches": (1, 16), "synapses": (1, 64), "max_rest": (1, 4096)}
    METRICS = ("auto", "accuracy", "mse")

    @classmethod
    def validate(cls, table: dict, folder: Path | None = None) -> dict:
        for key in ("model", "data"):
            if key not in table:
                raise ConfigError(f"workload.{key}: required for kind = \"model\" (a path relative to the "
                                  "sweep file's folder)")
        settings = super().validate(table, folder)
        from subtile.network.model_file import FRONT_ENDS
        settings["model"] = _resolve(folder, "model", settings["model"], tuple(FRONT_ENDS))
        settings["data"] = _resolve(folder, "data", settings["data"], (".npz",))
        for name, (lo, hi) in cls.RANGES.items():
            _int_setting(settings, name, 0 if name == "steps" else lo, hi)
        if settings["metric"] not in cls.METRICS:
            raise ConfigError(f"workload.metric: {settings['metric']!r} is not one of {', '.join(cls.METRICS)}")
        graph = _model_graph(settings["model"])
        x, y = _model_data(settings["data"], graph.inputs, graph.outputs)
        labels = bool(np.issubdtype(y.dtype, np.integer))
        if settings["metric"] == "accuracy" and not labels:
            raise ConfigError(f"workload.metric: accuracy needs integer labels y in {settings['data']}, "
                              "which holds float targets (use mse)")
        if settings["metric"] == "mse" and labels:
            raise ConfigError(f"workload.metric: mse needs float targets y (samples, {graph.outputs}) in "
                              f"{settings['data']}, which holds integer labels (use accuracy)")
        if settings["images"] > len(x):
            raise ConfigError(f"workload.images: {settings['images']} is more than the {len(x)} samples in "
                              f"{settings['data']}")
        try:
            cls(settings, {}).map({})
        except ConfigError as error:
            raise ConfigError(f"workload.model: {Path(settings['model']).name} does not map at the defaults: "
                              f"{error}") from None
        return settings

    @classmethod
    def check_axes(cls, axes: dict, settings: dict) -> None:
        cls.check_tile_values({k: v for k, v in axes.items() if k in cls.TILE_AXES})
        layers = [layer.name for layer in _model_graph(settings["model"]).layers]
        for name, values in axes.items():
            head, _, layer = name.partition(".")
            if head == "weight_bits" and layer:
                if layer not in layers:
                    raise ConfigError(f"axes.{name}: the model has no layer {layer!r}; its layers: "
                                      f"{', '.join(layers)}")
            else:
                cls.check_axis(name)
            if head in cls.RANGES:
                lo, hi = cls.RANGES[head]
                for value in values:
                    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
                        raise ConfigError(f"axes.{name}: {value!r} is outside the allowed range {lo}..{hi}")

    def _values(self, params: dict) -> dict:
        return {**self.settings, **{k: v for k, v in params.items() if k in self.AXES}}

    def prepare(self) -> Prepared:
        from subtile.network.run import score
        s = self.settings
        graph = _model_graph(s["model"])
        x, y = _model_data(s["data"], graph.inputs, graph.outputs)
        if s["images"]:
            x, y = x[:s["images"]], y[:s["images"]]
        y_float = graph.forward(x)
        if np.issubdtype(y.dtype, np.integer):
            return Prepared(inputs=x, labels=y, float_outputs=y_float, accuracy_float=score(y_float, y))
        return Prepared(inputs=x, labels=y, float_outputs=y_float, accuracy_float=None, mse_float=score(y_float, y))

    def map(self, params: dict) -> MappedPoint:
        from subtile.network import quantize as network_quantize
        from subtile.network.mapper import MapOptions
        from subtile.network.run import default_steps
        v = self._values(params)
        graph = _model_graph(self.settings["model"])
        q = network_quantize.quantize(graph, v["weight_bits"], leak_shift=v["leak_shift"], delta=v["delta"])
        names = [layer.name for layer in graph.layers]
        for name, bits in params.items():
            head, _, layer = name.partition(".")
            if head == "weight_bits" and layer:
                one = network_quantize.quantize(graph, bits, leak_shift=v["leak_shift"], delta=v["delta"])
                index = names.index(layer)
                q.layers[index] = one.layers[index]
        mapped = map_point(q, params, MapOptions(neurons=v["neurons"], branches=v["branches"],
                                                 synapses=v["synapses"]))
        return MappedPoint(q, mapped, v["steps"] or default_steps(mapped), v["max_rest"])
