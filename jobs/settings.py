"""Configuration: ``ASSETGEN_*`` environment variables, read once into a Settings object.

Unset means the embedded default: a SQLite file, kombu's SQLAlchemy transport on a
SQLite file as the Celery broker, and a local folder as the bucket, all under
``ASSETGEN_HOME``. Nothing here is read at import time: call ``load_settings()``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, get_args

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parents[1]

# A job's priority: one broker queue each, consumed in this order, strictly (jobs.broker.celery).
Priority = Literal["urgent", "normal", "bulk"]
PRIORITIES: tuple[str, ...] = get_args(Priority)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ASSETGEN_", frozen=True, extra="ignore")

    # Folder holding the embedded defaults (SQLite files, local bucket).
    home: Path = Path(".assetgen")
    # SQLAlchemy URL; default sqlite:///<home>/assetgen.db.
    database_url: str | None = None
    # Celery broker URL; default: kombu's SQLAlchemy transport on <home>/broker.db (no server
    # needed).
    broker_url: str | None = None
    # Bucket: s3://bucket/prefix, or a local folder (path or file:// URL); default <home>/bucket.
    storage_url: str | None = None
    # Endpoint for MinIO / moto / any S3-compatible store (None = AWS).
    s3_endpoint_url: str | None = None
    s3_region: str = "us-east-1"
    # Model used when a job names "default": a checkpoint folder (safetensors + JSON).
    default_model: Path = REPO_ROOT / "default_model"
    # Built-in models: a job naming one (no @version) gets the folder of that name under this one
    # (e.g. models/fashion-mnist-32/); the same folder as gan.builtin_models.BUILTIN_MODELS.
    builtin_models: Path = REPO_ROOT / "models"
    # The x4 upscaler of models that carry none (a folder with upscaler.safetensors +
    # upscaler.json): a model folder or a published version with its own upscaler uses that one.
    default_upscaler: Path = REPO_ROOT / "default_model"
    # Prefix of the Celery queue names (lets several deployments share one Redis).
    queue: str = "assetgen"
    # Images a worker generates in one forward pass.
    batch_size: int = Field(default=256, ge=1, le=4096)
    # Most small queued items (same model) a worker claims together to share forward passes.
    coalesce_items: int = Field(default=64, ge=0, le=1024)
    # Celery worker processes per `assetgen worker` (one per GPU in production).
    worker_concurrency: int = Field(default=1, ge=1, le=64)
    # Where workers run the generator: auto = CUDA when present, else the CPU.
    device: Literal["auto", "cpu", "cuda"] = "auto"
    # Generator arithmetic: auto = bf16 autocast where the hardware has it (measured 1.3-1.4x faster
    # on these CPUs, at most 1 grey level of difference in <1% of pixels), else fp32.
    precision: Literal["auto", "fp32", "bf16"] = "auto"
    # Images per upscaler pass in the worker's upscale stage. 0: one on the CPU, where oneDNN
    # picks other kernels for other batch shapes (measured: 1-level differences in a few pixels),
    # so one image per pass keeps the bytes independent of how work was batched (and measured no
    # slower); 16 on CUDA.
    upscale_batch_size: int = Field(default=0, ge=0, le=1024)
    # torch intra-op threads per worker process (measured: one thread per process is fastest on
    # small models).
    torch_threads: int = Field(default=1, ge=1, le=256)
    # Seconds a claimed work item stays leased to its worker before the sweeper may re-queue it.
    lease_seconds: int = Field(default=600, ge=5)
    # Queued work unclaimed this long is re-published by the sweeper (its message may be lost).
    republish_after_seconds: float = Field(default=120, gt=0)
    # Bulk work queued longer than this is re-announced as normal priority (ageing: never starved).
    bulk_ageing_seconds: float = Field(default=600, gt=0)
    # Seconds between sweeper passes.
    sweep_interval_seconds: float = Field(default=5, gt=0)
    # Recycle a worker process whose resident memory grows past this (MiB).
    worker_max_memory_mb: int = Field(default=4096, ge=64)
    # ... and whose CUDA memory (reserved by torch) grows past this (MiB).
    worker_max_gpu_memory_mb: int = Field(default=8192, ge=64)
    # S3 client timeouts (seconds); retries use botocore's standard mode with this many attempts.
    s3_connect_timeout: float = Field(default=5, gt=0)
    s3_read_timeout: float = Field(default=30, gt=0)
    s3_max_attempts: int = Field(default=5, ge=1, le=20)
    # Attempts a work item gets before it fails for good.
    max_attempts: int = Field(default=3, ge=1, le=20)
    # Hard limit on work items per job (validated at submit time).
    max_items_per_job: int = Field(default=1_000, ge=1)

    # ---- HTTP API (`assetgen api`) and webhooks
    # Seconds a presigned asset / manifest URL returned by the API stays valid (keep it short).
    presign_seconds: int = Field(default=900, ge=1, le=7 * 24 * 3600)
    # Largest request body the API reads; a larger one is refused with 413 (the default takes a
    # 50,000-row catalogue-fill spec, or a catalogue file of up to 40 MB in one:
    # jobs.specs.MAX_SPEC_BYTES).
    api_max_body_bytes: int = Field(default=48_000_000, ge=1_024)
    # Per-client token bucket (in-process, per API process): sustained requests per second and burst
    # size.
    api_rate_per_second: float = Field(default=10.0, gt=0)
    api_rate_burst: int = Field(default=40, ge=1)
    # How long an Idempotency-Key and its first response are kept (at least 24 h).
    idempotency_ttl_seconds: int = Field(default=48 * 3600, ge=24 * 3600)
    # Base URL put in front of the /v1 links of webhook events (e.g. https://assetgen.example.com);
    # unset: relative.
    api_public_url: str | None = None
    # HMAC key for webhook events of jobs submitted without an API client (CLI / Python); API
    # clients have their own.
    webhook_secret: SecretStr | None = None
    # Allow webhook targets on private, loopback and link-local addresses (SSRF guard; tests and
    # closed networks).
    webhook_allow_private: bool = False
    # Seconds one webhook POST may take.
    webhook_timeout_seconds: float = Field(default=10, gt=0, le=120)
    # First retry delay of a failed webhook (seconds); doubles every attempt, capped at
    # webhook_backoff_max_seconds.
    webhook_backoff_seconds: float = Field(default=30, gt=0)
    webhook_backoff_max_seconds: float = Field(default=3600, gt=0)
    # Attempts before a delivery is given up (the defaults span about 8 hours).
    webhook_max_attempts: int = Field(default=15, ge=1, le=100)

    def resolved_home(self) -> Path:
        return self.home.expanduser().resolve()

    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{self.resolved_home() / 'assetgen.db'}"

    def celery_broker_url(self) -> str:
        return self.broker_url or f"assetgen-sqla+sqlite:///{self.resolved_home() / 'broker.db'}"

    def bucket_url(self) -> str:
        return self.storage_url or str(self.resolved_home() / "bucket")


def load_settings(**overrides) -> Settings:
    """Read the environment once; keyword overrides win (tests and the demo use them)."""
    settings = Settings(**overrides)
    if settings.db_url().startswith("sqlite") or settings.storage_url is None:
        settings.resolved_home().mkdir(parents=True, exist_ok=True)
    return settings
