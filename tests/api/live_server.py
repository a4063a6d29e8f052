"""A live Dockyard (``python -m dockyard serve``, the launcher of ``tests/e2e/servers.py``) for the
API tests that need a real server process, one per test module."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from e2e.servers import DockyardProcess, free_port

Server = TypeVar("Server", bound=DockyardProcess)


class LiveServer(DockyardProcess):
    """A server process whose ``dockyard`` runs the CLI with the server's own settings."""

    def dockyard(self, *args: str) -> str:
        """``python -m dockyard ...`` (which must succeed); what it printed."""
        result = subprocess.run([sys.executable, "-m", "dockyard", *args], env=self.server_env(),
                                capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stderr
        return result.stdout


def live_server(base: Path, access_key_id: str, secret_access_key: str,
                region: str) -> LiveServer:
    """A server (not started yet) on ``base/data`` and a free port, with its own administrator
    keys and region."""
    return LiveServer(base / "data", free_port(), access_key_id, secret_access_key,
                      extra_env={"DOCKYARD_REGION": region})


@contextmanager
def running(server: Server) -> Iterator[Server]:
    """The server started (and healthy) for the block, stopped after it."""
    server.start()
    try:
        yield server
    finally:
        server.stop()
