"""Byte counts as people read them."""

from __future__ import annotations


def human_bytes(size: int) -> str:
    """``1536`` → ``1.5 KiB``: binary units, one decimal, bytes as a whole number."""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{int(value)} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError
