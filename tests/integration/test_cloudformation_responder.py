"""The answer's delivery (cfinvalidator.adapters.cloudformation) to a real HTTP server on
127.0.0.1: the wire format, retries on dropped connections and 5xx, no retry on 4xx."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from cfinvalidator.adapters.cloudformation import ATTEMPTS, UrllibResponder
from cfinvalidator.errors import CustomResourceResponseError
from emulator.local_aws.response_server import (
    RESPONSE_PATH,
    SIGNED_QUERY,
    ResponseServer,
    running_response_server,
)

BODY = json.dumps({"Status": "SUCCESS", "PhysicalResourceId": "b#eventbridge-already-on"}).encode()


@pytest.fixture
def server() -> Iterator[ResponseServer]:
    with running_response_server() as running:
        yield running


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def responder(sleeps: list[float]) -> UrllibResponder:
    return UrllibResponder(sleep=sleeps.append)


def test_the_answer_is_a_put_of_the_body_with_an_empty_content_type(
    server: ResponseServer, responder: UrllibResponder, sleeps: list[float]
) -> None:
    responder.send(server.url, BODY)
    [request] = server.requests
    assert request.method == "PUT"
    assert request.path == RESPONSE_PATH + SIGNED_QUERY  # the signed query string untouched
    assert request.header("content-type") == ""
    assert request.header("content-length") == str(len(BODY))
    assert request.body == BODY
    names = {name.lower() for name, _ in request.headers}
    assert names <= {"content-type", "content-length", "host", "user-agent", "accept-encoding",
                     "connection"}  # fmt: skip
    assert sleeps == []


def test_dropped_connections_are_retried(
    server: ResponseServer, responder: UrllibResponder, sleeps: list[float]
) -> None:
    server.drop_next(ATTEMPTS - 1)
    responder.send(server.url, BODY)
    assert len(server.requests) == ATTEMPTS
    assert sleeps == [0.25, 0.5]


def test_a_server_error_is_retried(
    server: ResponseServer, responder: UrllibResponder, sleeps: list[float]
) -> None:
    server.fail_next(503)
    responder.send(server.url, BODY)
    assert len(server.requests) == 2


def test_a_refused_url_is_not_retried(
    server: ResponseServer, responder: UrllibResponder, sleeps: list[float]
) -> None:
    server.fail_next(403)
    with pytest.raises(CustomResourceResponseError, match="HTTP 403"):
        responder.send(server.url, BODY)
    assert len(server.requests) == 1
    assert sleeps == []


def test_giving_up_after_the_last_attempt(
    server: ResponseServer, responder: UrllibResponder, sleeps: list[float]
) -> None:
    server.drop_next(ATTEMPTS)
    with pytest.raises(CustomResourceResponseError, match="could not deliver the answer"):
        responder.send(server.url, BODY)
    assert len(server.requests) == ATTEMPTS


def test_a_closed_port_is_a_connection_error(sleeps: list[float]) -> None:
    with running_response_server() as stopped_soon:
        url = stopped_soon.url
    with pytest.raises(CustomResourceResponseError, match="could not deliver"):
        UrllibResponder(sleep=sleeps.append, timeout_seconds=5).send(url, BODY)
    assert len(sleeps) == ATTEMPTS - 1


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://127.0.0.1/x", "not a url"])
def test_only_http_urls_are_opened(url: str, responder: UrllibResponder) -> None:
    with pytest.raises(CustomResourceResponseError, match="not an http"):
        responder.send(url, BODY)
