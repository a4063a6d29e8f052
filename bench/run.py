"""Dockyard against CNCF Distribution (and nginx sendfile for downloads), side by side on this machine.

    python bench/run.py                 # full run (what `make bench` does); 10-20 minutes on 2 cores
    python bench/run.py --quick         # smoke run with small sizes, ~2 minutes
    python bench/run.py --workers 2,1   # also measure a one-worker Dockyard
    python bench/run.py --profile       # also profile Dockyard's hot paths with py-spy
    python bench/run.py --scale-out     # also Dockyard on PostgreSQL + S3 (Ceph RGW), another column

Results go to stdout and to bench/results/latest.md (plus latest.json with every sample).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import measure, profiling, report  # noqa: E402
from bench.client import MiB, image_manifest  # noqa: E402
from bench.measure import Samples  # noqa: E402
from bench.scaleout import CONFIGS, Engines  # noqa: E402
from bench.servers import Server, start_distribution, start_dockyard, start_nginx  # noqa: E402

GROUPS = ("upload", "download", "small", "manifest", "rate", "tags", "pull", "memory")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="small sizes and one repetition (smoke run)")
    p.add_argument("--workers", default="2", help="Dockyard worker counts, comma-separated (default 2)")
    p.add_argument("--configs", default="embedded",
                   help=f"Dockyard configurations, comma-separated: {','.join(CONFIGS)} (default embedded); "
                        "each runs with every --workers count")
    p.add_argument("--scale-out", action="store_true",
                   help="add the pg-s3 configuration: Dockyard on a throwaway PostgreSQL 15 and a single-node "
                        "Ceph RGW (S3), blob GETs redirected to S3 (the default); same as --configs embedded,pg-s3")
    p.add_argument("--ceph-store", default="bluestore", choices=("bluestore", "memstore"),
                   help="the Ceph OSD's object store for the pg-s3 configurations (default bluestore: on disk)")
    p.add_argument("--rgw-beast-options", default="tcp_nodelay=1", metavar="OPTIONS",
                   help="options of RGW's beast frontend (default tcp_nodelay=1; '' for stock RGW, whose "
                        "Nagle delays every S3 response with a small body by ~40 ms)")
    p.add_argument("--only", default=",".join(GROUPS), help=f"benchmark groups to run: {','.join(GROUPS)}")
    p.add_argument("--reps", type=int, help="repetitions of each measurement (default 3; quick 1)")
    p.add_argument("--big-mib", type=int, help="big blob size in MiB (default 256; quick 32)")
    p.add_argument("--chunk-mib", type=int, help="chunk size of the chunked upload (default 16; quick 4)")
    p.add_argument("--small-count", type=int, help="4 KiB blobs per repetition (default 1000; quick 200)")
    p.add_argument("--manifest-count", type=int, help="manifests per repetition (default 1000; quick 200)")
    p.add_argument("--clients", type=int, default=4, help="concurrent clients for small pushes and manifest PUTs")
    p.add_argument("--download-clients", type=int, default=8, help="concurrent download clients")
    p.add_argument("--seconds", type=float, help="duration of each wrk/ab run (default 10; quick 3)")
    p.add_argument("--ab-requests", type=int, default=200_000, help="ab -n (capped by --seconds)")
    p.add_argument("--connections", type=int, default=32, help="wrk/ab connections")
    p.add_argument("--tags", type=int, help="tags to list (default 10000; quick 1000)")
    p.add_argument("--layers", type=int, default=10, help="layers of the pulled image")
    p.add_argument("--layer-mib", type=int, help="layer size in MiB (default 4; quick 1)")
    p.add_argument("--mem-mib", type=int, help="memory test blob size in MiB (default 2048; quick 256)")
    p.add_argument("--profile", action="store_true", help="profile Dockyard with py-spy (needs py-spy)")
    p.add_argument("--profile-seconds", type=float, default=10.0, help="duration of each profiled workload")
    p.add_argument("--nginx-workers", type=int, default=2, help="nginx worker_processes")
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "results", help="results directory")
    p.add_argument("--dockyard-src", type=Path,
                   help="run Dockyard from this checkout's src/ (e.g. an exported commit) instead of the installed one")
    p.add_argument("--wait-quiet", type=float, default=0, metavar="SECONDS",
                   help="first wait up to SECONDS for the machine to be under 25%% busy (shared machines)")
    p.add_argument("--keep", action="store_true", help="keep the servers' temporary directories")
    args = p.parse_args(argv)
    quick = args.quick
    defaults = {"reps": (3, 1), "big_mib": (256, 32), "chunk_mib": (16, 4), "small_count": (1000, 200),
                "manifest_count": (1000, 200), "seconds": (10.0, 3.0), "tags": (10_000, 1000),
                "layer_mib": (4, 1), "mem_mib": (2048, 256)}
    for name, (full, small) in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, small if quick else full)
    args.workers = [int(w) for w in str(args.workers).split(",") if w]
    args.configs = [c for c in args.configs.split(",") if c]
    if args.scale_out and "pg-s3" not in args.configs:
        args.configs.append("pg-s3")
    unknown = set(args.configs) - set(CONFIGS)
    if unknown or not args.configs:
        p.error(f"unknown configurations: {', '.join(sorted(unknown))} (available: {', '.join(CONFIGS)})")
    args.only = [g for g in args.only.split(",") if g]
    unknown = set(args.only) - set(GROUPS)
    if unknown:
        p.error(f"unknown groups: {', '.join(sorted(unknown))}")
    return args


def cpu_busy(seconds: float = 2.0) -> float:
    """Share of the machine's CPU time that was busy over ``seconds`` (everything, not just us)."""
    def snapshot() -> tuple[int, int]:
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
        idle = fields[3] + fields[4]
        return sum(fields), idle
    total0, idle0 = snapshot()
    time.sleep(seconds)
    total1, idle1 = snapshot()
    return 1 - (idle1 - idle0) / max(1, total1 - total0)


