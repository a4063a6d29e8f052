"""The results table: absolute numbers, Dockyard against Distribution (and nginx), and the targets."""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from bench.measure import Samples


@dataclass(frozen=True)
class Row:
    key: str
    title: str
    unit: str
    higher_is_better: bool = True
    target: tuple[str, float] | None = None   # ("ratio", 2.0) | ("nginx", 0.95) | ("max", 50.0)


ROWS = [
    Row("upload_mono", "{big} upload, monolithic (POST + PUT)", "MiB/s", target=("ratio", 2.0)),
    Row("upload_chunked", "{big} upload, {chunk} chunks (POST, PATCH×{nchunks}, PUT)", "MiB/s",
        target=("ratio", 2.0)),
    Row("download_1", "{big} download, 1 client", "MiB/s", target=("nginx", 0.95)),
    Row("download_8", "{big} download, {dc} concurrent clients", "MiB/s", target=("nginx", 0.95)),
    Row("push_small_1", "4 KiB blob push (POST + PUT), 1 client", "blobs/s", target=("ratio", 3.0)),
    Row("push_small_c", "4 KiB blob push (POST + PUT), {c} clients", "blobs/s", target=("ratio", 3.0)),
    Row("manifest_put_1", "manifest PUT (unique, by tag), 1 client", "ops/s", target=("ratio", 3.0)),
    Row("manifest_put_c", "manifest PUT (unique, by tag), {c} clients", "ops/s", target=("ratio", 3.0)),
    Row("manifest_get", "manifest GET by tag, wrk 32 connections", "req/s", target=("ratio", 5.0)),
    Row("manifest_head", "manifest HEAD by tag, ab -k 32 connections", "req/s", target=("ratio", 5.0)),
    Row("tags_push", "tag PUT while setting up the tag list, 4 clients (setup)", "tags/s"),
    Row("tags_full", "GET tags/list, {tags} tags, full listing", "ms", higher_is_better=False),
    Row("tags_paged", "GET tags/list, {tags} tags, n=1000 pages (whole walk)", "ms",
        higher_is_better=False),
    Row("pull_seq", "{layers}-layer pull ({layer_mib} MiB layers), sequential", "ms",
        higher_is_better=False),
    Row("pull_par", "{layers}-layer pull ({layer_mib} MiB layers), 3 parallel", "ms",
        higher_is_better=False),
    Row("mem_upload", "RSS rise during a {mem} upload (POST, streamed PATCH, PUT)", "MiB",
        higher_is_better=False, target=("max", 50.0)),
    Row("mem_download", "RSS rise during a {mem} download", "MiB", higher_is_better=False,
        target=("max", 50.0)),
]


def _fmt(value: float) -> str:
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def median(samples: Samples, server: str) -> float | None:
    values = samples.values.get(server)
    return statistics.median(values) if values else None


def _cell(samples: Samples | None, server: str) -> str:
    if samples is None:
        return "–"
    if server in samples.errors:
        return "**error**"
    value = median(samples, server)
    if value is None:
        return "n/a"
    return _fmt(value)


def _advantage(row: Row, mine: float | None, theirs: float | None) -> float | None:
    """How many times better Dockyard is (> 1 means better), whatever the unit's direction."""
    if mine is None or theirs is None or mine <= 0 or theirs <= 0:
        return None
    return mine / theirs if row.higher_is_better else theirs / mine


def _target_text(row: Row) -> str:
    if row.target is None:
        return "–"
    kind, value = row.target
    if kind == "ratio":
        return f"≥ {value:g}× Distribution"
    if kind == "nginx":
        return f"≥ {value:.0%} of nginx"
    return f"rise ≤ {value:g} MiB"


def _met(row: Row, samples: Samples, server: str, distribution: str, nginx: str) -> str:
    if row.target is None:
        return "–"
    kind, goal = row.target
    if server in samples.errors:
        return "error"
    mine = median(samples, server)
    if mine is None:
        return "n/a"
    if kind == "max":
        return f"yes ({_fmt(mine)} MiB)" if mine <= goal else f"**no** ({_fmt(mine)} MiB, {_fmt(mine - goal)} over)"
    if kind == "nginx":
        ref = median(samples, nginx)
        if ref is None:
            return "n/a"
        share = mine / ref
        return f"yes ({share:.0%})" if share >= goal else f"**no** ({share:.0%})"
    ratio = _advantage(row, mine, median(samples, distribution))
    if ratio is None:
        return "n/a"
    return f"yes ({ratio:.2f}×)" if ratio >= goal else f"**no** ({ratio:.2f}×, {ratio / goal:.0%} of target)"


def table(results: dict[str, Samples], dockyards: list[str], distribution: str, nginx: str,
          params: dict[str, object]) -> str:
    head = ["Benchmark", "Unit", *dockyards, distribution, nginx,
            *[f"{d} ÷ Distribution" for d in dockyards], "Target",
            *[f"Met: {d}" for d in dockyards]]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * 2 + "---:|" * (len(dockyards) + 2 + len(dockyards)) + "---|" * (1 + len(dockyards))]
    for row in ROWS:
        samples = results.get(row.key)
        if samples is None:
            continue
        title = row.title.format(**params)
        cells = [title, row.unit + ("" if row.higher_is_better else " (lower is better)")]
        cells += [_cell(samples, d) for d in dockyards]
        cells.append(_cell(samples, distribution))
        cells.append(_cell(samples, nginx) if nginx in samples.values or nginx in samples.errors else "–")
        for d in dockyards:
            # A rise of a fraction of a MiB against another is noise, not a ratio worth printing.
            absolute = row.target is not None and row.target[0] == "max"
            adv = None if absolute else _advantage(row, median(samples, d), median(samples, distribution))
            cells.append(f"{adv:.2f}×" if adv is not None else "–")
        cells.append(_target_text(row))
        cells += [_met(row, samples, d, distribution, nginx) for d in dockyards]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def details(results: dict[str, Samples], params: dict[str, object]) -> str:
    """Every sample, the free-form details, and every error, per benchmark and server."""
    out = []
    for row in ROWS:
        samples = results.get(row.key)
        if samples is None:
            continue
        out.append(f"- **{row.title.format(**params)}**")
        for server in sorted(set(samples.values) | set(samples.errors) | set(samples.details)):
            values = ", ".join(_fmt(v) for v in samples.values.get(server, []))
            extra = samples.details.get(server)
            text = f"  - {server}: [{values}] {row.unit}" + (f"; {extra}" if extra else "")
            if server in samples.errors:
                text += f"\n    - ERROR: `{samples.errors[server]}`"
            out.append(text)
    return "\n".join(out) + "\n"


def errors(results: dict[str, Samples], params: dict[str, object]) -> list[str]:
    found = []
    for row in ROWS:
        samples = results.get(row.key)
        if samples is not None:
            for server, message in samples.errors.items():
                found.append(f"{row.title.format(**params)} — {server}: {message}")
    return found
