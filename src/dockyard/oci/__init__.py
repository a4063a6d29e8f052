"""The OCI Distribution front door (``/v2/``): docker, podman, skopeo, containerd."""
