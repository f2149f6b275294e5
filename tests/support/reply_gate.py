"""A TCP relay between one MQTT client and the broker that lets the broker's CONNACK through and
holds every later reply (PUBACKs) until released: "accepted but nothing acknowledged yet"."""

from __future__ import annotations

import socket
import threading
from types import TracebackType

CONNACK_BYTES = 4  # MQTT 3.1.1 CONNACK: 0x20, remaining length 2, flags, return code


class ReplyGate:
    """Listens on `port`; relays the first connection to 127.0.0.1:`broker_port`."""

    def __init__(self, broker_port: int) -> None:
        self._broker_port = broker_port
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self.connack_passed = threading.Event()
        self.client_spoke_after_connack = threading.Event()  # e.g. its `online` PUBLISH went to the broker
        self._released = threading.Event()
        self._sockets: list[socket.socket] = [self._listener]
        threading.Thread(target=self._accept, name="reply-gate", daemon=True).start()

    def release(self) -> None:
        self._released.set()

    def _accept(self) -> None:
        try:
            client, _ = self._listener.accept()
            upstream = socket.create_connection(("127.0.0.1", self._broker_port))
        except OSError:  # closed before a client came
            return
        self._sockets += [client, upstream]
        threading.Thread(target=self._client_to_broker, args=(client, upstream), daemon=True).start()
        self._broker_to_client(upstream, client)

    def _client_to_broker(self, client: socket.socket, upstream: socket.socket) -> None:
        while data := _recv(client, 65536):
            answering = self.connack_passed.is_set()  # read before forwarding: the CONNECT itself makes the CONNACK
            if not _send(upstream, data):
                return
            if answering:
                self.client_spoke_after_connack.set()

    def _broker_to_client(self, upstream: socket.socket, client: socket.socket) -> None:
        connack = b""
        while len(connack) < CONNACK_BYTES and (data := _recv(upstream, CONNACK_BYTES - len(connack))):
            connack += data
        self.connack_passed.set()  # before sending: the client's answer may come before this thread runs again
        _send(client, connack)
        self._released.wait()
        while (data := _recv(upstream, 65536)) and _send(client, data):
            pass

    def close(self) -> None:
        self._released.set()
        for sock in self._sockets:
            sock.close()

    def __enter__(self) -> ReplyGate:
        return self

    def __exit__(self, *_exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()


def _recv(sock: socket.socket, size: int) -> bytes:
    try:
        return sock.recv(size)
    except OSError:
        return b""


def _send(sock: socket.socket, data: bytes) -> bool:
    try:
        sock.sendall(data)
    except OSError:
        return False
    return True
