"""uvicorn's HTTP protocol with TCP_NODELAY on every accepted connection, whatever the worker count.

With --workers N, uvicorn binds the listening socket itself with its protocol number left at 0 (uvicorn
0.54's Config.bind_socket, Kludex/uvicorn#3149); accepted sockets inherit it and asyncio sets TCP_NODELAY
only on sockets that say IPPROTO_TCP, so Nagle's algorithm held each response's body until the client's
delayed ACK: about 40 ms on every keep-alive request past a connection's first (make bench-api, docs/api.md
"Benchmarks"). One worker was not affected (asyncio binds that socket itself).
"""
from __future__ import annotations

import socket
import typing as t

from uvicorn.protocols.http.auto import AutoHTTPProtocol

# what serve.py passes to uvicorn (by name: each worker process imports it)
PROTOCOL = "stratus_cli.api.tcp:NoDelayHTTPProtocol"


def no_delay(transport: t.Any) -> None:
    """TCP_NODELAY on the transport's socket when it is a TCP one (not a Unix socket)."""
    sock = transport.get_extra_info("socket")
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class NoDelayHTTPProtocol(AutoHTTPProtocol):  # type: ignore[misc,valid-type]
    def connection_made(self, transport: t.Any) -> None:  # type: ignore[override]
        no_delay(transport)
        super().connection_made(transport)
