"""The whole OpenAPI schema, fuzzed in-process against the real stack (PostgreSQL, Temporal): for every
operation, bounded and deterministic examples of valid and invalid requests, as a dealer and as an
admin. No request may answer a 5xx, and every answer must be one the schema declares: a documented
status code, its content type and a body matching its model (errors: the problem+json `Problem`)."""
from __future__ import annotations

import os
import sys
from collections import Counter

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings, strategies as st
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import (content_type_conformance, response_schema_conformance,
                                               status_code_conformance)
from schemathesis.checks import not_a_server_error

if sys.version_info < (3, 11):  # a built-in from 3.11; hypothesis brings the backport before
    from exceptiongroup import BaseExceptionGroup

EXAMPLES = int(os.environ.get("DEALERFLOW_FUZZ_EXAMPLES", "15"))
# Operations whose success changes what every test shares (a month re-tiered, a rule file deployed, a
# settlement run, the diversion sweep, a day of stock measured, a month of credit scored): fuzzed as a dealer (refused), left out for the admin, as any request
# the schema allows may start them (an unknown query parameter is ignored).
SHARED_STATE = {"POST /api/v1/tiering/runs", "POST /api/v1/rules/deploy", "POST /api/v1/settlements",
                "POST /api/v1/rules/emergency-deploy", "POST /api/v1/rules/shadow",
                "POST /api/v1/diversion/sweep", "POST /api/v1/inventory/runs", "POST /api/v1/credit/runs"}
# Logging out revokes the token the fuzzer sends: it goes last, after every other operation.
LAST = ("POST /api/v1/auth/logout",)
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def _send(client, case, headers: dict):
    """The case as the HTTP client would send it (requests prepares the URL, headers and body), through
    the test's own client: the same app, its lifespan, database and Temporal."""
    kwargs = case.as_transport_kwargs(base_url="http://testserver", headers=headers)
    kwargs = {k: v for k, v in kwargs.items() if k in ("method", "url", "headers", "params", "json", "data",
                                                        "files", "cookies")}
    prepared = requests.Request(**kwargs).prepare()
    return client.request(prepared.method, prepared.url, headers=dict(prepared.headers), content=prepared.body)


def fuzz(client, actor_headers: dict, skip: set[str] = frozenset()) -> tuple[Counter, list[str]]:
    schema = schemathesis.openapi.from_dict(client.app.openapi())
    seen: Counter = Counter()
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    for operation in sorted(operations, key=lambda o: o.label in LAST):
        if operation.label in skip:
            continue
        strategy = st.one_of(operation.as_strategy(GenerationMode.POSITIVE),
                             operation.as_strategy(GenerationMode.NEGATIVE))

        @settings(max_examples=EXAMPLES, derandomize=True, database=None, deadline=None,
                  phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
        @given(case=strategy)
        def run(case):
            try:
                response = _send(client, case, actor_headers)
            except (requests.exceptions.InvalidHeader, requests.exceptions.InvalidURL, ValueError):
                return  # a request no HTTP client can send (e.g. a line break in a header)
            except Exception as e:  # noqa: BLE001 — the test client re-raises what the app did not handle: a 500
                seen[operation.label] += 1
                seen["5xx"] += 1
                failures.append(f"{operation.label} -> 500 raised {type(e).__name__}: {str(e)[:200]}")
                return
            seen[operation.label] += 1
            if response.status_code >= 500:
                seen["5xx"] += 1
            try:
                case.validate_response(response, checks=CHECKS)
            except (Exception, BaseExceptionGroup) as e:  # noqa: BLE001 — every failure is collected, then reported together
                for failure in getattr(e, "exceptions", [e]):
                    text = " | ".join(line.strip() for line in str(failure).splitlines() if line.strip())
                    failures.append(f"{operation.label} -> {response.status_code} {type(failure).__name__}: "
                                    f"{text[:300]}")

        run()
    return seen, failures


def _report(role: str, seen: Counter, failures: list[str]):
    requests_sent = sum(v for k, v in seen.items() if k != "5xx")
    print(f"\n{role}: {len(seen) - ('5xx' in seen)} operations, {requests_sent} requests, "
          f"{seen['5xx']} answered 5xx, {len(failures)} failed checks")
    assert not failures, f"{len(failures)} failures as {role}:\n" + "\n".join(sorted(set(failures))[:80])


@pytest.mark.parametrize("role", ["dealer", "admin"])
def test_every_operation_answers_in_its_schema_without_a_server_error(role, client, make_user, make_dealer,
                                                                      product):
    actor = make_dealer() if role == "dealer" else make_user("admin")
    seen, failures = fuzz(client, actor.headers, skip=SHARED_STATE if role == "admin" else set())
    _report(role, seen, failures)
