"""PostHog's settings, read once, and what stops them from working, in words a user can act on."""

import dataclasses

from django.conf import settings

from metrics.core import counting, weeks
from metrics.core.counting import HostPattern


@dataclasses.dataclass(frozen=True)
class PostHogConfig:
    host: str
    project_id: str
    api_key: str
    events: tuple[str, ...]
    hosts: tuple[HostPattern, ...]
    filter_test_accounts: bool
    timezone: str
    week_mode: int
    connect_timeout: float
    read_timeout: float
    query_timeout: float
    max_attempts: int
    retry_deadline: float
    retry_after_cap: float
    max_answer_bytes: int

    @classmethod
    def from_settings(cls) -> "PostHogConfig":
        return cls(
            host=settings.POSTHOG_HOST.rstrip("/"),
            project_id=str(settings.POSTHOG_PROJECT_ID).strip(),
            api_key=settings.POSTHOG_API_KEY.strip(),
            events=counting.event_names(),
            hosts=counting.host_patterns(),
            filter_test_accounts=counting.filter_test_accounts(),
            timezone=settings.VISITORSYNC_TIMEZONE,
            week_mode=weeks.hogql_week_mode(),
            connect_timeout=settings.POSTHOG_CONNECT_TIMEOUT,
            read_timeout=settings.POSTHOG_READ_TIMEOUT,
            query_timeout=settings.POSTHOG_QUERY_TIMEOUT,
            max_attempts=max(1, settings.POSTHOG_MAX_ATTEMPTS),
            retry_deadline=settings.POSTHOG_RETRY_DEADLINE,
            retry_after_cap=settings.POSTHOG_RETRY_AFTER_CAP,
            max_answer_bytes=settings.POSTHOG_MAX_ANSWER_BYTES,
        )

    def problems(self) -> list[str]:
        """What stops syncing from working, in words a user can act on: the connection's
        settings, then what counts (metrics.core.counting, reported by metrics.E004)."""
        return self.connection_problems() + counting.problems()

    def connection_problems(self) -> list[str]:
        """What stops visitorsync from reaching and querying the PostHog project."""
        found = []
        if not self.host:
            found.append(
                "POSTHOG_HOST is empty: set it to https://us.posthog.com, "
                "https://eu.posthog.com or your self-hosted PostHog address."
            )
        if not self.project_id:
            found.append(
                "POSTHOG_PROJECT_ID is not set: it is the number in your PostHog "
                "URL, https://us.posthog.com/project/<id>."
            )
        elif not self.project_id.isdigit():
            found.append(f"POSTHOG_PROJECT_ID must be a number, not {self.project_id!r}.")
        if not self.api_key:
            found.append(
                "POSTHOG_API_KEY is not set: create a personal API key with the "
                "'Query Read' scope in PostHog (Settings > Personal API keys)."
            )
        elif self.api_key.startswith("phc_"):
            found.append(
                "POSTHOG_API_KEY is a project API key (phc_...), which can only "
                "send events. Create a personal API key (phx_...) with the "
                "'Query Read' scope in PostHog (Settings > Personal API keys)."
            )
        if not self.query_timeout > 0:
            found.append(
                f"POSTHOG_QUERY_TIMEOUT must be a number of seconds above 0, not {self.query_timeout:g}: "
                "it is the most one query attempt may take (default 60)."
            )
        if ".i.posthog.com" in self.host:
            found.append(
                f"POSTHOG_HOST={self.host} is an ingestion host, which does not "
                "answer queries; use https://us.posthog.com or https://eu.posthog.com."
            )
        return found

    @property
    def longest_query(self) -> float:
        """Seconds one query may take at worst: no retry starts after the retry deadline, and
        the last attempt may take a connect timeout and a query timeout from there."""
        return self.retry_deadline + self.connect_timeout + self.query_timeout

    @property
    def missing_settings(self) -> list[str]:
        """Names of the settings that are unset."""
        names = {
            "POSTHOG_HOST": self.host,
            "POSTHOG_PROJECT_ID": self.project_id,
            "POSTHOG_API_KEY": self.api_key,
        }
        return [name for name, value in names.items() if not value]

    @property
    def query_url(self) -> str:
        return f"{self.host}/api/projects/{self.project_id}/query/"
