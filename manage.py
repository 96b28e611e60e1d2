#!/usr/bin/env python
import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketplace.settings")
    from django.core.management import execute_from_command_line
    from django.db import OperationalError

    from marketplace.db.postgresql.base import DatabaseUnreachable

    try:
        execute_from_command_line(sys.argv)
    except OperationalError as error:
        if not isinstance(error.__cause__, DatabaseUnreachable):
            raise
        sys.exit(f"error: {error}")  # what to start, without a traceback


if __name__ == "__main__":
    main()
