"""Blob uploads: monolithic, POST+PUT, chunked PATCH, streamed PATCH, status, cancel, digests, mounts."""

from __future__ import annotations

import os
import uuid

import pytest

from .conftest import Oci, assert_oci_error, sha256, sha512, with_query

MIB = 1024 * 1024


def _assert_blob(oci: Oci, repo: str, digest: str, data: bytes) -> None:
    head = oci.head(f"/v2/{repo}/blobs/{digest}")
    assert head.status_code == 200, head.text
    assert head.headers["Docker-Content-Digest"] == digest
    assert int(head.headers["Content-Length"]) == len(data)
    got = oci.get(f"/v2/{repo}/blobs/{digest}")
    assert got.status_code == 200
    assert got.content == data
    assert got.headers["Docker-Content-Digest"] == digest


def _assert_absent(oci: Oci, repo: str, digest: str) -> None:
    assert oci.head(f"/v2/{repo}/blobs/{digest}").status_code == 404
    assert_oci_error(oci.get(f"/v2/{repo}/blobs/{digest}"), 404, "BLOB_UNKNOWN")


# --- monolithic ---------------------------------------------------------------------------------
@pytest.mark.parametrize("size", [0, 1, 1000, MIB, MIB + 1, 3 * MIB + 17])
def test_monolithic_post_with_digest(oci: Oci, repo: str, size: int) -> None:
    data = os.urandom(size)
    digest = sha256(data)
    r = oci.post(f"/v2/{repo}/blobs/uploads/?digest={digest}", content=data,
                 headers={"Content-Type": "application/octet-stream"})
    assert r.status_code == 201, r.text
    assert r.headers["Location"] == f"/v2/{repo}/blobs/{digest}"
    assert r.headers["Docker-Content-Digest"] == digest
    _assert_blob(oci, repo, digest, data)
    # the Location is pullable
    assert oci.get(r.headers["Location"]).content == data


@pytest.mark.parametrize("size", [100, 2 * MIB])
def test_monolithic_post_with_a_wrong_digest_stores_nothing(oci: Oci, repo: str, size: int) -> None:
    data = os.urandom(size)
    claimed = sha256(b"something else")
    r = oci.post(f"/v2/{repo}/blobs/uploads/?digest={claimed}", content=data)
    assert_oci_error(r, 400, "DIGEST_INVALID")
    _assert_absent(oci, repo, claimed)
    _assert_absent(oci, repo, sha256(data))


def test_monolithic_push_of_an_existing_blob_is_idempotent(oci: Oci, repo: str) -> None:
    data = b"same bytes twice"
    oci.push_blob(repo, data)
    oci.push_blob(repo, data)
    _assert_blob(oci, repo, sha256(data), data)


def test_post_then_put_with_the_whole_body(oci: Oci, repo: str) -> None:
    data = os.urandom(5000)
    location = oci.start_upload(repo)
    r = oci.put(with_query(location, digest=sha256(data)), content=data,
                headers={"Content-Type": "application/octet-stream"})
    assert r.status_code == 201, r.text
    assert r.headers["Location"] == f"/v2/{repo}/blobs/{sha256(data)}"
    assert r.headers["Docker-Content-Digest"] == sha256(data)
    _assert_blob(oci, repo, sha256(data), data)


def test_post_starts_an_upload_session(oci: Oci, repo: str) -> None:
    r = oci.post(f"/v2/{repo}/blobs/uploads/", headers={"Content-Length": "0"})
    assert r.status_code == 202
    location = r.headers["Location"]
    upload_id = r.headers["Docker-Upload-UUID"]
    assert location == f"/v2/{repo}/blobs/uploads/{upload_id}"
    assert str(uuid.UUID(upload_id)) == upload_id
    assert r.headers["Range"] == "0-0"
    # without the trailing slash too
    assert oci.post(f"/v2/{repo}/blobs/uploads").status_code == 202


