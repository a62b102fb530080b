"""nginx in front of gunicorn, as docs/deploying.md sets it up: deploy/nginx/visitorsync.conf.

The site file runs as it is, with only its listen addresses, upstream port, server_name and
certificate paths replaced, inside a minimal main configuration like Debian's
/etc/nginx/nginx.conf. nginx runs in the foreground (`daemon off`) in a process group of its
own, with its pid file, logs and temporary files in a directory of the caller's, so it
needs no root-owned path and tests/support/stack.py's stop_group stops it. Used by
tests/test_proxy.py and bench/webhook_slow_clients.py.
"""

import dataclasses
import os
import shutil
import socket
import ssl
import subprocess
import time
from pathlib import Path

import pytest

from tests.support.stack import ROOT, free_port, start_process, stop_group

NGINX = os.environ.get("VISITORSYNC_NGINX", "/usr/sbin/nginx")
SITE = ROOT / "deploy" / "nginx" / "visitorsync.conf"
SERVER_NAME = "127.0.0.1"  # replaces metrics.example.com; also in the certificate


def nginx_or_skip() -> str:
    """The nginx binary; skips when there is none (scripts/test installs Debian's package)."""
    path = shutil.which(NGINX)
    if not path:
        pytest.skip(f"no nginx at {NGINX} (scripts/test installs Debian's nginx; or set VISITORSYNC_NGINX)")
    return path


def _replace(text: str, old: str, new: str) -> str:
    # The test must run the file people install: if a line it replaces is gone, fail
    # rather than quietly run something else.
    assert old in text, f"{SITE.relative_to(ROOT)} no longer contains {old!r}"
    return text.replace(old, new)


def render_site(*, https_port: int, http_port: int, upstream_port: int, certificate: Path, key: Path) -> str:
    """deploy/nginx/visitorsync.conf on loopback ports, in front of gunicorn on `upstream_port`."""
    text = SITE.read_text()
    text = _replace(text, "    listen 443 ssl;\n", f"    listen 127.0.0.1:{https_port} ssl;\n")
    text = _replace(text, "    listen 80;\n", f"    listen 127.0.0.1:{http_port};\n")
    # Only loopback traffic here, and a machine may have no IPv6 at all.
    text = _replace(text, "    listen [::]:443 ssl;\n", "")
    text = _replace(text, "    listen [::]:80;\n", "")
    text = _replace(text, "server 127.0.0.1:8000;", f"server 127.0.0.1:{upstream_port};")
    text = _replace(text, "server_name metrics.example.com;", f"server_name {SERVER_NAME};")
    text = _replace(text, "/etc/letsencrypt/live/metrics.example.com/fullchain.pem", str(certificate))
    text = _replace(text, "/etc/letsencrypt/live/metrics.example.com/privkey.pem", str(key))
    directives = "\n".join(line.split("#")[0] for line in text.splitlines())
    assert "example.com" not in directives and ":8000" not in directives, directives
    return text


def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    """A one-day certificate for 127.0.0.1 and its key, made with the openssl command."""
    certificate, key = directory / "cert.pem", directory / "key.pem"
    openssl = shutil.which("openssl")
    if not openssl:
        pytest.skip("no openssl command to make the proxy's test certificate (apt-get install openssl)")
    subprocess.run(
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            f"/CN={SERVER_NAME}",
            "-addext",
            f"subjectAltName=IP:{SERVER_NAME}",
            "-keyout",
            str(key),
            "-out",
            str(certificate),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return certificate, key


def tls_context(certificate: Path) -> ssl.SSLContext:
    """A client context that trusts only the test certificate."""
    return ssl.create_default_context(cafile=str(certificate))


def main_config(site: Path) -> str:
    """What Debian's /etc/nginx/nginx.conf provides around a site, with every path relative
    to nginx's prefix (-p), so nothing outside it is written."""
    # Debian's nginx.conf runs the workers as www-data. Under root, the temporary paths here
    # sit in the caller's private directory, which www-data cannot enter; keep them root.
    user = "user root;\n" if os.geteuid() == 0 else ""
    return f"""{user}worker_processes 1;
pid nginx.pid;
error_log logs/error.log warn;
events {{
    worker_connections 1024;
}}
http {{
    access_log logs/access.log;
    client_body_temp_path temp/client_body;
    proxy_temp_path temp/proxy;
    fastcgi_temp_path temp/fastcgi;
    uwsgi_temp_path temp/uwsgi;
    scgi_temp_path temp/scgi;
    include {site};
}}
"""


def _nginx_command(directory: Path) -> list[str]:
    # -e: the error log before the configuration is read (else nginx tries /var/log/nginx).
    return [nginx_or_skip(), "-p", str(directory), "-c", "nginx.conf", "-e", "logs/error.log"]


def start_nginx(directory: Path, site_text: str, *, ports: tuple[int, ...]) -> subprocess.Popen:
    """Write the configuration into `directory`, check it with `nginx -t`, start nginx in the
    foreground, and wait until it accepts connections on each of `ports` (loopback)."""
    (directory / "logs").mkdir(parents=True, exist_ok=True)
    (directory / "temp").mkdir(exist_ok=True)
    site = directory / "visitorsync.conf"
    site.write_text(site_text)
    (directory / "nginx.conf").write_text(main_config(site))
    command = _nginx_command(directory)
    check = subprocess.run([*command, "-t"], capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, f"nginx -t refused the configuration:\n{check.stderr}\n{site_text}"
    log_path = directory / "nginx.out"
    process = start_process([*command, "-g", "daemon off;"], env=dict(os.environ), log_path=log_path)
    deadline = time.monotonic() + 30
    waiting = list(ports)
    while waiting and time.monotonic() < deadline:
        if process.poll() is not None:
            error_log = (directory / "logs" / "error.log").read_text()
            pytest.fail(f"nginx exited with {process.returncode}:\n{log_path.read_text()}{error_log}")
        try:
            socket.create_connection(("127.0.0.1", waiting[0]), timeout=1).close()
            waiting.pop(0)
        except OSError:
            time.sleep(0.1)
    if waiting:
        stop_group(process)
        pytest.fail(f"nginx did not listen on {waiting} within 30 s:\n{log_path.read_text()}")
    return process


@dataclasses.dataclass(frozen=True)
class Proxy:
    """nginx with deploy/nginx/visitorsync.conf in front of gunicorn, on loopback ports."""

    process: subprocess.Popen
    https_port: int
    http_port: int
    certificate: Path


def start_proxy(directory: Path, *, upstream_port: int) -> Proxy:
    """The documented nginx site in front of gunicorn on `upstream_port`, with a certificate
    made for the occasion; its files live in `directory`."""
    certificate, key = self_signed_certificate(directory)
    https_port, http_port = free_port(), free_port()
    site = render_site(
        https_port=https_port,
        http_port=http_port,
        upstream_port=upstream_port,
        certificate=certificate,
        key=key,
    )
    process = start_nginx(directory / "nginx", site, ports=(https_port, http_port))
    return Proxy(process=process, https_port=https_port, http_port=http_port, certificate=certificate)
