"""`stratus api`'s connections have TCP_NODELAY whatever the worker count: uvicorn's --workers N listener has
protocol number 0, so asyncio leaves Nagle's algorithm on its accepted sockets (api/tcp.py); and serve.py
hands uvicorn the protocol that turns it off."""
from __future__ import annotations

import socket
import typing as t

import pytest

from stratus_cli.api import serve, tcp


class Transport:
    def __init__(self, sock: t.Optional[socket.socket]) -> None:
        self.sock = sock

    def get_extra_info(self, name: str) -> t.Any:
        return self.sock if name == "socket" else None


def test_an_accepted_socket_of_a_protocol_0_listener_gets_tcp_nodelay() -> None:
    with socket.socket(socket.AF_INET) as listener:  # as uvicorn's Config.bind_socket makes it: proto 0
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        with socket.create_connection(listener.getsockname()) as _client:
            accepted, _addr = listener.accept()
            with accepted:
                assert accepted.proto == 0 and accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 0
                tcp.no_delay(Transport(accepted))
                assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
    tcp.no_delay(Transport(None))  # a transport without a socket: nothing to do


def test_serve_runs_uvicorn_with_that_protocol(monkeypatch: pytest.MonkeyPatch) -> None:
    import uvicorn

    seen: dict[str, t.Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: seen.update(kwargs))
    from stratus_cli.api.app import CONFIG_ENV, STORE_ENV, Config
    for name in (CONFIG_ENV, STORE_ENV):  # serve sets them for its workers: restored after the test
        monkeypatch.delenv(name, raising=False)
    serve.serve(Config(store_url="sqlite:///unused.db", variables={}), "127.0.0.1", 8774, 2, None, None)
    assert seen["http"] == tcp.PROTOCOL and seen["workers"] == 2
    module, _sep, name = tcp.PROTOCOL.partition(":")
    assert getattr(__import__(module, fromlist=[name]), name) is tcp.NoDelayHTTPProtocol
