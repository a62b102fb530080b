"""What counts: the events, the hosts and the test-account filter the settings name.

One definition for both paths: the webhook asks `counts_event` and `counts_host` about
each delivery, and the sync turns the same settings into its HogQL (metrics.posthog.query).
An event without a `$host` (mobile SDKs send none) counts whatever VISITORSYNC_HOSTS says:
the host filter only leaves out events that name another host.
"""

import dataclasses
import functools
import re

from django.conf import settings

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"", "0", "false", "no", "off"})
# A host name, optionally with a port, as `$host` holds it (posthog-js sends location.host).
_HOST = re.compile(r"^(\*\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*(:\d{1,5})?$")
# Characters that could end a HogQL string literal or open a placeholder.
_UNSAFE_IN_EVENT = frozenset("'\\{}\n\r\t")


@dataclasses.dataclass(frozen=True)
class HostPattern:
    """`example.com` matches exactly; `*.example.com` matches any subdomain of it (not itself)."""

    host: str  # lower case, without the `*.`
    subdomains: bool

    def matches(self, host: str) -> bool:
        host = host.lower()
        return host.endswith("." + self.host) if self.subdomains else host == self.host

    def __str__(self) -> str:
        return f"*.{self.host}" if self.subdomains else self.host


def _items(value: str) -> list[str]:
    return [item.strip() for item in value.split(",")]


# Each delivery asks these; the settings are parsed once per value (keyed on the text, so a
# changed setting, as tests' override_settings makes, still takes effect at once).
def event_names() -> tuple[str, ...]:
    """The events that count (VISITORSYNC_EVENT, comma-separated), in the order given."""
    return _event_names(settings.VISITORSYNC_EVENT)


@functools.lru_cache(maxsize=8)
def _event_names(value: str) -> tuple[str, ...]:
    names = [name for name in _items(value) if name]
    return tuple(dict.fromkeys(names)) or ("$pageview",)


def host_patterns() -> tuple[HostPattern, ...]:
    """The hosts whose events count (VISITORSYNC_HOSTS); empty: every host."""
    return _host_patterns(settings.VISITORSYNC_HOSTS)


@functools.lru_cache(maxsize=8)
def _host_patterns(value: str) -> tuple[HostPattern, ...]:
    patterns = []
    for item in _items(value):
        text = item.lower()
        if text and _HOST.match(text):
            patterns.append(HostPattern(host=text.removeprefix("*."), subdomains=text.startswith("*.")))
    return tuple(patterns)


def filter_test_accounts() -> bool:
    """Whether the sync applies the PostHog project's "internal and test users" filters."""
    return settings.VISITORSYNC_FILTER_TEST_ACCOUNTS.strip().lower() in _TRUE


def counts_event(name: str) -> bool:
    return name in event_names()


def counts_host(host: str | None) -> bool:
    """True if an event from `host` counts; an event without a host always does."""
    patterns = host_patterns()
    if not patterns or not host:
        return True
    return any(pattern.matches(host) for pattern in patterns)


def problems() -> list[str]:
    """Settings of what counts that cannot work as written, each with its fix."""
    return list(
        _problems(
            settings.VISITORSYNC_EVENT, settings.VISITORSYNC_HOSTS, settings.VISITORSYNC_FILTER_TEST_ACCOUNTS
        )
    )


@functools.lru_cache(maxsize=8)
def _problems(event: str, hosts: str, filter_test_accounts: str) -> tuple[str, ...]:
    found = []
    names = _items(event)
    if any(not name for name in names) and event.strip():
        found.append(
            f"VISITORSYNC_EVENT={event!r} has an empty event name: list event "
            "names separated by commas, for example '$pageview,$screen'."
        )
    for name in names:
        if set(name) & _UNSAFE_IN_EVENT:
            found.append(
                f"VISITORSYNC_EVENT: {name!r} is not an event name visitorsync can ask PostHog for "
                "(quotes, backslashes, braces and line breaks are not allowed)."
            )
    for item in _items(hosts):
        if not item and hosts.strip():
            found.append(
                f"VISITORSYNC_HOSTS={hosts!r} has an empty host: list host "
                "names separated by commas, for example 'example.com,*.example.com'."
            )
        elif item and not _HOST.match(item.lower()):
            found.append(
                f"VISITORSYNC_HOSTS: {item!r} is not a host name. Give the host as PostHog's $host "
                "shows it, without a scheme or a path: 'example.com' (or 'localhost:8000'), "
                "'*.example.com' for every subdomain."
            )
    flag = filter_test_accounts.strip().lower()
    if flag not in _TRUE | _FALSE:
        found.append(
            f"VISITORSYNC_FILTER_TEST_ACCOUNTS={filter_test_accounts!r} is not "
            "a yes/no value: use true or false."
        )
    return tuple(found)
