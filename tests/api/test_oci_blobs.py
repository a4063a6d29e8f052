"""Blob GET/HEAD/DELETE: headers, bodies, Range requests, visibility per repository."""

from __future__ import annotations

import os

import pytest

from .conftest import Oci, assert_oci_error, sha256

DATA = bytes(range(256)) * 4 + b"tail-of-the-blob"  # 1040 bytes


@pytest.fixture
def blob(oci: Oci, repo: str) -> str:
    return oci.push_blob(repo, DATA)


def test_get_blob(oci: Oci, repo: str, blob: str) -> None:
    r = oci.get(f"/v2/{repo}/blobs/{blob}")
    assert r.status_code == 200
    assert r.content == DATA
    assert r.headers["Docker-Content-Digest"] == blob
    assert int(r.headers["Content-Length"]) == len(DATA)
    assert r.headers["Content-Type"] == "application/octet-stream"


def test_head_blob(oci: Oci, repo: str, blob: str) -> None:
    r = oci.head(f"/v2/{repo}/blobs/{blob}")
    assert r.status_code == 200
    assert r.content == b""
    assert r.headers["Docker-Content-Digest"] == blob
    assert int(r.headers["Content-Length"]) == len(DATA)


def test_empty_blob(oci: Oci, repo: str) -> None:
    digest = oci.push_blob(repo, b"")
    r = oci.get(f"/v2/{repo}/blobs/{digest}")
    assert r.status_code == 200
    assert r.content == b""
    assert oci.head(f"/v2/{repo}/blobs/{digest}").headers["Content-Length"] == "0"


@pytest.mark.parametrize("header,start,end", [
    ("bytes=0-9", 0, 9),
    ("bytes=10-", 10, len(DATA) - 1),
    ("bytes=-5", len(DATA) - 5, len(DATA) - 1),
    ("bytes=1000-5000", 1000, len(DATA) - 1),  # the end is clamped to the blob
    ("bytes=1039-1039", 1039, 1039),
    ("bytes=-5000", 0, len(DATA) - 1),  # a suffix longer than the blob is the whole blob
])
def test_range_requests(oci: Oci, repo: str, blob: str, header: str, start: int, end: int) -> None:
    r = oci.get(f"/v2/{repo}/blobs/{blob}", headers={"Range": header})
    assert r.status_code == 206, r.text
    assert r.content == DATA[start:end + 1]
    assert r.headers["Content-Range"] == f"bytes {start}-{end}/{len(DATA)}"
    assert int(r.headers["Content-Length"]) == end - start + 1
    assert r.headers["Docker-Content-Digest"] == blob


@pytest.mark.parametrize("header", ["bytes=1040-", "bytes=5000-6000", "bytes=-0"])
def test_unsatisfiable_range_is_416(oci: Oci, repo: str, blob: str, header: str) -> None:
    r = oci.get(f"/v2/{repo}/blobs/{blob}", headers={"Range": header})
    assert r.status_code == 416, r.text
    assert_oci_error(r, 416)


def test_unsatisfiable_range_reports_the_blob_length(oci: Oci, repo: str, blob: str) -> None:
    """RFC 9110 15.5.17: a 416 to a byte-range request SHOULD carry ``Content-Range: bytes */<len>``."""
    r = oci.get(f"/v2/{repo}/blobs/{blob}", headers={"Range": "bytes=5000-"})
    assert r.status_code == 416
    assert r.headers.get("Content-Range") == f"bytes */{len(DATA)}"


@pytest.mark.parametrize("header", ["bytes=abc", "bytes=", "bytes=-", "0-5", "bytes=x-5"])
def test_malformed_range_is_a_4xx_oci_error(oci: Oci, repo: str, blob: str, header: str) -> None:
    r = oci.get(f"/v2/{repo}/blobs/{blob}", headers={"Range": header})
    assert 400 <= r.status_code < 500, r.status_code
    assert_oci_error(r, r.status_code)


def test_range_on_head_is_harmless(oci: Oci, repo: str, blob: str) -> None:
    r = oci.head(f"/v2/{repo}/blobs/{blob}", headers={"Range": "bytes=0-9"})
    assert r.status_code in (200, 206)
    assert r.content == b""


def test_blob_of_another_repository_is_not_visible(oci: Oci, ecr, repo: str, blob: str) -> None:
    ecr.create_repository("team/other")
    assert_oci_error(oci.get(f"/v2/team/other/blobs/{blob}"), 404, "BLOB_UNKNOWN")
    r = oci.head(f"/v2/team/other/blobs/{blob}")
    assert r.status_code == 404
    assert r.content == b""
    assert_oci_error(oci.delete(f"/v2/team/other/blobs/{blob}"), 404, "BLOB_UNKNOWN")
    # and it is still there in its own repository
    assert oci.get(f"/v2/{repo}/blobs/{blob}").content == DATA


def test_unknown_blob(oci: Oci, repo: str) -> None:
    missing = sha256(b"never pushed")
    assert_oci_error(oci.get(f"/v2/{repo}/blobs/{missing}"), 404, "BLOB_UNKNOWN")
    assert oci.head(f"/v2/{repo}/blobs/{missing}").status_code == 404


def test_blob_in_unknown_repository_is_name_unknown(oci: Oci, blob: str) -> None:
    assert_oci_error(oci.get(f"/v2/nowhere/blobs/{blob}"), 404, "NAME_UNKNOWN")


@pytest.mark.parametrize("ref", ["latest", "sha256:abc", "sha256:" + "A" * 64, "md5:" + "0" * 32])
def test_blob_reference_must_be_a_digest(oci: Oci, repo: str, ref: str) -> None:
    assert_oci_error(oci.get(f"/v2/{repo}/blobs/{ref}"), 400, "DIGEST_INVALID")


def test_delete_blob(oci: Oci, repo: str, blob: str) -> None:
    r = oci.delete(f"/v2/{repo}/blobs/{blob}")
    assert r.status_code == 202, r.text
    assert oci.head(f"/v2/{repo}/blobs/{blob}").status_code == 404
    assert_oci_error(oci.get(f"/v2/{repo}/blobs/{blob}"), 404, "BLOB_UNKNOWN")
    assert_oci_error(oci.delete(f"/v2/{repo}/blobs/{blob}"), 404, "BLOB_UNKNOWN")


def test_delete_blob_in_one_repository_keeps_it_in_another(oci: Oci, ecr, repo: str, blob: str) -> None:
    ecr.create_repository("team/other")
    assert oci.post(f"/v2/team/other/blobs/uploads/?mount={blob}&from={repo}").status_code == 201
    assert oci.delete(f"/v2/{repo}/blobs/{blob}").status_code == 202
    assert oci.get(f"/v2/team/other/blobs/{blob}").content == DATA


def test_large_blob_round_trip(oci: Oci, repo: str) -> None:
    data = os.urandom(3 * 1024 * 1024 + 3)
    digest = oci.push_blob(repo, data)
    r = oci.get(f"/v2/{repo}/blobs/{digest}")
    assert r.content == data
    r = oci.get(f"/v2/{repo}/blobs/{digest}", headers={"Range": "bytes=1048576-2097151"})
    assert r.status_code == 206
    assert r.content == data[1048576:2097152]
