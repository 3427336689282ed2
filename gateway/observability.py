"""Structured logging: one JSON object per line carrying the ids of the work in hand (request, document,
AS4 message) from context variables, and a redaction guard so secrets never reach a log line.

Standard library only, so every layer (services included) may set context with ``log_context``.
"""

from __future__ import annotations

import json as _json
import logging
import re
import sys
import time
import traceback
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, Final, TextIO

CONTEXT_FIELDS: Final = ("request_id", "document_id", "message_id")
"""The context fields every component uses under these names; others (``webhook_id``...) are allowed."""

REDACTED: Final = "[REDACTED]"

_context: ContextVar[Mapping[str, Any]] = ContextVar("gateway_log_context", default=MappingProxyType({}))


@contextmanager
def log_context(**fields: Any) -> Iterator[None]:
    """Add ``fields`` to every log record emitted inside the block (this task/thread and its children).

    Fields given as None are left out; nested blocks add to (and may override) the outer fields, which
    come back when the inner block ends. Context variables follow asyncio tasks and ``anyio.to_thread``.

    Example:
        >>> with log_context(document_id="3f1c...", message_id="...@gateway.coop.example"):
        ...     log.info("sending")  # the JSON line carries both ids
    """
    added = {name: value for name, value in fields.items() if value is not None}
    token = _context.set(MappingProxyType({**_context.get(), **added}))
    try:
        yield
    finally:
        _context.reset(token)


def current_log_context() -> Mapping[str, Any]:
    """The fields set by the enclosing ``log_context`` blocks (read-only)."""
    return _context.get()


# --- redaction -----------------------------------------------------------------------------------------

# Mapping keys / keyword names whose values are secrets whatever they look like.
_SENSITIVE_NAME = re.compile(
    r"pass(word|wd|phrase)?$|secret|api[_-]?key|authorization|cookie|private[_-]?key|credential|token$",
    re.IGNORECASE,
)
_PEM_PRIVATE_KEY = re.compile(
    r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----.*?(-----END [A-Z0-9 ]*PRIVATE KEY-----|\Z)", re.DOTALL
)
# RFC 9110 §11.6.2 credentials after an auth scheme ("Authorization: Bearer <token>").
_AUTH_SCHEME = re.compile(r"\b(Bearer|Basic|Digest|Token|ApiKey)\s+[A-Za-z0-9._~+/=-]+", re.IGNORECASE)
# name=value / name: value / 'name': 'value' where the name is sensitive (headers, query strings, reprs).
_NAMED_VALUE = re.compile(
    r"""(?ix)
    \b([\w-]*(?:password|passwd|passphrase|secret|api[_-]?key|authorization|private[_-]?key|token))
    (['"]?\s*[:=]\s*(?:SecretStr\()?['"]?)
    (?!\[REDACTED)(?!\*{3,})([^\s'",;&})]+)
    """
)
# userinfo in URLs: postgresql+psycopg://user:password@host/db
_URL_PASSWORD = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^:/@\s]+:)([^@\s/]+)@", re.IGNORECASE)

MIN_SECRET_LENGTH: Final = 3
"""Shortest configured secret the gateway accepts (``gateway.config`` refuses shorter ones at start-up):
redacting a 1- or 2-character value would blank out half of every log line."""
_MIN_SECRET_ANYWHERE = 6
"""Secrets at least this long are redacted wherever they occur; shorter ones (3 to 5 characters, e.g. the
development keystore password ``dev``) only as a whole token, so ``dev`` in ``development`` survives."""


def _is_secret_type(value: object) -> bool:
    # pydantic's SecretStr/SecretBytes, recognised by name so this module stays stdlib-only.
    return type(value).__name__ in ("SecretStr", "SecretBytes")


