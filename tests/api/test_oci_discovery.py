"""Content discovery: referrers, tags list and the catalog with their pagination."""

from __future__ import annotations

import re

import pytest

from .conftest import OCI_CONFIG, OCI_EMPTY, OCI_INDEX, Oci, assert_oci_error, index_of, oci_image, sha256

SBOM = "application/vnd.example.sbom.v1"
SIG = "application/vnd.example.signature.v1"


def _next_link(response) -> str | None:
    link = response.headers.get("Link")
    if not link:
        return None
    match = re.fullmatch(r'<([^>]+)>;\s*rel="next"', link.strip())
    assert match, link
    return match[1]


# --- referrers ----------------------------------------------------------------------------------
@pytest.fixture
def subject(oci: Oci, repo: str):
    image = oci_image("subject")
    oci.push_image(repo, image, "app")
    return image


def test_referrers_lists_manifests_with_that_subject(oci: Oci, repo: str, subject) -> None:
    sbom = oci_image("sbom", subject=subject, artifact_type=SBOM,
                     annotations={"org.example.sbom.format": "json"})
    sig = oci_image("sig", subject=subject, artifact_type=SIG)
    plain = oci_image("plain", subject=subject)  # no artifactType: the config media type stands in
    unrelated = oci_image("unrelated", artifact_type=SBOM)
    for image in (sbom, sig, plain, unrelated):
        oci.push_image(repo, image)
    r = oci.get(f"/v2/{repo}/referrers/{subject.digest}")
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"] == OCI_INDEX
    index = r.json()
    assert index["schemaVersion"] == 2
    assert index["mediaType"] == OCI_INDEX
    by_digest = {d["digest"]: d for d in index["manifests"]}
    assert set(by_digest) == {sbom.digest, sig.digest, plain.digest}
    for image in (sbom, sig, plain):
        d = by_digest[image.digest]
        assert d["mediaType"] == image.media_type
        assert d["size"] == len(image.manifest)
    assert by_digest[sbom.digest]["artifactType"] == SBOM
    assert by_digest[sbom.digest]["annotations"] == {"org.example.sbom.format": "json"}
    assert by_digest[sig.digest]["artifactType"] == SIG
    assert by_digest[plain.digest]["artifactType"] == OCI_CONFIG


def test_referrers_filter_by_artifact_type(oci: Oci, repo: str, subject) -> None:
    sbom = oci_image("sbom", subject=subject, artifact_type=SBOM)
    sig = oci_image("sig", subject=subject, artifact_type=SIG)
    oci.push_image(repo, sbom)
    oci.push_image(repo, sig)
    r = oci.get(f"/v2/{repo}/referrers/{subject.digest}", params={"artifactType": SBOM})
    assert r.status_code == 200
    assert r.headers["OCI-Filters-Applied"] == "artifactType"
    assert [d["digest"] for d in r.json()["manifests"]] == [sbom.digest]
    none = oci.get(f"/v2/{repo}/referrers/{subject.digest}", params={"artifactType": "x/none"})
    assert none.status_code == 200
    assert none.headers["OCI-Filters-Applied"] == "artifactType"
    assert none.json()["manifests"] == []
    unfiltered = oci.get(f"/v2/{repo}/referrers/{subject.digest}")
    assert "OCI-Filters-Applied" not in unfiltered.headers


def test_referrer_with_empty_config_and_no_artifact_type(oci: Oci, repo: str, subject) -> None:
    """distribution-spec v1.1 "Listing Referrers": when the image manifest has no artifactType,
    the descriptor's artifactType MUST be the config descriptor's mediaType — the empty one too."""
    referrer = oci_image("empty-config", subject=subject, config=b"{}", config_media_type=OCI_EMPTY)
    oci.push_image(repo, referrer)
    manifests = oci.get(f"/v2/{repo}/referrers/{subject.digest}").json()["manifests"]
    assert [d["digest"] for d in manifests] == [referrer.digest]
    assert manifests[0].get("artifactType") == OCI_EMPTY


