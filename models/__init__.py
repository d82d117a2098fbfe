"""GRec model code: pure Keras 3 (no tfx or tensorflow_transform imports).

Dimension legend used in every module: B batch, T tokens per example, D model
width, H query heads, E experts, K top-k, C capacity, N tasks, L history
length, S task-sentence length, G routing groups (examples or tokens), R tokens
per routing group, F expert hidden width.
"""

from models.registry import MODEL_NAMES, build_model

__all__ = ["MODEL_NAMES", "build_model"]
