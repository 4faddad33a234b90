"""Both stores honour one contract: no overwrite, identical content counts as done, metadata
kept."""

from __future__ import annotations

import pytest

from jobs.storage import LocalStore, ObjectConflict, S3Store, create_s3_client


@pytest.fixture(params=["local", pytest.param("s3", marks=pytest.mark.integration)])  # s3: moto
def store(request, tmp_path):
    if request.param == "local":
        return LocalStore(tmp_path / "bucket")
    endpoint = request.getfixturevalue("s3_endpoint")
    bucket = request.getfixturevalue("bucket")
    return S3Store(create_s3_client(endpoint, "us-east-1"), bucket, "some/prefix")


def test_put_new_never_overwrites(store):
    first = store.put_new("jobs/a/00000.png", b"one", "image/png", {"seed": "1"})
    again = store.put_new("jobs/a/00000.png", b"one", "image/png", {"seed": "1"})
    assert first.created and not again.created and first.sha256 == again.sha256
    with pytest.raises(ObjectConflict):
        store.put_new("jobs/a/00000.png", b"two", "image/png", {"seed": "2"})
    assert store.get("jobs/a/00000.png") == b"one"


def test_metadata_listing_and_replace(store):
    store.put_new("jobs/a/1.png", b"x", "image/png", {"synthetic": "true"})
    store.put_new("jobs/b/1.png", b"y", "image/png", {})
    store.replace("jobs/a/manifest.json", b"{}", "application/json")
    store.replace("jobs/a/manifest.json", b'{"v": 2}', "application/json")
    assert store.get("jobs/a/manifest.json") == b'{"v": 2}'
    assert store.list("jobs/a/") == ["jobs/a/1.png", "jobs/a/manifest.json"]
    head = store.head("jobs/a/1.png")
    assert (
        head["synthetic"] == "true"
        and head["content-type"] == "image/png"
        and len(head["sha256"]) == 64
    )
    assert store.head("jobs/a/missing.png") is None


def test_local_store_rejects_keys_outside_the_bucket(tmp_path):
    store = LocalStore(tmp_path / "bucket")
    for key in ("../x", "jobs/../../x", ".meta/x"):
        with pytest.raises(ValueError, match="escapes the bucket"):
            store.put_new(key, b"x", "image/png", {})


def test_delete_removes_one_object_and_tolerates_a_missing_key(store):
    store.put_new("catalogue/A1/synthetic.jpg", b"s", "image/jpeg", {"synthetic": "true"})
    store.put_new("catalogue/A1/photo.jpg", b"p", "image/jpeg", {})
    store.delete("catalogue/A1/synthetic.jpg")
    store.delete("catalogue/A1/synthetic.jpg")  # already gone: no error
    assert store.list("catalogue/") == ["catalogue/A1/photo.jpg"]
    assert store.head("catalogue/A1/synthetic.jpg") is None
    # the key is free again: a fresh put_new writes it (no stale metadata or content left behind)
    assert store.put_new("catalogue/A1/synthetic.jpg", b"t", "image/jpeg", {}).created
