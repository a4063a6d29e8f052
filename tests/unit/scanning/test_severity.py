"""ECR severity from CVSS vectors (v3.x / v4 / v2), else the advisory's own word, else UNDEFINED."""

from __future__ import annotations

import pytest

from dockyard.scanning import severity


@pytest.mark.parametrize(("vector", "score", "level"), [
    ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8, "CRITICAL"),
    ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H", 7.5, "HIGH"),
    ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:L", 5.3, "MEDIUM"),
    ("CVSS:3.1/AV:L/AC:H/PR:H/UI:R/S:U/C:L/I:N/A:N", 1.8, "LOW"),
    ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N", 0.0, "INFORMATIONAL"),
    ("CVSS:3.0/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N", 6.1, "MEDIUM"),
])
def test_cvss_v3(vector: str, score: float, level: str) -> None:
    got, scores = severity.of_record({"severity": [{"type": "CVSS_V3", "score": vector}]})
    assert (got, scores[0].score) == (level, score)


def test_cvss_v4() -> None:
    vector = "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"
    got, scores = severity.of_record({"severity": [{"type": "CVSS_V4", "score": vector}]})
    assert (got, scores[0].score, scores[0].version) == ("CRITICAL", 9.3, "4.0")


def test_v3_is_preferred_over_v4_and_v2() -> None:
    record = {"severity": [
        {"type": "CVSS_V2", "score": "AV:N/AC:L/Au:N/C:C/I:C/A:C"},
        {"type": "CVSS_V4", "score": "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"},
        {"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:L"},
    ]}
    got, scores = severity.of_record(record)
    assert got == "MEDIUM"
    assert [s.version[0] for s in scores] == ["3", "4", "2"]


def test_cvss_v2_alone() -> None:
    got, scores = severity.of_record({"severity": [{"type": "CVSS_V2",
                                                    "score": "AV:N/AC:L/Au:N/C:P/I:P/A:P"}]})
    assert (got, scores[0].score) == ("HIGH", 7.5)


@pytest.mark.parametrize(("word", "level"), [
    ("CRITICAL", "CRITICAL"), ("HIGH", "HIGH"), ("MODERATE", "MEDIUM"), ("moderate", "MEDIUM"),
    ("LOW", "LOW")])
def test_ghsa_database_specific_severity(word: str, level: str) -> None:
    assert severity.of_record({"database_specific": {"severity": word}}) == (level, [])


def test_an_unreadable_vector_falls_back_to_the_advisory_word() -> None:
    record = {"severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:X"}],
              "database_specific": {"severity": "HIGH"}}
    assert severity.of_record(record) == ("HIGH", [])


def test_ubuntu_priority_and_debian_urgency() -> None:
    assert severity.of_record({"severity": [{"type": "Ubuntu", "score": "negligible"}]})[0] == \
        "INFORMATIONAL"
    assert severity.of_affected({"ecosystem_specific": {"urgency": "unimportant"}}) == "INFORMATIONAL"
    assert severity.of_affected({"ecosystem_specific": {"urgency": "high"}}) == "HIGH"
    assert severity.of_affected({"ecosystem_specific": {"urgency": "not yet assigned"}}) is None


def test_nothing_known_is_undefined() -> None:
    assert severity.of_record({"id": "GO-2020-0001"}) == ("UNDEFINED", [])
