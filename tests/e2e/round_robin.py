"""A tiny round-robin HTTP/1.1 reverse proxy for the scale-out tests: every request (not every
connection: docker keeps its connections alive) goes to the next node in turn, as a load balancer
without session affinity would send it. It logs which node served what.

h11 parses both sides (framing, chunked bodies); bodies are relayed as they arrive. A node that
refuses the connection is skipped for that request (nginx's ``proxy_next_upstream error``).
"""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass, field

import h11

BUFFER = 256 * 1024


@dataclass
class Served:
    method: str
    target: str
    node: int
    status: int = 0


@dataclass
class RoundRobinProxy:
    upstreams: list[int]  # ports on 127.0.0.1
    log: list[Served] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._next = 0
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def close(self) -> None:
        self._closed = True
        self._server.close()

    def _accept(self) -> None:
        while not self._closed:
            try:
                conn, _ = self._server.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _pick(self) -> list[int]:
        with self._lock:
            first = self._next
            self._next = (self._next + 1) % len(self.upstreams)
        return [(first + i) % len(self.upstreams) for i in range(len(self.upstreams))]

    def _connect(self) -> tuple[int, socket.socket]:
        last: OSError | None = None
        for node in self._pick():
            try:
                return node, socket.create_connection(("127.0.0.1", self.upstreams[node]), 10)
            except OSError as exc:
                last = exc
        raise ConnectionError(f"no node answers: {last}")

    def _serve(self, conn: socket.socket) -> None:
        client = h11.Connection(h11.SERVER)
        try:
            while True:
                event = _next(client, conn)
                if not isinstance(event, h11.Request):
                    return
                if not self._relay(client, conn, event):
                    return
                if client.our_state is h11.MUST_CLOSE or client.their_state is h11.MUST_CLOSE:
                    return
                client.start_next_cycle()
        except (OSError, h11.ProtocolError, ConnectionError):
            return
        finally:
            conn.close()

    def _relay(self, client: h11.Connection, conn: socket.socket, request: h11.Request) -> bool:
        node, up_sock = self._connect()
        served = Served(request.method.decode(), request.target.decode(), node)
        with self._lock:
            self.log.append(served)
        upstream = h11.Connection(h11.CLIENT)
        headers = [(k, v) for k, v in request.headers if k.lower() != b"connection"]
        headers.append((b"connection", b"close"))
        try:
            up_sock.sendall(upstream.send(h11.Request(method=request.method, target=request.target,
                                                      headers=headers)))
            while True:  # the request body, as it arrives
                event = _next(client, conn)
                if isinstance(event, h11.Data):
                    up_sock.sendall(upstream.send(h11.Data(data=event.data)))
                elif isinstance(event, h11.EndOfMessage):
                    up_sock.sendall(upstream.send(h11.EndOfMessage()))
                    break
                else:
                    return False
            response = _next(upstream, up_sock)
            while isinstance(response, h11.InformationalResponse):
                response = _next(upstream, up_sock)
            if not isinstance(response, h11.Response):
                return False
            served.status = response.status_code
            conn.sendall(client.send(h11.Response(
                status_code=response.status_code, reason=response.reason,
                headers=[(k, v) for k, v in response.headers if k.lower() != b"connection"])))
            while True:
                event = _next(upstream, up_sock)
                if isinstance(event, h11.Data):
                    conn.sendall(client.send(h11.Data(data=event.data)))
                elif isinstance(event, h11.EndOfMessage):
                    conn.sendall(client.send(h11.EndOfMessage()))
                    return True
                else:
                    return False
        finally:
            up_sock.close()


def _next(connection: h11.Connection, sock: socket.socket):  # type: ignore[no-untyped-def]
    while True:
        event = connection.next_event()
        if event is h11.NEED_DATA:
            connection.receive_data(sock.recv(BUFFER))
            continue
        return event
