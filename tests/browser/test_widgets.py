"""The task page's keyboard, per answer type, in a real browser: an item's audio played, paused and sought with
keys that never clash with typing the transcription; pairwise with the arrow keys, boxes drawn with the mouse on
the image, spans selected with the keyboard and the mouse. Each widget passes axe's checks."""

import io
import re
import struct
import wave

from playwright.sync_api import Page, expect

from marketplace.models import Answer, Assignment, AssignmentStatus, Job
from marketplace.services.jobs import job_transition
from marketplace.services.media import media_upload
from marketplace.services.uploads import upload_receive
from tests.browser.axe import assert_accessible
from tests.browser.conftest import log_in, shot
from tests.factories import PASSWORD, JobFactory, RequesterFactory, WorkerFactory
from tests.marketplace.helpers import csv_file, file_of, fund


def tone_wav(seconds: int = 12, rate: int = 4000) -> bytes:
    """A quiet 440 Hz square wave, 8-bit mono: 12 s in 48 KB, long enough to seek 5 s twice."""
    out = io.BytesIO()
    with wave.open(out, "wb") as sound:
        sound.setnchannels(1)
        sound.setsampwidth(1)
        sound.setframerate(rate)
        period = rate // 440
        sound.writeframes(bytes(120 if (i % period) < period // 2 else 136 for i in range(seconds * rate)))
    return out.getvalue()


def typed_job(*, label_schema: dict, fields: list[dict], items: str, media: dict[str, bytes] | None = None) -> Job:
    """A launched job of one-item tasks, one answer each, whose items (a CSV) went through the real ingest."""
    requester = RequesterFactory()
    job = JobFactory(
        requester=requester,
        label_schema=label_schema,
        item_schema={"fields": fields},
        items_per_task=1,
        overlap_min=1,
        overlap_max=1,
        gold_ratio=0,
        title=f"A {label_schema['type']} job",
    )
    if media:
        media_upload(job=job, files=[file_of(data, name) for name, data in media.items()])
    upload_receive(job=job, user=requester, file=csv_file(items), kind="items")
    fund(job)
    return job_transition(job=job, action="launch")


def start(page: Page, job: Job) -> None:
    worker = WorkerFactory()
    log_in(page, worker.email, PASSWORD)
    page.goto(f"/work/jobs/{job.pk}/")
    page.get_by_role("button", name="Start working").press("Enter")
    expect(page.get_by_text("Item 1 of 1")).to_be_visible()


def submitted_answers(job: Job) -> list:
    done = Assignment.objects.filter(job=job, status=AssignmentStatus.SUBMITTED)
    return list(Answer.objects.filter(assignment__in=done).order_by("assignment_id").values_list("value", flat=True))


def audio_state(page: Page) -> dict:
    return page.evaluate("(() => { const a = document.querySelector('audio'); return {paused: a.paused, at: a.currentTime}; })()")


def test_a_transcriber_plays_pauses_and_seeks_the_audio_with_keys_while_typing(page: Page, transactional_db) -> None:
    job = typed_job(
        label_schema={"type": "text"},
        fields=[{"name": "clip", "type": "audio"}],
        items="clip\nclip.wav\nclip.wav\n",
        media={"clip.wav": tone_wav()},
    )
    start(page, job)
    expect(page.get_by_text("Play/pause Ctrl+Space")).to_be_visible()
    page.wait_for_function("(a => a.src.startsWith('blob:') && a.readyState >= 1)(document.querySelector('audio'))")
    box = page.get_by_label("Answer for item 1")
    expect(box).to_be_focused()

    page.keyboard.type("a cat and ")  # the spaces are the text's, not the player's
    assert audio_state(page)["paused"] is True
    page.keyboard.press("Control+Space")
    page.wait_for_function("!document.querySelector('audio').paused")
    page.keyboard.press("Control+Space")
    assert audio_state(page)["paused"] is True
    page.evaluate("document.querySelector('audio').currentTime = 0")
    page.keyboard.press("Control+.")
    page.keyboard.press("Control+.")
    assert round(audio_state(page)["at"]) == 10
    page.keyboard.press("Control+,")
    assert round(audio_state(page)["at"]) == 5
    page.keyboard.type("a dog")
    expect(box).to_have_value("a cat and a dog")
    assert_accessible(page)
    shot(page, "widget-audio")

    # Outside the text box, Space and the arrow keys work the player too.
    page.locator("legend").first.click()
    page.keyboard.press("ArrowLeft")
    assert round(audio_state(page)["at"]) == 0
    page.keyboard.press("ArrowRight")
    assert round(audio_state(page)["at"]) == 5
    page.keyboard.press("Space")
    page.wait_for_function("!document.querySelector('audio').paused")
    page.keyboard.press("Space")
    assert audio_state(page)["paused"] is True
    expect(box).to_have_value("a cat and a dog")

    box.press("Control+Enter")
    expect(page.get_by_label("Answer for item 1")).to_have_value("")
    page.keyboard.type("silence")
    page.keyboard.press("Control+Enter")
    expect(page.get_by_text("Submitted.")).to_be_visible()
    assert submitted_answers(job) == ["a cat and a dog", "silence"]
