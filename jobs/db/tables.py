"""SQLAlchemy 2.0 models: jobs, their work items, assets and the outbox.

SQL is the source of truth. A job is split into work items (chunks of images)
that different workers can run in parallel; every image stored becomes an asset
row; messages for the broker are written to the outbox in the same transaction
as the rows they announce.
"""

from __future__ import annotations

import enum
import uuid
from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return str(uuid.uuid4())


class JobStatus(str, enum.Enum):
    queued = "queued"
    running = "running"
    succeeded = "succeeded"
    partially_failed = "partially_failed"
    failed = "failed"
    cancelled = "cancelled"


TERMINAL_JOB = {
    JobStatus.succeeded,
    JobStatus.partially_failed,
    JobStatus.failed,
    JobStatus.cancelled,
}


class ItemState(str, enum.Enum):
    queued = "queued"
    running = "running"
    succeeded = "succeeded"
    failed = "failed"
    cancelled = "cancelled"


class Base(DeclarativeBase):
    type_annotation_map = {datetime: DateTime(timezone=True), dict: JSON}


class Job(Base):
    __tablename__ = "jobs"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    kind: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(20), default=JobStatus.queued.value, index=True)
    priority: Mapped[str] = mapped_column(String(10), default="normal")
    spec: Mapped[dict] = mapped_column(JSON)
    # The model as resolved at submit time: a job never changes model mid-run.
    model_name: Mapped[str] = mapped_column(String(200))
    model_version: Mapped[str] = mapped_column(String(100))
    model_sha256: Mapped[str] = mapped_column(String(64))
    model_uri: Mapped[str] = mapped_column(Text)
    # The x4 upscaler resolved at submit (None: the job upscales nothing: upscale off, or auto
    # where no product is drawn above 2x its native size).
    upscaler_name: Mapped[str | None] = mapped_column(String(200), default=None)
    upscaler_version: Mapped[str | None] = mapped_column(String(100), default=None)
    upscaler_sha256: Mapped[str | None] = mapped_column(String(64), default=None)
    upscaler_uri: Mapped[str | None] = mapped_column(Text, default=None)
    total_items: Mapped[int] = mapped_column(Integer)
    done_items: Mapped[int] = mapped_column(Integer, default=0)
    failed_items: Mapped[int] = mapped_column(Integer, default=0)
    total_images: Mapped[int] = mapped_column(Integer)
    manifest_key: Mapped[str | None] = mapped_column(Text, default=None)
    error_code: Mapped[str | None] = mapped_column(String(64), default=None)
    error_message: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)
    # The API client that submitted the job (None: the CLI or Python); jobs are only visible to it.
    client_id: Mapped[str | None] = mapped_column(String(36), default=None, index=True)
    # Where terminal-state webhook events go (validated http/https URL; None: no webhook).
    callback_url: Mapped[str | None] = mapped_column(Text, default=None)

    items: Mapped[list[WorkItem]] = relationship(back_populates="job", order_by="WorkItem.index")


class WorkItem(Base):
    __tablename__ = "work_items"
    __table_args__ = (
        UniqueConstraint("job_id", "index"),
        Index("ix_work_items_state_lease", "state", "lease_until"),
    )

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"))
    index: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(20), default=ItemState.queued.value)
    # What to make, as planned by jobs.kinds.planning for the job's kind; "samples" is the number of
    # generator samples it needs (generate: {"label", "category", "start", "count", "samples"}).
    params: Mapped[dict] = mapped_column(JSON)
    # Fencing token: bumped by every claim; writes of an older attempt touch nothing.
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    lease_until: Mapped[datetime | None] = mapped_column(default=None)
    worker: Mapped[str | None] = mapped_column(String(200), default=None)
    done_images: Mapped[int] = mapped_column(Integer, default=0)
    error_code: Mapped[str | None] = mapped_column(String(64), default=None)
    error_message: Mapped[str | None] = mapped_column(Text, default=None)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    job: Mapped[Job] = relationship(back_populates="items")


