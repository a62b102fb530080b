"""Settings read in a fresh interpreter, the way a deployment reads them."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def clean_environment(**env: str) -> dict[str, str]:
    """This process's environment without visitorsync's settings, plus `env`."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("VISITORSYNC_", "POSTHOG_"))}
    clean.pop("DATABASE_URL", None)
    clean.update({"VISITORSYNC_ENV_FILE": "", "DJANGO_SETTINGS_MODULE": "visitorsync.settings"})
    clean.update(env)
    return clean


def read_setting(name: str, **env: str) -> subprocess.CompletedProcess:
    return run_python(
        f"import django; django.setup(); from django.conf import settings; print(settings.{name})", **env
    )


def run_python(code: str, **env: str) -> subprocess.CompletedProcess:
    """`python -c <code>` in a fresh interpreter with `clean_environment(**env)`."""
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=clean_environment(**env),
        capture_output=True,
        text=True,
        timeout=60,
    )


def manage_in_new_process(*args: str, **env: str) -> subprocess.CompletedProcess:
    """`manage.py <args>` in a fresh interpreter with `clean_environment(**env)`."""
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=clean_environment(**env),
        capture_output=True,
        text=True,
        timeout=60,
    )
