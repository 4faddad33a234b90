"""Bad input is rejected at submit with a message naming the field; nothing reaches SQL or the
bucket."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from jobs.db.tables import Job, OutboxMessage, WorkItem
from jobs.kinds.registry import parse_spec
from jobs.specs import MAX_SPEC_BYTES, SpecError
from tests.support import cli_invoker


@pytest.fixture
def cli(embedded_env, app_for):
    settings, sf, store = app_for(embedded_env)
    return cli_invoker(embedded_env), sf, store


def count_rows(sf) -> tuple[int, int, int]:
    with sf() as s:
        return tuple(
            s.scalar(select(func.count()).select_from(t)) for t in (Job, WorkItem, OutboxMessage)
        )


@pytest.mark.parametrize(
    "args, field, words",
    [
        (["--category", "hat", "--count", "4"], "category", "'hat' is not a class of model"),
        (["--category", "bag", "--count", "0"], "count", "greater than or equal to 1"),
        (["--category", "bag", "--count", "10001"], "count", "less than or equal to 10000"),
        (
            ["--category", "bag", "--count", "4", "--images-per-item", "2000"],
            "images_per_item",
            "less than or equal",
        ),
        (
            ["--category", "bag", "--count", "4", "--seed", "-1"],
            "seed",
            "greater than or equal to 0",
        ),
        (
            ["--category", "bag", "--count", "4", "--model", "/nonexistent/model"],
            "model",
            "is neither 'default'",
        ),
    ],
)
def test_bad_flags_are_rejected(cli, args, field, words):
    invoke, sf, store = cli
    result = invoke("submit", *args)
    assert result.exit_code == 1
    assert f"invalid job spec: {field}:" in result.output and words in result.output
    assert count_rows(sf) == (0, 0, 0)
    assert store.list() == []


@pytest.mark.parametrize(
    "content, field, words",
    [
        (b'{"category": "bag", "count": 4, "format": "gif"}', "format", "'png', 'jpeg' or 'webp'"),
        (
            b'{"category": "bag", "count": 4, "colour": "red"}',
            "colour",
            "Extra inputs are not permitted",
        ),
        (b'{"category": "bag", "count": "many"}', "count", "valid integer"),
        (b'{"category": "bag", "count": 4,', "spec", "not valid JSON"),
        (b"[1, 2]", "spec", "must be a JSON object"),
    ],
)
def test_bad_spec_files_are_rejected(cli, tmp_path, content, field, words):
    invoke, sf, store = cli
    spec = tmp_path / "job.json"
    spec.write_bytes(content)
    result = invoke("submit", "--spec", str(spec))
    assert result.exit_code == 1
    assert f"{field}:" in result.output and words in result.output, result.output
    assert count_rows(sf) == (0, 0, 0)
    assert store.list() == []


def test_good_spec_file_is_split_into_items(cli, tmp_path):
    invoke, sf, _ = cli
    spec = tmp_path / "job.json"
    spec.write_text(
        json.dumps({"category": "dress", "count": 10, "images_per_item": 4, "format": "webp"})
    )
    result = invoke("submit", "--spec", str(spec), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["items"] == "0/3"
    assert count_rows(sf) == (1, 3, 3)


def test_parse_spec_limits_body_size():
    with pytest.raises(SpecError, match="over the limit"):
        parse_spec(b"{" + b" " * MAX_SPEC_BYTES + b"}")


def test_catalogue_submit_with_storage_down_is_refused_cleanly(embedded_env, app_for, tmp_path):
    """A catalogue fill lists the bucket at submit: with the S3 endpoint down, a clear error and
    nothing written."""
    import socket

    with socket.socket() as s:  # a loopback port with nothing listening
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {
        **embedded_env,
        "ASSETGEN_STORAGE_URL": "s3://nowhere/x",
        "ASSETGEN_S3_ENDPOINT_URL": f"http://127.0.0.1:{port}",
        "ASSETGEN_S3_MAX_ATTEMPTS": "1",
        "AWS_ACCESS_KEY_ID": "x",
        "AWS_SECRET_ACCESS_KEY": "x",
    }
    _, sf, _ = app_for(env)
    catalogue = tmp_path / "cat.csv"
    catalogue.write_text("sku,category\nSKU-1,bag\n")
    result = cli_invoker(env)("submit", "catalogue-fill", "--catalogue", str(catalogue))
    assert result.exit_code == 1
    assert (
        "storage unavailable, nothing was submitted" in result.output
        and "Traceback" not in result.output
    )
    assert count_rows(sf) == (0, 0, 0)