def test_index_referrer(oci: Oci, repo: str, subject) -> None:
    child = oci_image("child")
    oci.push_image(repo, child)
    typed = index_of([child], subject=subject, artifact_type="application/vnd.example.bundle")
    untyped = index_of([child, subject], subject=subject)
    oci.push_image(repo, typed)
    oci.push_image(repo, untyped)
    by_digest = {d["digest"]: d for d in oci.get(f"/v2/{repo}/referrers/{subject.digest}").json()["manifests"]}
    assert by_digest[typed.digest]["artifactType"] == "application/vnd.example.bundle"
    assert by_digest[typed.digest]["mediaType"] == OCI_INDEX
    assert "artifactType" not in by_digest[untyped.digest]  # an index without one: omitted


def test_referrers_of_an_unknown_subject_is_an_empty_index(oci: Oci, repo: str) -> None:
    r = oci.get(f"/v2/{repo}/referrers/{sha256(b'no such manifest')}")
    assert r.status_code == 200
    assert r.headers["Content-Type"] == OCI_INDEX
    assert r.json() == {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []}


def test_referrers_pushed_before_their_subject(oci: Oci, repo: str) -> None:
    subject = oci_image("later")
    sig = oci_image("early-sig", subject=subject, artifact_type=SIG)
    oci.push_image(repo, sig)
    assert [d["digest"] for d in oci.get(f"/v2/{repo}/referrers/{subject.digest}").json()["manifests"]] \
        == [sig.digest]


def test_deleted_referrer_disappears(oci: Oci, repo: str, subject) -> None:
    sig = oci_image("sig", subject=subject, artifact_type=SIG)
    oci.push_image(repo, sig)
    assert oci.delete(f"/v2/{repo}/manifests/{sig.digest}").status_code == 202
    assert oci.get(f"/v2/{repo}/referrers/{subject.digest}").json()["manifests"] == []


def test_referrers_are_per_repository(oci: Oci, ecr, repo: str, subject) -> None:
    ecr.create_repository("team/other")
    oci.push_image("team/other", oci_image("sig", subject=subject, artifact_type=SIG))
    assert oci.get(f"/v2/{repo}/referrers/{subject.digest}").json()["manifests"] == []


@pytest.mark.parametrize("ref", ["app", "sha256:abc", "sha256:" + "A" * 64, "md5:" + "0" * 32])
def test_referrers_with_an_invalid_digest_is_400(oci: Oci, repo: str, subject, ref: str) -> None:
    r = oci.get(f"/v2/{repo}/referrers/{ref}")
    assert r.status_code == 400
    assert_oci_error(r, 400)


def test_referrers_of_an_unknown_repository_is_404(oci: Oci) -> None:
    assert_oci_error(oci.get(f"/v2/nowhere/referrers/{sha256(b'x')}"), 404, "NAME_UNKNOWN")


# --- tags list ----------------------------------------------------------------------------------
TAGS = ["1.0", "1.1", "2.0", "Latest", "beta", "latest", "v10", "v9"]


@pytest.fixture
def tagged(oci: Oci, repo: str) -> list[str]:
    image = oci_image("tagged")
    oci.push_image(repo, image)
    for tag in reversed(TAGS):
        assert oci.put_manifest(repo, tag, image.manifest, image.media_type).status_code == 201
    return sorted(TAGS)


def test_tags_list(oci: Oci, repo: str, tagged: list[str]) -> None:
    r = oci.get(f"/v2/{repo}/tags/list")
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("application/json")
    assert r.json() == {"name": repo, "tags": tagged}
    assert "Link" not in r.headers


def test_tags_list_of_an_empty_repository(oci: Oci, repo: str) -> None:
    assert oci.get(f"/v2/{repo}/tags/list").json() == {"name": repo, "tags": []}


