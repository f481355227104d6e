"""``results/REPORT.md``: the answer first (the primary comparison with its designated test,
equivalence and minimum detectable effect), the analysis plan as declared, then the image-use
evidence, the declared comparisons (the only rows with p-values), every other comparison as
description, the language groups, and plots; every number traced to the MLflow run that computed it
and to the ``dvc.lock`` entry of the data it came from.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from benchmark import paths
from benchmark.analysis.declaration import DECLARATION, HISTORY, declared_in
from benchmark.analysis.margins import HOLM_FAMILIES, PRIMARY_COMPARISON
from benchmark.analysis.stats import TIE_TOL
from benchmark.arms import ARMS, parse_run
from benchmark.config import Params
from benchmark.data.tasks import TASKS
from benchmark.io import BenchmarkError, atomic_path
from benchmark.report import markdown
from benchmark.report.figures import plt, save_note, save_png
from benchmark.targets import registry
from benchmark.targets.registry import SCORES

CAVEATS = {
    "mini": ("`mini` is a demonstration on a small, already-aligned encoder (multilingual-e5-small) with a few "
             "hundred COCO images and only its top layer trained. Its textual arms are the two X-STILTs tasks the "
             "offline bundle holds (HellaSwag, Cosmos QA; each trained on the first 400 of its validation items "
             "outside a held-out tenth of whole passages or source clips, since no train split was obtainable); MNLI, SQuAD, QQP, CommonsenseQA, ANLI+ and CCG are "
             "absent (not obtainable offline) and SST-2 is absent (no redistribution license), so the seed's "
             "headline tasks MNLI and SQuAD are not compared here. Its VQA and caption-MLM arms are `full`-only "
             "for the run-time budget (`dvc exp run -S 'arms=[...]'` adds them)."),
    "smoke": "`smoke` checks the code on 10 languages x 50 sentences after 24 steps: not an answer.",
    "tiny": "`tiny` is a random-init encoder: its numbers are noise by construction.",
    "full": "`full`: XLM-R Large with the seed's textual tasks and VQAv2, at pinned upstream revisions.",
}
TARGET_NAMES = {name: score.display for name, (_, score) in SCORES.items()}


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


def _plot_primary(per_lang: pd.DataFrame, out: Path, shown: int = 24) -> None:
    """Left: how the per-language margins are distributed (ties at 0 counted); right: the ``shown``
    languages that moved most, labelled, with their item-bootstrap CIs. 200 labelled rows are unreadable."""
    m = per_lang["margin"].to_numpy()
    tied = int((np.abs(m) < TIE_TOL).sum())
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 6.5), gridspec_kw={"width_ratios": [1, 1.15]})
    moved = m[np.abs(m) >= TIE_TOL]
    bins = np.linspace(-max(np.abs(m).max(), 1e-3), max(np.abs(m).max(), 1e-3), 31)
    left.hist(moved, bins=bins, color="tab:blue", alpha=0.8, label=f"{len(moved)} languages that moved")
    left.axvline(0, color="grey", linewidth=0.8)
    left.set_xlabel("per-language margin (> 0: images helped)")
    left.set_ylabel("languages")
    left.set_title(f"All {len(m)} languages: {tied} tied at 0 (not drawn)", fontsize=9)
    left.legend(fontsize=8, loc="upper left")
    left.xaxis.set_major_locator(plt.MaxNLocator(5))
    movers = per_lang[per_lang["margin"].abs() >= TIE_TOL]
    top = movers.reindex(movers["margin"].abs().sort_values(ascending=False).index).head(shown)
    top = top.sort_values("margin").reset_index(drop=True)
    if not len(top):
        right.text(0.5, 0.5, "no language moved", ha="center", va="center", transform=right.transAxes)
    y = np.arange(len(top))
    right.errorbar(top["margin"], y, xerr=[top["margin"] - top["ci_low"], top["ci_high"] - top["margin"]], fmt="o",
                   markersize=3, elinewidth=0.8, capsize=2)
    right.axvline(0, color="grey", linewidth=0.8)
    right.set_yticks(y, top["language"], fontsize=8)
    right.set_xlabel("margin, 95% CI over items (descriptive: languages share the runs)")
    right.set_title(f"The {len(top)} languages that moved most (of {len(movers)})", fontsize=9)
    fig.suptitle(f"Primary: {' vs '.join(PRIMARY_COMPARISON)}, FLORES-200 xsim margin error X→eng\n"
                 "margin = text-arm error − multimodal-arm error, seed-averaged", fontsize=10)
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
    ax.set_title("Primary comparison by language group (exploratory), 95% CI over items")
    save_png(fig, out)


def _drift(summary: dict[str, dict[str, float]]) -> pd.DataFrame:
    """Each run's change on English itself beside its cross-lingual change (both vs the baseline), so
    that "transfer" is not confused with "forgetting less"."""
    base = summary.get("baseline")
    if base is None:
        return pd.DataFrame()
    columns = {}  # label -> metric key; the targets that score English itself lead
    for t in sorted(registry.TARGETS.values(), key=lambda t: t.english is None):
        if t.english is not None:
            columns |= {f"Δ {t.english.short} {label}": f"{t.name}.{key}" for label, key in t.english.keys.items()}
            columns[f"Δ {t.english.short} mean (all languages)"] = f"{t.name}.mean_{t.main.column}"
        else:
            columns[f"Δ {t.main.display} (all)"] = f"{t.name}.mean_{t.main.column}"
    rows = [{"run": run, **{label: m[k] - base[k] for label, k in columns.items() if k in m}}
            for run, m in summary.items()]
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
        "- **Targets** (`benchmark targets`): "
        + "; ".join(t.describe(params) for t in registry.active(params.profile)) + ".",
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


def _row(summary: pd.DataFrame, role: str, pair: tuple[str, str] | None = None) -> pd.Series | None:
    """The declared row of ``role`` (and ``pair``) over its declared languages, if this run has it."""
    rows = summary[(summary["role"] == role) & (summary["grouping"] == "overall")]
    if pair is not None:
        rows = rows[(rows["treatment"] == pair[0]) & (rows["control"] == pair[1])]
    return rows.iloc[0] if len(rows) else None


def _p(x: float) -> str:
    return f"{x:.2g}" if x == x else "–"


def _test_clause(r: pd.Series, holm: str = "") -> str:
    """What a declared row's analyses say: the designated test's interval and p, the sensitivity analyses'
    p's, the equivalence tests, and the verdict they agree on (or that they disagree); or why no test."""
    if r["p"] != r["p"]:
        return (f", no test ({str(r['test']).removeprefix('none: ')}); items interval [{r['ci_low']:+.4f}, "
                f"{r['ci_high']:+.4f}]; **{r['verdict'] or 'not tested (descriptive)'}**")
    adj = f" (Holm {holm}: {_p(r['p_holm'])})" if holm else ""
    one_sample = "one-sample" in str(r["test"])
    if one_sample:
        sens = "Welch's t coincides; an exact permutation is not applicable (the untrained control is one run)"
        tost = f"TOST against ±{r['sesoi']:g}: p = {_p(r['tost_p'])}"
    else:
        sens = (f"Welch p = {_p(r['welch_p'])}, exact permutation of run labels p = {_p(r['perm_p'])} "
                f"(smallest attainable {_p(r['perm_min_p'])})")
        tost = (f"TOST against ±{r['sesoi']:g}: Student p = {_p(r['tost_p'])}, Welch {_p(r['welch_tost_p'])}, "
                f"permutation {_p(r['perm_tost_p'])}")
    agree = "" if str(r["verdicts_agree"]) == "True" and r["verdict"] == r["verdict_student"] else \
        f" ({r['verdict_note']})"
    return (f", run-level {'one-sample ' if one_sample else ''}t {r['seed_ci_low']:+.4f} to {r['seed_ci_high']:+.4f} "
            f"(95% CI), p = {_p(r['p'])}{adj}; {sens}; {tost}; MDE {r['mde']:.4f}; per-arm run SD "
            f"{r['treatment_sd']:.5f} vs {r['control_sd']:.5f}; **{r['verdict']}**{agree}")


