"""Why a webhook delivery is refused: one type per answer (metrics.presentation maps them)."""


class WebhookError(Exception):
    """A delivery we refuse; `str(err)` says what to do, `field` names the payload field at fault.

    The type decides the answer (`metrics.presentation.http_status_for`).
    """

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class WebhookNotConfigured(WebhookError):
    """No usable secret in production: refuse everything until one is set."""


class WebhookUnauthorized(WebhookError):
    """No or a wrong secret or signature; the body was not parsed."""


class WebhookTooLarge(WebhookError):
    """The body is over VISITORSYNC_WEBHOOK_MAX_BODY."""


class WebhookLengthRequired(WebhookError):
    """A body without a Content-Length from a server that does not say where it ends."""


class WebhookBadPayload(WebhookError):
    """The body is not a delivery we can read; the message names what is wrong."""
