"""Live loopback servers by address: lets a handler end a hang early and drop its own connection."""

from __future__ import annotations

import asyncio
import socket
import struct
import threading

import uvicorn
from fastapi import Request

# ---------------------------------------------------------------------------
# Live servers: lets a handler end a hang early and drop its own connection
# ---------------------------------------------------------------------------

_LIVE_LOCK = threading.Lock()
_LIVE: dict[tuple[str, int], uvicorn.Server] = {}


def _register(host: str, port: int, server: uvicorn.Server) -> None:
    with _LIVE_LOCK:
        _LIVE[(host, port)] = server


def _unregister(host: str, port: int) -> None:
    with _LIVE_LOCK:
        _LIVE.pop((host, port), None)


def _server_for(request: Request) -> uvicorn.Server | None:
    address = request.scope.get("server")
    if not address or address[1] is None:
        return None
    with _LIVE_LOCK:
        return _LIVE.get((str(address[0]), int(address[1])))


async def _sleep(seconds: float, request: Request) -> None:
    """Sleep ``seconds``, returning early when the serving server is shutting down."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    server = _server_for(request)
    while (remaining := deadline - loop.time()) > 0:
        if server is not None and server.should_exit:
            return
        await asyncio.sleep(min(remaining, 0.05))


async def _drop_connection(request: Request, *, reset: bool = False) -> None:
    """Close this request's TCP connection before any response byte is written.

    ASGI has no "abort" message, so this finds uvicorn's protocol object for the
    client's address among the server's open connections and closes its
    transport, then waits until uvicorn has seen the connection go (after which
    uvicorn discards anything the app sends). Works only for apps run by
    :func:`serve` or the command line.
    """
    server = _server_for(request)
    client = request.scope.get("client")
    if server is None or client is None:
        raise RuntimeError("the 'disconnect' fault needs a server started by serve() or the CLI")
    connections = server.server_state.connections
    for connection in list(connections):
        if getattr(connection, "client", None) == tuple(client):
            sock = connection.transport.get_extra_info("socket")
            if reset and sock is not None:  # close with RST: "connection reset by peer"
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            connection.transport.close()
            for _ in range(400):
                if connection not in connections:
                    return
                await asyncio.sleep(0.005)
            raise RuntimeError("the connection did not close")
    raise RuntimeError(f"no open connection from {client}")
