"""Reading a delivery's body within the size limit, with or without a Content-Length."""

from django.http import HttpRequest

from metrics.core.errors import WebhookLengthRequired, WebhookTooLarge


def read_body(request: HttpRequest, *, limit: int) -> bytes:
    """The raw body, refusing one longer than `limit` without reading all of it.

    A body without a Content-Length (`Transfer-Encoding: chunked`) is read from the WSGI
    input when the server says it ends that input at the body's end
    (`wsgi.input_terminated`, which gunicorn sets); Django's own reader would see an empty
    body. From a server that does not say so, it is refused with 411.
    """
    too_large = WebhookTooLarge(
        f"Body larger than {limit} bytes (VISITORSYNC_WEBHOOK_MAX_BODY). A pageview is a few KiB: "
        "check the destination's body template."
    )
    length = request.META.get("CONTENT_LENGTH")
    if not length:
        return _read_unsized_body(request, limit=limit, too_large=too_large)
    try:
        declared = int(length or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        _discard(request, declared)
        raise too_large
    body = request.read(limit + 1)
    if len(body) > limit:
        _discard(request, declared)
        raise too_large
    return body


def _read_unsized_body(request: HttpRequest, *, limit: int, too_large: WebhookTooLarge) -> bytes:
    if not request.META.get("wsgi.input_terminated"):
        raise WebhookLengthRequired(
            "No Content-Length header, and this server does not tell the app where such a body "
            "ends: send the body with a Content-Length (PostHog does), or run visitorsync under "
            "gunicorn (scripts/serve), which reads chunked bodies."
        )
    stream = request.META["wsgi.input"]
    chunks: list[bytes] = []
    size = 0
    while size <= limit:
        chunk = stream.read(min(READ_CHUNK, limit + 1 - size))
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        size += len(chunk)
    drained = 0
    while drained < DISCARD_LIMIT and (chunk := stream.read(READ_CHUNK)):
        drained += len(chunk)
    raise too_large


# Up to this much of a refused body is read and thrown away, so the 413 leaves the
# keep-alive connection usable (gunicorn drops a connection whose request body was left
# unread, and PostHog's next delivery on it would fail). Larger bodies are not worth it.
DISCARD_LIMIT = 1024 * 1024
READ_CHUNK = 64 * 1024


def _discard(request: HttpRequest, declared: int) -> None:
    if declared > DISCARD_LIMIT:
        return
    while request.read(READ_CHUNK):
        pass
