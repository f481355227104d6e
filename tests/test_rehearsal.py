"""The `full` profile rehearsed on CPU: its code paths through real `dvc repro`, with tiny models.

`full` runs on GPUs with XLM-R large and a CLIP tower from the Hub; its first run should not be its
first contact with its own code. Here the same profile runs end to end with an XLM-R-class encoder
and a CLIP-class vision tower of tiny random configs, written by ``save_pretrained`` and loaded by
the same ``from_pretrained`` code (a local directory pinned by the hash of its files), on the
upstream-layout data `benchmark fetch --mirror` verifies: every layer trainable, bf16 autocast,
checkpoint selection by English dev, SIB-200 fine-tuning, every target with data here. A textual arm
(Cosmos QA, whose Hub repository has no pinned commit) goes the way a lab's would: `benchmark lock`
resolves it through the real Hub client against a loopback Hub (tests/hub_server.py, real rows),
`benchmark fetch --profile full` downloads it as locked, and `dvc repro` then runs with
``HF_HUB_OFFLINE=1``. XTREME's third phase is off (``targets.xtreme.tasks: []``).
Only sizes are overridden (steps, batch, languages, items); each override is listed in OVERRIDES.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from clones import tracked_copy
from hub_server import GITHUB, REPO_ID, Hub, cosmos
from rehearsal_models import save_tiny_clip, save_tiny_xlmr

from benchmark.models.pretrained import dir_pin

pytestmark = pytest.mark.slow  # real `dvc repro` of the full profile's stages, minutes

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
SHARED = REPO.parent / "shared" / "data"
RUNS = ("baseline", "coco-contrastive", "vqa", "cosmosqa")  # cosmosqa: from the (loopback) Hub, locked and fetched
OVERRIDES = [  # sizes only: the code paths stay `full`'s
    f"arms=[{','.join(RUNS)}]", "runtime.device=cpu", "encoder.batch_size=16",
    "data.languages=[eng_Latn,fra_Latn,deu_Latn,zho_Hans,arb_Arab]", "data.max_sentences=24",
    "training.steps=4", "training.warmup_steps=1", "training.batch_size=8", "training.checkpoint_every=2",
    "training.log_every=2", "targets.sib.finetune_steps=4", "targets.sib.finetune_batch_size=8",
    "targets.tatoeba.languages=[fra,deu,cmn,ara]", "targets.tatoeba.max_pairs=16", "targets.xtreme.tasks=[]",
]


def _run(cmd: list[str], cwd: Path, env: dict[str, str], check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=1800)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc


@pytest.fixture(scope="module")
def rehearsal(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str], Path]:
    if not (SHARED / "flores200").is_dir():
        pytest.skip("../shared/data is absent (fresh clone): `benchmark fetch --mirror` has nothing to copy")
    base = tmp_path_factory.mktemp("rehearsal")
    root, models = base / "repo", base / "models"
    xlmr, clip = save_tiny_xlmr(models / "xlmr"), save_tiny_clip(models / "clip")
    tracked_copy(root)
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "PYTHONPATH": str(root),
           "BENCHMARK_CACHE_DIR": str(base / "cache"), "HF_HUB_OFFLINE": "1", "MLFLOW_DISABLE_TELEMETRY": "true",
           "HF_HOME": str(base / "hf")}
    env.pop("MLFLOW_TRACKING_URI", None)
    benchmark = str(BIN / "benchmark")
    with Hub() as hub:  # online, once: lock and fetch what the profile reads upstream
        hub.push(REPO_ID, cosmos(0, 100))
        hub.github |= GITHUB
        online = hub.env(env)
        # The arms whose upstream the loopback Hub serves (VQAv2's archives would need their own mirror;
        # no stage reads them: the image features come from the bundle's COCO subset).
        served = ["arms=[baseline,cosmosqa]", *OVERRIDES[1:]]
        _run([benchmark, "lock", "--profile", "full", *served], root, online)
        _run([benchmark, "fetch", "--profile", "full", *served, "--mirror", str(SHARED), "--dest", "data/full"],
             root, online)
    pins = [f"encoder.name={xlmr}", f"encoder.revision={dir_pin(xlmr)}",
            f"image.name={clip}", f"image.revision={dir_pin(clip)}"]
    _run([benchmark, "params", "--write", "profile=full", *pins, *OVERRIDES], root, env)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t"]
    _run(["git", "init", "-q"], root, env)
    _run([*git, "add", "-A"], root, env)
    _run([*git, "commit", "-qm", "rehearsal"], root, env)
    return root, env, xlmr


def test_full_profile_rehearsed_end_to_end(rehearsal: tuple[Path, dict[str, str], Path]) -> None:
    root, env, _ = rehearsal
    params = yaml.safe_load((root / "params.yaml").read_text())
    assert params["profile"] == "full" and params["runtime"]["precision"] == "bf16"
    assert params["training"]["train_top_layers"] is None and params["training"]["selection"] == "english_dev"
    assert params["targets"]["sib"]["finetune"] is True and params["data"]["source"] == "upstream"

    _run([str(BIN / "dvc"), "repro"], root, env)

    summary = json.loads((root / "results" / "summary.json").read_text())["arms"]
    assert sorted(summary) == sorted(RUNS)
    for arm in RUNS:
        vals = summary[arm]
        assert 0.0 <= vals["retrieval.mean_xsim_margin_x2eng"] <= 1.0
        assert 0.0 <= vals["tatoeba.mean_accuracy"] <= 1.0
        assert 0.0 <= vals["sib.mean_finetune_accuracy"] <= 1.0  # SIB-200 fine-tuning ran
    # The textual arm trained on what was fetched (60 training rows of the locked commit), offline.
    cosmos = json.loads((root / "metrics" / "train" / "cosmosqa.json").read_text())["evidence"]
    assert cosmos["heldout.cosmosqa.examples"] > 0 and "heldout.cosmosqa.accuracy.trained" in cosmos
    assert "hf-dataset:allenai/cosmos_qa" in json.loads((root / "benchmark" / "data" / "lock.json").read_text())
    for arm in RUNS[1:]:
        train = json.loads((root / "metrics" / "train" / f"{arm}.json").read_text())
        assert train["selection"]["protocol"] == "english_dev"
        assert [c["step"] for c in train["selection"]["candidates"]] == [2, 4]
        model = json.loads((root / "artifacts" / "models" / arm / "model.json").read_text())
        assert model["train_top_layers"] is None and model["selected_step"] in (2, 4)  # every layer trained
    # XTREME's third phase is off here: the target reports its languages and no scores.
    assert json.loads((root / "results" / "targets" / "xtreme.json").read_text())["baseline"] == {}
    assert (root / "results" / "REPORT.md").read_text().startswith("# REPORT")


def test_a_missing_local_checkpoint_stops_validate(rehearsal: tuple[Path, dict[str, str], Path]) -> None:
    """A model directory that is gone (or changed) is one line from `validate`, before any stage
    can delete an output; the gate's previous content stays."""
    root, env, xlmr = rehearsal
    gate = root / "artifacts" / "validate" / "checked"
    gate.parent.mkdir(parents=True, exist_ok=True)
    gate.write_text("previous\n")
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["encoder"]["name"] = str(xlmr.parent / "gone")
    (root / "params.missing.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    proc = _run([str(BIN / "benchmark"), "--params", "params.missing.yaml", "validate"], root, env, check=False)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "local model directory" in proc.stderr and "does not exist" in proc.stderr
    assert gate.read_text() == "previous\n"