# --- chunked ------------------------------------------------------------------------------------
def test_chunked_upload_with_content_range_then_put_without_body(oci: Oci, repo: str) -> None:
    data = os.urandom(3 * 1000 + 7)
    chunks = [data[0:1000], data[1000:2000], data[2000:3000], data[3000:]]
    location = oci.start_upload(repo)
    offset = 0
    for chunk in chunks:
        r = oci.patch(location, content=chunk, headers={
            "Content-Type": "application/octet-stream",
            "Content-Range": f"{offset}-{offset + len(chunk) - 1}"})
        assert r.status_code == 202, r.text
        offset += len(chunk)
        assert r.headers["Range"] == f"0-{offset - 1}"
        assert r.headers["Docker-Upload-UUID"] in r.headers["Location"]
        location = r.headers["Location"]
    r = oci.put(with_query(location, digest=sha256(data)), headers={"Content-Length": "0"})
    assert r.status_code == 201, r.text
    assert r.headers["Docker-Content-Digest"] == sha256(data)
    _assert_blob(oci, repo, sha256(data), data)
    # the session is gone once the blob is committed
    assert_oci_error(oci.get(location), 404, "BLOB_UPLOAD_UNKNOWN")


def test_chunked_upload_with_the_final_chunk_in_the_put(oci: Oci, repo: str) -> None:
    data = os.urandom(2500)
    location = oci.start_upload(repo)
    r = oci.patch(location, content=data[:2000], headers={"Content-Range": "0-1999"})
    assert r.status_code == 202
    r = oci.put(with_query(r.headers["Location"], digest=sha256(data)), content=data[2000:],
                headers={"Content-Range": "2000-2499", "Content-Type": "application/octet-stream"})
    assert r.status_code == 201, r.text
    _assert_blob(oci, repo, sha256(data), data)


def test_content_range_with_bytes_prefix_and_total_is_accepted(oci: Oci, repo: str) -> None:
    data = b"0123456789"
    location = oci.start_upload(repo)
    r = oci.patch(location, content=data, headers={"Content-Range": "bytes 0-9/10"})
    assert r.status_code == 202, r.text
    assert r.headers["Range"] == "0-9"


def test_out_of_order_chunk_is_416_with_the_current_offset(oci: Oci, repo: str) -> None:
    data = os.urandom(300)
    location = oci.start_upload(repo)
    r = oci.patch(location, content=data[:100], headers={"Content-Range": "0-99"})
    assert r.status_code == 202
    location = r.headers["Location"]
    skipped = oci.patch(location, content=data[200:], headers={"Content-Range": "200-299"})
    assert_oci_error(skipped, 416)
    assert skipped.headers["Range"] == "0-99"
    repeated = oci.patch(location, content=data[:100], headers={"Content-Range": "0-99"})
    assert_oci_error(repeated, 416)
    assert repeated.headers["Range"] == "0-99"
    # the session is intact: status still reports 100 bytes, and the upload can go on
    status = oci.get(location)
    assert status.status_code == 204
    assert status.headers["Range"] == "0-99"
    r = oci.patch(location, content=data[100:], headers={"Content-Range": "100-299"})
    assert r.status_code == 202
    assert oci.put(with_query(location, digest=sha256(data))).status_code == 201
    _assert_blob(oci, repo, sha256(data), data)


def test_first_chunk_not_starting_at_zero_is_416(oci: Oci, repo: str) -> None:
    location = oci.start_upload(repo)
    r = oci.patch(location, content=b"abc", headers={"Content-Range": "5-7"})
    assert_oci_error(r, 416)
    assert r.headers["Range"] == "0-0"


def test_content_range_that_disagrees_with_the_body_is_rejected(oci: Oci, repo: str) -> None:
    location = oci.start_upload(repo)
    r = oci.patch(location, content=b"abcdef", headers={"Content-Range": "0-9"})
    assert 400 <= r.status_code < 500
    assert_oci_error(r, r.status_code)
    # nothing was recorded: the upload is still empty and continues from 0
    status = oci.get(location)
    assert status.status_code == 204
    assert status.headers["Range"] == "0-0"
    r = oci.patch(location, content=b"abcdef", headers={"Content-Range": "0-5"})
    assert r.status_code == 202
    assert oci.put(with_query(location, digest=sha256(b"abcdef"))).status_code == 201
    _assert_blob(oci, repo, sha256(b"abcdef"), b"abcdef")


