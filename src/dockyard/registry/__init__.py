"""Core registry services: repositories, uploads, images (manifests, tags, referrers), blobs."""
