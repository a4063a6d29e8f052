"""Repository names, unknown repositories, unknown endpoints and unsupported methods."""

from __future__ import annotations

import pytest

from .conftest import Oci, assert_oci_error, oci_image, sha256

DIGEST = sha256(b"x")


@pytest.mark.parametrize("name", [
    "Upper", "team/App", "a..b", "a/", "a//b", "-lead", "trail-", "a/.b", "_a", "a:b", "a b",
])
@pytest.mark.parametrize("suffix", ["tags/list", "manifests/latest", f"blobs/{DIGEST}", "blobs/uploads/",
                                    f"referrers/{DIGEST}"])
def test_invalid_repository_names(oci: Oci, name: str, suffix: str) -> None:
    method = "POST" if suffix == "blobs/uploads/" else "GET"
    r = oci.request(method, f"/v2/{name}/{suffix}")
    assert r.status_code in (400, 404), r.text
    if r.status_code == 400:
        assert_oci_error(r, 400, "NAME_INVALID")
    else:
        assert_oci_error(r, 404)


def test_name_longer_than_256_characters(oci: Oci) -> None:
    name = "/".join(["a" * 50] * 6)  # 305 characters
    r = oci.get(f"/v2/{name}/tags/list")
    assert r.status_code in (400, 404)
    assert_oci_error(r, r.status_code)


def test_unknown_repository_message_is_ecr_s(oci: Oci, registry_id: str) -> None:
    for method, name, rest in [("GET", "x1", "tags/list"), ("GET", "team/x1", "manifests/latest"),
                               ("HEAD", "x1", "manifests/latest"), ("GET", "x1", f"blobs/{DIGEST}"),
                               ("POST", "x1", "blobs/uploads/"), ("GET", "a/b/c", f"referrers/{DIGEST}"),
                               ("DELETE", "x1", "manifests/latest"), ("PUT", "x1", "manifests/latest"),
                               ("GET", "x1", f"blobs/uploads/{DIGEST[7:43]}")]:
        r = oci.request(method, f"/v2/{name}/{rest}", content=b"{}" if method == "PUT" else None)
        assert r.status_code == 404, (method, name, rest, r.text)
        if method == "HEAD":
            continue
        err = assert_oci_error(r, 404, "NAME_UNKNOWN")
        assert err["message"] == (f"The repository with name '{name}' does not exist in the registry "
                                  f"with id '{registry_id}'"), err


def test_pushing_to_an_unknown_repository_does_not_create_it(oci: Oci) -> None:
    image = oci_image("nowhere")
    r = oci.put_manifest("nowhere", "v1", image.manifest, image.media_type)
    assert_oci_error(r, 404, "NAME_UNKNOWN")
    assert oci.get("/v2/_catalog").json()["repositories"] == []


@pytest.mark.parametrize("method,path", [
    ("POST", "/v2/team/app/manifests/latest"),
    ("PATCH", "/v2/team/app/manifests/latest"),
    ("PUT", f"/v2/team/app/blobs/{DIGEST}"),
    ("POST", f"/v2/team/app/blobs/{DIGEST}"),
    ("PATCH", "/v2/team/app/tags/list"),
    ("DELETE", "/v2/team/app/tags/list"),
    ("POST", f"/v2/team/app/referrers/{DIGEST}"),
    ("GET", "/v2/team/app/blobs/uploads/"),
    ("PUT", "/v2/team/app/blobs/uploads/"),
    ("POST", "/v2/"),
    ("DELETE", "/v2/"),
    ("POST", "/v2/_catalog"),
])
def test_wrong_method_is_405_unsupported(oci: Oci, repo: str, method: str, path: str) -> None:
    assert_oci_error(oci.request(method, path), 405, "UNSUPPORTED")


@pytest.mark.parametrize("path", ["/v2/team/app", "/v2/team/app/", "/v2/team/app/unknown",
                                  "/v2/team/app/manifests/", "/v2/team/app/tags"])
def test_unknown_endpoint_is_404_with_a_spec_error_code(oci: Oci, repo: str, path: str) -> None:
    r = oci.get(path)
    assert r.status_code == 404, r.text
    assert_oci_error(r, 404)


def test_paths_outside_v2_do_not_crash(oci: Oci) -> None:
    assert oci.get("/healthz").status_code == 200
    assert oci.get("/nope").status_code == 404
    assert oci.get("/").status_code == 200