@pytest.mark.parametrize("header", ["abc", "0-", "-5", "5-2", "bytes=0-5"])
def test_malformed_content_range_is_an_oci_error(oci: Oci, repo: str, header: str) -> None:
    location = oci.start_upload(repo)
    r = oci.patch(location, content=b"abcdef", headers={"Content-Range": header})
    assert 400 <= r.status_code < 500
    assert_oci_error(r, r.status_code)


def test_streamed_patch_without_content_range(oci: Oci, repo: str) -> None:
    parts = [os.urandom(64 * 1024) for _ in range(20)] + [b"tail"]
    data = b"".join(parts)
    location = oci.start_upload(repo)
    r = oci.patch(location, content=iter(parts), headers={"Content-Type": "application/octet-stream"})
    assert r.status_code == 202, r.text
    assert r.headers["Range"] == f"0-{len(data) - 1}"
    r = oci.put(with_query(r.headers["Location"], digest=sha256(data)))
    assert r.status_code == 201, r.text
    _assert_blob(oci, repo, sha256(data), data)


def test_several_streamed_patches_continue_each_other(oci: Oci, repo: str) -> None:
    data = os.urandom(10_000)
    location = oci.start_upload(repo)
    for start in range(0, len(data), 3000):
        r = oci.patch(location, content=data[start:start + 3000])
        assert r.status_code == 202
        assert r.headers["Range"] == f"0-{min(start + 3000, len(data)) - 1}"
    assert oci.put(with_query(location, digest=sha256(data))).status_code == 201
    _assert_blob(oci, repo, sha256(data), data)


# --- status and cancel --------------------------------------------------------------------------
def test_upload_status(oci: Oci, repo: str) -> None:
    location = oci.start_upload(repo)
    upload_id = location.rsplit("/", 1)[1]
    empty = oci.get(location)
    assert empty.status_code == 204
    assert empty.content == b""
    assert empty.headers["Range"] == "0-0"
    assert empty.headers["Location"] == location
    assert empty.headers["Docker-Upload-UUID"] == upload_id
    oci.patch(location, content=b"x" * 42, headers={"Content-Range": "0-41"})
    status = oci.get(location)
    assert status.status_code == 204
    assert status.headers["Range"] == "0-41"
    assert status.headers["Location"] == location
    assert status.headers["Docker-Upload-UUID"] == upload_id


def test_cancel_upload(oci: Oci, repo: str) -> None:
    location = oci.start_upload(repo)
    oci.patch(location, content=b"partial", headers={"Content-Range": "0-6"})
    r = oci.delete(location)
    assert r.status_code == 204
    assert_oci_error(oci.get(location), 404, "BLOB_UPLOAD_UNKNOWN")
    assert_oci_error(oci.patch(location, content=b"more"), 404, "BLOB_UPLOAD_UNKNOWN")
    assert_oci_error(oci.put(with_query(location, digest=sha256(b"partial"))), 404,
                     "BLOB_UPLOAD_UNKNOWN")
    assert_oci_error(oci.delete(location), 404, "BLOB_UPLOAD_UNKNOWN")
    _assert_absent(oci, repo, sha256(b"partial"))


@pytest.mark.parametrize("upload_id", [
    str(uuid.uuid4()),
    "not-a-uuid",
    str(uuid.uuid4()).upper(),
    "12345",
])
@pytest.mark.parametrize("method", ["GET", "PATCH", "PUT", "DELETE"])
def test_unknown_upload_is_404(oci: Oci, repo: str, upload_id: str, method: str) -> None:
    url = f"/v2/{repo}/blobs/uploads/{upload_id}"
    if method == "PUT":
        url = with_query(url, digest=sha256(b""))
    r = oci.request(method, url, content=b"" if method != "PATCH" else b"data")
    assert_oci_error(r, 404, "BLOB_UPLOAD_UNKNOWN")


def test_upload_of_one_repository_is_unknown_in_another(oci: Oci, ecr, repo: str) -> None:
    ecr.create_repository("other/repo")
    location = oci.start_upload(repo)
    upload_id = location.rsplit("/", 1)[1]
    assert_oci_error(oci.get(f"/v2/other/repo/blobs/uploads/{upload_id}"), 404, "BLOB_UPLOAD_UNKNOWN")
    assert_oci_error(oci.patch(f"/v2/other/repo/blobs/uploads/{upload_id}", content=b"x"), 404,
                     "BLOB_UPLOAD_UNKNOWN")


