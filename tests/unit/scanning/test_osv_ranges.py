"""OSV range semantics: introduced / fixed / last_affected / limit, several ranges, versions lists."""

from __future__ import annotations

import pytest

from dockyard.scanning.osv_ranges import evaluate


def rng(*events: tuple[str, str], kind: str = "ECOSYSTEM") -> dict:
    return {"type": kind, "events": [{k: v} for k, v in events]}


def hit(ecosystem: str, version: str, *ranges: dict, versions: tuple[str, ...] = ()) -> bool:
    return evaluate(ecosystem, version, list(ranges), versions).affected


@pytest.mark.parametrize(("version", "expected"), [
    ("0.0.1", True), ("2.10", True), ("2.10.0", True), ("2.10.1", False), ("3.0", False)])
def test_introduced_zero_to_fixed(version: str, expected: bool) -> None:
    assert hit("PyPI", version, rng(("introduced", "0"), ("fixed", "2.10.1"))) is expected


@pytest.mark.parametrize(("version", "expected"), [
    ("0.9", False), ("1.0", True), ("1.5", True), ("1.5.1", False), ("2.0", False)])
def test_last_affected_is_inclusive(version: str, expected: bool) -> None:
    assert hit("PyPI", version, rng(("introduced", "1.0"), ("last_affected", "1.5"))) is expected


@pytest.mark.parametrize(("version", "expected"), [
    ("0.9.0", False), ("1.0.0", True), ("1.1.9", True), ("1.2.0", False), ("1.9.0", False),
    ("2.0.0", True), ("2.1.0", False), ("3.0.0", True), ("99.0.0", True)])
def test_several_intervals_in_one_range_in_any_event_order(version: str, expected: bool) -> None:
    # events are sorted by version before the walk, whatever their order in the record
    r = rng(("introduced", "3.0.0"), ("fixed", "2.1.0"), ("introduced", "1.0.0"),
            ("introduced", "2.0.0"), ("fixed", "1.2.0"), kind="SEMVER")
    assert hit("Go", version, r) is expected


@pytest.mark.parametrize(("version", "expected"), [
    ("1.0.0", True), ("1.4.9", True), ("1.5.0", False), ("2.0.0", False)])
def test_limit_bounds_a_range_from_above(version: str, expected: bool) -> None:
    r = rng(("introduced", "0"), ("limit", "1.5.0"), kind="SEMVER")
    assert hit("Go", version, r) is expected


def test_limit_star_means_no_bound() -> None:
    assert hit("Go", "9.9.9", rng(("introduced", "0"), ("limit", "*"), kind="SEMVER"))


def test_introduced_and_fixed_at_the_same_version_is_an_empty_range() -> None:
    assert not hit("npm", "1.0.0", rng(("introduced", "1.0.0"), ("fixed", "1.0.0")))


def test_a_range_without_fix_covers_everything_from_introduced() -> None:
    assert hit("npm", "100.0.0", rng(("introduced", "1.0.0")))
    assert not hit("npm", "0.9.9", rng(("introduced", "1.0.0")))


def test_any_of_several_ranges() -> None:
    zero_x = rng(("introduced", "0"), ("fixed", "0.2.4"))
    one_x = rng(("introduced", "1.0.0"), ("fixed", "1.2.6"))
    assert hit("npm", "0.2.3", zero_x, one_x)
    assert hit("npm", "1.2.5", zero_x, one_x)
    assert not hit("npm", "0.2.4", zero_x, one_x)
    assert not hit("npm", "1.2.6", zero_x, one_x)


def test_explicit_versions_list_only() -> None:
    listed = ("1.2.9", "1.3.9", "2.3.9")  # GHSA-g2q5-5433-rhrf (rc, malware)
    assert hit("npm", "1.2.9", versions=listed)
    assert not hit("npm", "1.2.8", versions=listed)
    assert not hit("npm", "2.3.10", versions=listed)


def test_versions_list_compares_versions_not_strings() -> None:
    assert hit("PyPI", "2.10.0", versions=("2.10",))
    assert not hit("PyPI", "2.1", versions=("2.10",))


def test_git_ranges_are_skipped() -> None:
    git = {"type": "GIT", "repo": "https://example.invalid/x", "events": [{"introduced": "0"}]}
    assert not hit("PyPI", "1.0", git)


def test_a_range_with_unreadable_events_is_skipped_not_guessed() -> None:
    bad = rng(("introduced", "0"), ("fixed", "not-a-version!!"))
    assert not hit("PyPI", "1.0", bad)
    assert hit("PyPI", "1.0", bad, versions=("1.0",))


def test_fixed_version_reported_is_the_first_fix_above() -> None:
    r = rng(("introduced", "0"), ("fixed", "1.2.6"), ("introduced", "2.0.0"), ("fixed", "2.3.1"),
            kind="SEMVER")
    assert evaluate("Go", "2.1.0", [r]).fixed == "2.3.1"
    assert evaluate("Go", "1.0.0", [r]).fixed == "1.2.6"
    assert evaluate("Go", "1.5.0", [r]).fixed is None
    assert evaluate("Go", "1.0.0", [rng(("introduced", "0"), ("last_affected", "1.5"),
                                        kind="SEMVER")]).fixed is None


def test_debian_and_alpine_and_rpm_ranges_use_their_ordering() -> None:
    deb = rng(("introduced", "0"), ("fixed", "2.36-9+deb12u4"))
    assert hit("Debian:12", "2.36-9+deb12u3", deb)
    assert hit("Debian:12", "2.36-9", deb)
    assert not hit("Debian:12", "2.36-9+deb12u10", deb)  # u10 > u4, not a string compare
    apk = rng(("introduced", "0"), ("fixed", "1.36.1-r29"))
    assert hit("Alpine:v3.20", "1.36.1-r5", apk)
    assert not hit("Alpine:v3.20", "1.36.1-r30", apk)
    rpm = rng(("introduced", "0"), ("fixed", "1:3.0.7-25.el9"))
    assert hit("Rocky Linux:9", "1:3.0.7-24.el9", rpm)
    assert hit("Rocky Linux:9", "3.0.9-1.el9", rpm)  # epoch 0 < epoch 1
    assert not hit("Rocky Linux:9", "1:3.0.7-25.el9", rpm)
