"""The dashboard and the alarms: every widget reads a metric that really exists, and every alarm
reaches the alarm topic.

"Really exists" is checked against the code, not a list kept beside the template: the service's
metric names are those a batch served by the real ``process_batch`` emits (read back from
Powertools' EMF document), plus those the tracker definition puts with PutMetricData. AWS's own
metrics (SQS, Step Functions) must name this stack's queue or state machine.
"""

from __future__ import annotations

import json
import random
from functools import cache
from typing import Any

import pytest

from cfinvalidator.observability import metrics
from cfinvalidator.retry import Backoff
from cfinvalidator.service import Ports, SqsMessage, process_batch
from emulator.local_aws.memory import FakeInvalidations, FakeNotifier, FakeQueue, FakeTracker
from tests.factories import BUCKET, s3_body, s3_record, service_config
from tests.template.cfn import ROOT, Evaluator, load_template, resources_of_type

TRACKER_DEFINITION = ROOT / "statemachine" / "tracker.asl.json"
# What Step Functions and SQS publish by themselves, per resource (AWS's metric lists).
AWS_METRICS = {
    "AWS/Lambda": {"Invocations", "Errors", "Throttles"},
    "AWS/SQS": {"ApproximateAgeOfOldestMessage", "ApproximateNumberOfMessagesVisible"},
    "AWS/States": {
        "ExecutionsSucceeded",
        "ExecutionsFailed",
        "ExecutionsTimedOut",
        "ExecutionsAborted",
    },
}
AWS_DIMENSIONS = {
    "AWS/Lambda": "FunctionName",
    "AWS/SQS": "QueueName",
    "AWS/States": "StateMachineArn",
}
# What the on-call engineer is promised on the dashboard (docs/operations.md).
PROMISED = {
    "ObjectsReceived",
    "InvalidationsCreated",
    "BilledPaths",
    "FilePathsInProgress",
    "WildcardPathsInProgress",
    "RecordsDeferred",
    "RecordsDeadLettered",
    "ApproximateAgeOfOldestMessage",
    "ApproximateNumberOfMessagesVisible",
    "InvalidationCompletionTime",
    "ExecutionsFailed",
    "ExecutionsTimedOut",
    "Errors",
}


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template()


def _evaluator(template: dict[str, Any], **overrides: str) -> Evaluator:
    values = {"DistributionIds": "E2EXAMPLE12345", "BucketName": BUCKET} | overrides
    return Evaluator(template, **values)


def _batcher_environment(template: dict[str, Any]) -> dict[str, str]:
    variables: dict[str, str] = template["Resources"]["BatcherFunction"]["Properties"][
        "Environment"
    ]["Variables"]
    return variables


@cache
def batcher_metric_names() -> frozenset[str]:
    """The metric names one real batch emits (a served record on one distribution)."""
    config = service_config("EDIST1AAAAAAA")
    cloudfront = FakeInvalidations()
    ports = Ports(
        invalidations=cloudfront,
        tracker=FakeTracker(),
        queue=FakeQueue(),
        notifier=FakeNotifier(),
        remaining_seconds=lambda: 50.0,
        sleep=lambda _: None,
        now=lambda: cloudfront.now,
        rng=random.Random(1),
        backoff=Backoff(),
    )
    metrics.clear_metrics()
    try:
        process_batch([SqsMessage("m1", s3_body(s3_record("a.css")), "h1", 1)], config, ports)
        document = metrics.serialize_metric_set()
    finally:
        metrics.clear_metrics()
    [directive] = document["_aws"]["CloudWatchMetrics"]
    return frozenset(metric["Name"] for metric in directive["Metrics"])


def tracker_metric_names() -> dict[str, set[str]]:
    """Namespace placeholder -> the metric names the tracker puts with PutMetricData."""
    states = json.loads(TRACKER_DEFINITION.read_text(encoding="utf-8"))["States"]
    found: dict[str, set[str]] = {}
    for state in states.values():
        if state.get("Resource") == "arn:aws:states:::aws-sdk:cloudwatch:putMetricData":
            parameters = state["Parameters"]
            for datum in parameters["MetricData"]:
                assert datum["Dimensions"] == [{"Name": "service", "Value": "${ServiceName}"}]
                found.setdefault(parameters["Namespace"], set()).add(datum["MetricName"])
    return found


def dashboard_widgets(evaluator: Evaluator) -> list[dict[str, Any]]:
    [dashboard] = evaluator.resources("AWS::CloudWatch::Dashboard").values()
    body = json.loads(evaluator.evaluate(dashboard["Properties"]["DashboardBody"]))
    widgets: list[dict[str, Any]] = body["widgets"]
    return widgets


