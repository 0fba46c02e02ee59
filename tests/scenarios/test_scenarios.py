"""Whole-pipeline scenarios in simulated time: real planner, real boto3 adapter, faithful
CloudFront over moto, SQS with visibility and redrive (emulator/simulation/).

Each scenario asserts the product's promises: no key lost, no quota error surfaced, few billed
paths, and the records that cannot be served deferred or dead-lettered, never dropped.
"""

from __future__ import annotations

from typing import cast
from urllib.parse import unquote

import pytest

from cfinvalidator.paths import PathRules, paths_for_key
from cfinvalidator.retry import ACCESS_GRACE_DELIVERIES
from emulator.simulation.engine import Simulation, simulate
from emulator.simulation.handler import ServiceHandler
from emulator.simulation.report import Report
from emulator.simulation.settings import SimSettings, Upload
from emulator.simulation.workloads import burst, hostile_keys, site_deploy, spread

WINDOW = 30.0


def assert_nothing_lost(report: Report) -> None:
    assert report.truncated is False
    assert report.keys_lost == 0, report.lost_uploads()[:5]
    assert report.quota_errors == 0


def test_a_10000_file_site_deploy_costs_a_handful_of_paths() -> None:
    """Given 10,000 files uploaded over 60 s with the default knobs, then every key is covered by
    a handful of billed paths, no quota error is surfaced and every invalidation is requested
    within the debounce window plus 2 s of its upload."""
    report = simulate(site_deploy(), SimSettings(batch_size=10_000, batching_window_seconds=WINDOW))
    assert_nothing_lost(report)
    assert report.billed_paths <= 5
    assert report.create_invalidation_calls <= 5
    assert report.deferrals == 0
    assert report.dead_letters == ()
    assert max(report.request_latencies()) <= WINDOW + 2


@pytest.mark.parametrize("depth", ["0", "1"])
def test_a_100000_key_burst_with_quotas_nearly_full_defers_and_loses_nothing(depth: str) -> None:
    """Given 100,000 keys within 10 s while 2,990 file paths and 14 wildcards are already in
    progress for two minutes, then the planner never trips a quota: it serves what fits, defers
    the rest with a growing delay, and every key is covered in the end with few billed paths."""
    settings = SimSettings(batch_size=10_000, env={"BROADEST_WILDCARD_DEPTH": depth})
    with Simulation(burst(), settings) as sim:
        sim.occupy(files=2990, wildcards=14, completes_in_seconds=120)
        report = sim.run()
    assert_nothing_lost(report)
    assert report.dead_letters == ()
    assert report.deferrals > 0
    assert report.billed_paths <= 40
    assert report.create_invalidation_calls <= 10


def test_a_throttling_storm_is_retried_and_deferred_without_loss() -> None:
    """Given CloudFront throttling after 2 calls per 5 s on every operation and three
    distributions, when a trickle of uploads arrives in small batches, then calls are retried
    with backoff or deferred and every key is covered."""
    uploads = spread([f"news/item-{i:03d}.html" for i in range(300)], over_seconds=300)
    settings = SimSettings(batch_size=10, batching_window_seconds=1, distributions=3)
    handler = ServiceHandler()
    with Simulation(uploads, settings, handler=handler) as sim:
        for operation in ("CreateInvalidation", "ListInvalidations", "GetInvalidation"):
            sim.cloudfront_fake.throttle_after(2, 5.0, operation)
        report = sim.run()
    assert_nothing_lost(report)
    assert sum(outcome.throttles for outcome in handler.outcomes) > 10
    assert report.dead_letters == ()


