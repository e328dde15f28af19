"""Servers on 127.0.0.1 that refuse every client with one error, as a real database server does when it cannot
take a session (starting up, too many clients): the real driver then raises its real exception.

For refusals that cannot be provoked on a shared server without disturbing it: a PostgreSQL that is starting
up (SQLSTATE 57P03), a MariaDB over its ``max_connections`` (1040).
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

# The PostgreSQL protocol's first messages: a request for TLS or GSS encryption (answered "N": not offered).
_ENCRYPTION_REQUESTS = frozenset({80877103, 80877104})


def _postgresql_error(sqlstate: str, message: str) -> bytes:
    fields = b"".join(
        code + value.encode() + b"\0"
        for code, value in ((b"S", "FATAL"), (b"V", "FATAL"), (b"C", sqlstate), (b"M", message))
    )
    body = fields + b"\0"
    return b"E" + struct.pack("!i", len(body) + 4) + body


def _mysql_error(number: int, message: str) -> bytes:
    # An ERR packet sent in place of the greeting, as the server does when it refuses a client at once.
    payload = b"\xff" + struct.pack("<H", number) + message.encode()
    return struct.pack("<I", len(payload))[:3] + b"\0" + payload


@asynccontextmanager
async def refusing_postgresql(sqlstate: str, message: str) -> AsyncIterator[int]:
    """Yield the port of a "PostgreSQL" that answers every startup with a FATAL error ``sqlstate``."""

    async def refuse(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                (length,) = struct.unpack("!i", await reader.readexactly(4))
                rest = await reader.readexactly(length - 4)
                if length == 8 and struct.unpack("!i", rest)[0] in _ENCRYPTION_REQUESTS:
                    writer.write(b"N")
                    continue
                writer.write(_postgresql_error(sqlstate, message))  # the startup message: refused
                await writer.drain()
                break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async with _serving(refuse) as port:
        yield port


@asynccontextmanager
async def refusing_mysql(number: int, message: str) -> AsyncIterator[int]:
    """Yield the port of a "MySQL/MariaDB" that greets every client with the error ``number``."""

    async def refuse(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(_mysql_error(number, message))
        try:
            await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    async with _serving(refuse) as port:
        yield port


@asynccontextmanager
async def _serving(
    handle: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]],
) -> AsyncIterator[int]:
    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()
