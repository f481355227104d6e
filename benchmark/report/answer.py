"""``results/REPORT.md``: the answer first (primary margin, CI, p, n, caveats), then the image-use
evidence, the secondary comparisons, the language groups, and plots; every number traced to the
MLflow run that computed it and to the ``dvc.lock`` entry of the data it came from.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from benchmark.analysis.margins import PRIMARY_COMPARISON
from benchmark.arms import parse_run
from benchmark.config import Params
from benchmark.io import BenchmarkError, atomic_path
from benchmark.pipeline import paths
from benchmark.report import markdown
from benchmark.report.figures import plt, save_note, save_png

CAVEATS = {
    "mini": ("`mini` is a demonstration on a small, already-aligned encoder (multilingual-e5-small) with a few "
             "hundred COCO images and only its top layer trained; its text arm is captions-only, so it measures "
             "what pixels add to the same text, not STILTs-style textual tasks; its VQA arms use generated "
             "COCO-QA questions instead of VQAv2."),
    "smoke": "`smoke` checks the code on 10 languages x 50 sentences after 24 steps: not an answer.",
    "tiny": "`tiny` is a random-init encoder: its numbers are noise by construction.",
    "full": "`full`: XLM-R Large with the seed's textual tasks and VQAv2, at pinned upstream revisions.",
}
TARGET_NAMES = {"xsim_margin_x2eng": "xsim margin X→eng", "xsim_margin_eng2x": "xsim margin eng→X",
                "xsim_cosine_x2eng": "xsim cosine X→eng", "xsim_cosine_eng2x": "xsim cosine eng→X",
                "sib_accuracy": "SIB-200 probe accuracy"}


def _lock_hashes() -> dict[str, str]:
    """md5 of every stage output recorded in dvc.lock (path -> md5), to print beside the numbers."""
    lock = Path("dvc.lock")
    if not lock.exists():
        return {}
    out = {}
    for stage in (yaml.safe_load(lock.read_text()) or {}).get("stages", {}).values():
        for o in stage.get("outs", []):
            if "md5" in o:
                out[o["path"]] = o["md5"]
    return out


def _fmt_ci(r: pd.Series) -> str:
    return f"{r['margin']:+.4f} [{r['ci_low']:+.4f}, {r['ci_high']:+.4f}]"


def _plot_primary(per_lang: pd.DataFrame, out: Path) -> None:
    d = per_lang.sort_values("margin").reset_index(drop=True)
    fig, ax = plt.subplots(figsize=(7, max(4.0, 0.12 * len(d))))
    y = np.arange(len(d))
    ax.errorbar(d["margin"], y, xerr=[d["margin"] - d["ci_low"], d["ci_high"] - d["margin"]], fmt="o",
                markersize=2, elinewidth=0.6)
    ax.axvline(0, color="grey", linewidth=0.8)
    ax.set_yticks(y, d["language"], fontsize=max(4, min(8, 600 // max(len(d), 1))))
    ax.set_xlabel("margin (text-arm error − multimodal-arm error; > 0: images helped)")
    ax.set_title("Primary: coco-contrastive vs caption-contrastive, xsim margin X→eng, 95% CI")
    save_png(fig, out)


def _plot_heatmap(overall: pd.DataFrame, out: Path) -> None:
    grid = overall[overall["group"] == "all"].pivot(index="comparison", columns="target", values="margin")
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(grid) + 2))
    lim = float(np.nanmax(np.abs(grid.to_numpy()))) or 1.0
    im = ax.imshow(grid.to_numpy(), cmap="RdBu", vmin=-lim, vmax=lim, aspect="auto")
    ax.set_xticks(range(len(grid.columns)), [TARGET_NAMES.get(c, c) for c in grid.columns], rotation=30, ha="right")
    ax.set_yticks(range(len(grid.index)), grid.index, fontsize=7)
    for (i, j), v in np.ndenumerate(grid.to_numpy()):
        ax.text(j, i, f"{v:+.3f}", ha="center", va="center", fontsize=6)
    fig.colorbar(im, label="margin (> 0: treatment better)")
    ax.set_title("Margins, all languages (treatment vs control)")
    save_png(fig, out)


def _plot_groups(rows: pd.DataFrame, out: Path) -> None:
    rows = rows.reset_index(drop=True)
    fig, ax = plt.subplots(figsize=(7, 0.3 * len(rows) + 1.5))
    y = np.arange(len(rows))
    ax.barh(y, rows["margin"], xerr=[rows["margin"] - rows["ci_low"], rows["ci_high"] - rows["margin"]])
    ax.axvline(0, color="grey", linewidth=0.8)
    ax.set_yticks(y, [f"{g}: {v} (n={n})" for g, v, n in zip(rows["grouping"], rows["group"], rows["n_languages"])],
                  fontsize=7)
    ax.set_title("Primary comparison by language group (exploratory), 95% CI")
    save_png(fig, out)


def _drift(summary: dict[str, dict[str, float]]) -> pd.DataFrame:
    """Each run's change on English itself beside its cross-lingual change (both vs the baseline), so
    that "transfer" is not confused with "forgetting less"."""
    base = summary.get("baseline")
    if base is None:
        return pd.DataFrame()
    rows = []
    for run, m in summary.items():
        rows.append({"run": run,
                     "Δ SIB eng dev": m["sib.english_dev_accuracy"] - base["sib.english_dev_accuracy"],
                     "Δ SIB eng test": m["sib.english_test_accuracy"] - base["sib.english_test_accuracy"],
                     "Δ SIB mean (all languages)": m["sib.mean_accuracy"] - base["sib.mean_accuracy"],
                     "Δ xsim margin X→eng (all)": m["retrieval.mean_xsim_margin_x2eng"]
                     - base["retrieval.mean_xsim_margin_x2eng"]})
    return pd.DataFrame(rows)


def _choices(params: Params, training: pd.DataFrame) -> list[str]:
    """The budget and every engineering choice, each applied to all arms alike (from params and the
    runs' own training metrics, so the text cannot drift from what ran)."""
    t, enc = params.training, params.encoder
    trained = training[training["kind"] != "baseline"]
    top = (f"only the top {t.train_top_layers} transformer layer(s) train; the layers below are the pretrained "
           "encoder's for every arm, so their states for the evaluation texts are computed once (stage `frozen`) "
           "and each run's embedding pass runs only its own top layers over them"
           if t.train_top_layers else "the whole encoder trains")
    lines = [
        "## How every arm was trained and evaluated (the same for all arms)", "",
        f"- **Budget** (one `training` block, no per-arm knobs): {t.steps} optimizer steps × batch {t.batch_size}, "
        f"max length {t.max_length} tokens with the {params.image.prefix_tokens}-token visual prefix counted inside "
        f"it, AdamW lr {t.lr:g} (new heads × {t.head_lr_scale:g}), {t.warmup_steps} warm-up steps then linear decay, "
        f"weight decay {t.weight_decay:g}; {top}. Spent budgets per run: `results/training.csv`"
        + (f" (examples: {', '.join(sorted({str(int(v)) for v in trained['examples']}))})." if len(trained) else "."),
    ]
    if "decoder_candidates" in training and training["decoder_candidates"].notna().any():
        counts = sorted({int(v) for v in training["decoder_candidates"].dropna()})
        n = f"{counts[0]:,}" if len(counts) == 1 else f"{counts[0]:,}–{counts[-1]:,}"
        lines.append(f"- **Masked-token decoder** (`training.mlm_vocabulary: {t.mlm_vocabulary}`): it scores the "
                     f"{n} word pieces of the training captions (as truncated for each arm's input), not all of "
                     "XLM-R's 250k (the step's largest cost on CPU); a held-out masked token outside them counts "
                     "as a miss. Both MLM arms alike.")
    lines += [
        f"- **Embeddings**: mean-pooled last layer, prefix `{enc.prefix!r}`, {params.runtime.precision}; "
        "gradient-free CPU passes run their linear layers through oneDNN "
        "(same values up to ~1e-6 as PyTorch's default kernel, ≈ 1.1× faster).",
        f"- **Targets**: xsim error (LASER) with cosine and ratio-margin scoring (k={params.targets.retrieval.margin_k}) "
        f"against `{params.targets.retrieval.pivot}`; SIB-200 logistic-regression probe on frozen embeddings, trained "
        f"on English train only, C from {list(params.targets.sib.c_grid)} chosen by English dev log-loss"
        + ("; SIB-200's fine-tuning protocol beside it." if params.targets.sib.finetune
           else "; SIB-200's fine-tuning protocol is off in this profile (`targets.sib.finetune`)."),
        _selection_line(params), "",
    ]
    return lines + _selection_table(params)


PROTOCOL_NAMES = {"english_dev": "English SIB-200 dev accuracy (zero-shot)",
                  "oracle_dev": "X→eng xsim on target-language FLORES dev lines (oracle)"}


def _selection_line(params: Params) -> str:
    t = params.training
    if t.selection == "final":
        return (f"- **Model selection** (`training.selection: final`): `{params.profile}` evaluates each run's final "
                "checkpoint; there is no checkpoint choice, so English-dev and oracle-target-dev selection coincide.")
    other = next(p for p in PROTOCOL_NAMES if p != t.selection)
    return (f"- **Model selection** (`training.selection: {t.selection}`): every checkpoint (each {t.checkpoint_every} "
            f"steps) is a candidate; this report's test numbers are of the one chosen by {PROTOCOL_NAMES[t.selection]}. "
            "Both protocols' choices are in the table below; the other's test numbers: "
            f"`dvc exp run -S training.selection={other}` (it reuses the kept checkpoints).")


def _selection_table(params: Params) -> list[str]:
    rows = []
    for run in params.arms:
        path = paths.stage_metrics("train", run)
        picked = json.loads(path.read_text()).get("selection") if path.exists() else None
        if picked:
            scores = {c["step"]: c for c in picked["candidates"]}
            rows.append({"run": run, "candidates": len(scores), **{
                f"{p} step (score)": f"{s} ({scores[s][p]:.4f})" for p, s in picked["chosen_step"].items()}})
    if not rows:
        return []
    return ["### Model selection by both protocols", "", markdown.table(pd.DataFrame(rows)), ""]


def write_report(params: Params, training: pd.DataFrame, summary_by_run: dict[str, dict[str, float]]) -> str:
    """Write ``results/REPORT.md`` and its plots; return the headline paragraph."""
    margins_path = paths.RESULTS / "margins.csv"
    if not margins_path.exists():
        raise BenchmarkError(f"{margins_path}: missing; run the analysis stage first")
    summary = pd.read_csv(margins_path)
    per_lang = pd.read_csv(paths.RESULTS / "margins_per_language.csv")
    analysis = json.loads((paths.METRICS / "analysis.json").read_text())
    primary = summary[summary["role"] == "primary"]
    lock = _lock_hashes()
    pair = " vs ".join(PRIMARY_COMPARISON)
    arm_of = {r: parse_run(r)[0].name for r in params.arms}
    missing = [a for a in PRIMARY_COMPARISON if a not in arm_of.values()]
    headline = (f"No primary comparison: params `arms` ({', '.join(params.arms)}) have no run of "
                f"{' or '.join(missing)}, so this report has only the comparisons below.")
    if len(primary):
        p = primary.iloc[0]
        all_langs = summary[(summary["comparison"] == pair) & (summary["target"] == p["target"])
                            & (summary["group"] == "all")].iloc[0]
        verdict = ("The interval excludes 0" if p["ci_low"] > 0 or p["ci_high"] < 0 else "The interval includes 0")
        headline = (
            f"**Answer ({params.profile} profile, primary endpoint declared before any result).** On FLORES-200 "
            f"X→eng bitext retrieval (xsim error, margin scoring), macro-averaged over the {int(p['n_languages'])} "
            f"languages whose script the tokenizer covers (< 5% `<unk>`), training on image–caption pairs "
            f"(coco-contrastive) instead of caption–caption pairs of the same captions (caption-contrastive) "
            f"changes the error by **{p['margin']:+.4f}** (text-arm error − multimodal-arm error; > 0 means the "
            f"images helped), 95% CI [{p['ci_low']:+.4f}, {p['ci_high']:+.4f}]. {verdict}. The interval is a "
            f"paired percentile bootstrap ({int(p['n_boot'])} replicates) that resamples FLORES articles "
            f"(URL clusters) jointly across languages and arms and resamples the {int(p['treatment_runs'])} and "
            f"{int(p['control_runs'])} seeds of each arm; it covers item and seed variance, not the choice of "
            f"languages. Across languages: sign-flip permutation p = {p['signflip_p']:.3g}, Wilcoxon "
            f"(zsplit zeros) p = {p['wilcoxon_p']:.3g}; {int(p['improved'])} languages improved, "
            f"{int(p['hurt'])} hurt, {int(p['tied'])} tied. Over all {int(all_langs['n_languages'])} languages: "
            f"{_fmt_ci(all_langs)}. Base encoder {params.encoder.name}; {CAVEATS[params.profile]}"
        )
    parts = ["# REPORT — does multimodal intermediate training improve zero-shot cross-lingual transfer?", "",
             headline, ""]
    primary_runs = [r for r in params.arms if arm_of[r] in PRIMARY_COMPARISON]
    parts += [f"Traceability: analysis MLflow run `{analysis['mlflow_run_id']}` (every number below, per "
              "language, is in `results/margins*.csv` and that run). The primary pair's retrieval predictions "
              "as recorded in `dvc.lock` (md5): "
              + ", ".join(f"`{r}` {lock.get(f'artifacts/predictions/retrieval/{r}.parquet', '?')}" for r in primary_runs)
              + "; every other output's md5 is in `dvc.lock`.", ""]
    parts += _choices(params, training)
    ev_cols = {c: c.removeprefix("heldout.") for c in training.columns if c.startswith("heldout.")}
    parts += ["## Image-use evidence (held-out COCO)", "",
              "If the images were ignored (e.g. zeros fed as features), the true-image columns would equal the "
              "shuffled/no-image ones.", "",
              markdown.table(training[training["kind"] != "baseline"], {"run": "run", **ev_cols}), ""]
    drift = _drift(summary_by_run)
    if len(drift):
        parts += ["## Drift: the change on English itself beside the cross-lingual change (vs baseline)", "",
                  "English retrieval has no English-to-English task, so English SIB accuracy (dev and test) is "
                  "the in-language yardstick; xsim error falls when retrieval improves.", "",
                  markdown.table(drift), ""]
    secondary = summary[summary["grouping"] == "overall"].copy()
    secondary["margin [95% CI]"] = secondary.apply(_fmt_ci, axis=1)
    parts += ["## All comparisons (secondary, Holm-corrected across this table except the primary row)", "",
              markdown.table(secondary, {"comparison": "comparison", "target": "target", "group": "languages",
                                 "n_languages": "n", "margin [95% CI]": "margin [95% CI]",
                                 "signflip_p": "p (sign-flip)", "signflip_p_holm": "p Holm",
                                 "improved": "improved", "hurt": "hurt", "tied": "tied", "role": "role"}), ""]
    groups = summary[(summary["comparison"] == pair) & (summary["target"] == "xsim_margin_x2eng")
                     & (summary["grouping"] != "overall")]
    if len(groups):
        _plot_groups(groups, paths.RESULTS / "report_groups.png")
        _plot_primary(per_lang[(per_lang["comparison"] == pair) & (per_lang["target"] == "xsim_margin_x2eng")],
                      paths.RESULTS / "report_primary.png")
    else:
        for name in ("report_groups.png", "report_primary.png"):
            save_note(f"No primary comparison ({pair}) in this run: see REPORT.md.", paths.RESULTS / name)
    _plot_heatmap(summary[summary["grouping"] == "overall"], paths.RESULTS / "report_heatmap.png")
    parts += ["## Plots", "", "![primary margin per language](report_primary.png)", "",
              "![arms x targets](report_heatmap.png)", "", "![by language group](report_groups.png)", ""]
    with atomic_path(paths.RESULTS / "REPORT.md") as tmp:
        tmp.write_text("\n".join(parts), encoding="utf-8")
    return headline
