"""``make demo MODE=existing``: the stack attached to a bucket it did not create.

A bucket that already has another tool's notifications (a queue for uploads/, a topic for .zip
files) and two distributions that read it with different origin paths (``www`` serves the
``site/`` folder, ``preview`` the bucket root). The real template is deployed with
``CreateBucket=false``: its custom resource switches on the bucket's EventBridge delivery,
keeping the other notifications, and the rule forwards object events to the queue. Uploads are
invalidated on both distributions, each with its own paths, and end in COMPLETED notifications;
deleting the stack switches EventBridge off and leaves the other tool's notifications in place.

moto 5.2 delivers S3 events to EventBridge and EventBridge to SQS itself; the emulator corrects
the bodies (each event its own ID and sequencer, AWS's field names: emulator.local_aws.s3_events),
reports EventBridgeConfiguration in GetBucketNotificationConfiguration as AWS does
(emulator.local_aws.s3_notifications), and runs the custom resource through its real handler with
a local ResponseURL (emulator.local_aws.custom_resources).
"""

from __future__ import annotations

import io
import json
from typing import TYPE_CHECKING, Any

from scripts.demo import (
    TEMPLATE,
    DemoError,
    Timeline,
    emulated_aws,
    follow_tracker,
    raise_for_batcher_failure,
    receive_notifications,
    report_batch,
    report_batch_result,
    report_invalidations,
    report_notification,
    run_event_source,
    show_logs,
    subscribe_inbox,
    tracker_executions,
    upload_site,
)
from scripts.demo_options import Options

if TYPE_CHECKING:
    from emulator.local_aws.deployed import DeployedStack

BUCKET = "cfinv-demo-existing-site"
STACK_NAME = "cfinv-demo-existing"
SITE_FOLDER = "site/"


def prepare_bucket(timeline: Timeline) -> dict[str, Any]:
    """The bucket a team already has, with another tool's notifications; returns them."""
    import boto3

    s3, sqs, sns = boto3.client("s3"), boto3.client("sqs"), boto3.client("sns")
    s3.create_bucket(Bucket=BUCKET)
    queue_url = sqs.create_queue(QueueName="other-tool-thumbnailer")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    topic_arn = sns.create_topic(Name="other-tool-backups")["TopicArn"]
    s3.put_bucket_notification_configuration(
        Bucket=BUCKET,
        NotificationConfiguration={
            "QueueConfigurations": [
                {
                    "Id": "thumbnails",
                    "QueueArn": queue_arn,
                    "Events": ["s3:ObjectCreated:*"],
                    "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "uploads/"}]}},
                }
            ],
            "TopicConfigurations": [
                {
                    "Id": "archives",
                    "TopicArn": topic_arn,
                    "Events": ["s3:ObjectCreated:*"],
                    "Filter": {"Key": {"FilterRules": [{"Name": "suffix", "Value": ".zip"}]}},
                }
            ],
        },
    )
    configuration = notification_configuration()
    timeline.say(
        f"existing bucket s3://{BUCKET} with another tool's notifications:\n"
        + describe_configuration(configuration)
    )
    return configuration


def notification_configuration() -> dict[str, Any]:
    import boto3

    from emulator.local_aws.s3_notifications import read_notification_configuration

    return read_notification_configuration(boto3.client("s3"), BUCKET)


def describe_configuration(configuration: dict[str, Any]) -> str:
    lines = []
    for kind, target in (("QueueConfigurations", "QueueArn"), ("TopicConfigurations", "TopicArn")):
        for entry in configuration.get(kind, []):
            rules = entry.get("Filter", {}).get("Key", {}).get("FilterRules", [])
            where = ", ".join(f"{r['Name']} {r['Value']}" for r in rules)
            lines.append(f"  {entry['Id']}: {entry['Events']} ({where}) -> {entry[target]}")
    state = "on" if "EventBridgeConfiguration" in configuration else "off"
    lines.append(f"  EventBridge delivery: {state}")
    return "\n".join(lines)


