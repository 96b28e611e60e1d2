"""The task page for every answer type a job may have: its widget renders, the worker's answer goes to the service
in the type's shape (a string, a set of classes, a number, a
list of boxes or spans, a side), and a media field shows the file through the assignment,
never by its name."""

import io
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image

from marketplace.models import Answer
from marketplace.services.jobs import job_transition
from marketplace.services.media import media_upload
from marketplace.services.uploads import upload_receive
from tests.factories import JobFactory, WorkerFactory
from tests.marketplace.helpers import csv_file, fund

pytestmark = pytest.mark.django_db

CASES = {
    "single_choice": ({"type": "single_choice", "classes": ["cat", "dog"]}, {"answer_0": "dog"}, "dog"),
    "multi_choice": ({"type": "multi_choice", "choices": ["a", "b", "c"]}, {"answer_0": ["a", "c"]}, ["a", "c"]),
    "text": ({"type": "text"}, {"answer_0": "  The cat sat.  "}, "The cat sat."),
    "number": ({"type": "number", "min": 1, "max": 5, "step": 1}, {"answer_0": "4"}, 4),
    "bbox": ({"type": "bbox", "labels": ["cat"]}, {"answer_0": '[[0, 0, 2, 1, "cat"]]'}, [[0, 0, 2, 1, "cat"]]),
}


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (3, 2), (9, 9, 9)).save(out, format="PNG")
    return out.getvalue()


def launched(requester, schema):
    item_schema = {"fields": [{"name": "photo", "type": "image"}, {"name": "caption", "type": "string"}]}
    job = JobFactory(
        requester=requester,
        label_schema=schema,
        item_schema=item_schema,
        gold_ratio=0,
        items_per_task=1,
        overlap_min=1,
        overlap_max=1,
    )
    media_upload(job=job, files=[SimpleUploadedFile("secret-name.png", png())])
    upload_receive(
        job=job, user=requester, file=csv_file("photo,caption\nsecret-name.png,A <b>cat</b>\n"), kind="items"
    )
    fund(job)
    return job_transition(job=job, action="launch")


@pytest.mark.parametrize("name", list(CASES))
def test_the_task_page_of_each_type_takes_its_answer_and_shows_media_through_the_assignment(requester, name):
    schema, posted, stored = CASES[name]
    job = launched(requester, schema)
    worker = WorkerFactory()
    page = Client()
    page.force_login(worker)
    task = page.post(f"/work/jobs/{job.pk}/claim/")["Location"]

    html = page.get(task).content.decode()
    image = re.search(r'<img src="([^"]+)"', html).group(1)
    after = page.post(task.rstrip("/") + "/submit/", posted)

    assert "secret-name" not in html and "A &lt;b&gt;cat&lt;/b&gt;" in html
    assert html.count("/media/0/photo/") == 1  # shown once: by the bbox widget, not also in the item's fields
    assert re.fullmatch(r"/api/v1/work/assignments/\d+/media/0/photo/", image)
    assert after.status_code == 302, after.content.decode()[:500]
    assert Answer.objects.get(worker=worker).value == stored


def test_a_wrong_shaped_number_is_shown_again_with_its_error(requester):
    job = launched(requester, CASES["number"][0])
    page = Client()
    page.force_login(WorkerFactory())
    task = page.post(f"/work/jobs/{job.pk}/claim/")["Location"]

    response = page.post(task.rstrip("/") + "/submit/", {"answer_0": "9"})

    assert response.status_code == 400
    assert "expected a number &lt;= 5, got 9" in response.content.decode()
    assert not Answer.objects.exists()


