"""Generated requests from the app's own OpenAPI document never produce a 5xx."""

from __future__ import annotations

from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchestrator.dropboxmini.server import create_app
from orchestrator.dropboxmini.store import Store
from tests.dropboxmini.conftest import KEYS, RW


def test_no_server_errors_from_generated_requests(tmp_path: Path) -> None:
    app = create_app(Store(tmp_path, baseline=18, max_bytes=1024 * 1024), KEYS)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 6
    strategy = st.one_of([operation.as_strategy() for operation in operations])
    seen: list[int] = []

    @given(case=strategy)
    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
    def check(case: schemathesis.Case) -> None:
        case.headers = {**(case.headers or {}), "X-API-Key": RW}
        response = case.call()
        seen.append(response.status_code)
        assert response.status_code < 500, response.text
        if response.status_code >= 400:
            assert set(response.json()) == {"error", "detail"}

    check()
    assert seen
