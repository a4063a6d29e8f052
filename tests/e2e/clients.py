"""The real clients the end-to-end tests drive: aws CLI, docker (own dockerd), podman, skopeo, ctr."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from .oci_layouts import BuiltImage, Layout, sha256

REQUIRED = os.environ.get("DOCKYARD_E2E_REQUIRED") == "1"


def _which(binary: str) -> str | None:
    """A binary next to this Python first (a venv's `aws`, which `make test` installs), then PATH."""
    beside = Path(sys.executable).parent / binary
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which(binary)


def require(binary: str, why: str = "") -> str:
    """The path of a client binary; skip (or fail under `make test`) when it is missing."""
    path = _which(binary)
    if path is None:
        reason = f"{binary} not installed{': ' + why if why else ''}"
        if REQUIRED:
            pytest.fail(f"{reason} (DOCKYARD_E2E_REQUIRED=1)")
        pytest.skip(reason)
    return path


class CommandFailed(AssertionError):
    pass


def run(cmd: list[str] | str, env: dict[str, str] | None = None, *, input: str | None = None,
        check: bool = True, timeout: float = 300, shell: bool = False,
        ) -> subprocess.CompletedProcess[str]:
    """Run a client command; on an unexpected exit code fail with everything it printed."""
    result = subprocess.run(cmd, env=env, input=input, capture_output=True, text=True,
                            timeout=timeout, shell=shell,
                            stdin=None if input is not None else subprocess.DEVNULL)
    if check and result.returncode != 0:
        raise CommandFailed(f"command failed ({result.returncode}): {cmd}\n"
                            f"--- stdout ---\n{result.stdout}\n--- stderr ---\n{result.stderr}")
    return result


def output(result: subprocess.CompletedProcess[str]) -> str:
    return result.stdout + result.stderr


# --- aws CLI -------------------------------------------------------------------------------------
def aws(env: dict[str, str], *args: str, check: bool = True,
        input: str | None = None) -> subprocess.CompletedProcess[str]:
    return run([require("aws", "pip install awscli"), *args], env, check=check, input=input,
               timeout=120)


def login_password(env: dict[str, str]) -> str:
    """`aws ecr get-login-password --region us-east-1`, as a user would type it."""
    password = aws(env, "ecr", "get-login-password", "--region", "us-east-1").stdout.strip()
    assert password and "\n" not in password
    return password


# --- docker --------------------------------------------------------------------------------------
@dataclass
class Docker:
    """The docker CLI bound to the suite's own dockerd and its own DOCKER_CONFIG."""

    socket: Path
    exec_root: Path
    config_dir: Path

    @property
    def containerd_socket(self) -> Path:
        return self.exec_root / "containerd" / "containerd.sock"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DOCKER_", "AWS_"))}
        env.update({"DOCKER_HOST": f"unix://{self.socket}", "DOCKER_CONFIG": str(self.config_dir),
                    "DOCKER_BUILDKIT": "0", "DOCKER_CLI_HINTS": "false"})
        return env

    def __call__(self, *args: str, check: bool = True, input: str | None = None,
                 timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return run(["docker", *args], self.env(), check=check, input=input, timeout=timeout)

    def login(self, registry: str, password: str) -> None:
        result = self("login", "--username", "AWS", "--password-stdin", registry, input=password)
        assert "Login Succeeded" in result.stdout

    def image_id(self, ref: str) -> str:
        return self("image", "inspect", "--format", "{{.Id}}", ref).stdout.strip()

    def repo_digests(self, ref: str) -> list[str]:
        text = self("image", "inspect", "--format", "{{range .RepoDigests}}{{.}} {{end}}",
                    ref).stdout
        return text.split()

    def build(self, context: Path, tag: str) -> str:
        """`docker build` (classic builder); the image ID."""
        self("build", "-q", "-t", tag, str(context))
        return self.image_id(tag)

    def push(self, ref: str) -> str:
        """`docker push`; the manifest digest docker reports."""
        return pushed_digest(output(self("push", ref)))

    def remove(self, *refs: str) -> None:
        self("image", "rm", "--force", *refs)

    def has_image(self, ref: str) -> bool:
        return self("image", "inspect", ref, check=False).returncode == 0


def pushed_digest(text: str) -> str:
    """The digest in `docker push` output (`v1: digest: sha256:... size: N`)."""
    for line in text.splitlines():
        if "digest: sha256:" in line:
            return line.split("digest: ", 1)[1].split()[0]
    raise AssertionError(f"no digest in docker push output:\n{text}")


def start_dockerd(base: Path) -> tuple[subprocess.Popen, Docker]:
    """dockerd with vfs storage, no networking set-up, and every path under ``base`` (keep it short:
    unix socket paths are limited to 108 bytes)."""
    require("dockerd", "apt-get install docker.io")
    require("docker", "apt-get install docker.io")
    root, exec_root, config = base / "root", base / "x", base / "cfg"
    for path in (root, exec_root, config):
        path.mkdir(parents=True, exist_ok=True)
    sock = base / "d.sock"
    log = open(base / "dockerd.log", "wb")
    proc = subprocess.Popen(
        ["dockerd", "--storage-driver=vfs", "--iptables=false", "--ip6tables=false",
         "--bridge=none", "--data-root", str(root), "--exec-root", str(exec_root),
         "--pidfile", str(base / "dockerd.pid"), "--host", f"unix://{sock}"],
        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    docker = Docker(sock, exec_root, config)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"dockerd exited with {proc.returncode}:\n"
                               f"{(base / 'dockerd.log').read_text(errors='replace')[-4000:]}")
        if sock.exists() and docker("version", check=False, timeout=20).returncode == 0:
            return proc, docker
        time.sleep(0.3)
    stop_dockerd(proc, docker)
    raise RuntimeError("dockerd did not answer `docker version` within 60 s:\n"
                       f"{(base / 'dockerd.log').read_text(errors='replace')[-4000:]}")


def stop_dockerd(proc: subprocess.Popen, docker: Docker) -> None:
    containerd_pid = docker.exec_root / "containerd" / "containerd.pid"
    child = None
    if containerd_pid.exists():
        try:
            child = int(containerd_pid.read_text().strip())
        except ValueError:
            child = None
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)
    if child is not None:
        # dockerd stops the containerd it started; make sure, by its pid (never by name).
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                os.kill(child, 0)
            except ProcessLookupError:
                break
            time.sleep(0.2)
        else:
            try:
                os.kill(child, signal.SIGKILL)
            except ProcessLookupError:
                pass


# --- podman / skopeo -----------------------------------------------------------------------------
@dataclass
class Podman:
    """podman with its own storage root; several instances stand for several machines."""

    base: Path

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_",))}
        env["REGISTRY_AUTH_FILE"] = str(self.base / "auth.json")
        env["TMPDIR"] = str(self.base / "tmp")
        return env

    def __call__(self, *args: str, check: bool = True, input: str | None = None,
                 timeout: float = 300) -> subprocess.CompletedProcess[str]:
        (self.base / "tmp").mkdir(parents=True, exist_ok=True)
        cmd = [require("podman", "apt-get install podman"),
               "--root", str(self.base / "root"), "--runroot", str(self.base / "run"),
               "--tmpdir", str(self.base / "libpod"), "--storage-driver", "vfs",
               "--events-backend", "none", "--cgroup-manager", "cgroupfs", *args]
        return run(cmd, self.env(), check=check, input=input, timeout=timeout)


POLICY = '{"default": [{"type": "insecureAcceptAnything"}]}'


def skopeo(*args: str, check: bool = True, timeout: float = 300,
           ) -> subprocess.CompletedProcess[str]:
    """skopeo with an accept-anything signature policy of its own (not /etc/containers')."""
    binary = require("skopeo", "apt-get install skopeo")
    policy = Path(tempfile.gettempdir()) / "dockyard-e2e-policy.json"
    if not policy.exists():
        policy.write_text(POLICY)
    return run([binary, "--policy", str(policy), *args],
               {k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
               check=check, timeout=timeout)


def skopeo_push(layout: Layout, image: BuiltImage, host: str, repo: str, creds: str) -> str | None:
    """`skopeo copy` of an image of ``layout`` to ``host/repo:<its ref>``: None once pushed, else
    what went wrong (for tests that gather failures from several threads)."""
    result = skopeo("copy", "--dest-tls-verify=false", "--dest-creds", creds,
                    f"oci:{layout.path}:{image.ref}", f"docker://{host}/{repo}:{image.ref}",
                    check=False)
    if result.returncode == 0:
        return None
    return f"push {repo}:{image.ref} failed:\n{result.stderr[-2000:]}"


def verify_pulls(host: str, creds: str, images: dict[tuple[str, str], BuiltImage],
                 folder: Path) -> None:
    """Every image, keyed by (repository, manifest digest), pulls completely from ``host`` with
    skopeo (into ``folder``), byte for byte."""
    for n, ((repo, digest), image) in enumerate(sorted(images.items())):
        target = folder / str(n)
        target.parent.mkdir(parents=True, exist_ok=True)
        skopeo("copy", "--src-tls-verify=false", "--src-creds", creds,
               f"docker://{host}/{repo}@{digest}", f"dir:{target}")
        assert (target / "manifest.json").read_bytes() == image.manifest
        for blob_digest, data in image.blobs.items():
            pulled = (target / blob_digest.split(":", 1)[1]).read_bytes()
            assert sha256(pulled) == blob_digest and pulled == data
