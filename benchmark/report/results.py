"""Stage ``report``: gather every run's scores, budget, cost and image-use evidence into results
tables, plots and a summary.

Writes ``results/targets/<target>.csv`` (per run and language, for every target of the registry the
profile evaluates) and one PNG per target (its main score: the primary pair and the baseline,
languages sorted by score), ``results/training.csv`` (per run: budget, cost, held-out evidence),
``results/summary.json`` (every run's mean scores, ``<target>.mean_<column>``, which
``check-reference`` holds against the reference tables), ``results/headline.json`` (DVC's metrics: what
``dvc exp show`` and ``dvc metrics show`` compare) and ``results/results.md``.
"""

from __future__ import annotations

import json

import pandas as pd

from benchmark import paths
from benchmark.analysis.declaration import DECLARATION
from benchmark.arms import parse_run
from benchmark.config import Params
from benchmark.io import BenchmarkError, atomic_path, write_json, write_text
from benchmark.report import markdown
from benchmark.report.answer import CAVEATS, write_report
from benchmark.report.figures import plt, save_png
from benchmark.targets import registry
from benchmark.targets.spec import TargetSpec
from benchmark.tracking import stage_run

TARGETS_DIR = paths.RESULTS / "targets"


def _gather(target: str, arms: list[str]) -> pd.DataFrame:
    frames = []
    for arm in arms:
        path = paths.per_language(target, arm)
        if not path.exists():
            raise BenchmarkError(f"{path}: missing per-language {target} scores for arm {arm!r}")
        frames.append(pd.read_csv(path).assign(arm=arm))
    table = pd.concat(frames, ignore_index=True)
    return table[["arm", *[c for c in table.columns if c != "arm"]]]


