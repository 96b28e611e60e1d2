"""Dataset ingest: CSV and JSONL files become items grouped into micro-tasks, all or nothing."""

import json

import pytest

from marketplace.models import Item, JobStatus, MicroTask, Upload
from tests.factories import JobFactory
from tests.marketplace.helpers import csv_file, csv_rows, file_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def job(requester):
    return JobFactory(requester=requester, items_per_task=10)


def post(client, job, upload, kind="items", **extra):
    return client.post(f"/api/v1/jobs/{job.pk}/uploads/", {"file": upload, "kind": kind, **extra}, format="multipart")


def assert_nothing_kept(job):
    assert not Item.objects.filter(job=job).exists()
    assert not MicroTask.objects.filter(job=job).exists()
    assert not Upload.objects.filter(job=job).exists()


def test_a_csv_file_becomes_items_grouped_into_micro_tasks(requester_api, job):
    response = post(requester_api, job, csv_file(csv_rows(25)))

    assert response.status_code == 201, response.json()
    assert response.json()["status"] == "succeeded"
    assert (response.json()["items_created"], response.json()["tasks_created"]) == (25, 3)
    tasks = list(MicroTask.objects.filter(job=job).order_by("number"))
    assert [(t.number, t.n_items, t.overlap_target) for t in tasks] == [(1, 10, 3), (2, 10, 3), (3, 5, 3)]
    first = Item.objects.filter(task=tasks[0]).order_by("position")
    assert [i.row_number for i in first] == list(range(1, 11))
    assert first[0].payload == {"image_url": "https://example.com/1.jpg"}
    assert first[0].external_id == "img-1"


def test_a_second_upload_numbers_its_tasks_after_the_first(requester_api, job):
    post(requester_api, job, csv_file(csv_rows(15)))
    post(requester_api, job, csv_file(csv_rows(10, start=16)))

    assert list(MicroTask.objects.filter(job=job).values_list("number", "n_items")) == [(1, 10), (2, 5), (3, 10)]


def test_a_jsonl_file_keeps_typed_values(requester_api, requester):
    job = JobFactory(
        requester=requester,
        items_per_task=2,
        item_schema={
            "fields": [
                {"name": "text", "type": "string"},
                {"name": "stars", "type": "integer"},
                {"name": "score", "type": "number", "required": False},
                {"name": "verified", "type": "boolean"},
            ]
        },
    )
    lines = [
        {"text": "great", "stars": 5, "score": 0.9, "verified": True},
        {"text": "meh", "stars": "3", "verified": "false", "external_id": 7},
        {"text": "bad", "stars": 1, "verified": False},
    ]
    data = ("\n".join(json.dumps(x) for x in lines) + "\n\n").encode()

    response = post(requester_api, job, file_of(data, "items.jsonl"))

    assert response.status_code == 201, response.json()
    payloads = list(Item.objects.filter(job=job).order_by("row_number").values_list("payload", flat=True))
    assert payloads[0] == {"text": "great", "stars": 5, "score": 0.9, "verified": True}
    assert payloads[1] == {"text": "meh", "stars": 3, "score": None, "verified": False}
    assert MicroTask.objects.filter(job=job).count() == 2


def test_a_job_without_an_item_schema_keeps_every_column(requester_api, requester):
    job = JobFactory(requester=requester, item_schema={})

    post(requester_api, job, csv_file("text,lang\nhello,en\n"))

    assert Item.objects.get(job=job).payload == {"text": "hello", "lang": "en"}


def test_gold_items_keep_their_answer_and_join_no_task(requester_api, job):
    text = "image_url,gold_label\nhttps://example.com/g1.jpg,cat\nhttps://example.com/g2.jpg,dog\n"

    response = post(requester_api, job, csv_file(text, "gold.csv"), kind="gold")

    assert response.status_code == 201, response.json()
    gold = list(Item.objects.filter(job=job).order_by("row_number"))
    assert [(g.is_gold, g.gold_answer, g.task_id) for g in gold] == [(True, "cat", None), (True, "dog", None)]
    assert gold[0].payload == {"image_url": "https://example.com/g1.jpg"}
    assert not MicroTask.objects.filter(job=job).exists()


def test_gold_is_numbered_within_its_job_across_uploads_and_a_refused_file_takes_no_number(requester_api, job):
    def gold(*labels):
        rows = "".join(f"https://example.com/g{i}.jpg,{label}\n" for i, label in enumerate(labels))
        return csv_file("image_url,gold_label\n" + rows, "gold.csv")

    assert post(requester_api, job, gold("cat", "dog"), kind="gold").status_code == 201
    assert post(requester_api, job, gold("cat", "horse"), kind="gold").status_code == 400  # not a class
    assert post(requester_api, job, gold("dog", "cat", "cat"), kind="gold").status_code == 201

    numbers = Item.objects.filter(job=job).order_by("id").values_list("gold_number", "gold_answer")
    assert list(numbers) == [(1, "cat"), (2, "dog"), (3, "dog"), (4, "cat"), (5, "cat")]
    job.refresh_from_db()
    assert job.gold_count == 5


