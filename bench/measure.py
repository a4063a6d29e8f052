"""The measurements. Each takes the registries under test and returns, per server name, a list of
samples (one per repetition) or the error that stopped it. Repetitions are interleaved across
servers so that background load on the machine spreads over all of them alike.
"""

from __future__ import annotations

import json
import os
import queue
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from bench.client import (
    MANIFEST_ACCEPT,
    BlobData,
    Client,
    MiB,
    image_config,
    image_manifest,
    sha256_digest,
    unique_token,
)
from bench.loadgen import ab_head, wrk
from bench.servers import Server, create_repository, process_tree, rss_bytes


@dataclass
class Samples:
    """Per server: the samples, an error message, and free-form details."""

    values: dict[str, list[float]] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    details: dict[str, str] = field(default_factory=dict)

    def add(self, server: str, value: float) -> None:
        self.values.setdefault(server, []).append(value)

    def failed(self, server: str) -> bool:
        return server in self.errors


def client_for(server: Server) -> Client:
    return Client(server.name, server.host, server.port, server.auth_header)


def interleaved(servers: list[Server], reps: int, samples: Samples,
                once: Callable[[Server, int], float | None]) -> Samples:
    for rep in range(reps):
        for server in servers:
            if samples.failed(server.name):
                continue
            try:
                value = once(server, rep)
            except Exception as exc:  # noqa: BLE001 - recorded and reported, never hidden
                samples.errors[server.name] = describe_failure(server, exc)
                continue
            if value is not None:
                samples.add(server.name, value)
    return samples


def describe_failure(server: Server, exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}"
    if server.process is not None and server.process.poll() is not None:
        text += (f" [the server process had exited with status {server.process.returncode}; "
                 f"see its log tail]")
    return text


