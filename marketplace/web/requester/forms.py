"""The requester's forms: shape checks and the page's fields turned into the services' arguments; the rules stay in
the services (a `ValidationError` they raise is shown on the field it names)."""

from decimal import Decimal
from typing import Any

from django import forms
from django.conf import global_settings

from marketplace.models import Upload
from payments.money import MAX_AMOUNT
from qualification.models import Qualification
from qualification.selectors import qualification_list

# The paces at which the job page says what a reward means per hour (seconds a worker spends on one item).
PACES_SECONDS = (5, 15, 60)


class JobForm(forms.Form):
    title = forms.CharField(max_length=200)
    instructions = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 6}),
        required=False,
        help_text="Markdown. Workers see it rendered and sanitised: no scripts, no styles.",
    )
    classes = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="Single choice: the classes a worker picks from, one per line.",
    )
    item_fields = forms.CharField(
        initial="text",
        max_length=500,
        help_text="The columns each item row carries (names separated by commas), all text.",
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

    def clean_item_fields(self) -> list[str]:
        return [name.strip() for name in self.cleaned_data["item_fields"].split(",") if name.strip()]

    def to_service_fields(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        data["label_schema"] = {"type": "single_choice", "classes": data.pop("classes")}
        data["item_schema"] = {"fields": [{"name": name, "type": "string"} for name in data.pop("item_fields")]}
        data["required_qualifications"] = [
            {"qualification": q.pk, "min_score": 0.0} for q in data.pop("qualifications")
        ]
        return data


# A service's error on a schema names the schema; the page shows it on the field that builds it.
FIELD_OF_ERROR = {"label_schema": "classes", "item_schema": "item_fields"}


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
