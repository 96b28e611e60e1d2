"""Schemathesis fuzzes every operation of the OpenAPI schema as each role, through the WSGI app in-process.

Every answer must be a non-5xx with a status code, content type, headers and body that the schema documents for
that operation. `FUZZ_EXAMPLES` sets how many examples each operation gets in the fuzzing phase (a few in
`make test`, hundreds in `make fuzz`), and `FUZZ_SEED` replays a run (a failing run prints its seed).

The run is schemathesis' own engine, as `schemathesis run` drives it (examples, coverage, fuzzing and stateful
phases). Its worker thread has its own database connection, so the test commits its seed (`transaction=True`).
Hooks put values of the hostile corpus (`tests/hostile.py`) into about half the generated bodies and queries, at a
random leaf; `test_hostile_inputs.py` sends every one of them to every field, deterministically.
"""

import os
import random
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from django.db import connections
from hypothesis import strategies as st
from schemathesis.engine import Status, events
from schemathesis.engine import from_schema as engine_for

from marketplace.wsgi import application
from tests.fuzz.conftest import World, openapi_document
from tests.hostile import STRINGS

LONG_RUN = "FUZZ_EXAMPLES" in os.environ
FUZZ_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "4"))
FUZZ_SEED = int(os.environ.get("FUZZ_SEED") or (random.randrange(2**32) if LONG_RUN else 0))
ROLES = ["requester", "worker", "staff"]

# No 5xx, and status, content type, headers and body as documented. Left out: `ignored_auth`, `use_after_free` and
# `ensure_resource_availability`, whose extra probes crash on schemathesis' in-process WSGI transport (4.32:
# "EnvironBuilder got an unexpected keyword argument 'max_redirects'"); `negative_data_rejection` and
# `positive_data_acceptance`, which judge how strict validation is (a multipart "0" read as false, a schema-valid
# job refused by a business rule), not whether an answer is documented. test_access.py covers auth and ownership.
CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "response_headers_conformance",
]


def _config(world: World, role: str) -> schemathesis.Config:
    ids = {name: values for name, values in world.ids().items() if values}
    return schemathesis.Config.from_dict(
        {
            "seed": FUZZ_SEED,
            "workers": 1,
            "cache": {"enabled": False},
            # A 429 is an answer to check, not a cue to wait: no Retry-After sleeps (the attempt throttle is 30/min).
            "rate-limit": "10000/s",
            "headers": {"X-Session-Token": world.tokens[role]},
            "generation": {"max-examples": FUZZ_EXAMPLES, "database": "none"},
            # The coverage phase sends every boundary value of every field (~10k requests a role, minutes): the
            # long run only.
            "phases": {"coverage": {"enabled": LONG_RUN}},
            "checks": {"enabled": False, **{name: {"enabled": True} for name in CHECKS}},
            "dictionaries": {name: {"values": values} for name, values in ids.items()},
            "parameters": {
                **{f"path.{name}": {"dictionary": name, "probability": 0.7} for name in ids},
                "query.job": {"dictionary": "job_id", "probability": 0.5},
                "body.worker": {"dictionary": "user_id", "probability": 0.5},
                "body.required_qualifications[*].qualification": {"dictionary": "qualification_id", "probability": 0.5},
            },
        }
    )


# What the engine's transports can send: no lone surrogate (a form or a query cannot encode one), no NaN or Infinity
# (the stateful phase's client refuses to encode them), nothing large enough to slow the run. test_hostile_inputs.py
# sends those, as raw JSON text and bytes.
HOSTILE_TEXT = [value for name, value in STRINGS.items() if name not in ("lone-surrogate", "over-a-million-chars")]
HOSTILE_TEXT += ["NaN", "1e400", "9" * 30, "[" * 40]
HOSTILE_VALUES = [
    *HOSTILE_TEXT,
    2**63,
    -(2**70),
    [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["deep"]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]],
    {"k\x00": 1},
]