# --- digests --------------------------------------------------------------------------------------
def test_put_with_a_wrong_digest_stores_nothing(oci: Oci, repo: str) -> None:
    data = os.urandom(4096)
    wrong = sha256(b"not these bytes")
    location = oci.start_upload(repo)
    oci.patch(location, content=data, headers={"Content-Range": f"0-{len(data) - 1}"})
    r = oci.put(with_query(location, digest=wrong))
    assert_oci_error(r, 400, "DIGEST_INVALID")
    _assert_absent(oci, repo, wrong)
    _assert_absent(oci, repo, sha256(data))


def test_put_with_body_and_a_wrong_digest_stores_nothing(oci: Oci, repo: str) -> None:
    data = os.urandom(4096)
    wrong = sha256(b"not these bytes")
    location = oci.start_upload(repo)
    assert_oci_error(oci.put(with_query(location, digest=wrong), content=data), 400, "DIGEST_INVALID")
    _assert_absent(oci, repo, wrong)
    _assert_absent(oci, repo, sha256(data))


def test_put_without_digest_is_rejected(oci: Oci, repo: str) -> None:
    location = oci.start_upload(repo)
    oci.patch(location, content=b"abc")
    r = oci.put(location)
    assert 400 <= r.status_code < 500
    assert_oci_error(r, 400, "DIGEST_INVALID")
    _assert_absent(oci, repo, sha256(b"abc"))


@pytest.mark.parametrize("digest", [
    "md5:" + "a" * 32,
    "sha256:" + "a" * 63,
    "sha256:" + "a" * 65,
    "sha256:" + "A" * 64,
    "sha512:" + "a" * 64,
    "sha256",
    "sha256:",
    ":" + "a" * 64,
    "sha256:" + "g" * 64,
])
def test_malformed_digests_are_digest_invalid(oci: Oci, repo: str, digest: str) -> None:
    data = b"payload"
    assert_oci_error(oci.post(f"/v2/{repo}/blobs/uploads/?digest={digest}", content=data), 400,
                     "DIGEST_INVALID")
    location = oci.start_upload(repo)
    oci.patch(location, content=data)
    assert_oci_error(oci.put(with_query(location, digest=digest)), 400, "DIGEST_INVALID")
    # the session survives a rejected digest and can still be completed
    assert oci.put(with_query(location, digest=sha256(data))).status_code == 201


def test_sha512_monolithic_and_chunked(oci: Oci, repo: str) -> None:
    small = os.urandom(777)
    digest = oci.push_blob(repo, small, sha512(small))
    assert digest.startswith("sha512:") and len(digest) == 7 + 128
    _assert_blob(oci, repo, digest, small)

    big = os.urandom(MIB + 5)
    r = oci.post(f"/v2/{repo}/blobs/uploads/?digest={sha512(big)}", content=big)
    assert r.status_code == 201, r.text
    _assert_blob(oci, repo, sha512(big), big)

    data = os.urandom(5000)
    location = oci.start_upload(repo)
    r = oci.patch(location, content=data[:2500], headers={"Content-Range": "0-2499"})
    r = oci.patch(r.headers["Location"], content=data[2500:], headers={"Content-Range": "2500-4999"})
    wrong = oci.put(with_query(r.headers["Location"], digest=sha512(b"other")))
    assert_oci_error(wrong, 400, "DIGEST_INVALID")
    done = oci.put(with_query(r.headers["Location"], digest=sha512(data)))
    assert done.status_code == 201, done.text
    assert done.headers["Docker-Content-Digest"] == sha512(data)
    _assert_blob(oci, repo, sha512(data), data)
    # the same bytes are not visible under their sha256
    _assert_absent(oci, repo, sha256(data))


def test_sha512_wrong_digest_monolithic(oci: Oci, repo: str) -> None:
    data = b"sha512 bytes"
    assert_oci_error(oci.post(f"/v2/{repo}/blobs/uploads/?digest={sha512(b'x')}", content=data), 400,
                     "DIGEST_INVALID")
    _assert_absent(oci, repo, sha512(data))


