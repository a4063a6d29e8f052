"""One frozen settings object, from ``DOCKYARD_*`` environment variables and an optional TOML file."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import SecretStr
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DOCKYARD_", frozen=True, extra="ignore")

    host: str = "127.0.0.1"
    port: int = 5000
    workers: int = 1
    data_dir: Path = Path("./data")
    # SQLAlchemy URL; empty means SQLite at <data_dir>/dockyard.db
    database_url: str = ""
    metadata_driver: str = "sql"
    blob_driver: str = "filesystem"  # filesystem | s3
    # S3-compatible blob storage (blob_driver = "s3"; docs/configuration.md, docs/deployment.md)
    s3_endpoint_url: str = ""  # empty: AWS S3 of s3_region
    s3_bucket: str = ""
    s3_region: str = "us-east-1"
    s3_access_key_id: str | None = None  # none: boto3's usual chain (env, profile, instance role)
    s3_secret_access_key: SecretStr | None = None
    s3_prefix: str = ""  # key prefix inside the bucket, e.g. "dockyard/"
    # Blob GETs answered with a 307 to a short-lived presigned URL (true), or streamed through
    # Dockyard (false, when clients cannot reach the S3 endpoint)
    s3_redirect: bool = True
    # The S3 endpoint as clients reach it, for presigned URLs (default: s3_endpoint_url)
    s3_public_endpoint_url: str = ""
    s3_part_size: int = 8 * 1024 * 1024  # multipart upload part size (at least 5 MiB)
    region: str = "us-east-1"
    # The URL clients reach this registry at (proxyEndpoint, push commands); default http://host:port
    public_url: str = ""
    # Key that encrypts secret access keys at rest (urlsafe base64, 32 bytes); default: a key file
    # created with mode 0600 in the data directory.
    secret_key: SecretStr | None = None
    admin_access_key_id: str | None = None
    admin_secret_access_key: SecretStr | None = None
    token_ttl_seconds: int = 12 * 3600
    log_level: str = "INFO"
    upload_timeout_seconds: int = 24 * 3600
    # Lifecycle policies run this often (seconds, default daily); also `dockyard lifecycle run`
    lifecycle_interval_seconds: int = 24 * 3600
    # Garbage collection: a blob no repository references is reclaimed once it has been
    # unreferenced, and untouched by any push, for the grace period; GC runs every interval.
    gc_grace_seconds: int = 3600
    gc_interval_seconds: int = 3600
    # Run background jobs (scans, lifecycle, GC) inside the server; false when `dockyard worker` does
    jobs_in_server: bool = True
    # On SIGTERM/SIGINT requests in progress may finish for this long; then they are cut (0: at once)
    shutdown_grace_seconds: float = 30.0

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = os.environ.get("DOCKYARD_CONFIG")
        if config_file:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=config_file))
        return tuple(sources)

    @property
    def sqlalchemy_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir.resolve() / 'dockyard.db'}"

    @property
    def endpoint(self) -> str:
        if self.public_url:
            return self.public_url.rstrip("/")
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        return f"http://{host}:{self.port}"

    @property
    def registry_host(self) -> str:
        """host:port as docker sees it (``docker login <registry_host>``)."""
        return self.endpoint.split("://", 1)[-1]