@pytest.mark.parametrize(("allow_tie", "posted"), [(True, "tie"), (False, "right")])
def test_the_pairwise_task_page_shows_both_sides_and_takes_the_winning_side(requester, allow_tie, posted):
    job = JobFactory(
        requester=requester,
        label_schema={"type": "pairwise", "allow_tie": allow_tie},
        item_schema={"fields": [{"name": "left", "type": "string"}, {"name": "right", "type": "string"}]},
        gold_ratio=0,
        items_per_task=1,
        overlap_min=1,
        overlap_max=1,
    )
    upload_receive(job=job, user=requester, file=csv_file("left,right\n<i>p1</i>,p2\n"), kind="items")
    fund(job)
    job_transition(job=job, action="launch")
    worker = WorkerFactory()
    page = Client()
    page.force_login(worker)
    task = page.post(f"/work/jobs/{job.pk}/claim/")["Location"]

    html = page.get(task).content.decode()
    after = page.post(task.rstrip("/") + "/submit/", {"answer_0": posted})

    assert "&lt;i&gt;p1&lt;/i&gt;" in html and "p2" in html
    assert ('value="tie"' in html) == allow_tie
    assert 'value="left"' in html and 'value="right"' in html
    assert after.status_code == 302, after.content.decode()[:500]
    assert Answer.objects.get(worker=worker).value == posted


def claimed(job) -> tuple[Client, str, object]:
    worker = WorkerFactory()
    page = Client()
    page.force_login(worker)
    return page, page.post(f"/work/jobs/{job.pk}/claim/")["Location"], worker


def text_job(requester, schema, header: str, rows: str):
    fields = [{"name": name, "type": "string"} for name in header.split(",")]
    job = JobFactory(
        requester=requester,
        label_schema=schema,
        item_schema={"fields": fields},
        gold_ratio=0,
        items_per_task=1,
        overlap_min=1,
        overlap_max=1,
    )
    upload_receive(job=job, user=requester, file=csv_file(f"{header}\n{rows}"), kind="items")
    fund(job)
    return job_transition(job=job, action="launch")


def test_a_pairwise_page_posts_the_side_and_a_tie_where_none_is_allowed_is_a_400_on_the_item(requester):
    job = text_job(requester, {"type": "pairwise"}, "left,right,left_text", "a,b,<i>first</i>\n")
    page, task, worker = claimed(job)

    html = page.get(task).content.decode()
    refused = page.post(task.rstrip("/") + "/submit/", {"answer_0": "tie"})
    taken = page.post(task.rstrip("/") + "/submit/", {"answer_0": "right"})

    assert 'value="left"' in html and 'value="right"' in html and 'value="tie"' not in html
    assert "&lt;i&gt;first&lt;/i&gt;" in html and "<i>first" not in html
    assert refused.status_code == 400 and "ties are not allowed" in refused.content.decode()
    assert taken.status_code == 302
    assert Answer.objects.get(worker=worker).value == "right"


def test_a_spans_page_hands_the_text_to_its_script_escaped_and_takes_character_offsets(requester):
    schema = {"type": "spans", "text_field": "sentence", "labels": ["PER"]}
    job = text_job(requester, schema, "sentence", "<script>alert(1)</script> Zoë met Ada\n")
    page, task, worker = claimed(job)

    html = page.get(task).content.decode()
    not_json = page.post(task.rstrip("/") + "/submit/", {"answer_0": "[[0, 3"})
    too_long = page.post(task.rstrip("/") + "/submit/", {"answer_0": '[[27, 99, "PER"]]'})
    taken = page.post(task.rstrip("/") + "/submit/", {"answer_0": '[[26, 29, "PER"], [34, 37, "PER"]]'})

    assert "<script>alert" not in html and "\\u003Cscript\\u003Ealert(1)\\u003C/script\\u003E Zo\\u00eb met Ada" in html
    assert not_json.status_code == 400 and "Enter a valid JSON." in not_json.content.decode()
    assert too_long.status_code == 400 and "span 0" in too_long.content.decode()
    assert taken.status_code == 302, taken.content.decode()[:500]
    assert Answer.objects.get(worker=worker).value == [[26, 29, "PER"], [34, 37, "PER"]]


def test_a_box_outside_the_image_is_a_400_naming_it(requester):
    job = launched(requester, CASES["bbox"][0])
    page, task, _ = claimed(job)

    response = page.post(task.rstrip("/") + "/submit/", {"answer_0": '[[0, 0, 2, 1, "cat"], [1, 1, 5, 1, "cat"]]'})

    assert response.status_code == 400
    assert "box 1" in response.content.decode()
