"""`manage.py crontab add|show|remove|run`: django-crontab's command, refusing to pretend.

The project's, not the metrics app's: the app has a `jobs/crontab.py` (the jobs cron runs),
whose import path is in every installed crontab line and so keeps its name.

django-crontab runs the `crontab` program through the shell and ignores its failures: on a
machine without cron, `crontab add` printed "/bin/sh: 1: /usr/bin/crontab: not found", then
"adding cronjob", and exited 0. This door checks the program first and, after `add`, that
the table really holds the jobs; otherwise it fails with what to install.
"""

import os
import shutil
import subprocess

from django.conf import settings
from django.core.management.base import CommandError
from django_crontab.management.commands.crontab import Command as CrontabCommand

INSTALL_HINT = (
    "Install cron (Debian/Ubuntu: apt-get install cron; RHEL/Fedora: dnf install cronie; "
    "Alpine: apk add dcron), or set CRONTAB_EXECUTABLE, or schedule the sync another way "
    "(docs/scheduling.md)."
)
# `crontab -l` may wait on a lock or a prompt; it never takes this long when it works.
LIST_TIMEOUT = 10


class Command(CrontabCommand):
    def handle(self, *args, **options) -> None:
        if options["subcommand"] == "run":  # cron itself runs this: no crontab program needed
            super().handle(*args, **options)
            return
        program = _executable()
        if program is None:
            raise CommandError(f"No crontab program at {_configured()}: {INSTALL_HINT}")
        super().handle(*args, **options)
        if options["subcommand"] == "add":
            self._check_installed(program)

    def _check_installed(self, program: str) -> None:
        """Raise unless `crontab -l` lists every job of CRONJOBS (the write may have failed)."""
        try:
            listed = subprocess.run(  # noqa: S603 (the configured crontab program, no shell)
                [program, "-l"], capture_output=True, text=True, timeout=LIST_TIMEOUT, check=False
            ).stdout
        except (OSError, subprocess.TimeoutExpired) as err:
            raise CommandError(f"Could not read the crontab back with {program} -l: {err}") from err
        comment = settings.CRONTAB_COMMENT
        installed = sum(1 for line in listed.splitlines() if line.rstrip().endswith(comment))
        if installed != len(settings.CRONJOBS):
            raise CommandError(
                f"The crontab holds {installed} of the {len(settings.CRONJOBS)} visitorsync jobs "
                f"after `crontab add` ({program} -l). Can this user use cron? {INSTALL_HINT}"
            )


def _configured() -> str:
    return getattr(settings, "CRONTAB_EXECUTABLE", "/usr/bin/crontab")


def _executable() -> str | None:
    """The crontab program as configured, if it exists and can be run."""
    configured = _configured()
    if os.sep in configured:
        return configured if os.access(configured, os.X_OK) else None
    return shutil.which(configured)
