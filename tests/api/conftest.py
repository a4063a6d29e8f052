"""In-process HTTP fixtures: a fresh registry per test, an OCI client and a SigV4-signing ECR client.

Every request goes through the real ASGI app (``dockyard.app.create_app``); nothing of Dockyard is
mocked. Both clients assert that no response is a 5xx, so every test also checks "no 500 anywhere".
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import boto3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSResponse
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from starlette.testclient import TestClient

from dockyard.app import DockyardApp, bootstrap, create_app
from dockyard.settings import Settings

KEY_ID = "AKIADOCKYARDTEST0001"
SECRET = "dockyardTestSecretKey/0123456789abcdefGH"
REGION = "us-east-1"
TARGET = "AmazonEC2ContainerRegistry_V20150921."

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_EMPTY = "application/vnd.oci.empty.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"

OCI_ERROR_CODES = {
    "BLOB_UNKNOWN", "BLOB_UPLOAD_INVALID", "BLOB_UPLOAD_UNKNOWN", "DIGEST_INVALID",
    "MANIFEST_BLOB_UNKNOWN", "MANIFEST_INVALID", "MANIFEST_UNKNOWN", "NAME_INVALID", "NAME_UNKNOWN",
    "SIZE_INVALID", "UNAUTHORIZED", "DENIED", "UNSUPPORTED", "TOOMANYREQUESTS",
    # legacy Docker codes the spec allows clients to meet
    "TAG_INVALID", "MANIFEST_UNVERIFIED", "PAGINATION_NUMBER_INVALID", "UNKNOWN",
}


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def sha512(data: bytes) -> str:
    return "sha512:" + hashlib.sha512(data).hexdigest()


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def _assert_error_shape(response: httpx.Response) -> None:
    """Every OCI error body is ``{"errors": [{"code", "message", "detail"}, ...]}``."""
    assert response.headers.get("content-type", "").startswith("application/json"), \
        (response.status_code, response.headers, response.text)
    body = response.json()
    assert isinstance(body, dict) and set(body) == {"errors"}, body
    assert isinstance(body["errors"], list) and body["errors"], body
    for error in body["errors"]:
        assert isinstance(error, dict) and set(error) == {"code", "message", "detail"}, error
        assert isinstance(error["code"], str) and error["code"].replace("_", "").isalpha(), error
        assert error["code"] == error["code"].upper(), error


def assert_oci_error(response: httpx.Response, status: int, code: str | None = None) -> dict:
    """The response is ``status`` with a spec-shaped error body (and ``code`` among its errors)."""
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/json"), response.headers
    body = response.json()
    assert set(body) == {"errors"}, body
    assert isinstance(body["errors"], list) and body["errors"], body
    for error in body["errors"]:
        assert set(error) == {"code", "message", "detail"}, error
        assert isinstance(error["code"], str) and isinstance(error["message"], str)
        assert error["code"] in OCI_ERROR_CODES, error
    if code is not None:
        assert code in [e["code"] for e in body["errors"]], body
    return body["errors"][0]


def with_query(location: str, **params: str) -> str:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return f"{location}{'&' if '?' in location else '?'}{query}"


@dataclass
class Image:
    """A pushed (or pushable) image: its blobs and its manifest bytes."""

    manifest: bytes
    media_type: str
    blobs: dict[str, bytes] = field(default_factory=dict)

    @property
    def digest(self) -> str:
        return sha256(self.manifest)


def descriptor(media_type: str, data: bytes, **extra: Any) -> dict[str, Any]:
    return {"mediaType": media_type, "digest": sha256(data), "size": len(data), **extra}


def oci_image(seed: str = "a", *, layers: int = 1, indent: int | None = None,
              subject: Image | None = None, artifact_type: str | None = None,
              config_media_type: str = OCI_CONFIG, config: bytes | None = None,
              annotations: dict[str, str] | None = None) -> Image:
    config = config if config is not None else json.dumps(
        {"architecture": "amd64", "os": "linux", "seed": seed}).encode()
    layer_blobs = [f"layer {i} of image {seed}\n".encode() * 7 for i in range(layers)]
    doc: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": descriptor(config_media_type, config),
        "layers": [descriptor(OCI_LAYER, b) for b in layer_blobs],
    }
    if artifact_type is not None:
        doc["artifactType"] = artifact_type
    if subject is not None:
        doc["subject"] = {"mediaType": subject.media_type, "digest": subject.digest,
                          "size": len(subject.manifest)}
    if annotations:
        doc["annotations"] = annotations
    body = json.dumps(doc, indent=indent).encode()
    if indent is not None:
        body += b"\n"
    return Image(body, OCI_MANIFEST, {sha256(b): b for b in [config, *layer_blobs]})


def docker_image(seed: str = "d") -> Image:
    config = json.dumps({"architecture": "arm64", "os": "linux", "seed": seed}).encode()
    layer = f"docker layer {seed}".encode() * 11
    doc = {
        "schemaVersion": 2,
        "mediaType": DOCKER_MANIFEST,
        "config": descriptor(DOCKER_CONFIG, config),
        "layers": [descriptor(DOCKER_LAYER, layer)],
    }
    return Image(json.dumps(doc, indent=3).encode(), DOCKER_MANIFEST,
                 {sha256(config): config, sha256(layer): layer})


def index_of(children: list[Image], media_type: str = OCI_INDEX,
             subject: Image | None = None, artifact_type: str | None = None) -> Image:
    doc: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": media_type,
        "manifests": [
            {**descriptor(c.media_type, c.manifest),
             "platform": {"architecture": f"arch{i}", "os": "linux"}}
            for i, c in enumerate(children)
        ],
    }
    if subject is not None:
        doc["subject"] = {"mediaType": subject.media_type, "digest": subject.digest,
                          "size": len(subject.manifest)}
    if artifact_type is not None:
        doc["artifactType"] = artifact_type
    return Image(json.dumps(doc, indent=2).encode(), media_type)


class Oci:
    """An OCI Distribution client on the in-process app, authenticated as the administrator."""

    def __init__(self, client: TestClient, password: str) -> None:
        self.client = client
        self.password = password
        self.auth = basic("AWS", password)

    def request(self, method: str, url: str, *, auth: str | None = "default",
                headers: dict[str, str] | None = None, **kwargs: Any) -> httpx.Response:
        headers = dict(headers or {})
        if auth == "default":
            headers["Authorization"] = self.auth
        elif auth is not None:
            headers["Authorization"] = auth
        response = self.client.request(method, url, headers=headers, **kwargs)
        assert response.status_code < 500, (method, url, response.status_code, response.text)
        if response.status_code >= 400 and method != "HEAD" and url.startswith("/v2"):
            _assert_error_shape(response)
        return response

    def get(self, url: str, **kw: Any) -> httpx.Response:
        return self.request("GET", url, **kw)

    def head(self, url: str, **kw: Any) -> httpx.Response:
        return self.request("HEAD", url, **kw)

    def post(self, url: str, **kw: Any) -> httpx.Response:
        return self.request("POST", url, **kw)

    def put(self, url: str, **kw: Any) -> httpx.Response:
        return self.request("PUT", url, **kw)

    def patch(self, url: str, **kw: Any) -> httpx.Response:
        return self.request("PATCH", url, **kw)

    def delete(self, url: str, **kw: Any) -> httpx.Response:
        return self.request("DELETE", url, **kw)

    # --- building blocks ------------------------------------------------------------------------
    def push_blob(self, repo: str, data: bytes, digest: str | None = None) -> str:
        digest = digest or sha256(data)
        r = self.post(f"/v2/{repo}/blobs/uploads/?digest={digest}", content=data,
                      headers={"Content-Type": "application/octet-stream"})
        assert r.status_code == 201, r.text
        return digest

    def start_upload(self, repo: str) -> str:
        r = self.post(f"/v2/{repo}/blobs/uploads/")
        assert r.status_code == 202, r.text
        return r.headers["Location"]

    def put_manifest(self, repo: str, ref: str, body: bytes, media_type: str) -> httpx.Response:
        return self.put(f"/v2/{repo}/manifests/{ref}", content=body,
                        headers={"Content-Type": media_type})

    def push_image(self, repo: str, image: Image, ref: str | None = None) -> httpx.Response:
        for digest, data in image.blobs.items():
            self.push_blob(repo, data, digest)
        r = self.put_manifest(repo, ref or image.digest, image.manifest, image.media_type)
        assert r.status_code == 201, r.text
        return r


class Ecr:
    """An ``aws ecr`` JSON 1.1 client on the in-process app, signing with botocore's SigV4."""

    def __init__(self, client: TestClient, key_id: str = KEY_ID, secret: str = SECRET) -> None:
        self.client = client
        self.credentials = Credentials(key_id, secret)

    def raw(self, operation: str, body: bytes, *, sign: bool = True,
            target: str | None = None) -> httpx.Response:
        headers = {"X-Amz-Target": target if target is not None else TARGET + operation,
                   "Content-Type": "application/x-amz-json-1.1"}
        if sign:
            request = AWSRequest(method="POST", url="http://testserver/", data=body, headers=headers)
            SigV4Auth(self.credentials, "ecr", REGION).add_auth(request)
            headers = dict(request.headers.items())
        response = self.client.post("/", content=body, headers=headers)
        assert response.status_code < 500, (operation, response.status_code, response.text)
        return response

    def call(self, operation: str, **params: Any) -> httpx.Response:
        return self.raw(operation, json.dumps(params).encode())

    def ok(self, operation: str, **params: Any) -> dict[str, Any]:
        response = self.call(operation, **params)
        assert response.status_code == 200, response.text
        return response.json()

    def create_repository(self, name: str, **params: Any) -> dict[str, Any]:
        return self.ok("CreateRepository", repositoryName=name, **params)["repository"]


