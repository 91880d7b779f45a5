"""Running a mapped network: float reference, batched golden mesh, and the RTL mesh.

**The held state R.** A run starts with the *prelude*: one step carrying every tile's bias event
(its held input set to :func:`~subtile.network.quantize.bias_level`), then idle steps until the
mesh is quiet (no dirty neuron, nothing in flight). The state it settles in, R, is where every
sample starts. A network without biases whose reset state is already quiet has no prelude.

**A sample** (the program both the golden mesh and the RTL play): step 0 carries one event per
non-zero input code (address i, code) to every tile of the first layer that maps input i; ``steps`` - 1 idle steps
follow; the read-out is the running sum of each output neuron's events, i.e. its ``y_sent``;
then one step carries the negative codes and idle steps follow until the mesh is quiet again
(at most ``max_rest``). With ``leak_shift = 0`` and ``delta <= 1`` the mesh then is exactly in R
again (accumulation is exact, v = u, and y_sent reaches y), so samples are independent and the
batched golden model (:func:`golden_batch`, every sample from R side by side,
:class:`~subtile.golden.batch.BatchMeshModel`) gives the same read-out as the sequential program;
with a leak or a larger threshold a residue below the threshold can carry over, and the RTL is
compared with the sequential golden program it actually ran (:func:`sequential_program`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from subtile.errors import ConfigError
from subtile.golden.batch import BatchMeshModel
from subtile.golden.mesh import MeshModel
from subtile.network.mapper import MappedNetwork
from subtile.network.quantize import encode_inputs

__all__ = ["evaluate", "default_steps", "settle", "golden_batch", "sequential_program", "Program", "BatchResult", "rtl_run", "RtlResult",
           "load_data", "score", "technology"]

NONE = np.zeros((0, 2), dtype=np.int64)


def load_data(path: str | Path, inputs: int, outputs: int) -> tuple[np.ndarray, np.ndarray]:
    """``x`` (samples, inputs) floats and ``y`` (labels or (samples, outputs) targets) of DATA.npz."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            if "x" not in data.files or "y" not in data.files:
                raise ConfigError(f"data: {path} must hold arrays x and y, has {', '.join(data.files) or 'none'}")
            x, y = data["x"], data["y"]
    except FileNotFoundError:
        raise ConfigError(f"data: {path} does not exist") from None
    except (ValueError, OSError) as error:
        raise ConfigError(f"data: {path} is not a readable .npz ({error})") from None
    if x.ndim != 2 or x.shape[1] != inputs or not np.issubdtype(x.dtype, np.number):
        raise ConfigError(f"data: x must be (samples, {inputs}) numbers for this model, got {x.dtype} {x.shape}")
    if not np.isfinite(x).all():
        raise ConfigError("data: x holds a NaN or infinity")
    if len(y) != len(x):
        raise ConfigError(f"data: {len(x)} samples in x but {len(y)} in y")
    if np.issubdtype(y.dtype, np.integer) and y.ndim == 1:
        if y.min() < 0 or y.max() >= outputs:
            raise ConfigError(f"data: labels y must be in 0..{outputs - 1} (the model's outputs), got {y.min()}..{y.max()}")
    elif y.shape != (len(x), outputs) or not np.issubdtype(y.dtype, np.floating):
        raise ConfigError(f"data: y must be integer labels (samples,) or float targets (samples, {outputs}), "
                          f"got {y.dtype} {y.shape}")
    return x.astype(np.float64), y


def score(outputs: np.ndarray, y: np.ndarray) -> float:
    """Accuracy (labels: argmax) or mean squared error (float targets)."""
    if np.issubdtype(y.dtype, np.integer):
        return float((np.asarray(outputs).argmax(axis=1) == y).mean())
    return float(((np.asarray(outputs) - y) ** 2).mean())


def _quiet(model: MeshModel) -> bool:
    return not any(t.state.dirty.any() for t in model.tiles) and not any(len(p) for p in model.pending)


