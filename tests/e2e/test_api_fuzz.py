"""Schemathesis against the live server's OpenAPI document: generated requests, valid and
invalid, with an admin token and with a customer token, never get a 5xx, and the answers
match the document (status codes, content types, schemas)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from tests.e2e.test_api_harness import ApiServer, sqlite_serve

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
EXAMPLES = {GenerationMode.POSITIVE: 40, GenerationMode.NEGATIVE: 30}


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    yield from sqlite_serve(tmp_path_factory)


@pytest.mark.parametrize("mode", list(EXAMPLES), ids=lambda m: m.value)
def test_generated_requests_get_no_server_error(fuzz_server: ApiServer, mode: Any) -> None:
    schema = schemathesis.openapi.from_url(f"{fuzz_server.url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 9
    failures, statuses = [], []
    for operation in operations:

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=EXAMPLES[mode],
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        def run(case: Any) -> None:
            for token in ("admin", "globex"):
                headers = {"Authorization": f"Bearer {fuzz_server.tokens[token]}"}
                response = case.call_and_validate(
                    base_url=fuzz_server.url, headers=headers, checks=CHECKS
                )
                statuses.append(response.status_code)

        try:
            run()
        except Unsatisfiable:
            assert mode is GenerationMode.NEGATIVE  # no parameter to make invalid
        except Exception as exc:  # collect every operation's failure, then report them all
            failures.append(f"{operation.label}: {exc}")
    assert not failures, "\n\n".join(failures)
    assert len(statuses) >= 100 and max(statuses) < 500
    assert (422 in statuses) if mode is GenerationMode.NEGATIVE else (200 in statuses)