class Asset(Base):
    __tablename__ = "assets"
    __table_args__ = (UniqueConstraint("key"), Index("ix_assets_job", "job_id"))

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"))
    item_id: Mapped[int] = mapped_column(ForeignKey("work_items.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(1024))
    sha256: Mapped[str] = mapped_column(String(64))
    bytes: Mapped[int] = mapped_column(BigInteger)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    seed: Mapped[int] = mapped_column(BigInteger)
    category: Mapped[str] = mapped_column(String(100))
    content_type: Mapped[str] = mapped_column(String(50))
    # Kind-specific facts listed in the manifest: an ad's variant and format, a catalogue SKU and
    # score.
    attrs: Mapped[dict | None] = mapped_column(JSON, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class OutboxMessage(Base):
    """A message to publish to the broker, committed with the rows it announces."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_unsent", "sent_at"),)

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    topic: Mapped[str] = mapped_column(String(50))
    payload: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(default=None)


# ------------------------------------------------------ HTTP API: clients, idempotency, webhooks


class ApiClient(Base):
    """A caller of the HTTP API. Only the sha256 of its bearer token is stored."""

    __tablename__ = "api_clients"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # Space-separated subset of "submit read admin".
    scopes: Mapped[str] = mapped_column(String(100))
    # Key of the HMAC signatures on this client's webhook events (shown once, at creation).
    webhook_secret: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    disabled_at: Mapped[datetime | None] = mapped_column(default=None)


class IdempotencyKey(Base):
    """The first response to (client, Idempotency-Key); written in the transaction that creates the
    job."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (
        UniqueConstraint("client_id", "key"),
        Index("ix_idempotency_expires", "expires_at"),
    )

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    client_id: Mapped[str] = mapped_column(String(36))
    key: Mapped[str] = mapped_column(String(255))
    # sha256 of the canonical JSON of the validated request body.
    request_hash: Mapped[str] = mapped_column(String(64))
    job_id: Mapped[str] = mapped_column(String(36))
    status_code: Mapped[int] = mapped_column(Integer)
    response: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()


class WebhookDelivery(Base):
    """One event for one job's callback_url, retried with exponential backoff until delivered or
    given up."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (Index("ix_webhook_due", "state", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    # "<job_id>:<event>": stable across retries and replays, so receivers can deduplicate.
    event_id: Mapped[str] = mapped_column(String(100))
    event: Mapped[str] = mapped_column(String(32))
    url: Mapped[str] = mapped_column(Text)
    # The exact JSON body sent on every attempt.
    payload: Mapped[dict] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(
        String(20), default="pending"
    )  # pending | delivered | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(default=utcnow)
    last_status_code: Mapped[int | None] = mapped_column(Integer, default=None)
    last_error: Mapped[str | None] = mapped_column(String(500), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(default=None)


class WebhookAttempt(Base):
    """The delivery log: one row per HTTP attempt."""

    __tablename__ = "webhook_attempts"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    delivery_id: Mapped[int] = mapped_column(
        ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), index=True
    )
    attempt: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    status_code: Mapped[int | None] = mapped_column(Integer, default=None)
    error: Mapped[str | None] = mapped_column(String(500), default=None)
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)


# ---------------------------------------------------------------- catalogue fill


class CatalogueSku(Base):
    """The catalogue state of one (valid) SKU, across jobs: missing | synthetic | real |
    rejected."""

    __tablename__ = "catalogue_skus"
    __table_args__ = (Index("ix_catalogue_skus_state", "state"),)

    sku: Mapped[str] = mapped_column(
        String(64), primary_key=True
    )  # validated by jobs.kinds.catalogue_fill.rows.sku_problem
    state: Mapped[str] = mapped_column(String(12))
    category: Mapped[str | None] = mapped_column(
        String(100), default=None
    )  # as the catalogue writes it (cut)
    model_class: Mapped[str | None] = mapped_column(
        String(100), default=None
    )  # the generator class it maps to
    title: Mapped[str | None] = mapped_column(String(200), default=None)
    # Why it is rejected, or where its real image is ("row names an image" / the bucket key).
    reason: Mapped[str | None] = mapped_column(Text, default=None)
    # Its synthetic image (kept after a real one arrives unless deleted) and how it was chosen.
    synthetic_key: Mapped[str | None] = mapped_column(String(1024), default=None)
    score: Mapped[float | None] = mapped_column(
        Float, default=None
    )  # quality score of the kept candidate
    seed: Mapped[int | None] = mapped_column(BigInteger, default=None)
    model_version: Mapped[str | None] = mapped_column(String(100), default=None)
    # Set when a real image arrived for a SKU that had a synthetic one; synthetic_deleted: its
    # object is gone.
    superseded_at: Mapped[datetime | None] = mapped_column(default=None)
    synthetic_deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    job_id: Mapped[str | None] = mapped_column(
        String(36), default=None
    )  # the last catalogue job that read it
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class CatalogueRowOutcome(Base):
    """What one catalogue job decided for each of its rows (the manifest lists them all)."""

    __tablename__ = "catalogue_rows"
    __table_args__ = (UniqueConstraint("job_id", "row"),)

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"))
    row: Mapped[int] = mapped_column(Integer)  # 1-based position in the catalogue
    sku: Mapped[str] = mapped_column(
        String(100)
    )  # printable form, cut: a hostile SKU is shown escaped
    # "generate" (generated once its asset is recorded), "skipped" (has an image) or "rejected".
    outcome: Mapped[str] = mapped_column(String(12))
    reason: Mapped[str | None] = mapped_column(String(300), default=None)
    key: Mapped[str | None] = mapped_column(
        String(1024), default=None
    )  # the synthetic key of a "generate" row
    # The file's own line where the row's record starts (None: rows given in the spec without one)
    # and the platform's identifier of the unit (Shopify Handle, Magento sku, WooCommerce ID).
    line: Mapped[int | None] = mapped_column(Integer, default=None)
    platform_id: Mapped[str | None] = mapped_column(String(100), default=None)