def _sentence(r: pd.Series, what: str, holm: str = "") -> str:
    return (f"{what} ({r['treatment']} vs {r['control']}): **{r['margin']:+.4f}** ({int(r['treatment_runs'])} vs "
            f"{int(r['control_runs'])} runs; > 0: {r['treatment']} better){_test_clause(r, holm)}")


def _sensitivity(summary: pd.DataFrame, sens: dict) -> str:
    d = DECLARATION
    r = _row(summary, "sensitivity")
    if r is None:
        return (f"**Sensitivity: not measured** — params `arms` have no run of {d.sensitivity.treatment} (the "
                "positive control) beside the baseline, so this run cannot show it could have seen an effect, and "
                "no comparison below is called equivalent.")
    verdict = (f"so this setup can see an effect of {d.sensitivity_multiple:g} SESOIs ({d.sensitivity_threshold:g}), "
               "and a comparison below may be called equivalent where its tests say so"
               if sens.get("sufficient") else
               f"below {d.sensitivity_multiple:g} SESOIs ({d.sensitivity_threshold:g}) or not a tested difference: "
               "this setup cannot tell an effect of the SESOI's size from none, and every 'equivalent' below is "
               "withheld")
    return (f"**Sensitivity first**: the positive control ({r['treatment']}: {ARMS[r['treatment']].description}; "
            f"the same budget as every arm) against the untrained baseline: **{r['margin']:+.4f}**, that is "
            f"**{r['margin'] / d.primary.sesoi:.1f} SESOIs** ({int(r['treatment_runs'])} runs vs one deterministic "
            f"run){_test_clause(r)}: {verdict}.")


