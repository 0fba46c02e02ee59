"""The one Logger and Metrics of the service; everything imports them from here.

Service name and metrics namespace come from POWERTOOLS_SERVICE_NAME and
POWERTOOLS_METRICS_NAMESPACE, declared in template.yaml.

There is no Tracer on purpose: Powertools' Tracer loads the X-Ray SDK, about 165 ms of every cold
start (more than a third of `import boto3`; see docs/benchmarks.md). Lambda's active tracing
(template.yaml) still records each invocation and its initialization in X-Ray.
"""

from aws_lambda_powertools import Logger, Metrics

logger = Logger()
metrics = Metrics()