def test_a_5xx_storm_outlasting_the_retries_is_deferred_then_served() -> None:
    """Given 40 consecutive ServiceUnavailable answers to CreateInvalidation, then the records
    are deferred (not lost, not dead-lettered) and served once CloudFront recovers."""
    uploads = spread([f"a/{i}.css" for i in range(50)], over_seconds=20)
    with Simulation(uploads, SimSettings()) as sim:
        sim.cloudfront_fake.inject("CreateInvalidation", "ServiceUnavailable", times=40)
        report = sim.run()
    assert_nothing_lost(report)
    assert report.deferrals > 0
    assert report.dead_letters == ()


def test_access_denied_dead_letters_after_its_grace_with_a_failed_notification() -> None:
    """Given CloudFront denying every CreateInvalidation, then the records are deferred on their
    first ACCESS_GRACE_DELIVERIES deliveries (a new permission may still be propagating) and go
    to the DLQ on the next one, with FAILED notifications listing their keys."""
    uploads = [Upload(1.0, "a.css"), Upload(2.0, "b/c.js")]
    with Simulation(uploads, SimSettings()) as sim:
        sim.cloudfront_fake.inject("CreateInvalidation", "AccessDenied", times=100)
        report = sim.run()
    assert report.keys_lost == 0
    assert [(d.via, d.error_code, d.receive_count) for d in report.dead_letters] == [
        ("service", "AccessDenied", ACCESS_GRACE_DELIVERIES + 1)
    ] * 2
    assert report.deferrals == 2 * ACCESS_GRACE_DELIVERIES
    failed = [n.message for n in report.notifications if n.message.get("status") == "FAILED"]
    keys = [key for m in failed for key in cast("list[str]", m["sourceKeys"])]
    assert sorted(keys) == ["a.css", "b/c.js"]
    assert {m["error"] for m in failed} == {"AccessDenied"}


def test_redelivery_after_a_partial_failure_bills_no_distribution_twice() -> None:
    """Given two distributions where the second answers 5xx for a while, then each distribution
    is billed for the batch's paths exactly once."""
    uploads = spread([f"p/{i}.html" for i in range(5)], over_seconds=5)
    with Simulation(uploads, SimSettings(distributions=2)) as sim:
        second = sim.distribution_ids[1]
        sim.cloudfront_fake.inject("CreateInvalidation", "ServiceUnavailable", times=9)
        report = sim.run()
    assert_nothing_lost(report)
    billed = {
        d: sum(len(i.paths) for i in report.invalidations if i.distribution_id == d)
        for d in sim.distribution_ids
    }
    assert billed[second] == billed[sim.distribution_ids[0]] == 5


def test_hostile_keys_are_all_covered() -> None:
    """Given 10,000 keys with spaces, +, %, ~, *, ?, #, non-ASCII and 1,024-byte keys, then every
    key is covered (compared decoded, on CloudFront's side) and no quota error is surfaced."""
    report = simulate(spread(hostile_keys(10_000), over_seconds=60), SimSettings(batch_size=10_000))
    assert_nothing_lost(report)
    assert report.dead_letters == ()


def test_hostile_keys_get_exact_paths_that_decode_back_to_them() -> None:
    """Given 2,000 hostile keys CloudFront can name (no ~, no trailing *) and collapsing off,
    then each key's exact paths are requested and decode back to the key; only over-long keys
    need a wildcard."""
    keys = hostile_keys(2000, unnameable=False)
    settings = SimSettings(batch_size=10_000, env={"COLLAPSE_THRESHOLD": "0"})
    report = simulate(spread(keys, over_seconds=20), settings)
    assert_nothing_lost(report)
    requested = {p for inv in report.invalidations for p in inv.paths}
    for key in keys:
        for path in paths_for_key(key, PathRules()):
            assert path in requested
            if not path.endswith("*"):
                assert unquote(path[1:], errors="strict") == key
    assert {p for p in requested if p.endswith("*")} == {
        p for k in keys for p in paths_for_key(k, PathRules()) if p.endswith("*")
    }
    assert "/dir%20one/a+b00001%25.txt" in requested or any(
        p.startswith("/dir%20one/") for p in requested
    )
