"""The demo's CI step: ``cfinv wait`` started right after the upload, as a CI job runs it after
``aws s3 sync``, in a process of its own that reaches the emulator through a moto server on
127.0.0.1 (emulator.local_aws.endpoint). Its output is printed when it ends.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from scripts.demo import DemoError, Timeline

COMMAND = Path(sys.executable).parent / "cfinv"


def since_now() -> str:
    """What CI records before the sync: ``date -u +%FT%TZ``."""
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


@dataclass
class CiWait:
    process: subprocess.Popen[str]
    out: IO[str]
    err: IO[str]
    command: str

    def finish(self, timeline: Timeline, timeout: float) -> None:
        """Wait for the command to end; print what it printed; DemoError unless it exited 0."""
        deadline = time.monotonic() + timeout
        while self.process.poll() is None:
            if time.monotonic() > deadline:
                self.process.kill()
                raise DemoError(f"`{self.command}` did not end within {timeout:.0f} s")
            time.sleep(0.2)
        self.out.seek(0)
        self.err.seek(0)
        printed = (self.err.read() + self.out.read()).rstrip()
        timeline.say(f"CI: `{self.command}` exited {self.process.returncode}:")
        timeline.block(printed)
        if self.process.returncode != 0:
            raise DemoError(f"cfinv wait exited {self.process.returncode}")


@contextmanager
def ci_wait(stack_name: str, since: str, timeline: Timeline) -> Iterator[CiWait]:
    """Start ``cfinv wait --stack STACK --since SINCE``; stop it if the demo fails first."""
    from emulator.local_aws.endpoint import local_endpoint

    args = ["wait", "--stack", stack_name, "--since", since, "--poll", "1s", "--timeout", "2m"]
    command = "cfinv " + " ".join(args)
    with (
        local_endpoint() as endpoint,
        tempfile.TemporaryFile("w+") as out,
        tempfile.TemporaryFile("w+") as err,
    ):
        process = subprocess.Popen(
            [str(COMMAND), *args],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            text=True,
            env=endpoint.environment(),
        )
        timeline.say(f"CI: `{command}` started (its own process, through {endpoint.url})")
        try:
            yield CiWait(process, out, err, command)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
