"""Sequential digits: a temporal workload that needs the leak.

Each 8x8 digit is presented one image row per time step (8 steps, 8 inputs: row t's pixels / 16
at step t, the last row held), so no single step shows the class: the hidden membranes must
integrate the rows over time, which is what the leak does (v <- v + (u - v) / 2**k, docs/
architecture.md). The network (8 -> H tanh -> 10 tanh, no biases, leak k on both layers) is
trained in NumPy by backpropagation through time through exactly these dynamics, including the
one-step delay of the events between the two tiles, and runs on the :mod:`subtile.network` path
(quantization, mapper, batched golden mesh, RTL) with frames. :func:`compare` reports it next to
the static presentation of the same images (:mod:`subtile.workloads.digits`, all 64 pixels at
once): ``python -m subtile.workloads.seqdigits [--rtl] [--images N]``.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass

import numpy as np

from subtile.network import mapper, quantize, run
from subtile.network.graph import Graph, Layer
from subtile.workloads import digits

__all__ = ["SeqNetwork", "frames", "gradients", "train", "float_forward", "graph", "evaluate", "compare"]

ROWS = 8
LOGIT_SCALE = 5.0


def frames(x: np.ndarray) -> np.ndarray:
    """(samples, 64) pixels / 16 -> (samples, 8 frames, 8 inputs): frame t is image row t."""
    return np.asarray(x, dtype=np.float64).reshape(-1, ROWS, 8)


@dataclass
class SeqNetwork:
    """Float weights ``w1`` (8, H) and ``w2`` (H, 10); leak shift ``k`` and ``steps`` per image."""

    w1: np.ndarray
    w2: np.ndarray
    k: int
    steps: int


def _inputs_at(xf: np.ndarray, t: int) -> np.ndarray:
    return xf[:, min(t, xf.shape[1] - 1)]


def _forward(net: SeqNetwork, xf: np.ndarray):
    """States per step: hidden v1, h and output v2, y (the tiles' float dynamics; the output tile
    sees the hidden outputs of the previous step)."""
    c = 1.0 / (1 << net.k)
    n = len(xf)
    v1 = np.zeros((n, net.w1.shape[1]))
    v2 = np.zeros((n, net.w2.shape[1]))
    h_prev = np.zeros_like(v1)
    hs, ys = [], []
    for t in range(net.steps):
        v1 = v1 + c * (_inputs_at(xf, t) @ net.w1 - v1)
        v2 = v2 + c * (h_prev @ net.w2 - v2)
        h = np.tanh(v1)
        hs.append(h)
        ys.append(np.tanh(v2))
        h_prev = h
    return hs, ys


def float_forward(net: SeqNetwork, xf: np.ndarray) -> np.ndarray:
    """The float model's read-out y after ``steps`` steps, (samples, 10)."""
    return _forward(net, xf)[1][-1]


