"""Which viewer paths a distribution serves from this bucket: origins and cache behaviours.

A distribution may reach the bucket through several origins, each with its own ``OriginPath``,
and its cache behaviours decide which origin answers a viewer path (docs/aws-behaviour.md
#cloudfront-origins-and-cache-behaviours). A key is therefore mapped once per origin that points
at the bucket, and each path is kept only where the behaviours route it to that origin:

- origin ``OriginPath`` ``/site``: key ``site/a.html`` is requested as ``/a.html``; a key outside
  ``site/`` is not served through that origin at all;
- behaviours are tried in order (``PathPattern``: ``*`` any characters, ``?`` exactly one,
  case-sensitive, the leading ``/`` optional), then the default behaviour; a behaviour may target
  an origin group, which reaches every member origin.

Everything here is pure: the CloudFront adapter reads ``GetDistributionConfig`` into a
:class:`DistributionLayout`, and :class:`OriginDirectory` caches the mapping per distribution,
re-reading each one every few minutes through a function the service passes in.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property

from cfinvalidator.errors import CloudFrontError
from cfinvalidator.paths import PathRules, paths_for_key, scope_of
from cfinvalidator.ports import DistributionLayout

# The S3 endpoints an origin's DomainName may name a bucket by: global, regional (dash or dot,
# dual-stack) and the two website endpoint spellings, in the aws and aws-cn partitions.
_S3_ENDPOINT = re.compile(
    r"^(?P<bucket>[a-z0-9][a-z0-9.-]*[a-z0-9])\."
    r"(?:s3|s3[.-](?:dualstack\.)?[a-z0-9-]+|s3-website[.-][a-z0-9-]+)"
    r"\.amazonaws\.com(?:\.cn)?\.?$"
)


def bucket_of(domain_name: str) -> str | None:
    """The bucket an S3 endpoint domain names, or None for any other origin."""
    match = _S3_ENDPOINT.match(domain_name.strip().lower())
    return match.group("bucket") if match else None


def _pattern(path_pattern: str) -> re.Pattern[str]:
    """A cache behaviour's PathPattern as a regular expression over the viewer path."""
    pattern = path_pattern if path_pattern.startswith("/") else "/" + path_pattern
    parts = (".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile("".join(parts), re.DOTALL)


@dataclass(frozen=True, slots=True)
class OriginRoute:
    """One origin of the distribution that reads the bucket, and how keys map through it."""

    origin_id: str
    rules: PathRules


@dataclass(frozen=True)
class Router:
    """Which origins answer a viewer path: the first matching behaviour, else the default."""

    behaviours: tuple[tuple[str, frozenset[str]], ...]  # (pattern, origins it reaches)
    default: frozenset[str]

    @cached_property
    def _compiled(self) -> tuple[tuple[re.Pattern[str], frozenset[str]], ...]:
        return tuple((_pattern(p), targets) for p, targets in self.behaviours)

    def origins_for(self, viewer_path: str) -> frozenset[str]:
        for pattern, targets in self._compiled:
            if pattern.fullmatch(viewer_path):
                return targets
        return self.default


@dataclass(frozen=True)
class KeyMapping:
    """How one distribution turns a decoded key into viewer paths.

    ``router`` is None when every viewer path reaches every route (an ``OriginPath`` override,
    or a layout whose behaviours all target the same origins): no per-path check is needed.
    Equal mappings map equally, so distributions that share one are mapped once per batch.
    """

    routes: tuple[OriginRoute, ...]
    router: Router | None = None

    def paths_for(self, key: str) -> tuple[str, ...]:
        """Every path viewers may request for ``key`` through this distribution."""
        router = self.router
        if router is None and len(self.routes) == 1:
            return paths_for_key(key, self.routes[0].rules)  # the common case
        found: dict[str, None] = {}
        for route in self.routes:
            routed = None
            if router is not None:
                origin_id = route.origin_id
                routed = _routed_to(router, origin_id)
            found.update(dict.fromkeys(paths_for_key(key, route.rules, routed)))
        return tuple(found)

    @property
    def serves_anything(self) -> bool:
        return bool(self.routes)

    @property
    def foreign_prefixes(self) -> tuple[str, ...]:
        """Viewer path prefixes where CloudFront may answer from an origin other than the
        bucket: each such behaviour's pattern up to its first ``*`` or ``?`` (``/`` when the
        default behaviour reaches none of the bucket's origins). A wildcard reaching into one
        would drop another origin's cache, which no count of the bucket can see."""
        router = self.router
        if router is None:
            return ()
        ours = frozenset(route.origin_id for route in self.routes)
        found: list[str] = []
        for pattern, targets in router.behaviours:
            if not targets & ours:
                literal = pattern if pattern.startswith("/") else "/" + pattern
                found.append(re.split(r"[*?]", literal, maxsplit=1)[0])
        if not router.default & ours:
            found.append("/")
        return tuple(dict.fromkeys(found))

    @property
    def origin_dirs(self) -> tuple[str, ...]:
        """Each route's origin path as a key prefix: ``""`` (the bucket root) or ``a/b/``."""
        return tuple(
            dict.fromkeys(
                route.rules.origin_path.strip("/") + "/"
                if route.rules.origin_path.strip("/")
                else ""
                for route in self.routes
            )
        )

    @property
    def scope(self) -> str:
        """The deepest directory every route's paths fall under: no collapsed wildcard above it
        (with one route, its own scope; with several, their common directory)."""
        scopes = [scope_of(route.rules) for route in self.routes] or ["/"]
        common = scopes[0]
        for scope in scopes[1:]:
            while not scope.startswith(common):
                common = common[: common.rstrip("/").rfind("/") + 1] or "/"
        return common


def _routed_to(router: Router, origin_id: str) -> Callable[[str], bool]:
    return lambda viewer_path: origin_id in router.origins_for(viewer_path)


def fixed_mapping(rules: PathRules) -> KeyMapping:
    """The mapping of an ``OriginPath`` override: one route, no behaviour check."""
    return KeyMapping((OriginRoute("override", rules),))


def mapping_for(layout: DistributionLayout, bucket: str, base: PathRules) -> KeyMapping:
    """The distribution's mapping for keys of ``bucket``; ``base`` gives the key prefix and the
    index document (its origin path is replaced by each origin's own)."""
    groups = dict(layout.origin_groups)

    def reached(target: str) -> frozenset[str]:
        return frozenset(groups.get(target, (target,)))

    default = reached(layout.default_target)
    behaviours = tuple((b.path_pattern, reached(b.target_origin_id)) for b in layout.behaviours)
    reachable = default.union(*(targets for _, targets in behaviours))
    routes = tuple(
        OriginRoute(
            origin.origin_id,
            PathRules(
                key_prefix=base.key_prefix,
                origin_path=_normalised(origin.origin_path),
                index_document=base.index_document,
            ),
        )
        for origin in layout.origins
        if bucket_of(origin.domain_name) == bucket.lower() and origin.origin_id in reachable
    )
    # Only the origins of this bucket matter: behaviours that all reach the same of them need
    # no per-path check.
    ours = frozenset(route.origin_id for route in routes)
    needs_router = any(targets & ours != default & ours for _, targets in behaviours)
    router = Router(behaviours, default) if needs_router else None
    return KeyMapping(routes, router)


def _normalised(origin_path: str) -> str:
    stripped = origin_path.strip().strip("/")
    return "/" + stripped if stripped else ""


# ----------------------------------------------------------------------------- the cache
@dataclass(slots=True)
class _Entry:
    mapping: KeyMapping
    read_at: datetime


@dataclass
class OriginDirectory:
    """Each distribution's mapping, read at first use and again once ``refresh`` has passed
    (the batcher keeps one for the life of its execution environment).

    A failed refresh keeps the mapping read before (logged by the caller); with nothing read yet
    the error propagates, so the records wait instead of being served with a guessed mapping.
    """

    _entries: dict[str, _Entry] = field(default_factory=dict)

    def mapping(
        self,
        distribution_id: str,
        now: datetime,
        refresh: timedelta,
        read: Callable[[], KeyMapping],
        on_stale: Callable[[CloudFrontError], None] | None = None,
    ) -> KeyMapping:
        entry = self._entries.get(distribution_id)
        if entry is not None and now - entry.read_at < refresh:
            return entry.mapping
        try:
            mapping = read()
        except CloudFrontError as error:
            if entry is None:
                raise
            if on_stale is not None:
                on_stale(error)
            return entry.mapping
        self._entries[distribution_id] = _Entry(mapping, now)
        return mapping

    def forget(self, distribution_ids: Iterable[str] = ()) -> None:
        for distribution_id in distribution_ids:
            self._entries.pop(distribution_id, None)
