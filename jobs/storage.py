"""Object storage: an S3 store (boto3) and a local-folder store with the same interface.

Writes of assets never overwrite: ``put_new`` writes only when the key is free.
An existing object with the same content counts as done (a retried task is
harmless); one with other content is a conflict. ``replace`` (used only for the
manifest) writes atomically. Every object carries a content type and metadata.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import urlparse

SHA_META = "sha256"


class ObjectConflict(RuntimeError):
    """A key already holds an object with different content."""


class StorageUnavailable(RuntimeError):
    """The store kept failing after bounded retries."""


@dataclass(frozen=True)
class PutResult:
    key: str
    sha256: str
    size: int
    created: bool  # False: an identical object was already there


class Store(Protocol):
    def put_new(
        self, key: str, data: bytes, content_type: str, metadata: dict[str, str]
    ) -> PutResult: ...
    def replace(
        self, key: str, data: bytes, content_type: str, metadata: dict[str, str] | None = None
    ) -> None: ...
    def get(self, key: str) -> bytes: ...
    def head(self, key: str) -> dict[str, str] | None: ...
    def list(self, prefix: str = "") -> list[str]: ...
    def delete(self, key: str) -> None: ...  # a missing key is not an error
    def url(self, key: str, expires: int = 300) -> str: ...
    def describe(self) -> str: ...


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _same_or_conflict(key: str, digest: str, existing: dict[str, str] | None) -> None:
    if existing is None or existing.get(SHA_META) != digest:
        raise ObjectConflict(f"{key} already exists with different content; refusing to overwrite")


class LocalStore:
    """A folder as the bucket; metadata lives beside each object in ``.meta/<key>.json``."""

    def __init__(self, root: Path | str):
        self.root = Path(root).resolve()
        self.root.mkdir(parents=True, exist_ok=True)

    def describe(self) -> str:
        return str(self.root)

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if self.root not in path.parents or key.startswith(".meta"):
            raise ValueError(f"object key {key!r} escapes the bucket")
        return path

    def _meta_path(self, key: str) -> Path:
        return self.root / ".meta" / f"{key}.json"

    def _write_tmp(self, path: Path, data: bytes) -> str:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        return tmp

    def _write_meta(self, key: str, meta: dict[str, str]) -> None:
        path = self._meta_path(key)
        os.replace(self._write_tmp(path, json.dumps(meta).encode()), path)

    def put_new(
        self, key: str, data: bytes, content_type: str, metadata: dict[str, str]
    ) -> PutResult:
        path, digest = self._path(key), sha256_hex(data)
        meta = {**metadata, SHA_META: digest, "content-type": content_type}
        self._write_meta(key, meta)  # metadata first: an object is never visible without it
        tmp = self._write_tmp(path, data)
        try:
            os.link(tmp, path)  # atomic, and fails if the key exists: no overwrite
        except FileExistsError:
            _same_or_conflict(key, digest, {SHA_META: sha256_hex(path.read_bytes())})
            return PutResult(key, digest, len(data), created=False)
        finally:
            os.unlink(tmp)
        return PutResult(key, digest, len(data), created=True)

    def replace(
        self, key: str, data: bytes, content_type: str, metadata: dict[str, str] | None = None
    ) -> None:
        path = self._path(key)
        self._write_meta(
            key, {**(metadata or {}), SHA_META: sha256_hex(data), "content-type": content_type}
        )
        os.replace(self._write_tmp(path, data), path)

    def get(self, key: str) -> bytes:
        return self._path(key).read_bytes()

    def head(self, key: str) -> dict[str, str] | None:
        if not self._path(key).exists():
            return None
        try:
            return json.loads(self._meta_path(key).read_text())
        except FileNotFoundError:
            return {}

    def list(self, prefix: str = "") -> list[str]:
        # walk only the folder the prefix names (not the whole bucket, nor .meta/)
        start = (self.root / prefix.rpartition("/")[0]).resolve()
        if (start != self.root and self.root not in start.parents) or prefix.startswith(".meta"):
            return []  # outside the bucket, or its metadata: no keys
        root = str(self.root)
        keys = []
        for folder, dirs, files in os.walk(start):
            if folder == root:
                dirs[:] = [d for d in dirs if d != ".meta"]
            rel = os.path.relpath(folder, root).replace(os.sep, "/")
            base = "" if rel == "." else rel + "/"
            keys += [
                base + name
                for name in files
                if not name.startswith(".tmp-") and (base + name).startswith(prefix)
            ]
        return sorted(keys)

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)
        self._meta_path(key).unlink(missing_ok=True)

    def url(self, key: str, expires: int = 300) -> str:
        return self._path(key).as_uri()


def _unavailable(exc: Exception) -> bool:
    """Transient failures botocore already retried: 5xx, throttling, timeouts, dropped
    connections."""
    from botocore.exceptions import (
        ClientError,
        HTTPClientError,
    )
    from botocore.exceptions import (
        ConnectionError as BotoConnectionError,
    )

    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return status >= 500 or err.get("Code") in (
            "SlowDown",
            "ServiceUnavailable",
            "InternalError",
            "RequestTimeout",
            "503",
            "500",
        )
    return isinstance(exc, (BotoConnectionError, HTTPClientError))


class S3Store:
    """An S3-compatible bucket (AWS, MinIO, moto) through a boto3 client.

    The client retries transient errors itself (standard mode, bounded attempts);
    what still fails is raised as StorageUnavailable.
    """

    def __init__(self, client, bucket: str, prefix: str = ""):
        self.client, self.bucket = client, bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""

    def describe(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"

    def _call(self, method: str, **kwargs):
        try:
            return getattr(self.client, method)(Bucket=self.bucket, **kwargs)
        except Exception as exc:
            if _unavailable(exc):
                raise StorageUnavailable(
                    f"{method} {self.describe()}{kwargs.get('Key', '')[len(self.prefix) :]}: "
                    f"{type(exc).__name__} after retries"
                ) from exc
            raise

    def put_new(
        self, key: str, data: bytes, content_type: str, metadata: dict[str, str]
    ) -> PutResult:
        from botocore.exceptions import ClientError

        digest = sha256_hex(data)
        try:
            self._call(
                "put_object",
                Key=self.prefix + key,
                Body=data,
                ContentType=content_type,
                Metadata={**metadata, SHA_META: digest},
                IfNoneMatch="*",
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") not in (
                "PreconditionFailed",
                "412",
                "ConditionalRequestConflict",
            ):
                raise
            _same_or_conflict(key, digest, self.head(key))
            return PutResult(key, digest, len(data), created=False)
        return PutResult(key, digest, len(data), created=True)

    def replace(
        self, key: str, data: bytes, content_type: str, metadata: dict[str, str] | None = None
    ) -> None:
        self._call(
            "put_object",
            Key=self.prefix + key,
            Body=data,
            ContentType=content_type,
            Metadata={**(metadata or {}), SHA_META: sha256_hex(data)},
        )

    def get(self, key: str) -> bytes:
        return self._call("get_object", Key=self.prefix + key)["Body"].read()

    def head(self, key: str) -> dict[str, str] | None:
        from botocore.exceptions import ClientError

        try:
            resp = self._call("head_object", Key=self.prefix + key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise
        return {**resp.get("Metadata", {}), "content-type": resp.get("ContentType", "")}

    def list(self, prefix: str = "") -> list[str]:
        keys = []
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self.prefix + prefix
        )
        try:
            for page in pages:
                keys += [obj["Key"][len(self.prefix) :] for obj in page.get("Contents", [])]
        except Exception as exc:
            if _unavailable(exc):
                raise StorageUnavailable(
                    f"list {self.describe()}{prefix}: {type(exc).__name__} after retries"
                ) from exc
            raise
        return sorted(keys)

    def delete(self, key: str) -> None:
        self._call("delete_object", Key=self.prefix + key)

    def url(self, key: str, expires: int = 300) -> str:
        return self.client.generate_presigned_url(
            "get_object",
            Params={"Bucket": self.bucket, "Key": self.prefix + key},
            ExpiresIn=expires,
        )


def create_s3_client(
    endpoint_url: str | None,
    region: str,
    connect_timeout: float = 5,
    read_timeout: float = 30,
    max_attempts: int = 5,
):
    import boto3
    from botocore.config import Config

    config = Config(
        retries={"mode": "standard", "max_attempts": max_attempts},
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        signature_version="s3v4",
    )
    return boto3.client("s3", endpoint_url=endpoint_url, region_name=region, config=config)


def create_store(settings) -> Store:
    """The store named by settings.storage_url: ``s3://bucket/prefix`` or a local folder."""
    url = settings.bucket_url()
    parsed = urlparse(url)
    if parsed.scheme == "s3":
        client = create_s3_client(
            settings.s3_endpoint_url,
            settings.s3_region,
            settings.s3_connect_timeout,
            settings.s3_read_timeout,
            settings.s3_max_attempts,
        )
        return S3Store(client, parsed.netloc, parsed.path)
    if parsed.scheme in ("", "file"):
        return LocalStore(parsed.path if parsed.scheme == "file" else url)
    raise ValueError(f"ASSETGEN_STORAGE_URL={url!r}: use s3://bucket/prefix or a local folder path")