def run_threads(count: int, work: Callable[[int], None]) -> float:
    """Run ``work(i)`` on ``count`` threads released together; wall time in seconds."""
    barrier = threading.Barrier(count + 1)
    failures: list[BaseException] = []

    def body(i: int) -> None:
        try:
            barrier.wait()
            work(i)
        except BaseException as exc:  # noqa: BLE001
            failures.append(exc)

    threads = [threading.Thread(target=body, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    barrier.wait()
    start = time.perf_counter()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    if failures:
        raise failures[0]
    return elapsed


# --- big blobs ------------------------------------------------------------------------------------
def upload_monolithic(servers: list[Server], size: int, reps: int) -> Samples:
    def once(server: Server, rep: int) -> float:
        data = BlobData(size, unique_token(f"mono-{server.port}-{rep}"))
        digest = data.digest
        client = client_for(server)
        try:
            start = time.perf_counter()
            client.push_monolithic("bench/big", digest, data.chunks(), size)
            return size / MiB / (time.perf_counter() - start)
        finally:
            client.close()
    return interleaved(servers, reps, Samples(), once)


def upload_chunked(servers: list[Server], size: int, chunk: int, reps: int) -> Samples:
    def once(server: Server, rep: int) -> float:
        data = BlobData(size, unique_token(f"chunked-{server.port}-{rep}"), chunk=chunk)
        _ = data.digest
        client = client_for(server)
        try:
            start = time.perf_counter()
            client.push_chunked("bench/big", data)
            return size / MiB / (time.perf_counter() - start)
        finally:
            client.close()
    return interleaved(servers, reps, Samples(), once)


def prepare_download(servers: list[Server], nginx: Server, size: int) -> tuple[dict[str, str], Samples]:
    """Push one blob of ``size`` bytes to every registry and write it for nginx.

    Returns the path to GET per server, and the setup errors of the servers that failed."""
    data = BlobData(size, unique_token("download"))
    paths: dict[str, str] = {}
    failed = Samples()
    with open(nginx.workdir / "www" / "blob.bin", "wb") as f:
        for chunk in data.chunks():
            f.write(chunk)
    paths[nginx.name] = "/blob.bin"
    for server in servers:
        client = client_for(server)
        try:
            client.push_monolithic("bench/big", data.digest, data.chunks(), size)
            paths[server.name] = f"/v2/bench/big/blobs/{data.digest}"
        except Exception as exc:  # noqa: BLE001
            failed.errors[server.name] = "setup: " + describe_failure(server, exc)
        finally:
            client.close()
    for server in [*servers, nginx]:
        if server.name in paths:
            client = client_for(server)
            try:
                client.get_path(paths[server.name], verify_digest=data.digest)  # correct and warm
            except Exception as exc:  # noqa: BLE001
                failed.errors[server.name] = "verification GET: " + describe_failure(server, exc)
                del paths[server.name]
            finally:
                client.close()
    return paths, failed


def download(targets: list[Server], paths: dict[str, str], size: int, clients: int,
             reps: int, samples: Samples) -> Samples:
    def once(server: Server, rep: int) -> float:
        path = paths[server.name]
        conns = [client_for(server) for _ in range(clients)]
        try:
            for c in conns:
                c.conn.connect()

            def work(i: int) -> None:
                got = conns[i].get_path(path)
                if got != size:
                    raise RuntimeError(f"{server.name}: GET {path} returned {got} of {size} bytes")

            elapsed = run_threads(clients, work)
            if any(c.redirects for c in conns):
                samples.details[server.name] = ("every GET answered 307 to a presigned S3 URL, "
                                                "followed; timed from the GET to the last byte")
            return clients * size / MiB / elapsed
        finally:
            for c in conns:
                c.close()
    return interleaved([s for s in targets if s.name in paths], reps, samples, once)


# --- small blobs and manifests --------------------------------------------------------------------
def small_pushes(servers: list[Server], count: int, blob_size: int, clients: int,
                 reps: int) -> Samples:
    def once(server: Server, rep: int) -> float:
        blobs = [os.urandom(blob_size) for _ in range(count)]
        digests = [sha256_digest(b) for b in blobs]
        conns = [client_for(server) for _ in range(clients)]
        try:
            for c in conns:  # warm-up: connection and first-request costs, not measured
                for _ in range(5):
                    warm = os.urandom(blob_size)
                    c.push_monolithic("bench/small", sha256_digest(warm), warm, blob_size)

            def work(i: int) -> None:
                for k in range(i, count, clients):
                    conns[i].push_monolithic("bench/small", digests[k], blobs[k], blob_size)

            return count / run_threads(clients, work)
        finally:
            for c in conns:
                c.close()
    return interleaved(servers, reps, Samples(), once)


@dataclass
class BaseImage:
    config: tuple[str, int]
    layers: list[tuple[str, int]]


def push_base_image(server: Server, repo: str, layer_count: int = 1,
                    layer_size: int = 4096) -> BaseImage:
    client = client_for(server)
    try:
        layers = []
        for i in range(layer_count):
            data = BlobData(layer_size, unique_token(f"layer-{i}"))
            client.push_monolithic(repo, data.digest, data.chunks(), layer_size)
            layers.append((data.digest, layer_size))
        config = image_config([d for d, _ in layers])
        client.push_monolithic(repo, sha256_digest(config), config, len(config))
        return BaseImage((sha256_digest(config), len(config)), layers)
    finally:
        client.close()


def manifest_puts(servers: list[Server], images: dict[str, BaseImage], count: int, clients: int,
                  reps: int) -> Samples:
    def once(server: Server, rep: int) -> float:
        image = images[server.name]
        nonce = os.urandom(4).hex()
        bodies = [image_manifest(image.config, image.layers,
                                 {"org.opencontainers.image.revision": f"{nonce}-{rep}-{k}"})
                  for k in range(count)]
        conns = [client_for(server) for _ in range(clients)]
        try:
            for i, c in enumerate(conns):
                c.put_manifest("bench/manifests", f"warm-{nonce}-{i}",
                               image_manifest(image.config, image.layers, {"warm": f"{nonce}-{i}"}))

            def work(i: int) -> None:
                for k in range(i, count, clients):
                    conns[i].put_manifest("bench/manifests", f"m-{nonce}-{k}", bodies[k])

            return count / run_threads(clients, work)
        finally:
            for c in conns:
                c.close()
    return interleaved(servers, reps, Samples(), once)


def manifest_get_wrk(servers: list[Server], connections: int, seconds: float, reps: int) -> Samples:
    samples = Samples()

    def once(server: Server, rep: int) -> float:
        headers = {**server.headers(), "Accept": MANIFEST_ACCEPT}
        result = wrk(f"{server.url}/v2/bench/manifests/manifests/latest", headers, connections, seconds)
        if result.errors:
            raise RuntimeError(f"wrk GET /v2/bench/manifests/manifests/latest: {result.error_summary()}")
        samples.details[server.name] = f"p50 {result.latency_p50_ms:.2f} ms, p99 {result.latency_p99_ms:.2f} ms"
        return result.requests_per_second
    return interleaved(servers, reps, samples, once)


def manifest_head_ab(servers: list[Server], connections: int, requests: int, seconds: float,
                     reps: int) -> Samples:
    samples = Samples()

    def once(server: Server, rep: int) -> float:
        headers = {**server.headers(), "Accept": MANIFEST_ACCEPT}
        result = ab_head(f"{server.url}/v2/bench/manifests/manifests/latest", headers, connections, requests,
                         seconds)
        if result.errors:
            raise RuntimeError(f"ab -i HEAD /v2/bench/manifests/manifests/latest: {result.error_summary()}")
        samples.details[server.name] = f"{result.completed} requests, p50 {result.latency_p50_ms:.0f} ms"
        return result.requests_per_second
    return interleaved(servers, reps, samples, once)


# --- tags -----------------------------------------------------------------------------------------
def push_tags(servers: list[Server], images: dict[str, BaseImage], count: int,
              clients: int = 4) -> Samples:
    """Setup for the listing: ``count`` tags on one manifest (reported as tags/s, for information)."""
    def once(server: Server, rep: int) -> float:
        image = images[server.name]
        body = image_manifest(image.config, image.layers)
        conns = [client_for(server) for _ in range(clients)]
        try:
            def work(i: int) -> None:
                for k in range(i, count, clients):
                    conns[i].put_manifest("bench/tags", f"t{k:06d}", body)
            return count / run_threads(clients, work)
        finally:
            for c in conns:
                c.close()
    return interleaved(servers, 1, Samples(), once)


def list_tags_full(servers: list[Server], count: int, reps: int) -> Samples:
    samples = Samples()

    def once(server: Server, rep: int) -> float:
        client = client_for(server)
        try:
            start = time.perf_counter()
            doc, _ = client.get_json("/v2/bench/tags/tags/list")
            elapsed = time.perf_counter() - start
        finally:
            client.close()
        got = len(doc.get("tags") or [])
        if got != count:
            raise RuntimeError(f"GET /v2/bench/tags/tags/list returned {got} tags, expected {count}")
        return elapsed * 1000
    return interleaved(servers, reps, samples, once)


def list_tags_paged(servers: list[Server], count: int, page: int, reps: int) -> Samples:
    samples = Samples()

    def once(server: Server, rep: int) -> float | None:
        client = client_for(server)
        seen: list[str] = []
        pages = 0
        path: str | None = f"/v2/bench/tags/tags/list?n={page}"
        try:
            start = time.perf_counter()
            while path:
                doc, link = client.get_json(path)
                pages += 1
                tags = doc.get("tags") or []
                seen += tags
                if len(tags) > page:
                    samples.details[server.name] = (
                        f"ignores n={page}: the first page held {len(tags)} tags (no pagination)")
                    return None
                path = link.split(";")[0].strip().strip("<>") if link else None
                if pages > count // page + 5:
                    raise RuntimeError(f"pagination did not end after {pages} pages")
            elapsed = time.perf_counter() - start
        finally:
            client.close()
        if len(seen) != count or len(set(seen)) != count:
            raise RuntimeError(f"paginated walk with n={page} returned {len(seen)} tags "
                               f"({len(set(seen))} distinct) in {pages} pages, expected {count}")
        samples.details[server.name] = f"{pages} pages"
        return elapsed * 1000
    return interleaved(servers, reps, samples, once)


# --- pulls ----------------------------------------------------------------------------------------
def pull(servers: list[Server], parallel: int, reps: int) -> Samples:
    """Manifest GET by tag, then its layers: one after another, or ``parallel`` at a time."""
    samples = Samples()

    def once(server: Server, rep: int) -> float:
        conns = [client_for(server) for _ in range(parallel)]
        try:
            start = time.perf_counter()
            manifest = json.loads(conns[0].get_manifest("bench/pull", "v1"))
            layers = [layer["digest"] for layer in manifest["layers"]]
            if parallel == 1:
                for digest in layers:
                    conns[0].get_blob("bench/pull", digest)
            else:
                todo: queue.SimpleQueue[str] = queue.SimpleQueue()
                for digest in layers:
                    todo.put(digest)
                errors: list[BaseException] = []

                def worker(c: Client) -> None:
                    try:
                        while True:
                            try:
                                digest = todo.get_nowait()
                            except queue.Empty:
                                return
                            c.get_blob("bench/pull", digest)
                    except BaseException as exc:  # noqa: BLE001
                        errors.append(exc)

                threads = [threading.Thread(target=worker, args=(c,)) for c in conns]
                for t in threads:
                    t.start()
                for t in threads:
                    t.join()
                if errors:
                    raise errors[0]
            return (time.perf_counter() - start) * 1000
        finally:
            for c in conns:
                c.close()
    return interleaved(servers, reps, samples, once)


# --- memory ---------------------------------------------------------------------------------------
class RssSampler:
    """Samples the summed RSS of a process tree (or of the processes ``pids()`` lists) every
    ``interval`` seconds on a thread."""

    def __init__(self, root_pid: int | None = None, interval: float = 0.02,
                 pids: Callable[[], list[int]] | None = None) -> None:
        self.root_pid, self.interval = root_pid, interval
        self._pids = pids or (lambda: process_tree(self.root_pid))
        self.peak = 0
        self.samples: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        pids, refreshed = self._pids(), time.monotonic()
        while not self._stop.is_set():
            if time.monotonic() - refreshed > 1.0:
                pids, refreshed = self._pids(), time.monotonic()
            rss = rss_bytes(pids)
            self.samples.append(rss)
            self.peak = max(self.peak, rss)
            self._stop.wait(self.interval)

    def __enter__(self) -> "RssSampler":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def idle_rss(server: Server, seconds: float = 1.0) -> int:
    """The process tree's RSS at rest (median over ``seconds``)."""
    with RssSampler(server.process.pid) as sampler:
        time.sleep(seconds)
    return int(statistics.median(sampler.samples))


class _EngineRss:
    """The RSS of the engines a server stores into (PostgreSQL, Ceph), when it has any
    (``server.extra["engine_pids"]``): idle just before, peak during."""

    def __init__(self, server: Server) -> None:
        self.pids = server.extra.get("engine_pids")
        self.idle = 0
        self.sampler: RssSampler | None = None

    def __enter__(self) -> "_EngineRss":
        if self.pids is not None:
            with RssSampler(pids=self.pids) as idle:
                time.sleep(0.5)
            self.idle = int(statistics.median(idle.samples))
            self.sampler = RssSampler(pids=self.pids).__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.sampler is not None:
            self.sampler.__exit__(*exc)

    def text(self) -> str:
        if self.sampler is None:
            return ""
        peak = self.sampler.peak
        return (f"; engines (PostgreSQL + Ceph mon, OSD, RGW): idle {self.idle / MiB:.0f} MiB, "
                f"peak {peak / MiB:.0f} MiB (+{(peak - self.idle) / MiB:.0f})")


def memory(servers: list[Server], size: int) -> tuple[Samples, Samples]:
    """Peak RSS rise of each server's process tree during a streamed upload and a download (and,
    in the details, of the engines a scale-out Dockyard stores into)."""
    up, down = Samples(), Samples()
    for server in servers:
        data = BlobData(size, unique_token(f"memory-{server.port}"))
        _ = data.digest
        client = client_for(server)
        try:
            idle = idle_rss(server)
            with _EngineRss(server) as engines, RssSampler(server.process.pid) as sampler:
                start = time.perf_counter()
                client.push_streamed("bench/mem", data)
                seconds = time.perf_counter() - start
            up.add(server.name, (sampler.peak - idle) / MiB)
            up.details[server.name] = (f"idle {idle / MiB:.0f} MiB, peak {sampler.peak / MiB:.0f} MiB; "
                                       f"{size / MiB / seconds:.0f} MiB/s" + engines.text())
        except Exception as exc:  # noqa: BLE001
            up.errors[server.name] = describe_failure(server, exc)
            client.close()
            continue
        try:
            idle = idle_rss(server)
            with _EngineRss(server) as engines, RssSampler(server.process.pid) as sampler:
                start = time.perf_counter()
                got = client.get_blob("bench/mem", data.digest)
                seconds = time.perf_counter() - start
            if got != size:
                raise RuntimeError(f"download returned {got} of {size} bytes")
            down.add(server.name, (sampler.peak - idle) / MiB)
            down.details[server.name] = (f"idle {idle / MiB:.0f} MiB, peak {sampler.peak / MiB:.0f} MiB; "
                                         f"{size / MiB / seconds:.0f} MiB/s"
                                         + (" (307 to S3: the bytes do not pass through Dockyard)"
                                            if client.redirects else "") + engines.text())
        except Exception as exc:  # noqa: BLE001
            down.errors[server.name] = describe_failure(server, exc)
        finally:
            client.close()
    return up, down


def prepare_repositories(servers: list[Server], names: list[str]) -> None:
    for server in servers:
        for name in names:
            create_repository(server, name)