def dashboard_metrics(evaluator: Evaluator) -> list[tuple[str, str, dict[str, str]]]:
    """(namespace, metric name, dimensions) of every metric line (expressions excluded)."""
    found = []
    for widget in dashboard_widgets(evaluator):
        for line in widget.get("properties", {}).get("metrics", []):
            fields = [item for item in line if not isinstance(item, dict)]
            if not fields:  # a metric-math expression: {"expression": ...}
                continue
            namespace, name, *pairs = fields
            assert len(pairs) % 2 == 0, line
            found.append((namespace, name, dict(zip(pairs[::2], pairs[1::2], strict=True))))
    return found


def test_the_service_metrics_read_by_the_dashboard_are_emitted_by_the_code(
    template: dict[str, Any],
) -> None:
    """Given the dashboard as deployed with default parameters,
    when each metric in its service namespace is looked up,
    then the batcher emits it (a real batch's EMF document) or the tracker puts it, under the
    batcher's namespace and service dimension."""
    environment = _batcher_environment(template)
    namespace = environment["POWERTOOLS_METRICS_NAMESPACE"]
    service = environment["POWERTOOLS_SERVICE_NAME"]
    substitutions = template["Resources"]["TrackerStateMachine"]["Properties"][
        "DefinitionSubstitutions"
    ]
    assert (substitutions["MetricsNamespace"], substitutions["ServiceName"]) == (
        namespace,
        service,
    )
    [put] = [
        statement
        for policy in template["Resources"]["TrackerStateMachine"]["Properties"]["Policies"]
        for statement in policy.get("Statement", [])
        if statement.get("Action") == "cloudwatch:PutMetricData"
    ]
    assert put["Condition"] == {"StringEquals": {"cloudwatch:namespace": namespace}}
    emitted = set(batcher_metric_names()) | tracker_metric_names()["${MetricsNamespace}"]

    service_metrics = [m for m in dashboard_metrics(_evaluator(template)) if m[0] == namespace]
    assert service_metrics
    for _, name, dimensions in service_metrics:
        assert name in emitted, f"{name}: no code emits it"
        assert dimensions == {"service": service}, name


def test_aws_metrics_on_the_dashboard_name_this_stacks_resources(
    template: dict[str, Any],
) -> None:
    """Given the dashboard, then every metric outside the service namespace is one SQS or Step
    Functions publishes, with the dimension that names this stack's queue, DLQ or tracker."""
    environment = _batcher_environment(template)
    own = {
        "AWS/Lambda": {"<BatcherFunction>"},
        "AWS/SQS": {"<InvalidationQueue.QueueName>", "<InvalidationDeadLetterQueue.QueueName>"},
        "AWS/States": {"<TrackerStateMachine>"},
    }
    others = [
        m
        for m in dashboard_metrics(_evaluator(template))
        if m[0] != environment["POWERTOOLS_METRICS_NAMESPACE"]
    ]
    assert {namespace for namespace, _, _ in others} == set(AWS_METRICS)
    for namespace, name, dimensions in others:
        assert name in AWS_METRICS[namespace], name
        assert set(dimensions) == {AWS_DIMENSIONS[namespace]}, name
        assert dimensions[AWS_DIMENSIONS[namespace]] in own[namespace], name


def test_the_dashboard_shows_what_on_call_is_promised(template: dict[str, Any]) -> None:
    """Given the dashboard, then it shows keys received, invalidations, billed paths against the
    budget, both in-progress quotas against their limits, deferrals, dead letters, queue age
    against its alarm threshold, completion time p50 and p95, and tracker failures."""
    evaluator = _evaluator(template, MonthlyPathBudget="2500", QueueAgeAlarmSeconds="900")
    names = {name for _, name, _ in dashboard_metrics(evaluator)}
    assert names >= PROMISED
    widgets = dashboard_widgets(evaluator)
    annotations = {
        (a["label"], a["value"])
        for w in widgets
        for a in w.get("properties", {}).get("annotations", {}).get("horizontal", [])
    }
    assert {
        ("MonthlyPathBudget", 2500),
        ("QueueAgeAlarmSeconds", 900),
        ("file-path quota", 3000),
        ("wildcard quota", 15),
    } <= annotations
    completion = [
        line[-1]["stat"]
        for w in widgets
        for line in w.get("properties", {}).get("metrics", [])
        if "InvalidationCompletionTime" in line
    ]
    assert sorted(completion) == ["p50", "p95"]


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"CreateBucket": "false"},
        {"CreateDistribution": "true", "DistributionIds": ""},
    ],
    ids=["created-bucket", "existing-bucket", "created-distribution"],
)
def test_the_dashboard_body_is_json_in_every_mode(
    template: dict[str, Any], overrides: dict[str, str]
) -> None:
    """Given each bucket and distribution mode, then the dashboard body is one JSON document of
    widgets, each inside the 24-column grid."""
    widgets = dashboard_widgets(_evaluator(template, **overrides))
    assert widgets
    for widget in widgets:
        assert widget["x"] + widget["width"] <= 24, widget