def settle(mapped: MappedNetwork, *, max_rest: int = 64) -> tuple[MeshModel, list]:
    """The golden mesh after the prelude (in R) and the prelude's steps."""
    model = MeshModel(mapped.config, contents=mapped.contents, axons=mapped.axons)
    if not any(len(e) for e in mapped.bias_events) and _quiet(model):
        return model, []                   # no bias and already settled at reset (e.g. tanh): R is reset
    steps = [[e.copy() for e in mapped.bias_events]]
    model.step(steps[0])
    for _ in range(max_rest):
        if _quiet(model):
            break
        steps.append([NONE] * mapped.config.count)
        model.step(steps[-1])
    return model, steps


def _readout(mapped: MappedNetwork, levels_of_tile) -> np.ndarray:
    return np.concatenate([levels_of_tile(p.tile)[..., :p.count] for p in mapped.output_parts], axis=-1)


@dataclass
class BatchResult:
    """The batched golden run: per sample, read-out codes and values and its counts over the ``steps``."""

    codes: np.ndarray               # (samples, outputs) y_sent codes at the read-out
    values: np.ndarray              # the same as reals
    events_in: np.ndarray           # (samples,) events applied by all tiles (external + routed)
    synaptic_ops: np.ndarray
    packets: np.ndarray             # packets the tiles' events put into the network
    saturated_inputs: int
    seconds: float


def _frames(mapped: MappedNetwork, x: np.ndarray, steps: int) -> tuple[np.ndarray, int]:
    """Input codes as (samples, frames, inputs): a static ``x`` (samples, inputs) is one frame."""
    codes, saturated = encode_inputs(x, mapped.config.payload_format)
    if codes.ndim == 2:
        codes = codes[:, None, :]
    if codes.ndim != 3 or codes.shape[2] != mapped.inputs:
        raise ConfigError(f"x: expected (samples, {mapped.inputs}) or (samples, frames, {mapped.inputs}) inputs, "
                          f"got shape {np.shape(x)}")
    if codes.shape[1] > steps:
        raise ConfigError(f"steps: {steps} is fewer than the {codes.shape[1]} frames of each sample")
    return codes, saturated


def golden_batch(mapped: MappedNetwork, x: np.ndarray, *, steps: int, max_rest: int = 64,
                 batch: int = 4096) -> BatchResult:
    """Every sample of ``x`` from R for ``steps`` steps, ``batch`` samples side by side.

    ``x`` is (samples, inputs), presented at step 0 and held, or (samples, frames, inputs): frame
    f is presented at step f (the events carry the change from frame f - 1) and the last one held."""
    start = time.perf_counter()
    codes, saturated = _frames(mapped, x, steps)
    rest, _ = settle(mapped, max_rest=max_rest)
    states = [t.state for t in rest.tiles]
    model = BatchMeshModel(mapped.config, contents=mapped.contents, axons=mapped.axons, samples=1)
    outs, ev, ops, pk = [], [], [], []
    for lo in range(0, len(codes), batch):
        chunk = codes[lo:lo + batch]
        s = len(chunk)
        model.load(states, s)
        changes = np.diff(chunk, axis=1, prepend=0)                   # (s, frames, inputs)

        def external_at(frame):
            external = [None] * mapped.config.count
            for tile in mapped.input_tiles:
                addresses = mapped.config.tile_config(tile).addresses
                payload = np.zeros((s, addresses), dtype=np.int64)
                payload[:, :mapped.inputs] = changes[:, frame] * mapped.input_mask(tile)
                external[tile] = (payload, (payload != 0).astype(np.int64))
            return external

        events = np.zeros(s, dtype=np.int64)
        synaptic = np.zeros(s, dtype=np.int64)
        packets = np.zeros(s, dtype=np.int64)
        for t in range(steps):
            result = model.step(external_at(t) if t < changes.shape[1] else None)
            for r in result["tiles"]:
                events += r["events_in"]
                synaptic += r["synaptic_ops"]
            packets += result["packets"]
        outs.append(_readout(mapped, lambda i: model.tiles[i].y_sent))
        ev.append(events)
        ops.append(synaptic)
        pk.append(packets)
    out = np.concatenate(outs)
    return BatchResult(out, mapped.config.payload_format.to_real(out), np.concatenate(ev), np.concatenate(ops),
                       np.concatenate(pk), saturated, time.perf_counter() - start)


