"""The servers under test, side by side on this machine: Dockyard, CNCF Distribution, and nginx.

Each one is started in its own session with a fresh temporary directory and a free port, and is
stopped (its whole process group) when the benchmark ends.
"""

from __future__ import annotations

import base64
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import http.client

ADMIN_KEY_ID = "AKIADOCKYARDBENCH001"
ADMIN_SECRET = "dockyard-bench-secret-access-key-000000000"
REGION = "us-east-1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _http_status(port: int, path: str, timeout: float = 1.0) -> int | None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        response.read()
        return response.status
    except OSError:
        return None
    finally:
        conn.close()


@dataclass
class Server:
    """A running server process (group) that we started."""

    name: str
    port: int
    workdir: Path
    process: subprocess.Popen | None = None
    log_path: Path | None = None
    auth_header: str | None = None   # "Basic ..." for the registry's /v2/ API, if it needs one
    is_dockyard: bool = False
    extra: dict = field(default_factory=dict)

    @property
    def host(self) -> str:
        return "127.0.0.1"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def headers(self) -> dict[str, str]:
        return {"Authorization": self.auth_header} if self.auth_header else {}

    def _start(self, argv: list[str], env: dict[str, str] | None = None) -> None:
        self.log_path = self.workdir / "server.log"
        log = open(self.log_path, "wb")
        self.process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env,
                                        cwd=self.workdir, start_new_session=True)
        log.close()

    def wait_ready(self, path: str, ok: tuple[int, ...], timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.process.returncode}:\n{self.log_tail()}")
            if _http_status(self.port, path) in ok:
                return
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} not ready after {timeout}s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 40) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def pids(self) -> list[int]:
        """The server's process tree (the process we started and all its descendants)."""
        if self.process is None:
            return []
        return process_tree(self.process.pid)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(5)


def process_tree(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(b")") + 2:].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    result, todo = [], [root]
    while todo:
        pid = todo.pop()
        result.append(pid)
        todo.extend(children.get(pid, ()))
    return result


def rss_bytes(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status", "rb") as f:
                for line in f:
                    if line.startswith(b"VmRSS:"):
                        total += int(line.split()[1]) * 1024
                        break
        except OSError:
            pass
    return total


def start_dockyard(root: Path, workers: int, source: Path | None = None, label: str = "Dockyard",
                   settings: dict[str, str] | None = None) -> Server:
    """Start ``dockyard serve``; from ``source``'s ``src/`` instead of the installed package if given.

    ``settings`` (``DOCKYARD_*``) go on top of the embedded defaults, e.g. a PostgreSQL database and
    an S3 bucket (bench/scaleout.py); ``label`` names the column."""
    workdir = Path(tempfile.mkdtemp(prefix=f"dockyard-w{workers}-", dir=root))
    server = Server(f"{label} ({workers}w)", free_port(), workdir, is_dockyard=True)
    env = {**os.environ,
           "DOCKYARD_DATA_DIR": str(workdir / "data"),
           "DOCKYARD_PORT": str(server.port),
           "DOCKYARD_HOST": "127.0.0.1",
           "DOCKYARD_WORKERS": str(workers),
           "DOCKYARD_ADMIN_ACCESS_KEY_ID": ADMIN_KEY_ID,
           "DOCKYARD_ADMIN_SECRET_ACCESS_KEY": ADMIN_SECRET,
           "DOCKYARD_LOG_LEVEL": "WARNING",
           **(settings or {})}
    if source is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(source / "src"), env.get("PYTHONPATH")]))
    server._start([sys.executable, str(Path(__file__).with_name("sut.py")), "--workers", str(workers)], env)
    server.extra["workers"] = workers
    server.wait_ready("/v2/", (200, 401))
    server.auth_header = "Basic " + base64.b64encode(f"AWS:{registry_password(server)}".encode()).decode()
    return server


def _ecr(server: Server):  # type: ignore[no-untyped-def]
    import boto3

    return boto3.client("ecr", endpoint_url=server.url, region_name=REGION,
                        aws_access_key_id=ADMIN_KEY_ID, aws_secret_access_key=ADMIN_SECRET)


def registry_password(server: Server) -> str:
    """The registry password from ecr:GetAuthorizationToken (base64 ``AWS:<password>``)."""
    token = _ecr(server).get_authorization_token()["authorizationData"][0]["authorizationToken"]
    user, _, password = base64.b64decode(token).decode().partition(":")
    if user != "AWS":
        raise RuntimeError(f"unexpected user {user!r} in the authorization token")
    return password


def create_repository(server: Server, name: str) -> None:
    """Dockyard requires repositories to exist; Distribution creates them on first push."""
    if not server.is_dockyard:
        return
    client = _ecr(server)
    try:
        client.create_repository(repositoryName=name)
    except client.exceptions.RepositoryAlreadyExistsException:
        pass


DISTRIBUTION_CONFIG = """\
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: {root}
  delete:
    enabled: true
  cache:
    blobdescriptor: inmemory
http:
  addr: 127.0.0.1:{port}
"""


def start_distribution(root: Path) -> Server:
    binary = shutil.which("docker-registry") or shutil.which("registry")
    if binary is None:
        raise RuntimeError("docker-registry not found: apt-get install -y docker-registry")
    workdir = Path(tempfile.mkdtemp(prefix="distribution-", dir=root))
    server = Server("Distribution", free_port(), workdir)
    config = workdir / "config.yml"
    config.write_text(DISTRIBUTION_CONFIG.format(root=workdir / "storage", port=server.port))
    server._start([binary, "serve", str(config)])
    server.wait_ready("/v2/", (200,))
    return server


NGINX_CONFIG = """\
daemon off;
master_process on;
worker_processes {workers};
user root;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 100000;
  client_body_temp_path {dir}/body;
  proxy_temp_path {dir}/proxy;
  fastcgi_temp_path {dir}/fastcgi;
  uwsgi_temp_path {dir}/uwsgi;
  scgi_temp_path {dir}/scgi;
  server {{
    listen 127.0.0.1:{port};
    root {dir}/www;
    location / {{ default_type application/octet-stream; }}
  }}
}}
"""


def start_nginx(root: Path, workers: int) -> Server:
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    if not os.path.exists(binary):
        raise RuntimeError("nginx not found: apt-get install -y nginx-light")
    workdir = Path(tempfile.mkdtemp(prefix="nginx-", dir=root))
    (workdir / "www").mkdir()
    server = Server("nginx sendfile", free_port(), workdir)
    conf = workdir / "nginx.conf"
    conf.write_text(NGINX_CONFIG.format(dir=workdir, port=server.port, workers=workers))
    server._start([binary, "-c", str(conf), "-p", str(workdir)])
    server.wait_ready("/", (200, 403, 404))
    return server
