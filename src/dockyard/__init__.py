"""Dockyard: a self-hosted, open-source Amazon ECR."""

__version__ = "0.1.0"