@dataclass
class Program:
    """The sequential program of some samples (prelude included) and what the golden mesh did."""

    steps: list                     # per step: per tile (E, 2) external events
    readout: list                   # per sample: the step after which it is read
    codes: np.ndarray               # (samples, outputs) read-out codes
    prelude_steps: int
    events_in: int = 0
    external_events: int = 0
    synaptic_ops: int = 0
    events_out: int = 0
    packets: int = 0

    @property
    def samples(self) -> int:
        return len(self.readout)


def sequential_program(mapped: MappedNetwork, x: np.ndarray, *, steps: int, max_rest: int = 64) -> Program:
    """The prelude, then each sample of ``x`` in turn on one golden mesh (see the module notes;
    ``x`` as for :func:`golden_batch`)."""
    codes, _ = _frames(mapped, x, steps)
    cfg = mapped.config
    model, prelude = settle(mapped, max_rest=max_rest)
    model.reset()
    program = Program([], [], np.zeros((0, mapped.outputs), dtype=np.int64), len(prelude))
    levels = [np.zeros(cfg.tile_config(p.tile).neurons, dtype=np.int64) for p in mapped.output_parts]
    reads = []

    def step(external):
        result = model.step(external)
        program.steps.append(external)
        for tile in result.tiles:
            program.events_in += tile.events_in
            program.synaptic_ops += tile.synaptic_ops
            program.events_out += len(tile.events_out)
        program.packets += result.packets
        program.external_events += sum(len(e) for e in external)
        for k, events in enumerate(result.external_out):
            for neuron, payload in events:
                levels[k][int(neuron)] += int(payload)

    for external in prelude:
        step(external)
    masks = {tile: mapped.input_mask(tile) for tile in mapped.input_tiles}
    for frames in codes:
        # The frames' changes, then after the read-out the last frame's levels taken back.
        changes = np.diff(frames, axis=0, prepend=0)
        for t, change in enumerate([*changes, -frames[-1]]):
            external = [NONE] * cfg.count
            for tile, mask in masks.items():
                on = np.flatnonzero(change * mask)
                external[tile] = np.stack([on, change[on]], axis=1).astype(np.int64)
            step(external)
            if t == len(changes) - 1:
                for _ in range(steps - len(changes)):
                    step([NONE] * cfg.count)
                program.readout.append(len(program.steps) - 1)
                reads.append(np.concatenate([lv[:p.count] for lv, p in zip(levels, mapped.output_parts)]))
        for _ in range(max_rest):
            if _quiet(model):
                break
            step([NONE] * cfg.count)
    program.codes = np.array(reads, dtype=np.int64).reshape(-1, mapped.outputs)
    return program


def technology(lib=None):
    """(TechModel, name, Calibration or None): sky130 (or ``lib``), else Horowitz's 45 nm figures
    when no Liberty file can be found."""
    from subtile.power.energy import Calibration
    from subtile.power.tech_model import TechModel
    try:
        tech, name = TechModel.from_liberty(lib), (Path(lib).name if lib else "sky130_fd_sc_hd tt")
    except ConfigError:
        if lib:
            raise
        return TechModel.fallback(), "Horowitz 45 nm fallback, no Liberty found", None
    calibration = Calibration.for_liberty(lib)
    return tech, name + (", gate-level calibrated" if calibration else ""), calibration


@dataclass
class RtlResult:
    """One mapped network on the RTL mesh: its read-out, the scoreboard's verdict, cycles, energy."""

    codes: np.ndarray
    passed: bool
    mismatch: str | None
    cycles: int
    energy_pj: float | None
    energy_by_kind_pj: dict = field(default_factory=dict)
    technology: str | None = None
    seconds: float = 0.0
    build_seconds: float = 0.0
    build_cached: bool = False


def _depth(words: int) -> int:
    """Next power of two, at least 1024 (few distinct depths: builds are shared)."""
    return max(1024, 1 << (int(words) - 1).bit_length())


