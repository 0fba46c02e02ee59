"""A deployed Lambda function run in-process: its handler, its environment, its context object.

moto stores functions but can only run them in Docker. :class:`LocalFunction` runs the deployed
function's handler in this process instead, as a fresh execution environment would:

- the handler module is imported on first use (a cold start), from the function's source folder,
  with its layers' folders on ``sys.path`` the way Lambda puts layers under ``/opt/python``;
- every invocation (and the cold start) runs with the function's resolved ``Environment`` plus the
  variables the Lambda runtime sets (``AWS_LAMBDA_FUNCTION_NAME``...), restored afterwards;
  ``AWS_SAM_LOCAL=true`` marks it as local, as ``sam local invoke`` does;
- anything the function writes to stdout goes to ``log_sink`` when one is given, as Lambda sends
  stdout to CloudWatch Logs;
- :class:`FakeLambdaContext` carries the name, ARN, memory, request ID and the remaining time
  derived from the function's ``Timeout``.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import sys
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import ModuleType
from typing import Any, Protocol, TextIO, cast

from emulator.local_aws.clock import Clock, SystemClock
from emulator.local_aws.deployed import DeployedFunction

__all__ = ["FakeLambdaContext", "Handler", "LambdaContextLike", "LocalFunction"]


class LambdaContextLike(Protocol):
    """The part of Lambda's context object that handlers and Powertools read."""

    @property
    def function_name(self) -> str: ...
    @property
    def function_version(self) -> str: ...
    @property
    def invoked_function_arn(self) -> str: ...
    @property
    def memory_limit_in_mb(self) -> int: ...
    @property
    def aws_request_id(self) -> str: ...
    @property
    def log_group_name(self) -> str: ...
    @property
    def log_stream_name(self) -> str: ...
    def get_remaining_time_in_millis(self) -> int: ...


Handler = Callable[[dict[str, Any], Any], Any]
"""A Lambda handler: (event, context) -> response."""


@dataclass(frozen=True)
class FakeLambdaContext:
    """Lambda's context object for one invocation."""

    function_name: str
    invoked_function_arn: str
    memory_limit_in_mb: int
    timeout_seconds: float
    clock: Callable[[], float] = field(default_factory=SystemClock, repr=False, compare=False)
    function_version: str = "$LATEST"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = ""
    log_stream_name: str = ""
    started_at: float = field(default=-1.0, compare=False)

    def __post_init__(self) -> None:
        if self.started_at < 0:
            object.__setattr__(self, "started_at", self.clock())
        if not self.log_group_name:
            object.__setattr__(self, "log_group_name", f"/aws/lambda/{self.function_name}")
        if not self.log_stream_name:
            day = datetime.now(UTC).strftime("%Y/%m/%d")
            object.__setattr__(self, "log_stream_name", f"{day}/[$LATEST]{uuid.uuid4().hex}")

    def get_remaining_time_in_millis(self) -> int:
        elapsed = self.clock() - self.started_at
        return max(0, int((self.timeout_seconds - elapsed) * 1000))


class LocalFunction:
    """Runs a deployed function's handler in-process (see the module docstring)."""

    def __init__(
        self,
        function: DeployedFunction,
        *,
        region: str,
        clock: Clock | None = None,
        log_sink: TextIO | None = None,
    ) -> None:
        self.function = function
        self._region = region
        self._clock: Callable[[], float] = clock or SystemClock()
        self._log_sink = log_sink
        self._handler: Handler | None = None
        self.invocations = 0

    @property
    def timeout_seconds(self) -> int:
        return self.function.timeout_seconds

    def new_context(self) -> FakeLambdaContext:
        return FakeLambdaContext(
            function_name=self.function.name,
            invoked_function_arn=self.function.arn,
            memory_limit_in_mb=self.function.memory_mb,
            timeout_seconds=self.function.timeout_seconds,
            clock=self._clock,
        )

    def __call__(self, event: dict[str, Any], context: Any) -> Any:
        with self._runtime():
            handler = self._handler or self._cold_start()
            self.invocations += 1
            return handler(event, context)

    def _cold_start(self) -> Handler:
        module_name, _, attribute = self.function.handler.rpartition(".")
        if not module_name:
            raise ValueError(f"handler {self.function.handler!r} is not <module>.<function>")
        for folder in (*reversed(self.function.layer_dirs), self.function.code_dir):
            if str(folder) not in sys.path:
                sys.path.insert(0, str(folder))
        module = self._import_fresh(module_name)
        handler = getattr(module, attribute, None)
        if not callable(handler):
            raise TypeError(f"{self.function.handler} is not a callable in {module.__file__}")
        self._handler = cast(Handler, handler)
        return self._handler

    def _import_fresh(self, module_name: str) -> ModuleType:
        # A unique module name: each LocalFunction is its own execution environment, so module
        # level state (cached clients, parsed configuration) starts empty, as after a cold start.
        path = self.function.code_dir.joinpath(*module_name.split(".")).with_suffix(".py")
        unique_name = f"_local_lambda_{self.function.name}_{id(self)}_{module_name}"
        spec = importlib.util.spec_from_file_location(unique_name, path)
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot load handler module from {path}")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    @contextlib.contextmanager
    def _runtime(self) -> Iterator[None]:
        variables = {**self._runtime_variables(), **self.function.environment}
        with _environment(variables):
            if self._log_sink is None:
                yield
            else:
                with contextlib.redirect_stdout(self._log_sink):
                    yield

    def _runtime_variables(self) -> dict[str, str]:
        return {
            "AWS_REGION": self._region,
            "AWS_DEFAULT_REGION": self._region,
            "AWS_LAMBDA_FUNCTION_NAME": self.function.name,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(self.function.memory_mb),
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{self.function.name}",
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{self.function.runtime}",
            "AWS_SAM_LOCAL": "true",
        }


@contextlib.contextmanager
def _environment(variables: Mapping[str, str]) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
