"""Property-based fuzzing of every documented endpoint (schemathesis): never a 500.

Runs against a real server process (SQLite), authenticated as the admin so requests reach
the handlers. Bounded for CI; the slow tier runs many more examples.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from tests.api.live import LiveServer, build_world

EXAMPLES = int(os.environ.get("CHEMTRACE_FUZZ_EXAMPLES", "12"))


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    home: Path = tmp_path_factory.mktemp("fuzz")
    server = LiveServer(home, f"sqlite:///{home}/var/chemtrace.db").start()
    world = build_world(server)  # registries, users and devices, so lookups can hit data
    world.issue("p-chem", 2)
    world.close()
    yield server
    server.close()


def test_no_endpoint_answers_500(live: LiveServer) -> None:
    _fuzz(live, EXAMPLES)


@pytest.mark.slow
def test_no_endpoint_answers_500_long_run(live: LiveServer) -> None:
    _fuzz(live, 150)


def _fuzz(live: LiveServer, examples: int) -> None:
    schema = schemathesis.openapi.from_url(live.base_url + "/openapi.json")
    headers = {"Authorization": f"Bearer {live.admin_token}"}
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @given(operation.as_strategy())
        @settings(
            max_examples=examples, deadline=None, database=None,
            suppress_health_check=list(HealthCheck),
        )  # fmt: skip
        def fuzz(case: schemathesis.Case) -> None:
            case.call_and_validate(base_url=live.base_url, headers=headers,
                                   checks=[not_a_server_error])  # fmt: skip

        try:
            fuzz()
        except Exception as exc:
            failures.append(f"{operation.method.upper()} {operation.path}: {exc}"[:2000])
    assert operations >= 40
    served = sum(
        float(line.rsplit(" ", 1)[1])
        for line in httpx.get(live.base_url + "/metrics").text.splitlines()
        if line.startswith("chemtrace_http_request_seconds_count")
    )
    assert served >= operations * min(examples, 3)  # the fuzzer really reached the server
    assert not failures, "\n\n".join(failures)
