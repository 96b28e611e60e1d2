"""The requester's forms: shape checks and the page's fields turned into the services' arguments; the rules stay in
the services (a `ValidationError` they raise is shown on the field it names)."""

from decimal import Decimal
from typing import Any

from django import forms
from django.conf import global_settings

from marketplace.models import ClaimOrder, Upload, WorkerModel
from payments.money import MAX_AMOUNT
from qualification.models import Qualification
from qualification.selectors import qualification_list

# The paces at which the job page says what a reward means per hour (seconds a worker spends on one item).
PACES_SECONDS = (5, 15, 60)


ANSWER_TYPES = [
    ("single_choice", "One class"),
    ("multi_choice", "Several classes"),
    ("text", "Free text or a transcription"),
    ("number", "A number or a rating"),
    ("pairwise", "Which of two is better"),
    ("bbox", "Boxes on an image"),
    ("spans", "Spans of a text"),
]


def _numbers(options: dict[str, Any]) -> dict[str, Any]:
    """The range and step given, as JSON numbers (a whole number stays an integer)."""
    picked = {key: options[f"number_{key}"] for key in ("min", "max", "step") if options[f"number_{key}"] is not None}
    return {key: int(value) if value == value.to_integral_value() else float(value) for key, value in picked.items()}


def _first_text(fields: list[dict[str, str]]) -> str:
    return next((f["name"] for f in fields if f["type"] in ("string", "text_file")), "")


# Each answer type's label schema from the form's fields (the service validates it: its errors show on "classes").
SCHEMA_OPTIONS: dict[str, Any] = {
    "single_choice": lambda o, fields: {"classes": o["classes"]},
    "multi_choice": lambda o, fields: {"choices": o["classes"]},
    "text": lambda o, fields: {},
    "number": lambda o, fields: _numbers(o),
    "pairwise": lambda o, fields: {"allow_tie": o["allow_tie"]},
    "bbox": lambda o, fields: {"labels": o["classes"]},
    "spans": lambda o, fields: {"labels": o["classes"], "text_field": _first_text(fields)},
}