class Redactor:
    """Removes secrets from log arguments and text.

    Three nets, from most to least specific: values known to be secret (configured keys, passwords),
    values under sensitive names (``Authorization``, ``password``, ``api_key``... in mappings and
    ``name=value`` text), and shapes that are secret by themselves (PEM private keys, credentials after
    an HTTP auth scheme, passwords in URLs). pydantic ``SecretStr`` values are never unwrapped.
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        # Every configured secret, whatever its length. A short one is matched as a token only: not inside
        # a word, path or dotted name ("dev" in "development", "/dev/null", "gateway.dev"). Longest first:
        # a secret containing another is removed whole.
        known = sorted({s for s in secrets if s}, key=len, reverse=True)
        self._known = tuple(s for s in known if len(s) >= _MIN_SECRET_ANYWHERE)
        short = [re.escape(s) for s in known if len(s) < _MIN_SECRET_ANYWHERE]
        self._short = re.compile(rf"(?<![\w./-])(?:{'|'.join(short)})(?![\w/-])") if short else None

    def known(self, value: str) -> str:
        """``value`` with the configured secret values replaced (and nothing else)."""
        for secret in self._known:
            if secret in value:
                value = value.replace(secret, REDACTED)
        if self._short is not None:
            value = self._short.sub(REDACTED, value)
        return value

    def text(self, value: str) -> str:
        """``value`` with every recognised secret replaced by ``[REDACTED]``."""
        value = self.known(value)
        value = _PEM_PRIVATE_KEY.sub("[REDACTED PRIVATE KEY]", value)
        value = _AUTH_SCHEME.sub(lambda m: f"{m.group(1)} {REDACTED}", value)
        value = _NAMED_VALUE.sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}", value)
        return _URL_PASSWORD.sub(lambda m: f"{m.group(1)}{REDACTED}@", value)

    def value(self, value: Any, *, depth: int = 0) -> Any:
        """A copy of ``value`` safe to format: secrets under sensitive keys and secret types replaced,
        strings scrubbed with ``text()``. Containers are copied; other objects pass through (their
        ``str()`` is scrubbed later, when the whole line is)."""
        if depth > 8:
            return value
        if _is_secret_type(value):
            return REDACTED
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, bytes):
            return self.text(value.decode("utf-8", "replace"))
        if isinstance(value, Mapping):
            return {
                key: REDACTED
                if isinstance(key, str) and _SENSITIVE_NAME.search(key)
                else self.value(item, depth=depth + 1)
                for key, item in value.items()
            }
        if isinstance(value, list | tuple | set | frozenset):
            # Header lists: [("Authorization", "Bearer ..."), ...]
            if (
                isinstance(value, tuple)
                and len(value) == 2
                and isinstance(value[0], str)
                and _SENSITIVE_NAME.search(value[0])
            ):
                return (value[0], REDACTED)
            items = [self.value(item, depth=depth + 1) for item in value]
            return tuple(items) if isinstance(value, tuple) else items
        return value


# --- formatters ----------------------------------------------------------------------------------------

# Attributes every LogRecord has; anything else on a record came from ``extra=``.
_RECORD_ATTRIBUTES: Final = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
}


def _utc_time(record: logging.LogRecord) -> str:
    stamp = datetime.fromtimestamp(record.created, UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z"


class _RedactingFormatter(logging.Formatter):
    def __init__(self, redactor: Redactor | None = None) -> None:
        super().__init__()
        self.redactor = redactor or Redactor()

    def _message(self, record: logging.LogRecord) -> str:
        args = record.args
        if args:
            # Redact the arguments before %-formatting: a dict of headers must lose its Authorization
            # value by name, which a scan of the finished text could not always recognise.
            safe_args = self.redactor.value(args)
            message = str(record.msg) % (safe_args if isinstance(args, Mapping) else tuple(safe_args))
        else:
            message = str(record.msg)
        return self.redactor.text(message)

    def _exception(self, record: logging.LogRecord) -> str | None:
        if record.exc_info and record.exc_info[0] is not None:
            return self.redactor.text("".join(traceback.format_exception(*record.exc_info)).rstrip())
        if record.exc_text:
            return self.redactor.text(record.exc_text)
        return None

    def _fields(self, record: logging.LogRecord) -> dict[str, Any]:
        """Context fields, then ``extra=`` fields, redacted by name and value."""
        fields: dict[str, Any] = dict(current_log_context())
        for name, value in vars(record).items():
            if name not in _RECORD_ATTRIBUTES and not name.startswith("_"):
                fields[name] = value
        return {
            name: REDACTED if _SENSITIVE_NAME.search(name) else self.redactor.value(value)
            for name, value in fields.items()
        }


class JSONFormatter(_RedactingFormatter):
    """One JSON object per line: ``time`` (UTC, ms), ``level``, ``logger``, ``message``, the context
    fields (``request_id``, ``document_id``, ``message_id``, ...), ``extra=`` fields and ``exception``.

    Args:
        redactor: the redaction guard (default: names and shapes only, no known secret values).
    """

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": _utc_time(record),
            "level": record.levelname,
            "logger": record.name,
            "message": self._message(record),
        }
        for name, value in self._fields(record).items():
            entry.setdefault(name, value)
        exception = self._exception(record)
        if exception:
            entry["exception"] = exception
        # default=str: unknown objects become text, which is scrubbed once more below.
        line = _json.dumps(entry, ensure_ascii=False, default=str, separators=(",", ":"))
        # Objects rendered by default=str were not scrubbed yet: at least the known values go.
        return self.redactor.known(line)


class TextFormatter(_RedactingFormatter):
    """Human-readable lines for development: ``time level logger: message key=value...``, redacted."""

    def format(self, record: logging.LogRecord) -> str:
        fields = " ".join(f"{name}={value}" for name, value in self._fields(record).items())
        line = f"{_utc_time(record)} {record.levelname:<7} {record.name}: {self._message(record)}"
        if fields:
            line = f"{line} [{fields}]"
        exception = self._exception(record)
        if exception:
            line = f"{line}\n{exception}"
        return self.redactor.text(line)


#: The attribute that marks the handler :func:`configure_logging` installed (it replaces its own; the test
#: suite removes it after each test).
HANDLER_MARK = "_gateway_observability"


def configure_logging(
    level: str | int = "INFO",
    *,
    json: bool = True,
    secrets: Iterable[str] = (),
    stream: TextIO | None = None,
) -> logging.Handler:
    """Send all logging to one stream handler on the root logger, JSON lines or text, redacted.

    Calling it again replaces the handler it installed before (tests, reconfiguration); handlers
    installed by others are left alone.

    Args:
        level: the root level (``"INFO"``, ``logging.DEBUG``...).
        json: JSON lines (production) or text (development).
        secrets: values that must never appear in a log line whatever the context: API keys, the
            webhook secret, the keystore password. Values shorter than 6 characters are ignored.
        stream: where to write (default ``sys.stderr``).

    Returns:
        The installed handler.
    """
    redactor = Redactor(secrets)
    formatter: logging.Formatter = JSONFormatter(redactor) if json else TextFormatter(redactor)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(formatter)
    setattr(handler, HANDLER_MARK, True)
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, HANDLER_MARK, False)]:
        root.removeHandler(old)
        old.close()
    root.addHandler(handler)
    root.setLevel(level.upper() if isinstance(level, str) else level)
    return handler


class RateLimitFilter(logging.Filter):
    """Lets one record per (logger, message template) through per ``interval`` seconds; the next one
    that passes says how many were dropped."""

    def __init__(self, interval: float = 10.0) -> None:
        super().__init__()
        self._interval = interval
        self._next: dict[tuple[str, str], float] = {}
        self._dropped: dict[tuple[str, str], int] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        # asyncio puts details (the socket) after the first line: the first line is the template.
        key = (record.name, str(record.msg).split("\n", 1)[0][:120])
        now = time.monotonic()
        if now < self._next.get(key, 0.0):
            self._dropped[key] = self._dropped.get(key, 0) + 1
            return False
        if len(self._next) > 1000:  # message templates are few; never grow without bound
            self._next.clear()
            self._dropped.clear()
        dropped = self._dropped.pop(key, 0)
        if dropped:
            record.msg = f"{record.msg} (and {dropped} more like it in the last {self._interval:.0f} s)"
        self._next[key] = now + self._interval
        return True


def rate_limit(logger: logging.Logger, interval: float = 10.0) -> None:
    """Give ``logger`` a :class:`RateLimitFilter` (idempotent: a logger has at most one)."""
    if not any(isinstance(f, RateLimitFilter) for f in logger.filters):
        logger.addFilter(RateLimitFilter(interval))
