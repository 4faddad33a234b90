"""GET /v1/jobs?kind=: every registered kind is a filter value; only that kind's jobs come back."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from jobs.kinds.registry import KINDS, kind_names
from tests.support import bearer

pytestmark = pytest.mark.integration

# One small valid spec per kind the project ships.
SPECS = {
    "generate": {"kind": "generate", "category": "bag", "count": 2},
    "ad_creative": {
        "kind": "ad_creative",
        "category": "sneaker",
        "variants": 1,
        "formats": ["square"],
        "copy": {"headline": "Run further", "cta": "Shop now"},
    },
    "catalogue_fill": {"kind": "catalogue_fill", "rows": [{"sku": "SKU-1", "category": "bag"}]},
}


def test_every_shipped_kind_has_a_spec_here():
    # a kind registered by a test (a toy) is not shipped; every shipped one must be listed above
    shipped = {
        name for name, kind in KINDS.items() if kind.spec.__module__.startswith("jobs.kinds.")
    }
    assert shipped == set(SPECS)


def test_list_by_every_kind_returns_exactly_that_kinds_jobs(api_ctx):
    me, other = api_ctx.client(), api_ctx.client()
    with TestClient(api_ctx.app()) as http:
        ids = {}
        for kind, spec in SPECS.items():
            r = http.post("/v1/jobs", json=spec, headers=bearer(me))
            assert r.status_code == 202, r.text
            ids[kind] = r.json()["id"]
        # someone else's job of every kind: never in my lists
        for spec in SPECS.values():
            assert http.post("/v1/jobs", json=spec, headers=bearer(other)).status_code == 202
        for kind in kind_names():
            r = http.get("/v1/jobs", params={"kind": kind}, headers=bearer(me))
            assert r.status_code == 200, (kind, r.text)
            got = r.json()["jobs"]
            assert [j["id"] for j in got] == ([ids[kind]] if kind in ids else []), kind
            assert {j["kind"] for j in got} <= {kind}
        queued_ads = http.get(
            "/v1/jobs", params={"kind": "ad_creative", "status": "queued"}, headers=bearer(me)
        ).json()["jobs"]
        assert [j["id"] for j in queued_ads] == [ids["ad_creative"]]
        everything = http.get("/v1/jobs", headers=bearer(me)).json()["jobs"]
        assert sorted(j["id"] for j in everything) == sorted(ids.values())


def test_an_unknown_kind_is_422_naming_the_allowed_ones(api_ctx):
    me = api_ctx.client()
    with TestClient(api_ctx.app()) as http:
        r = http.get("/v1/jobs", params={"kind": "poster"}, headers=bearer(me))
    assert r.status_code == 422
    (err,) = r.json()["detail"]
    assert err["loc"] == ["query", "kind"] and err["input"] == "poster"
    for kind in kind_names():
        assert repr(kind) in err["msg"], err["msg"]
