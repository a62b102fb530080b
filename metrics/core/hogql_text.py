"""Text that goes into a HogQL query: string literals and event property fields, escaped.

Every value a user or a setting supplies reaches HogQL through these two functions, never
pasted in as it is. The rules are PostHog's own printer's (posthog/hogql/escape_sql.py):
a string literal escapes its quote and backslash with a backslash, and an identifier that is
not a plain name is not printed bare.
"""

import re

# What PostHog's printer prints bare (escape_hogql_identifier); anything else needs quoting.
_PLAIN_NAME = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")


def hogql_string(value: str) -> str:
    """`value` as a HogQL string literal. Callers refuse control characters before this."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def hogql_property(key: str) -> str:
    """The event property `key` as a HogQL field: `properties.plan`, or `properties['my key']`
    for a key that is not a plain name (HogQL reads both the same way)."""
    if _PLAIN_NAME.fullmatch(key):
        return f"properties.{key}"
    return f"properties[{hogql_string(key)}]"
