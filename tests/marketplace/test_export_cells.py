"""CSV exports never hand a spreadsheet a formula: a text cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage
return gets a leading `'` (OWASP's advice), numbers stay numbers, and JSONL keeps every value exactly."""

import csv
import io
import json

import pytest

from marketplace.models import Item, ItemResult
from marketplace.services.uploads import upload_receive
from tests.factories import JobFactory
from tests.marketplace.helpers import file_of

pytestmark = pytest.mark.django_db
FORMULAS = ["=cmd|' /C calc'!A0", "+1", "-2", "@SUM(A1)", "\t=1+1", "\r=1+1"]
HARMLESS = ["plain", "1", "a=b", " -2", "'quoted", "\u202eexe.txt"]


@pytest.fixture
def job(requester):
    job = JobFactory(requester=requester, item_schema={})
    lines = [json.dumps({"external_id": text, "text": text}) for text in FORMULAS + HARMLESS]
    upload_receive(job=job, user=requester, file=file_of("\n".join(lines).encode(), "items.jsonl"), kind="items")
    for item in Item.objects.filter(job=job):
        ItemResult.objects.create(item=item, job=job, label=item.external_id, confidence=0.75, answer_count=3)
    return job


def export(client, job, **params) -> str:
    response = client.get(f"/api/v1/jobs/{job.pk}/results/export/", params)
    assert response.status_code == 200
    return b"".join(response.streaming_content).decode()


def test_a_csv_export_escapes_every_text_cell_a_spreadsheet_would_run_as_a_formula(requester_api, job):
    rows = list(csv.DictReader(io.StringIO(export(requester_api, job), newline="")))

    assert [r["external_id"] for r in rows] == ["'" + f for f in FORMULAS] + HARMLESS
    assert [r["label"] for r in rows] == ["'" + f for f in FORMULAS] + HARMLESS
    assert [json.loads(r["payload"])["text"] for r in rows] == FORMULAS + HARMLESS  # JSON text starts with {
    assert {(r["confidence"], r["answer_count"]) for r in rows} == {("0.75", "3")}
    assert all(r["item_id"].isdigit() for r in rows)


def test_a_jsonl_export_keeps_every_value_exactly(requester_api, job):
    lines = [json.loads(line) for line in export(requester_api, job, file_format="jsonl").splitlines()]

    assert [line["external_id"] for line in lines] == FORMULAS + HARMLESS
    assert [line["label"] for line in lines] == FORMULAS + HARMLESS
