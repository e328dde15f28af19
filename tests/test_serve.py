"""The uvicorn launcher: serves until the block ends, and says why when the server cannot start."""

from __future__ import annotations

import socket

import httpx
import pytest

from heroes_lib.serve import ServerError, free_port, serving, start_uvicorn, wait_until_answering

pytestmark = pytest.mark.no_database

# An empty FastAPI app, built by uvicorn itself (--factory): it answers /openapi.json and needs no database.
EMPTY_APP = "fastapi:FastAPI"
FACTORY = ["--factory"]


def listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def test_free_port_is_free() -> None:
    port = free_port()
    assert not listening(port)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", port))  # nothing else holds it


def test_serving_answers_inside_the_block_and_stops_after_it() -> None:
    log: list[str] = []
    with serving(EMPTY_APP, options=FACTORY, log=log) as base_url:
        assert base_url.startswith("http://127.0.0.1:")
        assert httpx.get(f"{base_url}/openapi.json").status_code == 200
        port = int(base_url.rsplit(":", 1)[1])
    assert not listening(port)
    assert any("GET /openapi.json" in line for line in log), log  # the access log
    assert any("Application shutdown complete" in line for line in log), log  # stopped as Ctrl+C would


def test_several_workers_serve() -> None:
    with serving(EMPTY_APP, options=FACTORY, workers=2, log=(log := [])) as base_url:
        assert httpx.get(f"{base_url}/docs").status_code == 200
    assert sum("Started server process" in line for line in log) == 2, log


def test_a_server_that_exits_at_startup_is_reported_with_its_log() -> None:
    with pytest.raises(ServerError) as error, serving("no_such_module:app"):
        pytest.fail("the block must not run")
    assert "exited with code" in str(error.value)
    assert 'Could not import module "no_such_module"' in str(error.value)


def test_a_server_that_never_answers_is_stopped_and_reported() -> None:
    server = start_uvicorn(EMPTY_APP, options=FACTORY)
    with pytest.raises(ServerError) as error:
        wait_until_answering(server, path="/nothing-here", timeout=3)  # FastAPI answers 404
    assert "did not answer within 3 s" in str(error.value)
    assert "GET /nothing-here" in str(error.value)  # its log, quoted
    assert server.process.returncode is not None and not listening(server.port)