def _headline(params: Params, summary: pd.DataFrame, sens: dict, gates: dict) -> str:
    d = DECLARATION
    primary = _row(summary, "primary")
    lead = (f"**Answer ({params.profile} profile; the plan's history, including which results were seen before "
            "each part was declared, is under 'The analysis plan').** Metric: FLORES-200 X→eng bitext retrieval "
            f"(LASER's xsim error, ratio-margin scoring, k = {params.targets.retrieval.margin_k}), macro-averaged over "
            "the languages the tokenizer covers (< 5% `<unk>`); a margin is control error − treatment error, each run "
            "one observation. ")
    if primary is None:
        arms = {parse_run(r)[0].name for r in params.arms}
        missing = [a for a in PRIMARY_COMPARISON if a not in arms]
        return (f"No primary comparison: params `arms` ({', '.join(params.arms)}) have no run of "
                f"{' or '.join(missing)}, so this report has only the comparisons below. "
                f"{_sensitivity(summary, sens)} {CAVEATS[params.profile]}")
    parts = [lead, _sensitivity(summary, sens)]
    parts.append(_sentence(primary, "**What the pixels add** to the same captions") + ".")
    q = d.question
    objective = [r for c in q.headline_controls if (r := _row(summary, "objective", (q.caption_only, c))) is not None]
    for r in objective:
        parts.append(_sentence(r, "**What the objective and data add**", "over the pairs run") + ".")
    for r in [r for c in q.headline_controls if (r := _row(summary, "headline", (q.headline_treatment, c))) is not None]:
        part = next((o for o in objective if o["control"] == r["control"]), None)
        carried = ""
        if part is not None:
            image, obj = float(primary["margin"]), float(part["margin"])
            carrier = "the objective and data (caption-only vs textual)" if abs(obj) >= abs(image) else "the pixels"
            share = (f"**{carrier} carr{'y' if 'objective' in carrier else 'ies'} "
                     f"{max(abs(obj), abs(image)) / (abs(obj) + abs(image)):.0%} of it** (in absolute size)"
                     if abs(obj) + abs(image) > 0 else "neither part moved it")
            carried = (f" It decomposes exactly into the two parts above: pixels {image:+.4f} + objective and data "
                       f"{obj:+.4f}; {share}.")
        parts.append(_sentence(r, "**Multimodal vs textual, the question as asked**", "over the headline pairs run")
                     + "." + carried)
    absent = [c for c in q.headline_controls if _row(summary, "headline", (q.headline_treatment, c)) is None]
    if absent:
        parts.append(f"The seed's other best tasks ({', '.join(absent)}) are not in this run.")
    flagged = [g["detail"] and f"{arm} ({g['detail']})" for arm, g in gates.items() if g.get("learned") is False]
    passed = [f"{arm} ({g['detail']})" for arm, g in gates.items() if g.get("learned") is True]
    parts.append("Evidence gates (held-out items, tested): "
                 + (f"learned — {'; '.join(passed)}" if passed else "none passed")
                 + (f"; **did not learn its task — {'; '.join(flagged)}**: its rows are flagged and its verdicts read "
                    "'not interpreted'" if flagged else "") + ".")
    return " ".join(parts) + f" {CAVEATS[params.profile]}"


