"""The typed spec of an arm (what :mod:`benchmark.arms` registers): objective, data, image source.

Kept apart from the registry so that code which only *reads* a spec (training reads its run's spec
from ``artifacts/runs/<run>.json``) does not depend on every arm's definition: DVC then retrains only
the runs of an arm whose registry entry changed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, model_validator

Objective = Literal["contrastive", "mlm", "vqa"]
TrainData = Literal["captions", "caption_pairs", "qa"]
ImageSource = Literal["true", "none", "shuffled"]  # benchmark.training.objectives.ImageSource


class ArmSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    kind: Literal["baseline", "multimodal", "control"]
    description: str
    objective: Objective | None = None
    data: TrainData | None = None
    image: ImageSource = "none"
    control_of: str | None = None  # the multimodal arm whose image this control isolates

    @model_validator(mode="after")
    def _consistent(self) -> ArmSpec:
        trained = self.objective is not None
        if (self.kind == "baseline") == trained or trained != (self.data is not None):
            raise ValueError(f"arm {self.name}: a baseline has no objective/data; a trained arm has both")
        if (self.kind == "multimodal") != (self.image == "true"):
            raise ValueError(f"arm {self.name}: multimodal arms (and only they) see their true image")
        if (self.kind == "control") != (self.control_of is not None):
            raise ValueError(f"arm {self.name}: a control names the arm it controls (and only a control)")
        return self

    @property
    def trained(self) -> bool:
        return self.objective is not None

    @property
    def uses_images(self) -> bool:
        return self.image != "none"


def load_run(path: Path) -> tuple[ArmSpec, int]:
    """(spec, training seed) of a run as stage ``runs`` wrote them to ``path``."""
    from benchmark.io import BenchmarkError

    if not path.exists():
        raise BenchmarkError(f"{path}: missing; run the runs stage first")
    data = json.loads(path.read_text(encoding="utf-8"))
    return ArmSpec.model_validate(data["arm"]), int(data["seed"])
