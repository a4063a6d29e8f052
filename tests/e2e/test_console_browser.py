"""The web console in a real browser: headless Chromium (Debian's ``chromium``, driven by
Playwright; no browser download) against the live session server.

The seed walk-through: sign in with the administrator's key, create a private immutable repository
that scans on push, open "View push commands" and run exactly those commands (aws + docker login,
build, tag, push), see the image with its tag and scan result, set a lifecycle policy and preview
it, delete the repository. And a read-only IAM user is shown no way to create or delete.

Screenshots of the main pages are saved in a temporary directory (printed in the test output), or
in ``$DOCKYARD_SCREENSHOTS_DIR`` (``docs/screenshots`` holds the ones ``docs/console.md`` links).
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from .clients import REQUIRED, Docker
from .images import build_context, unique
from .servers import REGION, DockyardProcess

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
READ_ONLY = "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly"
DONE_SCANS = ("COMPLETE", "ACTIVE", "UNSUPPORTED_IMAGE", "FAILED")


def _skip_or_fail(message: str) -> None:
    if REQUIRED:
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _skip_or_fail("playwright not installed (pip install -e '.[test]')")
    if not os.path.exists(CHROMIUM):
        _skip_or_fail("chromium not installed (apt-get install chromium; make system-tools)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS,
                                             headless=True)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    configured = os.environ.get("DOCKYARD_SCREENSHOTS_DIR")
    path = Path(configured) if configured else tmp_path_factory.mktemp("console-screenshots")
    path.mkdir(parents=True, exist_ok=True)
    print(f"console screenshots: {path}")
    return path


@pytest.fixture
def page(chromium: Any) -> Iterator[Any]:
    context = chromium.new_context(viewport={"width": 1360, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.on("dialog", lambda dialog: dialog.accept())  # "Delete ...?" confirmations
    try:
        yield page
    finally:
        context.close()


def sign_in(page: Any, server: DockyardProcess, key_id: str, secret: str) -> None:
    page.goto(server.endpoint + "/")
    page.get_by_label("Access key ID").fill(key_id)
    page.get_by_label("Secret access key").fill(secret)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/console/repositories")


def run_shell(command: str, env: dict[str, str], cwd: Path) -> str:
    result = subprocess.run(["bash", "-o", "pipefail", "-c", command], env=env, cwd=cwd,
                            capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, f"{command}\n{result.stdout}\n{result.stderr}"
    return result.stdout + result.stderr


def reload_until(page: Any, selector: str, done: Any, timeout: float = 90) -> str:
    """Reload until the text of ``selector`` satisfies ``done``; that text."""
    deadline = time.monotonic() + timeout
    while True:
        text = page.locator(selector).first.inner_text().strip()
        if done(text) or time.monotonic() > deadline:
            return text
        time.sleep(1)
        page.reload()


def test_seed_walkthrough_in_the_browser(page: Any, dockyard_server: DockyardProcess,
                                         docker: Docker, ecr: Any, shots: Path,
                                         tmp_path: Path) -> None:
    server = dockyard_server
    name = unique("console/web")
    assert server.access_key_id and server.secret_access_key

    # sign in with the administrator's access key
    page.goto(server.endpoint + "/")
    page.screenshot(path=str(shots / "signin.png"))
    sign_in(page, server, server.access_key_id, server.secret_access_key)
    assert "admin" in page.locator("header .who").inner_text()

    # create a private repository: immutable tags, scan on push
    page.get_by_role("link", name="Create repository").first.click()
    page.get_by_label("Repository name").fill(name)
    page.get_by_label("Image tag mutability").select_option("IMMUTABLE")
    page.get_by_label("Scan on push").check()
    page.screenshot(path=str(shots / "create-repository.png"), full_page=True)
    page.get_by_role("button", name="Create", exact=True).click()
    page.wait_for_url(f"**/console/repositories/{name}/-/images")
    assert f"Created private repository {name}." in page.locator(".flash").inner_text()
    created = ecr.describe_repositories(repositoryNames=[name])["repositories"][0]
    assert created["imageTagMutability"] == "IMMUTABLE"
    assert created["imageScanningConfiguration"]["scanOnPush"] is True

    # "View push commands", and run exactly those commands
    page.get_by_role("link", name="View push commands").first.click()
    page.wait_for_url("**/-/push-commands")
    page.screenshot(path=str(shots / "push-commands.png"), full_page=True)
    commands = [c.strip() for c in page.locator('code.cmd[data-tool="docker"]').all_inner_texts()]
    assert len(commands) == 4, commands
    assert commands[0].startswith(f"aws ecr get-login-password --region {REGION} --endpoint-url "
                                  f"{server.endpoint} | docker login")
    context = build_context(tmp_path / "ctx", layers=1, files_per_layer=1, file_size=4096)
    env = docker.env()
    env.update({"AWS_ACCESS_KEY_ID": server.access_key_id,
                "AWS_SECRET_ACCESS_KEY": server.secret_access_key,
                "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
                "AWS_EC2_METADATA_DISABLED": "true", "AWS_PAGER": ""})
    assert "Login Succeeded" in run_shell(commands[0], env, context.path)
    for command in commands[1:]:
        run_shell(command, env, context.path)

    # the image appears with its tag and, once scanned, its scan result
    page.get_by_role("link", name="Images", exact=True).first.click()
    status = reload_until(page, "#images td.scan-status", lambda t: t in DONE_SCANS)
    assert status in DONE_SCANS, status
    row = page.locator("#images tbody tr").first
    assert "latest" in row.locator("td.tags").inner_text()
    digest = row.get_attribute("data-digest")
    assert digest and digest.startswith("sha256:")
    page.screenshot(path=str(shots / "images.png"), full_page=True)
    row.locator("td.digest a").click()
    page.wait_for_url(f"**/-/images/{digest}")
    assert page.locator("#scan-status").inner_text() in DONE_SCANS
    page.screenshot(path=str(shots / "image-detail.png"), full_page=True)

    # lifecycle: build a rule, save it, preview it
    page.get_by_role("link", name="Lifecycle policy").click()
    page.get_by_label("Image status").select_option("any")
    page.get_by_label("Match criteria").select_option("imageCountMoreThan")
    page.get_by_label("Count (images or days)").fill("5")
    page.get_by_role("button", name="Add rule").click()
    policy = json.loads(page.get_by_label("Policy JSON").input_value())
    assert policy["rules"][0]["selection"]["countNumber"] == 5
    page.get_by_role("button", name="Save policy").click()
    assert "Lifecycle policy saved." in page.locator(".flash").inner_text()
    page.get_by_role("button", name="Preview").click()
    assert reload_until(page, "#preview-status", lambda t: t == "COMPLETE") == "COMPLETE"
    assert page.locator("#preview-total").inner_text() == "0"  # one image, count > 5
    page.screenshot(path=str(shots / "lifecycle.png"), full_page=True)
    stored = ecr.get_lifecycle_policy(repositoryName=name)["lifecyclePolicyText"]
    assert json.loads(stored)["rules"][0]["selection"]["countNumber"] == 5

    page.goto(server.endpoint + "/console/repositories")
    page.screenshot(path=str(shots / "repositories.png"), full_page=True)

    # delete the repository through the UI (it holds an image: force)
    page.get_by_role("link", name=name, exact=True).click()
    page.get_by_role("link", name="Delete", exact=True).click()
    page.get_by_label("To confirm, type the repository name").fill(name)
    page.get_by_label("Also delete the images (force)").check()
    page.get_by_role("button", name="Delete repository").click()
    page.wait_for_url("**/console/repositories")
    assert f"Deleted repository {name} and its 1 image." in page.locator(".flash").inner_text()
    with pytest.raises(ecr.exceptions.RepositoryNotFoundException):
        ecr.describe_repositories(repositoryNames=[name])


def admin_iam(server: DockyardProcess) -> Any:
    """boto3's IAM client with the server's administrator key."""
    return boto3.client("iam", region_name=REGION, endpoint_url=server.endpoint,
                        aws_access_key_id=server.access_key_id,
                        aws_secret_access_key=server.secret_access_key,
                        config=Config(retries={"max_attempts": 1}))


def test_a_read_only_user_cannot_create_or_delete(page: Any, dockyard_server: DockyardProcess,
                                                  ecr: Any, shots: Path) -> None:
    server = dockyard_server
    iam = admin_iam(server)
    user = unique("reader")
    iam.create_user(UserName=user)
    iam.attach_user_policy(UserName=user, PolicyArn=READ_ONLY)
    key = iam.create_access_key(UserName=user)["AccessKey"]
    name = unique("console/ro")
    ecr.create_repository(repositoryName=name)
    try:
        sign_in(page, server, key["AccessKeyId"], key["SecretAccessKey"])
        assert user in page.locator("header .who").inner_text()
        assert page.get_by_role("link", name="Create repository").count() == 0
        page.get_by_role("link", name=name, exact=True).click()
        page.wait_for_url(f"**/{name}/-/images")
        assert page.get_by_role("link", name="Delete", exact=True).count() == 0
        page.screenshot(path=str(shots / "read-only.png"), full_page=True)
        # typing the URLs does not help: the services refuse
        page.goto(f"{server.endpoint}/console/repositories/{name}/-/delete")
        page.get_by_label("To confirm, type the repository name").fill(name)
        page.get_by_role("button", name="Delete repository").click()
        assert "not authorized to perform: ecr:DeleteRepository" in page.inner_text("main")
        page.goto(f"{server.endpoint}/console/repositories/new")
        page.get_by_label("Repository name").fill(unique("mine"))
        page.get_by_role("button", name="Create", exact=True).click(force=True)
        assert ecr.describe_repositories(repositoryNames=[name])["repositories"]
    finally:
        ecr.delete_repository(repositoryName=name, force=True)


def test_a_password_that_requires_a_reset_is_changed_at_sign_in(
        page: Any, dockyard_server: DockyardProcess, shots: Path) -> None:
    server = dockyard_server
    iam = admin_iam(server)
    user = unique("newhire")
    iam.create_user(UserName=user)
    iam.attach_user_policy(UserName=user, PolicyArn=READ_ONLY)
    iam.create_login_profile(UserName=user, Password="first password 1",
                             PasswordResetRequired=True)
    page.goto(server.endpoint + "/console/signin?method=password")
    page.get_by_label("IAM user name").fill(user)
    page.get_by_label("Password", exact=True).fill("first password 1")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/console/change-password?next=**")
    assert "must be changed before you continue" in page.inner_text("main")
    page.screenshot(path=str(shots / "change-password.png"), full_page=True)
    page.goto(server.endpoint + "/console/repositories")  # nothing else opens meanwhile
    page.wait_for_url("**/console/change-password?next=**")
    page.get_by_label("Current password").fill("first password 1")
    page.get_by_label("New password", exact=True).fill("second password 2")
    page.get_by_label("Confirm new password").fill("second password 3")
    page.get_by_role("button", name="Change password").click()
    assert "do not match" in page.inner_text("main")
    page.get_by_label("Current password").fill("first password 1")
    page.get_by_label("New password", exact=True).fill("second password 2")
    page.get_by_label("Confirm new password").fill("second password 2")
    page.get_by_role("button", name="Change password").click()
    page.wait_for_url("**/console/repositories")
    assert "Your password has been changed." in page.inner_text("main")
    assert user in page.locator("header .who").inner_text()
    assert iam.get_login_profile(UserName=user)["LoginProfile"]["PasswordResetRequired"] is False
