"""One error hierarchy, rendered two ways.

Every error Dockyard raises on purpose is a ``DockyardError``. Each class declares how the OCI
Distribution edge renders it (``oci_code`` + ``http_status``) and how the AWS edge renders it
(``aws_type`` + ``aws_status``; names from botocore's service models). Services and drivers raise
these; only the front doors turn them into HTTP bodies.
"""

from __future__ import annotations

from typing import Any


class DockyardError(Exception):
    oci_code = "UNKNOWN"
    http_status = 500
    aws_type = "ServerException"
    aws_status = 500

    def __init__(self, message: str, detail: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail


# --- request validation -----------------------------------------------------------------------
class InvalidParameter(DockyardError):
    oci_code, http_status = "UNSUPPORTED", 400
    aws_type, aws_status = "InvalidParameterException", 400


class ValidationError(InvalidParameter):
    """A request field breaks a constraint of the service model (length, pattern, range)."""

    aws_type = "ValidationException"


class NameInvalid(InvalidParameter):
    oci_code = "NAME_INVALID"


class TagInvalid(InvalidParameter):
    oci_code = "TAG_INVALID"


class DigestInvalid(InvalidParameter):
    oci_code = "DIGEST_INVALID"
    aws_type = "InvalidLayerException"


class ImageDigestMismatch(DigestInvalid):
    aws_type = "ImageDigestDoesNotMatchException"


class ManifestInvalid(InvalidParameter):
    oci_code = "MANIFEST_INVALID"


class SizeInvalid(InvalidParameter):
    oci_code = "SIZE_INVALID"


class ManifestTooLarge(ManifestInvalid):
    oci_code, http_status = "SIZE_INVALID", 413


class PaginationInvalid(InvalidParameter):
    oci_code = "PAGINATION_NUMBER_INVALID"


class RangeInvalid(InvalidParameter):
    oci_code, http_status = "BLOB_UPLOAD_INVALID", 416
    aws_type = "InvalidLayerPartException"


class RangeNotSatisfiable(RangeInvalid):
    """A download's Range lies outside the blob (answered with ``Content-Range: bytes */size``)."""


class RouteUnknown(DockyardError):
    oci_code, http_status = "UNSUPPORTED", 404
    aws_type, aws_status = "UnknownOperationException", 404


class UploadInvalid(InvalidParameter):
    oci_code = "BLOB_UPLOAD_INVALID"
    aws_type = "InvalidLayerPartException"


class UnknownOperation(InvalidParameter):
    aws_type = "UnknownOperationException"


class InvalidTagParameter(InvalidParameter):
    """A resource tag (key or value) breaks ECR's tagging rules."""

    aws_type = "InvalidTagParameterException"


class TooManyTags(InvalidParameter):
    """A resource would carry more tags than ECR allows (50)."""

    aws_type = "TooManyTagsException"


class Unsupported(DockyardError):
    oci_code, http_status = "UNSUPPORTED", 405
    aws_type, aws_status = "UnsupportedOperationException", 400


# --- not found --------------------------------------------------------------------------------
class NotFound(DockyardError):
    oci_code, http_status = "NAME_UNKNOWN", 404
    aws_status = 400


class RepositoryNotFound(NotFound):
    aws_type = "RepositoryNotFoundException"


class ManifestUnknown(NotFound):
    oci_code = "MANIFEST_UNKNOWN"
    aws_type = "ImageNotFoundException"


class BlobUnknown(NotFound):
    oci_code = "BLOB_UNKNOWN"
    aws_type = "LayersNotFoundException"


class ManifestBlobUnknown(BlobUnknown):
    """A manifest refers to a blob or child manifest the repository does not hold."""

    oci_code, http_status = "MANIFEST_BLOB_UNKNOWN", 400


class ReferencedImagesNotFound(ManifestBlobUnknown):
    aws_type = "ReferencedImagesNotFoundException"


class UploadUnknown(NotFound):
    oci_code = "BLOB_UPLOAD_UNKNOWN"
    aws_type = "UploadNotFoundException"


class AccessKeyNotFound(NotFound):
    aws_type = "NoSuchEntity"


class RepositoryPolicyNotFound(NotFound):
    aws_type = "RepositoryPolicyNotFoundException"


class RegistryPolicyNotFound(NotFound):
    aws_type = "RegistryPolicyNotFoundException"


# --- conflicts --------------------------------------------------------------------------------
class Conflict(DockyardError):
    oci_code, http_status = "DENIED", 409
    aws_status = 400


class RepositoryAlreadyExists(Conflict):
    aws_type = "RepositoryAlreadyExistsException"


class RepositoryNotEmpty(Conflict):
    aws_type = "RepositoryNotEmptyException"


class ImageTagAlreadyExists(Conflict):
    """A push would move a tag in an immutable repository (ECR answers docker with TAG_INVALID)."""

    oci_code, http_status = "TAG_INVALID", 400
    aws_type = "ImageTagAlreadyExistsException"


class ImageAlreadyExists(Conflict):
    aws_type = "ImageAlreadyExistsException"


class LayerAlreadyExists(Conflict):
    aws_type = "LayerAlreadyExistsException"


class EmptyUpload(InvalidParameter):
    oci_code = "BLOB_UPLOAD_INVALID"
    aws_type = "EmptyUploadException"


class ImageReferencedByManifestList(Conflict):
    aws_type = "ImageReferencedByManifestListException"


class LimitExceeded(DockyardError):
    oci_code, http_status = "DENIED", 400
    aws_type, aws_status = "LimitExceededException", 400


# --- authentication and authorization ---------------------------------------------------------
class Unauthenticated(DockyardError):
    """No usable credentials: the OCI edge answers 401 with a Basic challenge."""

    oci_code, http_status = "UNAUTHORIZED", 401
    aws_type, aws_status = "MissingAuthenticationTokenException", 403


class IncompleteSignature(Unauthenticated):
    aws_type = "IncompleteSignatureException"


class InvalidSignature(Unauthenticated):
    aws_type = "InvalidSignatureException"


class UnrecognizedClient(Unauthenticated):
    aws_type = "UnrecognizedClientException"


class ExpiredToken(Unauthenticated):
    aws_type = "ExpiredTokenException"


class AccessDenied(DockyardError):
    oci_code, http_status = "DENIED", 403
    aws_type, aws_status = "AccessDeniedException", 400


class ServerError(DockyardError):
    oci_code, http_status = "UNKNOWN", 500
    aws_type, aws_status = "ServerException", 500


# --- IAM and STS (query APIs; names and statuses from botocore's iam/sts models) ----------------
class NoSuchEntity(NotFound):
    aws_type, aws_status = "NoSuchEntity", 404


class EntityAlreadyExists(Conflict):
    aws_type, aws_status = "EntityAlreadyExists", 409


class DeleteConflict(Conflict):
    aws_type, aws_status = "DeleteConflict", 409


class IamLimitExceeded(LimitExceeded):
    aws_type, aws_status = "LimitExceeded", 409


class MalformedPolicyDocument(InvalidParameter):
    aws_type = "MalformedPolicyDocument"


class InvalidInput(InvalidParameter):
    aws_type = "InvalidInput"


class PasswordPolicyViolation(InvalidParameter):
    aws_type = "PasswordPolicyViolation"


class PackedPolicyTooLarge(InvalidParameter):
    aws_type = "PackedPolicyTooLarge"


class InvalidUserType(InvalidParameter):
    """ChangePassword called with credentials that are not an IAM user's (root, a role)."""

    aws_type = "InvalidUserType"


class IncorrectPassword(AccessDenied):
    """ChangePassword's ``OldPassword`` is not the user's password: AWS's model names no error
    of its own for this, so it is the generic ``AccessDenied`` (403)."""


# --- lifecycle policies and storage quotas (issue 6; names from botocore's ECR model) -----------
class LifecyclePolicyNotFound(NotFound):
    aws_type = "LifecyclePolicyNotFoundException"


class LifecyclePolicyPreviewNotFound(NotFound):
    aws_type = "LifecyclePolicyPreviewNotFoundException"


class LifecyclePolicyPreviewInProgress(Conflict):
    aws_type = "LifecyclePolicyPreviewInProgressException"


class QuotaExceeded(LimitExceeded):
    """A push would take a repository past its storage quota (bytes or image count)."""

    oci_code, http_status = "DENIED", 403
