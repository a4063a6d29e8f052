"""The "View push commands" text: what a user types to log in, build, tag and push, for this
Dockyard (its region, endpoint and host), with docker and with podman."""

from __future__ import annotations

import shlex
from dataclasses import dataclass

_LOOPBACK = ("127.", "localhost", "[::1]")


@dataclass(frozen=True, slots=True)
class Step:
    title: str
    command: str
    note: str = ""


@dataclass(frozen=True, slots=True)
class PushCommands:
    tool: str  # docker | podman
    steps: tuple[Step, ...]
    notes: tuple[str, ...] = ()


def _q(text: str) -> str:
    return shlex.quote(text)


def push_commands(*, repository: str, region: str, endpoint: str, host: str,
                  tag: str = "latest") -> tuple[PushCommands, PushCommands]:
    """(docker, podman) commands to push ``repository`` to the registry at ``endpoint``."""
    http = endpoint.startswith("http://")
    uri = f"{host}/{repository}"
    password = (f"aws ecr get-login-password --region {_q(region)} "
                f"--endpoint-url {_q(endpoint)}")
    docker_notes: list[str] = [
        f"The aws CLI needs the endpoint of this registry: pass --endpoint-url {endpoint} as "
        f"above, or export AWS_ENDPOINT_URL={endpoint} once for every aws command.",
    ]
    if http and not host.startswith(_LOOPBACK):
        docker_notes.append(
            f"This registry is served over plain HTTP: docker must list it as an insecure "
            f'registry ("insecure-registries": ["{host}"] in /etc/docker/daemon.json, then '
            f"restart dockerd).")
    docker = PushCommands("docker", (
        Step("Retrieve an authentication token and authenticate your Docker client to the "
             "registry", f"{password} | docker login --username AWS --password-stdin {_q(host)}"),
        Step("Build your Docker image (skip this step if your image is already built)",
             f"docker build -t {_q(repository)} ."),
        Step("Tag your image so you can push it to this repository",
             f"docker tag {_q(repository)}:{tag} {_q(uri)}:{tag}"),
        Step("Push the image to this repository", f"docker push {_q(uri)}:{tag}"),
    ), tuple(docker_notes))
    tls = " --tls-verify=false" if http else ""
    podman_notes = [docker_notes[0]]
    if http:
        podman_notes.append("This registry is served over plain HTTP, hence --tls-verify=false.")
    podman = PushCommands("podman", (
        Step("Retrieve an authentication token and authenticate podman to the registry",
             f"{password} | podman login --username AWS --password-stdin{tls} {_q(host)}"),
        Step("Build your image (skip this step if your image is already built)",
             f"podman build -t {_q(repository)} ."),
        Step("Tag your image so you can push it to this repository",
             f"podman tag {_q(repository)}:{tag} {_q(uri)}:{tag}"),
        Step("Push the image to this repository", f"podman push{tls} {_q(uri)}:{tag}"),
    ), tuple(podman_notes))
    return docker, podman
