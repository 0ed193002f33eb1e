"""Worker processes (spawned, never forked: the parent may hold torch, onnxruntime and FAISS thread pools)."""
from __future__ import annotations

import multiprocessing as mp
import os
import sys
from multiprocessing.context import SpawnContext


def can_spawn() -> bool:
    """False when a spawned worker could not import the parent's main module (a script read from stdin):
    callers then do the work in this process."""
    main_file = getattr(sys.modules.get("__main__"), "__file__", None)
    return main_file is None or os.path.exists(main_file)


def spawn() -> SpawnContext:
    return mp.get_context("spawn")
