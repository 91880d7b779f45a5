"""Train two small networks in NumPy on scikit-learn's bundled 8x8 digits and write them as an
ONNX file (onnx.helper), a NIR graph (nir.write) and the native TOML + npz, with the test split
as DATA.npz (``x`` = pixel / 16, ``y`` = labels). Nothing is downloaded.

    python examples/network/make_models.py -o DIR [--epochs N]

writes DIR/digits_mlp.onnx, DIR/digits_li.nir, DIR/digits_mlp.toml (+ .npz) and DIR/digits_test.npz
(the 360 test images). Deterministic for a seed. examples/network/ holds the native model and the
test data written by ``-o examples/network``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

LOGIT_SCALE = 5.0      # softmax sharpness on the tanh outputs during training (as digits)
ACTS = {"tanh": (np.tanh, lambda y: 1 - y * y),
        "sigmoid": (lambda z: 1 / (1 + np.exp(-z)), lambda y: y * (1 - y))}


def digits_split(seed: int = 0):
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    data = load_digits()
    x = data.images.reshape(-1, 64) / 16.0
    return train_test_split(x, data.target.astype(np.int64), test_size=0.2, random_state=seed, stratify=data.target)


def train_mlp(x, labels, sizes, activations, *, seed=0, epochs=400, rate=0.01):
    """Full-batch Adam on softmax cross-entropy of LOGIT_SCALE * (last layer's output); returns
    [(W, b), ...] with W of shape (inputs, outputs)."""
    rng = np.random.default_rng(seed)
    dims = [x.shape[1], *sizes]
    params = []
    for i, o in zip(dims, dims[1:]):
        params += [rng.normal(0, 1 / np.sqrt(i), size=(i, o)), np.zeros(o)]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    onehot = np.eye(sizes[-1])[labels]
    for t in range(1, epochs + 1):
        hs = [x]
        for k, act in enumerate(activations):
            hs.append(ACTS[act][0](hs[-1] @ params[2 * k] + params[2 * k + 1]))
        z = LOGIT_SCALE * hs[-1]
        prob = np.exp(z - z.max(axis=1, keepdims=True))
        prob /= prob.sum(axis=1, keepdims=True)
        g = (prob - onehot) / len(x) * LOGIT_SCALE
        grads = [None] * len(params)
        for k in reversed(range(len(activations))):
            g = g * ACTS[activations[k]][1](hs[k + 1])
            grads[2 * k], grads[2 * k + 1] = hs[k].T @ g, g.sum(axis=0)
            g = g @ params[2 * k].T
        for p, gr, mi, vi in zip(params, grads, m, v):
            mi *= 0.9
            mi += 0.1 * gr
            vi *= 0.999
            vi += 0.001 * gr * gr
            p -= rate * (mi / (1 - 0.9**t)) / (np.sqrt(vi / (1 - 0.999**t)) + 1e-8)
    return [(params[2 * k], params[2 * k + 1]) for k in range(len(activations))]


def write_onnx(path, layers, activations, name="digits_mlp"):
    """Gemm + activation per layer, as PyTorch exports an nn.Sequential of Linear + Tanh."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    ops = {"tanh": "Tanh", "sigmoid": "Sigmoid"}
    nodes, inits, prev = [], [], "input"
    for k, ((w, b), act) in enumerate(zip(layers, activations)):
        inits += [numpy_helper.from_array(w.T.astype(np.float32), f"fc{k}.weight"),
                  numpy_helper.from_array(b.astype(np.float32), f"fc{k}.bias")]
        nodes.append(helper.make_node("Gemm", [prev, f"fc{k}.weight", f"fc{k}.bias"], [f"fc{k}_out"],
                                      name=f"fc{k}", transB=1))
        out = "output" if k == len(layers) - 1 else f"act{k}_out"
        nodes.append(helper.make_node(ops[act], [f"fc{k}_out"], [out], name=f"act{k}"))
        prev = out
    graph = helper.make_graph(nodes, name, [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", layers[0][0].shape[0]])],
                              [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["N", layers[-1][0].shape[1]])],
                              initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="subtile-examples")
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


def write_nir(path, layers, activations, *, tau_steps=2.0, dt=1e-3):
    """Affine -> LI per layer; the LI's graded read-out function is in its metadata
    (``activation``), its time constant tau = tau_steps * dt."""
    import nir
    nodes = {"input": nir.Input(input_type={"input": np.array([layers[0][0].shape[0]])})}
    edges, prev = [], "input"
    for k, ((w, b), act) in enumerate(zip(layers, activations)):
        n = w.shape[1]
        nodes[f"fc{k}"] = nir.Affine(weight=w.T.astype(np.float32), bias=b.astype(np.float32))
        nodes[f"li{k}"] = nir.LI(tau=np.full(n, tau_steps * dt), r=np.ones(n), v_leak=np.zeros(n),
                                 metadata={"activation": act})
        edges += [(prev, f"fc{k}"), (f"fc{k}", f"li{k}")]
        prev = f"li{k}"
    nodes["output"] = nir.Output(output_type={"output": np.array([layers[-1][0].shape[1]])})
    edges.append((prev, "output"))
    nir.write(str(path), nir.NIRGraph(nodes=nodes, edges=edges, metadata={"dt": dt}))


def write_native(path, layers, activations, name="digits_mlp"):
    lines = ["# A 64-24-10 tanh MLP trained in NumPy on the bundled digits (examples/network/make_models.py).",
             "[network]", f'name = "{name}"', f"inputs = {layers[0][0].shape[0]}",
             f'weights = "{Path(path).with_suffix(".npz").name}"']
    arrays = {}
    for k, ((w, b), act) in enumerate(zip(layers, activations)):
        lines += ["", "[[layers]]", f'name = "fc{k}"', f"outputs = {w.shape[1]}", f'activation = "{act}"',
                  f'weight = "fc{k}_w"', f'bias = "fc{k}_b"']
        arrays[f"fc{k}_w"], arrays[f"fc{k}_b"] = w, b
    Path(path).write_text("\n".join(lines) + "\n")
    np.savez(Path(path).with_suffix(".npz"), **arrays)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output-dir", required=True)
    parser.add_argument("--epochs", type=int, default=400)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    out = Path(args.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    x_train, x_test, y_train, y_test = digits_split(args.seed)
    np.savez(out / "digits_test.npz", x=x_test.astype(np.float32), y=y_test)    # pixel / 16: exact
    mlp = train_mlp(x_train, y_train, [24, 10], ["tanh", "tanh"], seed=args.seed, epochs=args.epochs)
    write_onnx(out / "digits_mlp.onnx", mlp, ["tanh", "tanh"])
    write_native(out / "digits_mlp.toml", mlp, ["tanh", "tanh"])
    li = train_mlp(x_train, y_train, [16, 10], ["sigmoid", "tanh"], seed=args.seed + 1, epochs=args.epochs)
    write_nir(out / "digits_li.nir", li, ["sigmoid", "tanh"])
    for name, layers, acts in (("digits_mlp", mlp, ["tanh", "tanh"]), ("digits_li", li, ["sigmoid", "tanh"])):
        h = x_test
        for (w, b), act in zip(layers, acts):
            h = ACTS[act][0](h @ w + b)
        print(f"{name}: float test accuracy {100 * (h.argmax(1) == y_test).mean():.1f} % on {len(y_test)} images")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
