"""The service's own BilledPaths metric, summed since a moment, as ``ports.SpendApi``."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from cfinvalidator.adapters.s3 import knowledge_error

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch import CloudWatchClient

BILLED_PATHS = "BilledPaths"
_HOUR = 3600


class Boto3SpendApi:
    """GetMetricStatistics over ``namespace`` with the ``service`` dimension Powertools gives
    every metric of the batcher (POWERTOOLS_METRICS_NAMESPACE, POWERTOOLS_SERVICE_NAME)."""

    def __init__(
        self,
        client: CloudWatchClient,
        namespace: str,
        service: str,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._client = client
        self._namespace = namespace
        self._service = service
        self._now = now

    def billed_paths_since(self, start: datetime) -> int:
        end = self._now()
        # One datapoint for the whole span: a period in whole hours, which CloudWatch accepts
        # for data of any age up to 455 days.
        hours = max(1, math.ceil((end - start).total_seconds() / _HOUR))
        try:
            response = self._client.get_metric_statistics(
                Namespace=self._namespace,
                MetricName=BILLED_PATHS,
                Dimensions=[{"Name": "service", "Value": self._service}],
                StartTime=start,
                EndTime=end,
                Period=hours * _HOUR,
                Statistics=["Sum"],
            )
        except (ClientError, BotoCoreError) as exc:
            raise knowledge_error(exc) from exc
        return round(sum(point.get("Sum", 0.0) for point in response.get("Datapoints", [])))
