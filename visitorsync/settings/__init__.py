"""Settings for visitorsync (`DJANGO_SETTINGS_MODULE=visitorsync.settings`).

Read, derived and checked apart, as Zulip keeps `default_settings` apart from
`computed_settings`:

- `read.py` reads every environment variable once (and an optional `.env`), typed, with a
  default only where one is safe;
- `derived.py` builds Django's settings from what `read.py` read, and reads nothing itself;
- `metrics/checks.py` checks the values: `manage.py check` lists every problem at once.

Each setting is defined in one of the two modules, never both. All are documented in
docs/configuration.md and `.env.example`.
"""

from visitorsync.settings.read import *  # noqa: F403

# isort: split
from visitorsync.settings.derived import *  # noqa: F403
