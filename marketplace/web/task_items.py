"""A task's items as the answer widgets show them: the worker's task page and the requester's preview of it draw
the same rows, each field with its value and kind; they differ only in where a media file is fetched from."""

from collections.abc import Callable
from typing import Any

from marketplace import selectors
from marketplace.models import Job

Row = list[tuple[str, Any, str]]  # (field name, what the page shows, the field's type), in the item schema's order


def item_rows(job: Job, payloads: list[dict[str, Any]], media_url: Callable[[int, str], str]) -> list[Row]:
    """Per item (by position), its fields: a media file as `media_url(position, field)` (a worker fetches it through
    their assignment, never by its name), a text file the widget draws itself as its text, anything else as is."""
    fields = [(field["name"], str(field.get("type", "string"))) for field in (job.item_schema or {}).get("fields", [])]
    media = selectors.media_fields(job)
    drawn = selectors.widget_texts(job=job, payloads=payloads)

    def shown(position: int, name: str, value: Any) -> Any:
        if name in drawn[position]:
            return drawn[position][name]
        return media_url(position, name) if name in media and value is not None else value

    return [
        [(name, shown(position, name, payload.get(name)), kind) for name, kind in fields]
        for position, payload in enumerate(payloads)
    ]
