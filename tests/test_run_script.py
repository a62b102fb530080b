"""`scripts/run` on a taken port: it says so before installing, migrating or printing a login."""

import re
import socket
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _taken_port() -> socket.socket:
    server = socket.create_server(("127.0.0.1", 0))
    server.listen()
    return server


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)


def test_run_refuses_a_taken_port_first_and_suggests_a_free_one():
    with _taken_port() as server:
        port = server.getsockname()[1]
        result = _run("scripts/run", str(port))
    assert result.returncode == 1
    assert f"Port {port} on 127.0.0.1 is in use" in result.stderr
    # Nothing after the check ran: no migration, no login printed.
    assert "Log in as" not in result.stdout and "Applying" not in result.stdout
    suggested = re.search(r"is free: scripts/run (\d+)$", result.stderr.strip())
    assert suggested, result.stderr
    socket.create_server(("127.0.0.1", int(suggested.group(1)))).close()  # really free


def test_demo_names_its_own_command():
    with _taken_port() as server:
        result = _run("scripts/run", "--demo", str(server.getsockname()[1]))
    assert result.returncode == 1 and "scripts/run --demo " in result.stderr


def test_a_port_that_is_not_a_number_is_refused():
    result = _run("scripts/check-port", "80a", "scripts/run")
    assert result.returncode == 1 and "'80a' is not a port number" in result.stderr
