"""Every upstream a configuration reads, from the registries: what ``benchmark lock`` resolves, what
``benchmark lock --check`` lists, what ``benchmark fetch`` downloads, and what ``validate`` refuses to
start without.

A bundle-only profile reads nothing upstream (its list is empty). ``full`` reads: the textual tasks
of its run list (their Hub repositories), COCO and VQAv2's archives where it trains a multimodal arm,
each target's dataset (a target module may add its own with ``pins(cfg)``: XTREME's test files and
English training data), and the GitHub commits its pinned files come from.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from benchmark.arms import parse_run
from benchmark.config import Params
from benchmark.data import coco, vqa
from benchmark.data.lock import key_of, locked
from benchmark.data.resolve import Need
from benchmark.data.spec import DatasetSpec, UnresolvedPin
from benchmark.data.tasks import TASKS, HubPin
from benchmark.data.xtreme import Pin
from benchmark.io import BenchmarkError
from benchmark.targets import registry

AnyPin = HubPin | Pin | coco.UrlPin | coco.UnresolvedUrlPin | UnresolvedPin


def needs_of(pin: AnyPin, user: str) -> list[Need]:
    """The upstreams behind ``pin``: one per file of a URL template (XQuAD's ``.../{file}``, each file
    pinned by its own sha256), else the one :func:`need_of` names."""
    if isinstance(pin, Pin) and pin.url is not None and "{file}" in pin.url:
        return [Need(key_of("url", url), "url", url, (user,), pinned=sha) for url, sha in pin.urls.items()]
    need = need_of(pin, user)
    return [] if need is None else [need]


def need_of(pin: AnyPin, user: str) -> Need | None:
    """The upstream behind ``pin`` (None where the spec pins every byte already and nothing is fetched
    from it here: a GitHub file set with a full commit)."""
    if isinstance(pin, HubPin):
        return Need(pin.lock_key, "hf-dataset", pin.repo or "", (user,), pinned=pin.revision,
                    why=pin.revision_unresolved or "", ref=pin.ref)
    if isinstance(pin, Pin):
        kind = "hf-dataset" if pin.hub_repo else "url"
        pinned = pin.revision if pin.hub_repo else pin.urls[str(pin.url)]
        return Need(pin.lock_key, kind, pin.hub_repo or str(pin.url), (user,), pinned=pinned, why=pin.unresolved or "")
    if isinstance(pin, coco.UrlPin):
        return Need(key_of("url", pin.url), "url", pin.url, (user,), pinned=pin.sha256, read_by_stage=False)
    if isinstance(pin, coco.UnresolvedUrlPin):
        return Need(pin.lock_key, "url", pin.url, (user,), why=pin.sha256_unresolved, read_by_stage=False)
    if isinstance(pin, UnresolvedPin):
        where = f"{pin.repo}@{pin.revision_short_unresolved}"
        return Need(key_of("github", where), "github", where, (user,), why="only a short commit SHA is known",
                    read_by_stage=False)
    return None


def _pins(params: Params) -> Iterable[tuple[str, AnyPin]]:
    if params.data.source != "upstream":
        return
    specs = [parse_run(run)[0] for run in params.arms]
    for task in dict.fromkeys(t for spec in specs for t in spec.tasks):
        yield from ((f"task {task}", pin) for pin in TASKS[task].upstream)
    if any(spec.kind in ("multimodal", "control") for spec in specs):
        for dataset in (coco.COCO, vqa.VQAV2):
            yield from ((f"{dataset.name} {name}", pin) for name, pin in dataset.upstream.items())
    for target in registry.active(params.profile):
        if isinstance(target.dataset, DatasetSpec):
            for pin in (target.dataset.upstream, *target.dataset.extra_upstream.values()):
                yield f"target {target.name}", pin
        own = getattr(target.runner(), "pins", None)
        if own is not None:
            yield from own(params.block(target.name))


def needs(params: Params) -> list[Need]:
    """The upstreams ``params`` reads, one per lock key (their users merged), in first-use order."""
    found: dict[str, Need] = {}
    for user, pin in _pins(params):
        for need in needs_of(pin, user):
            have = found.get(need.key)
            found[need.key] = need if have is None else replace(have, users=tuple(dict.fromkeys((*have.users, user))))
    return list(found.values())


def unresolved(params: Params) -> list[Need]:
    """What ``params`` reads that neither its spec nor the lock gives an immutable identity."""
    return [n for n in needs(params) if n.pinned is None and locked(n.key) is None]


def check(params: Params) -> None:
    """One line naming the first unresolved upstream a stage reads, and the command that resolves it
    (``validate`` runs it, so the refusal comes before any stage has deleted an output)."""
    missing = [n for n in unresolved(params) if n.read_by_stage]
    if missing:
        first = missing[0]
        more = f" (+{len(missing) - 1} more: `benchmark lock --check --profile {params.profile}` lists them)"
        raise BenchmarkError(f"{first.key}: read by {', '.join(first.users)}, has no immutable identity "
                             f"({first.why or 'unresolved'}); resolve it online once with `benchmark lock "
                             f"--profile {params.profile}`{more if len(missing) > 1 else ''}")
