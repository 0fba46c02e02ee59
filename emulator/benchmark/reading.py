"""The reading of docs/benchmarks.md: a plain sentence per workload, where we win and lose."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from emulator.benchmark.cells import (
    PEERS,
    case_label,
    dollars,
    dominates,
    failed,
    find,
    p99,
    seconds,
)
from emulator.benchmark.runner import CaseResult
from emulator.benchmark.targets import SERVICE, HandlerFigures


def reading(results: Sequence[CaseResult], handler: HandlerFigures) -> list[str]:
    lines: list[str] = []
    readers = (
        _read_deploy,
        _read_burst,
        _read_hot_key,
        _read_trickle,
        _read_hostile,
        _read_month,
    )
    for describe in readers:
        sentence = describe(lambda w, s: find(results, w, s))
        if sentence:
            lines += [f"- {sentence}"]
    lines += [f"- {sentence}" for sentence in _read_conditions(results)]
    lines += [f"- {sentence}" for sentence in _read_losses(results)]
    lines.append(f"- {_read_handler(handler)}")
    return lines


Lookup = Callable[[str, str], CaseResult | None]


def _read_losses(results: Sequence[CaseResult]) -> list[str]:
    """Plainly, workload by workload: which peer strategies dominate this service."""
    sentences: list[str] = []
    pairs = dict.fromkeys((r.workload, r.condition) for r in results)
    for workload, condition in pairs:
        service = find(results, workload, SERVICE, condition)
        if service is None:
            continue
        beaten_by = [
            r
            for r in results
            if (r.workload, r.condition) == (workload, condition)
            and r.strategy in PEERS
            and dominates(r, service)
        ]
        for peer in beaten_by:
            sentences.append(
                f"Where this service loses ({case_label(service)}): {peer.strategy} is at least "
                f"as good on "
                f"every axis and better on one: {peer.billed_paths:,} billed paths against "
                f"{service.billed_paths:,}, {peer.over_invalidated:,} unchanged objects "
                f"invalidated against {service.over_invalidated:,}, p99 to request "
                f"{seconds(peer.requested.p99)} s against {seconds(service.requested.p99)} s."
            )
    if not sentences:
        sentences.append("No peer strategy dominates this service on any workload of this run.")
    sentences += _axis_losses(results)
    depth = [
        (peer, case)
        for case in results
        if case.strategy == "service-depth-1"
        for peer in results
        if (peer.workload, peer.condition) == (case.workload, case.condition)
        and peer.strategy in PEERS
        and dominates(peer, case)
    ]
    sentences.append(
        "With BroadestWildcardDepth 1, "
        + (
            "no peer strategy dominates this service on any workload or condition of this run."
            if not depth
            else "it is still dominated: "
            + "; ".join(f"{case_label(case)} by {peer.strategy}" for peer, case in depth)
            + "."
        )
    )
    return sentences


_AXES: tuple[tuple[str, Callable[[CaseResult], float], Callable[[float], str]], ...] = (
    ("billed paths", lambda r: r.billed_paths, lambda v: f"{v:,.0f}"),
    ("unchanged objects invalidated", lambda r: r.over_invalidated, lambda v: f"{v:,.0f}"),
    ("p99 to request", p99, lambda v: f"{seconds(v)} s"),
)


def _axis_losses(results: Sequence[CaseResult]) -> list[str]:
    """Not dominated is not best everywhere: for each workload (ideal condition), the axes on
    which some peer does better than this service, and the best peer there."""
    sentences: list[str] = []
    for workload in dict.fromkeys(r.workload for r in results):
        service = find(results, workload, SERVICE)
        if service is None:
            continue
        peers = [r for r in results if (r.workload, r.condition) == (workload, service.condition)
                 and r.strategy in PEERS]  # fmt: skip
        worse: list[str] = []
        for axis, value, shown in _AXES:
            better = [peer for peer in peers if value(peer) < value(service)]
            if better:
                best = min(better, key=value)
                worse.append(
                    f"{axis} ({best.strategy} {shown(value(best))} against {shown(value(service))})"
                )
        if worse:
            sentences.append(
                f"Where a peer does better on one axis ({workload}): " + "; ".join(worse) + "."
            )
    return sentences


def _read_month(find: Lookup) -> str:
    cases = {name: find("month", name) for name in (*PEERS, SERVICE, "service-depth-1")}
    if any(case is None for case in cases.values()):
        return ""
    figures = "; ".join(
        f"{name} {case.billed_paths:,} paths ({dollars(case.dollars)}), "
        f"{case.over_invalidated:,} unchanged objects invalidated"
        for name, case in cases.items()
        if case is not None
    )
    return (
        f"A month (daily edits, weekly deploys, one import), where the 1,000 free paths "
        f"matter: {figures}."
    )


def _read_conditions(results: Sequence[CaseResult]) -> list[str]:
    """What the realistic condition (tail, throttling, 503s) and another tool's quota change."""
    sentences: list[str] = []
    service = find(results, "deploy", SERVICE, "realistic")
    per_object = find(results, "deploy", "per-object", "realistic")
    if service is not None and per_object is not None:
        sentences.append(
            f"Under the realistic condition (completion tail, throttling, 503s) the deploy's "
            f"p99 to completion is {seconds(service.completed.p99)} s for this service "
            f"({service.throttled_calls:,} throttled calls, {failed(service):,} keys never "
            f"invalidated); one request per object met {per_object.throttled_calls:,} "
            f"throttled calls and never invalidated {failed(per_object):,} keys."
        )
    busy = [r for r in results if r.workload == "deploy-busy" and r.condition == "ideal"]
    if busy:
        lost = ", ".join(f"{r.strategy} {failed(r):,}" for r in busy if failed(r)) or "none"
        mine = find(results, "deploy-busy", SERVICE)
        deferrals = mine.deferrals if mine is not None else 0
        sentences.append(
            f"With another tool holding most of the quota (deploy-busy), keys never "
            f"invalidated: {lost}; this service deferred {deferrals:,} records and served "
            f"them as the quota freed up."
        )
    rates = sorted(
        (r for r in results if r.condition.startswith("realistic, ")),
        key=lambda r: (r.strategy, r.condition),
    )
    if rates:
        sentences.append(
            "Sensitivity to the CreateInvalidation rate (deploy, realistic otherwise): "
            + "; ".join(
                f"{r.strategy} at {r.condition.removeprefix('realistic, ')}: "
                f"{r.throttled_calls:,} throttled, {failed(r):,} never invalidated, p99 "
                f"{seconds(r.requested.p99)} s to request"
                for r in rates
            )
            + "."
        )
    return sentences


