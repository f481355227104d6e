"""Arm specs and run names: the registry validates itself, and bad names fail with one clear line."""

from __future__ import annotations

import pytest

from benchmark.arms import ARMS, ArmSpec, parse_run
from benchmark.config import resolve
from benchmark.data.tasks import TASKS
from benchmark.io import BenchmarkError


def test_registry_holds_every_arm_of_the_design() -> None:
    multimodal_side = {"baseline", "coco-contrastive", "coco-caption-mlm", "vqa", "caption-contrastive",
                       "caption-mlm", "coco-contrastive-shuffled", "vqa-question-only", "vqa-shuffled"}
    textual = {name for name, spec in ARMS.items() if spec.kind == "textual"}
    assert set(ARMS) == multimodal_side | textual | {"parallel-contrastive"}
    # The positive control: the caption-caption objective's text-text form, on translations.
    assert (ARMS["parallel-contrastive"].kind, ARMS["parallel-contrastive"].objective) == ("positive", "contrastive")
    # One arm per X-STILTs task, generated from the task registry, plus the multi-task mixtures.
    assert textual == {t.replace("_", "-") for t in TASKS} | {"multitask", "multitask-bundled"}
    assert ARMS["multitask"].tasks == tuple(TASKS)
    assert set(ARMS["multitask-bundled"].tasks) == {"cosmosqa", "hellaswag"}  # what mini can train offline
    assert all(ARMS[a].mixing_cap for a in ("multitask", "multitask-bundled"))
    controls = {name: spec.control_of for name, spec in ARMS.items() if spec.kind == "control"}
    assert controls == {"caption-contrastive": "coco-contrastive", "coco-contrastive-shuffled": "coco-contrastive",
                        "caption-mlm": "coco-caption-mlm", "vqa-question-only": "vqa", "vqa-shuffled": "vqa"}
    # A control differs from its arm in the image only: same objective, same text.
    for name, arm in controls.items():
        assert ARMS[name].objective == ARMS[arm].objective
        assert ARMS[name].image != ARMS[arm].image


@pytest.mark.parametrize("run,arm,k", [("baseline", "baseline", 0), ("vqa", "vqa", 0),
                                       ("coco-contrastive.s2", "coco-contrastive", 2)])
def test_parse_run(run: str, arm: str, k: int) -> None:
    spec, offset = parse_run(run)
    assert (spec.name, offset) == (arm, k)


@pytest.mark.parametrize("run,message", [("coco", "unknown arm 'coco'"), ("vqa.s0", "unknown arm"),
                                         ("baseline.s1", "baseline is not trained")])
def test_bad_runs_fail_clearly(run: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_run(run)
    with pytest.raises(BenchmarkError, match="arms"):
        resolve({"profile": "tiny", "arms": [run]})


def test_inconsistent_specs_are_rejected() -> None:
    with pytest.raises(ValueError, match="multimodal"):
        ArmSpec(name="x", kind="multimodal", description="", objective="mlm", data="captions", image="none")
    with pytest.raises(ValueError, match="control"):
        ArmSpec(name="x", kind="control", description="", objective="mlm", data="captions")
    with pytest.raises(ValueError, match="baseline"):
        ArmSpec(name="x", kind="baseline", description="", objective="mlm", data="captions")
    with pytest.raises(ValueError, match="textual arms"):
        ArmSpec(name="x", kind="textual", description="", objective="mlm", data="hellaswag")
    with pytest.raises(ValueError, match="English task"):
        ArmSpec(name="x", kind="textual", description="", objective="task", data="captions")
    with pytest.raises(ValueError, match="mixing_cap"):
        ArmSpec(name="x", kind="textual", description="", objective="task", data="hellaswag+cosmosqa")
    with pytest.raises(ValueError, match="positive control"):
        ArmSpec(name="x", kind="positive", description="", objective="contrastive", data="captions")
    with pytest.raises(ValueError, match="positive control"):
        ArmSpec(name="x", kind="control", description="", objective="contrastive", data="parallel",
                control_of="coco-contrastive")


def test_textual_arms_outside_the_bundle_need_upstream_data() -> None:
    with pytest.raises(BenchmarkError, match="arms: mnli trains on mnli, which the offline bundle does not hold"):
        resolve({"profile": "tiny", "arms": ["baseline", "mnli"]})
    assert resolve({"profile": "tiny", "arms": ["hellaswag", "multitask-bundled"]}).arms == ["hellaswag",
                                                                                         "multitask-bundled"]


@pytest.mark.parametrize("override,message", [
    ({"training": {"steps": 5, "warmup_steps": 5}}, "training: training.warmup_steps must be smaller"),
    ({"image": {"prefix_tokens": 8}}, "image.prefix_tokens: .*square"),
    ({"training": {"max_length": 12}, "image": {"prefix_tokens": 9}}, "fewer than 8 text tokens"),
    ({"training": {"stepz": 5}}, "training.stepz: unknown key"),
])
def test_bad_training_params_fail_clearly(override: dict, message: str) -> None:
    with pytest.raises(BenchmarkError, match=message):
        resolve({"profile": "tiny", **override})


def test_run_files_carry_spec_and_seed(tmp_path) -> None:
    import json

    from benchmark.armspec import load_run
    from benchmark.config import resolve
    from benchmark.io import BenchmarkError
    from benchmark.pipeline import runs

    params = resolve({"profile": "tiny", "seed": 7, "arms": ["baseline", "vqa", "vqa.s2"]})
    info = runs.describe(params, "vqa.s2")
    assert info["seed"] == 9 and info["arm"]["name"] == "vqa" and info["arm"]["image"] == "true"
    (tmp_path / "vqa.s2.json").write_text(json.dumps(info))
    spec, seed = load_run(tmp_path / "vqa.s2.json")
    assert (spec.name, seed) == ("vqa", 9)
    with pytest.raises(BenchmarkError, match="runs stage"):
        load_run(tmp_path / "vqa.json")
