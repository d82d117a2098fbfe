"""Shared pytest setup: quiet TensorFlow, the benchmarks' feature cache, the exported sample model.

The packages are imported from the grec install (``scripts/bootstrap.sh`` installs it editable)."""

import os

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


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
