"""Live Dockyard servers for the end-to-end tests: `python -m dockyard serve` as a subprocess."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

# Fixed administrator credentials of the session server (shapes of real AWS keys).
ADMIN_ACCESS_KEY_ID = "AKIAE2ETESTADMIN0001"
ADMIN_SECRET_ACCESS_KEY = "e2eTestSecretKey/0123456789abcdefghijKLM"
REGION = "us-east-1"
START_TIMEOUT = 60.0

# Every server started by the suite, so a failing test can show their logs.
LIVE: list["DockyardProcess"] = []


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _dockyard_env() -> dict[str, str]:
    """The parent environment minus any DOCKYARD_/AWS_ settings that would leak into a server."""
    return {k: v for k, v in os.environ.items()
            if not k.startswith(("DOCKYARD_", "AWS_"))}


@dataclass
class DockyardProcess:
    """One `dockyard serve` process group on a data directory; restartable on the same directory."""

    data_dir: Path
    port: int
    access_key_id: str | None = ADMIN_ACCESS_KEY_ID
    secret_access_key: str | None = ADMIN_SECRET_ACCESS_KEY
    extra_env: dict[str, str] = field(default_factory=dict)
    session: bool = False  # the session-wide server (its log goes with every failure)
    proc: subprocess.Popen | None = None
    starts: int = 0

    @property
    def host(self) -> str:
        """host:port as docker addresses the registry."""
        return f"127.0.0.1:{self.port}"

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}"

    def log_paths(self, start: int | None = None) -> tuple[Path, Path]:
        n = self.starts if start is None else start
        return self.data_dir.parent / f"serve-{n}.stdout", self.data_dir.parent / f"serve-{n}.stderr"

    def stdout(self, start: int | None = None) -> str:
        return self.log_paths(start)[0].read_text(errors="replace")

    def stderr(self, start: int | None = None) -> str:
        return self.log_paths(start)[1].read_text(errors="replace")

    def server_env(self) -> dict[str, str]:
        env = _dockyard_env()
        env.update({
            "DOCKYARD_DATA_DIR": str(self.data_dir),
            "DOCKYARD_PORT": str(self.port),
            "DOCKYARD_HOST": "127.0.0.1",
            "PYTHONUNBUFFERED": "1",
        })
        if self.access_key_id and self.secret_access_key:
            env["DOCKYARD_ADMIN_ACCESS_KEY_ID"] = self.access_key_id
            env["DOCKYARD_ADMIN_SECRET_ACCESS_KEY"] = self.secret_access_key
        env.update(self.extra_env)
        return env

    def env(self, access_key_id: str | None = None, secret_access_key: str | None = None,
            ) -> dict[str, str]:
        """Environment for a client subprocess (aws CLI, dockyard CLI) talking to this server."""
        env = _dockyard_env()
        env.update({
            "AWS_ACCESS_KEY_ID": access_key_id or self.access_key_id or "",
            "AWS_SECRET_ACCESS_KEY": secret_access_key or self.secret_access_key or "",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_CONFIG_FILE": "/dev/null",
            "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_PAGER": "",
            "DOCKYARD_DATA_DIR": str(self.data_dir),
        })
        return env

    # --- lifecycle ---------------------------------------------------------------------------------
    def start(self) -> "DockyardProcess":
        assert self.proc is None or self.proc.poll() is not None, "already running"
        self.starts += 1
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        out_path, err_path = self.log_paths()
        with open(out_path, "wb") as out, open(err_path, "wb") as err:
            # Own session: Granian forks workers, and kill() must reach all of them.
            self.proc = subprocess.Popen([sys.executable, "-m", "dockyard", "serve"],
                                         env=self.server_env(), stdout=out, stderr=err,
                                         stdin=subprocess.DEVNULL, start_new_session=True)
        if self not in LIVE:
            LIVE.append(self)
        self._wait_healthy()
        return self

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        last: Exception | None = None
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"dockyard serve exited with {self.proc.returncode}:\n"
                                   f"{self.stdout()}\n{self.stderr()}")
            try:
                r = httpx.get(f"{self.endpoint}/healthz", timeout=2)
                if r.status_code == 200:
                    return
            except httpx.HTTPError as exc:
                last = exc
            time.sleep(0.1)
        self.kill()
        raise RuntimeError(f"dockyard serve not healthy after {START_TIMEOUT}s ({last}):\n"
                           f"{self.stderr()}")

    def kill(self) -> None:
        """SIGKILL the whole process group (kill -9: no shutdown code runs)."""
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(timeout=10)
        self._wait_port_free()

    def stop(self) -> None:
        """SIGTERM, then SIGKILL the group if it does not go within 10 s."""
        if self.proc is None or self.proc.poll() is not None:
            self._reap_group()
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        self._reap_group()

    def send_signal(self, signum: int = signal.SIGTERM) -> None:
        """Signal the main process only, as Kubernetes, docker stop and systemd (KillMode=mixed) do."""
        assert self.proc is not None and self.proc.poll() is None, "not running"
        self.proc.send_signal(signum)

    def wait_exit(self, timeout: float) -> int:
        """The main process's exit code once it has exited (subprocess.TimeoutExpired if it does
        not within ``timeout``); no process of the group may outlive it."""
        assert self.proc is not None
        code = self.proc.wait(timeout=timeout)
        deadline = time.monotonic() + 2  # a worker may still be on its way out
        while True:
            try:
                os.killpg(self.proc.pid, 0)
            except ProcessLookupError:
                break
            if time.monotonic() > deadline:
                raise AssertionError(f"processes of {self.proc.pid}'s group outlived it")
            time.sleep(0.1)
        self._wait_port_free()
        return code

    def _reap_group(self) -> None:
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        self._wait_port_free()

    def _wait_port_free(self) -> None:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                if s.connect_ex(("127.0.0.1", self.port)) != 0:
                    return
            time.sleep(0.1)

    def log_tail(self, limit: int = 6000) -> str:
        parts = []
        for n in range(1, self.starts + 1):
            for path in self.log_paths(n):
                if path.exists():
                    text = path.read_text(errors="replace")
                    if text.strip():
                        parts.append(f"--- {path.name} ---\n{text[-limit:]}")
        return "\n".join(parts)
