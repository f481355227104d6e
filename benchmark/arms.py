"""The arms of the experiment: which intermediate task (if any) an encoder went through.

Intermediate-task arms join this registry with their task specs; ``baseline`` is the pretrained
encoder itself, evaluated with no intermediate training.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class ArmSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    kind: str  # "none" | "multimodal" | "text"
    description: str


ARMS: dict[str, ArmSpec] = {
    spec.name: spec
    for spec in [
        ArmSpec(name="baseline", kind="none", description="pretrained encoder, no intermediate training"),
    ]
}
