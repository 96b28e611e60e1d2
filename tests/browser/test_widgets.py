"""The task page's keyboard, per answer type, in a real browser: an item's audio played, paused and sought with
keys that never clash with typing the transcription; pairwise with the arrow keys, boxes drawn with the mouse on
the image, spans selected with the keyboard and the mouse. Each widget passes axe's checks."""

import io
import re
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
    return page.evaluate("(a => ({paused: a.paused, at: a.currentTime}))(document.querySelector('audio'))")


def test_a_transcriber_plays_pauses_and_seeks_the_audio_with_keys_while_typing(page: Page, transactional_db) -> None:
    job = typed_job(
        label_schema={"type": "text"},
        fields=[{"name": "clip", "type": "audio"}],
        items="clip\nclip.wav\nclip.wav\n",
        media={"clip.wav": tone_wav()},
    )
    clip_statuses: list[int] = []
    page.on("response", lambda r: clip_statuses.append(r.status) if "/media/0/clip/" in r.url else None)
    start(page, job)
    expect(page.get_by_text("Play/pause Ctrl+Space")).to_be_visible()
    # The player streams the clip from its URL (no copy in memory) and may seek all of it: the URL answers ranges.
    page.wait_for_function("(a => a.readyState >= 1 && a.seekable.length > 0)(document.querySelector('audio'))")
    src, seekable_to = page.evaluate("(a => [a.src, a.seekable.end(0)])(document.querySelector('audio'))")
    assert re.search(r"/api/v1/work/assignments/\d+/media/0/clip/$", src) and seekable_to > 11
    assert 206 in clip_statuses, clip_statuses  # the player asked for a range and got it
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


def submit_with(page: Page, key: str) -> None:
    """Submit the task with `key` and wait for what follows: the next task's page, or the jobs list at the end."""
    before = page.url
    page.keyboard.press(key)
    page.wait_for_url(lambda url: url != before)


HEADLINES = [f"Headline {i}: <b>markets</b> & matches" for i in range(10)]


def test_a_worker_tags_ten_items_with_the_number_keys_alone(page: Page, transactional_db) -> None:
    job = typed_job(
        label_schema={"type": "multi_choice", "choices": ["news", "sport", "tech"]},
        fields=[{"name": "headline", "type": "string"}],
        items="headline\n" + "".join(f"{headline}\n" for headline in HEADLINES),
    )
    start(page, job)
    expect(page.get_by_text(HEADLINES[0])).to_be_visible()  # the item's text, escaped: the markup shows as text
    assert_accessible(page)
    shot(page, "widget-multi-choice")
    choices = [["1", "3"], ["2"], ["1", "2", "3"], ["3"], ["1"], ["2", "3"], ["1", "3"], ["2"], ["3"], ["1", "2"]]
    for done, keys in enumerate(choices):
        expect(page.get_by_role("group", name="Answer for item 1")).to_be_visible()
        if done == 0:  # a key pressed twice toggles its class off again
            page.keyboard.press("2")
            expect(page.get_by_role("checkbox", name="2 sport")).to_be_checked()
            page.keyboard.press("2")
            expect(page.get_by_role("checkbox", name="2 sport")).not_to_be_checked()
        for key in keys:
            page.keyboard.press(key)
        submit_with(page, "Enter")
    expect(page.get_by_text("Submitted.")).to_be_visible()
    classes = {"1": "news", "2": "sport", "3": "tech"}
    assert [sorted(answer) for answer in submitted_answers(job)] == [
        sorted(classes[key] for key in keys) for keys in choices
    ]


def test_a_worker_rates_ten_items_and_transcribes_ten_with_the_keyboard_alone(page: Page, transactional_db) -> None:
    rated = typed_job(
        label_schema={"type": "number", "min": 1, "max": 5, "step": 1},
        fields=[{"name": "headline", "type": "string"}],
        items="headline\n" + "".join(f"{headline}\n" for headline in HEADLINES),
    )
    start(page, rated)
    assert_accessible(page)
    shot(page, "widget-number")
    ratings = []
    for done in range(10):
        box = page.get_by_label("Answer for item 1")
        expect(box).to_be_focused()
        page.keyboard.type(str(done % 5 + 1))
        if done % 3 == 0:  # the arrow keys step the rating, within the job's range
            page.keyboard.press("ArrowUp")
        ratings.append(min(5, done % 5 + 1 + (done % 3 == 0)))
        expect(box).to_have_value(str(ratings[-1]))
        submit_with(page, "Enter")
    expect(page.get_by_text("Submitted.")).to_be_visible()
    assert [float(answer) for answer in submitted_answers(rated)] == ratings

    transcribed = typed_job(
        label_schema={"type": "text"},
        fields=[{"name": "headline", "type": "string"}],
        items="headline\n" + "".join(f"{headline}\n" for headline in HEADLINES),
    )
    page.goto(f"/work/jobs/{transcribed.pk}/")
    page.get_by_role("button", name="Start working").press("Enter")
    texts = [f"line {i}, with Enter kept" for i in range(10)]
    for text in texts:
        box = page.get_by_label("Answer for item 1")
        expect(box).to_be_focused()
        expect(box).to_have_value("")
        page.keyboard.type(text)
        submit_with(page, "Control+Enter")
    expect(page.get_by_text("Submitted.")).to_be_visible()
    assert submitted_answers(transcribed) == texts


