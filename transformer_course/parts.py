"""Placeholder for the parts that travel between notebooks (replaced at merge by the real module).

``load(*names)`` returns the reference classes in a SimpleNamespace and says so.
"""

from __future__ import annotations

import types


def load(*names: str) -> types.SimpleNamespace:
    """The named parts (reference versions here), e.g. load("MultiHeadAttention", "FeedForward")."""
    import transformer_course as tc

    parts = {}
    for name in names:
        parts[name] = getattr(tc, name)
        print(f"{name}: the reference")
    return types.SimpleNamespace(**parts)