def gradients(net: SeqNetwork, xf: np.ndarray, onehot: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Loss (softmax cross-entropy of ``LOGIT_SCALE * y``) and its gradients for w1, w2, by
    backpropagation through the ``steps`` steps of the dynamics of :func:`_forward`."""
    a, c = 1.0 - 1.0 / (1 << net.k), 1.0 / (1 << net.k)
    hs, ys = _forward(net, xf)
    z = LOGIT_SCALE * ys[-1]
    z = z - z.max(axis=1, keepdims=True)
    prob = np.exp(z)
    prob /= prob.sum(axis=1, keepdims=True)
    loss = float(-(np.log(prob) * onehot).sum(axis=1).mean())
    gv2 = (prob - onehot) / len(xf) * LOGIT_SCALE * (1 - ys[-1] ** 2)
    g2 = np.zeros_like(net.w2)
    gh = [np.zeros_like(hs[0]) for _ in hs]
    for t in reversed(range(net.steps)):
        gu2 = c * gv2                       # v2_t = a v2_(t-1) + c h_(t-1) W2
        if t > 0:
            g2 += hs[t - 1].T @ gu2
            gh[t - 1] += gu2 @ net.w2.T
        gv2 = a * gv2
    g1 = np.zeros_like(net.w1)
    gv1 = np.zeros_like(hs[0])
    for t in reversed(range(net.steps)):
        gv1 = gh[t] * (1 - hs[t] ** 2) + a * gv1
        g1 += _inputs_at(xf, t).T @ (c * gv1)
    return loss, g1, g2


def train(x: np.ndarray, labels: np.ndarray, *, hidden: int = 32, k: int = 2, steps: int = 10, seed: int = 0,
          epochs: int = 500, rate: float = 0.02) -> SeqNetwork:
    """Full-batch Adam on :func:`gradients`; deterministic for a seed."""
    rng = np.random.default_rng(seed)
    net = SeqNetwork(rng.normal(0, 1 / np.sqrt(8), (8, hidden)), rng.normal(0, 1 / np.sqrt(hidden), (hidden, 10)), k, steps)
    xf = frames(x)
    onehot = np.eye(10)[labels]
    params = [net.w1, net.w2]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    for it in range(1, epochs + 1):
        _, g1, g2 = gradients(net, xf, onehot)
        for p, g, mi, vi in zip(params, (g1, g2), m, v):
            mi *= 0.9
            mi += 0.1 * g
            vi *= 0.999
            vi += 0.001 * g * g
            p -= rate * (mi / (1 - 0.9**it)) / (np.sqrt(vi / (1 - 0.999**it)) + 1e-8)
    return net


def graph(net: SeqNetwork) -> Graph:
    """The network as a :class:`subtile.network.graph.Graph` (both layers with leak shift k)."""
    return Graph("seqdigits", 8, [Layer("hidden", net.w1, activation="tanh", leak_shift=net.k),
                                  Layer("output", net.w2, activation="tanh", leak_shift=net.k)])


def evaluate(net: SeqNetwork, x: np.ndarray, y: np.ndarray, *, weight_bits: int = 8, delta: int = 1,
             rtl: bool = False, work_dir=None) -> dict:
    """The :func:`subtile.network.run.evaluate` report on the frames of ``x``."""
    q = quantize.quantize(graph(net), weight_bits, delta=delta)
    m = mapper.map_network(q)
    xf = frames(x)
    return run.evaluate(q, m, xf, y, steps=net.steps, rtl=rtl, work_dir=work_dir, reference=float_forward(net, xf))


def compare(*, images: int | None = None, rtl: bool = False, seed: int = 0, work_dir=None) -> list[dict]:
    """Rows for the sequential and the static presentation of the digits test split."""
    from pathlib import Path
    x_train, y_train, x_test, y_test, _ = digits.load_digits_split(seed)
    if images is not None:
        x_test, y_test = x_test[:images], y_test[:images]
    seq = train(x_train, y_train, seed=seed)
    sequential = evaluate(seq, x_test, y_test, rtl=rtl, work_dir=Path(work_dir) / "seq" if work_dir else None)
    spec = digits.DigitsSpec(seed=seed)
    static_net = digits.train(x_train, y_train, hidden=spec.hidden, seed=seed, epochs=spec.epochs)
    q, m = digits.mapped(static_net, spec)
    static = run.evaluate(q, m, x_test, y_test, steps=spec.steps, rtl=rtl,
                          work_dir=Path(work_dir) / "static" if work_dir else None)
    rows = []
    for name, report in (("sequential rows (8 x 8 inputs, k = 2)", sequential),
                         ("static image (64 inputs, quadrants, k = 1)", static)):
        rows.append({"presentation": name, **{key: report[key] for key in (
            "samples", "steps", "accuracy_float", "accuracy_golden", "accuracy_rtl", "rtl_golden_agreement",
            "events_per_inference", "synaptic_ops_per_inference", "cycles_per_inference", "energy_per_inference_pj",
            "network_energy_share")}})
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="sequential against static digits on the mesh")
    parser.add_argument("--images", type=int, default=None)
    parser.add_argument("--rtl", action="store_true")
    parser.add_argument("--work-dir", default=None)
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    rows = compare(images=args.images, rtl=args.rtl, work_dir=args.work_dir)

    def pct(v):
        return "-" if v is None else f"{100 * v:.1f} %"

    print("| presentation | images | T | float | golden | RTL | RTL = golden | events / inf. | synaptic ops / inf. | "
          "cycles / inf. | energy / inf. (nJ) | network share |")
    print("|" + "---|" * 12)
    for r in rows:
        energy = r["energy_per_inference_pj"]
        print(f"| {r['presentation']} | {r['samples']} | {r['steps']} | {pct(r['accuracy_float'])} | "
              f"{pct(r['accuracy_golden'])} | {pct(r['accuracy_rtl'])} | {pct(r['rtl_golden_agreement'])} | "
              f"{r['events_per_inference']:.1f} | {r['synaptic_ops_per_inference']:.0f} | "
              f"{'-' if r['cycles_per_inference'] is None else format(r['cycles_per_inference'], '.0f')} | "
              f"{'-' if energy is None else format(energy / 1000, '.2f')} | {pct(r['network_energy_share'])} |")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(rows, handle, indent=1)
    failed = any(r["rtl_golden_agreement"] not in (None, 1.0) for r in rows)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