def _learned(training: pd.DataFrame, arm: str) -> str:
    """What the evidence lets ``arm``'s number show: its held-out task or image score, mean of its runs."""
    runs = training[training["arm"] == arm] if "arm" in training else training.iloc[:0]
    if not len(runs):
        return ""
    spec = parse_run(arm)[0]
    if spec.kind == "textual":
        parts = []
        for task in spec.tasks:
            col = f"heldout.{task}.{TASKS[task].metric}"
            trained, frozen = (float(runs[f"{col}.{k}"].mean()) for k in ("trained", "frozen_encoder"))
            passed = int((runs[f"{col}.learned"] >= 0.5).sum()) if f"{col}.learned" in runs else 0
            parts.append(f"{arm} held-out {task} {TASKS[task].metric} {trained:.3f} vs {frozen:.3f} for the frozen "
                         f"encoder with the same head (mean of {len(runs)} runs; exact McNemar p per run "
                         + ", ".join(_p(v) for v in runs.get(f"{col}.mcnemar_p", pd.Series(dtype=float)))
                         + f"): learned in {passed} of {len(runs)} runs")
        return "; ".join(parts)
    column = "heldout.r1_caption_to_image.true"
    if column in runs and runs[column].notna().all():
        return (f"{arm} held-out caption→image R@1 {runs[column].mean():.3f} vs chance "
                f"{runs['heldout.r1_chance'].mean():.3f}: it learned to match captions to their images (without a "
                "shuffled-image run, not whether its transfer uses what the images show)")
    return ""


def _family(summary: pd.DataFrame, role: str) -> str:
    """One sentence per declared family beyond the primary and the question (e.g. Tatoeba), from its rows."""
    rows = summary[(summary["role"] == role) & (summary["grouping"] == "overall")]
    if not len(rows):
        return ""
    score = SCORES[rows.iloc[0]["target"]][1]
    parts = []
    for _, r in rows.iterrows():
        head = f"{r['comparison']} **{r['margin']:+.4f}** ({int(r['treatment_runs'])} vs {int(r['control_runs'])} seeds)"
        parts.append(head + _test_clause(r, "within the family") + (f" [flagged: {r['flag']}]" if r["flag"] else ""))
    return (f"**{score.display}** over {int(rows.iloc[0]['n_languages'])} covered languages ({role} family, > 0: "
            f"the multimodal arm better): {'; '.join(parts)}.")


def _per_language(params: Params, tables: dict[str, pd.DataFrame], max_languages: int = 50) -> list[str]:
    """Each target with few enough languages: its main score per language and arm (mean of the arm's runs)."""
    out = []
    for spec in registry.active(params.profile):
        table = tables.get(spec.name)
        score = spec.shown(params)
        if table is None or score is None or table["language"].nunique() > max_languages:
            continue
        col = score.column
        wide = (table.assign(arm=[parse_run(r)[0].name for r in table["arm"]])
                .groupby(["language", "arm"])[col].mean().unstack("arm"))
        arms = list(dict.fromkeys(parse_run(r)[0].name for r in params.arms))
        wide = wide[[a for a in arms if a in wide.columns]].reset_index()
        out += [f"## {spec.display}: {score.display} by language", "",
                f"Mean over each arm's runs; {spec.protocol}; its bootstrap resamples {spec.resampled}. "
                f"Per run: `results/targets/{spec.name}.csv`.", "", markdown.table(wide), ""]
    return out


