"""Argument checks that fail at construction with the argument named (keras-hub style)."""

from __future__ import annotations


def require(condition: bool, message: str, **received) -> None:
    """Raises ValueError(message + ' Received: `a=1`, `b=2`') unless condition."""
    if not condition:
        shown = ", ".join(f"`{k}={v!r}`" for k, v in received.items())
        raise ValueError(f"{message} Received: {shown}")


def require_positive(**values) -> None:
    for name, value in values.items():
        require(
            isinstance(value, int) and not isinstance(value, bool) and value > 0,
            f"`{name}` must be a positive integer.",
            **{name: value},
        )
