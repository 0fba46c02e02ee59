"""The benchmark's published workloads and the bucket's inventory they run against.

Five seeded workloads (a deploy, a trickle, a hot key, a burst, hostile keys) over a bucket with
a known inventory, so that over-invalidation (objects that did not change but were invalidated)
can be counted. The upload generators they are built from are emulator.simulation.workloads.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from emulator.simulation.settings import Upload
from emulator.simulation.workloads import burst, hostile_keys, site_deploy, site_files, spread

__all__ = ["HOT_KEY", "Occupied", "Workload", "inventory", "workloads"]

HOT_KEY: Final = "api/status.json"
SITE_PAGES: Final = 20_000
ARCHIVE_OBJECTS: Final = 30_000


# ----------------------------------------------------------------------------- workloads
@dataclass(frozen=True, slots=True)
class Occupied:
    """Another tool's invalidations in progress on the distribution when the workload starts."""

    files: int
    wildcards: int
    seconds: float  # until they complete


@dataclass(frozen=True, slots=True)
class Workload:
    """Seeded uploads into a bucket whose objects before the run are ``existing``."""

    name: str
    title: str
    uploads: tuple[Upload, ...]
    existing: tuple[str, ...]
    occupied: Occupied | None = None
    horizon_seconds: float | None = None  # how long it may run (default: the simulation's)
    epoch: datetime | None = None  # the wall time it starts at (default: the simulation's)

    @property
    def unchanged(self) -> frozenset[str]:
        """Objects in the bucket that the workload does not touch."""
        return frozenset(self.existing) - {upload.key for upload in self.uploads}


BUSY: Final = Occupied(files=2_500, wildcards=10, seconds=300.0)


def _scaled(count: int, scale: float) -> int:
    return max(2, round(count * scale))


def inventory(scale: float = 1.0) -> tuple[str, ...]:
    """The bucket before every workload: a 20,000-page static site, a 30,000-object media
    archive and a status document (scaled down together)."""
    site = site_files(_scaled(SITE_PAGES, scale), seed=0)
    archive = [
        f"media/archive/{n % 300:03d}/clip-{n:06d}.mp4"
        for n in range(_scaled(ARCHIVE_OBJECTS, scale))
    ]
    return (*site, *archive, HOT_KEY)


DAY: Final = 86_400.0
MONTH_START: Final = datetime(2026, 12, 1, tzinfo=UTC)
MONTH_DAYS: Final = 30


def month(site: Sequence[str], scale: float) -> tuple[Upload, ...]:
    """A realistic month of one site: ten small edits every day during working hours, a deploy
    of 500 changed files every week, and one bulk import of 5,000 new keys on day 15."""
    rng = random.Random(5)  # noqa: S311 - a workload, not security
    uploads: list[Upload] = []
    edits = _scaled(10, scale)
    for day in range(MONTH_DAYS):
        start = day * DAY + 9 * 3600
        uploads += [
            Upload(start + rng.uniform(0, 9 * 3600), rng.choice(site)) for _ in range(edits)
        ]
        if day % 7 == 0:
            changed = rng.sample(list(site), min(len(site), _scaled(500, scale)))
            uploads += spread(changed, 60.0, seed=day, start=day * DAY + 14 * 3600)
    uploads += burst(_scaled(5_000, scale), 10.0, seed=15, start=15 * DAY + 11 * 3600)
    return tuple(sorted(uploads, key=lambda upload: upload.at))


def workloads(scale: float = 1.0) -> list[Workload]:
    """The seven workloads; ``scale`` shrinks the object counts (not the time shapes) for
    quick runs: 1.0 is the published benchmark, 0.01 what the test suite runs."""
    if not 0 < scale <= 1:
        msg = f"scale must be in (0, 1], got {scale}"
        raise ValueError(msg)
    existing = inventory(scale)
    site = existing[: _scaled(SITE_PAGES, scale)]
    trickle_rng = random.Random(3)  # noqa: S311 - a workload, not security
    trickles = _scaled(720, scale)
    return [
        Workload(
            "deploy",
            f"site deploy: {_scaled(10_000, scale):,} files over 60 s",
            tuple(site_deploy(_scaled(10_000, scale), 60.0, seed=0)),
            existing,
        ),
        Workload(
            "deploy-busy",
            f"site deploy: {_scaled(10_000, scale):,} files over 60 s while another tool keeps "
            f"{BUSY.files:,} file paths and {BUSY.wildcards} wildcards in progress for "
            f"{BUSY.seconds / 60:.0f} minutes",
            tuple(site_deploy(_scaled(10_000, scale), 60.0, seed=0)),
            existing,
            BUSY,
        ),
        Workload(
            "trickle",
            f"trickle: 1 key / 5 s, {trickles:,} keys",
            tuple(Upload(5.0 * n, trickle_rng.choice(site)) for n in range(trickles)),
            existing,
        ),
        Workload(
            "hot-key",
            f"hot key re-uploaded {_scaled(1_000, scale):,} times, 1 / s",
            tuple(Upload(float(n), HOT_KEY) for n in range(_scaled(1_000, scale))),
            existing,
        ),
        Workload(
            "burst",
            f"burst: {_scaled(100_000, scale):,} new keys over 10 s",
            tuple(burst(_scaled(100_000, scale), 10.0, seed=1)),
            existing,
        ),
        Workload(
            "hostile",
            f"hostile keys: {_scaled(10_000, scale):,} over 60 s",
            tuple(spread(hostile_keys(_scaled(10_000, scale), seed=2), 60.0, seed=2)),
            existing,
        ),
        Workload(
            "month",
            f"a month: {_scaled(10, scale)} edits a day, a {_scaled(500, scale)}-file deploy "
            f"every week, a {_scaled(5_000, scale):,}-key import on day 15",
            month(site, scale),
            existing,
            horizon_seconds=(MONTH_DAYS + 1) * DAY,
            epoch=MONTH_START,  # one billing month from its first day
        ),
    ]
