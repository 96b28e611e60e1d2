"""Items' media: a requester uploads files beside the items that name them; a worker fetches the files of the items
they hold, while they hold them, through URLs that look the same for gold and real items; nobody else can."""

import io
import re
import wave
import zipfile
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from PIL import Image

from marketplace.models import Assignment, MediaFile
from marketplace.services.assignments import assignment_claim, assignment_release, assignment_submit
from marketplace.services.jobs import job_transition
from marketplace.services.uploads import upload_receive
from tests.factories import JobFactory, WorkerFactory
from tests.marketplace.helpers import answers_for, csv_file, fund

pytestmark = pytest.mark.django_db

MEDIA_SCHEMA = {"fields": [{"name": "photo", "type": "image"}, {"name": "caption", "type": "string"}]}
URL = re.compile(r"^/api/v1/work/assignments/(\d+)/media/(\d+)/photo/$")


def png(width: int = 4, height: int = 3, colour: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(out, format="PNG")
    return out.getvalue()


def wav() -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as sound:
        sound.setnchannels(1)
        sound.setsampwidth(2)
        sound.setframerate(8000)
        sound.writeframes(b"\x00\x00" * 800)
    return out.getvalue()


def zipped(files: dict[str, bytes], name: str = "media.zip") -> SimpleUploadedFile:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for member, data in files.items():
            archive.writestr(member, data)
    return SimpleUploadedFile(name, out.getvalue())


def send(client, job, *files):
    return client.post(f"/api/v1/jobs/{job.pk}/media/", {"files": list(files)}, format="multipart")


def test_a_requester_uploads_images_audio_and_text_recognised_by_content(requester_api, requester):
    job = JobFactory(requester=requester, item_schema=MEDIA_SCHEMA)

    response = send(
        requester_api,
        job,
        SimpleUploadedFile("a.png", png(4, 3)),
        SimpleUploadedFile("clip.wav", wav()),
        SimpleUploadedFile("note.txt", "A long text, ünïcode.".encode()),
    )

    assert response.status_code == 201, response.content
    by_name = {m["name"]: m for m in response.json()}
    assert (by_name["a.png"]["kind"], by_name["a.png"]["width"], by_name["a.png"]["height"]) == ("image", 4, 3)
    assert (by_name["clip.wav"]["kind"], by_name["note.txt"]["kind"]) == ("audio", "text")
    assert requester_api.get(f"/api/v1/jobs/{job.pk}/media/").json()["count"] == 3
    download = requester_api.get(f"/api/v1/jobs/{job.pk}/media/a.png")
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == png(4, 3)


def test_a_zip_stands_for_the_files_inside_it_named_by_their_paths(requester_api, requester):
    job = JobFactory(requester=requester, item_schema=MEDIA_SCHEMA)

    response = send(requester_api, job, zipped({"birds/1.png": png(), "birds/2.png": png(8, 8)}))

    assert response.status_code == 201, response.content
    assert sorted(m["name"] for m in response.json()) == ["birds/1.png", "birds/2.png"]


@pytest.mark.parametrize(
    ("files", "problem"),
    [
        (lambda: [SimpleUploadedFile("x.png", b"MZ\x90\x00 not an image at all")], "Not a supported"),
        (lambda: [SimpleUploadedFile("x.png", png()[:40])], "cannot be read"),
        (lambda: [SimpleUploadedFile("bin.txt", b"\xff\xfe\x00binary")], "Not a supported"),
        (lambda: [zipped({"../escape.png": png()})], "plain relative path"),
        (lambda: [zipped({"/abs.png": png()})], "plain relative path"),
        (lambda: [SimpleUploadedFile("broken.zip", b"PK\x03\x04 truncated")], "not a readable zip"),
        (lambda: [SimpleUploadedFile("a.png", png()), SimpleUploadedFile("a.png", png(2, 2))], "appears twice"),
    ],
    ids=["wrong-type", "corrupt-image", "binary-text", "zip-traversal", "zip-absolute", "corrupt-zip", "same-name"],
)
def test_a_bad_file_is_a_400_naming_it_and_nothing_is_kept(requester_api, requester, files, problem):
    job = JobFactory(requester=requester, item_schema=MEDIA_SCHEMA)

    response = send(requester_api, job, SimpleUploadedFile("good.png", png()), *files())

    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "invalid_media"
    assert any(problem in error["message"] and error["file"] for error in body["extra"]["errors"]), body
    assert not MediaFile.objects.filter(job=job).exists()


def test_files_over_the_limits_are_refused_before_they_are_unpacked(requester_api, requester, settings):
    settings.MEDIA_MAX_BYTES = 1000
    settings.MEDIA_ZIP_MAX_FILES = 2
    job = JobFactory(requester=requester, item_schema=MEDIA_SCHEMA)

    big = send(requester_api, job, SimpleUploadedFile("big.png", png(300, 300, (1, 2, 3)) + b"\x00" * 1000))
    bomb = send(requester_api, job, zipped({"z.txt": b"a" * 100_000}))  # compresses to a few hundred bytes
    many = send(requester_api, job, zipped({f"{i}.png": png() for i in range(3)}))

    assert [r.status_code for r in (big, bomb, many)] == [400, 400, 400]
    assert "larger than 1000 bytes" in big.json()["extra"]["errors"][0]["message"]
    assert "larger than 1000 bytes" in bomb.json()["extra"]["errors"][0]["message"]
    assert "more than 2 files" in many.json()["extra"]["errors"][0]["message"]
    assert not MediaFile.objects.exists()


def test_sending_a_file_again_is_a_retry_but_other_content_under_its_name_is_refused(requester_api, requester):
    job = JobFactory(requester=requester, item_schema=MEDIA_SCHEMA)
    assert send(requester_api, job, SimpleUploadedFile("a.png", png())).status_code == 201

    again = send(requester_api, job, SimpleUploadedFile("a.png", png()))
    other = send(requester_api, job, SimpleUploadedFile("a.png", png(5, 5)))

    assert again.status_code == 201
    assert other.status_code == 400
    assert "different file by this name" in other.json()["extra"]["errors"][0]["message"]
    assert MediaFile.objects.filter(job=job).count() == 1


def test_nobody_but_the_jobs_requester_lists_sends_or_reads_its_media(api, requester_api, requester, outsider_api):
    job = JobFactory(requester=requester, item_schema=MEDIA_SCHEMA)
    send(requester_api, job, SimpleUploadedFile("a.png", png()))
    worker_api = api.as_user(WorkerFactory())

    assert outsider_api.get(f"/api/v1/jobs/{job.pk}/media/").status_code == 404
    assert outsider_api.get(f"/api/v1/jobs/{job.pk}/media/a.png").status_code == 404
    assert send(outsider_api, job, SimpleUploadedFile("b.png", png())).status_code == 404
    assert worker_api.get(f"/api/v1/jobs/{job.pk}/media/a.png").status_code == 403
    assert api.get(f"/api/v1/jobs/{job.pk}/media/a.png").status_code in (401, 403)
    assert MediaFile.objects.filter(job=job).count() == 1


def test_an_item_naming_a_missing_file_or_one_of_another_kind_is_a_400_with_its_row(requester_api, requester):
    job = JobFactory(requester=requester, item_schema=MEDIA_SCHEMA)
    send(requester_api, job, SimpleUploadedFile("a.png", png()), SimpleUploadedFile("clip.wav", wav()))
    items = "photo,caption\na.png,fine\nmissing.png,no such file\nclip.wav,not an image\n"

    response = requester_api.post(
        f"/api/v1/jobs/{job.pk}/uploads/", {"file": csv_file(items), "kind": "items"}, format="multipart"
    )

    assert response.status_code == 400
    errors = response.json()["extra"]["errors"]
    assert [(e["row"], e["field"]) for e in errors] == [(2, "photo"), (3, "photo")]
    assert "'missing.png'" in errors[0]["message"]
    assert job.items.count() == 0


@pytest.fixture
def media_job(requester):
    """A launched job of one-item tasks (plus one gold item each) whose items and gold show pictures."""
    job = JobFactory(
        requester=requester, item_schema=MEDIA_SCHEMA, items_per_task=1, overlap_min=1, overlap_max=1, min_gold=1
    )
    from marketplace.services.media import media_upload

    pictures = {f"real-{i}.png": png(4 + i, 4) for i in range(3)} | {f"gold-{i}.png": png(2, 2 + i) for i in range(3)}
    media_upload(job=job, files=[SimpleUploadedFile(name, data) for name, data in pictures.items()])
    items = "photo,caption\n" + "".join(f"real-{i}.png,item {i}\n" for i in range(3))
    gold = "photo,caption,gold_label\n" + "".join(f"gold-{i}.png,item {i},cat\n" for i in range(3))
    upload_receive(job=job, user=requester, file=csv_file(items), kind="items")
    upload_receive(job=job, user=requester, file=csv_file(gold, "gold.csv"), kind="gold")
    job.gold_ratio = "0.5"
    job.save()
    fund(job)
    job = job_transition(job=job, action="launch")
    job.pictures = pictures
    return job


def claim(api, worker, job) -> dict:
    response = api.as_user(worker).post(f"/api/v1/work/jobs/{job.pk}/claim/")
    assert response.status_code == 201, response.content
    return response.json()


def test_a_worker_sees_urls_not_names_and_gold_and_real_urls_look_alike(api, media_job):
    worker = WorkerFactory()
    assignment = claim(api, worker, media_job)

    urls = [item["payload"]["photo"] for item in assignment["items"]]
    assert len(urls) == 2  # one real, one gold
    for position, url in enumerate(urls):
        match = URL.match(url)
        assert match and match.groups() == (str(assignment["id"]), str(position))
    fetched = [b"".join(api.as_user(worker).get(url).streaming_content) for url in urls]
    assert all(data in media_job.pictures.values() for data in fetched)
    assert "real-" not in str(assignment) and "gold-" not in str(assignment)
    assert [item["payload"]["caption"] for item in assignment["items"]] != [None, None]


def test_only_the_worker_holding_the_open_assignment_can_fetch_its_media(api, media_job, requester_api, outsider_api):
    holder, other = WorkerFactory(), WorkerFactory()
    url = claim(api, holder, media_job)["items"][0]["payload"]["photo"]

    assert api.as_user(holder).get(url).status_code == 200
    assert api.as_user(other).get(url).status_code == 404
    assert requester_api.get(url).status_code == 403  # the job's own requester reads files by name, not here
    assert outsider_api.get(url).status_code == 403
    assert api.get(url).status_code in (401, 403)
    assert api.as_user(holder).get(url.replace("/photo/", "/caption/")).status_code == 404
    assert api.as_user(holder).get(re.sub(r"/media/\d+/", "/media/7/", url)).status_code == 404


@pytest.mark.parametrize("ending", ["submitted", "released", "expired"])
def test_an_assignment_that_ended_no_longer_opens_its_media(api, media_job, ending):
    worker = WorkerFactory()
    data = claim(api, worker, media_job)
    url = data["items"][0]["payload"]["photo"]
    assignment = Assignment.objects.get(pk=data["id"])
    if ending == "submitted":
        assignment_submit(assignment_id=assignment.pk, worker=worker, answers=answers_for(assignment))
    elif ending == "released":
        assignment_release(assignment_id=assignment.pk, worker=worker)
    else:
        Assignment.objects.filter(pk=assignment.pk).update(expires_at=timezone.now() - timedelta(seconds=1))

    assert api.as_user(worker).get(url).status_code == 404


def test_a_claim_through_the_service_keeps_names_in_storage_and_urls_out_of_it(media_job):
    assignment = assignment_claim(job_id=media_job.pk, worker=WorkerFactory())

    stored = [item.payload["photo"] for item in media_job.items.filter(pk__in=assignment.item_ids)]

    assert all(name.endswith(".png") for name in stored)


def _fetch(client, url: str, **headers):
    response = client.get(url, **headers)
    body = b"".join(response.streaming_content) if response.streaming else response.content
    return response, body


def test_the_media_answers_one_byte_range_so_a_player_can_seek(api, media_job):
    worker = WorkerFactory()
    url = claim(api, worker, media_job)["items"][0]["payload"]["photo"]
    client = api.as_user(worker)
    whole, data = _fetch(client, url)
    size = len(data)

    assert whole.status_code == 200 and whole["Accept-Ranges"] == "bytes" and whole["Content-Length"] == str(size)
    for header, start, end in [("bytes=1-3", 1, 3), ("bytes=5-", 5, size - 1), ("bytes=-4", size - 4, size - 1)]:
        part, body = _fetch(client, url, HTTP_RANGE=header)
        assert part.status_code == 206, header
        assert body == data[start : end + 1]
        assert part["Content-Range"] == f"bytes {start}-{end}/{size}"
        assert part["Content-Length"] == str(end - start + 1)
        assert part["Accept-Ranges"] == "bytes" and part["Cache-Control"] == "private, no-store"
        assert part["Content-Type"] == "image/png"
    past_the_end, _ = _fetch(client, url, HTTP_RANGE=f"bytes=1-{size + 100}")
    assert past_the_end.status_code == 206 and past_the_end["Content-Range"] == f"bytes 1-{size - 1}/{size}"


@pytest.mark.parametrize("header", ["bytes=0-0,5-6", "bytes=4-2", "items=0-3", "bytes=-", "bytes=x-3"])
def test_a_range_that_is_not_one_well_formed_byte_range_gets_the_whole_file(api, media_job, header):
    worker = WorkerFactory()
    url = claim(api, worker, media_job)["items"][0]["payload"]["photo"]

    response, body = _fetch(api.as_user(worker), url, HTTP_RANGE=header)

    assert response.status_code == 200 and body in media_job.pictures.values()


def test_an_if_range_gets_the_whole_file_since_no_validator_is_sent(api, media_job):
    worker = WorkerFactory()
    url = claim(api, worker, media_job)["items"][0]["payload"]["photo"]

    response, body = _fetch(api.as_user(worker), url, HTTP_RANGE="bytes=0-3", HTTP_IF_RANGE='"abc"')

    assert response.status_code == 200 and body in media_job.pictures.values()


@pytest.mark.parametrize("header", ["bytes=10000-", "bytes=-0"])
def test_a_range_past_the_end_is_a_416_giving_the_size(api, media_job, header):
    worker = WorkerFactory()
    url = claim(api, worker, media_job)["items"][0]["payload"]["photo"]
    size = len(_fetch(api.as_user(worker), url)[1])

    response, body = _fetch(api.as_user(worker), url, HTTP_RANGE=header)

    assert response.status_code == 416 and body == b""
    assert response["Content-Range"] == f"bytes */{size}" and response["Cache-Control"] == "private, no-store"


def test_a_range_opens_nothing_to_anyone_but_the_holder_of_the_open_assignment(
    api, media_job, requester_api, outsider_api
):
    holder, other = WorkerFactory(), WorkerFactory()
    data = claim(api, holder, media_job)
    url = data["items"][0]["payload"]["photo"]

    for header in ("bytes=0-3", "bytes=10000-"):  # a 416 would tell a file exists: a 404 first
        assert api.as_user(other).get(url, HTTP_RANGE=header).status_code == 404
        assert requester_api.get(url, HTTP_RANGE=header).status_code == 403
        assert outsider_api.get(url, HTTP_RANGE=header).status_code == 403
        assert api.get(url, HTTP_RANGE=header).status_code in (401, 403)
    assignment_release(assignment_id=data["id"], worker=holder)
    assert api.as_user(holder).get(url, HTTP_RANGE="bytes=0-3").status_code == 404


def test_gold_and_real_items_answer_a_range_with_the_same_headers(api, media_job):
    worker = WorkerFactory()
    urls = [item["payload"]["photo"] for item in claim(api, worker, media_job)["items"]]

    responses = [_fetch(api.as_user(worker), url, HTTP_RANGE="bytes=0-7")[0] for url in urls]

    assert [r.status_code for r in responses] == [206, 206]
    assert sorted(responses[0].headers) == sorted(responses[1].headers)
    assert {r["Content-Length"] for r in responses} == {"8"}


def test_a_requester_reads_a_range_of_their_own_file(requester_api, requester):
    job = JobFactory(requester=requester)
    send(requester_api, job, SimpleUploadedFile("clip.wav", wav()))

    response, body = _fetch(requester_api, f"/api/v1/jobs/{job.pk}/media/clip.wav", HTTP_RANGE="bytes=0-3")

    assert response.status_code == 206 and body == b"RIFF"
    assert response["Content-Range"] == f"bytes 0-3/{len(wav())}"
