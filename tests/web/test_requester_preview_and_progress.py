"""A requester's view of their job as workers and ML tools see it: the task previewed with the real widgets (nothing
recorded), the exports of the job's answer type, and the job's progress over time."""

import json
import re
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from marketplace.demo.birds import scene
from marketplace.models import Answer, Assignment, ProgressSnapshot
from marketplace.services.aggregation import job_aggregate
from marketplace.services.jobs import job_transition
from marketplace.services.media import media_upload
from marketplace.services.progress import progress_snapshot_take
from marketplace.services.uploads import upload_receive
from tests.factories import JobFactory, RequesterFactory, WorkerFactory
from tests.marketplace.helpers import csv_file, file_of, fund, launched_job, work_on

pytestmark = pytest.mark.django_db


def url(name: str, *args: int) -> str:
    return reverse(f"web:requester:{name}", args=args)


def bbox_job(requester):
    """A launched box job of three pictures (the demo's drawn scenes), one per task, no gold."""
    job = JobFactory(
        requester=requester,
        label_schema={"type": "bbox", "labels": ["bird"]},
        item_schema={"fields": [{"name": "photo", "type": "image"}]},
        items_per_task=1,
        overlap_min=1,
        overlap_max=1,
        gold_ratio=0,
    )
    media_upload(job=job, files=[file_of(scene(n)[0], f"scene-{n}.png") for n in range(3)])
    upload_receive(
        job=job, user=requester, file=csv_file("photo\n" + "".join(f"scene-{n}.png\n" for n in range(3))), kind="items"
    )
    fund(job)
    return job_transition(job=job, action="launch")


def test_the_preview_shows_the_jobs_items_in_the_workers_widget_a_task_at_a_time_and_records_nothing(
    browser: Client, requester
) -> None:
    job = launched_job(
        requester, n_items=5, items_per_task=2, overlap_min=1, overlap_max=1, instructions="Pick **one** animal."
    )

    first = browser.get(url("task-preview", job.pk)).content.decode()
    last = browser.get(url("task-preview", job.pk), {"page": 3, "answer_0": "cat"}).content.decode()

    assert first.count('class="item"') == 2 and last.count('class="item"') == 1
    assert "https://example.com/1.jpg" in first and "https://example.com/5.jpg" in last
    assert 'data-widget="single_choice"' in first and 'type="radio"' in first  # the worker's own widget
    assert "Pick <strong>one</strong> animal." in first  # the instructions as workers see them
    form = re.search(r'<form method="get" action="([^"]+)" id="task-form"', first)
    assert form and form.group(1) == url("task-preview", job.pk)  # the form only brings the next items
    assert 'name="page" value="2"' in first
    assert Assignment.objects.count() == 0 and Answer.objects.count() == 0


def test_the_preview_of_a_box_job_shows_each_items_picture_to_its_requester_only(browser: Client, requester) -> None:
    job = bbox_job(requester)

    page = browser.get(url("task-preview", job.pk)).content.decode()
    [picture] = re.findall(r'<img src="([^"]+)"', page)[:1]

    assert browser.get(picture).status_code == 200
    outsider = Client()
    outsider.force_login(RequesterFactory())
    assert outsider.get(picture).status_code == 404
    assert outsider.get(url("task-preview", job.pk)).status_code == 404


def test_the_results_page_shows_the_items_media_and_offers_the_answer_types_own_export_formats(
    browser: Client, requester
) -> None:
    boxes = bbox_job(requester)
    classes = launched_job(requester, n_items=2, overlap_min=1, overlap_max=1)

    box_page = browser.get(url("results", boxes.pk)).content.decode()
    class_page = browser.get(url("results", classes.pk)).content.decode()

    picture = reverse("job-media-file", args=[boxes.pk, "scene-0.png"])
    assert f'<img src="{picture}"' in box_page  # each item with its media, as the requester owns it
    coco = reverse("job-results-export", args=[boxes.pk]) + "?format=coco"
    assert f'href="{coco}"' in box_page and "COCO JSON" in box_page
    assert "format=coco" not in class_page and "CoNLL" not in class_page
    exported = browser.get(coco)
    assert exported.status_code == 200
    assert set(json.loads(b"".join(exported.streaming_content))) >= {"images", "annotations", "categories"}
    outsider = Client()
    outsider.force_login(RequesterFactory())
    assert outsider.get(coco).status_code == 404  # the same link in another requester's session


def test_a_spans_jobs_results_page_offers_conll_and_spacy(browser: Client, requester) -> None:
    job = launched_job(
        requester,
        n_items=2,
        overlap_min=1,
        overlap_max=1,
        label_schema={"type": "spans", "text_field": "image_url", "labels": ["PER"]},
    )

    page = browser.get(url("results", job.pk)).content.decode()

    assert "?format=conll" in page and "?format=spacy" in page


def test_the_dashboard_plots_progress_over_time_from_the_snapshots_aggregations_take(
    browser: Client, requester, django_capture_on_commit_callbacks
) -> None:
    job = launched_job(requester, n_items=6, items_per_task=2, overlap_min=1, overlap_max=1)
    for _ in range(3):  # each task done, then aggregated: three runs, three points
        work_on(job, WorkerFactory(), "cat", django_capture_on_commit_callbacks)
        job_aggregate(job_id=job.pk)
    job_aggregate(job_id=job.pk)  # nothing moved: no new point

    html = browser.get(url("dashboard", job.pk)).content.decode()

    points = list(ProgressSnapshot.objects.filter(job=job).order_by("taken_at"))
    assert [p.items_complete for p in points] == [2, 4, 6]
    assert [p.answers for p in points] == [2, 4, 6]
    [chart] = re.findall(r'<svg role="img" aria-label="Items done over time \(UTC\)".*?</svg>', html, re.S)
    assert len(re.findall(r'class="mark"', chart)) == 3
    assert re.search(r'<path d="M[\d.]+,[\d.]+H[\d.]+V[\d.]+H[\d.]+V[\d.]+"', chart)  # three points, two steps
    [opened] = re.findall(r'<svg role="img" aria-label="Open assignments over time \(UTC\)".*?</svg>', html, re.S)
    assert re.findall(r'class="value">([^<]+)<', chart) == ["2", "4", "6"]
    assert re.findall(r'class="value">([^<]+)<', opened) == ["0", "0", "0"]
    assert re.search(r"<td>\d{4}-\d\d-\d\d \d\d:\d\d</td><td>6</td><td>6</td><td>0</td>", html)


def test_a_snapshot_is_taken_only_when_the_progress_moved(requester) -> None:
    job = launched_job(requester, n_items=2, overlap_min=1, overlap_max=1)
    now = timezone.now()

    first = progress_snapshot_take(job=job, now=now)
    again = progress_snapshot_take(job=job, now=now + timedelta(minutes=5))

    assert first is not None and again is None
    assert (first.items_complete, first.answers, first.assignments_open) == (0, 0, 0)
