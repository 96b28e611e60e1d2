"""`make run`'s demo: its species and box jobs show drawn pictures, through the worker's assignment like any item's
media; its spans job's gold keys mark the names of their sentences."""

import io
import json

import pytest
from django.core.management import call_command
from PIL import Image

from marketplace.demo.birds import SCENE, VARIANTS, scene, species_picture
from marketplace.demo.sentences import SENTENCES
from marketplace.models import Item, Job, JobStatus, MediaFile
from marketplace.services.assignments import assignment_claim
from tests.factories import WorkerFactory

pytestmark = pytest.mark.django_db


def seeded() -> dict[str, Job]:
    call_command("seed_demo", stdout=io.StringIO())
    return {job.label_schema["type"]: job for job in Job.objects.all()}


def test_the_pictures_are_small_and_the_same_bytes_every_time() -> None:
    pictures = [species_picture(species, v) for species in "01" for v in range(VARIANTS)]
    scenes = [scene(n)[0] for n in range(8)]

    assert all(len(picture) < 4096 for picture in pictures + scenes)
    assert pictures == [species_picture(species, v) for species in "01" for v in range(VARIANTS)]
    assert len(set(pictures)) == len(pictures)
    assert Image.open(io.BytesIO(pictures[0])).size == (120, 80)


def test_every_bird_item_shows_a_drawing_of_its_species_to_the_worker_holding_it(api) -> None:
    job = seeded()["single_choice"]
    worker = WorkerFactory()
    assignment = assignment_claim(job_id=job.pk, worker=worker)
    claimed = api.as_user(worker).get(f"/api/v1/work/assignments/{assignment.pk}/").json()

    for item in claimed["items"]:
        shown = api.as_user(worker).get(item["payload"]["photo"])
        assert shown.status_code == 200
        picture = b"".join(shown.streaming_content) if shown.streaming else shown.content
        assert Image.open(io.BytesIO(picture)).size == (120, 80)
        species = Item.objects.get(job=job, payload__image_id=item["payload"]["image_id"])
        truth = species.gold_answer if species.is_gold else None
        if truth is not None:  # a gold item's picture is of its key's species
            assert picture in {species_picture(truth, v) for v in range(VARIANTS)}
    assert api.as_user(WorkerFactory()).get(claimed["items"][0]["payload"]["photo"]).status_code == 404


def test_the_box_job_is_live_and_its_gold_boxes_lie_inside_their_pictures() -> None:
    job = seeded()["bbox"]
    gold = list(Item.objects.filter(job=job, is_gold=True))

    assert job.status == JobStatus.ACTIVE
    assert len(gold) == 8 and Item.objects.filter(job=job, is_gold=False).count() == 24
    for item in gold:
        media = MediaFile.objects.get(job=job, name=item.payload["photo"])
        assert (media.width, media.height) == SCENE
        boxes = item.gold_answer if isinstance(item.gold_answer, list) else json.loads(item.gold_answer)
        assert 1 <= len(boxes) <= 3
        assert all(x >= 0 and y >= 0 and x + w <= SCENE[0] and y + h <= SCENE[1] for x, y, w, h, _ in boxes)


def test_seeding_twice_adds_nothing() -> None:
    seeded()
    counts = (Job.objects.count(), Item.objects.count(), MediaFile.objects.count())

    seeded()

    assert (Job.objects.count(), Item.objects.count(), MediaFile.objects.count()) == counts == (3, 156, 6 + 32)


def test_the_names_job_is_live_and_its_gold_spans_are_the_names_of_their_sentences(api) -> None:
    job = seeded()["spans"]
    gold = {item.payload["sentence"]: item.gold_answer for item in Item.objects.filter(job=job, is_gold=True)}

    assert job.status == JobStatus.ACTIVE
    assert gold["Tim Berners-Lee wrote the first web server."] == [[0, 15, "PER"]]
    for sentence, spans in gold.items():
        assert [sentence[start:end] for start, end, _ in spans] == [
            name for name, _ in sorted(dict(SENTENCES)[sentence], key=lambda n: sentence.index(n[0]))
        ]
