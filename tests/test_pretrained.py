"""`source: hf` models from a local `save_pretrained` directory, pinned by the hash of its files."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from rehearsal_models import save_tiny_clip, save_tiny_xlmr

from benchmark.config import resolve
from benchmark.io import BenchmarkError
from benchmark.models import pretrained
from benchmark.models.encoder import load_encoder
from benchmark.models.image import load_image_encoder


@pytest.fixture(scope="module")
def xlmr(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_xlmr(tmp_path_factory.mktemp("models") / "xlmr")


def _full_with(encoder: dict) -> dict:
    return {"profile": "full", "encoder": encoder}


def test_dir_pin_is_the_files_and_only_the_files(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.json").write_text("{}")
    (tmp_path / "b.bin").write_bytes(b"\0\1")
    pin = pretrained.dir_pin(tmp_path)
    assert len(pin) == 64 and pin == pretrained.dir_pin(tmp_path)
    (tmp_path / "b.bin").write_bytes(b"\0\2")  # same size, other bytes
    assert pretrained.dir_pin(tmp_path) != pin
    (tmp_path / "b.bin").write_bytes(b"\0\1")
    (tmp_path / "b.bin").rename(tmp_path / "c.bin")  # same bytes, other name
    assert pretrained.dir_pin(tmp_path) != pin


def test_config_takes_a_local_pin_or_a_commit_never_a_branch(xlmr: Path) -> None:
    pin = pretrained.dir_pin(xlmr)
    assert resolve(_full_with({"name": str(xlmr), "revision": pin})).encoder.revision == pin
    with pytest.raises(BenchmarkError, match="local model directory .* 64-hex .* got 'main'"):
        resolve(_full_with({"name": str(xlmr), "revision": "main"}))
    with pytest.raises(BenchmarkError, match="Hub model .* 40-hex commit SHA, got '" + pin):
        resolve(_full_with({"name": "FacebookAI/xlm-roberta-large", "revision": pin}))
    with pytest.raises(BenchmarkError, match="image.revision: a local model directory"):
        resolve({"profile": "full", "image": {"name": "./clip", "revision": "c237dc49a33fc61debc9276459120b7eac67e7ef"}})


def test_a_local_encoder_loads_through_from_pretrained(xlmr: Path) -> None:
    cfg = resolve(_full_with({"name": str(xlmr), "revision": pretrained.dir_pin(xlmr)})).encoder
    enc = load_encoder(cfg)
    assert type(enc.model).__name__ == "XLMRobertaModel" and enc.model.pooler is None
    assert enc.model.config.num_hidden_layers == 2 and len(enc.tokenizer) == 250002
    emb = enc.embed(["Hello world.", "Bonjour."])
    assert emb.shape == (2, 32) and bool(torch.isfinite(torch.as_tensor(emb)).all())


def test_missing_or_changed_directory_is_one_line(xlmr: Path, tmp_path: Path) -> None:
    pin = pretrained.dir_pin(xlmr)
    with pytest.raises(BenchmarkError, match=r"^encoder: local model directory /nonexistent/xlmr does not exist$"):
        pretrained.verify("encoder", "/nonexistent/xlmr", pin)
    copy = tmp_path / "xlmr"
    copy.mkdir()
    for f in xlmr.iterdir():
        (copy / f.name).write_bytes(f.read_bytes())
    (copy / "config.json").write_text((copy / "config.json").read_text().replace('"hidden_act"', '"hidden_act" '))
    with pytest.raises(BenchmarkError, match="hash to .* not the pinned " + pin) as err:
        pretrained.verify("encoder", str(copy), pin)
    assert "\n" not in str(err.value)
    (copy / "model.safetensors").unlink()  # incomplete directory, re-pinned: from_pretrained's own failure, one line
    cfg = resolve(_full_with({"name": str(copy), "revision": pretrained.dir_pin(copy)})).encoder
    with pytest.raises(BenchmarkError, match="not a complete save_pretrained directory") as err:
        load_encoder(cfg)
    assert "\n" not in str(err.value)


def test_a_local_clip_tower_loads_through_from_pretrained(tmp_path: Path) -> None:
    clip = save_tiny_clip(tmp_path / "clip")
    enc = load_image_encoder("hf", str(clip), pretrained.dir_pin(clip))
    assert enc.dim == 32 and enc.name.startswith(str(clip))
