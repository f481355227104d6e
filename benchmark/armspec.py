"""The typed spec of an arm (what :mod:`benchmark.arms` registers): objective, data, image source.

``data`` names the arm's training data by spec: a COCO view (:data:`COCO_VIEWS`) for the multimodal
arms and their controls, :data:`PARALLEL` (FLORES-200 translations of lines no target scores) for the
positive control, or English intermediate tasks of :mod:`benchmark.data.tasks` for the textual arms
(several joined by ``+`` for a multi-task arm, with ``mixing_cap``). Whether a name
exists is checked by the registry (:mod:`benchmark.arms`), which knows the task registry; this
module stays free of it so that training can read a run's spec without importing every dataset.

Kept apart from the registry so that code which only *reads* a spec (training reads its run's spec
from ``artifacts/runs/<run>.json``) does not depend on every arm's definition: DVC then retrains only
the runs of an arm whose registry entry changed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, model_validator

from benchmark.io import BenchmarkError
from benchmark.schema import Frozen

Objective = Literal["contrastive", "mlm", "vqa", "task"]  # task: the text task's own head (its format)
COCO_VIEWS = ("captions", "caption_pairs", "qa")  # the multimodal arms' data: captions, two per image, questions
PARALLEL = "parallel"  # the positive control's data: (English, X) translations (benchmark.targets.corpus)
ImageSource = Literal["true", "none", "shuffled"]  # benchmark.training.objectives.ImageSource


class ArmSpec(Frozen):
    name: str
    # positive: a task known to move cross-lingual retrieval, the experiment's sensitivity check
    kind: Literal["baseline", "multimodal", "control", "textual", "positive"]
    description: str
    objective: Objective | None = None
    data: str | None = None  # a COCO view, or text task name(s) joined by "+"
    image: ImageSource = "none"
    control_of: str | None = None  # the multimodal arm whose image this control isolates
    # Multi-task arms: each step trains one task, drawn with probability proportional to
    # min(its training examples, mixing_cap) (jiant's examples-proportional mixing with a cap).
    mixing_cap: Annotated[int, Field(ge=1)] | None = None

    @model_validator(mode="after")
    def _consistent(self) -> ArmSpec:
        trained = self.objective is not None
        if (self.kind == "baseline") == trained or trained != (self.data is not None):
            raise ValueError(f"arm {self.name}: a baseline has no objective/data; a trained arm has both")
        if (self.kind == "multimodal") != (self.image == "true"):
            raise ValueError(f"arm {self.name}: multimodal arms (and only they) see their true image")
        if (self.kind == "control") != (self.control_of is not None):
            raise ValueError(f"arm {self.name}: a control names the arm it controls (and only a control)")
        if trained and (self.kind == "textual") != (self.objective == "task"):
            raise ValueError(f"arm {self.name}: textual arms (and only they) train their task's own head")
        if trained and (self.kind == "positive") != (self.data == PARALLEL):
            raise ValueError(f"arm {self.name}: the positive control (and only it) trains on {PARALLEL!r}")
        if trained and self.kind in ("multimodal", "control", "textual") and (self.kind == "textual") == (self.data in COCO_VIEWS):
            raise ValueError(f"arm {self.name}: data {self.data!r} must be "
                             + ("English task(s)" if self.kind == "textual" else f"one of {', '.join(COCO_VIEWS)}"))
        if (self.mixing_cap is not None) != (len(self.tasks) > 1):
            raise ValueError(f"arm {self.name}: a multi-task arm (and only one) sets mixing_cap")
        return self

    @property
    def tasks(self) -> tuple[str, ...]:
        """The English intermediate tasks of a textual arm (one, or several for multi-task)."""
        return tuple(self.data.split("+")) if self.kind == "textual" and self.data else ()

    @property
    def trained(self) -> bool:
        return self.objective is not None

    @property
    def uses_images(self) -> bool:
        return self.image != "none"


def load_run(path: Path) -> tuple[ArmSpec, int]:
    """(spec, training seed) of a run as stage ``runs`` wrote them to ``path``."""

    if not path.exists():
        raise BenchmarkError(f"{path}: missing; run the runs stage first")
    data = json.loads(path.read_text(encoding="utf-8"))
    return ArmSpec.model_validate(data["arm"]), int(data["seed"])
