"""The answer to a CloudFormation custom resource request, as ``ports.CustomResourceResponder``.

CloudFormation reads the answer from an S3 object it pre-signed for a PUT (the request's
``ResponseURL``). The body goes with an empty ``content-type`` and an explicit
``content-length``, and with no header beyond those urllib always sends (Host, User-Agent...):
the URL's signature covers what CloudFormation chose to sign, so nothing is added to it. The
standard library suffices (no dependency beyond the shared layer).

Delivery is retried a couple of times on connection errors, timeouts and 5xx; a 4xx (an expired
or altered URL) will not get better and fails at once.
"""

from __future__ import annotations

import http.client
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable

from cfinvalidator.errors import CustomResourceResponseError

ATTEMPTS = 3
TIMEOUT_SECONDS = 3.0
BACKOFF_SECONDS = 0.25  # then doubled: 0.25 s, 0.5 s
_SCHEMES = frozenset({"https", "http"})  # CloudFormation's URLs are https; http is for tests


class UrllibResponder:
    def __init__(
        self,
        *,
        attempts: int = ATTEMPTS,
        timeout_seconds: float = TIMEOUT_SECONDS,
        backoff_seconds: float = BACKOFF_SECONDS,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._attempts = attempts
        self._timeout_seconds = timeout_seconds
        self._backoff_seconds = backoff_seconds
        self._sleep = sleep

    def send(self, response_url: str, body: bytes) -> None:
        scheme = urllib.parse.urlsplit(response_url).scheme
        if scheme not in _SCHEMES:
            raise CustomResourceResponseError(f"ResponseURL is not an http(s) URL ({scheme!r})")
        last = ""
        for attempt in range(self._attempts):
            if attempt:
                self._sleep(self._backoff_seconds * 2 ** (attempt - 1))
            try:
                self._put(response_url, body)
                return
            except urllib.error.HTTPError as exc:
                last = f"HTTP {exc.code} {exc.reason}"
                if exc.code < 500:
                    break
            except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
                last = f"{type(exc).__name__}: {exc}"
        raise CustomResourceResponseError(f"could not deliver the answer: {last}")

    def _put(self, response_url: str, body: bytes) -> None:
        request = urllib.request.Request(  # noqa: S310 - the scheme is checked in send()
            response_url,
            data=body,
            method="PUT",
            headers={"content-type": "", "content-length": str(len(body))},
        )
        with urllib.request.urlopen(request, timeout=self._timeout_seconds) as response:  # noqa: S310
            response.read()