def rtl_run(networks, *, work_dir: str | Path, energy: bool = True, lib=None, name: str = "network_bench",
            progress=None) -> list[RtlResult]:
    """Run each ``(mapped, program)`` of ``networks`` on its RTL mesh, all meshes in one Verilator
    build. The mesh scoreboard compares every output event of every tile per step with the golden
    mesh; the read-out is decoded from the RTL's own external-output events."""
    from subtile.sim.mesh_bench import MeshBench, MeshCase, decode_mesh_responses
    from subtile.sim.tile_bench import read_hex
    work_dir = Path(work_dir)
    networks = list(networks)
    words = max(len(p.steps) + sum(len(e) for step in p.steps for e in step) + 1 for _, p in networks)
    responses = max(max(p.events_out, 1) for _, p in networks)
    bench = MeshBench([m.config for m, _ in networks], name=name, stimulus_depth=_depth(words),
                      response_depth=_depth(responses), contents=[m.contents for m, _ in networks],
                      axons=[m.axons for m, _ in networks])
    if progress:
        progress(f"building and running {len(networks)} mesh(es) under Verilator in {work_dir}")
    start = time.perf_counter()
    runs = bench.run({i: MeshCase(p.steps) for i, (_, p) in enumerate(networks)}, work_dir=work_dir)
    seconds = time.perf_counter() - start
    tech = name_tech = calibration = None
    if energy:
        from subtile.power.energy import estimate
        tech, name_tech, calibration = technology(lib)
    results = []
    for i, (mapped, program) in enumerate(networks):
        run, cfg = runs[i], mapped.config
        _, _, out_files, _ = bench._files(work_dir, i)
        levels = []
        for k, part in enumerate(mapped.output_parts):
            path = out_files[k]
            raw = read_hex(path) if path.exists() and path.stat().st_size else []
            per_step = decode_mesh_responses(cfg, raw, len(program.steps), cfg.payload_format.width)
            level = np.zeros(cfg.tile_config(part.tile).neurons, dtype=np.int64)
            reads, readout = [], set(program.readout)
            for s, events in enumerate(per_step):
                for neuron, payload in events:
                    level[int(neuron)] += int(payload)
                if s in readout:
                    reads.append(level[:part.count].copy())
            levels.append(np.array(reads, dtype=np.int64).reshape(-1, part.count))
        codes = np.concatenate(levels, axis=1)
        result = RtlResult(codes, run.passed, run.mismatch, run.cycles, None, technology=name_tech,
                           seconds=seconds, build_seconds=run.build.seconds, build_cached=run.build.cached)
        if energy:
            report = estimate(cfg, run, tech, calibration=calibration).to_dict()
            result.energy_pj = report["energy_pj"]
            result.energy_by_kind_pj = report.get("energy_by_kind_pj", {})
        results.append(result)
    return results


def default_steps(mapped: MappedNetwork) -> int:
    """Steps per sample before the read-out: one per layer (k = 0) plus one, more with a leak
    (about three time constants per layer)."""
    k = max(mapped.config.tile_config(p.tile).leak_shift for parts in mapped.parts for p in parts)
    return len(mapped.parts) * (1 + 3 * ((1 << k) - 1)) + 1


