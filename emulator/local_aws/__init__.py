"""The local AWS: template.yaml deployed into moto, the faithful CloudFront, the SQS event source,
the Lambda context, and the one clock they all share."""