def machine() -> dict[str, str]:
    model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem_kib = int(f.readline().split()[1])

    def version(argv: list[str]) -> str:
        try:
            out = subprocess.run(argv, capture_output=True, text=True, timeout=10)
            return (out.stdout + out.stderr).strip().splitlines()[0]
        except (OSError, IndexError, subprocess.TimeoutExpired):
            return "?"

    import granian
    return {
        "cpu": f"{os.cpu_count()} × {model}",
        "memory": f"{mem_kib / 1024 / 1024:.1f} GiB",
        "kernel": platform.release(),
        "python": platform.python_version(),
        "granian": granian.__version__,
        "distribution": version(["docker-registry", "--version"]),
        "nginx": version(["nginx", "-v"]),
        "wrk": version(["wrk", "--version"]),
        "ab": version(["ab", "-V"]),
        "dockyard commit": dockyard_source(),
    }


def dockyard_source(source: Path | None = None) -> str:
    tree = source or ROOT
    try:
        head = subprocess.run(["git", "-C", str(tree), "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(tree), "status", "--porcelain", "src"], capture_output=True,
                               text=True, timeout=10).stdout.strip()
        return f"commit {head}" + (" with uncommitted changes in src/" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return f"source tree {tree}"


def run(args: argparse.Namespace, dockyards: list[Server], distribution: Server,
        nginx: Server) -> tuple[dict[str, Samples], dict[str, str]]:
    registries = [*dockyards, distribution]
    results: dict[str, Samples] = {}
    profiles: dict[str, str] = {}
    reps, big = args.reps, args.big_mib * MiB

    def step(title: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {title} (load {os.getloadavg()[0]:.2f})", file=sys.stderr, flush=True)

    measure.prepare_repositories(dockyards, ["bench/big", "bench/small", "bench/manifests",
                                             "bench/tags", "bench/pull", "bench/mem"])
    if "upload" in args.only:
        step("uploads")
        results["upload_mono"] = measure.upload_monolithic(registries, big, reps)
        results["upload_chunked"] = measure.upload_chunked(registries, big, args.chunk_mib * MiB, reps)
    if "download" in args.only:
        step("downloads")
        paths, failed = measure.prepare_download(registries, nginx, big)
        targets = [*registries, nginx]
        results["download_1"] = measure.download(targets, paths, big, 1, reps,
                                                 Samples(errors=dict(failed.errors)))
        results["download_8"] = measure.download(targets, paths, big, args.download_clients, reps,
                                                 Samples(errors=dict(failed.errors)))
    if "small" in args.only:
        step("4 KiB pushes")
        results["push_small_1"] = measure.small_pushes(registries, args.small_count, 4096, 1, reps)
        results["push_small_c"] = measure.small_pushes(registries, args.small_count, 4096, args.clients, reps)
    images: dict[str, measure.BaseImage] = {}
    tag_images: dict[str, measure.BaseImage] = {}
    setup_errors: dict[str, str] = {}
    if {"manifest", "rate", "tags"} & set(args.only):
        for server in registries:
            try:
                image = images[server.name] = measure.push_base_image(server, "bench/manifests")
                tag_images[server.name] = measure.push_base_image(server, "bench/tags")
                client = measure.client_for(server)
                client.put_manifest("bench/manifests", "latest", image_manifest(image.config, image.layers))
                client.close()
            except Exception as exc:  # noqa: BLE001
                setup_errors[server.name] = f"setup (push a base image and tag it latest): {exc}"
    ready = [s for s in registries if s.name not in setup_errors]

    def with_setup_errors(samples: Samples) -> Samples:
        samples.errors.update(setup_errors)
        return samples
    if "manifest" in args.only:
        step("manifest PUTs")
        results["manifest_put_1"] = with_setup_errors(
            measure.manifest_puts(ready, images, args.manifest_count, 1, reps))
        results["manifest_put_c"] = with_setup_errors(
            measure.manifest_puts(ready, images, args.manifest_count, args.clients, reps))
    if "rate" in args.only:
        rate_reps = max(1, min(reps, 2))
        step("manifest GET (wrk)")
        results["manifest_get"] = with_setup_errors(
            measure.manifest_get_wrk(ready, args.connections, args.seconds, rate_reps))
        step("manifest HEAD (ab)")
        results["manifest_head"] = with_setup_errors(
            measure.manifest_head_ab(ready, args.connections, args.ab_requests, args.seconds, rate_reps))
    if "tags" in args.only:
        step(f"pushing {args.tags} tags")
        results["tags_push"] = with_setup_errors(measure.push_tags(ready, tag_images, args.tags))
        listable = [s for s in ready if not results["tags_push"].failed(s.name)]
        step("listing tags")
        results["tags_full"] = measure.list_tags_full(listable, args.tags, max(reps, 5))
        results["tags_paged"] = measure.list_tags_paged(listable, args.tags, 1000, max(reps, 5))
    if "pull" in args.only:
        step("pulls")
        ok = []
        for server in registries:
            try:
                image = measure.push_base_image(server, "bench/pull", args.layers, args.layer_mib * MiB)
                client = measure.client_for(server)
                client.put_manifest("bench/pull", "v1", image_manifest(image.config, image.layers))
                client.close()
                ok.append(server)
            except Exception as exc:  # noqa: BLE001
                for key in ("pull_seq", "pull_par"):
                    results.setdefault(key, Samples()).errors[server.name] = f"setup: {exc}"
        results["pull_seq"] = measure.pull(ok, 1, max(reps, 5))
        results["pull_par"] = measure.pull(ok, 3, max(reps, 5))
    if "memory" in args.only:
        step(f"memory during {args.mem_mib} MiB transfers")
        results["mem_upload"], results["mem_download"] = measure.memory(registries, args.mem_mib * MiB)
    if args.profile:
        profiles = profile(args, dockyards[0], images.get(dockyards[0].name), step)
    return results, profiles


def profile(args: argparse.Namespace, server: Server, image: measure.BaseImage | None,
            step) -> dict[str, str]:  # type: ignore[no-untyped-def]
    if profiling.py_spy() is None:
        return {"(skipped)": "py-spy is not installed: `pip install py-spy`"}
    from bench.client import MANIFEST_ACCEPT
    from bench.loadgen import ab_head, wrk

    headers = {**server.headers(), "Accept": MANIFEST_ACCEPT}
    url = f"{server.url}/v2/bench/manifests/manifests/latest"
    seconds = args.profile_seconds
    rate = 50  # operations per batch; batches repeat until the time is up

    def pushes() -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            measure.small_pushes([server], rate, 4096, 1, 1)

    def puts() -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and image is not None:
            measure.manifest_puts([server], {server.name: image}, rate, 1, 1)

    workloads = {
        "manifest HEAD (ab -k -c 32)": lambda: ab_head(url, headers, args.connections, 10**7, seconds),
        "manifest GET (wrk -c 32)": lambda: wrk(url, headers, args.connections, seconds),
        "4 KiB blob pushes (1 client)": pushes,
        "manifest PUT (1 client)": puts,
    }
    out: dict[str, str] = {}
    args.out.mkdir(parents=True, exist_ok=True)
    for title, workload in workloads.items():
        step(f"profiling {title}")
        slug = "".join(c if c.isalnum() else "-" for c in title.split("(")[0].strip().lower())
        raw = args.out / f"profile-{slug}.txt"
        try:
            workers = [pid for pid in server.pids() if pid != server.process.pid]
            profiling.record(workers or [server.process.pid], raw, workload)
            out[title] = profiling.summarise(raw) + f"\nRaw collapsed stacks: `{raw.relative_to(ROOT) if raw.is_relative_to(ROOT) else raw}`\n"
        except Exception as exc:  # noqa: BLE001
            out[title] = f"profiling failed: {type(exc).__name__}: {exc}\n"
    return out


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    info = machine()
    if args.dockyard_src is not None:
        info["dockyard commit"] = dockyard_source(args.dockyard_src)
    step_start = time.monotonic()
    busy_before = cpu_busy()
    deadline = time.monotonic() + args.wait_quiet
    while busy_before > 0.25 and time.monotonic() < deadline:
        print(f"machine is {busy_before:.0%} busy; waiting for it to quieten", file=sys.stderr, flush=True)
        time.sleep(10)
        busy_before = cpu_busy()
    started = datetime.now(timezone.utc)
    root = Path(tempfile.mkdtemp(prefix="dockyard-bench-"))
    servers: list[Server] = []
    engines: Engines | None = None
    try:
        if any(c != "embedded" for c in args.configs):
            print("starting PostgreSQL and Ceph RGW", file=sys.stderr, flush=True)
            try:
                engines = Engines(args.ceph_store, args.rgw_beast_options).start()
            except (RuntimeError, OSError, subprocess.CalledProcessError) as exc:
                detail = getattr(exc, "stderr", "") or ""
                print(f"the scale-out engines did not start: {exc}\n{detail}", file=sys.stderr)
                _cleanup(args, root)
                return 2
            info.update(engines.describe())
        dockyards = []
        for config in args.configs:
            label, overrides = CONFIGS[config]
            for workers in args.workers:
                try:
                    settings = overrides
                    if config != "embedded":  # a database and a bucket of its own
                        assert engines is not None
                        settings = engines.dockyard_env(overrides)
                    server = start_dockyard(root, workers, args.dockyard_src, label, settings)
                except (RuntimeError, subprocess.CalledProcessError) as exc:
                    print(f"{label} ({workers}w) did not start: {exc}", file=sys.stderr)
                    for started_server in servers:
                        started_server.stop()
                    if engines is not None:
                        engines.stop()
                    _cleanup(args, root)
                    return 2
                if config != "embedded":
                    assert engines is not None
                    server.extra["config"] = config
                    server.extra["engine_pids"] = engines.pids
                servers.append(server)
                dockyards.append(server)
        distribution = start_distribution(root)
        servers.append(distribution)
        nginx = start_nginx(root, args.nginx_workers)
        servers.append(nginx)
        results, profiles = run(args, dockyards, distribution, nginx)
        for server in dockyards:
            if server.process.poll() is not None:
                print(f"{server.name} exited with {server.process.returncode}:\n{server.log_tail()}",
                      file=sys.stderr)
        logs = {s.name: s.log_tail(30) for s in dockyards}
    except BaseException:
        _cleanup(args, root)
        raise
    finally:
        for server in servers:
            server.stop()
        if engines is not None:
            engines.stop()
    try:
        return _report(args, argv, info, started, step_start, busy_before, results, profiles, logs,
                       dockyards, distribution, nginx)
    finally:
        _cleanup(args, root)


def _cleanup(args: argparse.Namespace, root: Path) -> None:
    if args.keep:
        print(f"kept {root}", file=sys.stderr)
    else:
        shutil.rmtree(root, ignore_errors=True)


def _report(args, argv, info, started, step_start, busy_before, results, profiles, logs,  # type: ignore[no-untyped-def]
            dockyards, distribution, nginx) -> int:
    busy_after = cpu_busy()
    elapsed = time.monotonic() - step_start
    params = {"big": f"{args.big_mib} MiB", "chunk": f"{args.chunk_mib} MiB",
              "nchunks": -(-args.big_mib // args.chunk_mib), "dc": args.download_clients, "c": args.clients, "tags": f"{args.tags:,}", "layers": args.layers,
              "layer_mib": args.layer_mib, "mem": f"{args.mem_mib / 1024:g} GiB" if args.mem_mib >= 1024 else f"{args.mem_mib} MiB"}
    names = [s.name for s in dockyards]
    md = [f"# Dockyard benchmark — {started:%Y-%m-%d %H:%M} UTC", "",
          f"Command: `python bench/run.py {' '.join(argv if argv is not None else sys.argv[1:])}`  ",
          f"Repetitions: {args.reps} (median shown; the wrk/ab rows use {max(1, min(args.reps, 2))}); "
          f"duration {elapsed / 60:.1f} min.  ",
          f"Machine: {info['cpu']}, {info['memory']} RAM, Linux {info['kernel']}, Python {info['python']}, "
          f"Granian {info['granian']}; {info['distribution']}; {info['nginx']} "
          f"({args.nginx_workers} workers, sendfile on).  ",
          f"Dockyard: {info['dockyard commit']}.  ",
          *([f"Scale-out engines, on the same machine: PostgreSQL {info['postgresql']}; "
             f"{info['ceph']}.  "] if "postgresql" in info else []),
          f"Background CPU load (whole machine, before our servers started / after they stopped): "
          f"{busy_before:.0%} / {busy_after:.0%}; load average now {os.getloadavg()[0]:.2f}.", "",
          "Ratios are \"times better\" (higher is better for Dockyard, whatever the unit's direction).", "",
          report.table(results, names, distribution.name, nginx.name, params), "",
          "## Every sample", "", report.details(results, params)]
    errors = report.errors(results, params)
    if errors:
        md += ["## Errors", ""] + [f"- {e}" for e in errors] + [""]
        for name, tail in logs.items():
            md += [f"### {name} log (tail)", "", "```", tail, "```", ""]
    if profiles:
        md += ["## Profiles (py-spy, " + names[0] + ")", ""]
        for title, text in profiles.items():
            md += [f"### {title}", "", text]
    text = "\n".join(md)
    print(text)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "latest.md").write_text(text)
    (args.out / "latest.json").write_text(json.dumps(
        {"started": started.isoformat(), "machine": info, "args": {k: str(v) for k, v in vars(args).items()},
         "results": {k: asdict(v) for k, v in results.items()}}, indent=1))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
