"""dockyard.domain.names: ECR repository names (botocore's model) and OCI tags."""

from __future__ import annotations

import botocore.session
import pytest

from dockyard.domain.names import MAX_NAME, MIN_NAME, validate_repository_name, validate_tag
from dockyard.errors import NameInvalid, TagInvalid


def test_limits_are_ecr_s() -> None:
    shape = botocore.session.get_session().get_service_model("ecr").shape_for("RepositoryName")
    assert (MIN_NAME, MAX_NAME) == (shape.metadata["min"], shape.metadata["max"]) == (2, 256)


@pytest.mark.parametrize("name", [
    "ab",
    "a1",
    "app",
    "team/app",
    "a/b/c/d",
    "my-repo",
    "my.repo",
    "my_repo",
    "0/1",
    "a" * 256,
    "/".join(["abc"] * 64),  # 255 characters
])
def test_valid_names(name: str) -> None:
    assert validate_repository_name(name) == name


@pytest.mark.parametrize("name", ["a__b", "a--b", "a---b", "team__x/sub--y"])
def test_names_with_double_underscore_and_dash_runs_are_valid(name: str) -> None:
    """botocore's ECR model (and the OCI grammar): ``[a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*`` per component."""
    assert validate_repository_name(name) == name


@pytest.mark.parametrize("name", [
    "",
    "a",
    "a" * 257,
    "Upper",
    "team/App",
    "a..b",
    "a._b",
    "a___b",
    "a/",
    "/a",
    "a//b",
    "-ab",
    "ab-",
    ".ab",
    "ab.",
    "_ab",
    "a b",
    "a:b",
    "a@b",
    "a/-b",
    "a/b_",
    "ab\n",
    "äb",
])
def test_invalid_names(name: str) -> None:
    with pytest.raises(NameInvalid) as info:
        validate_repository_name(name)
    assert info.value.oci_code == "NAME_INVALID"
    assert info.value.aws_type == "InvalidParameterException"


def test_non_string_name_is_invalid() -> None:
    with pytest.raises(NameInvalid):
        validate_repository_name(None)  # type: ignore[arg-type]
    with pytest.raises(NameInvalid):
        validate_repository_name(["ab"])  # type: ignore[arg-type]


def test_length_message_names_the_bounds() -> None:
    with pytest.raises(NameInvalid) as info:
        validate_repository_name("a" * 257)
    assert "2" in info.value.message and "256" in info.value.message


@pytest.mark.parametrize("tag", ["latest", "v1.0.0", "1", "_", "_private", "A-B_c.d", "a" * 128,
                                 "sha256-" + "a" * 64, "0"])
def test_valid_tags(tag: str) -> None:
    assert validate_tag(tag) == tag


@pytest.mark.parametrize("tag", ["", ".hidden", "-dash", "a" * 129, "a:b", "a/b", "a+b", "a b",
                                 "ümlaut", "tag\n"])
def test_invalid_tags(tag: str) -> None:
    with pytest.raises(TagInvalid) as info:
        validate_tag(tag)
    assert info.value.oci_code == "TAG_INVALID"


def test_non_string_tag_is_invalid() -> None:
    with pytest.raises(TagInvalid):
        validate_tag(None)  # type: ignore[arg-type]
