"""Errors a person can act on.

Every error names what was wrong (``field`` and ``value``) and how to fix it (``hint``). The API maps
``http_status`` to the response code (as RFC 9457 problem details), the CLI prints ``str(error)`` on one line
and exits with code 2, and the worker stores ``code`` + ``str(error)`` on the failed job.
:meth:`Text2VideoError.text` is that text with its code + params (see :mod:`text2video.messages`): the raise site's
own when it words its message (and hint) as :class:`~text2video.messages.Message`, else the generic code of the
error kind, naming the field and the value.
"""

from __future__ import annotations

from typing import Any

from .messages import TEMPLATES, Message


class ModelConfigError(ValueError):
    """A model's configuration its code cannot build (an unsupported config.json option): a plain ValueError with
    no HTTP status, raised by model code; the engine, where it loads a models folder, reports it as
    :class:`ModelsMissing` (the folder is not what the code expects)."""

    code = "models_missing"  # what the service reports it as (its generic message, for clients in other languages)

    def __init__(self, message: str, *, field: str, value: Any = None, hint: str = ""):
        self.message, self.field, self.value, self.hint = message, field, value, hint
        super().__init__(f"{message}. {hint}" if hint else message)


class Text2VideoError(Exception):
    """Base class. ``code`` is a stable machine-readable name, ``http_status`` the code the API answers with."""

    code = "error"
    http_status = 500
    title = "Internal error"

    def __init__(self, message: str, *, field: str | None = None, value: Any = None, hint: str | None = None,
                 errors: dict[str, str] | None = None):
        self.message = message
        self.field = field
        self.value = value
        self.hint = hint
        # Per-field messages, for validation of several fields at once (API "errors" member).
        self.errors = errors or ({field: message} if field else {})
        super().__init__(str(self))

    def __str__(self) -> str:
        text = self.message
        if self.hint:
            text = f"{text} {self.hint}" if text.endswith(".") else f"{text}. {self.hint}"
        return text

    def text(self) -> Message:
        """``str(self)`` with its code + params, for clients that show it in another language."""
        own = [self.message, self.hint] if self.hint else [self.message]
        if all(isinstance(part, Message) for part in own):
            return Message.with_items(str(self), [item for part in own for item in part.items])
        return Message.with_items(str(self), self._generic().items)

    def field_texts(self) -> dict[str, Message]:
        """``errors`` with their code + params; a plain message gets the generic code of this error (its own
        message) or the one naming its field (another field's)."""
        def coded(field: str, text: str) -> Message:
            if isinstance(text, Message):
                return text
            generic = self._generic() if text is self.message else Message("error.invalid_field", field=field)
            return Message.with_items(text, generic.items)
        return {field: coded(field, text) for field, text in self.errors.items()}

    def _generic(self) -> Message:
        """The code of the nearest error kind that has one; invalid input names its field and value."""
        kind = next(cls.code for cls in type(self).__mro__ if "error." + getattr(cls, "code", "") in TEMPLATES)
        if kind != InvalidInput.code:
            return Message("error." + kind)
        if not self.field:
            return Message("error.invalid_request")
        if self.value is None:
            return Message("error.invalid_field", field=self.field)
        value = str(self.value)
        return Message("error.invalid_input", field=self.field, value=value if len(value) <= 60 else value[:59] + "…")

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"code": self.code, "message": str(self)}
        if self.field:
            data["field"] = self.field
        return data


class InvalidInput(Text2VideoError):
    """A request or argument value is wrong (bad size, empty prompt, too few frames...)."""

    code = "invalid_input"
    http_status = 422
    title = "Invalid input"


class BadRequest(InvalidInput):
    """The request itself is malformed (not JSON, missing multipart part)."""

    code = "bad_request"
    http_status = 400
    title = "Bad request"


class UnsupportedMedia(InvalidInput):
    """An upload that is not a video we can decode."""

    code = "unsupported_media"
    http_status = 415
    title = "Unsupported media type"


class PayloadTooLarge(InvalidInput):
    code = "payload_too_large"
    http_status = 413
    title = "Payload too large"


class NoPersonFound(InvalidInput):
    """The pose stage could not find the subject in enough frames."""

    code = "no_person"
    title = "No person found"


class NotFound(Text2VideoError):
    code = "not_found"
    http_status = 404
    title = "Not found"


class Conflict(Text2VideoError):
    code = "conflict"
    http_status = 409
    title = "Conflict"


class Unauthorized(Text2VideoError):
    code = "unauthorized"
    http_status = 401
    title = "Unauthorized"


class RateLimited(Text2VideoError):
    code = "rate_limited"
    http_status = 429
    title = "Too many requests"


class ServiceUnavailable(Text2VideoError):
    """Temporarily unable to take work (disk floor reached, queue unreachable)."""

    code = "unavailable"
    http_status = 503
    title = "Service unavailable"


class ModelsMissing(Text2VideoError):
    """A models folder lacks files; the hint says which download command fetches them."""

    code = "models_missing"
    http_status = 503
    title = "Models missing"


class DeviceError(Text2VideoError):
    """Requested device/dtype is not available (e.g. --device cuda on a machine without CUDA)."""

    code = "device_error"
    http_status = 500
    title = "Device error"


class OutOfMemory(Text2VideoError):
    code = "out_of_memory"
    http_status = 500
    title = "Out of memory"


class Canceled(Text2VideoError):
    """Raised inside a generation when the user canceled it (cooperative, checked every step)."""

    code = "canceled"
    http_status = 409
    title = "Canceled"


class WorkerLost(Text2VideoError):
    code = "worker_lost"
    http_status = 500
    title = "Worker lost"
