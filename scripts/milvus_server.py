"""A `milvus-lite server` process on a free loopback port: the local Milvus the tests (tests/test_milvus.py) and
the benchmark (scripts/benchmark.py --milvus) talk to over gRPC, as a deployment talks to Milvus Standalone."""
from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

MILVUS_LITE = Path(sys.executable).parent / "milvus-lite"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class MilvusServer:
    """`milvus-lite server` on 127.0.0.1 with its data in `data`; stop() and start() keep its port and data."""

    def __init__(self, data: Path) -> None:
        self.data, self.port = Path(data), free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def store(self) -> str:
        """The NEWSDESK_STORE value that reaches it."""
        return f"milvus://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60) -> None:
        """Start it and wait until it answers a request."""
        from pymilvus import MilvusClient
        from pymilvus.exceptions import MilvusException

        self.proc = subprocess.Popen([str(MILVUS_LITE), "server", "--data-dir", str(self.data), "--host", "127.0.0.1",
                                      "--port", str(self.port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"milvus-lite server exited with {self.proc.returncode}")
            try:  # a connection of its own (pymilvus shares one per address, dead while the server was away)
                probe = MilvusClient(f"http://127.0.0.1:{self.port}", timeout=2, dedicated=True)
                probe.list_collections()
                probe.close()
                return
            except MilvusException:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError("milvus-lite server did not start")

    def stop(self) -> None:
        """Kill it (as a crash or a pulled plug would)."""
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None
