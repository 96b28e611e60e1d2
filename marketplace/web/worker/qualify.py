"""The worker's qualification tests: the tests open to them with their standing, an attempt (every question on one
page, under the test's timer), and the result with when a retake is allowed. Through `qualification`'s services."""

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from marketplace.web.worker.forms import AnswersForm, question_kinds, widget_context
from marketplace.web.worker.views import worker_required
from qualification.errors import InvalidAnswers, NotFound, QualificationError
from qualification.models import Attempt
from qualification.selectors import (
    attempt_questions,
    standing_of,
    work_qualification_list,
    worker_attempt_get,
)
from qualification.services.attempts import attempt_start, attempt_submit


@require_GET
@worker_required
def qualification_list(request: HttpRequest) -> HttpResponse:
    tests = work_qualification_list(worker=request.user)
    rows = [(qualification, standing_of(qualification)) for qualification in tests]
    return render(request, "web/worker/qualification_list.html", {"rows": rows})


@require_POST
@worker_required
def qualification_start(request: HttpRequest, qualification_id: int) -> HttpResponse:
    try:
        attempt, _ = attempt_start(qualification_id=qualification_id, worker=request.user)
    except NotFound:
        raise Http404("No such test.") from None
    except QualificationError as error:
        messages.warning(request, str(error))
        return redirect("web:worker:qualifications")
    return redirect("web:worker:attempt", attempt_id=attempt.pk)


@require_GET
@worker_required
def attempt_detail(request: HttpRequest, attempt_id: int) -> HttpResponse:
    attempt = _own(request, attempt_id)
    if attempt.status != Attempt.Status.STARTED:
        return redirect("web:worker:qualifications")
    return _attempt_page(request, attempt, _answers_form(attempt))


@require_POST
@worker_required
def attempt_answer(request: HttpRequest, attempt_id: int) -> HttpResponse:
    attempt = _own(request, attempt_id)
    form = _answers_form(attempt, request.POST)
    if not form.is_valid():
        return _attempt_page(request, attempt, form, status=400)
    try:
        graded = attempt_submit(attempt_id=attempt.pk, worker=request.user, answers=form.answers())
    except InvalidAnswers as error:
        form.add_position_errors(error.extra.get("errors", []))
        return _attempt_page(request, attempt, form, status=400)
    except QualificationError as error:
        messages.warning(request, str(error))
        return redirect("web:worker:qualifications")
    verdict = "Passed" if graded.passed else "Not passed"
    messages.info(request, f"{verdict}: {graded.score:.0%} correct on {graded.qualification.name}.")
    return redirect("web:worker:qualifications")


def _own(request: HttpRequest, attempt_id: int) -> Attempt:
    try:
        return worker_attempt_get(worker=request.user, attempt_id=attempt_id)
    except NotFound:
        raise Http404("No such attempt.") from None


def _answers_form(attempt: Attempt, *args: Any) -> AnswersForm:
    """The task page's form for the test's answer type, its positions named "Question N"."""
    schema = attempt.qualification.label_schema
    return AnswersForm.for_schema(schema, *args, positions=len(attempt.question_ids), noun="Question")


def _attempt_page(request: HttpRequest, attempt: Attempt, form: AnswersForm, status: int = 200) -> HttpResponse:
    questions = attempt_questions(attempt=attempt)
    schema = attempt.qualification.label_schema
    kinds = question_kinds(schema)
    shown = [[(name, value, kinds.get(name, "string")) for name, value in q.payload.items()] for q in questions]
    context = {"attempt": attempt, "form": form, "positions": form.entries(shown, schema), "noun": "Question"}
    return render(request, "web/worker/attempt.html", context | widget_context(schema), status=status)