class JobForm(forms.Form):
    title = forms.CharField(max_length=200)
    instructions = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 6}),
        required=False,
        help_text="Markdown. Workers see it rendered and sanitised: no scripts, no styles.",
    )
    answer_type = forms.ChoiceField(
        choices=ANSWER_TYPES, initial="single_choice", help_text="What a worker answers about each item."
    )
    classes = forms.CharField(
        label="Classes or labels",
        widget=forms.Textarea(attrs={"rows": 4}),
        required=False,
        help_text="One per line: the classes to pick from (one class, or several), or the labels of boxes and spans.",
    )
    number_min = forms.DecimalField(label="Lowest number", required=False, help_text="Numbers and ratings.")
    number_max = forms.DecimalField(label="Highest number", required=False, help_text="Numbers and ratings.")
    number_step = forms.DecimalField(
        label="Step", required=False, min_value=Decimal("0.000001"), help_text="Numbers and ratings: 1 for a scale."
    )
    allow_tie = forms.BooleanField(label="A tie is an answer", required=False, help_text="Pairwise comparisons.")
    item_fields = forms.CharField(
        initial="text",
        max_length=500,
        help_text="The columns each item row carries, separated by commas: a name, or name:type for a type other "
        "than text (image, audio, text_file, url, integer, number, boolean). Spans mark the first text column; a "
        "pairwise item compares its left and right columns.",
    )
    overlap_min = forms.IntegerField(min_value=1, max_value=50, initial=3, label="Answers per item")
    overlap_max = forms.IntegerField(
        min_value=1, max_value=50, initial=3, label="At most, when answers disagree", help_text="Adaptive overlap."
    )
    items_per_task = forms.IntegerField(min_value=1, max_value=100, initial=10)
    reward_cents = forms.IntegerField(
        min_value=1, max_value=10_000_00, initial=25, label="Reward (cents per assignment)"
    )
    gold_ratio = forms.DecimalField(
        min_value=Decimal(0),
        max_value=Decimal("0.5"),
        decimal_places=3,
        initial=Decimal("0.1"),
        help_text="Share of hidden gold items in each assignment.",
    )
    min_gold = forms.IntegerField(min_value=1, max_value=1000, initial=3, help_text="Gold answers before judging.")
    gold_block_threshold = forms.FloatField(
        min_value=0.0, max_value=1.0, initial=0.6, help_text="Block a worker whose gold accuracy falls below this."
    )
    confidence_target = forms.FloatField(
        min_value=0.5,
        max_value=0.9999,
        initial=0.95,
        help_text="Adaptive overlap: an item gets no more answers once its label is this sure.",
    )
    qualifications = forms.ModelMultipleChoiceField(
        queryset=Qualification.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Only workers who passed these tests see the job.",
    )
    min_reputation = forms.FloatField(
        min_value=0.0, max_value=1.0, required=False, help_text="Optional: the least platform reputation (0 to 1)."
    )
    deadline = forms.DateTimeField(
        required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"}), help_text="Optional."
    )
    daily_cap = forms.IntegerField(
        min_value=1,
        max_value=100_000,
        required=False,
        label="Tasks per worker per day, at most",
        help_text="Optional: spreads the work over more workers (days in UTC; a skipped task counts).",
    )
    claim_order = forms.ChoiceField(
        choices=ClaimOrder.choices,
        initial=ClaimOrder.UPLOADED,
        required=False,
        label="Workers get tasks",
        help_text="By priority: give the items a priority column (priority:number), highest first. Least certain "
        "first: what the answers (or a model's predictions) leave most doubtful, re-ranked as answers come in.",
    )
    worker_model = forms.ChoiceField(
        choices=WorkerModel.choices,
        initial=WorkerModel.DAWID_SKENE,
        required=False,
        label="How the results weigh each worker",
        help_text="One class only. A confusion matrix per worker (the default), one accuracy per worker (fewer "
        "answers needed), one per worker and class (in between), or chosen at each run by which best predicts "
        "answers held out. The results page says which ran and why.",
    )
    language = forms.ChoiceField(
        required=False,
        choices=[("", "None in particular"), *global_settings.LANGUAGES],
        help_text="The language workers need to read the items: workers who search by language find the job.",
    )

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["qualifications"].queryset = qualification_list(user=user)

    def clean_classes(self) -> list[str]:
        return [line.strip() for line in self.cleaned_data["classes"].splitlines() if line.strip()]

    def clean_item_fields(self) -> list[dict[str, str]]:
        fields = []
        for entry in (part.strip() for part in self.cleaned_data["item_fields"].split(",")):
            if entry:
                name, _, kind = entry.partition(":")
                fields.append({"name": name.strip(), "type": kind.strip() or "string"})
        return fields  # the service checks the names and types (shown on this field)

    def to_service_fields(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        kind, fields = data.pop("answer_type"), data.pop("item_fields")
        options = {name: data.pop(name) for name in ("classes", "number_min", "number_max", "number_step", "allow_tie")}
        data["label_schema"] = {"type": kind, **SCHEMA_OPTIONS[kind](options, fields)}
        data["item_schema"] = {"fields": fields}
        data["claim_order"] = data.get("claim_order") or ClaimOrder.UPLOADED
        data["worker_model"] = data.get("worker_model") or WorkerModel.DAWID_SKENE
        data["required_qualifications"] = [
            {"qualification": q.pk, "min_score": 0.0} for q in data.pop("qualifications")
        ]
        return data


# A service's error on a schema names the schema; the page shows it on the field that builds it.
FIELD_OF_ERROR = {"label_schema": "classes", "item_schema": "item_fields"}


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files in one field (Django's documented recipe): cleaned as a list."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> list[Any]:
        files = data if isinstance(data, list | tuple) else [data]
        return [super(MultipleFileField, self).clean(file, initial) for file in files]


class MediaForm(forms.Form):
    files = MultipleFileField(
        label="Files",
        help_text="The pictures, recordings or texts the items name in their media columns, or a zip of them.",
    )


class UploadForm(forms.Form):
    file = forms.FileField(help_text="CSV with a header row, or JSONL (one object per line).")
    kind = forms.ChoiceField(choices=Upload.Kind.choices, initial=Upload.Kind.ITEMS, label="Rows are")


class DepositForm(forms.Form):
    amount = forms.DecimalField(
        min_value=Decimal("0.01"), max_value=Decimal(MAX_AMOUNT) / 100, decimal_places=2, label="Amount"
    )
    idempotency_key = forms.CharField(widget=forms.HiddenInput, max_length=64)


class BlockForm(forms.Form):
    worker = forms.IntegerField(widget=forms.HiddenInput)
    reason = forms.CharField(max_length=255, label="Reason")


class RejectForm(forms.Form):
    reason = forms.CharField(max_length=1000, label="Reason for rejecting")


class ReviewForm(forms.Form):
    """Bulk review: the ticked submissions, approved, or rejected with one reason."""

    assignments = forms.TypedMultipleChoiceField(coerce=int, choices=())
    action = forms.ChoiceField(choices=[("approve", "Approve"), ("reject", "Reject")])
    reason = forms.CharField(max_length=1000, required=False)

    def __init__(self, *args: Any, pending: list[int], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["assignments"].choices = [(i, i) for i in pending]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("action") == "reject" and not (data.get("reason") or "").strip():
            self.add_error("reason", "Say why you reject them: the workers read it.")
        return data


class ComplaintForm(forms.Form):
    worker = forms.IntegerField(min_value=1, label="Worker #")
    message = forms.CharField(max_length=5000, label="What is wrong", widget=forms.Textarea(attrs={"rows": 2}))


class GoldReviewForm(forms.Form):
    item = forms.IntegerField(widget=forms.HiddenInput)
    gold_answer = forms.CharField(max_length=200, label="Right answer")
