"""The arms of the experiment: which intermediate task (if any) an encoder went through.

Each arm is one declarative :class:`ArmSpec`: the objective it trains with
(:mod:`benchmark.training.objectives`), the data it reads, and which image each item sees. Controls
name the arm whose image they isolate, so the analysis knows the pairs without a second list.
The positive control (``parallel-contrastive``) is the experiment's sensitivity check: a task known to
move cross-lingual retrieval. Textual arms are the other side of the question: English intermediate tasks as in X-STILTs (Phang
et al. 2020), one arm per task of :data:`benchmark.data.tasks.TASKS` (generated from it, never
listed by hand) plus multi-task arms.
Budgets are not here: every trained arm gets the one ``training`` block of ``params.yaml``.

A *run* is an arm trained with one seed: ``coco-contrastive`` (seed ``params.seed``) or
``coco-contrastive.s2`` (seed ``params.seed + 2``); ``params.yaml: arms`` lists runs.
"""

from __future__ import annotations

import re

from benchmark.armspec import COCO_VIEWS, ArmSpec
from benchmark.data.tasks import TASKS, X_STILTS
from benchmark.schema import Registry, plugins

MIXING_CAP = 2**14  # multi-task: a task's sampling weight stops growing past this many examples

_SPECS = [
    ArmSpec(name="baseline", kind="baseline", description="pretrained encoder, no intermediate training"),
    # Multimodal: the text encoder trained with COCO images.
    ArmSpec(name="coco-contrastive", kind="multimodal", objective="contrastive", data="captions", image="true",
            description="image-caption InfoNCE both ways; image encoder frozen"),
    ArmSpec(name="coco-caption-mlm", kind="multimodal", objective="mlm", data="captions", image="true",
            description="masked caption tokens predicted with the image as a visual prefix"),
    ArmSpec(name="vqa", kind="multimodal", objective="vqa", data="qa", image="true",
            description="answer classification (VQA soft scores) from question + visual prefix"),
    # Controls on the same text: no pixels, or the wrong pixels.
    ArmSpec(name="caption-contrastive", kind="control", objective="contrastive", data="caption_pairs",
            control_of="coco-contrastive", description="caption-caption InfoNCE between two captions of one image"),
    ArmSpec(name="coco-contrastive-shuffled", kind="control", objective="contrastive", data="captions",
            image="shuffled", control_of="coco-contrastive",
            description="image-caption InfoNCE with images deranged across images"),
    ArmSpec(name="caption-mlm", kind="control", objective="mlm", data="captions", control_of="coco-caption-mlm",
            description="caption MLM without image"),
    ArmSpec(name="vqa-question-only", kind="control", objective="vqa", data="qa", control_of="vqa",
            description="the VQA arm without the image"),
    ArmSpec(name="vqa-shuffled", kind="control", objective="vqa", data="qa", image="shuffled", control_of="vqa",
            description="the VQA arm with images deranged across images"),
    # The positive control: a task known to improve cross-lingual retrieval (translation pairs), trained under
    # the same budget; its margin over the baseline is what the experiment could have seen.
    ArmSpec(name="parallel-contrastive", kind="positive", objective="contrastive", data="parallel",
            description="English-X InfoNCE both ways on FLORES-200 translations of lines no target scores"),
    # Textual: one English intermediate task each (X-STILTs), then the multi-task mixtures.
    *(ArmSpec(name=task.replace("_", "-"), kind="textual", objective="task", data=task,
              description=f"{spec.paper_name}: {spec.description}") for task, spec in TASKS.items()),
    ArmSpec(name="multitask", kind="textual", objective="task", data="+".join(X_STILTS), mixing_cap=MIXING_CAP,
            description="every X-STILTs task at once, one head each, examples-proportional mixing"),
    ArmSpec(name="multitask-bundled", kind="textual", objective="task", mixing_cap=MIXING_CAP,
            data="+".join(t for t in X_STILTS if TASKS[t].bundled),
            description="the tasks the offline bundle has, at once, one head each, examples-proportional mixing"),
]
# The package's arms, then any a plugin declares (a module named under the entry-point group
# ``benchmark.arms`` whose ``ARMS`` lists ArmSpecs over the objectives and views the package knows).
ARMS: Registry[ArmSpec] = Registry("arm", [*_SPECS, *plugins("benchmark.arms", "ARMS", ArmSpec)])
for _spec in ARMS.values():  # validated at import, like the specs themselves
    if _spec.control_of is not None and ARMS.get(_spec.control_of, _spec).kind != "multimodal":
        raise ValueError(f"arm {_spec.name}: control_of must name a multimodal arm")
    if _spec.kind == "textual" and not set(_spec.tasks) <= set(TASKS):
        raise ValueError(f"arm {_spec.name}: unknown task(s) {sorted(set(_spec.tasks) - set(TASKS))}")
    if _spec.kind in ("multimodal", "control") and _spec.data not in COCO_VIEWS:
        raise ValueError(f"arm {_spec.name}: unknown COCO view {_spec.data!r}")

_RUN = re.compile(r"^(?P<arm>[a-z0-9-]+?)(?:\.s(?P<k>[1-9][0-9]*))?$")


def parse_run(run: str) -> tuple[ArmSpec, int]:
    """``"<arm>"`` or ``"<arm>.s<k>"`` -> (its spec, seed offset k); ValueError naming what is wrong."""
    m = _RUN.match(run)
    spec = ARMS.get(m.group("arm")) if m else None
    if spec is None:
        raise ValueError(f"unknown arm {run!r}; known: {', '.join(ARMS)} (extra seeds: <arm>.s1, <arm>.s2, ...)")
    k = int(m.group("k") or 0)  # type: ignore[union-attr]
    if k and not spec.trained:
        raise ValueError(f"run {run!r}: {spec.name} is not trained, so it has no seeds")
    return spec, k
