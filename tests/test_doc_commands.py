"""Every shell command in the README and docs/ runs as written after `scripts/run`.

The commands are the lines of ```sh blocks and the inline code that starts like a command
(`python…`, `.venv/bin/…`, `scripts/…`, `bench/…`). Each must name a program that exists after
the README's commands: a file of this checkout (`scripts/run`, `.venv/bin/python`; the dev tools
in `.venv/bin` come with `scripts/test`), a program on PATH, or one of the server programs the
deployment guide installs. A bare `python` is refused (Debian has only `python3`, and neither is
the virtualenv's), as is `python3` running this project's code (Django is only in `.venv`).
"""

import re
import shlex
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# Installed on a server by docs/deploying.md (apt-get), or part of any Debian/Ubuntu system.
SERVER_PROGRAMS = {
    "apt-get",
    "cp",
    "createdb",
    "createuser",
    "crontab",
    "curl",
    "git",
    "journalctl",
    "ln",
    "nginx",
    "openssl",
    "psql",
    "sudoedit",
    "systemctl",
}
# Inline code that a hosting platform runs in its own environment (its `python` is the app's),
# named on lines that say so: not typed into a shell after scripts/run.
PLATFORM_LINES = ("Release / pre-deploy command", "release_command")
COMMAND_START = re.compile(r"^(python3?\b|\.venv/bin/|scripts/|bench/)")
FENCE = re.compile(r"^```(\w*)\s*$")
# What runs this project's code: needs the virtualenv's Python.
PROJECT_CODE = re.compile(r"^(manage\.py|bench/|-m (demo|metrics|tests|visitorsync)\b)")


def _sh_block_commands(page: Path) -> list[tuple[int, str]]:
    commands, lines = [], page.read_text().splitlines()
    language, pending, start = None, "", 0
    for number, line in enumerate(lines, 1):
        fence = FENCE.match(line.strip())
        if fence and language is None:
            language = fence.group(1)
            continue
        if line.strip() == "```" and language is not None:
            language = None
            continue
        if language != "sh":
            continue
        text = re.sub(r"\s+#.*$", "", line) if not line.lstrip().startswith("#") else ""
        if not pending:
            start = number
        if text.rstrip().endswith("\\"):
            pending += text.rstrip()[:-1] + " "
            continue
        command = (pending + text).strip()
        pending = ""
        # A command that opens a quoted multi-line argument (shell -c '...'): its first line.
        if command and not command.startswith(("'", ")", "from ", "user", "codename")):
            commands.append((start, command))
    return commands


def _inline_commands(page: Path) -> list[tuple[int, str]]:
    commands, in_block = [], False
    for number, line in enumerate(page.read_text().splitlines(), 1):
        if line.strip().startswith("```"):
            in_block = not in_block
            continue
        if in_block or any(marker in line for marker in PLATFORM_LINES):
            continue
        for span in re.findall(r"`([^`]+)`", line):
            # Not a quoted message that names a program ("scripts/serve: DATABASE_URL is…").
            if COMMAND_START.match(span) and " " in span and not span.split()[0].endswith(":"):
                commands.append((number, span))
    return commands


def _commands() -> list[tuple[str, str]]:
    found = []
    for page in PAGES:
        for number, command in _sh_block_commands(page) + _inline_commands(page):
            found.append((f"{page.relative_to(ROOT)}:{number}", command))
    return found


def _program_and_args(command: str) -> tuple[str, list[str]]:
    command = re.sub(r"\b([A-Z_][A-Z0-9_]*)=\$\([^)]*\)", r"\1=value", command)  # VAR=$(...)
    try:
        words = shlex.split(command)
    except ValueError:  # an unclosed quote: a multi-line argument follows
        words = command.split()
    while words and (re.match(r"^[A-Z_][A-Z0-9_]*=", words[0]) or words[0] in ("sudo", "env")):
        if words[0] in ("sudo", "env") and len(words) > 2 and words[1] in ("-u",):
            words = words[3:]
        else:
            words = words[1:]
    return (words[0], words[1:]) if words else ("", [])


def _problem(command: str) -> str | None:
    program, args = _program_and_args(command)
    rest = " ".join(args)
    if program == "python":
        return "`python` may not exist (Debian has python3) and is not .venv's: use .venv/bin/python"
    if program == "python3" and PROJECT_CODE.match(rest):
        return "this project's code needs .venv's Python: use .venv/bin/python"
    if "/" in program:
        return None if (ROOT / program).exists() or Path(program).exists() else f"{program} does not exist"
    if shutil.which(program) or program in SERVER_PROGRAMS:
        return None
    return f"{program!r} is neither in this checkout, on PATH, nor a server program the guides install"


COMMANDS = _commands()


def test_the_guides_hold_commands_to_check():
    assert len(COMMANDS) > 50
    assert any(command.startswith(".venv/bin/python manage.py check") for _, command in COMMANDS)


@pytest.mark.parametrize(("where", "command"), COMMANDS, ids=[where for where, _ in COMMANDS])
def test_each_documented_command_runs_as_written_after_scripts_run(where, command):
    assert _problem(command) is None, f"{where}: {command!r}: {_problem(command)}"


@pytest.mark.parametrize(
    ("command", "wrong"),
    [
        ("python manage.py check", True),
        ("python3 manage.py migrate", True),
        ("python3 -m demo.sample --weeks 3", True),
        ("VISITORSYNC_TASK_BACKEND=database python manage.py db_worker", True),
        ("no-such-program --help", True),
        (".venv/bin/python manage.py check", False),
        ("python3 -c 'import secrets; print(secrets.token_urlsafe(32))'", False),
        ("sudo -u postgres createdb visitorsync", False),
        ("scripts/run --demo", False),
    ],
)
def test_the_check_tells_a_command_that_cannot_run(command, wrong):
    assert (_problem(command) is not None) is wrong
