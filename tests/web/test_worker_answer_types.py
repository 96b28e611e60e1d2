"""The task page for every answer type a job may have: its widget renders, the worker's answer goes to the service
in the type's shape (a string, a set of classes, a number), and a media field shows the file through the assignment,
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
