"""English textual intermediate tasks of X-STILTs (Phang et al., 2020): the registry of their specs.

**What the paper says, and what could be read of it here.** The paper is Phang, Calixto, Htut,
Pruksachatkun, Liu, Vania, Kann, Bowman, "English Intermediate-Task Training Improves Zero-Shot
Cross-Lingual Transfer Too", AACL 2020, arXiv:2005.13013v3 (code: nyu-mll/jiant). Only its
*abstract* and the start of the Introduction could be read offline (the stored copy of
https://www.arxiv-vanity.com/papers/2005.13013/ gave only its beginning; same abstract at
http://aacl2020.org/accepted/299.html). The section that lists the intermediate tasks (§3.1
"Intermediate Tasks" or similar) could NOT be found, so the following are **not** confirmed from
the paper's own text: six of the task names, which SQuAD version, what ANLI+ combines, and the CCG
source. What the abstract does say, verbatim:

    "Using nine intermediate language-understanding tasks, we evaluate intermediate-task transfer
    in a zero-shot cross-lingual setting on the XTREME benchmark. [...] MNLI, SQuAD and HellaSwag
    achieve the best overall results as intermediate tasks"

So *nine* tasks, three of them named (MNLI, SQuAD, HellaSwag). The other six and the details come
from the lead's list (ANLI+ = ANLI + MNLI + SNLI, QQP, SST-2, CCG, CommonsenseQA, Cosmos QA),
checked against the authors' code only: jiant's X-STILTs guide (``guides/projects/xstilts.md``)
trains ``--tasks mnli,squad_v1`` (SQuAD **v1.1**), and jiant supports every one of the nine
(``guides/tasks/supported_tasks.md``: ``adversarial_nli``, ``mnli``, ``snli``, ``qqp``, ``sst``,
``ccg``, ``commonsenseqa``, ``cosmosqa``, ``hellaswag``, ``squad_v1``). jiant's ``ccg`` task reads
CCGbank-derived supertags (1363 tags, ``CCGTask.num_labels``); CCGbank (LDC2005T13) is the assumed
source. An earlier version of the paper (v1, May 2020) used 7 intermediate tasks.

With the specs, the deterministic held-out rule (:func:`split_of`, :func:`group_keys`: which items
share a source). Reading, normalizing and validating the tables is :mod:`benchmark.data.task_tables`:
this module is what the schema and the arms import.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Sequence
from typing import Annotated, Any, Literal

import pandas as pd
from pydantic import Field, StringConstraints, model_validator

from benchmark.data.lock import key_of, locked
from benchmark.data.spec import Commit, RelPath
from benchmark.schema import Frozen, Registry, declare, plugins

PAPER = (
    "Jason Phang, Iacer Calixto, Phu Mon Htut, Yada Pruksachatkun, Haokun Liu, Clara Vania, Katharina Kann, "
    "Samuel R. Bowman. English Intermediate-Task Training Improves Zero-Shot Cross-Lingual Transfer Too. "
    "AACL-IJCNLP 2020, arXiv:2005.13013v3. Task list: abstract ('nine intermediate language-understanding "
    "tasks'; MNLI, SQuAD, HellaSwag named); the intermediate-task section (§3.1) could not be read offline."
)

Format = Literal["single", "pair", "choice", "span", "tagging"]
Metric = Literal["accuracy", "squad_f1"]
Source = Literal["bundle", "hub"]
# Which items share a source and so must fall on one side of a split (module docstring, "Groups").
GroupBy = Literal["item", "premise", "passage", "clip"]
GROUP_FORMATS: dict[str, tuple[str, ...]] = {  # the formats whose columns each rule reads
    "item": ("single", "pair", "choice", "span", "tagging"), "premise": ("pair",),
    "passage": ("choice", "span"), "clip": ("choice",),
}
CLIP_PREFIX_WORDS = 12  # HellaSwag: same first 12 words of "activity_label: ctx" -> same clip
CLIP_SENTENCE_WORDS = 3  # HellaSwag: a shared complete sentence of >= 3 words (same label) -> same clip
# One mapping function per upstream column layout (MAPPERS); ANLI+ mixes three of them.
Layout = Literal[
    "glue_mnli", "glue_qqp", "glue_sst2", "anli", "snli", "commonsense_qa", "cosmos_qa", "hellaswag",
    "squad", "ccg_tokens_tags",
]  # fmt: skip

COLUMNS: dict[str, tuple[str, ...]] = {
    "single": ("id", "text", "label"),
    "pair": ("id", "text", "text_pair", "label"),
    "choice": ("id", "context", "choices", "label"),
    "span": ("id", "context", "question", "answer_start", "answer_text", "answers"),
    "tagging": ("id", "tokens", "tags"),
}
SPLITS: tuple[str, ...] = ("train", "heldout")

TaskName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$")]
HubRepo = Annotated[str, StringConstraints(pattern=r"^[\w.-]+/[\w.-]+$")]
Text = Annotated[str, StringConstraints(min_length=1)]


class HubPin(Frozen):
    """One upstream Hugging Face dataset at a full commit SHA, or explicitly unresolved.

    ``heldout_split`` None: the pin only adds training data (MNLI and SNLI inside ANLI+)."""

    name: TaskName  # prefixes item ids when a task concatenates several pins
    repo: HubRepo | None  # None only where no Hub copy exists at all (CCGbank)
    revision: Commit | None = None
    revision_unresolved: Text | None = None  # why no full SHA is pinned, and what would resolve it
    config: str | None = None
    layout: Layout
    train_split: Text
    heldout_split: Text | None
    note: str = ""
    ref: Text = "main"  # the branch `benchmark lock` resolves to a commit where no revision is pinned

    @model_validator(mode="after")
    def _exactly_one_revision(self) -> HubPin:
        if (self.revision is None) == (self.revision_unresolved is None):
            raise ValueError("give exactly one of revision (40-hex commit) and revision_unresolved")
        if self.repo is None and self.revision is not None:
            raise ValueError("a revision needs a repo")
        return self

    @property
    def copy_name(self) -> str:
        """The repository's name in the lock and under ``data/full/hub``: ``none/<name>`` where no public
        copy exists (a lab locks its licensed copy under that key: ``benchmark lock --source``)."""
        return self.repo or f"none/{self.name}"

    @property
    def lock_key(self) -> str:
        return key_of("hf-dataset", self.copy_name)  # a commit is repository-wide

    @property
    def commit(self) -> str | None:
        """The pinned revision, else the one ``benchmark lock`` recorded, else None."""
        entry = locked(self.lock_key) if self.revision is None else None
        return self.revision or (entry.resolved if entry else None)

    @property
    def resolved(self) -> bool:
        return self.commit is not None

    def where(self, split: str) -> str:
        return f"{self.copy_name}@{self.commit or 'unresolved'}/{split}"


class TaskSpec(Frozen):
    """Typed, validated description of one intermediate task."""

    name: TaskName
    paper_name: Text
    description: Text
    format: Format
    num_labels: Annotated[int, Field(ge=0)]  # classes, choices, or tag-set size; 0 for span
    metric: Metric
    chance: Annotated[float, Field(ge=0.0, le=1.0)]
    license: Text
    license_url: Text
    citation: Text
    homepage: Text
    languages: tuple[str, ...] = ("eng",)
    upstream: Annotated[tuple[HubPin, ...], Field(min_length=1)]
    group_by: GroupBy  # which items share a source (module docstring, "Groups")
    bundled: RelPath | None = None
    heldout_share: Annotated[float, Field(gt=0.0, lt=1.0)] | None = None

    @model_validator(mode="after")
    def _consistent(self) -> TaskSpec:
        if self.format == "span":
            if (self.num_labels, self.metric, self.chance) != (0, "squad_f1", 0.0):
                raise ValueError("span tasks have num_labels 0, metric squad_f1, chance 0.0")
        else:
            if self.num_labels < 2 or self.metric != "accuracy":
                raise ValueError("non-span tasks need num_labels >= 2 and metric accuracy")
            # A uniform guess over the classes (or choices, or tags) is right 1/num_labels of the time.
            if not math.isclose(self.chance, 1.0 / self.num_labels, rel_tol=1e-9):
                raise ValueError(f"chance must be 1/num_labels = {1.0 / self.num_labels}")
        if not any(p.heldout_split for p in self.upstream):
            raise ValueError("at least one upstream pin must name a heldout split")
        if len({p.name for p in self.upstream}) != len(self.upstream):
            raise ValueError("upstream pin names must be unique")
        if (self.bundled is None) != (self.heldout_share is None):
            raise ValueError("bundled and heldout_share go together")
        if self.format not in GROUP_FORMATS[self.group_by]:
            raise ValueError(f"group_by {self.group_by!r} needs format {' or '.join(GROUP_FORMATS[self.group_by])}")
        return self

    @property
    def rows_per_example(self) -> int:
        """Encoder rows one example takes: k for a k-way choice (each choice is its own row), else 1."""
        return self.num_labels if self.format == "choice" else 1

    @property
    def resolved(self) -> bool:
        return all(p.resolved for p in self.upstream)


# --- the registry --------------------------------------------------------------------------------

# Full commit SHAs, each read from its huggingface.co commit or tree page. The glue, anli and snli
# commits are the parquet conversions that also deleted the loading script (datasets>=4 refuses to
# run scripts); for Rowan/hellaswag see its pin's note.
GLUE_REPO, GLUE_REV = "nyu-mll/glue", "a3f3ab759b9d7018046ce361f115ef38276d2e1e"  # Convert dataset to Parquet (#16)
ANLI_REPO, ANLI_REV = "facebook/anli", "8e4813d81f46d313dac7892e1c28076917cfcdf9"  # Convert dataset to Parquet (#5)
SNLI_REPO, SNLI_REV = "stanfordnlp/snli", "cdb5c3d5eed6ead6e5a341c8e56e669bb666725b"  # Convert dataset to Parquet (#6)
HELLASWAG_REPO, HELLASWAG_REV = "Rowan/hellaswag", "9c75cc00ec2e1f93893cbd25ba617ee30eb70d88"
COSMOSQA_LICENSE_COMMIT = "2605bbb672ca4cd748081c6c56458369a25118da"  # allenai/cosmos_qa: license added

_MNLI_LICENSE = "OANC license (most genres); fiction under CC BY-SA 3.0, CC BY 3.0 or public domain"
_MNLI_CITATION = (
    "@inproceedings{williams2018mnli, title={A Broad-Coverage Challenge Corpus for Sentence Understanding "
    "through Inference}, author={Williams, Adina and Nangia, Nikita and Bowman, Samuel R.}, booktitle={NAACL}, "
    "year={2018}}"
)
_GLUE_CITATION = (
    "@inproceedings{wang2019glue, title={GLUE: A Multi-Task Benchmark and Analysis Platform for Natural "
    "Language Understanding}, author={Wang, Alex and Singh, Amanpreet and Michael, Julian and Hill, Felix and "
    "Levy, Omer and Bowman, Samuel R.}, booktitle={ICLR}, year={2019}}"
)


def _glue(name: str, layout: Layout, heldout: str | None) -> HubPin:
    return HubPin(name=name, repo=GLUE_REPO, revision=GLUE_REV, config=name, layout=layout,
                  train_split="train", heldout_split=heldout)  # fmt: skip


def _anli(r: int) -> HubPin:
    return HubPin(name=f"anli_r{r}", repo=ANLI_REPO, revision=ANLI_REV, config="plain_text", layout="anli",
                  train_split=f"train_r{r}", heldout_split=f"dev_r{r}")  # fmt: skip


_TASK_LIST: tuple[TaskSpec, ...] = (
    declare(
        TaskSpec,
        name="anli_plus",
        paper_name="ANLI+",
        description=(
            "Adversarial NLI rounds 1-3 with the MNLI and SNLI training sets added (3-way entailment). "
            "Held out: ANLI dev r1-r3; MNLI and SNLI contribute training data only; SNLI items without "
            "a gold label (label -1) are dropped."
        ),
        format="pair",
        num_labels=3,
        metric="accuracy",
        chance=1 / 3,
        license=f"ANLI: CC BY-NC 4.0; SNLI: CC BY-SA 4.0; MNLI: {_MNLI_LICENSE}",
        license_url="https://creativecommons.org/licenses/by-nc/4.0/",
        citation=(
            "@inproceedings{nie2020anli, title={Adversarial NLI: A New Benchmark for Natural Language "
            "Understanding}, author={Nie, Yixin and Williams, Adina and Dinan, Emily and Bansal, Mohit and "
            "Weston, Jason and Kiela, Douwe}, booktitle={ACL}, year={2020}} "
            "@inproceedings{bowman2015snli, title={A large annotated corpus for learning natural language "
            "inference}, author={Bowman, Samuel R. and Angeli, Gabor and Potts, Christopher and Manning, "
            f"Christopher D.}}, booktitle={{EMNLP}}, year={{2015}}}} {_MNLI_CITATION}"
        ),
        homepage="https://github.com/facebookresearch/anli",
        group_by="premise",  # ANLI, MNLI and SNLI each write several hypotheses per premise
        upstream=(
            _anli(1), _anli(2), _anli(3),
            _glue("mnli", "glue_mnli", None),
            HubPin(name="snli", repo=SNLI_REPO, revision=SNLI_REV, config="plain_text", layout="snli",
                   train_split="train", heldout_split=None),
        ),
    ),
    declare(
        TaskSpec,
        name="mnli",
        paper_name="MNLI",
        description=(
            "MultiNLI: 3-way entailment (0 entailment, 1 neutral, 2 contradiction); held out: validation_matched."
        ),
        format="pair",
        num_labels=3,
        metric="accuracy",
        chance=1 / 3,
        license=_MNLI_LICENSE,
        license_url="https://cims.nyu.edu/~sbowman/multinli/",
        citation=_MNLI_CITATION,
        homepage="https://cims.nyu.edu/~sbowman/multinli/",
        group_by="premise",  # three hypotheses were written per premise
        upstream=(_glue("mnli", "glue_mnli", "validation_matched"),),
    ),
    declare(
        TaskSpec,
        name="qqp",
        paper_name="QQP",
        description="Quora Question Pairs: are two questions paraphrases (0 no, 1 yes); held out: GLUE validation.",
        format="pair",
        num_labels=2,
        metric="accuracy",
        chance=0.5,
        license="no dataset license; Quora Terms of Service (as distributed by GLUE)",
        license_url="https://www.quora.com/about/tos",
        citation=_GLUE_CITATION,
        homepage="https://gluebenchmark.com/tasks",
        group_by="item",  # questions recur across pairs, but the official data marks no group
        upstream=(_glue("qqp", "glue_qqp", "validation"),),
    ),
    declare(
        TaskSpec,
        name="sst2",
        paper_name="SST-2",
        description=(
            "Stanford Sentiment Treebank, binary sentence sentiment (0 negative, 1 positive); held out: GLUE "
            "validation."
        ),
        format="single",
        num_labels=2,
        metric="accuracy",
        chance=0.5,
        license="no explicit license (Stanford Sentiment Treebank research release): never bundled",
        license_url="https://nlp.stanford.edu/sentiment/",
        citation=(
            "@inproceedings{socher2013sst, title={Recursive Deep Models for Semantic Compositionality Over a "
            "Sentiment Treebank}, author={Socher, Richard and Perelygin, Alex and Wu, Jean and Chuang, Jason and "
            "Manning, Christopher D. and Ng, Andrew and Potts, Christopher}, booktitle={EMNLP}, year={2013}}"
        ),
        homepage="https://nlp.stanford.edu/sentiment/",
        group_by="item",  # one sentence per item; GLUE's copy keeps no review id
        upstream=(_glue("sst2", "glue_sst2", "validation"),),
    ),
    declare(
        TaskSpec,
        name="ccg",
        paper_name="CCG",
        description=(
            "CCG supertagging: one supertag per token, 1363 tags as in jiant's ccg task (CCGbank-derived). "
            "Assumed layout: tokens (list of str) and tags (list of int tag ids in jiant's numbering)."
        ),
        format="tagging",
        num_labels=1363,
        metric="accuracy",
        chance=1 / 1363,
        license="LDC User Agreement (CCGbank, LDC2005T13): not redistributable",
        license_url="https://catalog.ldc.upenn.edu/LDC2005T13",
        citation=(
            "@article{hockenmaier2007ccgbank, title={CCGbank: A Corpus of CCG Derivations and Dependency "
            "Structures Extracted from the Penn Treebank}, author={Hockenmaier, Julia and Steedman, Mark}, "
            "journal={Computational Linguistics}, volume={33}, number={3}, pages={355--396}, year={2007}}"
        ),
        homepage="https://catalog.ldc.upenn.edu/LDC2005T13",
        group_by="item",  # one sentence per item; the official split is by WSJ section
        upstream=(
            HubPin(
                name="ccgbank", repo=None, layout="ccg_tokens_tags", train_split="train", heldout_split="validation",
                revision_unresolved=(
                    "CCGbank is LDC-licensed and has no public Hub copy; lock a licensed parquet copy (tokens, "
                    "tags) from your own Hub repository: `benchmark lock --source hf-dataset:none/ccgbank=ORG/REPO`"
                ),
            ),
        ),
    ),
    declare(
        TaskSpec,
        name="commonsenseqa",
        paper_name="CommonsenseQA",
        description="CommonsenseQA: 5-way multiple-choice commonsense questions; held out: validation.",
        format="choice",
        num_labels=5,
        metric="accuracy",
        chance=0.2,
        license="MIT",
        license_url="https://opensource.org/licenses/MIT",
        citation=(
            "@inproceedings{talmor2019commonsenseqa, title={CommonsenseQA: A Question Answering Challenge "
            "Targeting Commonsense Knowledge}, author={Talmor, Alon and Herzig, Jonathan and Lourie, Nicholas and "
            "Berant, Jonathan}, booktitle={NAACL}, year={2019}}"
        ),
        homepage="https://www.tau-nlp.org/commonsenseqa",
        group_by="item",  # the official question_concept is not kept by the normalized schema
        upstream=(
            HubPin(
                name="commonsense_qa", repo="tau/commonsense_qa", layout="commonsense_qa",
                train_split="train", heldout_split="validation",
                revision_unresolved="the repo is parquet on main, but no full commit SHA of it was found offline",
            ),
        ),
    ),
    declare(
        TaskSpec,
        name="cosmosqa",
        paper_name="Cosmos QA",
        description=(
            "Cosmos QA: 4-way multiple-choice reading comprehension needing commonsense. Bundled: the 2,985 dev "
            "items, about 10% held out whole passages at a time (sha256 of a passage group's first id); hub: "
            "train / validation."
        ),
        format="choice",
        num_labels=4,
        metric="accuracy",
        chance=0.25,
        license="CC-BY-4.0 (Hub dataset card of allenai/cosmos_qa; the authors' repository states none)",
        license_url="https://creativecommons.org/licenses/by/4.0/",
        citation=(
            "@inproceedings{huang2019cosmos, title={Cosmos QA: Machine Reading Comprehension with Contextual "
            "Commonsense Reasoning}, author={Huang, Lifu and Le Bras, Ronan and Bhagavatula, Chandra and Choi, "
            "Yejin}, booktitle={EMNLP-IJCNLP}, year={2019}}"
        ),
        homepage="https://wilburone.github.io/cosmos/",
        group_by="passage",  # up to 4 questions per passage (2,985 bundled items, 2,445 passages)
        upstream=(
            HubPin(
                name="cosmos_qa", repo="allenai/cosmos_qa", layout="cosmos_qa", train_split="train",
                heldout_split="validation",
                revision_unresolved=(
                    f"the commits found (e.g. {COSMOSQA_LICENSE_COMMIT}, which added the license) hold a loading "
                    "script that datasets>=4 refuses; no parquet commit SHA was found offline"
                ),
            ),
        ),
        bundled="cosmosqa.parquet",
        heldout_share=0.1,
    ),
    declare(
        TaskSpec,
        name="hellaswag",
        paper_name="HellaSwag",
        description=(
            "HellaSwag: pick the right 4-way sentence ending (ActivityNet / WikiHow contexts). Bundled: the "
            "10,042 validation items, about 10% held out whole source clips at a time (sha256 of a clip group's "
            "first id); hub: train / validation."
        ),
        format="choice",
        num_labels=4,
        metric="accuracy",
        chance=0.25,
        license="MIT",
        license_url="https://github.com/rowanz/hellaswag/blob/master/LICENSE",
        citation=(
            "@inproceedings{zellers2019hellaswag, title={HellaSwag: Can a Machine Really Finish Your Sentence?}, "
            "author={Zellers, Rowan and Holtzman, Ari and Bisk, Yonatan and Farhadi, Ali and Choi, Yejin}, "
            "booktitle={ACL}, year={2019}}"
        ),
        homepage="https://rowanzellers.com/hellaswag/",
        group_by="clip",  # windows of one video, steps of one article; the bundle keeps no source_id
        upstream=(
            HubPin(
                name="hellaswag", repo=HELLASWAG_REPO, revision=HELLASWAG_REV, layout="hellaswag",
                train_split="train", heldout_split="validation",
                note=(
                    "'Convert dataset to Parquet' on refs/pr/7, a community pull request not merged into main "
                    "(data/{train,validation,test}-00000-of-00001.parquet); whether it also removed the loading "
                    "script was not verified offline (if not, the load fails with one line saying so)"
                ),
            ),
        ),
        bundled="hellaswag.parquet",
        heldout_share=0.1,
    ),
    declare(
        TaskSpec,
        name="squad",
        paper_name="SQuAD",
        description=(
            "SQuAD v1.1 extractive QA (jiant's X-STILTs guide trains squad_v1); train on the first gold answer, "
            "score held-out F1 against every gold answer. Held out: validation."
        ),
        format="span",
        num_labels=0,
        # A uniformly drawn span of the context almost never overlaps the answer: expected F1 ~ 0.
        metric="squad_f1",
        chance=0.0,
        license="CC-BY-SA-4.0",
        license_url="https://creativecommons.org/licenses/by-sa/4.0/",
        citation=(
            "@inproceedings{rajpurkar2016squad, title={SQuAD: 100,000+ Questions for Machine Comprehension of "
            "Text}, author={Rajpurkar, Pranav and Zhang, Jian and Lopyrev, Konstantin and Liang, Percy}, "
            "booktitle={EMNLP}, year={2016}}"
        ),
        homepage="https://rajpurkar.github.io/SQuAD-explorer/",
        group_by="passage",  # several questions per paragraph (official split: by article)
        upstream=(
            HubPin(
                name="squad", repo="rajpurkar/squad", config="plain_text", layout="squad", train_split="train",
                heldout_split="validation",
                # The parquet commit "Update dataset card (#8)" (short 7b6d24c); its full SHA as it appears in
                # datasets cache paths (squad/plain_text/0.0.0/<sha>/squad-train.arrow) in public code.
                revision="7b6d24c440a36b6815f21b70d25016731768db1f",
            ),
        ),
    ),
)
# The nine X-STILTs tasks of the paper (the multi-task arms mix these), then any a plugin declares: a
# module named under the entry-point group ``benchmark.tasks`` whose ``TASKS`` lists TaskSpecs (in a
# known format and layout, so one spec is all a task needs; docs/extending.md).
X_STILTS: tuple[str, ...] = tuple(t.name for t in _TASK_LIST)


TASKS: Registry[TaskSpec] = Registry("task", [*_TASK_LIST, *plugins("benchmark.tasks", "TASKS", TaskSpec)])


def rows_per_example(tasks: Sequence[str]) -> tuple[int, ...]:
    """Encoder rows per example of each of ``tasks`` (a k-way choice: k; else 1), or ``(1,)`` for a run
    with no textual task: what a batch must split evenly across torchrun's processes (training.shards)."""
    return tuple(TASKS[task].rows_per_example for task in tasks) or (1,)


