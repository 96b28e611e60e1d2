"""Seed a small demo marketplace: an admin, a requester with three launched jobs (which species is this bird, with its
picture; draw a box around every bird; mark the names in a sentence), and a few workers.

Idempotent: running it again changes nothing. Everything goes through the services, as the API would. The pictures
are drawn by `marketplace.demo.birds`.
"""

import csv
import io
import json
from pathlib import Path
from typing import Any

from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management.base import BaseCommand
from django.db import transaction

from marketplace.accounts.models import User
from marketplace.demo import sentences
from marketplace.demo.birds import VARIANTS, picture_name, scene, species_picture
from marketplace.models import Job
from marketplace.services.jobs import job_create, job_transition
from marketplace.services.media import media_upload
from marketplace.services.reviews import job_cost
from marketplace.services.uploads import upload_receive
from payments.services.deposits import deposit_create

DEMO_PASSWORD = "crowdmarket-demo"  # noqa: S105 -- a local demo; printed on purpose
DEMO_DIR = Path(__file__).resolve().parents[2] / "demo"
JOB_TITLE = "Bluebirds: which of the two species is this?"
BOX_JOB_TITLE = "Birds: draw a box around every bird"
SPANS_JOB_TITLE = "Names: mark every person and every place"
N_GOLD = 12
N_SCENES, N_GOLD_SCENES = 24, 8


class Command(BaseCommand):
    help = "Create demo users and a launched demo job (safe to run twice)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--base-url", default="http://127.0.0.1:8000", help="Where the server will listen.")

    def handle(self, *args: Any, **options: Any) -> None:
        base = options["base_url"].rstrip("/")
        with transaction.atomic():
            admin = self._user("admin@demo.local", is_staff=True, is_superuser=True)
            requester = self._user("requester@demo.local", is_requester=True)
            workers = [self._user(f"worker{i}@demo.local", is_worker=True) for i in range(1, 4)]
        # Each service below is its own transaction (the deposit and the launch are durable use cases).
        jobs = [
            Job.objects.filter(requester=requester, title=JOB_TITLE).first() or self._job(requester),
            Job.objects.filter(requester=requester, title=BOX_JOB_TITLE).first() or self._box_job(requester),
            Job.objects.filter(requester=requester, title=SPANS_JOB_TITLE).first() or self._spans_job(requester),
        ]
        for job in jobs:
            self.stdout.write(self.style.SUCCESS(f"Demo job #{job.pk} '{job.title}' is {job.status}."))
        self.stdout.write(f"Users (password '{DEMO_PASSWORD}' for all):")
        for user in [admin, requester, *workers]:
            self.stdout.write(f"  {user.email:<24} {', '.join(user.roles)}")
        self.stdout.write(
            "Log in for an API token:\n"
            f"  curl -s -X POST {base}/_allauth/app/v1/auth/login -H 'Content-Type: application/json' "
            f"""-d '{{"email": "requester@demo.local", "password": "{DEMO_PASSWORD}"}}'\n"""
            f"then send it as the X-Session-Token header. Start at {base}/ ; API docs: {base}/api/docs/ ; "
            f"admin: {base}/admin/"
        )

    def _user(self, email: str, **flags: bool) -> User:
        user = User.objects.filter(email=email).first()
        return user or User.objects.create_user(email=email, password=DEMO_PASSWORD, **flags)

    def _job(self, requester: User) -> Job:
        with (DEMO_DIR / "bluebirds_truth.csv").open() as fh:
            truth = list(csv.DictReader(fh))
        job = job_create(
            requester=requester,
            title=JOB_TITLE,
            instructions="Look at the bird photo: is it species 0 or species 1 (Indigo Bunting or Blue Grosbeak)?",
            label_schema={"type": "single_choice", "classes": ["0", "1"]},
            item_schema={"fields": [{"name": "image_id", "type": "string"}, {"name": "photo", "type": "image"}]},
            overlap_min=3,
            overlap_max=5,
            items_per_task=8,
            reward_cents=12,
        )
        pictures = {
            picture_name(species, variant): species_picture(species, variant)
            for species in ("0", "1")
            for variant in range(VARIANTS)
        }
        media_upload(job=job, files=[SimpleUploadedFile(name, data) for name, data in pictures.items()])

        def photo(r: dict[str, str]) -> str:  # each item shows a drawing of its own species
            return picture_name(r["label"], int(r["task"]) % VARIANTS)

        items = _csv(["external_id", "image_id", "photo"], [[r["task"], r["task"], photo(r)] for r in truth[N_GOLD:]])
        gold = _csv(["image_id", "photo", "gold_label"], [[r["task"], photo(r), r["label"]] for r in truth[:N_GOLD]])
        return self._launch(job, requester, items, gold, key="seed-demo")

    def _box_job(self, requester: User) -> Job:
        job = job_create(
            requester=requester,
            title=BOX_JOB_TITLE,
            instructions="Drag a box around every bird, beak and tail included, as tight as you can.",
            label_schema={"type": "bbox", "labels": ["bird"], "max_boxes": 5},
            item_schema={"fields": [{"name": "photo", "type": "image"}]},
            overlap_min=3,
            overlap_max=3,
            items_per_task=2,
            reward_cents=10,
        )
        scenes = {f"scene-{n:02}.png": scene(n) for n in range(N_SCENES + N_GOLD_SCENES)}
        media_upload(job=job, files=[SimpleUploadedFile(name, data) for name, (data, _) in scenes.items()])
        names = list(scenes)
        items = _csv(["photo"], [[name] for name in names[:N_SCENES]])
        gold = _csv(["photo", "gold_label"], [[name, json.dumps(scenes[name][1])] for name in names[N_SCENES:]])
        return self._launch(job, requester, items, gold, key="seed-demo-boxes")

    def _spans_job(self, requester: User) -> Job:
        job = job_create(
            requester=requester,
            title=SPANS_JOB_TITLE,
            instructions="Select every person's name and press 1 (PER), every place's and press 2 (LOC).",
            label_schema={"type": "spans", "text_field": "sentence", "labels": list(sentences.LABELS)},
            item_schema={"fields": [{"name": "sentence", "type": "string"}]},
            overlap_min=3,
            overlap_max=3,
            items_per_task=3,
            reward_cents=9,
        )
        real, gold = sentences.SENTENCES[: -sentences.N_GOLD], sentences.SENTENCES[-sentences.N_GOLD :]
        items = _csv(["sentence"], [[text] for text, _ in real])
        keys = _csv(
            ["sentence", "gold_label"], [[text, json.dumps(sentences.spans(text, names))] for text, names in gold]
        )
        return self._launch(job, requester, items, keys, key="seed-demo-spans")

    def _launch(self, job: Job, requester: User, items: str, gold: str, *, key: str) -> Job:
        upload_receive(job=job, user=requester, file=ContentFile(items.encode(), name="items.csv"), kind="items")
        upload_receive(job=job, user=requester, file=ContentFile(gold.encode(), name="gold.csv"), kind="gold")
        # The sandbox provider settles at once: fund the job's full cost, then launch it.
        deposit_create(user=requester, amount=job_cost(job), currency=job.currency, idempotency_key=key)
        return job_transition(job=job, action="launch")


def _csv(header: list[str], rows: list[list[str]]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([header, *rows])
    return out.getvalue()