def _read_deploy(find: Lookup) -> str:
    per_object, service, depth = (
        find("deploy", "per-object"),
        find("deploy", SERVICE),
        find("deploy", "service-depth-1"),
    )
    if per_object is None or service is None or depth is None:
        return ""
    ratio = per_object.billed_paths / max(1, service.billed_paths)
    broad = find("deploy", "everything")
    whole = (
        f" against {broad.over_invalidated:,} for always `/*` (which bills "
        f"{broad.billed_paths:,} paths)"
        if broad
        else ""
    )
    return (
        f"Site deploy: one request per object billed {per_object.billed_paths:,} paths "
        f"({dollars(per_object.dollars)}). This service billed {service.billed_paths:,} "
        f"({ratio:,.0f} times fewer), every key requested within "
        f"{seconds(service.requested.worst)} s. Counting the bucket, it kept to wildcards on "
        f"the directories the deploy mostly rewrote: {service.over_invalidated:,} unchanged "
        f"objects invalidated{whole}; with BroadestWildcardDepth 1 it billed "
        f"{depth.billed_paths:,} paths and invalidated {depth.over_invalidated:,}."
    )


def _read_burst(find: Lookup) -> str:
    cases = {name: find("burst", name) for name in (*PEERS, SERVICE)}
    service = cases[SERVICE]
    if service is None or any(case is None for case in cases.values()):
        return ""
    lost = ", ".join(
        f"{name} {failed(case):,}" for name, case in cases.items() if case and failed(case)
    )
    return (
        f"Burst: the in-progress quota decides. Keys never invalidated: {lost or 'none'}; "
        f"the tools that chunk exact paths (SST, s3_website) or send one request per object "
        f"run into TooManyInvalidationsInProgress and do not queue the rest. This service "
        f"planned within the quota: {service.create_invalidation_calls:,} calls, "
        f"{service.billed_paths:,} billed paths, none lost, p99 "
        f"{seconds(service.requested.p99)} s to request."
    )


def _read_hot_key(find: Lookup) -> str:
    per_object, service = find("hot-key", "per-object"), find("hot-key", SERVICE)
    if per_object is None or service is None:
        return ""
    return (
        f"Hot key: batching is what saves here. One request per object billed "
        f"{per_object.billed_paths:,} paths; every batching strategy billed one path per "
        f"window ({service.billed_paths:,}), and the `/*` tools invalidated everything else."
    )


def _read_trickle(find: Lookup) -> str:
    s3deploy, service, depth = (
        find("trickle", "s3deploy"),
        find("trickle", SERVICE),
        find("trickle", "service-depth-1"),
    )
    if s3deploy is None or service is None or depth is None:
        return ""
    return (
        f"Trickle: s3deploy's rule (the window's paths if at most 8, else `/*`) billed "
        f"{s3deploy.billed_paths:,} paths and invalidated {s3deploy.over_invalidated:,} "
        f"unchanged objects; this service's default billed {service.billed_paths:,} and "
        f"invalidated {service.over_invalidated:,}. With BroadestWildcardDepth 1: "
        f"{depth.billed_paths:,} paths, {depth.over_invalidated:,} unchanged objects."
    )


def _read_hostile(find: Lookup) -> str:
    sst, website, service = (
        find("hostile", "sst"),
        find("hostile", "s3_website"),
        find("hostile", SERVICE),
    )
    if sst is None or website is None or service is None:
        return ""
    return (
        f"Hostile keys: a key with `~` (or a trailing `*`) can only be covered by a wildcard "
        f"that ends where that character starts, so covering them all costs over-invalidation "
        f"whatever the strategy ({service.over_invalidated:,} unchanged objects for this "
        f"service). s3_website's 1,000-path chunks hold more than 15 wildcards each: "
        f"{website.quota_errors:,} refusals, {failed(website):,} keys never invalidated; SST "
        f"chunks by 15 wildcards ({failed(sst):,} never invalidated). This service billed "
        f"{service.billed_paths:,} paths and lost none."
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
