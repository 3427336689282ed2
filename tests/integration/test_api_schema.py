"""Schemathesis against the ASGI app: every operation of the OpenAPI description, positive and negative
inputs, authenticated with an admin key (admin passes every role check), checking that no answer is a
server error and that every answer is documented (status code, media type, body schema, headers) and
that what the schema refuses is refused.

``POST /as4`` is excluded: its body is a signed and encrypted AS4 MIME message that generated data
never reaches past the first check, and its refusals are signed ebMS signals, not problem documents;
the AS4 forgery suite, the DoS tests and the property test on random bytes cover it instead.

Bounded for CI: ``MAX_EXAMPLES`` examples per operation, mode and database, no shrinking,
derandomized (the same inputs on every run, so a red build is reproducible).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.specs.openapi.schemas import OpenApiSchema

from gateway.api.app import create_app
from gateway.bootstrap import Services
from gateway.config import Settings
from gateway.store import SQLDocumentStore, upgrade_database
from gateway.validation import ValidationEngine
from tests.contract.store_databases import migrated_postgres_database

ADMIN_KEY = "admin-key-0123456789abcdefghijkl"
AUTH = {"Authorization": f"Bearer {ADMIN_KEY}"}
#: Examples per operation and generation mode, per database (PostgreSQL refuses what SQLite stores,
#: e.g. NUL characters, so both run; PostgreSQL with fewer to stay within a couple of minutes).
MAX_EXAMPLES = {"sqlite": 60, "postgresql": 20}
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "response_headers_conformance",
    "negative_data_rejection",
]


@pytest.fixture(scope="module", params=BACKENDS)
def api_schema(
    request: pytest.FixtureRequest,
    artefacts_dir: Path,
    validation_engine: ValidationEngine,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[str, OpenApiSchema]]:
    """(backend, schema): the app's OpenAPI description, loaded by schemathesis, on one database."""
    with ExitStack() as stack:
        if request.param == "postgresql":
            url = stack.enter_context(migrated_postgres_database()).render_as_string(hide_password=False)
        else:
            url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'schema.db'}"
            upgrade_database(url)
        settings_ = Settings.model_validate(
            {
                "artefacts": {"mirror": artefacts_dir, "cache_dir": tmp_path_factory.mktemp("cache")},
                "api": {
                    "keys": [{"name": "ops", "role": "admin", "key": ADMIN_KEY}],
                    "max_body_bytes": 256 * 1024,
                },
            }
        )
        store = SQLDocumentStore.from_url(url)
        stack.callback(store.close)
        app = create_app(
            settings_,
            services=Services(settings=settings_, validation=validation_engine, store=store),
            warm=False,
        )
        loaded = schemathesis.openapi.from_asgi("/openapi.json", app, headers=AUTH).exclude(path="/as4")
        loaded.config.generation.update(no_shrink=True, deterministic=True, with_security_parameters=False)
        loaded.config.checks.update(included_check_names=CHECKS)
        # A body over the size limit is refused before it is read: 413 is a rejection too.
        rejection = loaded.config.checks.negative_data_rejection
        rejection.expected_statuses = [*rejection.expected_statuses, "413"]
        loaded.config.update(headers=AUTH)
        yield str(request.param), loaded


#: Every operation of the description except POST /as4; the test checks the list is complete.
OPERATIONS = [
    "GET /healthz",
    "GET /readyz",
    "POST /v1/validate",
    "POST /v1/convert",
    "POST /v1/outbound/invoices",
    "POST /v1/outbound/credit-notes",
    "POST /v1/outbound/ubl",
    "GET /v1/outbound",
    "GET /v1/outbound/{document_id}",
    "GET /v1/outbound/{document_id}/ubl",
    "GET /v1/outbound/{document_id}/evidence",
    "POST /v1/outbound/{document_id}/retry",
    "GET /v1/inbound",
    "GET /v1/inbound/{document_id}",
    "GET /v1/inbound/{document_id}/ubl",
    "GET /v1/outbound/{document_id}/render",
    "GET /v1/inbound/{document_id}/render",
    "GET /v1/outbound/{document_id}/attachments/{index}",
    "GET /v1/inbound/{document_id}/attachments/{index}",
    "GET /v1/expenses",
    "GET /v1/expenses/board",
    "GET /v1/expenses/{expense_id}",
    "GET /v1/expenses/{expense_id}/ubl",
    "GET /v1/expenses/{expense_id}/attachments/{n}",
    "GET /v1/expenses/{expense_id}/evidence",
    "GET /v1/expenses/{expense_id}/render",
    "POST /v1/expenses/{expense_id}/assign",
    "POST /v1/expenses/{expense_id}/approve",
    "POST /v1/expenses/{expense_id}/reject",
    "POST /v1/expenses/{expense_id}/query",
    "POST /v1/expenses/{expense_id}/answer",
    "POST /v1/expenses/{expense_id}/mark-paid",
    "POST /v1/expenses/{expense_id}/settle",
    "GET /v1/units",
    "PUT /v1/units",
    "GET /v1/units/{code}",
    "PUT /v1/units/{code}",
    "GET /v1/participants/{participant}",
    "GET /v1/reports",
    "GET /v1/reports/{report_id}",
    "GET /v1/reports/{report_id}/xml",
    "POST /v1/reports/{report_id}/remake",
]


def test_every_operation_is_fuzzed(api_schema: tuple[str, OpenApiSchema]) -> None:
    found = {result.ok().label for result in api_schema[1].get_all_operations()}
    assert found == set(OPERATIONS)


def test_every_error_answer_is_documented_as_problem_json(api_schema: tuple[str, OpenApiSchema]) -> None:
    wrong = []
    for path, item in api_schema[1].raw_schema["paths"].items():
        for method, operation in item.items():
            for status, response in operation["responses"].items():
                if int(status) < 400 or (path, status) == ("/readyz", "503"):
                    continue
                if set(response.get("content", {})) != {"application/problem+json"}:
                    wrong.append(f"{method.upper()} {path} {status}: {sorted(response.get('content', {}))}")
    assert wrong == []


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=str)
@pytest.mark.parametrize("label", OPERATIONS)
def test_the_api_matches_its_openapi_description(
    api_schema: tuple[str, OpenApiSchema], label: str, mode: GenerationMode
) -> None:
    backend, loaded = api_schema
    operation = loaded.find_operation_by_label(label)
    assert operation is not None

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=MAX_EXAMPLES[backend],
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def run(case: schemathesis.Case) -> None:
        case.call_and_validate(headers=AUTH)

    try:
        run()
    except Unsatisfiable:
        if mode is GenerationMode.NEGATIVE:
            pytest.skip(f"{label}: the description constrains nothing that negative data could violate")
        raise