def test_every_alarm_publishes_to_the_alarm_topic(template: dict[str, Any]) -> None:
    """Given the alarms, then there are the four the runbook documents (dead letters, queue
    age, batcher errors, tracker failures), none conditional, each publishing to the alarm
    topic."""
    alarms = resources_of_type(template, "AWS::CloudWatch::Alarm")
    assert set(alarms) == {
        "DeadLetterQueueAlarm",
        "QueueAgeAlarm",
        "BatcherErrorsAlarm",
        "TrackerFailedAlarm",
    }
    for logical_id, alarm in alarms.items():
        assert "Condition" not in alarm, logical_id
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": "AlarmTopic"}], logical_id
    runbook = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    for logical_id in alarms:
        assert f"`{logical_id}`" in runbook, f"docs/operations.md has no entry for {logical_id}"


def test_queue_age_alarm_watches_the_source_queue_at_the_parameter(
    template: dict[str, Any],
) -> None:
    """Given the queue-age alarm, then it compares the source queue's oldest-message age with
    QueueAgeAlarmSeconds."""
    evaluator = _evaluator(template, QueueAgeAlarmSeconds="1200")
    alarm = evaluator.evaluate(template["Resources"]["QueueAgeAlarm"]["Properties"])
    assert (alarm["Namespace"], alarm["MetricName"], alarm["Statistic"]) == (
        "AWS/SQS",
        "ApproximateAgeOfOldestMessage",
        "Maximum",
    )
    assert alarm["Dimensions"] == [{"Name": "QueueName", "Value": "<InvalidationQueue.QueueName>"}]
    assert (alarm["Threshold"], alarm["ComparisonOperator"]) == ("1200", "GreaterThanThreshold")


def test_tracker_alarm_counts_failed_timed_out_and_aborted_executions(
    template: dict[str, Any],
) -> None:
    """Given the tracker alarm, then its one returned series adds the tracker's failed, timed
    out and aborted executions (missing data as 0), and any of them raises it."""
    alarm = _evaluator(template).evaluate(template["Resources"]["TrackerFailedAlarm"]["Properties"])
    queries = {query["Id"]: query for query in alarm["Metrics"]}
    returned = [query for query in alarm["Metrics"] if query["ReturnData"]]
    read = {
        query["MetricStat"]["Metric"]["MetricName"]: query["Id"]
        for query in alarm["Metrics"]
        if "MetricStat" in query
    }
    assert set(read) == {"ExecutionsFailed", "ExecutionsTimedOut", "ExecutionsAborted"}
    for query_id in read.values():
        metric = queries[query_id]["MetricStat"]["Metric"]
        assert metric["Namespace"] == "AWS/States"
        assert metric["Dimensions"] == [
            {"Name": "StateMachineArn", "Value": "<TrackerStateMachine>"}
        ]
    [total] = returned
    for query_id in read.values():
        assert f"FILL({query_id}, 0)" in total["Expression"]
    assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (0, "GreaterThanThreshold")


def test_batcher_errors_alarm_needs_fifteen_minutes_of_failures(template: dict[str, Any]) -> None:
    """Given the batcher alarm, then it reads this stack's batcher's Lambda Errors and goes off
    only when each of three 5-minute periods had one (a lone timeout does not page anyone)."""
    alarm = _evaluator(template).evaluate(template["Resources"]["BatcherErrorsAlarm"]["Properties"])
    assert (alarm["Namespace"], alarm["MetricName"], alarm["Statistic"]) == (
        "AWS/Lambda",
        "Errors",
        "Sum",
    )
    assert alarm["Dimensions"] == [{"Name": "FunctionName", "Value": "<BatcherFunction>"}]
    assert (alarm["Period"], alarm["EvaluationPeriods"], alarm["DatapointsToAlarm"]) == (300, 3, 3)
    assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (0, "GreaterThanThreshold")
