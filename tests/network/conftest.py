"""Shared fixtures: the example models, trained in NumPy and written by examples/network/make_models.py."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]


def _make_models_module():
    spec = importlib.util.spec_from_file_location("make_models", ROOT / "examples" / "network" / "make_models.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def make_models():
    return _make_models_module()


@pytest.fixture(scope="session")
def models(tmp_path_factory, make_models):
    """Folder with digits_mlp.onnx, digits_li.nir, digits_mlp.toml/.npz and digits_test.npz."""
    pytest.importorskip("sklearn")
    out = tmp_path_factory.mktemp("models")
    make_models.main(["-o", str(out), "--epochs", "300"])
    return out


@pytest.fixture(scope="session")
def digits_test(models):
    with np.load(models / "digits_test.npz") as data:
        return data["x"].astype(np.float64), data["y"]
