"""Read what a distribution has in progress and has recently invalidated, through the port.

The batcher reads it before planning (quota and coverage); ``cfinv`` reads it to tell whether a
change is covered by a completed invalidation. Both read it here, with the same bounds.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from functools import partial
from typing import Protocol

from cfinvalidator.ledger import KnownInvalidation, is_in_progress
from cfinvalidator.ports import InvalidationApi

# In-progress invalidations older than this are assumed complete (AWS quotes seconds; the tail
# is minutes). Listing stops there, or after MAX_LIST_PAGES pages of 100 (the adapter pages).
IN_PROGRESS_LOOKBACK = timedelta(hours=1)
MAX_LIST_PAGES = 10
# GetInvalidation calls per distribution per reading. Beyond it (a distribution where another
# tool keeps hundreds of one-path invalidations in progress), each unread in-progress
# invalidation is assumed to hold one file path, and none counts as coverage.
MAX_DETAIL_READS = 100


class Calling(Protocol):
    """Makes one call, e.g. with retries: given the call, returns its result."""

    def __call__[T](self, call: Callable[[], T]) -> T: ...


def _once[T](call: Callable[[], T]) -> T:
    return call()


def read_history(
    api: InvalidationApi,
    distribution_id: str,
    now: datetime,
    since: datetime | None,
    calling: Calling = _once,
) -> tuple[list[KnownInvalidation], int]:
    """The invalidations still in progress (created within IN_PROGRESS_LOOKBACK) and every one
    created after ``since``, with their paths; and how many in-progress ones were left unread
    (beyond MAX_DETAIL_READS). Completed invalidations created before ``since`` are left out:
    they cannot cover a change made after it."""
    horizon = now - IN_PROGRESS_LOOKBACK
    if since is not None:
        horizon = min(horizon, since)
    # The adapter pages; each page goes through ``calling`` on its own.
    listed = api.recent_invalidations(distribution_id, horizon, MAX_LIST_PAGES, calling)
    known: list[KnownInvalidation] = []
    unread = 0
    for item in listed:
        in_progress = is_in_progress(item.status)
        if not in_progress and (since is None or item.create_time <= since):
            continue  # completed before anything of interest changed: irrelevant
        if len(known) >= MAX_DETAIL_READS:
            unread += in_progress
            continue
        details = calling(partial(api.invalidation_details, distribution_id, item.invalidation_id))
        known.append(
            KnownInvalidation(
                item.invalidation_id,
                item.create_time,
                item.status,
                details.paths,
                details.caller_reference,
            )
        )
    return known, unread
