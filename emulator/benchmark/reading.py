"""The reading of docs/benchmarks.md: a plain sentence per workload, where we win and lose."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from emulator.benchmark.cells import dollars, find, seconds
from emulator.benchmark.runner import CaseResult
from emulator.benchmark.targets import SERVICE, HandlerFigures


def reading(results: Sequence[CaseResult], handler: HandlerFigures) -> list[str]:
    lines: list[str] = []
    readers = (
        _read_deploy,
        _read_burst,
        _read_hot_key,
        _read_trickle,
        _read_latency,
        _read_hostile,
    )
    for describe in readers:
        sentence = describe(lambda w, s: find(results, w, s))
        if sentence:
            lines += [f"- {sentence}"]
    lines.append(f"- {_read_handler(handler)}")
    return lines


Lookup = Callable[[str, str], CaseResult | None]


def _read_deploy(find: Lookup) -> str:
    per_object, service, depth = (
        find("deploy", "per-object"),
        find("deploy", SERVICE),
        find("deploy", "service-depth-1"),
    )
    if per_object is None or service is None or depth is None:
        return ""
    ratio = per_object.billed_paths / max(1, service.billed_paths)
    return (
        f"Site deploy: one invalidation per object billed {per_object.billed_paths:,} paths "
        f"({dollars(per_object.dollars)}), met {per_object.quota_errors:,} quota errors and "
        f"left keys waiting for redelivery (slowest request {seconds(per_object.requested.worst)}"
        f" s). This service billed {service.billed_paths:,} ({ratio:,.0f} times fewer) with no "
        f"quota error, every key requested within {seconds(service.requested.worst)} s. The "
        f"price is over-invalidation: its default collapses to the broadest wildcard and "
        f"invalidated {service.over_invalidated:,} unchanged objects; with "
        f"BroadestWildcardDepth 1 it billed {depth.billed_paths:,} paths and invalidated "
        f"{depth.over_invalidated:,}."
    )


def _read_burst(find: Lookup) -> str:
    per_object, per_batch, service = (
        find("burst", "per-object"),
        find("burst", "per-batch"),
        find("burst", SERVICE),
    )
    if per_object is None or per_batch is None or service is None:
        return ""
    return (
        f"Burst: the 3,000-path in-progress quota decides. One per object made "
        f"{per_object.create_invalidation_calls:,} calls, {per_object.quota_errors:,} of them "
        f"refused, so most keys waited for redelivery: half were requested only after "
        f"{seconds(per_object.requested.p50)} s, and {per_object.dead_lettered:,} were "
        f"dead-lettered. One per batch dead-lettered {per_batch.dead_lettered:,}. This service "
        f"planned within the quota: {service.create_invalidation_calls:,} calls, "
        f"{service.billed_paths:,} billed paths, {service.dead_lettered:,} dead-lettered, "
        f"p99 {seconds(service.requested.p99)} s to request."
    )


def _read_latency(find: Lookup) -> str:
    per_object, service = find("trickle", "per-object"), find("trickle", SERVICE)
    if per_object is None or service is None:
        return ""
    return (
        f"Latency is what batching costs. On the trickle, one per object requested each "
        f"invalidation {seconds(per_object.requested.p99)} s after the upload (p99) and this "
        f"service {seconds(service.requested.p99)} s, its debounce window; the notification "
        f"adds at most one tracker poll to completion (p99 {seconds(service.completed.p99)} s "
        f"to completed, {seconds(service.notified.p99 if service.notified else None)} s to "
        f"notified). Once the quota refuses requests, as on the deploy and the burst, one per "
        f"object is the slowest by far."
    )


def _read_hot_key(find: Lookup) -> str:
    per_object, service = find("hot-key", "per-object"), find("hot-key", SERVICE)
    if per_object is None or service is None:
        return ""
    return (
        f"Hot key: batching is what saves here. One per object billed "
        f"{per_object.billed_paths:,} paths; every batching strategy billed one path per "
        f"window ({service.billed_paths:,}), and only `/*` invalidated other objects."
    )


def _read_trickle(find: Lookup) -> str:
    per_object, service, depth = (
        find("trickle", "per-object"),
        find("trickle", SERVICE),
        find("trickle", "service-depth-1"),
    )
    if per_object is None or service is None or depth is None:
        return ""
    return (
        f"Trickle: every strategy stays near or under the free tier. One per object billed "
        f"{per_object.billed_paths:,} paths; this service's default billed "
        f"{service.billed_paths:,} but, whenever a 30 s window needed "
        f"CollapseThreshold paths or more, replaced them with `/*` and so invalidated "
        f"{service.over_invalidated:,} unchanged objects over the hour. With "
        f"BroadestWildcardDepth 1: {depth.billed_paths:,} paths, {depth.over_invalidated:,} "
        f"unchanged objects. For a steady trickle of edits, BroadestWildcardDepth 1 (or a "
        f"higher CollapseThreshold) keeps the cache warm at little extra cost."
    )


def _read_hostile(find: Lookup) -> str:
    per_batch, service = find("hostile", "per-batch"), find("hostile", SERVICE)
    if per_batch is None or service is None:
        return ""
    return (
        f"Hostile keys: a key with `~` (or a trailing `*`) can only be covered by a wildcard "
        f"that ends where that character starts, so covering them all costs over-invalidation "
        f"whatever the strategy ({service.over_invalidated:,} unchanged objects for this "
        f"service). One per batch put more than 15 wildcards in one request: "
        f"{per_batch.quota_errors:,} refusals and {per_batch.dead_lettered:,} keys "
        f"dead-lettered. This service billed {service.billed_paths:,} paths, lost none and "
        f"dead-lettered {service.dead_lettered:,}."
    )


def _read_handler(handler: HandlerFigures) -> str:
    cpu = ", ".join(
        f"{name} {batch.cpu_ms_median:.0f} ms" for name, batch in handler.batches.items()
    )
    imports = handler.imports
    return (
        f"Handler: a 10,000-record batch takes {cpu} of CPU (median). The cold import, read-only "
        f"and writing nothing as on Lambda, is {imports.ratio:.2f}x a precompiled bare "
        f"`import boto3`: the rest is Powertools' Logger and Metrics and the service's own "
        f"modules (their dataclasses are built at import, bytecode or not). "
        + (
            f"Without the bytecode the layer now ships it took {imports.source_only_ms:.0f} ms, "
            f"{imports.speedup:.1f}x as long: every cold start compiled boto3 and botocore. "
            if imports.speedup is not None and imports.source_only_ms is not None
            else ""
        )
        + "The X-Ray SDK (Powertools' Tracer) is left out because it alone added about 165 ms."
    )
