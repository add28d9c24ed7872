"""No patient data in the logs: query strings (a patient search's ``?q=Smith``, the audit
report's ``?patient=``) are cut from every log line the app writes (runserver's access log,
Django's request warnings). gunicorn's access log names the path only (deploy/gunicorn.conf.py)
and Caddy drops the known query values (deploy/Caddyfile)."""

import logging
import re

_QUERY = re.compile(r"\?[^\s\"']*")


def redact(text: str) -> str:
    return _QUERY.sub("?[redacted]", text)


class RedactQueryStrings(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str) and "?" in record.msg:
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) and "?" in a else a for a in record.args)
        return True
