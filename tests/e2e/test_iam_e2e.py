"""IAM end to end, with the real aws CLI (`aws iam`, `aws sts`, `aws ecr`) and real docker, podman
and skopeo against the live server: issue 4's "How it is shown" walk-through.

- a read-only user logs in with `get-login-password | docker login`, pulls, cannot push or create;
- a repository policy grants push to a user that only holds `ecr:GetAuthorizationToken`;
- an explicit Deny on one repository overrides `AmazonEC2ContainerRegistryFullAccess`;
- an assumed role's temporary credentials (session token) work for the API and for docker;
- a public repository pulls anonymously (podman, skopeo), nothing else is anonymous;
- an `aws:SourceIp` condition refuses a request from a non-matching source;
- `dockyard audit` shows the refusals with the caller's ARN.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from .clients import Docker, aws, output, pushed_digest, skopeo
from .iam_fixtures import (
    PUSH_ACTIONS,
    Identity,
    access_denied,
    create_user,
    document,
    dockyard_cli,
    pipe_login,
    user_docker,
)
from .images import build_context, unique
from .servers import REGION, DockyardProcess

pytestmark = pytest.mark.e2e

AUTHZ_CACHE_SECONDS = 2  # the server caches repository visibility and policies this long
AUDIT_FLUSH_SECONDS = 1  # the server writes queued audit records about every second
MANIFEST_TYPES = ("application/vnd.docker.distribution.manifest.v2+json, "
                  "application/vnd.oci.image.manifest.v1+json")


@pytest.fixture(scope="module")
def image(docker: Docker, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """One small image (FROM scratch, one COPY of one small file) in the suite's dockerd:
    (local tag, image id)."""
    context = build_context(tmp_path_factory.mktemp("iam-image") / "ctx", layers=1,
                            files_per_layer=1, file_size=8 * 1024)
    tag = "dockyard-iam-e2e:v1"
    return tag, docker.build(context.path, tag)


@pytest.fixture
def docker_as(dockerd: Docker) -> Iterator:  # type: ignore[type-arg]
    """docker CLIs of other people: same dockerd, each with its own DOCKER_CONFIG."""
    made: list[Docker] = []

    def make(name: str) -> Docker:
        made.append(user_docker(dockerd, name))
        return made[-1]

    yield make
    for d in made:
        shutil.rmtree(d.config_dir, ignore_errors=True)


def _ensure_local(docker: Docker, image: tuple[str, str], source: str) -> None:
    """Put the local tag back (a fresh pull removes the image from the shared dockerd)."""
    tag, image_id = image
    if not docker.has_image(tag):
        docker("pull", source)
        docker("tag", source, tag)
    assert docker.image_id(tag) == image_id


def publish(server: DockyardProcess, docker: Docker, image: tuple[str, str], prefix: str,
            ) -> tuple[str, str, str]:
    """As the administrator: `aws ecr create-repository` + docker push of the image as :v1.
    (repository name, repository ARN, pushed manifest digest)."""
    repo = unique(prefix)
    created = json.loads(aws(server.env(), "ecr", "create-repository",
                             "--repository-name", repo).stdout)["repository"]
    ref = f"{server.host}/{repo}:v1"
    docker("tag", image[0], ref)
    digest = pushed_digest(output(docker("push", ref)))
    docker("image", "rm", ref)
    return repo, created["repositoryArn"], digest


def pull_fresh(as_docker: Docker, admin_docker: Docker, image: tuple[str, str], ref: str,
               digest: str) -> None:
    """`docker pull ref` by ``as_docker`` on a dockerd that no longer holds the image (so the
    manifest, config and layer are all downloaded), then the local tag is put back."""
    tag, image_id = image
    admin_docker("image", "rm", "--force", image_id)
    assert not admin_docker.has_image(tag)
    pulled = as_docker("pull", ref)
    assert f"Digest: {digest}" in pulled.stdout, output(pulled)
    assert as_docker.image_id(ref) == image_id
    admin_docker("tag", ref, tag)
    admin_docker("image", "rm", ref)


def refused_push(as_docker: Docker, image: tuple[str, str], ref: str) -> str:
    as_docker("tag", image[0], ref)
    try:
        result = as_docker("push", ref, check=False)
    finally:
        as_docker("image", "rm", ref)
    text = output(result)
    assert result.returncode != 0, text
    assert "denied" in text.lower(), text
    return text


def refused_pull(as_docker: Docker, ref: str) -> str:
    result = as_docker("pull", ref, check=False)
    text = output(result)
    assert result.returncode != 0, text
    return text


# --- a. AmazonEC2ContainerRegistryReadOnly: log in, pull, but no push and no create ---------------
@pytest.fixture
def reader(dockyard_server: DockyardProcess) -> Identity:
    return create_user(dockyard_server, "iam-reader",
                       managed=("AmazonEC2ContainerRegistryReadOnly",))


def test_read_only_user_pulls_but_cannot_push(dockyard_server: DockyardProcess, docker: Docker,
                                              docker_as, image: tuple[str, str],
                                              reader: Identity) -> None:
    server = dockyard_server
    repo, repo_arn, digest = publish(server, docker, image, "iam-readonly")
    env = reader.env(server)

    attached = json.loads(aws(server.env(), "iam", "list-attached-user-policies",
                              "--user-name", reader.name).stdout)["AttachedPolicies"]
    assert [p["PolicyName"] for p in attached] == ["AmazonEC2ContainerRegistryReadOnly"]
    caller = json.loads(aws(env, "sts", "get-caller-identity").stdout)
    assert caller["Arn"] == reader.arn

    # the read-only user lists and describes
    listed = json.loads(aws(env, "ecr", "describe-images", "--repository-name", repo).stdout)
    assert [d["imageDigest"] for d in listed["imageDetails"]] == [digest]

    # aws ecr get-login-password | docker login, then docker pull
    as_reader = docker_as(reader.name)
    pipe_login(server, reader, as_reader)
    pull_fresh(as_reader, docker, image, f"{server.host}/{repo}:v1", digest)

    # docker push is refused (DENIED)
    text = refused_push(as_reader, image, f"{server.host}/{repo}:by-reader")
    assert f"User: {reader.arn} is not authorized to perform: ecr:" in text, text
    tags = json.loads(aws(server.env(), "ecr", "list-images", "--repository-name",
                          repo).stdout)["imageIds"]
    assert {i.get("imageTag") for i in tags} == {"v1"}

    # aws ecr create-repository is refused with AWS's message
    refused = aws(env, "ecr", "create-repository", "--repository-name", unique("iam-nope"),
                  check=False)
    message = access_denied(refused, "ecr:CreateRepository")
    assert f"User: {reader.arn} is not authorized to perform: ecr:CreateRepository" in message
    # and so is every other write
    access_denied(aws(env, "ecr", "batch-delete-image", "--repository-name", repo,
                      "--image-ids", "imageTag=v1", check=False), "ecr:BatchDeleteImage")
    assert repo_arn in access_denied(
        aws(env, "ecr", "delete-repository", "--repository-name", repo, check=False),
        "ecr:DeleteRepository")


# --- b. a repository policy grants push to a user with only ecr:GetAuthorizationToken ------------
def test_repository_policy_grants_push_to_a_second_user(dockyard_server: DockyardProcess,
                                                        docker: Docker, docker_as,
                                                        image: tuple[str, str]) -> None:
    server = dockyard_server
    admin = server.env()
    pusher = create_user(server, "iam-pusher", inline={"token-only": document(
        {"Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"})})
    inline = json.loads(aws(admin, "iam", "list-user-policies", "--user-name",
                            pusher.name).stdout)["PolicyNames"]
    assert inline == ["token-only"]

    granted, other = unique("iam-granted"), unique("iam-other")
    for repo in (granted, other):
        aws(admin, "ecr", "create-repository", "--repository-name", repo)
    policy = document({"Sid": "PushFromPusher", "Effect": "Allow",
                       "Principal": {"AWS": pusher.arn}, "Action": PUSH_ACTIONS})
    aws(admin, "ecr", "set-repository-policy", "--repository-name", granted,
        "--policy-text", policy)
    stored = json.loads(aws(admin, "ecr", "get-repository-policy", "--repository-name",
                            granted).stdout)
    assert json.loads(stored["policyText"])["Statement"][0]["Principal"] == {"AWS": pusher.arn}

    as_pusher = docker_as(pusher.name)
    pipe_login(server, pusher, as_pusher)

    # push to the granted repository works (its layers came from a repository the user cannot
    # read: a cross-repository mount must not be what decides)
    ref = f"{server.host}/{granted}:v1"
    as_pusher("tag", image[0], ref)
    digest = pushed_digest(output(as_pusher("push", ref)))
    as_pusher("image", "rm", ref)
    images = json.loads(aws(admin, "ecr", "describe-images", "--repository-name",
                            granted).stdout)["imageDetails"]
    assert [(d["imageDigest"], d["imageTags"]) for d in images] == [(digest, ["v1"])]

    # push to another repository is refused, and nothing lands there
    text = refused_push(as_pusher, image, f"{server.host}/{other}:v1")
    assert f"User: {pusher.arn} is not authorized to perform: ecr:" in text, text
    assert json.loads(aws(admin, "ecr", "list-images", "--repository-name",
                          other).stdout)["imageIds"] == []
    # the policy grants nothing on the API beyond its actions
    access_denied(aws(pusher.env(server), "ecr", "describe-repositories", check=False),
                  "ecr:DescribeRepositories")


# --- c. an explicit Deny on one repository overrides AmazonEC2ContainerRegistryFullAccess ---------
def test_explicit_deny_overrides_full_access(dockyard_server: DockyardProcess, docker: Docker,
                                             docker_as, image: tuple[str, str]) -> None:
    server = dockyard_server
    closed, closed_arn, _ = publish(server, docker, image, "iam-closed")
    open_, _, open_digest = publish(server, docker, image, "iam-open")
    user = create_user(server, "iam-full", managed=("AmazonEC2ContainerRegistryFullAccess",),
                       inline={"deny-one-repository": document(
                           {"Effect": "Deny", "Action": "ecr:*", "Resource": closed_arn})})
    env = user.env(server)

    as_user = docker_as(user.name)
    pipe_login(server, user, as_user)
    text = refused_pull(as_user, f"{server.host}/{closed}:v1")
    assert "denied" in text.lower(), text
    assert "explicit deny" in text, text
    pull_fresh(as_user, docker, image, f"{server.host}/{open_}:v1", open_digest)

    # the ECR API says the same
    message = access_denied(aws(env, "ecr", "describe-images", "--repository-name", closed,
                                check=False), "ecr:DescribeImages")
    assert f"on resource: {closed_arn}" in message and "explicit deny" in message, message
    aws(env, "ecr", "describe-images", "--repository-name", open_)
    listed = json.loads(aws(env, "ecr", "describe-repositories").stdout)["repositories"]
    names = {r["repositoryName"] for r in listed}
    assert open_ in names and closed not in names


# --- d. an assumed role's temporary credentials --------------------------------------------------
def test_assumed_role_credentials(dockyard_server: DockyardProcess, docker: Docker, docker_as,
                                  image: tuple[str, str]) -> None:
    server = dockyard_server
    admin = server.env()
    repo, _, digest = publish(server, docker, image, "iam-role")
    user = create_user(server, "iam-assumer")  # no policy of its own
    access_denied(aws(user.env(server), "ecr", "describe-repositories", check=False),
                  "ecr:DescribeRepositories")

    role_name = unique("iam-e2e-role")
    trust = document({"Effect": "Allow", "Principal": {"AWS": user.arn},
                      "Action": "sts:AssumeRole"})
    role = json.loads(aws(admin, "iam", "create-role", "--role-name", role_name,
                          "--assume-role-policy-document", trust).stdout)["Role"]
    aws(admin, "iam", "attach-role-policy", "--role-name", role_name, "--policy-arn",
        "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPowerUser")
    account = role["Arn"].split(":")[4]
    assert role["Arn"] == f"arn:aws:iam::{account}:role/{role_name}"

    before = datetime.now(timezone.utc)
    assumed = json.loads(aws(user.env(server), "sts", "assume-role", "--role-arn", role["Arn"],
                             "--role-session-name", "e2e-session",
                             "--duration-seconds", "900").stdout)
    credentials = assumed["Credentials"]
    assert credentials["AccessKeyId"].startswith("ASIA")
    expiration = datetime.fromisoformat(credentials["Expiration"].replace("Z", "+00:00"))
    assert before + timedelta(seconds=880) <= expiration <= before + timedelta(seconds=960)
    session_arn = f"arn:aws:sts::{account}:assumed-role/{role_name}/e2e-session"
    assert assumed["AssumedRoleUser"]["Arn"] == session_arn
    session = Identity(role_name, session_arn, credentials["AccessKeyId"],
                       credentials["SecretAccessKey"], credentials["SessionToken"])
    env = session.env(server)

    caller = json.loads(aws(env, "sts", "get-caller-identity").stdout)
    assert caller["Arn"] == session_arn
    assert caller["Account"] == account
    listed = json.loads(aws(env, "ecr", "describe-repositories", "--repository-names",
                            repo).stdout)["repositories"]
    assert [r["repositoryName"] for r in listed] == [repo]

    as_role = docker_as(role_name)
    pipe_login(server, session, as_role)
    pull_fresh(as_role, docker, image, f"{server.host}/{repo}:v1", digest)

    # the session token is part of the credentials: without it the key is unknown
    tokenless = {k: v for k, v in env.items() if k != "AWS_SESSION_TOKEN"}
    failed = aws(tokenless, "ecr", "describe-repositories", check=False)
    assert failed.returncode != 0
    assert "UnrecognizedClientException" in output(failed), output(failed)
    # PowerUser is not FullAccess: the role cannot delete repositories
    access_denied(aws(env, "ecr", "delete-repository", "--repository-name", repo, check=False),
                  "ecr:DeleteRepository")
    # a user the trust policy does not name cannot assume the role
    stranger = create_user(server, "iam-stranger", managed=("AmazonEC2ContainerRegistryFullAccess",))
    refused = aws(stranger.env(server), "sts", "assume-role", "--role-arn", role["Arn"],
                  "--role-session-name", "nope", check=False)
    assert refused.returncode != 0 and "AccessDenied" in output(refused), output(refused)


# --- e. public repositories: anonymous pulls, and nothing else anonymous -------------------------
def test_public_repository_pulls_anonymously(dockyard_server: DockyardProcess, docker: Docker,
                                             image: tuple[str, str], podman_factory) -> None:
    server = dockyard_server
    public, _, digest = publish(server, docker, image, "iam-public")
    private, _, _ = publish(server, docker, image, "iam-private")

    changed = dockyard_cli(server, "repository", "visibility", public, "public")
    assert "public" in changed.stdout
    listing = dockyard_cli(server, "repository", "list").stdout
    rows = {line.split()[0]: line for line in listing.splitlines() if line.strip()}
    assert "public" in rows[public] and "private" in rows[private], listing
    time.sleep(AUTHZ_CACHE_SECONDS + 1)

    # podman on a machine that never logged in
    podman = podman_factory("anon")
    # REGISTRY_AUTH_FILE must exist for podman: an empty one, no login anywhere
    (podman.base / "auth.json").write_text('{"auths": {}}')
    podman("pull", "--tls-verify=false", f"{server.host}/{public}:v1")
    assert podman("image", "inspect", "--format", "{{.Digest}}",
                  f"{server.host}/{public}:v1").stdout.strip() == digest

    # anonymous callers list a public repository's tags too (skopeo inspect reads the list)
    inspected = json.loads(skopeo("inspect", "--no-creds", "--tls-verify=false",
                                  f"docker://{server.host}/{public}:v1").stdout)
    assert inspected["Digest"] == digest and inspected["RepoTags"] == ["v1"]

    # what containers/image sends without a login, `Authorization: Basic Og==` (empty user and
    # password), is anonymous: the public manifest is served, the private one is challenged
    empty = {"Authorization": "Basic Og==", "Accept": MANIFEST_TYPES}
    assert httpx.get(f"{server.endpoint}/v2/{public}/manifests/v1",
                     headers=empty).status_code == 200
    challenged = httpx.get(f"{server.endpoint}/v2/{private}/manifests/v1", headers=empty)
    assert challenged.status_code == 401
    assert challenged.headers["www-authenticate"].startswith("Basic ")

    # a push without login fails, even to the public repository
    podman("tag", f"{server.host}/{public}:v1", f"{server.host}/{public}:anonymous")
    pushed = podman("push", "--tls-verify=false", f"{server.host}/{public}:anonymous",
                    check=False)
    assert pushed.returncode != 0, output(pushed)
    tags = json.loads(aws(server.env(), "ecr", "list-images", "--repository-name",
                          public).stdout)["imageIds"]
    assert {i.get("imageTag") for i in tags} == {"v1"}

    # a private repository's anonymous pull is unauthorized
    pulled = podman("pull", "--tls-verify=false", f"{server.host}/{private}:v1", check=False)
    assert pulled.returncode != 0
    assert "401" in output(pulled) or "unauthorized" in output(pulled).lower(), output(pulled)
    inspected = skopeo("inspect", "--no-creds", "--no-tags", "--tls-verify=false",
                       f"docker://{server.host}/{private}:v1", check=False)
    assert inspected.returncode != 0
    assert "401" in output(inspected) or "unauthorized" in output(inspected).lower(), \
        output(inspected)


# --- f. an aws:SourceIp condition ----------------------------------------------------------------
def test_source_ip_condition_refuses_other_sources(dockyard_server: DockyardProcess) -> None:
    server = dockyard_server
    # Allow only from 10.0.0.0/8: a request from 127.0.0.1 is not allowed (implicit deny)
    only_ten = create_user(server, "iam-ip-allow", inline={"allow-from-10": document(
        {"Effect": "Allow", "Action": "ecr:*", "Resource": "*",
         "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}})})
    access_denied(aws(only_ten.env(server), "ecr", "describe-repositories", check=False),
                  "ecr:DescribeRepositories")

    # FullAccess, with a Deny of everything not from 10.0.0.0/8: explicitly refused
    deny_outside = create_user(server, "iam-ip-deny", managed=(
        "AmazonEC2ContainerRegistryFullAccess",), inline={"deny-outside-10": document(
            {"Effect": "Deny", "Action": "ecr:*", "Resource": "*",
             "Condition": {"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}}})})
    message = access_denied(aws(deny_outside.env(server), "ecr", "describe-repositories",
                                check=False), "ecr:DescribeRepositories")
    assert "explicit deny" in message, message

    # the controls: the same documents naming 127.0.0.1 let the request through
    from_here = create_user(server, "iam-ip-here", inline={"allow-from-localhost": document(
        {"Effect": "Allow", "Action": "ecr:*", "Resource": "*",
         "Condition": {"IpAddress": {"aws:SourceIp": "127.0.0.1/32"}}})})
    aws(from_here.env(server), "ecr", "describe-repositories")
    deny_not_here = create_user(server, "iam-ip-local", managed=(
        "AmazonEC2ContainerRegistryFullAccess",), inline={"deny-outside-localhost": document(
            {"Effect": "Deny", "Action": "ecr:*", "Resource": "*",
             "Condition": {"NotIpAddress": {"aws:SourceIp": "127.0.0.1/32"}}})})
    aws(deny_not_here.env(server), "ecr", "describe-repositories")


# --- g. the audit trail shows the refusals with the caller's ARN -----------------------------------
def test_audit_trail_records_denials(dockyard_server: DockyardProcess, docker: Docker, docker_as,
                                     image: tuple[str, str], reader: Identity) -> None:
    server = dockyard_server
    repo, repo_arn, _ = publish(server, docker, image, "iam-audited")
    env = reader.env(server)
    access_denied(aws(env, "ecr", "create-repository", "--repository-name", unique("iam-nope"),
                      check=False), "ecr:CreateRepository")
    as_reader = docker_as(reader.name)
    pipe_login(server, reader, as_reader)
    refused_push(as_reader, image, f"{server.host}/{repo}:by-reader")
    time.sleep(AUDIT_FLUSH_SECONDS + 1)

    result = dockyard_cli(server, "audit", "--json", "--limit", "50",
                          "--principal", reader.name)
    records = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    assert records, result.stdout + result.stderr
    assert all(r["userIdentity"]["arn"] == reader.arn for r in records), records
    assert reader.secret_access_key not in result.stdout

    shown = json.dumps(records, indent=1)
    denied = [r for r in records if r["decision"].lower() == "deny"]
    create = [r for r in denied if r["eventName"] == "CreateRepository"]
    assert len(create) == 1, shown
    assert create[0]["eventSource"] == "ecr.amazonaws.com"
    assert create[0]["userIdentity"]["accessKeyId"] == reader.access_key_id
    assert create[0]["sourceIPAddress"] == "127.0.0.1"
    assert create[0]["errorCode"] == "AccessDeniedException"
    assert create[0]["awsRegion"] == REGION and create[0]["requestID"]

    # the refused docker push, from the registry door, on the repository's ARN
    pushes = [r for r in denied if f"ecr:{r['eventName']}" in PUSH_ACTIONS
              and r["resources"] == [{"ARN": repo_arn}]]
    assert pushes, shown
    assert pushes[0]["eventSource"] == "registry"
    assert pushes[0]["sourceIPAddress"] == "127.0.0.1", shown
    # the allowed calls are there too
    allowed = [r for r in records if r["decision"].lower() == "allow"]
    assert any(r["eventName"] == "GetAuthorizationToken" for r in allowed), shown

    # What issue 4 and docs/iam.md promise of every record, collected so that one run shows
    # every deviation at once.
    problems = []
    spellings = {r["decision"] for r in records}
    if not spellings <= {"Allow", "Deny"}:  # docs/iam.md; dockyard.domain.audit.ALLOW/DENY
        problems.append(f"decision spelled {sorted(spellings)}, documented as Allow/Deny")
    # the registry password carries its access key (docs/architecture.md): a push is recorded
    # with the access key id like an API call
    if pushes[0]["userIdentity"]["accessKeyId"] != reader.access_key_id:
        problems.append(f"registry record without the access key id: {pushes[0]['userIdentity']}")
    assert not problems, "\n".join(problems) + "\n" + shown
