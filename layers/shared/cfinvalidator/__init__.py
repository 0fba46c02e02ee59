"""Domain package of the CloudFront invalidation service, shipped as a Lambda layer.

Everything here except ``adapters`` and ``observability`` is pure: no AWS calls, no I/O.
"""
