"""A bounded schemathesis run over the OpenAPI schema (in-process ASGI, real PostgreSQL): no 500s.

Driven through hypothesis directly: schemathesis' pytest plugin does not run on pytest 9 yet.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from jobs import service

pytestmark = pytest.mark.integration

EXAMPLES_PER_OPERATION = 15


def fuzz(operation, token: str, mode: GenerationMode, **fixed) -> int:
    calls = []

    @given(case=operation.as_strategy(mode, **fixed))
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    def run(case):
        response = case.call(headers={"Authorization": f"Bearer {token}"})
        calls.append(response.status_code)
        assert response.status_code < 500, (
            case.method,
            case.path,
            case.path_parameters,
            case.query,
            case.body,
            response.text[:300],
        )

    try:
        run()
    except Unsatisfiable:  # negative mode on an operation with no parameters: nothing to break
        assert mode is GenerationMode.NEGATIVE and not calls
    return len(calls)


def test_schema_fuzz_finds_no_server_error(api_ctx):
    who = api_ctx.client(["submit", "read"])
    token = who.token
    app = api_ctx.app(api_rate_per_second=1000.0, api_rate_burst=1000)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    paths = {f"{op.method.upper()} {op.path}" for op in operations}
    assert {"POST /v1/jobs", "GET /v1/jobs/{job_id}/assets", "GET /metrics"} <= paths
    calls = {
        f"{mode.value} {op.method.upper()} {op.path}": fuzz(op, token, mode)
        for op in operations
        for mode in GenerationMode
    }
    job = service.submit(
        api_ctx.sf, api_ctx.settings, {"category": "bag", "count": 1}, client_id=who.client_id
    )
    for op in operations:  # and on a real job of this client, so the 200 paths are fuzzed too
        if "{job_id}" in op.path:
            calls[f"existing {op.path}"] = fuzz(
                op, token, GenerationMode.POSITIVE, path_parameters={"job_id": job.id}
            )
    assert all(n >= 1 for key, n in calls.items() if key.startswith("positive")), calls
    assert calls["negative POST /v1/jobs"] >= 1 and calls["negative GET /v1/jobs/{job_id}"] >= 1, (
        calls
    )
