"""A TCP proxy on 127.0.0.1 that a test controls, to put between the app and its database.

    with TcpProxy(target=("127.0.0.1", 5432)) as proxy:
        ...  # point DATABASE_URL (or settings) at proxy.port
        proxy.cut()        # reset every open connection and refuse new ones
        proxy.blackhole()  # keep connections open but forward nothing (a silent outage)
        proxy.restore()    # forward again

Each connection is a pair of sockets pumped by one thread with `select`; a stopped proxy
closes everything it opened.
"""

import contextlib
import select
import socket
import struct
import threading


class TcpProxy:
    def __init__(self, *, target: tuple[str, int]) -> None:
        self.target = target
        self.mode = "forward"  # forward | cut | blackhole
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self.port = self._listener.getsockname()[1]
        self._pairs: list[tuple[socket.socket, socket.socket]] = []
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._threads: list[threading.Thread] = []
        self.connections = 0  # accepted so far

    def __enter__(self) -> "TcpProxy":
        thread = threading.Thread(target=self._accept_loop, name="tcp-proxy-accept", daemon=True)
        thread.start()
        self._threads.append(thread)
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    # --- control ---------------------------------------------------------------------------
    def cut(self) -> None:
        """Reset every open connection (RST, as a dropped database does) and refuse new ones."""
        self.mode = "cut"
        with self._lock:
            pairs, self._pairs = self._pairs, []
        for pair in pairs:
            for sock in pair:
                _reset(sock)

    def blackhole(self) -> None:
        """Keep connections open but forward nothing: a database that stops answering."""
        self.mode = "blackhole"

    def restore(self) -> None:
        self.mode = "forward"

    def stop(self) -> None:
        self._stopped.set()
        self.cut()
        self._listener.close()
        for thread in self._threads:
            thread.join(timeout=5)

    # --- internals -------------------------------------------------------------------------
    def _accept_loop(self) -> None:
        while not self._stopped.is_set():
            try:
                client, _ = self._listener.accept()
            except (TimeoutError, OSError):
                continue
            self.connections += 1
            if self.mode == "cut":
                _reset(client)
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                _reset(client)
                continue
            with self._lock:
                self._pairs.append((client, upstream))
            thread = threading.Thread(target=self._pump, args=(client, upstream), daemon=True)
            thread.start()
            self._threads.append(thread)

    def _pump(self, client: socket.socket, upstream: socket.socket) -> None:
        peers = {client: upstream, upstream: client}
        try:
            while not self._stopped.is_set():
                if self.mode == "blackhole":
                    self._stopped.wait(0.05)
                    continue
                try:
                    readable, _, _ = select.select(list(peers), [], [], 0.05)
                except (OSError, ValueError):
                    return
                for sock in readable:
                    try:
                        data = sock.recv(65536)
                    except OSError:
                        return
                    if not data:
                        return
                    try:
                        peers[sock].sendall(data)
                    except OSError:
                        return
        finally:
            for sock in (client, upstream):
                _reset(sock)
            with self._lock:
                if (client, upstream) in self._pairs:
                    self._pairs.remove((client, upstream))


def _reset(sock: socket.socket) -> None:
    """Close with an RST rather than a FIN, as a crashed server or cut network does."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.close()
