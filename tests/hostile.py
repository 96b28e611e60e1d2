"""A corpus of hostile values, shared by the upload tests and the API fuzzing (tests/fuzz/).

`STRINGS` are texts a client can send in any field; `JSON_VALUES` are JSON texts for values no well-behaved encoder
produces (or that break a parser); `STORED_AS_SENT` are the ones the database can store, which must come back exactly.
"""

TEN_MB = 10 * 1024 * 1024

STRINGS: dict[str, str] = {
    "nul": "ab\x00cd",
    "lone-surrogate": "\ud800",
    "formula-cmd": "=cmd|' /C calc'!A0",
    "formula-plus": "+1",
    "formula-minus": "-2",
    "formula-at": "@SUM(A1)",
    "formula-tab": "\t=1+1",
    "formula-cr": "\r=1+1",
    "rtl-override": "\u202eexe.txt",
    "zero-width": "a\u200b\u200c\u200d\u2060\ufeffb",
    "combining-and-emoji": "e\u0301\u0301 \U0001f408\u200d\u2b1b",
    "over-a-million-chars": "x" * 1_000_001,
}

JSON_VALUES: dict[str, str] = {
    "nul-escape": '"a\\u0000b"',
    "lone-surrogate-escape": '"\\ud800"',
    "nan": "NaN",
    "infinity": "Infinity",
    "minus-infinity": "-Infinity",
    "overflowing-float": "1e400",
    "5000-digit-integer": "9" * 5000,
    "just-past-64-bits": str(2**63),
    "nested-33-deep": "[" * 33 + "]" * 33,
    "nested-2000-deep": "[" * 2000 + "]" * 2000,
    "nested-100000-deep": "[" * 100_000 + "]" * 100_000,
    "key-with-nul": '{"a\\u0000": 1}',
}

# What PostgreSQL stores as it is: kept, and given back unchanged.
STORED_AS_SENT = [name for name in STRINGS if name not in ("nul", "lone-surrogate", "over-a-million-chars")]


def ten_megabytes() -> str:
    return "x" * TEN_MB
