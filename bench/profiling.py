"""Profiles of Dockyard's hot paths with py-spy, summarised as the functions that take the time.

``py-spy record --format raw`` samples each worker process (not the supervisor) while a workload runs;
the collapsed stacks are summarised as self time (the frame on top of the stack) and inclusive time
(stacks a function appears in). Samples are taken with ``--idle`` so that time blocked in system
calls (fsync, file reads, SQLite locks) counts, and then the samples of an event loop or thread
pool waiting for work are dropped: the shares are of the time a worker spent busy or blocked.
"""

from __future__ import annotations

import collections
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^():]*)(?::\d+)?\)$")


def py_spy() -> str | None:
    return shutil.which("py-spy")


def record(pids: list[int], out: Path, workload: Callable[[], object], rate: int = 200) -> Path:
    """Run ``workload`` while one py-spy per worker process samples it; the merged raw stacks."""
    binary = py_spy()
    if binary is None:
        raise RuntimeError("py-spy not found (pip install py-spy)")
    parts = [out.with_suffix(f".{pid}.txt") for pid in pids]
    procs = [subprocess.Popen([binary, "record", "--pid", str(pid), "--rate", str(rate), "--idle",
                               "--format", "raw", "--output", str(part)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
             for pid, part in zip(pids, parts)]
    time.sleep(1.5)  # let them attach
    errors = []
    try:
        workload()
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGINT)
        for proc in procs:
            _, err = proc.communicate(timeout=60)
            errors.append(err.decode(errors="replace")[-300:])
    with open(out, "w") as merged:
        for part in parts:
            if part.exists():
                merged.write(part.read_text(errors="replace"))
                part.unlink()
    if out.stat().st_size == 0:
        raise RuntimeError(f"py-spy wrote no profile: {' | '.join(errors)}")
    return out


_IDLE_LEAVES = {("select", "selectors.py"), ("poll", "selectors.py"), ("wait", "threading.py"),
                ("get", "queue.py"), ("_worker", "concurrent/futures/thread.py")}


def _idle(frames: list[tuple[str, str]]) -> bool:
    func, file = frames[-1]
    return (func.rsplit(".", 1)[-1], file) in _IDLE_LEAVES


def _frames(stack: str) -> list[tuple[str, str]]:
    frames = []
    for frame in stack.split(";"):
        if frame.startswith(("process ", "thread ")):
            continue
        match = _FRAME.match(frame)
        if match is None:
            frames.append((frame, ""))
        else:
            frames.append((match["func"], _short(match["file"])))
    return frames


def _short(path: str) -> str:
    for marker in ("site-packages/", "/src/", "lib/python3.11/"):
        if marker in path:
            path = path.split(marker, 1)[1]
    return path


def _group(file: str) -> str:
    if file.startswith("dockyard/"):
        return "dockyard." + file.split("/")[1].removesuffix(".py")
    top = file.split("/")[0].removesuffix(".py")
    return top or "?"


def summarise(raw: Path, top: int = 15) -> str:
    """A markdown summary: share of samples by package, top self-time and inclusive functions."""
    self_time: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    groups: collections.Counter[str] = collections.Counter()
    total = idle = 0
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = _frames(stack)
        if not frames:
            continue
        if _idle(frames):
            idle += count
            continue
        total += count
        leaf_func, leaf_file = frames[-1]
        self_time[f"{leaf_func} ({leaf_file})"] += count
        groups[_group(leaf_file)] += count
        for name in {f"{f} ({p})" for f, p in frames}:
            inclusive[name] += count
    if total == 0:
        return "_no Python samples_\n"

    def pct(n: int) -> str:
        return f"{100 * n / total:.1f}%"

    lines = [f"{total} samples of busy or blocked worker threads ({idle} idle samples dropped).", "",
             "Self time by package: " + ", ".join(f"{g} {pct(n)}" for g, n in groups.most_common(10)),
             "", "| self | function |", "|---:|---|"]
    lines += [f"| {pct(n)} | `{name}` |" for name, n in self_time.most_common(top)]
    lines += ["", "| inclusive | function (Dockyard, Starlette, SQLAlchemy frames) |", "|---:|---|"]
    shown = 0
    for name, n in inclusive.most_common():
        if any(k in name for k in ("dockyard/", "starlette/", "sqlalchemy/")):
            lines.append(f"| {pct(n)} | `{name}` |")
            shown += 1
            if shown >= top + 5:
                break
    return "\n".join(lines) + "\n"
