"""Console sessions, CSRF tokens, the sign-in back-off, and the push commands text."""

from __future__ import annotations

import pytest

from dockyard.console.push_commands import push_commands
from dockyard.console.sessions import ACCESS_KEY, SessionCodec
from dockyard.console.signin import FREE_FAILURES, MAX_DELAY, LoginThrottle, TooManyAttempts

KEY = b"k" * 32


def test_a_session_round_trips_and_expires() -> None:
    codec = SessionCodec(KEY)
    session, cookie = codec.issue(ACCESS_KEY, "AKIAEXAMPLE", "AIDAEXAMPLE", 1000, ttl=60)
    assert codec.verify(cookie, 1059) == session
    assert codec.verify(cookie, 1060) is None


def test_a_changed_or_foreign_session_is_refused() -> None:
    codec = SessionCodec(KEY)
    _, cookie = codec.issue(ACCESS_KEY, "AKIAEXAMPLE", "AIDAEXAMPLE", 1000)
    payload, mac = cookie.split(".")
    assert SessionCodec(b"x" * 32).verify(cookie, 1001) is None
    assert codec.verify(payload + "." + mac[::-1], 1001) is None
    assert codec.verify(payload.replace("A", "B", 1) + "." + mac, 1001) is None
    assert codec.verify("garbage", 1001) is None and codec.verify(None, 1001) is None
    # a value signed for another purpose (a flash message) is not a session
    assert codec.verify(codec.sign("flash", {"m": "hi"}), 1001) is None


def test_csrf_tokens_are_bound_to_the_session() -> None:
    codec = SessionCodec(KEY)
    token = codec.csrf_token("nonce-1")
    assert codec.check_csrf("nonce-1", token)
    assert not codec.check_csrf("nonce-2", token)
    assert not codec.check_csrf("nonce-1", "") and not codec.check_csrf(None, token)


def test_failed_sign_ins_back_off_exponentially() -> None:
    now = [0.0]
    throttle = LoginThrottle(clock=lambda: now[0])
    for _ in range(FREE_FAILURES - 1):
        throttle.check("ip:a", "key:k")
        throttle.failed("ip:a", "key:k")
    throttle.check("ip:a")
    throttle.failed("ip:a", "key:k")  # the FREE_FAILURES-th failure: wait 2 s
    with pytest.raises(TooManyAttempts) as raised:
        throttle.check("key:k")
    assert raised.value.wait == 2
    now[0] = 2.0
    throttle.check("key:k")
    throttle.failed("key:k")
    with pytest.raises(TooManyAttempts) as raised:
        throttle.check("key:k")
    assert raised.value.wait == 4
    for _ in range(20):
        throttle.failed("key:k")
    with pytest.raises(TooManyAttempts) as raised:
        throttle.check("key:k")
    assert raised.value.wait == MAX_DELAY
    throttle.succeeded("key:k")
    throttle.check("key:k")
    throttle.check("ip:other")


def test_push_commands_for_http_and_https() -> None:
    docker, podman = push_commands(repository="team/app", region="eu-west-1",
                                   endpoint="http://10.0.0.5:5000", host="10.0.0.5:5000")
    commands = [s.command for s in docker.steps]
    assert commands == [
        "aws ecr get-login-password --region eu-west-1 --endpoint-url http://10.0.0.5:5000 | "
        "docker login --username AWS --password-stdin 10.0.0.5:5000",
        "docker build -t team/app .",
        "docker tag team/app:latest 10.0.0.5:5000/team/app:latest",
        "docker push 10.0.0.5:5000/team/app:latest",
    ]
    assert any("insecure-registries" in n for n in docker.notes)
    assert "--tls-verify=false" in podman.steps[0].command
    assert podman.steps[3].command == "podman push --tls-verify=false 10.0.0.5:5000/team/app:latest"
    docker, podman = push_commands(repository="app", region="us-east-1",
                                   endpoint="https://registry.example.com",
                                   host="registry.example.com")
    assert not any("insecure" in n for n in docker.notes)
    assert all("tls-verify" not in s.command for s in podman.steps)
