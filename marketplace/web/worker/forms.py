"""The worker pages' forms: they validate what a browser sends and hand the services their usual arguments."""

import uuid
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from django import forms
from django.conf import global_settings

from qualification.labels import LABEL_SCHEMA_TYPES, parse_label_schema

PAIRWISE_CHOICES = [("left", "Left"), ("right", "Right"), ("tie", "Tie")]
# The widgets that use the arrow keys themselves (an item's audio player then seeks with Ctrl+, and Ctrl+. only).
ARROW_WIDGETS = frozenset({"pairwise", "bbox", "spans"})


def _answer_field(answer_type: str, classes: Sequence[str], *, label: str) -> forms.Field:
    if answer_type == "multi_choice":  # the service checks the set's size (min_count, max_count)
        return forms.MultipleChoiceField(label=label, choices=[(c, c) for c in classes], required=False)
    if answer_type == "number":
        return forms.FloatField(label=label)
    if answer_type == "pairwise":  # the winning side; the service refuses a tie where the job allows none
        return forms.ChoiceField(label=label, choices=PAIRWISE_CHOICES)
    if answer_type in ("bbox", "spans"):  # a JSON list the widget's script keeps; the service checks its boxes/spans
        return forms.JSONField(label=label, required=False, initial=list, widget=forms.HiddenInput)
    return forms.CharField(label=label, max_length=10_000, strip=answer_type != "text")


class WorkSearchForm(forms.Form):
    q = forms.CharField(label="Search", required=False, max_length=100)
    min_reward = forms.DecimalField(
        label="Minimum reward per task", required=False, min_value=Decimal(0), max_digits=9, decimal_places=2
    )
    min_hourly = forms.DecimalField(
        label="Minimum per hour", required=False, min_value=Decimal(0), max_digits=9, decimal_places=2
    )
    type = forms.ChoiceField(label="Answer type", required=False)
    max_rejected = forms.IntegerField(label="Requester rejects at most (%)", required=False, min_value=0, max_value=100)
    language = forms.ChoiceField(label="Language", required=False, choices=[("", "Any"), *global_settings.LANGUAGES])

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["type"].choices = [("", "Any"), *((name, name.replace("_", " ")) for name in LABEL_SCHEMA_TYPES)]

    def search_arguments(self) -> dict[str, Any]:
        """`work_job_search`'s filters (minor units: a reward in major units times 100)."""
        data = self.cleaned_data
        reward, hourly, rejected = data.get("min_reward"), data.get("min_hourly"), data.get("max_rejected")
        return {
            "text": data.get("q") or "",
            "min_reward_cents": int(reward * 100) if reward is not None else None,
            "min_hourly_cents": int(hourly * 100) if hourly is not None else None,
            "answer_type": data.get("type") or "",
            "max_rejected_share": rejected / 100 if rejected is not None else None,
            "language": data.get("language") or "",
        }


class PayoutForm(forms.Form):
    """Pay out everything payable in a currency. The key is drawn when the page renders: a double click pays once."""

    currency = forms.CharField(max_length=3, widget=forms.HiddenInput)
    idempotency_key = forms.UUIDField(widget=forms.HiddenInput, initial=uuid.uuid4)


class AppealForm(forms.Form):
    message = forms.CharField(
        label="Why the rejection is wrong", max_length=2000, widget=forms.Textarea(attrs={"rows": 2})
    )


class AnswersForm(forms.Form):
    """One field per item of the assignment (or question of a qualification test), `answer_<position>`, of the shape
    the answer type takes (a string, a set of classes, a number, a JSON list of boxes or spans, a side); the answer
    type's rules are the service's. `noun` names a position in the errors ("Item 2", "Question 2")."""

    def __init__(
        self,
        *args: Any,
        positions: int,
        answer_type: str = "single_choice",
        classes: Sequence[str] = (),
        noun: str = "Item",
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        for position in range(positions):
            self.fields[f"answer_{position}"] = _answer_field(answer_type, classes, label=f"{noun} {position + 1}")

    @classmethod
    def for_schema(
        cls, label_schema: Mapping[str, Any], *args: Any, positions: int, noun: str = "Item", **kwargs: Any
    ) -> "AnswersForm":
        """The form of a job's or a qualification's label schema: the same fields for a task and a test."""
        schema = parse_label_schema(label_schema)
        return cls(*args, positions=positions, answer_type=schema.type, classes=schema.classes, noun=noun, **kwargs)

    def answers(self) -> list[dict[str, Any]]:
        return [
            {"position": int(name.removeprefix("answer_")), "answer": value}
            for name, value in self.cleaned_data.items()
        ]

    def add_position_errors(self, errors: list[dict[str, Any]]) -> None:
        """A service's `InvalidAnswers` errors (`{"position", "message"}`), each on its item's field."""
        for problem in errors:
            name = f"answer_{problem['position']}"
            self.add_error(name if name in self.fields else None, problem["message"])

    def entries(
        self, values: list[list[tuple[str, Any, str]]], label_schema: Mapping[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        """What `_answer_items.html` renders: per position, its field and its (name, value, kind) triples, and what
        the structured widgets draw on: the item's image (bbox: the schema's `image_field`, else its first image),
        its text (spans: the schema's `text_field`, not repeated above the widget), its two sides (pairwise: the
        fields `left`, `right` and those named `left_...`, `right_...`)."""
        schema = label_schema or {}
        return [
            {"position": position, "field": self[f"answer_{position}"], **_widget_inputs(shown, schema)}
            for position, shown in enumerate(values)
        ]


def widget_context(label_schema: Mapping[str, Any]) -> dict[str, Any]:
    """What the answer widgets (`web/widgets/<type>.html` and `.js`) read, for a task page and a test page alike."""
    answer_type = label_schema["type"]
    return {
        "label_schema": label_schema,
        "widget": f"web/widgets/{answer_type}.html",
        "widget_type": answer_type,
        "classes": parse_label_schema(label_schema).classes,
        "arrows_taken": answer_type in ARROW_WIDGETS,
    }


def question_kinds(label_schema: Mapping[str, Any]) -> dict[str, str]:
    """A qualification question has no item schema: its fields' kinds are those its label schema names (a bbox
    test's `image_field` is an image), every other field is shown as a string."""
    schema = parse_label_schema(label_schema)
    named = getattr(schema, "item_fields", {})
    return {field: kinds[0] for field, kinds in named.values() if field and kinds}


def _widget_inputs(shown: list[tuple[str, Any, str]], schema: Mapping[str, Any]) -> dict[str, Any]:
    kind_of = schema.get("type")
    images = [name for name, value, kind in shown if value and name == schema.get("image_field")]
    images += [name for name, value, kind in shown if kind == "image" and value]
    image = images[0] if kind_of == "bbox" and images else None
    text = schema.get("text_field") if kind_of == "spans" else None
    by_name = {name: value for name, value, _ in shown}
    sides = {
        side: [(name, value, kind) for name, value, kind in shown if name == side or name.startswith(side + "_")]
        for side in ("left", "right")
        if kind_of == "pairwise"
    }
    drawn = {image, text} | {name for side in sides.values() for name, _, _ in side}  # by the widget, not twice
    return {
        "values": [entry for entry in shown if entry[0] not in drawn],
        "image": by_name.get(image, "") if image else "",
        "text": by_name.get(text) if isinstance(by_name.get(text), str) else "",
        "sides": sides,
    }