def _plan() -> list[str]:
    d = DECLARATION
    rows = pd.DataFrame([{"role": role, "comparison": c.name, "target": TARGET_NAMES.get(c.target, c.target),
                          "languages": c.languages, "smallest effect of interest": f"±{c.sesoi:g}"}
                         for role, c in d.roles if role != "question"]
                        + [{"role": "question", "comparison": f"every multimodal arm vs every textual arm "
                            f"({len(d.question.members)} further pairs)", "languages": d.question.languages,
                            "target": TARGET_NAMES.get(d.question.target, d.question.target),
                            "smallest effect of interest": f"±{d.question.sesoi:g}"}])
    targets: dict[tuple[float, str], list[str]] = {}
    for c in d.comparisons:
        names = targets.setdefault((c.sesoi, c.sesoi_reason), [])
        if TARGET_NAMES.get(c.target, c.target) not in names:
            names.append(TARGET_NAMES.get(c.target, c.target))
    reasons = [f"±{sesoi:g} ({', '.join(names)}): {reason}" for (sesoi, reason), names in targets.items()]
    history = [f"- {a.date}: declared {a.declared}. *Results seen by then*: {a.results_seen}." for a in HISTORY]
    return [
        "## The analysis plan and its history", "",
        f"`benchmark/analysis/declaration.py`, {declared_in()}. Not every part of it predates every result: "
        "each change is listed below with the results that had been seen when it was made. The sensitivity row "
        "(the positive control) and the primary are one hypothesis each; the secondary family, the question's "
        "headline pairs, the objective decomposition and the rest of the question's family are each "
        "Holm-adjusted within themselves. Every other row in this report is description.", "",
        *history, "",
        markdown.table(rows), "",
        f"- **Designated test**: two-sample Student t-test on run-level scores (each run's score macro-averaged over "
        f"the declared languages; pooled variance, df = n_t + n_c − 2), only when each arm has ≥ {d.min_seeds} "
        "runs; against the untrained baseline (one deterministic run) a one-sample t of the treatment's runs.",
        "- **Declared sensitivity analyses** beside it: Welch's unequal-variance t (the arms' run SDs differ) and "
        "the exact permutation of run labels; a verdict holds where they agree, else the more conservative one "
        "stands and the row names the disagreement. On simulated null experiments with this run's structure "
        "(`tests/test_calibration.py`) the pooled Student t's false-positive rate is above 5% when the SDs differ "
        "3.5-fold; Welch's is close to nominal.",
        f"- **Sensitivity**: the positive control must beat the baseline by a tested difference of at least "
        f"{d.sensitivity_multiple:g} × the primary's SESOI ({d.sensitivity_threshold:g}); otherwise no row is "
        "called equivalent.",
        f"- **Equivalence**: two one-sided tests at α = {d.alpha:g} against ± the smallest effect of interest; "
        f"**minimum detectable effect** at {d.power:.0%} power: (t₁₋α/₂ + t_power) × SE with the test's df.",
        *(f"- **Smallest effect of interest** {r}." for r in reasons),
        f"- **Intervals**: {d.confidence:.0%}; cluster bootstrap of FLORES articles, {d.n_boot} replicates, seed "
        f"{d.bootstrap_seed}, on seed-averaged scores, with the languages fixed and resampled.",
        "- **Single-seed comparisons** are descriptive: their interval covers item variance only; no p-value.", "",
    ]


