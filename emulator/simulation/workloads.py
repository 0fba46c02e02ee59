"""Deterministic, seeded upload workloads shared by the scenario tests and the benchmarks."""

from __future__ import annotations

import random

from emulator.simulation.settings import Upload

HOSTILE_PIECES = (" ", "+", "%", "~", "*", "?", "#", "é", "日本", "%20", "a+b", "100%")


def site_files(count: int, seed: int = 0) -> list[str]:
    """A static site's keys: pages with index documents, blog posts, assets, docs.

    Roughly 20% blog posts (``blog/<year>/<slug>/index.html``), 40% images in 20 folders,
    15% scripts and styles, 25% documentation pages; the root has a few files of its own.
    """
    rng = random.Random(seed)  # noqa: S311 - workloads, not security
    keys = ["index.html", "404.html", "robots.txt", "favicon.ico", "about/index.html"]
    n = 0
    while len(keys) < count:
        roll = rng.random()
        if roll < 0.2:
            keys.append(f"blog/{2020 + n % 7}/post-{n:05d}/index.html")
        elif roll < 0.6:
            keys.append(f"assets/img/{rng.choice(IMAGE_FOLDERS)}/photo-{n:05d}.jpg")
        elif roll < 0.75:
            kind = rng.choice(("js", "css"))
            keys.append(f"assets/{kind}/chunk-{n:05d}.{kind}")
        else:
            keys.append(f"docs/section-{n % 12:02d}/page-{n:05d}.html")
        n += 1
    return keys[:count]


IMAGE_FOLDERS = tuple(f"gallery-{i:02d}" for i in range(20))


def spread(keys: list[str], over_seconds: float, seed: int = 0, start: float = 0.0) -> list[Upload]:
    """``keys`` uploaded at seeded random instants within ``over_seconds``, in time order."""
    rng = random.Random(seed)  # noqa: S311 - workloads, not security
    times = sorted(start + rng.uniform(0, over_seconds) for _ in keys)
    return [Upload(at, key) for at, key in zip(times, keys, strict=True)]


def site_deploy(files: int = 10_000, over_seconds: float = 60.0, seed: int = 0) -> list[Upload]:
    return spread(site_files(files, seed), over_seconds, seed)


def burst(
    keys: int = 100_000, over_seconds: float = 10.0, seed: int = 1, start: float = 0.0
) -> list[Upload]:
    """Many distinct keys at once, across many directories (e.g. a bulk import)."""
    names = [f"import/batch-{i % 500:03d}/item-{i:06d}.json" for i in range(keys)]
    return spread(names, over_seconds, seed, start)


def hostile_keys(count: int, seed: int = 2, *, unnameable: bool = True) -> list[str]:
    """Keys with spaces, +, %, ~, *, ?, #, non-ASCII, and some of 1,024 bytes (S3's maximum).

    ``unnameable`` False leaves out ``~`` and a trailing ``*`` (keys CloudFront can only cover
    with a wildcard), so every key has exact paths.
    """
    rng = random.Random(seed)  # noqa: S311 - workloads, not security
    pieces_pool = (
        HOSTILE_PIECES if unnameable else tuple(p for p in HOSTILE_PIECES if p not in "~*")
    )
    keys: list[str] = []
    for n in range(count):
        if n % 50 == 0:
            stem = f"long/{n:05d}-"
            room = 1024 - len(stem.encode())
            keys.append(stem + "é" * (room // 2) + "x" * (room % 2))  # exactly 1,024 bytes
            continue
        pieces = rng.sample(pieces_pool, 2)
        folder = rng.choice(("", "dir one/", "ünï/", "a+b/", "x%y/"))
        keys.append(f"{folder}{pieces[0]}{n:05d}{pieces[1]}.txt")
    return keys