def _leaves(value: Any, path: tuple = ()) -> list[tuple]:
    if isinstance(value, dict):
        return [leaf for key, item in value.items() for leaf in _leaves(item, (*path, key))]
    if isinstance(value, list):
        return [leaf for index, item in enumerate(value) for leaf in _leaves(item, (*path, index))]
    return [path] if path else []


def _replaced(value: Any, path: tuple, new: Any) -> Any:
    if not path:
        return new
    copy = dict(value) if isinstance(value, dict) else list(value)
    copy[path[0]] = _replaced(copy[path[0]], path[1:], new)
    return copy


def _with_hostile(value: Any, corpus: list[Any]) -> st.SearchStrategy:
    """The generated `value`, or (as often) the same with one leaf replaced by a value of the hostile corpus."""
    leaves = _leaves(value)
    if not leaves:
        return st.just(value)
    swap = st.tuples(st.sampled_from(leaves), st.sampled_from(corpus))
    return st.one_of(st.just(value), swap.map(lambda change: _replaced(value, *change)))


def fuzz(world: World, role: str) -> list[str]:
    """Run the engine as `role`; every distinct failure, each with a curl command that replays it."""
    schema = schemathesis.openapi.from_dict(openapi_document(), config=_config(world, role))
    schema.app = application
    engine_connections = set()

    @schema.hook
    def flatmap_body(context: schemathesis.HookContext, body: Any) -> st.SearchStrategy:
        return _with_hostile(body, HOSTILE_VALUES)

    @schema.hook
    def flatmap_query(context: schemathesis.HookContext, query: Any) -> st.SearchStrategy:
        return _with_hostile(query, HOSTILE_TEXT)

    @schema.hook
    def after_call(context: schemathesis.HookContext, case: schemathesis.Case, response: Any) -> None:
        engine_connections.add(connections["default"])

    @schema.hook
    def filter_failure(context: schemathesis.HookContext, failure: Any, case: schemathesis.Case, response: Any) -> bool:
        # The stateful phase feeds ids it finds in answers into path parameters, among them a ledger posting's
        # `job_id`, which is "" when the posting is no job's. Schemathesis then builds `/jobs//`, sends it as
        # `/jobs/` and judges the list's answer (or its 405 to a PATCH) against the job detail operation: that
        # request never reached the operation under test, whatever the checks say about it.
        return "" not in (case.path_parameters or {}).values()

    try:
        return _failures(role, engine_for(schema).execute())
    finally:  # the engine's thread is gone, its connection is not: close it, or the test database can't be dropped
        for connection in engine_connections - {connections["default"]}:
            connection.inc_thread_sharing()
            connection.close()


def _failures(role: str, stream: Iterable[events.EngineEvent]) -> list[str]:
    failures: dict[tuple[str, str], str] = {}
    for event in stream:
        if isinstance(event, events.ScenarioFinished):
            for nodes in event.recorder.checks.values():
                for node in nodes:
                    if node.status == Status.FAILURE and node.failure_info is not None:
                        failure = node.failure_info.failure
                        key = (event.recorder.label, failure.title)
                        failures.setdefault(key, f"{failure.message}\n    {node.failure_info.code_sample}")
        elif isinstance(event, events.NonFatalError | events.FatalError):
            failures[(getattr(event, "label", "engine"), "error")] = repr(getattr(event, "value", None) or event)
    return [f"[{role}] {label}: {title}\n  {detail}" for (label, title), detail in sorted(failures.items())]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("role", ROLES)
def test_every_answer_is_documented_and_none_is_a_server_error(world: World, role: str) -> None:
    failures = fuzz(world, role)

    if os.environ.get("FUZZ_REPORT"):
        with Path(os.environ["FUZZ_REPORT"]).open("a") as report:
            report.write("\n\n".join(failures) + "\n\n")

    assert not failures, f"{len(failures)} failures (FUZZ_SEED={FUZZ_SEED}):\n\n" + "\n\n".join(failures)
