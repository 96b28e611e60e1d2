"""factory_boy factories for the test suite."""

from datetime import timedelta
from decimal import Decimal

import factory

from marketplace.accounts.models import User
from marketplace.models import Job, JobStatus

PASSWORD = "a-long-test-password-1"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    password = factory.django.Password(PASSWORD)


class RequesterFactory(UserFactory):
    email = factory.Sequence(lambda n: f"requester{n}@example.com")
    is_requester = True


class WorkerFactory(UserFactory):
    email = factory.Sequence(lambda n: f"worker{n}@example.com")
    is_worker = True


class JobFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Job

    requester = factory.SubFactory(RequesterFactory)
    title = factory.Sequence(lambda n: f"Label the pictures #{n}")
    instructions = "Pick the animal you see."
    label_schema = factory.LazyFunction(lambda: {"type": "single_choice", "classes": ["cat", "dog", "bird"]})
    item_schema = factory.LazyFunction(lambda: {"fields": [{"name": "image_url", "type": "url"}]})
    overlap_min = 3
    overlap_max = 3
    items_per_task = 10
    reward_cents = 25
    currency = "USD"
    gold_ratio = Decimal("0.1")
    assignment_duration = timedelta(minutes=30)
    status = JobStatus.DRAFT


class QualificationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "qualification.Qualification"

    owner = factory.SubFactory(RequesterFactory)
    name = factory.Sequence(lambda n: f"Bird expert #{n}")
    label_schema = factory.LazyFunction(lambda: {"type": "single_choice", "classes": ["cat", "dog", "bird"]})
    questions_per_attempt = 4


class GrantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "qualification.Grant"

    qualification = factory.SubFactory(QualificationFactory)
    worker = factory.SubFactory(WorkerFactory)
    score = 0.9
    source = "manual"
    reason = "granted in a test"
