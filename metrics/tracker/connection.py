"""The connection test: one trivial PostHog query that checks host, project and key."""

import dataclasses

from django.conf import settings

from metrics.core.errors import ConnectionTestFailed, NotConfigured
from metrics.posthog import ConnectionInfo, PostHogClient, PostHogError, PostHogNotConfigured


@dataclasses.dataclass(frozen=True)
class ConnectionReport:
    info: ConnectionInfo
    warnings: list[str]


def check_connection(*, client: PostHogClient | None = None) -> ConnectionReport:
    """Spend one trivial query; raise NotConfigured or ConnectionTestFailed with the fix in words.

    Warns when PostHog's project time zone differs from VISITORSYNC_TIMEZONE, which would cut
    weeks at different moments on the two sides.
    """
    client = client or PostHogClient()
    try:
        info = client.test_connection()
    except PostHogNotConfigured as err:
        raise NotConfigured(str(err)) from err
    except PostHogError as err:
        raise ConnectionTestFailed(str(err)) from err
    ours = settings.VISITORSYNC_TIMEZONE
    warnings = []
    if info.timezone and info.timezone != ours:
        warnings.append(
            f"PostHog's project time zone is {info.timezone} but VISITORSYNC_TIMEZONE is {ours}. "
            f"Weeks here are cut in {ours}; set VISITORSYNC_TIMEZONE to the project's time zone so "
            "both sides agree on where a week starts."
        )
    return ConnectionReport(info=info, warnings=warnings)