def test_a_worker_compares_ten_pairs_with_the_arrow_keys_and_the_tie_key(page: Page, transactional_db) -> None:
    pairs = "".join(f"a{i},b{i},Essay A{i},Essay B{i}\n" for i in range(10))
    job = typed_job(
        label_schema={"type": "pairwise", "allow_tie": True},
        fields=[{"name": name, "type": "string"} for name in ("left", "right", "left_text", "right_text")],
        items="left,right,left_text,right_text\n" + pairs,
    )
    start(page, job)
    expect(page.get_by_role("radiogroup", name="Which side wins, item 1")).to_be_visible()
    assert_accessible(page)
    shot(page, "widget-pairwise")

    keys = ["ArrowLeft", "ArrowRight", "t", "ArrowRight", "ArrowLeft", "ArrowLeft", "ArrowRight", "t", "ArrowLeft", "2"]
    for done, key in enumerate(keys):
        expect(page.get_by_text(re.compile(r"^Essay A\d$"))).to_be_visible()
        page.keyboard.press(key)
        expect(page.locator("#submit")).to_be_focused()
        if done == 0:
            expect(page.get_by_role("radio", name=re.compile("Left"))).to_be_checked()
        page.keyboard.press("Enter")
    expect(page.get_by_text("Submitted.")).to_be_visible()
    sides = {"ArrowLeft": "left", "ArrowRight": "right", "t": "tie", "2": "right"}
    assert submitted_answers(job) == [sides[key] for key in keys]


def picture(width: int = 200, height: int = 150) -> bytes:
    """A street of two coloured blocks to put boxes around."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (width, height), (235, 235, 225))
    draw = ImageDraw.Draw(image)
    draw.rectangle((20, 30, 80, 90), fill=(180, 40, 40))
    draw.rectangle((120, 50, 150, 130), fill=(40, 80, 180))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def image_point(page: Page, x: float, y: float) -> tuple[float, float]:
    """Where the image's pixel (x, y) is on the screen, at the current zoom."""
    page.locator(".bbox-view").scroll_into_view_if_needed()
    box = page.locator(".bbox-stage img").bounding_box()
    natural = page.evaluate("(i => [i.naturalWidth, i.naturalHeight])(document.querySelector('.bbox-stage img'))")
    return box["x"] + x * box["width"] / natural[0], box["y"] + y * box["height"] / natural[1]


def drag(page: Page, start: tuple[float, float], end: tuple[float, float]) -> None:
    page.mouse.move(*image_point(page, *start))
    page.mouse.down()
    page.mouse.move(*image_point(page, *end), steps=4)
    page.mouse.up()


def boxes(page: Page) -> list:
    return page.evaluate("JSON.parse(document.querySelector('.bbox input[type=hidden]').value)")


def test_a_worker_draws_moves_resizes_relabels_and_deletes_boxes_with_the_mouse(page: Page, transactional_db) -> None:
    job = typed_job(
        label_schema={"type": "bbox", "labels": ["car", "person"]},
        fields=[{"name": "photo", "type": "image"}],
        items="photo\n" + "street.png\n" * 10,
        media={"street.png": picture()},
    )
    start(page, job)
    page.wait_for_function("document.querySelector('.bbox-stage img').naturalWidth > 0")
    expect(page.get_by_role("button", name="1 car")).to_have_attribute("aria-pressed", "true")

    drag(page, (20, 30), (80, 90))  # drawn with the current label
    assert boxes(page) == [[20, 30, 60, 60, "car"]]
    drag(page, (118, 52), (152, 128))
    page.keyboard.press("2")  # relabels the selected (the new) box, and is the label from now on
    assert boxes(page) == [[20, 30, 60, 60, "car"], [118, 52, 34, 76, "person"]]
    drag(page, (135, 90), (137, 88))  # moved by its body: (+2, -2)
    drag(page, (154, 126), (150, 130))  # resized by its bottom-right corner: the top-left corner stays
    assert boxes(page) == [[20, 30, 60, 60, "car"], [120, 50, 30, 80, "person"]]
    drag(page, (5, 5), (15, 15))
    page.keyboard.press("Delete")
    assert boxes(page) == [[20, 30, 60, 60, "car"], [120, 50, 30, 80, "person"]]
    drag(page, (100, 100), (101, 101))  # a click, not a box
    assert len(boxes(page)) == 2

    width = page.locator(".bbox-stage").bounding_box()["width"]
    page.keyboard.press("+")
    assert page.locator(".bbox-stage").bounding_box()["width"] > 1.4 * width
    drag(page, (50, 60), (52, 62))  # the first box, moved at the new zoom
    assert boxes(page)[0] == [22, 32, 60, 60, "car"]
    page.keyboard.press("-")
    expect(page.get_by_role("list", name="Boxes of item 1").get_by_role("listitem")).to_have_count(2)
    assert_accessible(page)
    shot(page, "widget-bbox")
    page.keyboard.press("Enter")

    for _ in range(8):  # the next eight: one box each, drawn, labelled with the keys, submitted with Enter
        expect(page.locator(".bbox-list li")).to_have_count(0)
        page.wait_for_function("document.querySelector('.bbox-stage img').naturalWidth > 0")
        drag(page, (120, 50), (150, 130))
        page.keyboard.press("2")
        page.keyboard.press("Enter")
    # The last one with the keys alone: B adds a box in the middle (a quarter of the image), an arrow moves it by 1%
    # of the image, Shift+arrow resizes it.
    expect(page.locator(".bbox-list li")).to_have_count(0)
    page.wait_for_function("document.querySelector('.bbox-stage img').naturalWidth > 0")
    for key in ("b", "ArrowRight", "Shift+ArrowDown", "2", "Enter"):
        page.keyboard.press(key)
    expect(page.get_by_text("Submitted.")).to_be_visible()
    answers = submitted_answers(job)
    assert answers[0] == [[22, 32, 60, 60, "car"], [120, 50, 30, 80, "person"]]
    assert answers[1:9] == [[[120, 50, 30, 80, "person"]]] * 8
    assert answers[9] == [[77, 56, 50, 40, "person"]]


