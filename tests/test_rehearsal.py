"""The `full` profile rehearsed on CPU: its code paths through real `dvc repro`, with tiny models.

`full` runs on GPUs with XLM-R large and a CLIP tower from the Hub; its first run should not be its
first contact with its own code. Here the same profile runs end to end with an XLM-R-class encoder
and a CLIP-class vision tower of tiny random configs, written by ``save_pretrained`` and loaded by
the same ``from_pretrained`` code (a local directory pinned by the hash of its files), on the
upstream-layout data `benchmark fetch --mirror` verifies: every layer trainable, bf16 autocast,
checkpoint selection by English dev, SIB-200 fine-tuning, every target with data here. One run of
every arm in `full`'s list (its seeds differ only in the seed): the multimodal arms and their controls,
the positive control, and every textual arm, multi-task included. Their upstreams go the way a lab's
would: a loopback Hub (tests/hub_server.py) serves every Hub repository the textual tasks read
(tests/upstreams.py: each repository's layout, real sentences), `benchmark lock` resolves the unpinned
ones through the real Hub client (CCGbank from the lab's own licensed copy, `--source`), `benchmark
fetch --profile full` downloads every one as locked, and `dvc repro` then runs with
``HF_HUB_OFFLINE=1``. XTREME's third phase runs for every run: its official archives served at their
URLs through the URL mirror (tests/upstreams.py: the layouts of tests/fixtures/xtreme for every
language, XQuAD's real files), locked, fetched, extracted, each task fine-tuned on its English training
data (MNLI, PAWS, UD, PAN-X, SQuAD once for XQuAD and MLQA, TyDiQA) and scored zero-shot. Belebele,
whose English training set no reader here assembles, is refused by `validate` in one line.
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
from hub_server import GITHUB, Hub
from rehearsal_models import save_tiny_clip, save_tiny_xlmr
from upstreams import CCG_REPO, HUB_REPOS, XTREME_REPOS, XTREME_URLS

from benchmark.models.pretrained import dir_pin

pytestmark = pytest.mark.slow  # real `dvc repro` of the full profile's stages, minutes

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
SHARED = REPO.parent / "shared" / "data"
FULL = yaml.safe_load((REPO / "benchmark" / "conf" / "profile" / "full.yaml").read_text())["arms"]
RUNS = tuple(run for run in FULL if ".s" not in run)  # one seed of each arm: the others differ only in it
XTREME = ("xnli", "pawsx", "udpos", "panx", "xquad", "mlqa", "tydiqa")  # full's, Belebele aside (see above)
TEXTUAL = ("anli-plus", "mnli", "qqp", "sst2", "ccg", "commonsenseqa", "cosmosqa", "hellaswag", "squad", "multitask")
OVERRIDES = [  # sizes only: the code paths stay `full`'s
    f"arms=[{','.join(RUNS)}]", "runtime.device=cpu", "encoder.batch_size=16",
    "data.languages=[eng_Latn,fra_Latn,deu_Latn,zho_Hans,arb_Arab]", "data.max_sentences=24",
    "training.steps=4", "training.warmup_steps=1", "training.batch_size=8", "training.checkpoint_every=2",
    "training.log_every=2", "targets.sib.finetune_steps=4", "targets.sib.finetune_batch_size=8",
    "targets.tatoeba.languages=[fra,deu,cmn,ara]", "targets.tatoeba.max_pairs=16",
    f"targets.xtreme.tasks=[{','.join(XTREME)}]", "targets.xtreme.recipe=fixed", "targets.xtreme.steps=2",
    "targets.xtreme.batch_size=4", "targets.xtreme.max_length=64", "targets.xtreme.max_train=8",
    "targets.xtreme.max_test=4",
]


def _run(cmd: list[str], cwd: Path, env: dict[str, str], check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=3600)
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
        for repo, (commit, files) in {**HUB_REPOS, **XTREME_REPOS}.items():
            hub.push(repo, files, sha=commit)
        for url, data in XTREME_URLS.items():
            hub.serve(url, data)
        hub.github |= GITHUB
        online = hub.env(env)
        # The arms whose upstreams the loopback Hub serves: COCO's and VQAv2's archives would need their
        # own mirror (gigabytes; no stage reads them: the image features come from the bundle's COCO subset).
        served = [f"arms=[{','.join(r for r in RUNS if r in ('baseline', *TEXTUAL))}]", *OVERRIDES[1:]]
        _run([benchmark, "lock", "--profile", "full", *served, "--source", f"hf-dataset:none/ccgbank={CCG_REPO}"],
             root, online)
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
    # Every textual arm trained on what was fetched as locked, offline, with held-out evidence per task.
    lock = json.loads((root / "benchmark" / "data" / "lock.json").read_text())
    assert {k for k in lock if k.startswith("hf-dataset:")} == {
        "hf-dataset:tau/commonsense_qa", "hf-dataset:allenai/cosmos_qa", "hf-dataset:none/ccgbank",
        "hf-dataset:nyu-mll/glue", "hf-dataset:facebook/anli", "hf-dataset:stanfordnlp/snli",
        "hf-dataset:Rowan/hellaswag", "hf-dataset:rajpurkar/squad",
        "hf-dataset:google-research-datasets/paws"}  # PAWS-X's English training data
    assert lock["hf-dataset:none/ccgbank"]["source"] == f"{CCG_REPO}@main"
    for arm in TEXTUAL:
        evidence = json.loads((root / "metrics" / "train" / f"{arm}.json").read_text())["evidence"]
        tasks = {k.split(".")[1] for k in evidence if k.startswith("heldout.") and k.endswith(".examples")}
        assert tasks and all(evidence[f"heldout.{t}.examples"] > 0 for t in tasks), (arm, evidence)
    multitask = json.loads((root / "metrics" / "train" / "multitask.json").read_text())["evidence"]
    assert {k.split(".")[1] for k in multitask if k.endswith(".examples")} >= {
        "anli_plus", "mnli", "qqp", "sst2", "ccg", "commonsenseqa", "cosmosqa", "hellaswag", "squad"}
    for arm in RUNS[1:]:
        train = json.loads((root / "metrics" / "train" / f"{arm}.json").read_text())
        assert train["selection"]["protocol"] == "english_dev"
        assert [c["step"] for c in train["selection"]["candidates"]] == [2, 4]
        model = json.loads((root / "artifacts" / "models" / arm / "model.json").read_text())
        assert model["train_top_layers"] is None and model["selected_step"] in (2, 4)  # every layer trained
    # XTREME's third phase: every task fine-tuned and scored for every run, in every language it lists.
    xtreme = json.loads((root / "results" / "targets" / "xtreme.json").read_text())
    assert sorted(xtreme) == sorted([*RUNS, "xlm-r-large", "xlm-r-large+x-stilts"])  # + the published rows' names
    for arm in RUNS:
        assert sorted(xtreme[arm]) == sorted(XTREME), (arm, xtreme[arm])
        assert all(0.0 <= v <= 100.0 for v in xtreme[arm].values()), (arm, xtreme[arm])
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


def test_belebele_without_an_english_training_reader_stops_validate(
        rehearsal: tuple[Path, dict[str, str], Path]) -> None:
    """`full` lists Belebele, whose English training set (assembled by a script from six sources) no
    reader here builds: `validate` says so in one line, naming the way out, before any stage runs."""
    root, env, _ = rehearsal
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["targets"]["xtreme"]["tasks"].append("belebele")
    (root / "params.belebele.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    proc = _run([str(BIN / "benchmark"), "--params", "params.belebele.yaml", "validate"], root, env, check=False)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
    assert proc.stderr.startswith("benchmark: error: Belebele: no reader for its English training data ")
    assert proc.stderr.rstrip().endswith("leave belebele out of targets.xtreme.tasks")
