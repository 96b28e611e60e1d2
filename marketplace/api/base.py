from typing import Any

from django.db.models import Model, QuerySet
from rest_framework import generics, serializers

from marketplace import selectors
from marketplace.api.permissions import IsRequester
from marketplace.models import Job


class JobScopedListApi(generics.ListAPIView):
    """A list under `/jobs/{job_id}/...` that only the job's requester may read (others get 404)."""

    permission_classes = [IsRequester]
    model: type[Model]

    def get_queryset(self) -> QuerySet:
        if getattr(self, "swagger_fake_view", False):  # schema generation: no user, no job
            return self.model._default_manager.none()
        return self.scoped_queryset(selectors.job_get(requester=self.request.user, job_id=self.kwargs["job_id"]))

    def scoped_queryset(self, job: Job) -> QuerySet:
        raise NotImplementedError


# The largest id a database row can have (a signed 64-bit column): a bigger one in a request is a 400, not an error of
# the database driver (a 500).
MAX_ID = 2**63 - 1


def id_field(**kwargs: Any) -> serializers.IntegerField:
    """An input field naming a row by its id."""
    return serializers.IntegerField(min_value=1, max_value=MAX_ID, **kwargs)
