"""Shared pytest setup: quiet TensorFlow, repository root on sys.path, the exported sample model."""

import os
import sys

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)


@pytest.fixture(scope="session")
def exported(tmp_path_factory):
    """A small exported GRec (Transform graph inside) under a TF Serving model base path, built once."""
    from serving.sample_model import export_sample_model

    return export_sample_model(str(tmp_path_factory.mktemp("serving")))