# --- deterministic held-out rule -----------------------------------------------------------------


def split_of(key: str, heldout_share: float) -> str:
    """``heldout`` iff the first 8 bytes of sha256(key), read as a fraction of 2**64, fall below the
    share: fixed per key, independent of row order. The key is a group's (:func:`group_keys`)."""
    digest = hashlib.sha256(str(key).encode("utf-8")).digest()
    return "heldout" if int.from_bytes(digest[:8], "big") < heldout_share * 2**64 else "train"


_SENTENCE = re.compile(r"[^.!?]*[.!?]")


def _norm(text: str) -> str:
    return " ".join(str(text).lower().split())


def group_links(rule: GroupBy, row: dict[str, Any]) -> frozenset[str]:
    """The strings that put two items of one task in the same group when both have one of them
    (``item``: none - ids of different upstream splits are not comparable, so only the id groups)."""
    if rule == "premise":
        return frozenset({_norm(row["text"])})
    if rule == "passage":
        return frozenset({_norm(row["context"])})
    if rule == "clip":
        context = _norm(row["context"])
        label, _, body = context.partition(": ")
        prefix = "prefix\0" + " ".join(context.split()[:CLIP_PREFIX_WORDS])
        sentences = (s.strip() for s in _SENTENCE.findall(body))
        return frozenset({prefix} | {f"sentence\0{label}\0{s}" for s in sentences
                                     if len(s.split()) >= CLIP_SENTENCE_WORDS})
    return frozenset()


