"""A local AWS endpoint for other processes: moto's server on 127.0.0.1, inside the test's mock.

:func:`local_endpoint` starts moto's ``ThreadedMotoServer`` in this process, on 127.0.0.1 and a
port the OS picks, while a ``mock_aws()`` is active. The server dispatches into the same moto
backends as the in-process mock, so a subprocess pointed at it (the ``cfinv`` CLI, a script, the
AWS CLI) sees the queues, buckets and messages the test created in-process, and the test sees what
the subprocess did. Patches made to moto's classes (emulator.local_aws.sqs_move_tasks) apply to
the server's requests too; patches made to one backend instance (FaithfulCloudFront) apply as
long as the server is called for that account, which fake credentials give (moto maps an access
key it does not know to its default account, 123456789012, as in-process).

:meth:`LocalEndpoint.environment` is the environment such a process needs so that nothing can
reach real AWS: every ``AWS_*`` variable of the base environment is dropped (profiles, per-service
endpoint URLs, container and web-identity credentials, ``AWS_IGNORE_CONFIGURED_ENDPOINT_URLS``),
then ``AWS_ENDPOINT_URL`` (which botocore uses for every service), fake static credentials, the
region, config and credentials files set to the null device (unset, botocore would read
``~/.aws``) and the EC2 instance metadata lookup disabled are set.

The server binds 127.0.0.1 only, never another interface; werkzeug's per-request log lines are
silenced while it runs (warnings and errors still show). Leaving the context stops it and closes
its socket (werkzeug's ``serve_forever`` closes it when shut down): the port refuses connections.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

__all__ = ["FAKE_CREDENTIALS", "LOOPBACK", "LocalEndpoint", "local_endpoint"]

LOOPBACK: Final = "127.0.0.1"
FAKE_CREDENTIALS: Final = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}
"""The same fake credentials tests/conftest.py gives the test process."""


@dataclass(frozen=True)
class LocalEndpoint:
    """Where the local endpoint listens (``http://127.0.0.1:<port>``) and its region."""

    url: str
    region: str = "us-east-1"

    @property
    def port(self) -> int:
        port = urlsplit(self.url).port
        assert port is not None
        return port

    def environment(self, base: Mapping[str, str] | None = None) -> dict[str, str]:
        """``base`` (default: this process's environment) without any ``AWS_*`` variable, plus
        what a process needs to talk to this endpoint, and only to it, with fake credentials."""
        source = os.environ if base is None else base
        environment = {k: v for k, v in source.items() if not k.startswith("AWS_")}
        environment.update(FAKE_CREDENTIALS)
        environment.update(
            {
                "AWS_ENDPOINT_URL": self.url,
                "AWS_DEFAULT_REGION": self.region,
                "AWS_REGION": self.region,
                "AWS_CONFIG_FILE": os.devnull,
                "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
                "AWS_EC2_METADATA_DISABLED": "true",
            }
        )
        return environment


@contextmanager
def local_endpoint(*, region: str = "us-east-1") -> Iterator[LocalEndpoint]:
    """Run moto's server on 127.0.0.1 while the context lasts; needs an active ``mock_aws()``."""
    from moto.core.models import MockAWS
    from moto.server import ThreadedMotoServer

    # MockAWS._nested_count is the only way to ask moto whether a mock is active.
    if MockAWS._nested_count < 1:
        msg = "local_endpoint() must run inside moto's mock_aws()"
        raise RuntimeError(msg)
    werkzeug_log = logging.getLogger("werkzeug")
    level = werkzeug_log.level
    werkzeug_log.setLevel(logging.WARNING)  # request lines are logged at INFO
    try:
        server = ThreadedMotoServer(ip_address=LOOPBACK, port=0, verbose=False)
        server.start()
        try:
            host, port = server.get_host_and_port()
            yield LocalEndpoint(url=f"http://{host}:{port}", region=region)
        finally:
            server.stop()
    finally:
        werkzeug_log.setLevel(level)
