"""Finding work: the filters a worker searches open jobs by, the same in the API and on the find-work page."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from marketplace.models import RequesterStanding
from tests.factories import RequesterFactory, WorkerFactory
from tests.marketplace.helpers import launched_job

pytestmark = pytest.mark.django_db


def job_of(requester, title: str, *, reward_cents: int = 30, minutes: int = 30, language: str = "", **fields):
    duration = timedelta(minutes=minutes)
    return launched_job(
        requester, n_items=2, overlap_min=1, overlap_max=1, title=title, reward_cents=reward_cents,
        assignment_duration=duration, language=language, **fields,
    )  # fmt: skip


def standing(requester, *, reviews: int, rejected: int) -> None:
    RequesterStanding.objects.create(
        requester=requester, reviews=reviews, rejected=rejected, computed_at=timezone.now()
    )


def titles(api, **query) -> set[str]:
    response = api.as_user(WorkerFactory()).get("/api/v1/work/jobs/", query)
    assert response.status_code == 200, response.json()
    return {job["title"] for job in response.json()["results"]}


def test_the_hourly_floor_filter_keeps_jobs_paying_at_least_that_much_for_the_time_allotted(api) -> None:
    requester = RequesterFactory()
    job_of(requester, "60 cents an hour", reward_cents=30, minutes=30)
    job_of(requester, "10 cents an hour", reward_cents=5, minutes=30)
    job_of(requester, "90 cents an hour", reward_cents=15, minutes=10)

    assert titles(api, min_hourly_cents=60) == {"60 cents an hour", "90 cents an hour"}  # the bound is included
    assert titles(api, min_hourly_cents=61) == {"90 cents an hour"}
    assert titles(api, min_hourly_cents=0) == {"60 cents an hour", "10 cents an hour", "90 cents an hour"}


def test_the_requester_filter_keeps_requesters_who_reject_little_and_leaves_out_those_with_no_record(api) -> None:
    fair, harsh, new = RequesterFactory(), RequesterFactory(), RequesterFactory()
    standing(fair, reviews=20, rejected=2)
    standing(harsh, reviews=20, rejected=10)
    job_of(fair, "Fair"), job_of(harsh, "Harsh"), job_of(new, "New")

    assert titles(api, max_rejected_share=0.1) == {"Fair"}
    assert titles(api, max_rejected_share=0.5) == {"Fair", "Harsh"}
    assert titles(api) == {"Fair", "Harsh", "New"}


def test_the_language_filter_keeps_jobs_in_that_language_and_jobs_that_need_none(api) -> None:
    requester = RequesterFactory()
    job_of(requester, "German reviews", language="de")
    job_of(requester, "French reviews", language="fr")
    job_of(requester, "Photos", language="")

    assert titles(api, language="de") == {"German reviews", "Photos"}
    assert titles(api, language="fr") == {"French reviews", "Photos"}


def test_text_type_and_reward_filters_combine(api) -> None:
    requester = RequesterFactory()
    job_of(requester, "Spot the cats", reward_cents=30)
    job_of(requester, "Spot the dogs", reward_cents=5)
    job_of(requester, "Rate the cats", reward_cents=30, label_schema={"type": "number", "min": 1, "max": 5})

    assert titles(api, q="cats", type="single_choice", min_reward_cents=10) == {"Spot the cats"}
    assert titles(api, q="spot") == {"Spot the cats", "Spot the dogs"}
    assert titles(api, type="number") == {"Rate the cats"}


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"min_hourly_cents": "-1"}, "min_hourly_cents"),
        ({"min_reward_cents": "lots"}, "min_reward_cents"),
        ({"max_rejected_share": "1.5"}, "max_rejected_share"),
        ({"language": "xx"}, "language"),
        ({"type": "haiku"}, "type"),
        ({"q": "a" * 50_000}, "q"),  # SQLite refused a LIKE pattern this long with a 500
    ],
)
def test_a_bad_filter_is_a_400_naming_it(api, query, field) -> None:
    job_of(RequesterFactory(), "Spot the cats")

    response = api.as_user(WorkerFactory()).get("/api/v1/work/jobs/", query)

    assert response.status_code == 400
    assert list(response.json()["extra"]["fields"]) == [field]


def test_the_find_work_page_has_the_same_filters(client) -> None:
    fair = RequesterFactory()
    standing(fair, reviews=10, rejected=0)
    job_of(fair, "German reviews, well paid", reward_cents=60, minutes=30, language="de")
    job_of(fair, "German reviews, badly paid", reward_cents=5, minutes=30, language="de")
    job_of(RequesterFactory(), "German reviews, unknown requester", reward_cents=60, language="de")
    job_of(fair, "French reviews", reward_cents=60, language="fr")
    client.force_login(WorkerFactory())

    page = client.get(
        reverse("web:worker:jobs"), {"min_hourly": "1.00", "max_rejected": "5", "language": "de"}
    ).content.decode()
    refused = client.get(reverse("web:worker:jobs"), {"language": "xx", "max_rejected": "150"}).content.decode()

    assert "German reviews, well paid" in page
    assert "badly paid" not in page and "unknown requester" not in page and "French reviews" not in page
    assert "Select a valid choice." in refused and "less than or equal to 100" in refused
