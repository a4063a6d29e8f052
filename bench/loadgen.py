"""Request-rate load generators: ``wrk`` (GET) and ``ab`` (HEAD, keep-alive), with their output parsed."""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass


@dataclass
class RateResult:
    requests_per_second: float
    completed: int
    errors: int          # non-2xx responses plus socket errors/failed requests
    latency_p50_ms: float | None = None
    latency_p99_ms: float | None = None
    raw: str = ""

    def error_summary(self) -> str:
        return f"{self.errors} of {self.completed} requests failed (non-2xx or socket errors)"


def _ms(value: str) -> float:
    match = re.match(r"([\d.]+)(us|ms|s)", value)
    if not match:
        return float("nan")
    number, unit = float(match[1]), match[2]
    return number / 1000 if unit == "us" else number * 1000 if unit == "s" else number


def require(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        raise RuntimeError(f"{tool} not found: apt-get install -y wrk apache2-utils")
    return path


def wrk(url: str, headers: dict[str, str], connections: int, seconds: float,
        threads: int = 2) -> RateResult:
    argv = [require("wrk"), f"-t{min(threads, connections)}", f"-c{connections}", f"-d{max(1, round(seconds))}s",
            "--latency", "--timeout", "10s"]
    for key, value in headers.items():
        argv += ["-H", f"{key}: {value}"]
    argv.append(url)
    out = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60).stdout
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if rps is None:
        raise RuntimeError(f"wrk gave no result:\n{out}")
    completed = re.search(r"(\d+) requests in", out)
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    errors = (int(non2xx[1]) if non2xx else 0) + (sum(int(g) for g in sock.groups()) if sock else 0)
    p50 = re.search(r"^\s+50%\s+(\S+)", out, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)", out, re.M)
    return RateResult(float(rps[1]), int(completed[1]) if completed else 0, errors,
                      _ms(p50[1]) if p50 else None, _ms(p99[1]) if p99 else None, out)


def ab_head(url: str, headers: dict[str, str], connections: int, requests: int,
            max_seconds: float) -> RateResult:
    """``ab -k -i``: keep-alive HEAD requests; stops at ``requests`` or after ``max_seconds``."""
    argv = [require("ab"), "-k", "-i", "-q", "-c", str(connections), "-t", str(max(1, round(max_seconds))),
            "-n", str(requests), "-s", "10"]
    for key, value in headers.items():
        argv += ["-H", f"{key}: {value}"]
    argv.append(url)
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=max_seconds + 60)
    out = proc.stdout
    rps = re.search(r"Requests per second:\s+([\d.]+)", out)
    if rps is None:
        raise RuntimeError(f"ab gave no result (exit {proc.returncode}):\n{out}\n{proc.stderr}")
    completed = re.search(r"Complete requests:\s+(\d+)", out)
    failed = re.search(r"Failed requests:\s+(\d+)", out)
    non2xx = re.search(r"Non-2xx responses:\s+(\d+)", out)
    p50 = re.search(r"^\s+50%\s+(\d+)", out, re.M)
    p99 = re.search(r"^\s+99%\s+(\d+)", out, re.M)
    errors = (int(failed[1]) if failed else 0) + (int(non2xx[1]) if non2xx else 0)
    return RateResult(float(rps[1]), int(completed[1]) if completed else 0, errors,
                      float(p50[1]) if p50 else None, float(p99[1]) if p99 else None, out)
