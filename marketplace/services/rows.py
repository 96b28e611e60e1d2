"""Reading and validating the rows of an uploaded file, streamed: one line in memory at a time.

`read_records` turns a binary CSV or JSONL stream into `(row, line, record)` triples, refusing what the database
cannot store (`qualification.storable`: NUL, lone surrogates, NaN, huge numbers, deep nesting) as it reads;
`RowValidator` turns a record into what an item stores. Both raise `RowError`, which names the data row, the
physical line and the field.
"""

import csv
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass
from typing import IO, Any

from marketplace.schemas import RESERVED_COLUMNS, ItemSchema, ItemValueError, LabelSchema, SchemaValueError
from marketplace.selectors import item_context
from qualification import storable

MAX_EXTERNAL_ID = 255
csv.field_size_limit(10 * 1024 * 1024)


@dataclass(frozen=True)
class RowProblem:
    row: int | None
    line: int | None
    field: str | None
    message: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class RowError(Exception):
    def __init__(self, problem: RowProblem, *, fatal: bool = False) -> None:
        super().__init__(problem.message)
        self.problem = problem
        self.fatal = fatal  # the rest of the file cannot be read (bad header, bad encoding)


@dataclass(frozen=True)
class CleanRow:
    row: int
    external_id: str
    payload: dict[str, Any]
    gold_answer: str | None


def _decoded_lines(stream: IO[bytes]) -> Iterator[str]:
    """Decode line by line, so a bad byte is reported on its own line and never loads the whole file."""
    for number, raw in enumerate(stream, start=1):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            problem = RowProblem(None, number, None, f"Line is not valid UTF-8 (byte {exc.start}).")
            raise RowError(problem, fatal=True) from None
        yield text.removeprefix("\ufeff") if number == 1 else text


Record = tuple[int, int, dict[str, Any]]


def _read_csv(stream: IO[bytes], required: Iterable[str]) -> Iterator[Record | RowError]:
    lines = _decoded_lines(stream)
    reader = csv.reader(lines, strict=True)
    try:
        header = [name.strip() for name in next(reader)]
    except StopIteration:
        raise RowError(RowProblem(None, None, None, "The file is empty."), fatal=True) from None
    except csv.Error as exc:
        raise RowError(RowProblem(None, 1, None, f"Unreadable header: {exc}."), fatal=True) from None
    _check_header(header, required)
    width, row, last_line = len(header), 0, reader.line_num
    while True:
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise RowError(RowProblem(row + 1, last_line + 1, None, f"Malformed CSV: {exc}."), fatal=True) from None
        start, last_line = last_line + 1, reader.line_num
        if not values:
            continue
        row += 1
        if len(values) != width:
            yield RowError(RowProblem(row, start, None, f"Expected {width} columns, found {len(values)}."))
            continue
        record = dict(zip(header, values, strict=True))
        try:
            storable.check_strings(record)
        except storable.NotStorable as exc:
            yield _not_storable(row, start, exc)
        else:
            yield row, start, record


def _not_storable(row: int, line: int, exc: storable.NotStorable) -> RowError:
    return RowError(RowProblem(row, line, exc.field, exc.message))


def _check_header(header: list[str], required: Iterable[str]) -> None:
    for name in header:
        if (reason := storable.text_problem(name)) is not None:
            problem = RowProblem(None, 1, storable.safe_text(name), f"A column name {reason}.")
            raise RowError(problem, fatal=True)
    if any(not name for name in header):
        raise RowError(RowProblem(None, 1, None, "The header has an empty column name."), fatal=True)
    duplicates = sorted({name for name in header if header.count(name) > 1})
    if duplicates:
        raise RowError(RowProblem(None, 1, duplicates[0], "Duplicate column name."), fatal=True)
    missing = [name for name in required if name not in header]
    if missing:
        raise RowError(RowProblem(None, 1, missing[0], f"Missing column(s): {', '.join(missing)}."), fatal=True)


def _read_jsonl(stream: IO[bytes]) -> Iterator[Record | RowError]:
    row = 0
    for line_number, text in enumerate(_decoded_lines(stream), start=1):
        if not text.strip():
            continue
        row += 1
        try:
            record = storable.loads(text)
        except json.JSONDecodeError as exc:
            yield RowError(RowProblem(row, line_number, None, f"Invalid JSON: {exc.msg}."))
            continue
        except storable.NotStorable as exc:
            yield _not_storable(row, line_number, exc)
            continue
        if isinstance(record, dict):
            yield row, line_number, record
        else:
            yield RowError(RowProblem(row, line_number, None, "Each line must be a JSON object."))