def assert_aws_error(response: httpx.Response, aws_type: str, status: int | None = None) -> str:
    if status is not None:
        assert response.status_code == status, (response.status_code, response.text)
    else:
        assert 400 <= response.status_code < 500, (response.status_code, response.text)
    body = response.json()
    assert body["__type"] == aws_type, body
    assert isinstance(body.get("message"), str) and body["message"], body
    return body["message"]


def make_settings(data_dir: Path) -> Settings:
    return Settings(data_dir=data_dir, database_url="", admin_access_key_id=KEY_ID,
                    admin_secret_access_key=SECRET, region=REGION, secret_key=None)


def registry_password(app: DockyardApp, key_id: str = KEY_ID) -> str:
    identity = app.services.identity
    key = identity.store.access_key(key_id)
    assert key is not None
    principal = identity.store.principal(key.principal_id)
    assert principal is not None
    return identity.password(identity.issue_password(principal, key_id))


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path / "data")


@pytest.fixture
def app(settings: Settings) -> DockyardApp:
    bootstrap(settings)
    return create_app(settings)


@pytest.fixture
def client(app: DockyardApp) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=True) as test_client:
        yield test_client


@pytest.fixture
def password(app: DockyardApp) -> str:
    return registry_password(app)


@pytest.fixture
def oci(client: TestClient, password: str) -> Oci:
    return Oci(client, password)


