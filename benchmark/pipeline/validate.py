"""Stage ``validate``: every key of params.yaml, and the bundled data, checked before any stage can
delete an output.

DVC removes a stage's outputs just before running it, so a bad value found by the stage itself
would cost what it was meant to protect (``frozen``: minutes of encoding). Every stage depends on
this stage's ``checked`` file, so DVC runs ``validate`` first and stops the pipeline when it fails.
The file's content does not vary with the params (each stage depends on its own params, key by key),
so passing the gate reruns nothing by itself. Both outputs persist: a failed check leaves them as
they were.

It also catches a stale params.yaml: params.yaml is composed from ``benchmark/conf`` (``dvc exp run``
recomposes it), so after a preset edit a plain ``dvc repro`` would run the old values. The presets
seen at the last successful check are kept to tell a stale value from a deliberate override.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from benchmark import config
from benchmark.arms import parse_run
from benchmark.data import spec
from benchmark.io import BenchmarkError, write_json, write_text
from benchmark.models import pretrained
from benchmark.pipeline import paths
from benchmark.pipeline.corpus import parallel_lines

GATE_TEXT = "params.yaml passed `benchmark validate`; every stage depends on this file (see dvc.yaml)\n"


def _leaves(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            out |= _leaves(value, f"{prefix}{key}.")
        else:
            out[f"{prefix}{key}"] = value
    return out


def stale_keys(params: dict[str, Any], old_preset: dict[str, Any], new_preset: dict[str, Any]) -> list[str]:
    """Keys whose value is the preset's previous value while the preset now says something else."""
    have, old, new = _leaves(params), _leaves(old_preset), _leaves(new_preset)
    return [k for k in new if k in old and old[k] != new[k] and have.get(k) == old[k]]


def check(params_file: Path, record: Path) -> config.Params:
    params = config.load_params(params_file)
    presets = {name: config.preset(name) for name in config.PROFILES}
    if record.exists():
        previous = json.loads(record.read_text(encoding="utf-8"))
        stale = stale_keys(params.model_dump(mode="json"), previous.get(params.profile, {}), presets[params.profile])
        if stale:
            key = stale[0]
            raise BenchmarkError(
                f"{params_file}: {key}: still the {params.profile} preset's previous value; benchmark/conf "
                f"now sets {_leaves(presets[params.profile])[key]!r}"
                f"{f' (+{len(stale) - 1} more)' if len(stale) > 1 else ''}: recompose params.yaml "
                "(`dvc exp run` does, or `benchmark params --write`) before `dvc repro`")
    return params


def run(params_file: Path | str = "params.yaml") -> None:
    out = paths.VALIDATE
    params = check(Path(params_file), out / "presets.json")
    spec.verify_bundle(spec.BUNDLE_DIR)  # a corrupt file stops here, not after `prepare` removed data/bundle
    # A local model directory that is missing or changed stops here, not after `frozen`/`images` removed
    # their outputs (a Hub pin is only checked for its shape: the Hub may be out of reach until `train`).
    if params.encoder.source == "hf" and pretrained.is_local(params.encoder.name):
        pretrained.verify("encoder", params.encoder.name, params.encoder.revision)
    if params.image.source == "hf" and params.image.name and pretrained.is_local(params.image.name):
        pretrained.verify("image", params.image.name, params.image.revision)
    if any(parse_run(run)[0].kind == "positive" for run in params.arms):  # too few free lines: stop before `train`
        parallel_lines(params, spec.BUNDLE_DIR.parent if params.data.source == "bundle" else paths.DATA)
    if params.data.source == "upstream":  # a bad upstream file stops here, not after `evaluate` removed its outputs
        from benchmark.targets import registry

        for target in registry.active(params.profile):
            target.runner().check(params, paths.DATA)
    write_json(out / "presets.json", {name: config.preset(name) for name in config.PROFILES})
    write_text(out / "checked", GATE_TEXT)