def read_records(stream: IO[bytes], fmt: str, required: Iterable[str]) -> Iterator[Record | RowError]:
    """Yield `(row, line, record)` for every data row, or a `RowError` for a row that cannot be read.

    Row-level problems are yielded so the caller can collect several; a fatal one (unreadable header, bad
    encoding, broken quoting) is yielded last.
    """
    records = _read_csv(stream, required) if fmt == "csv" else _read_jsonl(stream)
    try:
        yield from records
    except RowError as error:
        yield error


class RowValidator:
    """Turns a record into a `CleanRow` under the job's item schema (and label schema, for gold rows).

    Every item of a job, gold or real, carries the same fields, in the same order, so that no payload tells gold
    apart: under an item schema, its fields; without one, the fields of the job's items so far (`fields`), or else
    of the file's first row.
    """

    def __init__(
        self,
        item_schema: ItemSchema,
        label_schema: LabelSchema | None,
        fields: tuple[str, ...] | None = None,
        media: Mapping[str, str] | None = None,
        described: Mapping[str, Any] | None = None,
        *,
        answer_schema: LabelSchema | None = None,
    ) -> None:
        self.item_schema = item_schema
        self.label_schema = label_schema  # set for gold uploads only
        self.answer_schema = answer_schema or label_schema  # the job's, for what its answer type reads from items
        self.fields = fields
        self.media = media or {}  # the job's media files by name, with their kind (for media fields)
        self.media_fields = item_schema.media_fields
        # For a gold key that depends on its item (a box inside the image): the media files, described.
        self.described = described or {}

    def __call__(self, row: int, line: int, record: dict[str, Any]) -> CleanRow:
        external_id = self._external_id(row, line, record.get("external_id"))
        payload = self._checked(row, line, self._payload(row, line, record))
        return CleanRow(
            row=row,
            external_id=external_id,
            payload=self._checked(row, line, payload),
            gold_answer=self._gold(row, line, record, payload) if self.label_schema else None,
        )

    def _payload(self, row: int, line: int, record: dict[str, Any]) -> dict[str, Any]:
        if not self.item_schema.fields:
            return self._same_fields(row, line, {k: v for k, v in record.items() if k not in RESERVED_COLUMNS})
        payload = {}
        for field in self.item_schema.fields:
            try:
                payload[field.name] = self.item_schema.clean_value(field, record.get(field.name))
            except SchemaValueError as exc:
                raise RowError(RowProblem(row, line, field.name, f"{field.name} {exc}.")) from None
            kind = self.media_fields.get(field.name)
            if kind and payload[field.name] is not None and self.media.get(payload[field.name]) != kind:
                message = f"{field.name} must name a file of kind {kind} uploaded to the job's media"
                raise RowError(RowProblem(row, line, field.name, f"{message} (not {payload[field.name]!r})."))
        return payload

    def _checked(self, row: int, line: int, payload: dict[str, Any]) -> dict[str, Any]:
        """The payload, with the fields the job's answer type reads checked (a pairwise item's two sides)."""
        if self.answer_schema is not None:
            try:
                self.answer_schema.check_item(payload)
            except ItemValueError as exc:
                raise RowError(RowProblem(row, line, exc.field, str(exc))) from None
        return payload

    def _same_fields(self, row: int, line: int, payload: dict[str, Any]) -> dict[str, Any]:
        if self.fields is None:
            self.fields = tuple(payload)
        missing = [name for name in self.fields if name not in payload]
        extra = [name for name in payload if name not in self.fields]
        if missing or extra:
            name = (missing or extra)[0]
            problem = "is missing" if missing else "is not one of them"
            message = f"Every item of the job, gold or not, carries the fields {list(self.fields)}: {name} {problem}."
            raise RowError(RowProblem(row, line, name, message))
        return {name: payload[name] for name in self.fields}

    @staticmethod
    def _external_id(row: int, line: int, value: Any) -> str:
        if value is None:
            return ""
        if not isinstance(value, str | int) or isinstance(value, bool) or len(str(value)) > MAX_EXTERNAL_ID:
            problem = RowProblem(row, line, "external_id", "external_id must be a string of at most 255 chars.")
            raise RowError(problem)
        return str(value)

    def _gold(self, row: int, line: int, record: dict[str, Any], payload: dict[str, Any]) -> Any:
        assert self.label_schema is not None
        value = record.get("gold_label")
        if value is None or value == "":
            raise RowError(RowProblem(row, line, "gold_label", "gold_label is required for a gold item."))
        item = item_context(payload, self.media_fields, self.described) if self.label_schema.needs_item else None
        try:
            return self.label_schema.clean_key(value, item=item)
        except SchemaValueError as exc:
            raise RowError(RowProblem(row, line, "gold_label", f"gold_label {exc}")) from None
