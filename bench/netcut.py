"""A network namespace for one process, and a path out of it that can be cut.

The capture agent of a fault run lives in a namespace of its own (``ip netns``), which
has only its loopback. A forwarder (this process) listens on 127.0.0.1:<port> INSIDE the
namespace for every port the agent needs (each Kafka broker, the registry, the
databases) and joins each connection to 127.0.0.1:<port> in the root namespace, so the
addresses Kafka advertises (127.0.0.1:<port>) resolve in the namespace too and every
listener stays on 127.0.0.1.

``cut(group)`` black-holes one group of ports (e.g. Kafka's) as a partition does: nothing
is read or written on its connections and no new connection is accepted, but no socket is
closed and no reset is sent; ``restore(group)`` resumes them, and what was held is
delivered then, as TCP's retransmissions would after a partition shorter than its
timeouts. The client sees its requests go unanswered, its new connections stall after
the handshake (the kernel's backlog completes it), and its own timeouts fire as they
would.

A socket belongs to the network namespace its creating thread was in: Python 3.11 has
no ``os.setns``, so ``setns(2)`` is called through ctypes on the one thread that creates
the listening sockets, which then returns to its own namespace; the connections out are
made by the forwarder's thread, which never leaves the root namespace.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import select
import socket
import subprocess
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

CLONE_NEWNET = 0x40000000
CHUNK = 256 * 1024
_libc = ctypes.CDLL(None, use_errno=True)


class NetCutError(RuntimeError):
    """The namespace or the forwarder could not be set up (root and `ip` are needed)."""


def _ip(*args: str) -> None:
    done = subprocess.run(["ip", *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise NetCutError(f"`ip {' '.join(args)}` failed: {done.stderr.strip()}")


def _setns(fd: int) -> None:
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        code = ctypes.get_errno()
        raise NetCutError(f"setns failed: {os.strerror(code)} (run as root)")


@dataclass
class Namespace:
    name: str

    def create(self) -> None:
        if Path(f"/var/run/netns/{self.name}").exists():
            self.remove()
        _ip("netns", "add", self.name)
        _ip("-n", self.name, "link", "set", "lo", "up")

    def remove(self) -> None:
        with contextlib.suppress(NetCutError):
            _ip("netns", "delete", self.name)

    def prefix(self) -> list[str]:
        """Command prefix that runs a program inside the namespace."""
        return ["ip", "netns", "exec", self.name]

    @contextlib.contextmanager
    def entered(self) -> Iterator[None]:
        """The calling thread (only it) is in the namespace for the block."""
        home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        target = os.open(f"/var/run/netns/{self.name}", os.O_RDONLY)
        try:
            _setns(target)
            try:
                yield
            finally:
                _setns(home)
        finally:
            os.close(target)
            os.close(home)


@dataclass
class _Pair:
    group: str
    inner: socket.socket  # accepted inside the namespace
    outer: socket.socket  # connected in the root namespace
    to_outer: bytearray = field(default_factory=bytearray)
    to_inner: bytearray = field(default_factory=bytearray)
    inner_eof: bool = False
    outer_eof: bool = False

    def done(self) -> bool:
        return self.inner_eof and self.outer_eof and not self.to_outer and not self.to_inner

    def close(self) -> None:
        for sock in (self.inner, self.outer):
            with contextlib.suppress(OSError):
                sock.close()


class Forwarder:
    """127.0.0.1:<port> inside ``namespace`` → 127.0.0.1:<port> outside, for each port of
    ``ports`` (port → group name, e.g. ``{39092: "kafka", 38181: "registry"}``)."""

    def __init__(self, namespace: Namespace, ports: Mapping[int, str]) -> None:
        self.namespace = namespace
        self.ports = dict(ports)
        self.listeners: dict[socket.socket, int] = {}
        self.pairs: list[_Pair] = []
        self.cut_groups: set[str] = set()
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.thread: threading.Thread | None = None
        self.accepted = 0
        self.refused = 0

    def start(self) -> None:
        made: list[BaseException] = []

        def listen() -> None:  # a thread of its own: setns changes only the calling thread
            try:
                with self.namespace.entered():
                    for port in self.ports:
                        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                        sock.bind(("127.0.0.1", port))
                        sock.listen(128)
                        sock.setblocking(False)
                        self.listeners[sock] = port
            except BaseException as exc:  # handed to the caller's thread
                made.append(exc)

        opener = threading.Thread(target=listen, name="netcut-listen")
        opener.start()
        opener.join()
        if made:
            raise NetCutError(f"listening in namespace {self.namespace.name}: {made[0]}")
        self.thread = threading.Thread(target=self._loop, name="netcut-forward", daemon=True)
        self.thread.start()

    def cut(self, group: str) -> None:
        with self.lock:
            self.cut_groups.add(group)

    def restore(self, group: str) -> None:
        with self.lock:
            self.cut_groups.discard(group)

    def stop(self) -> None:
        self.stopping.set()
        if self.thread is not None:
            self.thread.join(10)
        for sock in self.listeners:
            sock.close()
        for pair in self.pairs:
            pair.close()
        self.pairs.clear()

    # -- the loop ---------------------------------------------------------------------------
    def _loop(self) -> None:
        while not self.stopping.is_set():
            with self.lock:
                cut = set(self.cut_groups)
            readers: list[socket.socket] = [
                s for s, port in self.listeners.items() if self.ports[port] not in cut
            ]
            writers: list[socket.socket] = []
            live = [p for p in self.pairs if p.group not in cut]
            for pair in live:
                if not pair.inner_eof and not pair.to_outer:
                    readers.append(pair.inner)
                if not pair.outer_eof and not pair.to_inner:
                    readers.append(pair.outer)
                if pair.to_outer:
                    writers.append(pair.outer)
                if pair.to_inner:
                    writers.append(pair.inner)
            try:
                readable, writable, _ = select.select(readers, writers, [], 0.2)
            except (OSError, ValueError):  # a socket closed under us: rebuild the lists
                self.pairs = [p for p in self.pairs if p.inner.fileno() >= 0 <= p.outer.fileno()]
                continue
            ready_r, ready_w = set(readable), set(writable)
            for sock in [s for s in readable if s in self.listeners]:
                self._accept(sock)
            for pair in live:
                self._pump(pair, ready_r, ready_w)
            kept = []
            for pair in self.pairs:
                if pair.done():
                    pair.close()
                else:
                    kept.append(pair)
            self.pairs = kept

    def _accept(self, listener: socket.socket) -> None:
        port = self.listeners[listener]
        try:
            inner, _ = listener.accept()
        except BlockingIOError:
            return
        try:
            outer = socket.create_connection(("127.0.0.1", port), timeout=5)
        except OSError:  # the service is down (a killed broker): the client sees a close
            self.refused += 1
            inner.close()
            return
        for sock in (inner, outer):
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.accepted += 1
        self.pairs.append(_Pair(self.ports[port], inner, outer))

    def _pump(
        self, pair: _Pair, readable: set[socket.socket], writable: set[socket.socket]
    ) -> None:
        try:
            if pair.inner in readable:
                data = pair.inner.recv(CHUNK)
                if data:
                    pair.to_outer += data
                else:
                    pair.inner_eof = True
            if pair.outer in readable:
                data = pair.outer.recv(CHUNK)
                if data:
                    pair.to_inner += data
                else:
                    pair.outer_eof = True
            if pair.outer in writable and pair.to_outer:
                sent = pair.outer.send(pair.to_outer)
                del pair.to_outer[:sent]
            if pair.inner in writable and pair.to_inner:
                sent = pair.inner.send(pair.to_inner)
                del pair.to_inner[:sent]
            # a side that ended: pass its end on once what it sent before is delivered
            if pair.inner_eof and not pair.to_outer:
                with contextlib.suppress(OSError):
                    pair.outer.shutdown(socket.SHUT_WR)
            if pair.outer_eof and not pair.to_inner:
                with contextlib.suppress(OSError):
                    pair.inner.shutdown(socket.SHUT_WR)
        except BlockingIOError:
            return
        except OSError as exc:
            if exc.errno not in (errno.ECONNRESET, errno.EPIPE, errno.ENOTCONN, errno.EBADF):
                raise
            pair.inner_eof = pair.outer_eof = True
            pair.to_outer.clear()
            pair.to_inner.clear()