@pytest.fixture
def ecr(client: TestClient) -> Ecr:
    return Ecr(client)


@pytest.fixture
def registry_id(app: DockyardApp) -> str:
    return app.services.identity.registry.registry_id


@pytest.fixture
def repo(ecr: Ecr) -> str:
    """An empty mutable repository."""
    return ecr.create_repository("team/app")["repositoryName"]


class _Body:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def stream(self, *args, **kwargs) -> Iterator[bytes]:  # type: ignore[no-untyped-def]
        yield self.data


@pytest.fixture
def boto(client: TestClient):  # type: ignore[no-untyped-def]
    """A real boto3 ECR client whose HTTP requests the in-process app answers."""
    ecr = boto3.client("ecr", region_name=REGION, endpoint_url="http://testserver",
                       aws_access_key_id=KEY_ID, aws_secret_access_key=SECRET,
                       config=Config(retries={"max_attempts": 1}))

    def send(request, **kwargs):  # type: ignore[no-untyped-def]
        response = client.request(request.method, request.url, content=request.body,
                                  headers=dict(request.headers.items()))
        assert response.status_code < 500, response.text
        return AWSResponse(request.url, response.status_code, dict(response.headers),
                           _Body(response.content))

    ecr.meta.events.register("before-send.ecr", send)
    return ecr
