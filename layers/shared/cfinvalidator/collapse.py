"""Choose the paths of one invalidation: as few billed paths as the knobs allow, within quota.

Input is the set of paths that must be invalidated on one distribution (already encoded, some of
them wildcards CloudFront forces, e.g. for keys containing ``~``). Output maps every one of them
to the path of the request that covers it: itself, or a ``/dir/*`` wildcard.

Two passes, both bounded by how broad a wildcard may get (``CollapsePolicy.broadest_depth`` and
the ``scope`` the stack serves, so a wildcard never reaches above ``KEY_PREFIX``):

1. Cost. Directories are visited deepest first; each is weighed as one ``/dir/*`` against the
   paths it needs as planned so far (its subdirectories may already have collapsed).

   - When the bucket's objects under the directory are known (``Knowledge.objects_under``), the
     wildcard's price is the unchanged objects it would needlessly invalidate: it is chosen
     when that is at most ``unchanged_per_path`` for every billed path it saves. Inside the
     month's budget (``Knowledge.paths_left``) paths cost nothing, so only a wildcard that
     invalidates no unchanged object at all is chosen; once the request would overspend the
     budget, the allowance applies.
   - When they are not known, the threshold rule: a directory whose changes need at least
     ``threshold`` paths becomes one wildcard (inside a known budget: never).

   So one changed file keeps exactly its own paths, a directory whose every object changed
   costs one path, and a site deploy climbs to wildcards on the directories it mostly
   rewrote, never to a ``/*`` over a bucket it barely touched.
2. Quota. If the result needs more file paths or wildcard paths than are free on the distribution
   (3,000 and 15 in progress, minus what is already in progress), directories are collapsed
   further, one depth level at a time from the deepest, largest first, until it fits. If it
   still does not fit at the broadest allowed level, ``fits`` is False and the caller defers
   the records it cannot serve (see ``planning``).

Depth counts the slashes of the directory: ``/*`` is depth 0, ``/img/*`` depth 1,
``/img/2026/*`` depth 2.

One piece, though over 400 lines: the pricing types and the two passes all work on one tree
(``_Tree``) whose counts each pass updates for the next; split, they would share its internals.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum

from cfinvalidator.paths import WILDCARD, is_wildcard
from cfinvalidator.quotas import (
    MAX_IN_PROGRESS_FILES,
    MAX_IN_PROGRESS_WILDCARDS,
    MAX_PATHS_PER_REQUEST,
)


@dataclass(frozen=True, slots=True)
class CollapsePolicy:
    """The knobs. ``threshold`` 0 never collapses for cost where the bucket is not known
    (quota pressure still may); ``unchanged_per_path`` is the allowance where it is."""

    threshold: int = 10
    broadest_depth: int = 0
    scope: str = "/"  # every path the stack serves starts with it; no wildcard above it
    unchanged_per_path: int = 100

    def allows(self, directory: str) -> bool:
        return directory.startswith(self.scope) and depth(directory) >= self.broadest_depth


@dataclass(frozen=True, slots=True)
class Budget:
    """Paths that may still be put in progress on a distribution."""

    files: int = MAX_IN_PROGRESS_FILES
    wildcards: int = MAX_IN_PROGRESS_WILDCARDS

    def admits(self, files: int, wildcards: int) -> bool:
        return (
            files <= self.files
            and wildcards <= self.wildcards
            and files + wildcards <= MAX_PATHS_PER_REQUEST
        )


ObjectsUnder = Callable[[str], int | None]
"""How many unchanged objects (objects of the bucket, less the batch's changed ones) a wildcard
on a directory (``/a/b/``, as encoded in paths) would invalidate; None when that is not known.
:data:`MANY` stands for more than could be counted."""

MANY = 10**12
"""An object count beyond any allowance: a directory holding more objects than were counted."""


@dataclass(frozen=True, slots=True)
class Knowledge:
    """What the planner may know beyond the batch; without it, the threshold rule alone.

    ``objects_under``: the bucket's objects under a directory (cached counts, bounded);
    ``paths_left``: billed paths left in this month's budget (None: no budget known);
    ``flushed``: prefixes of wildcards still in progress (``/a/``
    for ``/a/*``): a wildcard inside one invalidates nothing the cache has not just lost.
    """

    objects_under: ObjectsUnder | None = None
    paths_left: int | None = None
    flushed: Collection[str] = ()
    # Paths someone asked for on demand: requested as written, never merged for cost.
    requested: Collection[str] = ()
    # Viewer prefixes another origin of the distribution answers (``KeyMapping``): a wildcard
    # reaching into one is priced as too many objects to count.
    foreign: Collection[str] = ()


NO_KNOWLEDGE = Knowledge()


class Pricing(Enum):
    """How the cost pass prices a wildcard."""

    FREE = "inside the month's budget: only wildcards that invalidate nothing unchanged"
    PAID = "beyond the budget: wildcards within the unchanged-objects allowance"
    EXACT = "exact paths: no collapsing for cost"


@dataclass(frozen=True, slots=True)
class Weighed:
    """One directory the cost pass weighed as a wildcard, and what it decided."""

    directory: str
    paths: int  # paths it needed as planned before (its collapsed subdirectories count 1)
    unchanged: int | None  # objects it would needlessly invalidate beyond its subdirectories'
    chosen: bool


@dataclass(frozen=True, slots=True)
class Selection:
    """Where each needed path is covered, and whether the whole set fits the budget."""

    cover: Mapping[str, str]  # needed path -> request path covering it
    fits: bool
    pricing: Pricing = Pricing.PAID
    weighed: tuple[Weighed, ...] = ()  # filled only when asked for (``explain``)

    @property
    def paths(self) -> tuple[str, ...]:
        return tuple(sorted(set(self.cover.values())))


def depth(directory: str) -> int:
    """``/`` -> 0, ``/a/`` -> 1, ``/a/b/`` -> 2; a partial name counts as its directory."""
    return directory.count("/") - 1


def count(paths: Iterable[str]) -> tuple[int, int]:
    """(file paths, wildcard paths)."""
    files = wildcards = 0
    for path in paths:
        if is_wildcard(path):
            wildcards += 1
        else:
            files += 1
    return files, wildcards


@dataclass(slots=True)
class _Node:
    prefix: str
    own: list[str] = field(default_factory=list)
    children: list[_Node] = field(default_factory=list)
    collapsed: bool = False
    files: int = 0  # paths the subtree needs as planned so far
    wildcards: int = 0
    own_files: int = -1  # counted once (-1: not yet)
    own_wildcards: int = 0
    pinned: bool = False  # holds a path requested on demand: never collapsed for cost
    unchanged: int = 0  # unchanged objects invalidated by wildcards inside it, as planned

    @property
    def size(self) -> int:
        return 1 if self.collapsed else self.files + self.wildcards


class _Tree:
    def __init__(self, paths: Iterable[str], policy: CollapsePolicy) -> None:
        self.policy = policy
        self.outside: list[str] = []  # not under the scope: never collapsed
        self.root = _Node(policy.scope)
        self.nodes: dict[str, _Node] = {policy.scope: self.root}
        scope, nodes = policy.scope, self.nodes
        for path in paths:
            if not path.startswith(scope):
                self.outside.append(path)
                continue
            directory = _directory(path, scope)
            node = nodes.get(directory)  # most paths share a directory with an earlier one
            if node is None:
                node = self._node(directory)
            node.own.append(path)
        # Deepest first: a child's prefix is always longer than its parent's.
        self.bottom_up = sorted(self.nodes.values(), key=lambda n: len(n.prefix), reverse=True)

    def _node(self, prefix: str) -> _Node:
        """The node for ``prefix``, created with its missing ancestors (iteratively: keys may
        hold hundreds of slashes)."""
        missing: list[str] = []
        while prefix not in self.nodes:
            missing.append(prefix)
            prefix = _parent(prefix, self.policy.scope)
        node = self.nodes[prefix]
        for name in reversed(missing):
            child = _Node(name)
            self.nodes[name] = child
            node.children.append(child)
            node = child
        return node

    @staticmethod
    def _sum(node: _Node) -> None:
        if node.own_files < 0:
            node.own_files, node.own_wildcards = count(node.own)
        files, wildcards = node.own_files, node.own_wildcards
        unchanged = 0
        for child in node.children:
            unchanged += child.unchanged
            if child.collapsed:
                wildcards += 1
            else:
                files += child.files
                wildcards += child.wildcards
        node.files, node.wildcards = files, wildcards
        node.unchanged = unchanged

    def pin(self, paths: Iterable[str]) -> None:
        """Directories holding these paths, and their ancestors, are not collapsed for cost."""
        scope, nodes = self.policy.scope, self.nodes
        for path in paths:
            node = nodes.get(_directory(path, scope)) if path.startswith(scope) else None
            if node is None or node.pinned:
                continue
            prefix = node.prefix
            while True:
                nodes[prefix].pinned = True
                if prefix == scope:
                    break
                prefix = _parent(prefix, scope)

    def totals(self) -> tuple[int, int]:
        files, wildcards = count(self.outside)
        if self.root.collapsed:
            return files, wildcards + 1
        return files + self.root.files, wildcards + self.root.wildcards

    def collapse_for_cost(
        self, pricing: Pricing, knowledge: Knowledge, weighed: list[Weighed] | None
    ) -> None:
        """Deepest first, each directory becomes a wildcard when ``pricing`` says it pays
        (module docstring); ``weighed`` collects the decisions when it is a list."""
        policy = self.policy
        objects_under, flushed = knowledge.objects_under, tuple(knowledge.flushed)
        foreign = tuple(knowledge.foreign)
        for node in self.bottom_up:
            self._sum(node)
            node.collapsed = False
            paths = node.files + node.wildcards
            if (
                pricing is Pricing.EXACT
                or paths < 2
                or node.pinned
                or not policy.allows(node.prefix)
            ):
                continue
            if foreign and any(
                node.prefix.startswith(f) or f.startswith(node.prefix) for f in foreign
            ):
                objects: int | None = MANY  # another origin's objects: not the bucket's to count
            elif flushed and node.prefix.startswith(flushed):
                objects = 0  # a wildcard in progress covers it: nothing left to lose
            else:
                objects = objects_under(node.prefix) if objects_under is not None else None
            extra: int | None = None
            if objects is None:
                node.collapsed = pricing is Pricing.PAID and 2 <= policy.threshold <= paths
            else:
                total = min(objects, MANY)
                extra = total if total >= MANY else max(0, total - node.unchanged)
                allowance = 0 if pricing is Pricing.FREE else policy.unchanged_per_path
                node.collapsed = total < MANY and extra <= allowance * (paths - 1)
                if node.collapsed:
                    node.unchanged = total
            if weighed is not None:
                weighed.append(Weighed(node.prefix, paths, extra, node.collapsed))

    def collapse_for_quota(self, budget: Budget) -> bool:
        """Collapse level by level, deepest first, until the totals fit; True if they do.

        Within a level, larger directories go first. Once a level has had to be touched, its
        other directories holding two or more wildcards are merged too: that saves paths and
        leaves wildcard quota for the next batches.
        """
        levels: dict[int, list[_Node]] = {}
        for node in self._visible():
            if not node.collapsed and self.policy.allows(node.prefix):
                levels.setdefault(depth(node.prefix), []).append(node)
        for level in sorted(levels, reverse=True):
            if budget.admits(*self.totals()):
                return True
            for node in sorted(levels[level], key=lambda n: (-n.size, n.prefix)):
                if self._helps(node, budget):
                    node.collapsed = True
                    self._resum_ancestors(node)
        return budget.admits(*self.totals())

    def _helps(self, node: _Node, budget: Budget) -> bool:
        files, wildcards = self.totals()
        gained_wildcards = 1 - node.wildcards
        if gained_wildcards < 0:
            return True  # merging wildcards always saves paths and quota
        over_files = files > budget.files and node.files > 0
        return over_files and wildcards + gained_wildcards <= budget.wildcards

    def _resum_ancestors(self, node: _Node) -> None:
        prefix = node.prefix
        while prefix != self.policy.scope:
            prefix = _parent(prefix, self.policy.scope)
            self._sum(self.nodes[prefix])

    def _visible(self) -> Iterable[_Node]:
        """Nodes not inside a collapsed directory."""
        stack = [self.root]
        while stack:
            node = stack.pop()
            yield node
            if not node.collapsed:
                stack.extend(node.children)

    def cover(self) -> dict[str, str]:
        cover = {path: path for path in self.outside}
        stack: list[tuple[_Node, str | None]] = [(self.root, None)]
        while stack:
            node, wildcard = stack.pop()
            if wildcard is None and node.collapsed:
                wildcard = node.prefix + WILDCARD
            for path in node.own:
                cover[path] = wildcard or path
            stack.extend((child, wildcard) for child in node.children)
        return cover


def _directory(path: str, scope: str) -> str:
    """The deepest directory node of ``path`` (the scope itself if none is below it)."""
    cut = len(path) if path.endswith("/") else path.rfind("/") + 1
    return path[:cut] if cut > len(scope) else scope


def _parent(prefix: str, scope: str) -> str:
    cut = prefix.rfind("/", 0, len(prefix) - 1) + 1
    return prefix[:cut] if cut > len(scope) else scope


def _drop_redundant(cover: dict[str, str]) -> dict[str, str]:
    """Remap paths covered by a (different) wildcard of the request onto that wildcard."""
    prefixes: list[str] = []
    for path in sorted({p[:-1] for p in cover.values() if is_wildcard(p)}):
        if not prefixes or not path.startswith(prefixes[-1]):
            prefixes.append(path)  # sorted order: a kept prefix precedes its extensions
    if not prefixes:
        return cover
    # Many needed paths share a chosen path (a wildcard): look each chosen path up once.
    remap = {chosen: _broadest(prefixes, chosen) for chosen in set(cover.values())}
    return {needed: remap[chosen] for needed, chosen in cover.items()}


def _broadest(prefixes: list[str], chosen: str) -> str:
    """The wildcard of ``prefixes`` (sorted, none extending another) covering ``chosen``, or
    ``chosen`` itself if none does."""
    probe = chosen[:-1] if is_wildcard(chosen) else chosen
    index = bisect.bisect_right(prefixes, probe) - 1
    if index >= 0 and probe.startswith(prefixes[index]):
        return prefixes[index] + WILDCARD
    return chosen


def _select(
    needed: Collection[str],
    policy: CollapsePolicy,
    budget: Budget,
    knowledge: Knowledge,
    *,
    exact: bool = False,
    explain: bool = False,
) -> Selection:
    tree = _Tree(needed, policy)
    if not exact:
        tree.pin(knowledge.requested)
    weighed: list[Weighed] | None = [] if explain else None
    pricing = Pricing.EXACT if exact else Pricing.PAID
    if not exact and knowledge.paths_left is not None and knowledge.paths_left > 0:
        # Inside the budget, paths are free: wildcards only where the cache loses nothing.
        tree.collapse_for_cost(Pricing.FREE, knowledge, weighed)
        pricing = Pricing.FREE
        if sum(tree.totals()) > knowledge.paths_left:
            pricing = Pricing.PAID
            if weighed is not None:
                weighed.clear()
    if pricing is not Pricing.FREE:
        tree.collapse_for_cost(pricing, knowledge, weighed)
    fits = budget.admits(*tree.totals()) or tree.collapse_for_quota(budget)
    cover = _drop_redundant(tree.cover())
    if not fits:
        fits = budget.admits(*count(set(cover.values())))
    return Selection(cover, fits, pricing, tuple(weighed or ()))


def candidates(
    needed: Collection[str],
    policy: CollapsePolicy,
    budget: Budget,
    knowledge: Knowledge = NO_KNOWLEDGE,
    *,
    explain: bool = False,
) -> list[Selection]:
    """Selections in order of preference: collapsed for cost (then quota), and, when that does
    not fit, one that starts from exact paths, which wins when the wildcard quota is the one
    that is full but file paths are free."""
    if not needed:
        return [Selection(cover={}, fits=True)]
    first = _select(needed, policy, budget, knowledge, explain=explain)
    if first.fits or (knowledge.objects_under is None and policy.threshold < 2):
        return [first]  # the fallback would be the same selection
    return [first, _select(needed, policy, budget, knowledge, exact=True)]


def select_paths(
    needed: Collection[str],
    policy: CollapsePolicy,
    budget: Budget,
    knowledge: Knowledge = NO_KNOWLEDGE,
) -> Selection:
    """Cover ``needed`` with as few paths as the policy allows, within ``budget`` if possible."""
    options = candidates(needed, policy, budget, knowledge)
    return next((option for option in options if option.fits), options[0])