SENTENCES = [
    "Ada Lovelace met Charles Babbage in London.",
    "😀 Émile wrote to Zoë from Besançon.",  # offsets count characters (code points), as the server does
    '<script>document.title = "pwned"</script> Eve left Paris',  # item text renders as text, never as HTML
    *(f"Worker{i} visited City{i}." for i in range(7)),
]


def words(text: str) -> list[tuple[int, int]]:
    return [match.span() for match in re.finditer(r"\w+", text)]


def test_a_worker_labels_ten_texts_spans_with_the_keyboard_and_the_mouse(page: Page, transactional_db) -> None:
    rows = "".join('"' + sentence.replace('"', '""') + '"\n' for sentence in SENTENCES)
    job = typed_job(
        label_schema={"type": "spans", "text_field": "sentence", "labels": ["PER", "LOC"]},
        fields=[{"name": "sentence", "type": "string"}],
        items="sentence\n" + rows,
    )
    start(page, job)
    expected, moused = [], False
    for _ in range(10):
        text_box = page.get_by_role("textbox", name="Text of item 1")
        expect(text_box).to_be_focused()
        text = text_box.text_content()
        assert text in SENTENCES
        found = words(text)
        # The first word (from the start: to its end, back to its start, then select to its end): PER.
        for key in ("Home", "Control+ArrowRight", "Control+ArrowLeft", "Shift+Control+ArrowRight", "1"):
            page.keyboard.press(key)
        # The last word (from the end: back to its start, select to its end): LOC.
        for key in ("End", "Control+ArrowLeft", "Shift+Control+ArrowRight", "2"):
            page.keyboard.press(key)
        spans = [[*found[0], "PER"], [*found[-1], "LOC"]]
        if not moused and text.isascii():  # the second word, selected with the mouse (a double click), labelled
            moused = True
            middle = page.evaluate(
                """([start, end]) => {
                  const box = document.querySelector('.spans-text');
                  const walker = document.createTreeWalker(box, NodeFilter.SHOW_TEXT);
                  let node, at = 0;
                  while ((node = walker.nextNode())) {
                    const length = node.textContent.length;
                    if (at <= start && start < at + length) {
                      const range = document.createRange();
                      range.setStart(node, start - at);
                      range.setEnd(node, Math.min(length, end - at));
                      const rect = range.getBoundingClientRect();
                      return [rect.x + rect.width / 2, rect.y + rect.height / 2];
                    }
                    at += length;
                  }
                }""",
                list(found[1]),  # in UTF-16 units: the same as code points in an ASCII text
            )
            page.mouse.dblclick(*middle)
            page.keyboard.press("1")
            spans.insert(1, [*found[1], "PER"])
            expect(page.get_by_role("list", name="Spans of item 1").get_by_role("listitem")).to_have_count(3)
            assert_accessible(page)
            shot(page, "widget-spans")
        if "<script>" in text:
            expect(page.locator(".spans-text")).to_contain_text('<script>document.title = "pwned"</script>')
            assert page.title() != "pwned"
            shot(page, "widget-spans-script-as-text")
        expected.append(sorted(spans))
        page.keyboard.press("Enter")
    expect(page.get_by_text("Submitted.")).to_be_visible()
    assert submitted_answers(job) == expected
