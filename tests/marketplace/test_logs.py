import json
import logging

from marketplace.logs import JsonFormatter


def test_json_logs_carry_the_message_and_extra_fields():
    record = logging.LogRecord("crowdmarket", logging.INFO, __file__, 1, "job %s launched", (7,), None)
    record.job_id = 7

    entry = json.loads(JsonFormatter().format(record))

    assert (entry["level"], entry["logger"], entry["message"], entry["job_id"]) == (
        "INFO",
        "crowdmarket",
        "job 7 launched",
        7,
    )
