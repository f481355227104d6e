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

from benchmark.analysis.declaration import DECLARATION, declared_in
from benchmark.analysis.margins import HOLM_FAMILIES, PRIMARY_COMPARISON
from benchmark.analysis.stats import TIE_TOL
from benchmark.arms import parse_run
from benchmark.config import Params
from benchmark.data.tasks import TASKS
from benchmark.io import BenchmarkError, atomic_path
from benchmark.pipeline import paths
from benchmark.report import markdown
from benchmark.report.figures import plt, save_note, save_png
from benchmark.targets import registry
from benchmark.targets.registry import SCORES

CAVEATS = {
    "mini": ("`mini` is a demonstration on a small, already-aligned encoder (multilingual-e5-small) with a few "
             "hundred COCO images and only its top layer trained. Its textual arms are the two X-STILTs tasks the "
             "offline bundle holds (HellaSwag, Cosmos QA; each trained on the first 400 of its validation items "
             "outside a held-out tenth, since no train split was obtainable); MNLI, SQuAD, QQP, CommonsenseQA, ANLI+ and CCG are "
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
    rows = []
    for run, m in summary.items():
        rows.append({"run": run,
                     "Δ SIB eng dev": m["sib.english_dev_accuracy"] - base["sib.english_dev_accuracy"],
                     "Δ SIB eng test": m["sib.english_test_accuracy"] - base["sib.english_test_accuracy"],
                     "Δ SIB mean (all languages)": m["sib.mean_accuracy"] - base["sib.mean_accuracy"],
                     **{f"Δ {t.main.display} (all)": m[k] - base[k] for t in registry.TARGETS.values()
                        if t.name != "sib" and (k := f"{t.name}.mean_{t.main.column}") in m}})
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
        f"- **Targets** (`benchmark targets`): xsim error (LASER) with cosine and ratio-margin scoring "
        f"(k={params.targets.retrieval.margin_k}) against `{params.targets.retrieval.pivot}`; SIB-200 "
        f"logistic-regression probe on frozen embeddings, trained on English train only, C from "
        f"{list(params.targets.sib.c_grid)} chosen by English dev log-loss"
        + ("; SIB-200's fine-tuning protocol beside it" if params.targets.sib.finetune
           else "; SIB-200's fine-tuning protocol is off in this profile (`targets.sib.finetune`)")
        + "".join(f"; {t.display}: {t.protocol}, {t.embeds}; its item bootstrap resamples {t.resampled}"
                  for t in registry.active(params.profile) if t.name not in ("retrieval", "sib")) + ".",
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


def _verdict(r: pd.Series, p_col: str = "p") -> str:
    """What a declared row may be said to show, from its designated test and its TOST."""
    if r["p"] != r["p"]:
        return "not tested (descriptive)"
    if r[p_col] < DECLARATION.alpha:
        better = "treatment" if r["margin"] > 0 else "control"
        if r["tost_p"] < DECLARATION.alpha:  # detectable, yet inside the band that would not change the answer
            return f"a difference ({better} better) smaller than ±{r['sesoi']:g}"
        return f"difference ({better} better)"
    if r["tost_p"] < DECLARATION.alpha:
        return f"equivalent within ±{r['sesoi']:g}"
    return "inconclusive"


def _headline(params: Params, summary: pd.DataFrame) -> str:
    pair = " vs ".join(PRIMARY_COMPARISON)
    primary = summary[summary["role"] == "primary"]
    arm_of = {r: parse_run(r)[0].name for r in params.arms}
    missing = [a for a in PRIMARY_COMPARISON if a not in arm_of.values()]
    if missing:
        return (f"No primary comparison: params `arms` ({', '.join(params.arms)}) have no run of "
                f"{' or '.join(missing)}, so this report has only the comparisons below.")
    p = primary.iloc[0]
    d = DECLARATION.primary
    all_langs = summary[(summary["comparison"] == pair) & (summary["target"] == p["target"])
                        & (summary["group"] == "all")].iloc[0]
    lead = (f"**Answer ({params.profile} profile; the analysis plan below was declared before this run).** On "
            f"FLORES-200 X→eng bitext retrieval (LASER's xsim error, ratio-margin scoring, k = "
            f"{params.targets.retrieval.margin_k}), macro-averaged over the {int(p['n_languages'])} languages the "
            "tokenizer covers (< 5% `<unk>` tokens in that language's sentences), training on image–caption pairs "
            "(coco-contrastive) instead of caption–caption pairs of the same captions (caption-contrastive) changes "
            f"the error by **{p['margin']:+.4f}** (text-arm error − multimodal-arm error; > 0 means the images "
            f"helped), {int(p['treatment_runs'])} vs {int(p['control_runs'])} trained runs (seeds). ")
    if p["p"] != p["p"]:  # the row's `test` says why: too few seeds, or runs that do not vary
        return lead + (f"Descriptive only, no test ({p['test'].removeprefix('none: ')}): the item interval "
                       f"[{p['ci_low']:+.4f}, {p['ci_high']:+.4f}] covers which sentences were tested, not which "
                       f"seed was trained. {CAVEATS[params.profile]}")
    verdict = {
        "difference": f"The runs of the two arms differ (p = {p['p']:.3g} < {DECLARATION.alpha:g}).",
        "equivalent": (f"No effect as large as the smallest effect of interest: the images change the error by "
                       f"less than ±{d.sesoi:g} (equivalence by two one-sided tests, p = {p['tost_p']:.3g})."),
        "inconclusive": (f"Inconclusive: neither a difference (p = {p['p']:.3g}) nor equivalence within "
                         f"±{d.sesoi:g} (TOST p = {p['tost_p']:.3g}) is shown."),
    }[_verdict(p).split(" ")[0]]
    return lead + (
        f"{verdict} Designated test: run-level two-sample t-test (df = {int(p['df'])}; each run's macro score is "
        f"one observation): 95% CI [{p['seed_ci_low']:+.4f}, {p['seed_ci_high']:+.4f}], p = {p['p']:.3g}; "
        f"TOST against ±{d.sesoi:g}: p = {p['tost_p']:.3g}; minimum detectable effect at "
        f"{DECLARATION.power:.0%} power: {p['mde']:.4f}. It infers to new training seeds on these sentences and "
        f"languages. Which sentences and languages were tested, on the seed-averaged scores (cluster bootstrap of "
        f"FLORES articles, {int(p['n_boot'])} replicates): languages fixed [{p['ci_low']:+.4f}, "
        f"{p['ci_high']:+.4f}] (inference to these {int(p['n_languages'])}); languages resampled too "
        f"[{p['ci_low_languages']:+.4f}, {p['ci_high_languages']:+.4f}] (inference to languages like these). "
        f"Descriptively, {int(p['improved'])} languages improved, {int(p['hurt'])} got worse and {int(p['tied'])} "
        f"tied (languages share the runs, so they are not tested as units). Over all "
        f"{int(all_langs['n_languages'])} languages: {all_langs['margin']:+.4f}. Base encoder "
        f"{params.encoder.name}; {CAVEATS[params.profile]}")


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
            trained, frozen, chance = (float(runs[f"{col}.{k}"].mean()) for k in ("trained", "frozen_encoder", "chance"))
            learned = trained > frozen and trained > chance
            parts.append(f"{arm} held-out {task} {TASKS[task].metric} {trained:.3f} vs {frozen:.3f} for the frozen "
                         f"encoder with the same head and {chance:.3f} chance: "
                         + ("above both, so it learned its task" if learned else "not above both, so its number "
                            "says nothing about what the task teaches"))
        return "; ".join(parts)
    column = "heldout.r1_caption_to_image.true"
    if column in runs and runs[column].notna().all():
        return (f"{arm} held-out caption→image R@1 {runs[column].mean():.3f} vs chance "
                f"{runs['heldout.r1_chance'].mean():.3f}: it uses its images")
    return ""


def _test_clause(r: pd.Series, holm: str, test: str = "", mde: bool = False) -> str:
    """What a declared row's test says: its run-level interval, p (and Holm's), TOST and verdict; or why
    there is no test, with the items interval."""
    if r["p"] != r["p"]:
        return f", no test ({r['test'].removeprefix('none: ')}); items interval [{r['ci_low']:+.4f}, {r['ci_high']:+.4f}]"
    return (f", 95% CI [{r['seed_ci_low']:+.4f}, {r['seed_ci_high']:+.4f}], {test}p = {r['p']:.3g} (Holm {holm}: "
            f"{r['p_holm']:.3g}), TOST against ±{r['sesoi']:g}: p = {r['tost_p']:.3g}"
            + (f", MDE {r['mde']:.4f}" if mde else "") + f"; **{_verdict(r, 'p_holm')}**")


def _question(params: Params, summary: pd.DataFrame, training: pd.DataFrame) -> str:
    """The research question as asked: the multimodal arm with proven image use vs the textual tasks
    the seed found best (the declaration's headline pairs that this run has), with what each arm's
    evidence lets it show and where each stands against the untrained baseline."""
    q = DECLARATION.question
    rows = summary[(summary["role"] == "headline") & (summary["grouping"] == "overall")]
    if not len(rows):
        return (f"**Multimodal vs textual intermediate tasks**: not answered by this run: params `arms` have no "
                f"run of {q.headline_treatment} together with any of {', '.join(q.headline_controls)}.")
    absent = [c for c in q.headline_controls if c not in set(rows["control"])]
    parts = []
    for _, r in rows.iterrows():
        head = (f"{r['treatment']} vs {r['control']}: **{r['margin']:+.4f}** ({int(r['treatment_runs'])} vs "
                f"{int(r['control_runs'])} seeds; > 0: the multimodal arm retrieves better)")
        parts.append(head + _test_clause(r, "over the headline pairs run", test="run-level t-test ", mde=True))
    arms = list(dict.fromkeys([*rows["treatment"], *rows["control"]]))
    evidence = [e for e in (_learned(training, a) for a in arms) if e]
    base = summary[(summary["control"] == "baseline") & summary["treatment"].isin(arms)
                   & (summary["target"] == q.target) & (summary["grouping"] == "overall")
                   & (summary["group"] == q.languages)]
    against = [f"{r['treatment']} {r['margin']:+.4f} [{r['ci_low']:+.4f}, {r['ci_high']:+.4f}]" for _, r in base.iterrows()]
    return ("**Multimodal vs textual intermediate tasks** (the question as asked; same target, languages, budget "
            f"and designated test): {'; '.join(parts)}."
            + (f" Evidence: {'; '.join(evidence)}." if evidence else "")
            + (" Against the untrained baseline (descriptive; > 0: better than no intermediate training, items "
               f"interval): {', '.join(against)}; the pair's margin is the first minus the second." if against else "")
            + (f" The seed's other best tasks ({', '.join(absent)}) are not in this run." if absent else "")
            + " Every other multimodal × textual pair is in the table of declared comparisons (role `question`).")


def _family(summary: pd.DataFrame, role: str) -> str:
    """One sentence per declared family beyond the primary and the question (e.g. Tatoeba), from its rows."""
    rows = summary[(summary["role"] == role) & (summary["grouping"] == "overall")]
    if not len(rows):
        return ""
    score = SCORES[rows.iloc[0]["target"]][1]
    parts = []
    for _, r in rows.iterrows():
        head = f"{r['comparison']} **{r['margin']:+.4f}** ({int(r['treatment_runs'])} vs {int(r['control_runs'])} seeds)"
        parts.append(head + _test_clause(r, "within the family"))
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
    return [
        "## The analysis plan (declared before results)", "",
        f"`benchmark/analysis/declaration.py`, {declared_in()}. The primary comparison is unadjusted; the "
        "secondary family, the question's headline pairs and the rest of the question's family are each "
        "Holm-adjusted within themselves. Every other row in this report is description.", "",
        markdown.table(rows), "",
        f"- **Designated test**: two-sample Student t-test on run-level scores (each run's score macro-averaged over "
        f"the declared languages; pooled variance, df = n_t + n_c − 2), only when each arm has ≥ {d.min_seeds} "
        "runs. With 3 seeds per arm an exact permutation of run labels has 20 relabellings and cannot go below "
        "p = 0.1, and a bootstrap over 3 seeds shrinks their variance by a third: the t-test uses the runs' own "
        "variance with the small-sample quantiles (its false-positive rate on simulated null experiments with "
        "shared items and seed variance: `tests/test_calibration.py`).",
        f"- **Equivalence**: two one-sided t-tests at α = {d.alpha:g} against ± the smallest effect of interest; "
        f"**minimum detectable effect** at {d.power:.0%} power: (t₁₋α/₂ + t_power) × SE with the test's df.",
        *(f"- **Smallest effect of interest** {r}." for r in reasons),
        f"- **Intervals**: {d.confidence:.0%}; cluster bootstrap of FLORES articles, {d.n_boot} replicates, seed "
        f"{d.bootstrap_seed}, on seed-averaged scores, with the languages fixed and resampled.",
        "- **Single-seed comparisons** are descriptive: their interval covers item variance only; no p-value.", "",
    ]


def _declared_table(summary: pd.DataFrame) -> list[str]:
    rows = summary[summary["role"].isin(["primary", *HOLM_FAMILIES])].copy()
    if not len(rows):
        return []
    rows["seeds"] = rows["treatment_runs"].astype(int).astype(str) + " vs " + rows["control_runs"].astype(int).astype(str)
    rows["margin [seed 95% CI]"] = [
        f"{r['margin']:+.4f} [{r['seed_ci_low']:+.4f}, {r['seed_ci_high']:+.4f}]" if r["seed_ci_low"] == r["seed_ci_low"]
        else f"{r['margin']:+.4f} (items only: [{r['ci_low']:+.4f}, {r['ci_high']:+.4f}])" for _, r in rows.iterrows()]
    rows["conclusion"] = [_verdict(r, "p_holm") for _, r in rows.iterrows()]
    rows["target"] = rows["target"].map(lambda t: TARGET_NAMES.get(t, t))
    return ["## Declared comparisons (the only rows with p-values)", "",
            "A positive margin means the treatment did better. `p Holm` adjusts within each family (secondary, "
            "headline, question); the primary is one hypothesis. TOST: equivalence within ± the smallest effect of interest (unadjusted).", "",
            markdown.table(rows, {"role": "role", "comparison": "comparison", "target": "target", "group": "languages",
                                  "seeds": "seeds", "margin [seed 95% CI]": "margin [seed 95% CI]", "test": "test",
                                  "p": "p", "p_holm": "p Holm", "sesoi": "SESOI", "tost_p": "TOST p",
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
                         "held-out items": int(r[f"heldout.{task}.examples"]),
                         "examples": int(r["examples"]), "encoder rows": int(r["rows"]),
                         "text tokens": int(r["text_tokens"]), "rows truncated": r[f"truncated_share.{task}"]})
    return ["## Task-learned evidence (held-out English items, never trained on)", "",
            "A textual arm's transfer number says something about its task only if it learned the task: its "
            "held-out score must clear both chance and the frozen pretrained encoder with the same head (fitted "
            "on a fixed subset of the task's training items with the same steps, rows per step and learning "
            "rate). Budgets: every arm takes the same optimizer steps × encoder rows per step; a k-choice "
            "example is k rows, so it counts k times against the batch, and tokens differ with the tasks' "
            "lengths (shown; truncation at the shared max length too).", "", markdown.table(pd.DataFrame(rows)), ""]


def write_report(params: Params, training: pd.DataFrame, summary_by_run: dict[str, dict[str, float]],
                 tables: dict[str, pd.DataFrame]) -> str:
    """Write ``results/REPORT.md`` and its plots; return the headline paragraph."""
    margins_path = paths.RESULTS / "margins.csv"
    if not margins_path.exists():
        raise BenchmarkError(f"{margins_path}: missing; run the analysis stage first")
    summary = pd.read_csv(margins_path)
    per_lang = pd.read_csv(paths.RESULTS / "margins_per_language.csv")
    analysis = json.loads((paths.METRICS / "analysis.json").read_text())
    lock = _lock_hashes()
    pair = " vs ".join(PRIMARY_COMPARISON)
    arm_of = {r: parse_run(r)[0].name for r in params.arms}
    other_families = [r for r in HOLM_FAMILIES if r not in ("secondary", "headline", "question")]
    families = [f for f in (_family(summary, role) for role in other_families) if f]
    headline = " ".join([_headline(params, summary), _question(params, summary, training), *families])  # one paragraph
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
    coco_runs = training[~training["kind"].isin(["baseline", "textual"])]
    ev_cols = {c: c.removeprefix("heldout.") for c in coco_runs.columns
               if c.startswith("heldout.") and coco_runs[c].notna().any()}
    parts += _task_learned(training)
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
