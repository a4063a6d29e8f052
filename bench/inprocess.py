"""Dockyard's own cost per request on its hot paths, in process: no network, no server, no client.

    python bench/inprocess.py                    # manifest HEAD/GET, blob HEAD, 4 KiB push, manifest PUT
    python bench/inprocess.py --requests 5000
    python bench/inprocess.py --profile "manifest PUT"   # cProfile of one case (thread work inline)
    PYTHONPATH=/tmp/dy/src python bench/inprocess.py     # another tree's src/ (e.g. `git archive <commit> src`)

Each case calls the ASGI app directly (an embedded registry in a temporary directory, real SQLite
and files) and reports wall time and process CPU time per request. It isolates what Dockyard's
code costs from what the HTTP server, the client and the machine's other load add, so two commits
can be compared run after run on a busy machine; `bench/run.py` measures the whole thing.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import cProfile
import json
import os
import pstats
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from dockyard.app import bootstrap, create_app
from dockyard.domain.digest import Digest
from dockyard.registry.images import Reference
from dockyard.settings import Settings

KEY, SECRET = "AKIADOCKYARDINPROC01", "inprocessBenchSecret/0123456789abcdefghi"
REPO = "bench/app"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
ACCEPT = (b"application/vnd.oci.image.manifest.v1+json, "
          b"application/vnd.docker.distribution.manifest.v2+json, "
          b"application/vnd.oci.image.index.v1+json")


class Registry:
    """An embedded registry with one image tagged ``latest``, and a way to call it."""

    def __init__(self, data_dir: Path) -> None:
        settings = Settings(data_dir=data_dir, admin_access_key_id=KEY,
                            admin_secret_access_key=SECRET)
        bootstrap(settings)
        self.app = create_app(settings)
        services = self.app.services
        identity = services.identity
        key = identity.store.access_key(KEY)
        principal = identity.store.principal(key.principal_id)
        password = identity.password(identity.issue_password(principal, KEY))
        admin = identity.authenticate_password(password)
        self.auth = b"Basic " + base64.b64encode(f"AWS:{password}".encode())
        services.repositories.create(admin, REPO)
        config, self.layer = b'{"architecture":"amd64","os":"linux"}', b"layer" * 100
        for blob in (config, self.layer):
            asyncio.run(services.uploads.put_small(admin, REPO, Digest.of(blob), blob))
        self.manifest = json.dumps({
            "schemaVersion": 2, "mediaType": OCI_MANIFEST,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                       "digest": str(Digest.of(config)), "size": len(config)},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                        "digest": str(Digest.of(self.layer)), "size": len(self.layer)}]}).encode()
        services.images.put(admin, REPO, Reference.parse("latest"), self.manifest, OCI_MANIFEST)

    async def call(self, method: str, path: str, query: str = "", body: bytes = b"",
                   content_type: bytes | None = None) -> tuple[int, dict[bytes, bytes]]:
        headers = [(b"host", b"127.0.0.1:5000"), (b"authorization", self.auth),
                   (b"accept", ACCEPT), (b"content-length", str(len(body)).encode())]
        if content_type:
            headers.append((b"content-type", content_type))
        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
                 "method": method, "scheme": "http", "path": path, "raw_path": path.encode(),
                 "query_string": query.encode(), "root_path": "", "headers": headers,
                 "client": ("127.0.0.1", 40000), "server": ("127.0.0.1", 5000)}
        response: dict[str, Any] = {}

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                response["status"] = message["status"]
                response["headers"] = dict(message["headers"])

        await self.app(scope, receive, send)
        return response["status"], response["headers"]

    async def expect(self, status: int, *args: Any, **kwargs: Any) -> dict[bytes, bytes]:
        got, headers = await self.call(*args, **kwargs)
        if got != status:
            raise SystemExit(f"{args[:2]} answered {got}, expected {status}")
        return headers

    # --- the cases -----------------------------------------------------------------------------
    async def manifest_head(self, i: int) -> None:
        await self.expect(200, "HEAD", f"/v2/{REPO}/manifests/latest")

    async def manifest_get(self, i: int) -> None:
        await self.expect(200, "GET", f"/v2/{REPO}/manifests/latest")

    async def blob_head(self, i: int) -> None:
        await self.expect(200, "HEAD", f"/v2/{REPO}/blobs/{Digest.of(self.layer)}")

    async def small_push(self, i: int) -> None:
        data = os.urandom(4096)
        headers = await self.expect(202, "POST", f"/v2/{REPO}/blobs/uploads/")
        path, _, query = headers[b"location"].decode().partition("?")
        query = (query + "&" if query else "") + f"digest={Digest.of(data)}"
        await self.expect(201, "PUT", path, query, data, b"application/octet-stream")

    async def manifest_put(self, i: int) -> None:
        document = json.loads(self.manifest)
        document["annotations"] = {"n": f"{i}-{time.time()}"}
        await self.expect(201, "PUT", f"/v2/{REPO}/manifests/t{i}", "",
                          json.dumps(document).encode(), OCI_MANIFEST.encode())


CASES: dict[str, tuple[str, int]] = {  # name: (method, share of --requests)
    "manifest HEAD": ("manifest_head", 1), "manifest GET": ("manifest_get", 1),
    "blob HEAD": ("blob_head", 1), "4 KiB push (POST + PUT)": ("small_push", 10),
    "manifest PUT": ("manifest_put", 10),
}


async def measure(case: Callable[[int], Awaitable[None]], count: int) -> tuple[float, float]:
    """(wall, CPU) microseconds per request."""
    await case(-1)  # warm up
    wall, cpu = time.perf_counter(), time.process_time()
    for i in range(count):
        await case(i)
    return ((time.perf_counter() - wall) / count * 1e6,
            (time.process_time() - cpu) / count * 1e6)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--requests", type=int, default=3000,
                   help="requests per read case (writes: a tenth)")
    p.add_argument("--profile", choices=sorted(CASES), help="profile one case with cProfile")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        registry = Registry(Path(tmp))
        if args.profile:
            async def inline(fn: Callable[..., Any], *a: Any, **k: Any) -> Any:
                return fn(*a, **k)
            asyncio.to_thread = inline  # type: ignore[assignment]  # profile the thread work too
            method, share = CASES[args.profile]
            profile = cProfile.Profile()
            profile.enable()
            asyncio.run(measure(getattr(registry, method), max(1, args.requests // share)))
            profile.disable()
            pstats.Stats(profile).sort_stats("cumulative").print_stats(50)
            return
        print(f"{'case':<26} {'wall µs':>9} {'CPU µs':>9}")
        for name, (method, share) in CASES.items():
            wall, cpu = asyncio.run(measure(getattr(registry, method), max(1, args.requests // share)))
            print(f"{name:<26} {wall:>9.0f} {cpu:>9.0f}")


if __name__ == "__main__":
    sys.exit(main())
