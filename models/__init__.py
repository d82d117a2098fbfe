"""GRec model code: pure Keras 3 (no tfx or tensorflow_transform imports).

Dimension legend used in every module: B batch, T tokens per example, D model
width, H query heads, E experts, K top-k, C capacity, N tasks, L history
length, S task-sentence length, G routing groups (examples or tokens), R tokens
per routing group, F expert hidden width.
"""

DEFAULT_MODEL = "grec"  # what the pipeline trains unless told otherwise

__all__ = ["DEFAULT_MODEL", "MODEL_NAMES", "build_model"]


def __getattr__(name):
    # The registry imports every model (Keras, TensorFlow): only when asked for, so that the runners can
    # read DEFAULT_MODEL before TensorFlow loads (their quiet mode sets its log level first).
    if name in ("MODEL_NAMES", "build_model"):
        from models import registry

        return getattr(registry, name)
    raise AttributeError(f"module 'models' has no attribute {name!r}")
