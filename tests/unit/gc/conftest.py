from __future__ import annotations

import pytest

from .registry import Registry


@pytest.fixture
def registry(tmp_path) -> Registry:
    reg = Registry(tmp_path / "data")
    reg.create("team/app")
    return reg
