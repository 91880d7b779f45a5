"""Train a 4-8-3 tanh MLP in NumPy on scikit-learn's bundled iris data set and write it as an ONNX
file, with its test split as DATA.npz (``x`` = each feature over its largest training value, in
[0, 1.3); ``y`` = the class labels). Nothing is downloaded; deterministic for a seed. The model of
``examples/sweep_iris.toml``.

    python examples/iris/make_iris.py -o DIR [--epochs N] [--seed S]

writes DIR/iris_mlp.onnx and DIR/iris_test.npz (45 test flowers). examples/iris/ holds the files
written by ``-o examples/iris``. Training and the ONNX writer are those of
examples/network/make_models.py.
"""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def _make_models():
    spec = importlib.util.spec_from_file_location("make_models", HERE.parent / "network" / "make_models.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def iris_split(seed: int = 0):
    """(x_train, x_test, y_train, y_test): features scaled by the training set's largest value."""
    from sklearn.datasets import load_iris
    from sklearn.model_selection import train_test_split
    data = load_iris()
    x_train, x_test, y_train, y_test = train_test_split(data.data, data.target.astype(np.int64), test_size=0.3,
                                                        random_state=seed, stratify=data.target)
    scale = x_train.max(axis=0)
    return x_train / scale, x_test / scale, y_train, y_test


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output-dir", required=True)
    parser.add_argument("--epochs", type=int, default=600)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    mm = _make_models()
    out = Path(args.output_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".make_iris_probe"
        probe.touch()
        probe.unlink()
    except OSError as error:
        parser.exit(2, f"make_iris.py: error: output-dir: cannot write to {out} ({error.strerror or error})\n")
    x_train, x_test, y_train, y_test = iris_split(args.seed)
    layers = mm.train_mlp(x_train, y_train, [8, 3], ["tanh", "tanh"], seed=args.seed, epochs=args.epochs, rate=0.02)
    mm.write_onnx(out / "iris_mlp.onnx", layers, ["tanh", "tanh"], name="iris_mlp")
    np.savez(out / "iris_test.npz", x=x_test, y=y_test)
    h = x_test
    for w, b in layers:
        h = np.tanh(h @ w + b)
    print(f"iris_mlp: float test accuracy {100 * (h.argmax(1) == y_test).mean():.1f} % on {len(y_test)} flowers")
    print(f"wrote {out / 'iris_mlp.onnx'} and {out / 'iris_test.npz'}")


if __name__ == "__main__":
    main()
