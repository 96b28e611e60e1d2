"""Structured logs: one JSON object per line (`LOG_FORMAT=json`), ready for a log pipeline; every line names the
request (or Celery task) it was written for."""

import json
import logging
from datetime import UTC, datetime

from django_guid import get_guid

_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}


class RequestIdFilter(logging.Filter):
    """Adds `request_id`: the id of the request or Celery task being served (django-guid's), `-` outside one."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = get_guid() or "-"
        return True


class JsonFormatter(logging.Formatter):
    """Time, level, logger and message, plus any `extra={...}` fields the caller passed."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update({k: v for k, v in record.__dict__.items() if k not in _STANDARD})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)
