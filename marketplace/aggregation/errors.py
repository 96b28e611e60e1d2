"""Errors raised by the aggregation engine.

One base class with a stable ``code``, so the Django side can map it to its JSON error shape without
importing anything else from here.
"""


class AggregationError(ValueError):
    """Base class: the input cannot be aggregated as given."""

    code = "aggregation_error"


class InvalidAnswersError(AggregationError):
    """The integer-coded answers are malformed (shapes, dtypes, indices out of range)."""

    code = "aggregation_invalid_answers"


class InvalidGoldError(AggregationError):
    """Gold labels are malformed or contradict each other."""

    code = "aggregation_invalid_gold"


class InvalidOptionError(AggregationError):
    """An option (tolerance, smoothing, initial posteriors...) is out of its domain."""

    code = "aggregation_invalid_option"


class InvalidSchemaError(AggregationError):
    """An answer type's schema (choices, limits, normalisation rules...) is malformed."""

    code = "answer_type_invalid_schema"


class InvalidAnswerError(AggregationError):
    """One answer does not fit its type's schema; the message says what was expected."""

    code = "answer_type_invalid_answer"


class InvalidItemError(AggregationError):
    """An item does not carry what its job's answer type needs (a pairwise item's two sides); ``field`` names the
    item's field at fault."""

    code = "answer_type_invalid_item"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.reason = message
