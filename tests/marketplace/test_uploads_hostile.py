"""Hostile files: every value the database cannot store is a 400 naming the row, line and field, with nothing kept,
whether the file is ingested in the request or by the Celery task; and what it can store is kept exactly.

They run on embedded SQLite too, in `make test-sqlite`."""

import json
import logging
from pathlib import Path

import pytest

from marketplace.models import Item, MicroTask, Upload
from tests.factories import JobFactory
from tests.hostile import JSON_VALUES, STORED_AS_SENT, STRINGS, ten_megabytes
from tests.marketplace.helpers import file_of

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]
TYPED = {"fields": [{"name": "text", "type": "string"}, {"name": "score", "type": "number", "required": False}]}


def jsonl(value_text: str, field: str = "text") -> bytes:
    """A good row, a blank line, then the hostile value: the bad row is row 2 on line 3."""
    return b'{"text": "fine"}\n\n{"' + field.encode() + b'": ' + value_text.encode() + b"}\n"


# name -> (file, file name, item schema, (row, line, field), words in the message)
FILES = {
    **{
        f"jsonl-{name}": (jsonl(text), "a.jsonl", {}, (2, 3, "text"), None)
        for name, text in JSON_VALUES.items()
        if name != "key-with-nul"
    },
    "jsonl-key-with-nul": (b'{"a\\u0000b": 1}\n', "a.jsonl", {}, (1, 1, "a\\u0000b"), "NUL"),
    "jsonl-nan-in-a-number-field": (
        jsonl("NaN", "score").replace(b'"fine"', b'"ok"'),
        "a.jsonl",
        TYPED,
        (2, 3, "score"),
        "finite",
    ),
    "csv-nul-in-a-value": (b"external_id,text\nx0,fine\nx1,ab\x00cd\n", "a.csv", TYPED, (2, 3, "text"), "NUL"),
    "csv-nul-in-the-external-id": (b"external_id,text\nx\x001,fine\n", "a.csv", TYPED, (1, 2, "external_id"), "NUL"),
    "csv-nul-in-a-dropped-column": (b"text,note\nfine,ab\x00\n", "a.csv", TYPED, (1, 2, "note"), "NUL"),
    "csv-nul-in-the-header": (b"te\x00xt\nfine\n", "a.csv", {}, (None, 1, "te\\u0000xt"), "NUL"),
    "csv-value-over-a-million-chars": (b"text\n" + b"y" * 1_000_001 + b"\n", "a.csv", {}, (1, 2, "text"), "1,000,000"),
    "csv-integer-past-64-bits": (
        b"n\n" + str(2**63).encode() + b"\n",
        "a.csv",
        {"fields": [{"name": "n", "type": "integer"}]},
        (1, 2, "n"),
        "within",
    ),
}
WORDS = {
    "nul": "NUL",
    "surrogate": "surrogate",
    "nan": "finite",
    "infinity": "finite",
    "float": "finite",
    "integer": "64 bits",
    "64-bits": "64 bits",
    "deep": "deeper than 32",
}


def words_for(name: str, words: str | None) -> str:
    return words or next(w for key, w in WORDS.items() if key in name)


@pytest.fixture
def send(requester_api, requester, settings, django_capture_on_commit_callbacks):
    """Upload a file to a fresh job, in the request (`sync=True`) or through the task; answer the HTTP status and
    the upload as polled afterwards (None when the request kept no upload)."""

    def send(data: bytes, name: str, item_schema: dict, *, sync: bool, kind: str = "items"):
        settings.INGEST_SYNC_MAX_BYTES = 10**9 if sync else 0
        job = JobFactory(requester=requester, item_schema=item_schema, items_per_task=2)
        with django_capture_on_commit_callbacks(execute=True):
            response = requester_api.post(
                f"/api/v1/jobs/{job.pk}/uploads/", {"file": file_of(data, name), "kind": kind}, format="multipart"
            )
        upload = Upload.objects.filter(job=job).first()
        return job, response, upload

    return send


def assert_nothing_kept(job) -> None:
    assert not Item.objects.filter(job=job).exists()
    assert not MicroTask.objects.filter(job=job).exists()