def _declared_table(summary: pd.DataFrame) -> list[str]:
    rows = summary[summary["role"].isin(["sensitivity", "primary", *HOLM_FAMILIES])].copy()
    if not len(rows):
        return []
    rows["seeds"] = rows["treatment_runs"].astype(int).astype(str) + " vs " + rows["control_runs"].astype(int).astype(str)
    rows["margin [seed 95% CI]"] = [
        f"{r['margin']:+.4f} [{r['seed_ci_low']:+.4f}, {r['seed_ci_high']:+.4f}]" if r["seed_ci_low"] == r["seed_ci_low"]
        else f"{r['margin']:+.4f} (items only: [{r['ci_low']:+.4f}, {r['ci_high']:+.4f}])" for _, r in rows.iterrows()]
    rows["conclusion"] = [r["verdict"] + (f" — {r['verdict_note']}" if r["verdict_note"] == r["verdict_note"]
                                          and r["verdict_note"] else "") for _, r in rows.iterrows()]
    rows["target"] = rows["target"].map(lambda t: TARGET_NAMES.get(t, t))
    return ["## Declared comparisons (the only rows with p-values)", "",
            "A positive margin means the treatment did better. `p Holm` adjusts within each family (secondary, "
            "headline, objective, question, and each named family); the sensitivity and primary rows are one hypothesis "
            "each. Beside the designated Student t: Welch's t and the exact permutation of run labels (declared "
            "sensitivity analyses; with 3 vs 3 runs the permutation's smallest attainable p is 0.1 and its TOST's "
            "0.05, so it can confirm neither a difference nor equivalence). The conclusion is the verdict all of "
            "them support, else the more conservative one, with the disagreement named; 'equivalent' is withheld "
            "unless the positive control cleared its threshold; a row with an arm that did not learn its task is "
            "'not interpreted'. SD: run-to-run standard deviation of each arm's run scores.", "",
            markdown.table(rows, {"role": "role", "comparison": "comparison", "target": "target", "group": "languages",
                                  "seeds": "seeds", "margin [seed 95% CI]": "margin [seed 95% CI]",
                                  "treatment_sd": "SD t", "control_sd": "SD c", "test": "test",
                                  "p": "p", "p_holm": "p Holm", "welch_p": "Welch p", "perm_p": "perm p",
                                  "sesoi": "SESOI", "tost_p": "TOST p", "welch_tost_p": "Welch TOST p",
                                  "mde": "MDE (80%)", "conclusion": "conclusion"}), ""]


def _descriptive_table(summary: pd.DataFrame) -> list[str]:
    rows = summary[summary["grouping"] == "overall"].copy()
    rows["seeds"] = rows["treatment_runs"].astype(int).astype(str) + " vs " + rows["control_runs"].astype(int).astype(str)
    rows["margin [items CI]"] = rows.apply(_fmt_ci, axis=1)
    rows["[items + languages CI]"] = [f"[{a:+.4f}, {b:+.4f}]" for a, b in zip(rows["ci_low_languages"],
                                                                            rows["ci_high_languages"])]
    few = (rows[["treatment_runs", "control_runs"]].min(axis=1) < DECLARATION.min_seeds).to_numpy()
    rows["[seed CI]"] = [f"[{a:+.4f}, {b:+.4f}]" if a == a else "– (< 3 seeds per arm: items only)" if f
                         else "– (runs do not vary)" for a, b, f in zip(rows["seed_ci_low"], rows["seed_ci_high"], few)]
    rows["target"] = rows["target"].map(lambda t: TARGET_NAMES.get(t, t))
    return ["## Every comparison, described (no tests)", "",
            "Estimates and intervals only. *items CI*: FLORES articles resampled, languages fixed; *items + "
            "languages*: languages resampled too; *seed CI*: the run-level t interval, shown where each arm has "
            f"≥ {DECLARATION.min_seeds} seeds. A row with one seed per arm says nothing about another seed: its "
            "interval covers which sentences were tested, not which run was trained, and it is read as no effect "
            "either way. improved/hurt/tied count languages.", "",
            markdown.table(rows, {"comparison": "comparison", "target": "target", "group": "languages",
                                  "n_languages": "n", "seeds": "seeds", "margin [items CI]": "margin [items CI]",
                                  "[items + languages CI]": "[items + languages CI]", "[seed CI]": "[seed CI]",
                                  "improved": "improved", "hurt": "hurt", "tied": "tied", "role": "role"}), ""]


