"""The local endpoint lets another process use the test's moto, and only it."""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys

import boto3
import pytest
from moto import mock_aws

from emulator.local_aws.endpoint import FAKE_CREDENTIALS, local_endpoint

REGION = "eu-west-1"

# Runs in the subprocess: finds the queue by name, sends one message, reports what it saw.
SUBPROCESS = """
import json, os, sys
import boto3
sqs = boto3.client("sqs")
url = sqs.get_queue_url(QueueName="from-the-test")["QueueUrl"]
sent = sqs.send_message(
    QueueUrl=url,
    MessageBody="from-the-subprocess",
    MessageAttributes={"origin": {"DataType": "String", "StringValue": "child"}},
)
print(json.dumps({
    "queues": sqs.list_queues()["QueueUrls"],
    "url": url,
    "message_id": sent["MessageId"],
    "access_key": boto3.Session().get_credentials().access_key,
}))
"""


def test_a_subprocess_shares_the_in_process_mock(caplog: pytest.LogCaptureFixture) -> None:
    """Given a queue created in-process inside mock_aws and the local endpoint running,
    When a subprocess with the endpoint's environment sends a message with boto3,
    Then it saw the queue (at the endpoint's URL), the test receives its message, and the
    server logged no request line."""
    level = logging.getLogger("werkzeug").level
    with mock_aws(), local_endpoint(region=REGION) as endpoint:
        sqs = boto3.client("sqs", region_name=REGION)
        queue_url = sqs.create_queue(QueueName="from-the-test")["QueueUrl"]

        completed = subprocess.run(
            [sys.executable, "-c", SUBPROCESS],
            env=endpoint.environment(),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

        assert completed.returncode == 0, completed.stderr
        seen = json.loads(completed.stdout)
        assert seen["url"] == f"{endpoint.url}/123456789012/from-the-test"
        assert seen["queues"] == [seen["url"]]
        assert seen["access_key"] == FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"]
        (message,) = sqs.receive_message(QueueUrl=queue_url, MessageAttributeNames=["All"])[
            "Messages"
        ]
        assert message["MessageId"] == seen["message_id"]
        assert message["Body"] == "from-the-subprocess"
        assert message["MessageAttributes"]["origin"]["StringValue"] == "child"
    assert [record for record in caplog.records if record.name == "werkzeug"] == []
    assert logging.getLogger("werkzeug").level == level


def test_the_endpoint_listens_on_loopback_only_and_closes_on_exit() -> None:
    """Given the local endpoint,
    When it runs and after its context exits,
    Then it is at http://127.0.0.1:<port> and accepts connections, then refuses them."""
    with mock_aws():
        with local_endpoint() as endpoint:
            assert endpoint.url == f"http://127.0.0.1:{endpoint.port}"
            with socket.create_connection(("127.0.0.1", endpoint.port), timeout=5):
                pass

        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", endpoint.port), timeout=5).close()


def test_the_environment_reaches_nothing_but_the_endpoint() -> None:
    """Given a base environment with a profile, config files, a per-service endpoint, container
    credentials and unrelated variables,
    When the endpoint's environment is built from it,
    Then every AWS_ variable is replaced by the endpoint, fake credentials, the region, null
    config files and no instance metadata; the rest is kept."""
    base = {
        "AWS_PROFILE": "production",
        "AWS_DEFAULT_PROFILE": "production",
        "AWS_CONFIG_FILE": "/home/me/.aws/config",
        "AWS_SHARED_CREDENTIALS_FILE": "/home/me/.aws/credentials",
        "AWS_ENDPOINT_URL_SQS": "https://sqs.eu-west-1.amazonaws.com",
        "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "true",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://169.254.170.2/creds",
        "AWS_ACCESS_KEY_ID": "AKIAREALKEY",
        "PATH": "/usr/bin",
        "POWERTOOLS_SERVICE_NAME": "cloudfront-invalidator",
    }
    with mock_aws(), local_endpoint(region=REGION) as endpoint:
        environment = endpoint.environment(base)

    assert environment == {
        "PATH": "/usr/bin",
        "POWERTOOLS_SERVICE_NAME": "cloudfront-invalidator",
        **FAKE_CREDENTIALS,
        "AWS_ENDPOINT_URL": endpoint.url,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_EC2_METADATA_DISABLED": "true",
    }


def test_the_endpoint_needs_an_active_mock() -> None:
    """Given no active mock_aws,
    When the local endpoint is started,
    Then it refuses: the test's own clients would be talking to real AWS."""
    with pytest.raises(RuntimeError, match="mock_aws"), local_endpoint():
        pass