# --- cross-repository mount ---------------------------------------------------------------------
def test_mount_from_a_repository_that_holds_the_blob(oci: Oci, ecr, repo: str) -> None:
    ecr.create_repository("team/other")
    data = os.urandom(2048)
    digest = oci.push_blob(repo, data)
    r = oci.post(f"/v2/team/other/blobs/uploads/?mount={digest}&from={repo}")
    assert r.status_code == 201, r.text
    assert r.headers["Location"] == f"/v2/team/other/blobs/{digest}"
    assert r.headers["Docker-Content-Digest"] == digest
    _assert_blob(oci, "team/other", digest, data)


def test_mount_from_a_repository_without_the_blob_starts_an_upload(oci: Oci, ecr, repo: str) -> None:
    ecr.create_repository("team/other")
    data = os.urandom(2048)
    digest = sha256(data)
    r = oci.post(f"/v2/team/other/blobs/uploads/?mount={digest}&from={repo}")
    assert r.status_code == 202, r.text
    location = r.headers["Location"]
    assert "/v2/team/other/blobs/uploads/" in location
    _assert_absent(oci, "team/other", digest)
    # it is a normal upload session
    assert oci.put(with_query(location, digest=digest), content=data).status_code == 201
    _assert_blob(oci, "team/other", digest, data)


def test_mount_from_a_missing_repository_starts_an_upload(oci: Oci, repo: str) -> None:
    digest = sha256(b"whatever")
    r = oci.post(f"/v2/{repo}/blobs/uploads/?mount={digest}&from=does/not-exist")
    assert r.status_code == 202, r.text
    assert oci.get(r.headers["Location"]).status_code == 204


def test_mount_without_from_starts_an_upload_or_mounts(oci: Oci, ecr, repo: str) -> None:
    ecr.create_repository("team/other")
    digest = oci.push_blob("team/other", b"shared bytes")
    r = oci.post(f"/v2/{repo}/blobs/uploads/?mount={digest}")
    assert r.status_code in (201, 202), r.text
    if r.status_code == 202:
        _assert_absent(oci, repo, digest)
    else:
        _assert_blob(oci, repo, digest, b"shared bytes")


def test_mount_into_an_unknown_repository_is_name_unknown(oci: Oci, repo: str) -> None:
    digest = oci.push_blob(repo, b"bytes")
    assert_oci_error(oci.post(f"/v2/nowhere/blobs/uploads/?mount={digest}&from={repo}"), 404,
                     "NAME_UNKNOWN")


def test_upload_into_an_unknown_repository_is_name_unknown(oci: Oci) -> None:
    assert_oci_error(oci.post("/v2/nowhere/blobs/uploads/"), 404, "NAME_UNKNOWN")
    assert_oci_error(oci.post(f"/v2/nowhere/blobs/uploads/?digest={sha256(b'x')}", content=b"x"), 404,
                     "NAME_UNKNOWN")


def test_monolithic_post_without_content_length(oci: Oci, repo: str) -> None:
    data = os.urandom(200_000)
    chunks = (data[i:i + 30_000] for i in range(0, len(data), 30_000))  # Transfer-Encoding: chunked
    r = oci.post(f"/v2/{repo}/blobs/uploads/?digest={sha256(data)}", content=chunks)
    assert r.status_code == 201, r.text
    _assert_blob(oci, repo, sha256(data), data)


def test_put_with_a_streamed_body(oci: Oci, repo: str) -> None:
    data = os.urandom(100_000)
    location = oci.start_upload(repo)
    chunks = (data[i:i + 7000] for i in range(0, len(data), 7000))
    r = oci.put(with_query(location, digest=sha256(data)), content=chunks)
    assert r.status_code == 201, r.text
    _assert_blob(oci, repo, sha256(data), data)


def test_a_completed_upload_cannot_be_completed_again(oci: Oci, repo: str) -> None:
    location = oci.start_upload(repo)
    assert oci.put(with_query(location, digest=sha256(b"once")), content=b"once").status_code == 201
    assert_oci_error(oci.put(with_query(location, digest=sha256(b"once")), content=b"once"), 404,
                     "BLOB_UPLOAD_UNKNOWN")
