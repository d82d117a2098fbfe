"""Shared pytest setup: quiet TensorFlow, repository root on sys.path, the exported sample model."""

import os
import sys

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)


@pytest.fixture(scope="session", autouse=True)
def benchmark_feature_cache(tmp_path_factory):
    """The benchmarks' feature cache (benchmarks/features.py) of this test session, never the user's."""
    previous = os.environ.get("GREC_BENCHMARK_CACHE")
    os.environ["GREC_BENCHMARK_CACHE"] = str(tmp_path_factory.mktemp("benchmark_features"))
    yield
    if previous is None:
        os.environ.pop("GREC_BENCHMARK_CACHE")
    else:
        os.environ["GREC_BENCHMARK_CACHE"] = previous


@pytest.fixture(scope="session")
def exported(tmp_path_factory):
    """A small exported GRec (Transform graph inside) under a TF Serving model base path, built once."""
    from serving.sample_model import export_sample_model

    return export_sample_model(str(tmp_path_factory.mktemp("serving")))