def test_tags_pagination_with_link(oci: Oci, repo: str, tagged: list[str]) -> None:
    seen: list[str] = []
    url: str | None = f"/v2/{repo}/tags/list?n=3"
    pages = 0
    while url is not None:
        r = oci.get(url)
        assert r.status_code == 200
        page = r.json()["tags"]
        assert len(page) <= 3
        seen += page
        pages += 1
        url = _next_link(r)
        if url is not None:
            assert len(page) == 3
            assert url.startswith(f"/v2/{repo}/tags/list?")
            assert "n=3" in url
    assert seen == tagged
    assert pages == 3


def test_tags_n_exactly_the_number_of_tags(oci: Oci, repo: str, tagged: list[str]) -> None:
    r = oci.get(f"/v2/{repo}/tags/list", params={"n": len(tagged)})
    assert r.json()["tags"] == tagged
    assert "Link" not in r.headers


def test_tags_last_without_n(oci: Oci, repo: str, tagged: list[str]) -> None:
    r = oci.get(f"/v2/{repo}/tags/list", params={"last": "beta"})
    assert r.json()["tags"] == [t for t in tagged if t > "beta"]


def test_tags_last_and_n(oci: Oci, repo: str, tagged: list[str]) -> None:
    r = oci.get(f"/v2/{repo}/tags/list", params={"last": "2.0", "n": 2})
    assert r.json()["tags"] == [t for t in tagged if t > "2.0"][:2]
    assert _next_link(r) is not None


def test_tags_n_zero_is_an_empty_list_without_link(oci: Oci, repo: str, tagged: list[str]) -> None:
    r = oci.get(f"/v2/{repo}/tags/list", params={"n": 0})
    assert r.status_code == 200
    assert r.json() == {"name": repo, "tags": []}
    assert "Link" not in r.headers


@pytest.mark.parametrize("n", ["-1", "abc", "1.5", "", "99999999999999999999"])
def test_tags_invalid_n_is_400(oci: Oci, repo: str, tagged: list[str], n: str) -> None:
    r = oci.get(f"/v2/{repo}/tags/list?n={n}")
    assert r.status_code == 400, r.text
    assert_oci_error(r, 400)


def test_tags_of_an_unknown_repository(oci: Oci) -> None:
    assert_oci_error(oci.get("/v2/nowhere/tags/list"), 404, "NAME_UNKNOWN")


# --- catalog ------------------------------------------------------------------------------------
NAMES = ["alpha", "beta/one", "beta/two", "gamma", "zeta/x/y"]


@pytest.fixture
def repositories(ecr) -> list[str]:
    for name in reversed(NAMES):
        ecr.create_repository(name)
    return sorted(NAMES)


def test_catalog(oci: Oci, repositories: list[str]) -> None:
    r = oci.get("/v2/_catalog")
    assert r.status_code == 200
    assert r.json() == {"repositories": repositories}


def test_catalog_pagination(oci: Oci, repositories: list[str]) -> None:
    seen: list[str] = []
    url: str | None = "/v2/_catalog?n=2"
    while url is not None:
        r = oci.get(url)
        assert r.status_code == 200
        seen += r.json()["repositories"]
        url = _next_link(r)
        if url is not None:
            assert url.startswith("/v2/_catalog?")
    assert seen == repositories


def test_catalog_last(oci: Oci, repositories: list[str]) -> None:
    r = oci.get("/v2/_catalog", params={"last": "beta/one", "n": 2})
    assert r.json()["repositories"] == ["beta/two", "gamma"]
    r = oci.get("/v2/_catalog", params={"last": "gamma"})
    assert r.json()["repositories"] == ["zeta/x/y"]


def test_catalog_n_zero(oci: Oci, repositories: list[str]) -> None:
    r = oci.get("/v2/_catalog?n=0")
    assert r.json() == {"repositories": []}
    assert "Link" not in r.headers


@pytest.mark.parametrize("n", ["-1", "x"])
def test_catalog_invalid_n(oci: Oci, repositories: list[str], n: str) -> None:
    assert_oci_error(oci.get(f"/v2/_catalog?n={n}"), 400)


def test_catalog_of_an_empty_registry(oci: Oci) -> None:
    assert oci.get("/v2/_catalog").json() == {"repositories": []}
