"""Worker processes (spawned, never forked: the parent may hold torch, onnxruntime and FAISS thread pools), and what
a file-reading worker does first: die with its parent, and cap its own memory."""
from __future__ import annotations

import ctypes
import logging
import multiprocessing as mp
import os
import signal
import sys
from multiprocessing.context import SpawnContext

log = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1  # linux/prctl.h


def can_spawn() -> bool:
    """False when a spawned worker could not import the parent's main module (a script read from stdin):
    callers then do the work in this process."""
    main_file = getattr(sys.modules.get("__main__"), "__file__", None)
    return main_file is None or os.path.exists(main_file)


def spawn() -> SpawnContext:
    return mp.get_context("spawn")


def die_with_parent() -> None:
    """In a worker: ask the kernel to SIGKILL this process when its parent dies (Linux `PR_SET_PDEATHSIG`), so a
    killed index run leaves no worker behind blocked on a pipe. Elsewhere a no-op (the workers then end when they
    find their pipe closed). Exits at once if the parent died before the request was made. The kernel ties this
    to the parent *thread* that started the worker: start long-lived workers from a thread that lives as long
    (index/preparing.py keeps one)."""
    if not sys.platform.startswith("linux"):
        return
    parent = os.getppid()
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
            log.warning("prctl(PR_SET_PDEATHSIG) failed (errno %d)", ctypes.get_errno())
            return
    except (OSError, AttributeError) as exc:
        log.warning("prctl unavailable (%s): this worker may outlive a killed parent", exc)
        return
    if os.getppid() != parent or parent == 1:  # the parent is already gone
        os._exit(1)


def limit_memory(megabytes: int) -> None:
    """In a worker: cap this process's address space (RLIMIT_AS) at `megabytes` (0: no cap), so a hostile input
    that makes a parser allocate without end fails with MemoryError in the worker, not the machine's OOM killer."""
    if megabytes <= 0:
        return
    try:
        import resource
    except ImportError:  # not POSIX
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    want = megabytes * 1024 * 1024
    if hard != resource.RLIM_INFINITY:
        want = min(want, hard)
    resource.setrlimit(resource.RLIMIT_AS, (want, hard))