@pytest.mark.parametrize(
    ("data", "name", "kind", "row", "field", "words"),
    [
        (b"external_id\nx1\n", "a.csv", "items", None, "image_url", "Missing column"),
        (b"image_url\nhttps://example.com/1.jpg\nnot a url\n", "a.csv", "items", 2, "image_url", "URL"),
        (b"image_url\nhttps://example.com/1.jpg\n\xff\xfe\n", "a.csv", "items", None, None, "UTF-8"),
        (b"", "a.csv", "items", None, None, "empty"),
        (b"image_url\n", "a.csv", "items", None, None, "no data rows"),
        (b"image_url,gold_label\nhttps://example.com/1.jpg,horse\n", "g.csv", "gold", 1, "gold_label", "classes"),
        (b"image_url\nhttps://example.com/1.jpg\n", "g.csv", "gold", None, "gold_label", "Missing column"),
        (b"image_url\nhttps://example.com/1.jpg,extra\n", "a.csv", "items", 1, None, "columns"),
        (b'{"image_url": "https://example.com/1.jpg"}\n{not json\n', "a.jsonl", "items", 2, None, "Invalid JSON"),
        (b'["https://example.com/1.jpg"]\n', "a.jsonl", "items", 1, None, "JSON object"),
        (b'{"image_url": 12}\n', "a.jsonl", "items", 1, "image_url", "URL"),
    ],
    ids=[
        "missing-column",
        "wrong-type",
        "bad-encoding",
        "empty-file",
        "header-only",
        "gold-label-outside-schema",
        "gold-without-label-column",
        "too-many-columns",
        "broken-json-line",
        "json-line-not-an-object",
        "json-wrong-type",
    ],
)
def test_a_bad_file_gets_a_400_naming_the_row_and_field_and_keeps_nothing(
    requester_api, job, data, name, kind, row, field, words
):
    response = post(requester_api, job, file_of(data, name), kind=kind)

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid_upload"
    first = body["extra"]["errors"][0]
    assert (first["row"], first["field"]) == (row, field)
    assert words in first["message"]
    assert_nothing_kept(job)


def test_a_bad_row_late_in_the_file_still_keeps_nothing(requester_api, job):
    text = csv_rows(1200) + "img-x,ftp://nope\n"

    response = post(requester_api, job, csv_file(text))

    assert response.status_code == 400
    assert response.json()["extra"]["errors"] == [
        {"row": 1201, "line": 1202, "field": "image_url", "message": "image_url must be an http(s) URL."}
    ]
    assert_nothing_kept(job)


def test_the_first_errors_are_listed_and_the_list_is_capped(requester_api, job, settings):
    settings.INGEST_MAX_ERRORS = 5
    text = "image_url\n" + "bad\n" * 50

    body = post(requester_api, job, csv_file(text)).json()

    assert [e["row"] for e in body["extra"]["errors"]] == [1, 2, 3, 4, 5]
    assert body["extra"]["truncated"] is True


def test_a_file_with_an_unknown_extension_needs_a_format(requester_api, job):
    unnamed = post(requester_api, job, file_of(b"image_url\nhttps://example.com/1.jpg\n", "data.txt"))
    named = post(requester_api, job, file_of(b"image_url\nhttps://example.com/1.jpg\n", "data.txt"), format="csv")

    assert unnamed.status_code == 400
    assert unnamed.json()["extra"]["field"] == "format"
    assert named.status_code == 201


def test_items_cannot_be_added_once_the_job_is_finished(requester_api, requester):
    job = JobFactory(requester=requester, status=JobStatus.COMPLETED)

    response = post(requester_api, job, csv_file(csv_rows(3)))
    gold = post(requester_api, job, csv_file("image_url,gold_label\nhttps://e.com/1.jpg,cat\n"), kind="gold")

    assert response.status_code == 409
    assert response.json()["code"] == "upload_not_accepted"
    assert gold.status_code == 409


def test_another_requester_cannot_upload_to_a_job_or_read_its_uploads(requester_api, outsider_api, job):
    upload_id = post(requester_api, job, csv_file(csv_rows(3))).json()["id"]

    assert post(outsider_api, job, csv_file(csv_rows(3))).status_code == 404
    assert outsider_api.get(f"/api/v1/uploads/{upload_id}/").status_code == 404
    assert requester_api.get(f"/api/v1/uploads/{upload_id}/").status_code == 200
    assert Item.objects.filter(job=job).count() == 3


def test_the_requester_sees_items_with_gold_answers_and_can_filter_them(requester_api, job):
    post(requester_api, job, csv_file(csv_rows(4)))
    post(requester_api, job, csv_file("image_url,gold_label\nhttps://e.com/1.jpg,cat\n"), kind="gold")

    gold = requester_api.get(f"/api/v1/jobs/{job.pk}/items/", {"is_gold": "true"}).json()

    assert gold["count"] == 1
    assert gold["results"][0]["gold_answer"] == "cat"


class TestLargeUploads:
    """Files above INGEST_SYNC_MAX_BYTES are stored and ingested by a Celery task; the requester polls."""

    @pytest.fixture(autouse=True)
    def _small_sync_limit(self, settings):
        settings.INGEST_SYNC_MAX_BYTES = 100

    def test_a_large_file_is_queued_then_ingested_by_the_task(
        self, requester_api, job, django_capture_on_commit_callbacks
    ):
        with django_capture_on_commit_callbacks(execute=True):
            response = post(requester_api, job, csv_file(csv_rows(50)))

        assert response.status_code == 202
        assert response.json()["status"] == "queued"
        polled = requester_api.get(f"/api/v1/uploads/{response.json()['id']}/").json()
        assert (polled["status"], polled["items_created"], polled["tasks_created"]) == ("succeeded", 50, 5)
        assert Item.objects.filter(job=job).count() == 50

    def test_a_large_bad_file_ends_failed_with_its_errors_and_no_items(
        self, requester_api, job, django_capture_on_commit_callbacks
    ):
        with django_capture_on_commit_callbacks(execute=True):
            response = post(requester_api, job, csv_file(csv_rows(50) + "x,not-a-url\n"))

        polled = requester_api.get(f"/api/v1/uploads/{response.json()['id']}/").json()
        assert polled["status"] == "failed"
        assert polled["errors"][0]["row"] == 51
        assert not Item.objects.filter(job=job).exists()
        assert not MicroTask.objects.filter(job=job).exists()
