"""Golden mesh throughput on a mapped network: the batched model against the per-sample loop.

    python bench/network_batch.py [MODEL] [--data DATA.npz] [--repeat N]

MODEL defaults to the native example examples/network/digits_mlp.toml (a 64-24-10 tanh MLP on a 2 x 1
mesh) and DATA to its test split (360 images, repeated N times, default 10). Three ways to get the
read-out of every sample, all bit-exact with each other (checked here):

* per-sample loop: one MeshModel per sample, loaded with the rest state R, stepped T steps;
* sequential program: today's flow (digits, the RTL program): one MeshModel playing every sample
  in turn with its return to rest;
* batched: BatchMeshModel, every sample side by side from R.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def main(argv=None):
    from subtile.cli.run import load_model
    from subtile.golden.mesh import MeshModel
    from subtile.network import mapper, quantize, run
    from subtile.network.quantize import encode_inputs
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", nargs="?", default=str(ROOT / "examples" / "network" / "digits_mlp.toml"))
    parser.add_argument("--data", default=str(ROOT / "examples" / "network" / "digits_test.npz"))
    parser.add_argument("--repeat", type=int, default=10)
    args = parser.parse_args(argv)
    graph = load_model(args.model)
    x, y = run.load_data(args.data, graph.inputs, graph.outputs)
    x = np.concatenate([x] * args.repeat)
    q = quantize.quantize(graph, 8)
    m = mapper.map_network(q)
    steps = run.default_steps(m)
    print(f"{graph.name} on a {m.config.width} x {m.config.height} mesh, T = {steps}, {len(x)} samples")

    start = time.perf_counter()
    batch = run.golden_batch(m, x, steps=steps)
    batched = time.perf_counter() - start

    rest, _ = run.settle(m)
    states = [t.state.copy() for t in rest.tiles]
    codes, _ = encode_inputs(x, m.config.payload_format)
    loop_samples = min(len(x), 720)
    start = time.perf_counter()
    model = MeshModel(m.config, contents=m.contents, axons=m.axons)
    reads = []
    none = np.zeros((0, 2), dtype=np.int64)
    for sample in codes[:loop_samples]:
        for tile, state in zip(model.tiles, states):
            tile.state = state.copy()
        model.pending = [none] * m.config.count
        on = np.flatnonzero(sample)
        external = [np.stack([on, sample[on]], axis=1) if i in m.input_tiles else none for i in range(m.config.count)]
        for t in range(steps):
            model.step(external if t == 0 else None)
        reads.append(np.concatenate([model.tiles[p.tile].state.y_sent[:p.count] for p in m.output_parts]))
    loop = time.perf_counter() - start
    assert np.array_equal(np.array(reads), batch.codes[:loop_samples]), "per-sample loop differs from the batch"

    start = time.perf_counter()
    program = run.sequential_program(m, x[:loop_samples], steps=steps)
    sequential = time.perf_counter() - start
    # Equal with leak shift 0 and delta <= 1 (every sample starts from R); with a leak a residue can carry over.
    agreement = (program.codes == batch.codes[:loop_samples]).all(axis=1).mean()

    rows = [("per-sample loop (MeshModel from R)", loop_samples, loop),
            ("sequential program (today's digits / RTL flow)", loop_samples, sequential),
            ("batched (BatchMeshModel)", len(x), batched)]
    print("| golden run | samples | seconds | samples/s |\n|---|---|---|---|")
    for name, n, seconds in rows:
        print(f"| {name} | {n} | {seconds:.3f} | {n / seconds:,.0f} |")
    print(f"speed-up of the batch over the per-sample loop: {loop / loop_samples * len(x) / batched:.0f}x; "
          f"golden accuracy {100 * run.score(batch.values, np.concatenate([y] * args.repeat)):.1f} %; "
          f"sequential program = batch on {100 * agreement:.1f} % of the samples")
    return 0


if __name__ == "__main__":
    sys.exit(main())
