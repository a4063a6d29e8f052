"""Version ordering per ecosystem. Debian's is checked against dpkg itself where it is installed."""

from __future__ import annotations

import shutil
import subprocess
from itertools import pairwise

import pytest

from dockyard.scanning.versions import InvalidVersion, go_version, parse


def ordered(ecosystem: str, *texts: str) -> None:
    for low, high in pairwise(texts):
        assert parse(ecosystem, low) < parse(ecosystem, high), (ecosystem, low, high)
        assert not parse(ecosystem, high) < parse(ecosystem, low), (ecosystem, low, high)


def test_pep440_ordering_of_pypi() -> None:
    ordered("PyPI", "1.0.dev1", "1.0a1", "1.0b2", "1.0rc1", "1.0", "1.0.post1", "1.1", "2.9", "2.10",
            "2.10.1", "10.0")
    assert parse("PyPI", "2.10") == parse("PyPI", "2.10.0")
    assert parse("PyPI", "1.0RC1") == parse("PyPI", "1.0rc1")


def test_semver_precedence_for_npm_and_go() -> None:
    ordered("npm", "1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta",
            "1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "1.2.9", "1.2.10", "4.17.21")
    # Go: a leading v, pseudo-versions, +incompatible (build metadata has no precedence)
    ordered("Go", "v0.0.0-20190308221718-c2843e01d9a2", "0.3.5", "v0.3.7", "1.20.0-0", "1.20.0",
            "1.20.3")
    assert parse("Go", "v2.3.0+incompatible") == parse("Go", "2.3.0")


def test_semver_range_type_uses_semver_whatever_the_ecosystem() -> None:
    assert parse("PyPI", "1.0.0-rc.1", "SEMVER") < parse("PyPI", "1.0.0", "SEMVER")


DEBIAN = ["1:0.9", "0.9", "1.0~rc1", "1.0", "1.0-1", "1.0-1+deb12u1", "1.0-2", "1.0a", "1.0.1",
          "2.36-9+deb12u4", "2.36-9+deb12u10", "10.0~beta", "1:1.0"]


def test_debian_ordering_examples() -> None:
    ordered("Debian:12", "1.0~rc1", "1.0", "1.0-1", "1.0-1+deb12u1", "1.0-2", "1.0a", "1.0.1",
            "1:0.1")
    ordered("Ubuntu:22.04:LTS", "2.35-0ubuntu3", "2.35-0ubuntu3.1", "2.35-0ubuntu3.10")


@pytest.mark.skipif(shutil.which("dpkg") is None, reason="dpkg is not installed")
@pytest.mark.parametrize("low", DEBIAN)
def test_debian_ordering_agrees_with_dpkg(low: str) -> None:
    for high in DEBIAN:
        says_lt = subprocess.run(["dpkg", "--compare-versions", low, "lt", high]).returncode == 0
        assert (parse("Debian:12", low) < parse("Debian:12", high)) == says_lt, (low, high)


def test_alpine_apk_ordering() -> None:
    ordered("Alpine:v3.20", "1.2.3_alpha", "1.2.3_beta2", "1.2.3_pre1", "1.2.3_rc1", "1.2.3",
            "1.2.3-r1", "1.2.3-r10", "1.2.3_p1", "1.2.4", "1.10.0")
    ordered("Alpine:v3.20", "3.0.8-r0", "3.0.8-r3", "3.0.10-r0", "3.1.0-r0")


def test_rpm_ordering_with_epochs() -> None:
    ordered("Rocky Linux:9", "1.0-1.el9", "1.0-2.el9", "1.0a-1", "1.0.1-1.el9", "1:0.5-1.el9")
    ordered("AlmaLinux:8", "3.6.8-51.el8", "3.6.8-51.el8_8.1", "3.6.8-51.el8_8.2")
    assert parse("Rocky Linux:9", "0:1.0-1") == parse("Rocky Linux:9", "1.0-1")


def test_invalid_versions_are_rejected_not_guessed() -> None:
    with pytest.raises(InvalidVersion):
        parse("PyPI", "not a version!")
    with pytest.raises(InvalidVersion):
        parse("npm", "")
    with pytest.raises(InvalidVersion):
        parse("NoSuchEcosystem", "1.0")


def test_go_toolchain_versions_as_go_advisories_write_them() -> None:
    assert go_version("go1.19.8") == "1.19.8"
    assert go_version("go1.20") == "1.20.0"
    assert go_version("go1.21rc2") == "1.21.0-rc.2"
    assert go_version("go1.23.1 X:nocoverageredesign") == "1.23.1"
    assert go_version("devel go1.22-abcdef") is None