def _links(spec: TaskSpec, table: pd.DataFrame) -> list[frozenset[str]]:
    return [group_links(spec.group_by, r) for r in table.to_dict("records")]


def group_keys(spec: TaskSpec, table: pd.DataFrame) -> pd.Series:
    """Each row's group: the smallest item id of the items joined to it, transitively, by a shared
    :func:`group_links` string (the row's own id when it shares none). Same index as ``table``."""
    ids = [str(i) for i in table["id"]]
    parent = list(range(len(ids)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    first: dict[str, int] = {}
    for i, links in enumerate(_links(spec, table)):
        for link in sorted(links):
            j = first.setdefault(link, i)
            a, b = root(i), root(j)
            if a != b:
                parent[max(a, b)] = min(a, b)
    smallest: dict[int, str] = {}
    for i, item in enumerate(ids):
        r = root(i)
        smallest[r] = min(smallest.get(r, item), item)
    return pd.Series([smallest[root(i)] for i in range(len(ids))], index=table.index, dtype=object)


def shares_group(spec: TaskSpec, table: pd.DataFrame, others: pd.DataFrame) -> pd.Series:
    """Per row of ``table``: whether it shares a :func:`group_links` string with a row of ``others``
    (directly; the guard that keeps held-out items away from the training items of an upstream split)."""
    seen = set().union(*_links(spec, others)) if len(others) else set()
    return pd.Series([bool(links & seen) for links in _links(spec, table)], index=table.index, dtype=bool)