def _positive_learned(training: pd.DataFrame) -> list[str]:
    """The positive control's held-out translation retrieval, trained vs the pretrained encoder."""
    runs = training[training["kind"] == "positive"] if "kind" in training else training.iloc[:0]
    if not len(runs):
        return []
    table = pd.DataFrame({
        "run": runs["run"], "held-out lines": runs["heldout.parallel.lines"].astype(int),
        "cells (line × language)": runs["heldout.parallel.cells"].astype(int),
        "X→eng R@1 trained": runs["heldout.parallel_r1.trained"],
        "pretrained": runs["heldout.parallel_r1.frozen_encoder"],
        "trained only / pretrained only": [f"{int(a)} / {int(b)}" for a, b in
                                           zip(runs["heldout.parallel.trained_only"], runs["heldout.parallel.frozen_only"])],
        "McNemar p": runs["heldout.parallel.mcnemar_p"],
        "learned": ["yes" if v >= 0.5 else "**no**" for v in runs["heldout.parallel.learned"]]})
    return ["## Positive-control evidence (held-out FLORES articles, never trained on)", "",
            "The positive control trains on FLORES translations of lines that no target scores, from articles "
            "that hold no scored line; a fifth of those articles is held out whole. On them each (line, language) "
            "cell retrieves its English line among the held-out English lines, with the trained and the "
            "pretrained encoder; an exact McNemar test on the cells where they disagree.", "",
            markdown.table(table), ""]


def _image_use(training: pd.DataFrame) -> str:
    """One sentence per multimodal arm: its held-out score with the true image beside the deranged one."""
    parts = []
    for column, arm, what in (("heldout.r1_caption_to_image.true", "coco-contrastive", "caption→image R@1"),
                              ("heldout.mlm_accuracy", "coco-caption-mlm", "masked-token accuracy"),
                              ("heldout.vqa_accuracy", "vqa", "answer accuracy")):
        mine = training[training["arm"] == arm] if "arm" in training else training.iloc[:0]
        if not len(mine):
            continue
        if arm == "coco-contrastive":
            shuffled = training[training["arm"] == "coco-contrastive-shuffled"]
            other = (f"{shuffled[column].mean():.3f} for its shuffled-image control" if len(shuffled)
                     else "no shuffled control run")
            parts.append(f"coco-contrastive {what} {mine[column].mean():.3f} (chance "
                         f"{mine['heldout.r1_chance'].mean():.3f}; {other})")
        else:
            parts.append(f"{arm} {what} {mine[f'{column}.true'].mean():.3f} with its true image vs "
                         f"{mine[f'{column}.shuffled'].mean():.3f} with a deranged one")
    if not parts:
        return ""
    return ("What an arm's number may be said to show depends on whether it learned from the pixels at all "
            "(held-out COCO, mean over the arm's runs): " + "; ".join(parts) + ". An arm whose true-image score "
            "barely exceeds the deranged one is not evidence about images, whatever its transfer numbers.")


def _task_learned(training: pd.DataFrame) -> list[str]:
    """Each textual run's held-out English score per task beside chance and the frozen pretrained
    encoder with the same head, and its budget in rows and tokens (a k-choice example is k rows)."""
    text = training[training["kind"] == "textual"] if "kind" in training else training.iloc[:0]
    if not len(text):
        return []
    rows = []
    for _, r in text.iterrows():
        for task in parse_run(r["run"])[0].tasks:
            col = f"heldout.{task}.{TASKS[task].metric}"
            rows.append({"run": r["run"], "task": task, "metric": TASKS[task].metric, "trained": r[f"{col}.trained"],
                         "frozen encoder + same head": r[f"{col}.frozen_encoder"], "chance": r[f"{col}.chance"],
                         "trained only / frozen only": f"{int(r[f'{col}.trained_only'])} / {int(r[f'{col}.frozen_only'])}",
                         "difference [95% CI]": f"{r[f'{col}.trained'] - r[f'{col}.frozen_encoder']:+.3f} "
                                                f"[{r[f'{col}.diff_ci_low']:+.3f}, {r[f'{col}.diff_ci_high']:+.3f}]",
                         "McNemar p": r[f"{col}.mcnemar_p"], "learned": "yes" if r[f"{col}.learned"] >= 0.5 else "**no**",
                         "held-out items": int(r[f"heldout.{task}.examples"]),
                         "examples": int(r["examples"]), "encoder rows": int(r["rows"]),
                         "text tokens": int(r["text_tokens"]), "rows truncated": r[f"truncated_share.{task}"]})
    return ["## Task-learned evidence (held-out English items, never trained on)", "",
            "A textual arm's transfer number says something about its task only if it learned the task: on held-out "
            "items that share no source group with a training item (Cosmos QA: passage; HellaSwag: source clip), "
            "its head must beat the frozen pretrained encoder with the same head (fitted on a fixed subset of the "
            "task's training items with the same steps, rows per step and learning rate) by an exact McNemar test "
            "on the items where the two disagree (p < 0.05; the interval on the difference is the conditional exact "
            "one that agrees with it). An arm that fails in any run is flagged in every table. Budgets: every arm takes the same optimizer steps × encoder rows per step; a k-choice "
            "example is k rows, so it counts k times against the batch, and tokens differ with the tasks' "
            "lengths (shown; truncation at the shared max length too).", "", markdown.table(pd.DataFrame(rows)), ""]


