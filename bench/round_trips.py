"""Round trips between an app and its database server, counted on the wire by a small TCP proxy.

The app connects to the proxy instead of the server; the proxy passes every byte on and counts, per
connection, how often the app sends after the server has answered (or for the first time): each such turn is
one round trip the server sees, however many packets the message took. Run requests one after another
through it and divide: round trips per request, as the server sees them, whatever the driver does
(a ping, ``BEGIN``, the query, ``ROLLBACK``).
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

from sqlalchemy.engine import URL

CHUNK = 65536


@dataclass
class CountingProxy:
    """``async with CountingProxy(host, port) as proxy``: listens on ``proxy.port`` of 127.0.0.1."""

    host: str
    port_to: int
    round_trips: int = 0
    connections: int = 0
    port: int = 0
    _server: asyncio.Server | None = None
    _writers: list[asyncio.StreamWriter] = field(default_factory=list)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    async def __aenter__(self) -> CountingProxy:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *_exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for writer in self._writers:  # each pipe then ends by itself (cancelling them upsets asyncio's streams)
            writer.close()
        await asyncio.wait(self._tasks, timeout=5) if self._tasks else None
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._server.wait_closed(), 2)

    def reset(self) -> None:
        """Start counting from zero (after a warm-up)."""
        self.round_trips = 0
        self.connections = 0

    def url_for(self, url: URL) -> URL:
        """``url`` with its host and port replaced by the proxy's."""
        return url.set(host="127.0.0.1", port=self.port)

    async def _serve(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self.connections += 1
        server_reader, server_writer = await asyncio.open_connection(self.host, self.port_to)
        self._writers += [client_writer, server_writer]
        # True while the last bytes went from the server to the app: the app's next message is a new round trip.
        state = {"answered": True}

        async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, from_app: bool) -> None:
            try:
                while data := await reader.read(CHUNK):
                    if from_app and state["answered"]:
                        self.round_trips += 1
                    state["answered"] = not from_app
                    writer.write(data)
                    await writer.drain()
            except ConnectionError:
                pass
            finally:
                with contextlib.suppress(Exception):
                    writer.close()

        try:
            await asyncio.gather(pipe(client_reader, server_writer, True), pipe(server_reader, client_writer, False))
        finally:
            self._tasks.discard(task)
