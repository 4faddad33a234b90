"""Configuration: ``ASSETGEN_*`` environment variables, read once into a Settings object.

Unset means the embedded default: a SQLite file, kombu's SQLAlchemy transport on a
SQLite file as the Celery broker, and a local folder as the bucket, all under
``ASSETGEN_HOME``. Nothing here is read at import time: call ``load_settings()``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parents[1]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ASSETGEN_", frozen=True, extra="ignore")

    # Folder holding the embedded defaults (SQLite files, local bucket).
    home: Path = Path(".assetgen")
    # SQLAlchemy URL; default sqlite:///<home>/assetgen.db.
    database_url: str | None = None
    # Celery broker URL; default: kombu's SQLAlchemy transport on <home>/broker.db (no server needed).
    broker_url: str | None = None
    # Bucket: s3://bucket/prefix, or a local folder (path or file:// URL); default <home>/bucket.
    storage_url: str | None = None
    # Endpoint for MinIO / moto / any S3-compatible store (None = AWS).
    s3_endpoint_url: str | None = None
    s3_region: str = "us-east-1"
    # Model used when a job names "default": a checkpoint folder (safetensors + JSON).
    default_model: Path = REPO_ROOT / "default_model"
    # Prefix of the Celery queue names (lets several deployments share one Redis).
    queue: str = "assetgen"
    # Images a worker generates in one forward pass.
    batch_size: int = Field(default=256, ge=1, le=4096)
    # Celery worker processes per `assetgen worker` (one per GPU in production).
    worker_concurrency: int = Field(default=1, ge=1, le=64)
    # Where workers run the generator: auto = CUDA when present, else the CPU.
    device: Literal["auto", "cpu", "cuda"] = "auto"
    # torch intra-op threads per worker process (measured: one thread per process is fastest on small models).
    torch_threads: int = Field(default=1, ge=1, le=256)
    # Seconds a claimed work item stays leased to its worker before the sweeper may re-queue it.
    lease_seconds: int = Field(default=600, ge=5)
    # Attempts a work item gets before it fails for good.
    max_attempts: int = Field(default=3, ge=1, le=20)
    # Hard limit on work items per job (validated at submit time).
    max_items_per_job: int = Field(default=1_000, ge=1)

    def resolved_home(self) -> Path:
        return self.home.expanduser().resolve()

    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{self.resolved_home() / 'assetgen.db'}"

    def celery_broker_url(self) -> str:
        return self.broker_url or f"assetgen-sqla+sqlite:///{self.resolved_home() / 'broker.db'}"

    def bucket_url(self) -> str:
        return self.storage_url or str(self.resolved_home() / "bucket")

    def is_embedded(self) -> bool:
        return self.db_url().startswith("sqlite")


def load_settings(**overrides) -> Settings:
    """Read the environment once; keyword overrides win (tests and the demo use them)."""
    settings = Settings(**overrides)
    if settings.db_url().startswith("sqlite") or settings.storage_url is None:
        settings.resolved_home().mkdir(parents=True, exist_ok=True)
    return settings
