"""The seed's third phase on `tiny`: fine-tune on English extractive QA, answer XQuAD in other
languages, score with SQuAD v1.1 F1/EM. The real XQuAD files (../shared/data/xquad) are read through
the pinned loader; the English training rows are XQuAD's English questions standing in for SQuAD v1.1
train (not obtainable offline), so this checks the plumbing and the metric, not a transfer result."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmark.config import resolve
from benchmark.data import xtreme, xtreme_files
from benchmark.io import BenchmarkError
from benchmark.models.encoder import load_encoder
from benchmark.targets import xtreme as third_inputs
from benchmark.targets import xtreme_metrics
from benchmark.targets import xtreme_score as third

XQUAD = Path(__file__).resolve().parents[2] / "shared" / "data" / "xquad"
needs_xquad = pytest.mark.skipif(not XQUAD.is_dir(), reason="../shared/data/xquad is absent (fresh clone)")


def _run(langs: tuple[str, ...]) -> tuple[dict[str, float], object]:
    params = resolve({"profile": "tiny"})
    cfg = third_inputs.Config(tasks=["xquad"], steps=4, batch_size=8, lr=1e-3, max_length=128, max_train=48, max_test=12,
                                recipe="fixed")
    spec = xtreme.TARGETS["xquad"]
    train = xtreme_files.read_squad(XQUAD / "xquad.en.json", "en", None)
    tests = {lang: xtreme_files.load_target("xquad", XQUAD, lang) for lang in langs}
    return third.run_task(cfg, params.context(Path("data")), lambda: load_encoder(params.encoder, seed=params.seed, device="cpu"),
                          spec, train, tests)


@needs_xquad
def test_tiny_qa_finetune_end_to_end_on_real_xquad() -> None:
    scores, preds = _run(("de", "zh"))
    assert set(scores) == {"de", "zh"} and len(preds) == 2 * 12
    assert list(preds.columns) == ["index_id", "item", "label", "predicted", "value", "task", "language"]
    for lang, rows in preds.groupby("language"):
        # XTREME's score is the SQuAD v1.1 script's F1 over the predicted texts; each item's value is its F1.
        again = xtreme_metrics.squad_scores(rows["label"].tolist(), rows["predicted"].tolist())
        assert scores[lang] == pytest.approx(again["f1"])
        assert scores[lang] == pytest.approx(100 * rows["value"].mean())
        assert all(isinstance(p, str) for p in rows["predicted"])
    again, preds2 = _run(("de", "zh"))
    assert again == scores and preds2.equals(preds), "same params, same machine: bit-identical"


def test_unpinned_training_data_is_refused_in_one_line(tmp_path: Path) -> None:
    with pytest.raises(BenchmarkError, match=r"^UD-POS: English training data .* is not pinned") as err:
        third.english_train(xtreme.TARGETS["udpos"], tmp_path)
    assert "\n" not in str(err.value)
    with pytest.raises(BenchmarkError, match="unresolved"):
        third_inputs.test_tables(xtreme.TARGETS["mlqa"], tmp_path)


def test_xtreme_is_evaluated_in_full_only() -> None:
    full = resolve({"profile": "full"})
    assert full.targets.xtreme is not None and full.targets.xtreme.tasks[0] == "xnli"
    assert resolve({"profile": "mini"}).targets.xtreme is None
    with pytest.raises(BenchmarkError, match="targets.xtreme: profile 'mini' does not evaluate"):
        resolve({"profile": "mini", "targets": {"xtreme": full.targets.xtreme.model_dump()}})


def test_xquad_and_mlqa_share_one_squad_fine_tune() -> None:
    """XTREME fine-tunes once on SQuAD v1.1 and tests XQuAD and MLQA on that one model; every other task
    has its own English training data, so its own fine-tune."""
    keys = {name: third.shared_fine_tune(xtreme.TARGETS[name]) for name in xtreme.FINETUNED}
    assert keys["xquad"] == keys["mlqa"] == ("squad", "span", 0)
    others = [keys[name] for name in xtreme.FINETUNED if name not in ("xquad", "mlqa")]
    assert len(set(others)) == len(others) and keys["xquad"] not in others
