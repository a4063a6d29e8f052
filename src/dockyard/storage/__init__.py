"""Blob storage drivers (content-addressed, immutable objects)."""