def evaluate(q, mapped: MappedNetwork, x: np.ndarray, y: np.ndarray, *, steps: int | None = None,
             max_rest: int = 64, rtl: bool = False, energy: bool = True, work_dir: str | Path | None = None,
             lib=None, progress=None, reference: np.ndarray | None = None) -> dict:
    """Float, golden and (with ``rtl``) RTL results of ``mapped`` (from the QuantizedNetwork ``q``)
    on ``x``, ``y``: the report of ``subtile run`` (JSON keys as ``subtile digits``).

    Counts per inference (events, synaptic ops, packets) come from the sequential program with
    ``rtl`` (the very program the RTL and its energy ran: prelude and return to rest included,
    divided by the samples), else from the batched golden run (the ``steps`` forward steps).
    ``reference``: the float model's outputs (default ``q.graph.forward(x)``, the steady state; a
    temporal workload passes its own, e.g. for frames)."""
    start = time.perf_counter()
    steps = default_steps(mapped) if steps is None else steps
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or not 1 <= steps <= 4096:
        raise ConfigError(f"steps: {steps!r} is outside the allowed range 1..4096")
    labels = np.issubdtype(y.dtype, np.integer)
    metric = "accuracy" if labels else "mse"
    graph = q.graph
    reference = graph.forward(x) if reference is None else np.asarray(reference)
    batch = golden_batch(mapped, x, steps=steps, max_rest=max_rest)
    n = len(x)
    report = {
        "model": graph.name, "inputs": graph.inputs, "outputs": graph.outputs, "samples": n, "steps": steps,
        "delta": q.delta, "task": "classification" if labels else "regression",
        "weight_bits": q.layers[0].weight_format.width, "quantization": q.report(), "mapping": mapped.report(),
        f"{metric}_float": score(reference, y), f"{metric}_golden": score(batch.values, y),
        f"{metric}_rtl": None, "rtl_golden_agreement": None, "rtl_pass": None, "mismatch": None,
        "saturated_inputs": batch.saturated_inputs,
        "golden_seconds": round(batch.seconds, 4),
        "golden_samples_per_second": round(n / batch.seconds) if batch.seconds else None,
        "counts_scope": "batched golden, the forward steps of each sample",
        "events_per_inference": float(batch.events_in.mean()),
        "synaptic_ops_per_inference": float(batch.synaptic_ops.mean()),
        "packets_per_inference": float(batch.packets.mean()),
        "steps_per_inference": steps, "cycles_per_inference": None, "energy_per_inference_pj": None,
        "energy_by_kind_per_inference_pj": None, "network_energy_share": None, "technology": None,
        "notes": graph.all_notes() + q.notes + mapped.notes,
    }
    if labels:
        report["float_golden_agreement"] = float((reference.argmax(1) == batch.values.argmax(1)).mean())
    if rtl:
        import tempfile
        work_dir = Path(work_dir) if work_dir else Path(tempfile.mkdtemp(prefix="subtile-run-"))
        program = sequential_program(mapped, x, steps=steps, max_rest=max_rest)
        result = rtl_run([(mapped, program)], work_dir=work_dir, energy=energy, lib=lib, name=f"{mapped.config.name}_bench",
                         progress=progress)[0]
        same = (result.codes == program.codes).all(axis=1) if result.codes.shape == program.codes.shape \
            else np.zeros(n, dtype=bool)
        values = mapped.config.payload_format.to_real(result.codes) if same.any() else np.zeros_like(batch.values)
        report.update({
            f"{metric}_rtl": score(values, y) if result.codes.shape == program.codes.shape else None,
            "rtl_golden_agreement": float(same.mean()), "rtl_pass": bool(result.passed and same.all()),
            "mismatch": result.mismatch,
            "sequential_batch_agreement": float((program.codes == batch.codes).all(axis=1).mean()),
            "counts_scope": "the RTL program: prelude, forward steps and return to rest, per sample",
            "events_per_inference": program.events_in / n,
            "external_events_per_inference": program.external_events / n,
            "synaptic_ops_per_inference": program.synaptic_ops / n,
            "packets_per_inference": program.packets / n,
            "steps_per_inference": len(program.steps) / n,
            "cycles_per_inference": result.cycles / n,
            "rtl_seconds": round(result.seconds, 3), "build_cached": result.build_cached,
            "work_dir": str(work_dir),
        })
        if result.energy_pj is not None:
            kinds = result.energy_by_kind_pj
            network = kinds.get("router", 0.0) + kinds.get("interface", 0.0)
            report.update({"energy_per_inference_pj": result.energy_pj / n,
                           "energy_by_kind_per_inference_pj": {k: v / n for k, v in kinds.items()},
                           "network_energy_share": network / result.energy_pj if result.energy_pj else None,
                           "technology": result.technology,
                           "energy_scope": "tiles, routers and network interfaces (fan-outs, output FIFOs); "
                                           "per inference = the whole RTL program over the samples"})
    report["seconds"] = round(time.perf_counter() - start, 3)
    return report