@pytest.mark.parametrize("name", FILES)
def test_a_value_the_database_cannot_store_is_a_400_naming_row_line_and_field_with_nothing_kept(send, name):
    data, file_name, schema, where, words = FILES[name]

    job, response, upload = send(data, file_name, schema, sync=True)

    assert response.status_code == 400, response.content[:500]
    body = response.json()
    assert body["code"] == "invalid_upload"
    first = body["extra"]["errors"][0]
    assert (first["row"], first["line"], first["field"]) == where
    assert words_for(name, words) in first["message"]
    assert upload is None
    assert_nothing_kept(job)


@pytest.mark.parametrize("name", FILES)
def test_the_task_ends_such_a_file_failed_with_the_errors_the_request_would_give(send, requester_api, name):
    data, file_name, schema, _, _ = FILES[name]
    _, sync_response, _ = send(data, file_name, schema, sync=True)

    job, response, upload = send(data, file_name, schema, sync=False)

    assert response.status_code == 202
    polled = requester_api.get(f"/api/v1/uploads/{upload.pk}/").json()
    assert polled["status"] == "failed"
    assert polled["errors"] == sync_response.json()["extra"]["errors"]
    assert_nothing_kept(job)


def test_a_ten_megabyte_cell_goes_to_the_task_and_fails_there_naming_its_row(send, requester_api, settings):
    data = b"text\nfine\n" + ten_megabytes().encode() + b"\n"

    job, response, upload = send(data, "big.csv", {}, sync=False)

    assert response.status_code == 202
    polled = requester_api.get(f"/api/v1/uploads/{upload.pk}/").json()
    assert polled["status"] == "failed"
    first = polled["errors"][0]
    assert (first["row"], first["line"], first["field"]) == (2, 3, "text")
    assert_nothing_kept(job)


def test_a_gold_label_with_a_nul_is_refused_in_its_column(send):
    data = b"image_url,gold_label\nhttps://example.com/1.jpg,ca\x00t\n"

    job, response, _ = send(data, "g.csv", {"fields": [{"name": "image_url", "type": "url"}]}, sync=True, kind="gold")

    assert response.status_code == 400
    first = response.json()["extra"]["errors"][0]
    assert (first["row"], first["line"], first["field"]) == (1, 2, "gold_label")
    assert_nothing_kept(job)


@pytest.mark.parametrize("sync", [True, False], ids=["in-the-request", "by-the-task"])
def test_text_the_database_can_store_is_kept_exactly_as_sent(send, sync):
    values = [STRINGS[name] for name in STORED_AS_SENT]
    lines = [json.dumps({"external_id": value, "text": value}) for value in values]

    job, response, upload = send("\n".join(lines).encode(), "odd.jsonl", TYPED, sync=sync)

    upload.refresh_from_db()
    assert (response.status_code, upload.status) == ((201 if sync else 202), "succeeded")
    items = Item.objects.filter(job=job).order_by("row_number")
    assert [(i.external_id, i.payload["text"]) for i in items] == [(v, v) for v in values]


def test_an_unexpected_error_in_the_task_ends_the_upload_failed_with_a_generic_error_and_logs_it(
    send, requester_api, monkeypatch, caplog
):
    def broken(*args, **kwargs):
        raise RuntimeError("connection to db-internal.example:5432 as admin/hunter2 failed")

    monkeypatch.setattr("marketplace.services.uploads.ItemWriter.write", broken)
    data = b"text\nfine\nalso fine\n"

    with caplog.at_level(logging.ERROR, logger="marketplace.services.uploads"):
        job, response, upload = send(data, "a.csv", {}, sync=False)

    polled = requester_api.get(f"/api/v1/uploads/{upload.pk}/").json()
    assert (response.status_code, polled["status"]) == (202, "failed")
    assert len(polled["errors"]) == 1 and polled["errors"][0]["row"] is None
    assert "internal error" in polled["errors"][0]["message"]
    assert "hunter2" not in json.dumps(polled) and "db-internal" not in json.dumps(polled)
    logged = [r for r in caplog.records if r.levelno == logging.ERROR and str(upload.pk) in r.getMessage()]
    assert logged and "hunter2" in str(logged[0].exc_info[1])
    assert_nothing_kept(job)
