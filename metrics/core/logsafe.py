"""One rule for values that reach the log from outside: control characters are escaped.

An event uuid, a peer address, a PostHog answer or a driver message quoted in an error can
hold a newline (which would start a forged log line) or a terminal escape (which would
recolour or rewrite the operator's screen). Every `logger` call in metrics/ passes such
values through `loggable`, so each record stays one line with the escapes visible.
"""

import re

# C0 controls, DEL, C1 controls, Unicode's line and paragraph separators, and the
# backslash itself, so an escaped "\n" cannot be told apart from a literal one.
_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\\]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\\": "\\\\"}


def _escape(match: re.Match) -> str:
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def loggable(value: object) -> str:
    """`str(value)` with control characters written as escapes (`\\n`, `\\x1b`, `\\u2028`)."""
    return _UNSAFE.sub(_escape, str(value))
