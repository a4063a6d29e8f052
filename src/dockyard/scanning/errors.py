"""Errors of the scanning API (names from botocore's ECR model), in Dockyard's one error tree."""

from __future__ import annotations

from dockyard.errors import InvalidParameter, NotFound


class ScanNotFound(NotFound):
    aws_type = "ScanNotFoundException"


class UnsupportedImageType(InvalidParameter):
    aws_type = "UnsupportedImageTypeException"