def _plot(table: pd.DataFrame, column: str, title: str, out: str, ascending: bool) -> None:
    arms = list(dict.fromkeys(table["arm"]))
    first = table[table["arm"] == arms[0]].sort_values(column, ascending=ascending)
    order = first["language"].tolist()
    height = max(4.0, 0.15 * len(order))
    fig, ax = plt.subplots(figsize=(7, height))
    for i, arm in enumerate(arms):
        sub = table[table["arm"] == arm].set_index("language").loc[order, column]
        ax.barh([y + i / (len(arms) + 1) for y in range(len(order))], sub.to_numpy(),
                height=1 / (len(arms) + 1), label=arm)
    ax.set_yticks(range(len(order)), order, fontsize=max(5, min(8, 600 // max(len(order), 1))))
    ax.invert_yaxis()
    ax.set_xlabel(column)
    ax.set_title(title)
    ax.legend(loc="lower right")
    save_png(fig, out)


# headline.json's names for margins.csv's columns: each interval named by what it resamples.
HEADLINE_COLUMNS = {"margin": "margin", "ci_low": "ci_items_low", "ci_high": "ci_items_high",
                    "seed_ci_low": "ci_runs_low", "seed_ci_high": "ci_runs_high", "p": "p", "p_holm": "p_holm",
                    "welch_p": "welch_p", "perm_p": "permutation_p", "tost_p": "tost_p", "welch_tost_p": "welch_tost_p",
                    "perm_tost_p": "permutation_tost_p", "treatment_sd": "treatment_run_sd",
                    "control_sd": "control_run_sd"}


def headline_metrics(margins: pd.DataFrame, summary: dict[str, dict[str, float]],
                     analysis: dict | None = None) -> dict[str, dict[str, float]]:
    """DVC's metrics, small enough to read across experiments: each declared comparison present
    (``sensitivity``, ``primary``, ``secondary1``..., ``<role>.<treatment>.vs.<control>``: the order of the
    declaration) with its margin, its intervals named by what they resample (``ci_items_*``: the FLORES
    articles or Tatoeba pairs, seed-averaged, languages fixed; ``ci_runs_*``: the run-level t interval),
    where each arm has enough seeds the tests' p's, whether the analyses agreed (1/0), and ``flagged`` (1 when an
    arm did not learn its task); the positive control's sensitivity; and each arm's mean scores over its runs.
    DVC compares numbers only: verdict words are in ``results/margins.csv``."""
    out: dict[str, dict[str, float]] = {}
    counts: dict[str, int] = {}
    for role, c in DECLARATION.roles:
        counts[role] = counts.get(role, 0) + 1
        name = {"primary": role, "sensitivity": role, "secondary": f"secondary{counts[role]}"}.get(
            role, f"{role}.{c.treatment}.vs.{c.control}")  # the family's rows by pair: profiles run different ones
        row = margins[(margins["comparison"] == c.name) & (margins["target"] == c.target)
                      & (margins["grouping"] == "overall") & (margins["group"] == c.languages)]
        if len(row):
            r = row.iloc[0]
            values = {new: float(r[old]) for old, new in HEADLINE_COLUMNS.items() if old in r and pd.notna(r[old])}
            if "verdicts_agree" in r and pd.notna(r["verdicts_agree"]) and r["verdicts_agree"] != "":
                values["analyses_agree"] = float(str(r["verdicts_agree"]) == "True")
            values["flagged"] = float(pd.notna(r.get("flag")) and str(r.get("flag")) != "")
            out[name] = values
    if analysis and analysis.get("sensitivity", {}).get("margin") is not None:
        sens = analysis["sensitivity"]
        out["sensitivity"] = {**out.get("sensitivity", {}), "in_sesoi": float(sens["in_sesoi"]),
                              "threshold": float(sens["threshold"]), "sufficient": float(bool(sens["sufficient"]))}
    arm_of = {run: parse_run(run)[0].name for run in summary}
    mains = [(f"{t.name}.mean_{t.main.column}", t.main_score) for t in registry.TARGETS.values()]
    gates = (analysis or {}).get("gates", {})
    for arm in dict.fromkeys(arm_of.values()):
        runs = [summary[run] for run in summary if arm_of[run] == arm]
        out[arm] = {name: sum(r[key] for r in runs) / len(runs) for key, name in mains if key in runs[0]}
        if gates.get(arm, {}).get("learned") is not None:
            out[arm]["learned"] = float(gates[arm]["learned"])
    return out


PLOTTED = ("baseline", "coco-contrastive", "caption-contrastive")  # the primary pair, beside the baseline


def _training(arms: list[str]) -> pd.DataFrame:
    """One row per run: arm, seed offset, budget (steps, examples, tokens, images), cost, evidence."""
    rows = []
    for arm in arms:
        path = paths.stage_metrics("train", arm)
        if not path.exists():
            raise BenchmarkError(f"{path}: missing training metrics for run {arm!r}")
        m = json.loads(path.read_text())
        spec, k = parse_run(arm)
        rows.append({"run": arm, "arm": spec.name, "kind": spec.kind, "seed_offset": k, **m["budget"],
                     **m.get("cost", {}), **m.get("evidence", {})})
    return pd.DataFrame(rows)


def _summary(spec: TargetSpec, run: str) -> dict[str, float]:
    """A run's means on one target (``<target>.mean_<column>``) and the target's declared extras."""
    path = paths.evaluation(run, spec.name)
    if not path.exists():
        raise BenchmarkError(f"{path}: missing {spec.name} metrics for run {run!r}")
    metrics = json.loads(path.read_text())
    keep = [k for k in metrics if k.startswith("mean_")] + list(spec.summary_extra)
    return {f"{spec.name}.{k}": float(metrics[k]) for k in keep}


def run(params: Params) -> None:
    arms = params.arms
    specs = registry.active(params.profile)
    tables = {spec.name: _gather(spec.name, arms) for spec in specs}
    training = _training(arms)
    summary = {arm: {k: v for spec in specs for k, v in _summary(spec, arm).items()} for arm in arms}

    TARGETS_DIR.mkdir(parents=True, exist_ok=True)
    plotted = [a for a in PLOTTED if a in arms] or arms[:1]
    for spec in specs:
        table, score = tables[spec.name], spec.shown(params)
        with atomic_path(TARGETS_DIR / f"{spec.name}.csv") as tmp:
            table.to_csv(tmp, index=False, float_format="%.6f")
        if score is None:  # e.g. XTREME with its third phase off: a table of languages, nothing to plot
            continue
        better = "higher" if score.higher_is_better else "lower"
        _plot(table[table["arm"].isin(plotted)], score.column, f"{score.display}, {better} is better",
              str(TARGETS_DIR / f"{spec.name}.png"), ascending=not score.higher_is_better)
    with atomic_path(paths.RESULTS / "training.csv") as tmp:
        training.to_csv(tmp, index=False, float_format="%.6f")
    for spec in specs:  # a target whose published numbers check-reference holds the run against
        if (published := getattr(spec.runner(), "published", None)) is not None:
            write_json(TARGETS_DIR / f"{spec.name}.json", published(summary, {run: parse_run(run)[0] for run in summary}))

    with stage_run("report", params, "cpu", close_parent=True) as run_:
        run_.log_metrics({f"{arm}.{k}": v for arm, vals in summary.items() for k, v in vals.items()})
        write_text(paths.RESULTS / "results.md", _markdown(params, specs, tables, summary, training))
        headline = write_report(params, training, summary, tables)
        run_.set_tags({"report.headline": headline[:4900]})
        for name in ("results.md", "REPORT.md", "training.csv"):
            run_.log_artifact(paths.RESULTS / name, "results")
        for path in sorted(TARGETS_DIR.iterdir()):
            run_.log_artifact(path, "results/targets")
        write_json(paths.RESULTS / "summary.json", {"arms": summary, "mlflow_run_id": run_.run_id})
        analysis = json.loads((paths.METRICS / "analysis.json").read_text(encoding="utf-8"))
        write_json(paths.RESULTS / "headline.json",
                   headline_metrics(pd.read_csv(paths.RESULTS / "margins.csv"), summary, analysis))


EVIDENCE = {  # column of training.csv -> header in results.md
    "heldout.r1_caption_to_image.true": "R@1 caption→image",
    "heldout.r1_image_to_caption.true": "R@1 image→caption",
    "heldout.caption_r1.none": "R@1 caption→caption",
    "heldout.mlm_accuracy.true": "MLM acc, true image",
    "heldout.mlm_accuracy.shuffled": "MLM acc, shuffled image",
    "heldout.mlm_accuracy.none": "MLM acc, no image",
    "heldout.vqa_accuracy.true": "VQA acc, true image",
    "heldout.vqa_accuracy.shuffled": "VQA acc, shuffled image",
    "heldout.vqa_accuracy.none": "VQA acc, no image",
    "heldout.answer_prior": "answer prior",
}
BUDGET = {"steps": "steps", "batch_size": "batch", "max_length": "max len", "examples": "examples",
          "text_tokens": "text tokens", "prefix_tokens": "prefix tokens", "image_views": "image views",
          "trainable_parameters": "trainable params", "decoder_candidates": "MLM decoder pieces",
          "train_s": "train s", "s_per_step": "s/step"}


def _markdown(params: Params, specs: list[TargetSpec], tables: dict[str, pd.DataFrame],
              summary: dict[str, dict[str, float]], training: pd.DataFrame) -> str:
    overview = pd.DataFrame([
        {"arm": arm, **{f"{spec.display}: {s.display}": v[f"{spec.name}.mean_{s.column}"]
                        for spec in specs for s in spec.scores_in(params)},
         **{f"{spec.display}: {k}": v[f"{spec.name}.{k}"] for spec in specs for k in spec.summary_extra}}
        for arm, v in summary.items()
    ])
    targets = [f"- **{spec.display}** (`{spec.name}`; {spec.dataset.name}, {spec.dataset.license}): {spec.protocol}; "
               f"embeds {spec.embeds}; {tables[spec.name]['language'].nunique()} languages. Scores: "
               + ", ".join(f"{s.display} ({'higher' if s.higher_is_better else 'lower'} is better)" for s in spec.scores_in(params))
               + f". Bootstrap resamples {spec.resampled}." for spec in specs]
    parts = [
        f"# Results — profile `{params.profile}`",
        "",
        CAVEATS[params.profile],
        "",
        f"Encoder: `{params.encoder.name}` ({params.encoder.source}); prefix `{params.encoder.prefix!r}`; "
        f"seed {params.seed}. xsim error rates are LASER's (margin = ratio margin, k = "
        f"{params.targets.retrieval.margin_k}).",
        "",
        "## Targets",
        "",
        *targets,
        "",
        "## Macro averages",
        "",
        markdown.table(overview),
        "",
        "## Training budget and cost per run",
        "",
        f"Every trained run gets the same budget (`training` in params): top {params.training.train_top_layers} "
        f"encoder layer(s) train, the rest stay pretrained. Prefix tokens are the visual prefix "
        f"({params.image.prefix_tokens} per example), inside the same max length. Wall-clock columns are "
        "this machine's, not part of the determinism promise.",
        "",
        markdown.table(training, {"run": "run", **BUDGET}),
        "",
        "## Image-use evidence (held-out COCO images)",
        "",
        f"On the {params.image.prefix_tokens}-token prefix arms and contrastive arms, evaluated on held-out "
        "images (image_id % 5 == 0): R@1 against chance "
        + (f"{training['heldout.r1_chance'].dropna().iloc[0]:.4f}" if "heldout.r1_chance" in training
           and training["heldout.r1_chance"].notna().any() else "–")
        + "; MLM/VQA accuracy with the true image, a deranged one, or none; VQA's answer prior.",
        "",
        markdown.table(training[training["kind"] != "baseline"], {"run": "run", **EVIDENCE}),
    ]
    for arm in [a for a in summary if a == "baseline"] or list(summary)[:1]:
        parts += ["", f"## `{arm}`: best and worst languages", ""]
        for spec in specs:
            if (score := spec.shown(params)) is None:
                continue
            # Ties (many languages sit at 0 error) are listed alphabetically, and counted.
            col, high = score.column, score.higher_is_better
            t = tables[spec.name]
            t = t[t["arm"] == arm].sort_values([col, "language"], ascending=[not high, True])
            best_value = 1.0 if high else 0.0
            parts += [f"{score.display} ({int((t[col] == best_value).sum())} of {len(t)} languages at "
                      f"{best_value:g}) — best: " + ", ".join(f"{x.language} {getattr(x, col):.3f}" for x in t.head(5).itertuples())
                      + "; worst: " + ", ".join(f"{x.language} {getattr(x, col):.3f}" for x in t.tail(5).itertuples()), ""]
    parts += ["Per-language scores and plots: `results/targets/<target>.{csv,png}`.", ""]
    return "\n".join(parts)
