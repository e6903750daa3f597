"""The JSON log formatter masks secret-looking names at any depth of what a log call carries."""

from __future__ import annotations

import json
import logging

from scheduler.logs import JsonFormatter


def _line(**extra: object) -> dict[str, object]:
    record = logging.LogRecord("scim", logging.WARNING, __file__, 1, "patch refused", (), None)
    record.__dict__.update(extra)
    return dict(json.loads(JsonFormatter().format(record)))


def test_nested_secrets_are_masked_and_ids_kept() -> None:
    line = _line(
        token="sst_plain",
        token_id="t-1",
        body={
            "Operations": [{"op": "replace", "path": "title", "value": "Lead"}],
            "password": "hunter2",
            "nested": {"client_secret": "s3", "Authorization": "Bearer x", "expires_at": "now"},
        },
        settings=[{"admin_key": "ssa_plain", "level": "INFO"}],
    )
    assert line["token"] == "***" and line["token_id"] == "t-1"
    body = line["body"]
    assert isinstance(body, dict)
    assert body["password"] == "***"
    assert body["Operations"] == [{"op": "replace", "path": "title", "value": "Lead"}]
    assert body["nested"] == {"client_secret": "***", "Authorization": "***", "expires_at": "now"}
    assert line["settings"] == [{"admin_key": "***", "level": "INFO"}]
    text = json.dumps(line)
    assert not any(s in text for s in ("sst_plain", "hunter2", "s3", "ssa_plain", "Bearer x"))
