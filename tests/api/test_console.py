"""The web console in process: sign-in/out, sessions, CSRF, repositories, push commands, images,
policies, and what a user without permissions sees. Pages are driven as a browser would (forms,
cookies, redirects); the state they change is checked through the ECR API."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html import unescape

import httpx
import pytest
from starlette.testclient import TestClient

from dockyard.app import DockyardApp
from dockyard.console.sessions import SESSION_COOKIE
from dockyard.console.signin import FREE_FAILURES
from dockyard.domain.iam import USER
from dockyard.domain.models import Principal
from dockyard.iam.aws_managed import AWS_MANAGED

from .conftest import KEY_ID, REGION, SECRET, Ecr, Oci, index_of, oci_image

READ_ONLY = next(arn for arn, p in AWS_MANAGED.items()
                 if p.name == "AmazonEC2ContainerRegistryReadOnly")


def csrf_of(response: httpx.Response) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', response.text)
    assert found, response.text[:2000]
    return found.group(1)


def text_of(response: httpx.Response) -> str:
    """The page's visible text, roughly (tags dropped, entities decoded)."""
    return unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.text)))


class Browser:
    """A cookie-keeping client that submits the console's forms."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.csrf = ""

    def get(self, url: str, **kw) -> httpx.Response:  # type: ignore[no-untyped-def]
        response = self.client.get(url, **kw)
        assert response.status_code < 500, response.text
        if 'name="csrf"' in response.text:
            self.csrf = csrf_of(response)
        return response

    def post(self, url: str, data: dict | None = None, *, csrf: bool = True,  # type: ignore[type-arg]
             **kw) -> httpx.Response:  # type: ignore[no-untyped-def]
        form = dict(data or {})
        if csrf:
            form.setdefault("csrf", self.csrf)
        response = self.client.post(url, data=form, **kw)
        assert response.status_code < 500, response.text
        if 'name="csrf"' in response.text:
            self.csrf = csrf_of(response)
        return response

    def sign_in(self, key_id: str = KEY_ID, secret: str = SECRET) -> httpx.Response:
        self.get("/console/signin")
        return self.post("/console/signin", {"method": "key", "access_key_id": key_id,
                                             "secret_access_key": secret})


@pytest.fixture
def browser(client: TestClient) -> Browser:
    return Browser(client)


@pytest.fixture
def admin(browser: Browser) -> Browser:
    response = browser.sign_in()
    assert response.status_code == 200 and response.url.path == "/console/repositories"
    return browser


@pytest.fixture
def other_client(app: DockyardApp) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client


def admin_principal(app: DockyardApp) -> Principal:
    identity = app.services.identity
    row = identity.store.principal_by_name("user", "admin")
    assert row is not None
    return identity.resolver.user(row)


def make_user(app: DockyardApp, name: str, policy_arn: str | None = None) -> tuple[str, str]:
    """An IAM user (optionally with a managed policy) and an access key for it."""
    directory, admin = app.services.directory, admin_principal(app)
    assert directory is not None and app.services.permissions is not None
    directory.create_user(admin, name)
    if policy_arn:
        app.services.permissions.attach(admin, USER, name, policy_arn)
    key = directory.create_access_key(admin, name)
    return key.access_key_id, key.secret_access_key


def repository_names(ecr: Ecr) -> list[str]:
    return [r["repositoryName"] for r in ecr.ok("DescribeRepositories")["repositories"]]


# --- sign-in, sessions, CSRF --------------------------------------------------------------------
def test_root_and_console_ask_to_sign_in(client: TestClient) -> None:
    for path in ("/", "/console", "/console/repositories"):
        response = client.get(path)
        assert response.status_code == 200
        assert response.url.path == "/console/signin"
        assert 'name="access_key_id"' in response.text
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]


def test_sign_in_with_an_access_key_and_sign_out(browser: Browser, registry_id: str) -> None:
    response = browser.sign_in()
    assert response.url.path == "/console/repositories"
    page = text_of(response)
    assert "Signed in as admin" in page and registry_id in page and REGION in page
    cookie = next(c for c in response.history[-1].headers.get_list("set-cookie")
                  if c.startswith(SESSION_COOKIE + "="))
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/console" in cookie
    assert "Secure" not in cookie  # plain http here; https endpoints get Secure

    response = browser.post("/console/signout")
    assert response.url.path == "/console/signin" and "You are signed out." in response.text
    assert browser.get("/console/repositories").url.path == "/console/signin"


def test_wrong_secret_is_refused_and_repeated_failures_back_off(browser: Browser) -> None:
    response = browser.sign_in(secret="not-the-secret")
    assert response.status_code == 401
    assert "authentication information is incorrect" in response.text
    assert SESSION_COOKIE not in browser.client.cookies
    for _ in range(FREE_FAILURES):
        response = browser.sign_in(secret="still-wrong")
    assert response.status_code == 429, response.status_code
    assert "Too many failed sign-in attempts" in response.text
    assert int(response.headers["retry-after"]) >= 1
    # while backing off, even the right secret is not checked
    assert browser.sign_in().status_code == 429


def test_a_tampered_or_foreign_session_cookie_is_ignored(admin: Browser) -> None:
    good = admin.client.cookies[SESSION_COOKIE]
    payload, mac = good.split(".")
    admin.client.cookies.set(SESSION_COOKIE, payload + "." + mac[:-2] + "AA", path="/console")
    assert admin.get("/console/repositories").url.path == "/console/signin"


def test_forms_without_the_csrf_token_are_refused(admin: Browser, ecr: Ecr) -> None:
    response = admin.post("/console/repositories/new", {"name": "sneaky"}, csrf=False)
    assert response.status_code == 403 and "CSRF" in response.text
    response = admin.post("/console/repositories/new", {"name": "sneaky", "csrf": "forged"})
    assert response.status_code == 403
    # another site's form: the browser sends its Origin
    response = admin.post("/console/repositories/new", {"name": "sneaky"},
                          headers={"Origin": "https://evil.example"})
    assert response.status_code == 403
    assert "sneaky" not in repository_names(ecr)


def test_the_sign_in_form_needs_its_own_csrf_token(client: TestClient) -> None:
    response = client.post("/console/signin", data={"method": "key", "access_key_id": KEY_ID,
                                                    "secret_access_key": SECRET})
    assert response.status_code == 403
    assert SESSION_COOKIE not in client.cookies


def test_a_deactivated_key_ends_its_console_session(admin: Browser, app: DockyardApp) -> None:
    app.services.identity.set_access_key_status(KEY_ID, "Inactive")
    assert admin.get("/console/repositories").url.path == "/console/signin"


def test_sign_in_with_an_iam_user_password(app: DockyardApp, browser: Browser) -> None:
    directory = app.services.directory
    assert directory is not None
    make_user(app, "dev", READ_ONLY)
    directory.create_login_profile(admin_principal(app), "dev", "correct horse 1")
    browser.get("/console/signin?method=password")
    response = browser.post("/console/signin", {"method": "password", "user_name": "dev",
                                                "password": "wrong password"})
    assert response.status_code == 401
    response = browser.post("/console/signin", {"method": "password", "user_name": "dev",
                                                "password": "correct horse 1"})
    assert response.url.path == "/console/repositories"
    assert "Signed in as dev" in text_of(response)
    # a new password ends the sessions made with the old one
    directory.update_login_profile(admin_principal(app), "dev", "battery staple 2")
    assert browser.get("/console/repositories").url.path == "/console/signin"


def sign_in_with_password(browser: Browser, user: str, password: str,
                          next_url: str = "") -> httpx.Response:
    browser.get("/console/signin?method=password" + (f"&next={next_url}" if next_url else ""))
    form = {"method": "password", "user_name": user, "password": password}
    if next_url:
        form["next"] = next_url
    return browser.post("/console/signin", form)


def test_a_password_that_requires_a_reset_must_be_changed_first(
        app: DockyardApp, browser: Browser, ecr: Ecr, repo: str) -> None:
    directory = app.services.directory
    assert directory is not None
    make_user(app, "newhire", READ_ONLY)  # no iam:ChangePassword: the reset grants it
    directory.create_login_profile(admin_principal(app), "newhire", "first password 1",
                                   reset_required=True)
    response = sign_in_with_password(browser, "newhire", "first password 1",
                                     f"/console/repositories/{repo}/-/images")
    assert response.url.path == "/console/change-password"
    assert response.url.params["next"] == f"/console/repositories/{repo}/-/images"
    page = text_of(response)
    assert "must be changed before you continue" in page and "Signed in as newhire" in page
    assert 'href="/console/iam/users"' not in response.text  # no navigation yet
    # every other page leads back to the form, and no form is acted on
    for path in ("/console/", "/console/repositories", f"/console/repositories/{repo}/-/images",
                 "/console/iam/users", "/console/iam/users/newhire", "/console/no-such-page"):
        got = browser.get(path)
        if path.endswith("no-such-page"):
            assert got.status_code == 404
            continue
        assert got.url.path == "/console/change-password", path
        assert got.url.params["next"] == path
    csrf = browser.csrf
    response = browser.post(f"/console/repositories/{repo}/-/delete", {"confirm": repo})
    assert response.url.path == "/console/change-password"
    assert repository_names(ecr) == [repo]

    # mistakes are shown next to their fields and change nothing
    browser.csrf = csrf
    cases = [
        ({"old_password": "not it at all", "new_password": "second password 2",
          "confirm_password": "second password 2"}, 403, "old password is incorrect"),
        ({"old_password": "first password 1", "new_password": "second password 2",
          "confirm_password": "second password 3"}, 400, "do not match"),
        ({"old_password": "first password 1", "new_password": "short",
          "confirm_password": "short"}, 400, "minimum length of 8"),
        ({"old_password": "first password 1", "new_password": "first password 1",
          "confirm_password": "first password 1"}, 400, "must differ"),
    ]
    for form, status, message in cases:
        response = browser.post("/console/change-password", form)
        assert response.status_code == status and message in text_of(response), form
        assert 'class="field-error"' in response.text
    profile = directory.store.login_profile(_user_id(app, "newhire"))
    assert profile is not None and profile.password_reset_required is True

    response = browser.post("/console/change-password", {
        "old_password": "first password 1", "new_password": "second password 2",
        "confirm_password": "second password 2",
        "next": f"/console/repositories/{repo}/-/images"})
    # still signed in (with a session bound to the new password), at the page first asked for
    assert response.url.path == f"/console/repositories/{repo}/-/images"
    assert "Your password has been changed." in text_of(response)
    assert "Signed in as newhire" in text_of(browser.get("/console/repositories"))
    profile = directory.store.login_profile(_user_id(app, "newhire"))
    assert profile is not None and profile.password_reset_required is False
    assert profile.failed_attempts == 0
    assert browser.get("/console/change-password").url.path == "/console/change-password"

    browser.post("/console/signout")
    assert sign_in_with_password(browser, "newhire", "first password 1").status_code == 401
    response = sign_in_with_password(browser, "newhire", "second password 2")
    assert response.url.path == "/console/repositories"
    assert 'href="/console/change-password"' in response.text


def test_changing_a_password_without_a_reset_needs_iam_change_password(
        app: DockyardApp, browser: Browser) -> None:
    directory, permissions = app.services.directory, app.services.permissions
    assert directory is not None and permissions is not None
    make_user(app, "dev2", READ_ONLY)
    directory.create_login_profile(admin_principal(app), "dev2", "first password 1")
    assert sign_in_with_password(browser, "dev2", "first password 1").url.path == \
        "/console/repositories"
    browser.get("/console/change-password")
    form = {"old_password": "first password 1", "new_password": "second password 2",
            "confirm_password": "second password 2"}
    response = browser.post("/console/change-password", form)
    assert response.status_code == 403 and "iam:ChangePassword" in text_of(response)
    permissions.attach(admin_principal(app), USER, "dev2",
                       "arn:aws:iam::aws:policy/IAMUserChangePassword")
    response = browser.post("/console/change-password", form)
    assert response.url.path == "/console/repositories"
    assert "Signed in as dev2" in text_of(response)


def test_an_access_key_session_is_not_asked_for_a_new_password(
        app: DockyardApp, browser: Browser) -> None:
    directory = app.services.directory
    assert directory is not None
    key_id, secret = make_user(app, "keyuser", READ_ONLY)
    directory.create_login_profile(admin_principal(app), "keyuser", "first password 1",
                                   reset_required=True)
    assert browser.sign_in(key_id, secret).url.path == "/console/repositories"
    assert browser.get("/console/iam/users").url.path == "/console/iam/users"


def _user_id(app: DockyardApp, name: str) -> str:
    row = app.services.identity.store.principal_by_name("user", name)
    assert row is not None
    return row.id


# --- repositories -------------------------------------------------------------------------------
def test_create_a_repository_with_all_options_and_delete_it(admin: Browser, ecr: Ecr) -> None:
    admin.get("/console/repositories/new")
    response = admin.post("/console/repositories/new", {
        "name": "team/web", "mutability": "IMMUTABLE_WITH_EXCLUSION", "exclusions": "latest\ndev-*",
        "scan_on_push": "on", "encryption": "KMS", "kms_key": "alias/dockyard",
        "tags": "team=web\nenv=prod"})
    assert response.url.path == "/console/repositories/team/web/-/images"
    assert "Created private repository team/web." in response.text
    repo = ecr.ok("DescribeRepositories", repositoryNames=["team/web"])["repositories"][0]
    assert repo["imageTagMutability"] == "IMMUTABLE_WITH_EXCLUSION"
    assert [f["filter"] for f in repo["imageTagMutabilityExclusionFilters"]] == ["latest", "dev-*"]
    assert repo["imageScanningConfiguration"]["scanOnPush"] is True
    assert repo["encryptionConfiguration"] == {"encryptionType": "KMS", "kmsKey": "alias/dockyard"}

    listing = admin.get("/console/repositories?q=web")
    assert "team/web" in listing.text and "Immutable" in listing.text
    assert "testserver/team/web" in listing.text or "team/web</code>" in listing.text
    assert "team/web" not in admin.get("/console/repositories?q=nomatch").text

    page = admin.get("/console/repositories/team/web/-/delete")
    response = admin.post("/console/repositories/team/web/-/delete", {"confirm": "wrong"})
    assert response.status_code == 400 and "Type the repository name" in response.text
    assert "team/web" in repository_names(ecr)
    assert page.status_code == 200
    response = admin.post("/console/repositories/team/web/-/delete", {"confirm": "team/web"})
    assert response.url.path == "/console/repositories"
    assert "Deleted repository team/web." in response.text
    assert "team/web" not in repository_names(ecr)


def test_a_public_repository_is_on_the_public_tab_and_anyone_may_pull(
        admin: Browser, oci: Oci) -> None:
    admin.get("/console/repositories/new")
    response = admin.post("/console/repositories/new", {
        "name": "open/tools", "visibility": "public", "mutability": "MUTABLE",
        "encryption": "AES256"})
    assert "Created public repository open/tools." in response.text
    admin.post("/console/repositories/new", {"name": "closed/tools", "mutability": "MUTABLE",
                                             "encryption": "AES256"})
    public = admin.get("/console/repositories?tab=public")
    private = admin.get("/console/repositories?tab=private")
    assert ">open/tools<" in public.text and ">closed/tools<" not in public.text
    assert ">closed/tools<" in private.text and ">open/tools<" not in private.text
    image = oci_image("pub")
    oci.push_image("open/tools", image, "v1")
    oci.push_image("closed/tools", image, "v1")
    assert oci.get("/v2/open/tools/manifests/v1", auth=None).status_code == 200
    assert oci.get("/v2/closed/tools/manifests/v1", auth=None).status_code == 401
    # and back to private in the settings
    admin.get("/console/repositories/open/tools/-/settings")
    admin.post("/console/repositories/open/tools/-/settings",
               {"mutability": "MUTABLE", "visibility": "private"})
    assert ">open/tools<" not in admin.get("/console/repositories?tab=public").text


def test_validation_messages_sit_next_to_their_fields(admin: Browser, ecr: Ecr) -> None:
    admin.get("/console/repositories/new")
    response = admin.post("/console/repositories/new", {"name": "Bad Name", "mutability": "MUTABLE",
                                                        "encryption": "AES256"})
    assert response.status_code == 400
    assert re.search(r'id="name-error"[^>]*>[^<]*repositoryName', response.text)
    assert 'value="Bad Name"' in response.text  # what was typed is kept
    response = admin.post("/console/repositories/new", {
        "name": "ok-name", "mutability": "IMMUTABLE_WITH_EXCLUSION", "exclusions": "",
        "encryption": "AES256"})
    assert response.status_code == 400 and 'id="exclusions-error"' in response.text
    response = admin.post("/console/repositories/new", {
        "name": "ok-name", "mutability": "MUTABLE", "encryption": "AES256", "kms_key": "k"})
    assert response.status_code == 400 and 'id="kms_key-error"' in response.text
    admin.post("/console/repositories/new", {"name": "ok-name", "mutability": "MUTABLE",
                                             "encryption": "AES256"})
    admin.get("/console/repositories/new")
    response = admin.post("/console/repositories/new", {"name": "ok-name", "mutability": "MUTABLE",
                                                        "encryption": "AES256"})
    assert response.status_code == 400 and "already exists" in response.text
    assert 'id="name-error"' in response.text
    assert repository_names(ecr) == ["ok-name"]


def test_edit_settings(admin: Browser, ecr: Ecr, repo: str) -> None:
    admin.get(f"/console/repositories/{repo}/-/settings")
    response = admin.post(f"/console/repositories/{repo}/-/settings",
                          {"mutability": "IMMUTABLE", "scan_on_push": "on"})
    assert "Settings saved." in response.text
    found = ecr.ok("DescribeRepositories", repositoryNames=[repo])["repositories"][0]
    assert found["imageTagMutability"] == "IMMUTABLE"
    assert found["imageScanningConfiguration"]["scanOnPush"] is True
    response = admin.post(f"/console/repositories/{repo}/-/settings",
                          {"mutability": "MUTABLE_WITH_EXCLUSION", "exclusions": "bad filter!"})
    assert response.status_code == 400 and 'id="exclusions-error"' in response.text


def test_a_repository_with_images_is_deleted_only_with_force(admin: Browser, ecr: Ecr, oci: Oci,
                                                             repo: str) -> None:
    oci.push_image(repo, oci_image("f"), "v1")
    page = admin.get(f"/console/repositories/{repo}/-/delete")
    assert "1 image" in text_of(page) and 'name="force"' in page.text
    response = admin.post(f"/console/repositories/{repo}/-/delete", {"confirm": repo})
    assert response.status_code == 400 and "still contains images" in response.text
    response = admin.post(f"/console/repositories/{repo}/-/delete",
                          {"confirm": repo, "force": "on"})
    assert "Deleted repository team/app and its 1 image." in response.text
    assert repo not in repository_names(ecr)


def test_push_commands_name_this_registry(admin: Browser, app: DockyardApp, repo: str) -> None:
    settings = app.services.settings
    page = text_of(admin.get(f"/console/repositories/{repo}/-/push-commands"))
    host, endpoint = settings.registry_host, settings.endpoint
    assert (f"aws ecr get-login-password --region {REGION} --endpoint-url {endpoint} | "
            f"docker login --username AWS --password-stdin {host}") in page
    assert f"docker build -t {repo} ." in page
    assert f"docker tag {repo}:latest {host}/{repo}:latest" in page
    assert f"docker push {host}/{repo}:latest" in page
    assert f"AWS_ENDPOINT_URL={endpoint}" in page
    assert (f"podman login --username AWS --password-stdin --tls-verify=false {host}") in page
    assert f"podman push --tls-verify=false {host}/{repo}:latest" in page


# --- images -------------------------------------------------------------------------------------
def test_images_list_detail_and_delete_selected(admin: Browser, oci: Oci, repo: str) -> None:
    first, second = oci_image("one", layers=2), oci_image("two")
    oci.push_image(repo, first, "v1")
    oci.push_image(repo, second, "v2")
    page = admin.get(f"/console/repositories/{repo}/-/images")
    for image, tag in ((first, "v1"), (second, "v2")):
        assert f'data-digest="{image.digest}"' in page.text
        assert f'<span class="tag">{tag}</span>' in page.text
    assert "Not scanned" in page.text
    assert page.text.index("v2") < page.text.index("v1")  # newest first
    ascending = admin.get(f"/console/repositories/{repo}/-/images?sort=pushed&order=asc")
    assert ascending.text.index(">v1<") < ascending.text.index(">v2<")
    filtered = admin.get(f"/console/repositories/{repo}/-/images?q=v2")
    assert second.digest in filtered.text and first.digest not in filtered.text

    detail = admin.get(f"/console/repositories/{repo}/-/images/{first.digest}")
    assert detail.status_code == 200
    assert "Layers" in detail.text and text_of(detail).count("application/vnd.oci.image.layer") == 2
    assert first.digest in detail.text and "This image has not been scanned." in detail.text

    response = admin.post(f"/console/repositories/{repo}/-/images/delete", {"image": first.digest})
    assert "Deleted 1 image." in response.text
    assert f'data-digest="{first.digest}"' not in response.text
    assert f'data-digest="{second.digest}"' in response.text
    assert oci.head(f"/v2/{repo}/manifests/v1").status_code == 404


def test_an_index_shows_its_platforms_and_an_image_its_referrers(admin: Browser, oci: Oci,
                                                                 repo: str) -> None:
    amd, arm = oci_image("amd"), oci_image("arm")
    for child in (amd, arm):
        oci.push_image(repo, child)
    index = index_of([amd, arm])
    oci.push_image(repo, index, "multi")
    signature = oci_image("sig", subject=amd, artifact_type="application/vnd.dev.cosign.sig")
    oci.push_image(repo, signature)

    page = admin.get(f"/console/repositories/{repo}/-/images/{index.digest}")
    assert "Platforms" in page.text and "linux/arch0" in page.text and "linux/arch1" in page.text
    assert f'href="/console/repositories/{repo}/-/images/{amd.digest}"' in page.text
    page = admin.get(f"/console/repositories/{repo}/-/images/{amd.digest}")
    assert "application/vnd.dev.cosign.sig" in page.text and signature.digest[:19] in page.text
    listing = admin.get(f"/console/repositories/{repo}/-/images?tagged=untagged")
    assert f'data-digest="{index.digest}"' not in listing.text
    assert f'data-digest="{signature.digest}"' in listing.text


def test_scan_button_starts_a_scan(admin: Browser, oci: Oci, repo: str) -> None:
    image = oci_image("scan-me")
    oci.push_image(repo, image, "v1")
    admin.get(f"/console/repositories/{repo}/-/images/{image.digest}")
    response = admin.post(f"/console/repositories/{repo}/-/images/{image.digest}/scan")
    assert "Scan started" in response.text
    assert 'id="scan-status"' in response.text
    # a second manual scan within 24 hours is refused, with ECR's message
    response = admin.post(f"/console/repositories/{repo}/-/images/{image.digest}/scan")
    assert "scan quota" in response.text


# --- policies -----------------------------------------------------------------------------------
def test_lifecycle_rule_builder_save_and_preview(admin: Browser, ecr: Ecr, repo: str) -> None:
    url = f"/console/repositories/{repo}/-/lifecycle"
    admin.get(url)
    built = admin.post(url, {"action": "add_rule", "policy": "", "priority": "1",
                             "description": "keep a few", "tag_status": "untagged",
                             "count_type": "imageCountMoreThan", "count_number": "3"})
    assert built.status_code == 200
    text = unescape(re.search(r'<textarea id="policy"[^>]*>([^<]*)</textarea>', built.text)[1])
    assert '"countNumber": 3' in text and '"tagStatus": "untagged"' in text
    saved = admin.post(url, {"action": "save", "policy": text})
    assert "Lifecycle policy saved." in saved.text
    stored = ecr.ok("GetLifecyclePolicy", repositoryName=repo)["lifecyclePolicyText"]
    assert '"countNumber": 3' in stored
    preview = admin.post(url, {"action": "preview", "policy": text})
    assert "Preview started" in preview.text and 'id="preview-status"' in preview.text
    bad = admin.post(url, {"action": "save", "policy": "{not json"})
    assert bad.status_code == 400 and "not valid JSON" in bad.text


def test_repository_policy_editor_validates(admin: Browser, ecr: Ecr, repo: str,
                                            registry_id: str) -> None:
    url = f"/console/repositories/{repo}/-/permissions"
    admin.get(url)
    bad = admin.post(url, {"action": "save", "policy": '{"Statement": '})
    assert bad.status_code == 400 and "not valid JSON" in bad.text
    invalid = admin.post(url, {"action": "save", "policy": '{"Version": "2012-10-17"}'})
    assert invalid.status_code == 400 and "Invalid repository policy" in unescape(invalid.text)
    policy = ('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": '
              f'{{"AWS": "arn:aws:iam::{registry_id}:root"}}, "Action": "ecr:BatchGetImage"}}]}}')
    saved = admin.post(url, {"action": "save", "policy": policy})
    assert "Repository policy saved." in saved.text
    assert ecr.ok("GetRepositoryPolicy", repositoryName=repo)["policyText"] == policy


# --- permissions: the services decide -----------------------------------------------------------
def test_a_read_only_user_sees_data_but_cannot_create_or_delete(
        app: DockyardApp, other_client: TestClient, ecr: Ecr, repo: str) -> None:
    key_id, secret = make_user(app, "reader", READ_ONLY)
    reader = Browser(other_client)
    assert reader.sign_in(key_id, secret).url.path == "/console/repositories"
    listing = reader.get("/console/repositories")
    assert repo in listing.text
    assert "Create repository" not in listing.text
    page = reader.get(f"/console/repositories/{repo}/-/images")
    assert page.status_code == 200
    assert 'href="/console/repositories/team/app/-/delete"' not in page.text
    assert "Delete selected" not in page.text
    # the services refuse, whatever the page showed
    reader.get("/console/repositories/new")
    response = reader.post("/console/repositories/new", {"name": "mine", "mutability": "MUTABLE",
                                                         "encryption": "AES256"})
    assert response.status_code in (400, 403) and "not authorized to perform: " \
        "ecr:CreateRepository" in unescape(response.text)
    response = reader.post(f"/console/repositories/{repo}/-/delete", {"confirm": repo})
    assert response.status_code == 403 and "ecr:DeleteRepository" in response.text
    assert repository_names(ecr) == [repo]


def test_a_user_without_permissions_sees_errors_not_data(
        app: DockyardApp, other_client: TestClient, repo: str) -> None:
    key_id, secret = make_user(app, "nobody")
    user = Browser(other_client)
    user.sign_in(key_id, secret)
    listing = user.get("/console/repositories")
    assert "ecr:DescribeRepositories" in listing.text and f">{repo}<" not in listing.text
    page = user.get(f"/console/repositories/{repo}/-/images")
    assert page.status_code == 403 and "not authorized" in page.text
    assert user.get("/console/iam/users").text.count("iam:ListUsers") >= 1


def test_administrators_manage_iam_users(admin: Browser, app: DockyardApp) -> None:
    admin.get("/console/iam/users")
    response = admin.post("/console/iam/users", {"user_name": "ci"})
    assert response.url.path == "/console/iam/users/ci"
    response = admin.post("/console/iam/users/ci/access-keys")
    key_id = re.search(r'id="new-key-id">([A-Z0-9]+)<', response.text)[1]
    secret = unescape(re.search(r'id="new-key-secret">([^<]+)<', response.text)[1])
    identity = app.services.identity
    key = identity.store.access_key(key_id)
    assert key is not None and identity.box.decrypt(key.secret_encrypted).decode() == secret
    response = admin.post(f"/console/iam/users/ci/access-keys/{key_id}", {"action": "deactivate"})
    assert identity.store.access_key(key_id).status == "Inactive"  # type: ignore[union-attr]
    response = admin.post("/console/iam/users/ci/groups",
                          {"action": "attach", "policy_arn": READ_ONLY})
    assert READ_ONLY in response.text


def test_cookies_are_secure_when_the_registry_is_served_over_https(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from dockyard.app import bootstrap, create_app

    from .conftest import make_settings

    settings = make_settings(tmp_path / "https-data").model_copy(
        update={"public_url": "https://registry.example.com"})
    bootstrap(settings)
    with TestClient(create_app(settings), base_url="https://registry.example.com") as client:
        browser = Browser(client)
        response = browser.sign_in()
        assert response.url.path == "/console/repositories"
        cookie = next(c for c in response.history[-1].headers.get_list("set-cookie")
                      if c.startswith(SESSION_COOKIE + "="))
        assert "Secure" in cookie and "HttpOnly" in cookie
        page = text_of(browser.get("/console/repositories/new"))
        assert "registry.example.com/" in page