def create_distributions(timeline: Timeline) -> dict[str, str]:
    import boto3

    from emulator.local_aws.distributions import create_distribution

    cloudfront = boto3.client("cloudfront")
    created = {
        "www": create_distribution(
            cloudfront, "www", bucket=BUCKET, origin_path="/site", comment="www: site/ at /"
        ),
        "preview": create_distribution(
            cloudfront, "preview", bucket=BUCKET, comment="preview: the bucket root"
        ),
    }
    timeline.say(
        f"distributions reading s3://{BUCKET}: www {created['www']} (origin path /site),"
        f" preview {created['preview']} (no origin path)"
    )
    return created


def deploy(distributions: dict[str, str], options: Options) -> DeployedStack:
    from emulator.local_aws.deployed import StackDeployError
    from emulator.local_aws.stack import deploy_stack

    parameters = options.deploy_parameters(
        {
            "CreateBucket": "false",
            "BucketName": BUCKET,
            "DistributionIds": ",".join(distributions.values()),
        }
    )
    try:
        return deploy_stack(TEMPLATE, parameters, stack_name=STACK_NAME)
    except StackDeployError as exc:
        raise DemoError(f"deploying template.yaml (CreateBucket=false) failed: {exc}") from exc


def run_existing(options: Options) -> None:
    import boto3

    timeline = Timeline()
    with emulated_aws(options) as cloudfront_fake:
        sqs, sns, sfn = boto3.client("sqs"), boto3.client("sns"), boto3.client("stepfunctions")
        before = prepare_bucket(timeline)
        distributions = create_distributions(timeline)
        stack = deploy(distributions, options)
        (switch,) = stack.custom_resources
        timeline.say(
            f"stack {stack.stack_name} deployed with CreateBucket=false: custom resource"
            f" {switch.logical_id} answered {switch.physical_id!r}; rule"
            f" {stack.outputs['ObjectEventsRuleArn'].rsplit('/', 1)[-1]} forwards object events"
        )
        attached = notification_configuration()
        timeline.say("the bucket's notifications now:\n" + describe_configuration(attached))
        if {k: v for k, v in attached.items() if k != "EventBridgeConfiguration"} != before:
            raise DemoError("attaching changed the other tool's notifications")
        inbox_url = subscribe_inbox(stack, sqs, sns)

        from scripts.demo_ci import ci_wait, since_now

        since = since_now()
        # Under KeyPrefix when one is given, else in the folder the www distribution serves.
        folder = {"KeyPrefix": stack.parameters.get("KeyPrefix") or SITE_FOLDER}
        uploaded = upload_site(boto3.client("s3"), BUCKET, folder, timeline)
        with ci_wait(stack.stack_name, since, timeline) as ci:
            logs = io.StringIO()
            batches = run_event_source(stack, sqs, options, logs)
            for batch in batches:
                report_batch(batch, options, timeline)
            raise_for_batcher_failure(batches, logs)
            invalidations = report_invalidations(
                cloudfront_fake, boto3.client("cloudfront"), timeline, uploaded, logs
            )
            for batch in batches:
                report_batch_result(batch, timeline)
            show_logs(logs, options, timeline)
            if {d for d, _ in invalidations} != set(distributions.values()):
                raise DemoError(f"expected an invalidation on each of {distributions}")

            executions = tracker_executions(
                sfn, stack.outputs["StateMachineArn"], len(invalidations)
            )
            for execution_arn in executions:
                follow_tracker(sfn, execution_arn, timeline, options.timeout_seconds)
            for envelope in receive_notifications(sqs, inbox_url, len(invalidations), 10.0):
                report_notification(envelope, uploaded, timeline)
            ci.finish(timeline, options.timeout_seconds)

        from emulator.local_aws.deployed import StackDeployError
        from emulator.local_aws.stack import delete_stack

        try:
            delete_stack(stack)
        except StackDeployError as exc:
            raise DemoError(f"deleting the stack failed: {exc}") from exc
        after = notification_configuration()
        timeline.say(f"stack deleted; the bucket's notifications:\n{describe_configuration(after)}")
        if after != before:
            raise DemoError(
                "after the stack was deleted the notifications differ from before: "
                + json.dumps({"before": before, "after": after})
            )
    timeline.say(
        "done: uploads reached the service through EventBridge, both distributions reported"
        " COMPLETED, and the other tool's notifications are as they were"
    )