def write_report(params: Params, training: pd.DataFrame, summary_by_run: dict[str, dict[str, float]],
                 tables: dict[str, pd.DataFrame]) -> str:
    """Write ``results/REPORT.md`` and its plots; return the headline paragraph."""
    margins_path = paths.RESULTS / "margins.csv"
    if not margins_path.exists():
        raise BenchmarkError(f"{margins_path}: missing; run the analysis stage first")
    summary = pd.read_csv(margins_path)
    for text in ("flag", "verdict", "verdict_note", "verdict_student"):  # empty cells read back as NaN
        summary[text] = summary[text].fillna("").astype(str)
    per_lang = pd.read_csv(paths.RESULTS / "margins_per_language.csv")
    analysis = json.loads((paths.METRICS / "analysis.json").read_text())
    lock = _lock_hashes()
    pair = " vs ".join(PRIMARY_COMPARISON)
    arm_of = {r: parse_run(r)[0].name for r in params.arms}
    other_families = [r for r in HOLM_FAMILIES if r not in ("secondary", "headline", "objective", "question")]
    families = [f for f in (_family(summary, role) for role in other_families) if f]
    headline = " ".join([_headline(params, summary, analysis["sensitivity"], analysis["gates"]), *families])  # one paragraph
    parts = ["# REPORT — does multimodal intermediate training improve zero-shot cross-lingual transfer?", "",
             headline, ""]
    primary_runs = [r for r in params.arms if arm_of[r] in PRIMARY_COMPARISON]
    parts += [f"Traceability: analysis MLflow run `{analysis['mlflow_run_id']}` (every number below, per "
              "language, is in `results/margins*.csv` and that run). The primary pair's retrieval predictions "
              "as recorded in `dvc.lock` (md5): "
              + ", ".join(f"`{r}` {lock.get(f'artifacts/predictions/{r}', '?')}" for r in primary_runs)
              + "; every other output's md5 is in `dvc.lock`.", ""]
    parts += _plan()
    parts += _choices(params, training)
    coco_runs = training[~training["kind"].isin(["baseline", "textual", "positive"])]
    ev_cols = {c: c.removeprefix("heldout.") for c in coco_runs.columns
               if c.startswith("heldout.") and coco_runs[c].notna().any()}
    parts += _task_learned(training)
    parts += _positive_learned(training)
    parts += ["## Image-use evidence (held-out COCO)", "",
              "If the images were ignored (e.g. zeros fed as features), the true-image columns would equal the "
              "shuffled/no-image ones.", "", _image_use(training), "",
              markdown.table(coco_runs, {"run": "run", **ev_cols}), ""]
    drift = _drift(summary_by_run)
    if len(drift):
        parts += ["## Drift: the change on English itself beside the cross-lingual change (vs baseline)", "",
                  "English retrieval has no English-to-English task, so English SIB accuracy (dev and test) is "
                  "the in-language yardstick; xsim error falls when retrieval improves. One row per run: "
                  "descriptive.", "",
                  markdown.table(drift), ""]
    parts += _declared_table(summary)
    parts += _per_language(params, tables)
    parts += _descriptive_table(summary)
    groups = summary[(summary["comparison"] == pair) & (summary["target"] == DECLARATION.primary.target)
                     & (summary["grouping"] != "overall")]
    if len(groups):
        _plot_groups(groups, paths.RESULTS / "report_groups.png")
        _plot_primary(per_lang[(per_lang["comparison"] == pair) & (per_lang["target"] == DECLARATION.primary.target)],
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
