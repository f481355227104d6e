"""English textual intermediate tasks of X-STILTs (Phang et al., 2020): registry, loaders, validation.

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

**Normalized schema** (:data:`COLUMNS`), the same whichever source a table came from; rows keep
upstream order (train pins first, in pin order), so a load is deterministic:

* ``single``: ``id``, ``text``, ``label`` · ``pair``: ``id``, ``text``, ``text_pair``, ``label``
* ``choice``: ``id``, ``context`` (first segment), ``choices`` (each choice's full second segment),
  ``label``; HellaSwag: ``"activity_label: ctx"`` + the 4 endings; Cosmos QA: ``context`` +
  ``question + " " + answer_i``; CommonsenseQA: ``question`` + the 5 answer texts
* ``span`` (SQuAD v1.1 style): ``id``, ``context``, ``question``, ``answer_start`` (char offset),
  ``answer_text`` (first gold answer, for training), ``answers`` (every gold answer, for F1)
* ``tagging``: ``id``, ``tokens``, ``tags``

**Groups** (``TaskSpec.group_by``, one rule per task): items that share a source are one group, and a
split never cuts a group, so no held-out item shares its source with a training item.
``item``: every item is its own group; ``premise``: pair items with the same premise (``text``);
``passage``: items with the same ``context`` (Cosmos QA's passage, SQuAD's paragraph); ``clip``
(HellaSwag, whose normalized rows keep no ``source_id``): items of one activity label linked by the
same first :data:`CLIP_PREFIX_WORDS` words of the context or by a shared complete sentence of at
least :data:`CLIP_SENTENCE_WORDS` words (ActivityNet windows of one video overlap by a sentence;
WikiHow items of one article share its "How to ..." title), joined transitively. Texts are compared
lowercased with whitespace collapsed (:func:`group_links`, :func:`group_keys`).

**Sources.** ``bundle`` reads the ``mini`` files (HellaSwag and Cosmos QA validation sets only,
verified against ``MANIFEST.json``); each has a single upstream split, so ``heldout`` is a fixed
share of *groups*: a group is held out iff the sha256 of its smallest item id says so
(:func:`split_of`), so a one-item group keeps the split of its id. Held-out items are never trained on.
``hub`` loads each :class:`HubPin` with ``datasets.load_dataset(repo, config, revision=...)`` and
maps the official columns with one small function per upstream layout (:data:`MAPPERS`). Both paths
go through :func:`build_tables`, which only differs in where a table comes from; a pin whose full
commit SHA is not known is refused. Every table is validated (:func:`validate`); a bad row is one
``BenchmarkError`` naming the file (or ``repo@revision/split``) and the row. Loaders write nothing.
"""

from __future__ import annotations

import bz2
import csv
import hashlib
import math
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Annotated, Any, Literal

import pandas as pd
import pyarrow.parquet as pq
from pydantic import Field, StringConstraints, ValidationError, model_validator

from benchmark.data.spec import BUNDLE_DIR, Commit, RelPath, verify_file
from benchmark.io import BenchmarkError
from benchmark.schema import Frozen

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

    @model_validator(mode="after")
    def _exactly_one_revision(self) -> HubPin:
        if (self.revision is None) == (self.revision_unresolved is None):
            raise ValueError("give exactly one of revision (40-hex commit) and revision_unresolved")
        if self.repo is None and self.revision is not None:
            raise ValueError("a revision needs a repo")
        return self

    @property
    def resolved(self) -> bool:
        return self.revision is not None

    def where(self, split: str) -> str:
        return f"{self.repo}@{self.revision or 'unresolved'}/{split}"


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


def make_task(**fields: Any) -> TaskSpec:
    """Build a spec at import time; a bad spec is a bug in this package, reported as one line."""
    try:
        return TaskSpec(**fields)
    except ValidationError as e:
        first = " ".join(str(e).split())
        raise BenchmarkError(f"invalid task spec {fields.get('name')!r}: {first}") from None


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
    make_task(
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
    make_task(
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
    make_task(
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
    make_task(
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
    make_task(
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
                    "CCGbank is LDC-licensed and has no public Hub copy; resolve with a licensed parquet "
                    "copy (tokens, tags) at a full commit SHA"
                ),
            ),
        ),
    ),
    make_task(
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
    make_task(
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
    make_task(
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
    make_task(
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
TASKS: dict[str, TaskSpec] = {t.name: t for t in _TASK_LIST}


def get_task(name: str) -> TaskSpec:
    try:
        return TASKS[name]
    except KeyError:
        raise BenchmarkError(f"unknown task {name!r}; known: {', '.join(sorted(TASKS))}") from None


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


# --- validation ----------------------------------------------------------------------------------


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _is_text(value: Any) -> bool:
    return isinstance(value, str) and value.strip() != ""


def _check_label(value: Any, n: int, row: Any, where: str) -> None:
    if _missing(value):
        raise BenchmarkError(f"{where}: row {row}: label missing")
    if isinstance(value, bool) or not isinstance(value, int):
        raise BenchmarkError(f"{where}: row {row}: label {value!r} is not an integer")
    if not 0 <= value < n:
        raise BenchmarkError(f"{where}: row {row}: label {value} out of range 0..{n - 1}")


def _check_text(value: Any, what: str, row: Any, where: str) -> None:
    if not _is_text(value):
        raise BenchmarkError(f"{where}: row {row}: {what} empty")


def _check_row(spec: TaskSpec, r: dict[str, Any], row: Any, where: str) -> None:
    fmt, n = spec.format, spec.num_labels
    if fmt in ("single", "pair"):
        _check_text(r["text"], "text", row, where)
        if fmt == "pair":
            _check_text(r["text_pair"], "text_pair", row, where)
        _check_label(r["label"], n, row, where)
    elif fmt == "choice":
        _check_text(r["context"], "context", row, where)
        choices = r["choices"]
        if not isinstance(choices, list) or len(choices) != n:
            got = len(choices) if isinstance(choices, list) else type(choices).__name__
            raise BenchmarkError(f"{where}: row {row}: {got} choices, expected {n}")
        for k, choice in enumerate(choices):
            _check_text(choice, f"choice {k}", row, where)
        _check_label(r["label"], n, row, where)
    elif fmt == "span":
        context, text, start = r["context"], r["answer_text"], r["answer_start"]
        _check_text(context, "context", row, where)
        _check_text(r["question"], "question", row, where)
        _check_text(text, "answer_text", row, where)
        if isinstance(start, bool) or not isinstance(start, int):
            raise BenchmarkError(f"{where}: row {row}: answer_start {start!r} is not an integer")
        if start < 0 or start + len(text) > len(context):
            raise BenchmarkError(
                f"{where}: row {row}: answer {text!r} at {start} lies outside the context ({len(context)} chars)"
            )
        if context[start : start + len(text)] != text:
            raise BenchmarkError(
                f"{where}: row {row}: context[{start}:{start + len(text)}] is "
                f"{context[start : start + len(text)]!r}, not the answer {text!r}"
            )
        if not r["answers"] or not all(_is_text(a) for a in r["answers"]):
            raise BenchmarkError(f"{where}: row {row}: answers empty")
    else:  # tagging
        tokens, tags = r["tokens"], r["tags"]
        if not tokens or not all(_is_text(t) for t in tokens):
            raise BenchmarkError(f"{where}: row {row}: empty token or no tokens")
        if len(tokens) != len(tags):
            raise BenchmarkError(f"{where}: row {row}: {len(tokens)} tokens but {len(tags)} tags")
        for tag in tags:
            if isinstance(tag, bool) or not isinstance(tag, int) or not 0 <= tag < n:
                raise BenchmarkError(f"{where}: row {row}: tag {tag!r} out of range 0..{n - 1}")


def _plain(value: Any) -> Any:
    """numpy scalars and arrays (as parquet and ``Dataset.to_pandas`` give them) to Python values."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def validate(spec: TaskSpec, df: pd.DataFrame, where: str) -> pd.DataFrame:
    """Check every row of a normalized table; return it with plain Python values, index reset.

    Row numbers in messages are ``df.index``: the mapping functions keep the upstream row position
    there, so a message points at the row of the upstream file even after rows were dropped."""
    columns = COLUMNS[spec.format]
    if tuple(df.columns) != columns:
        raise BenchmarkError(f"{where}: expected columns {list(columns)}, found {list(df.columns)}")
    records = [{c: _plain(v) for c, v in zip(columns, values)} for values in df.itertuples(index=False, name=None)]
    seen: set[str] = set()
    for row, r in zip(df.index, records):
        if not _is_text(r["id"]):
            raise BenchmarkError(f"{where}: row {row}: id empty")
        if r["id"] in seen:
            raise BenchmarkError(f"{where}: row {row}: duplicate id {r['id']!r}")
        seen.add(r["id"])
        _check_row(spec, r, row, where)
    out = pd.DataFrame.from_records(records, columns=list(columns))
    for col in ("label", "answer_start"):
        if col in out:
            out[col] = out[col].astype("int64")
    return out


# --- upstream layouts -> normalized rows (one small function each) --------------------------------


def _need(df: pd.DataFrame, cols: Iterable[str], layout: str, where: str) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise BenchmarkError(f"{where}: missing columns {missing} of the official {layout} layout")


def _label(value: Any) -> Any:
    """Upstream labels as int; HellaSwag stores them as digit strings, '' where there is none."""
    value = _plain(value)
    if _missing(value) or value == "":
        return None
    if isinstance(value, float) and value.is_integer():
        return int(value)  # an integer column with a null in it arrives as float
    if isinstance(value, str):
        return int(value) if value.isdigit() else value
    return value


def _ids(values: Iterable[Any]) -> list[str]:
    return [str(_plain(v)) for v in values]


def _labels(values: Iterable[Any], index: pd.Index) -> pd.Series:
    # object dtype: a single None would otherwise turn every label into a float
    return pd.Series([_label(v) for v in values], index=index, dtype=object)


def map_glue_mnli(df: pd.DataFrame, where: str) -> pd.DataFrame:
    _need(df, ("premise", "hypothesis", "label", "idx"), "glue/mnli", where)
    return pd.DataFrame({"id": _ids(df["idx"]), "text": df["premise"], "text_pair": df["hypothesis"],
                         "label": _labels(df["label"], df.index)}, index=df.index)  # fmt: skip


def map_glue_qqp(df: pd.DataFrame, where: str) -> pd.DataFrame:
    _need(df, ("question1", "question2", "label", "idx"), "glue/qqp", where)
    return pd.DataFrame({"id": _ids(df["idx"]), "text": df["question1"], "text_pair": df["question2"],
                         "label": _labels(df["label"], df.index)}, index=df.index)  # fmt: skip


def map_glue_sst2(df: pd.DataFrame, where: str) -> pd.DataFrame:
    _need(df, ("sentence", "label", "idx"), "glue/sst2", where)
    return pd.DataFrame({"id": _ids(df["idx"]), "text": df["sentence"],
                         "label": _labels(df["label"], df.index)}, index=df.index)  # fmt: skip


def map_anli(df: pd.DataFrame, where: str) -> pd.DataFrame:
    _need(df, ("uid", "premise", "hypothesis", "label", "reason"), "facebook/anli", where)
    return pd.DataFrame({"id": _ids(df["uid"]), "text": df["premise"], "text_pair": df["hypothesis"],
                         "label": _labels(df["label"], df.index)}, index=df.index)  # fmt: skip


def map_snli(df: pd.DataFrame, where: str) -> pd.DataFrame:
    """SNLI has no id column: the id is the row position in its split. Label -1 means the annotators
    reached no gold label; such items have no answer to learn or score, so they are dropped."""
    _need(df, ("premise", "hypothesis", "label"), "stanfordnlp/snli", where)
    labels = _labels(df["label"], df.index)
    out = pd.DataFrame({"id": [str(i) for i in range(len(df))], "text": df["premise"],
                        "text_pair": df["hypothesis"], "label": labels}, index=df.index)  # fmt: skip
    return out[[v != -1 for v in labels]]


def map_commonsense_qa(df: pd.DataFrame, where: str) -> pd.DataFrame:
    _need(df, ("id", "question", "question_concept", "choices", "answerKey"), "tau/commonsense_qa", where)
    choices, labels = [], []
    for row, c, key in zip(df.index, df["choices"], df["answerKey"]):
        keys, texts = list(_plain(c["label"])), list(_plain(c["text"]))
        if len(keys) != len(texts):
            raise BenchmarkError(f"{where}: row {row}: {len(keys)} choice labels but {len(texts)} texts")
        choices.append(texts)
        if _missing(key) or key == "":
            labels.append(None)
        elif key in keys:
            labels.append(keys.index(key))
        else:
            raise BenchmarkError(f"{where}: row {row}: answerKey {key!r} not among the choice labels {keys}")
    return pd.DataFrame({"id": _ids(df["id"]), "context": df["question"], "choices": choices,
                         "label": pd.Series(labels, index=df.index, dtype=object)}, index=df.index)  # fmt: skip


def map_cosmos_qa(df: pd.DataFrame, where: str) -> pd.DataFrame:
    answers = [f"answer{k}" for k in range(4)]
    _need(df, ("id", "context", "question", *answers, "label"), "allenai/cosmos_qa", where)
    choices = []
    for row, r in zip(df.index, df[["question", *answers]].itertuples(index=False, name=None)):
        question, opts = r[0], r[1:]
        for k, opt in enumerate(opts):
            # The question prefix would hide an empty answer from the choice-level check.
            if not _is_text(opt):
                raise BenchmarkError(f"{where}: row {row}: choice {k} empty (answer{k})")
        choices.append([f"{question} {opt}" for opt in opts])
    return pd.DataFrame({"id": _ids(df["id"]), "context": df["context"], "choices": choices,
                         "label": _labels(df["label"], df.index)}, index=df.index)  # fmt: skip


def map_hellaswag(df: pd.DataFrame, where: str) -> pd.DataFrame:
    cols = ("ind", "activity_label", "ctx_a", "ctx_b", "ctx", "endings", "source_id", "split", "split_type", "label")
    _need(df, cols, "Rowan/hellaswag", where)
    return pd.DataFrame({"id": _ids(df["ind"]), "context": df["activity_label"] + ": " + df["ctx"],
                         "choices": [list(_plain(e)) for e in df["endings"]],
                         "label": _labels(df["label"], df.index)}, index=df.index)  # fmt: skip


def map_squad(df: pd.DataFrame, where: str) -> pd.DataFrame:
    _need(df, ("id", "title", "context", "question", "answers"), "rajpurkar/squad", where)
    starts, texts, golds = [], [], []
    for row, a in zip(df.index, df["answers"]):
        a_text, a_start = list(_plain(a["text"])), list(_plain(a["answer_start"]))
        if not a_text or len(a_text) != len(a_start):
            raise BenchmarkError(f"{where}: row {row}: {len(a_text)} answer texts and {len(a_start)} starts")
        texts.append(a_text[0])
        starts.append(a_start[0])
        golds.append(a_text)
    return pd.DataFrame({"id": _ids(df["id"]), "context": df["context"], "question": df["question"],
                         "answer_start": starts, "answer_text": texts, "answers": golds}, index=df.index)  # fmt: skip


def map_ccg_tokens_tags(df: pd.DataFrame, where: str) -> pd.DataFrame:
    _need(df, ("tokens", "tags"), "CCG tokens/tags", where)
    return pd.DataFrame({"id": [str(i) for i in range(len(df))],
                         "tokens": [list(_plain(t)) for t in df["tokens"]],
                         "tags": [list(_plain(t)) for t in df["tags"]]}, index=df.index)  # fmt: skip


MAPPERS: dict[str, Callable[[pd.DataFrame, str], pd.DataFrame]] = {
    "glue_mnli": map_glue_mnli,
    "glue_qqp": map_glue_qqp,
    "glue_sst2": map_glue_sst2,
    "anli": map_anli,
    "snli": map_snli,
    "commonsense_qa": map_commonsense_qa,
    "cosmos_qa": map_cosmos_qa,
    "hellaswag": map_hellaswag,
    "squad": map_squad,
    "ccg_tokens_tags": map_ccg_tokens_tags,
}


# --- loading -------------------------------------------------------------------------------------

# (pin, split) -> (the upstream table as a datasets.Dataset, where it came from, for messages)
Fetch = Callable[[HubPin, str], tuple[Any, str]]


def map_upstream(spec: TaskSpec, pin: HubPin, dataset: Any, where: str) -> pd.DataFrame:
    """One upstream split (a ``datasets.Dataset``) in its official layout -> a validated table."""
    df = dataset.to_pandas()
    out = validate(spec, MAPPERS[pin.layout](df, where), where)
    if len(spec.upstream) > 1:
        out["id"] = pin.name + ":" + out["id"]  # ids of different sources may collide
    return out


def build_tables(spec: TaskSpec, fetch: Fetch) -> dict[str, pd.DataFrame]:
    """``train`` / ``heldout`` of a task from its pins, in pin order; ``fetch`` is the only part that
    differs between the Hub and local files in the official layout (tests)."""
    parts: dict[str, list[pd.DataFrame]] = {s: [] for s in SPLITS}
    for pin in spec.upstream:
        for split, name in (("train", pin.train_split), ("heldout", pin.heldout_split)):
            if name is not None:
                dataset, where = fetch(pin, name)
                parts[split].append(map_upstream(spec, pin, dataset, where))
    tables = {s: pd.concat(parts[s], ignore_index=True) for s in SPLITS}
    for split, table in tables.items():
        dup = table["id"][table["id"].duplicated()]
        if len(dup):
            raise BenchmarkError(f"task {spec.name!r}: duplicate id {dup.iloc[0]!r} in {split}")
    return tables


def hub_fetch(pin: HubPin, split: str, cache_dir: Path | None = None) -> tuple[Any, str]:
    """Load one split of a resolved pin from the Hugging Face Hub (parquet repos only); ``cache_dir``
    is the ``datasets`` cache (its default when None)."""
    where = pin.where(split)
    if not pin.resolved:
        raise BenchmarkError(f"{where}: no commit pinned ({pin.revision_unresolved}); cannot load from the hub")
    import datasets  # heavy, and only the hub path needs it

    try:
        cache = str(cache_dir) if cache_dir is not None else None
        return datasets.load_dataset(pin.repo, pin.config, revision=pin.revision, split=split, cache_dir=cache), where
    except Exception as e:  # noqa: BLE001 (network, auth, missing split, script repo: all one line)
        first = str(e).splitlines()[0] if str(e) else ""
        raise BenchmarkError(f"{where}: cannot load from the Hugging Face Hub: {type(e).__name__}: {first}") from None


def _load_bundle(spec: TaskSpec, data_dir: Path) -> dict[str, pd.DataFrame]:
    if spec.bundled is None or spec.heldout_share is None:
        bundled = sorted(t.name for t in TASKS.values() if t.bundled)
        raise BenchmarkError(f"task {spec.name!r} is not bundled (bundled: {', '.join(bundled)}); use source 'hub'")
    path = verify_file(data_dir, spec.bundled)
    table = pq.read_table(path, columns=list(COLUMNS[spec.format])).to_pandas()
    df = validate(spec, table, str(path))
    share = spec.heldout_share
    split = group_keys(spec, df).map(lambda key: split_of(key, share))
    return {s: df[split == s].reset_index(drop=True) for s in SPLITS}


def load_task(name: str, source: Source, data_dir: Path = BUNDLE_DIR) -> dict[str, pd.DataFrame]:
    """``{"train": ..., "heldout": ...}`` of one task in the normalized schema of its format.

    ``source="bundle"``: the bundled file in ``data_dir`` (verified against its manifest);
    ``source="hub"``: every pin from the Hub, cached by ``datasets`` under ``data_dir`` (refused,
    before any download, if one is unresolved)."""
    spec = get_task(name)
    if source == "bundle":
        return _load_bundle(spec, Path(data_dir))
    if source == "hub":
        for pin in spec.upstream:
            if not pin.resolved:
                raise BenchmarkError(
                    f"task {name!r}: upstream {pin.repo or pin.name} is not pinned to a commit "
                    f"({pin.revision_unresolved}); cannot load from the hub"
                )
        return build_tables(spec, lambda pin, split: hub_fetch(pin, split, cache_dir=Path(data_dir)))
    raise BenchmarkError(f"unknown source {source!r}; expected 'bundle' or 'hub'")


# --- readers of the local copies the bundle is built from (scripts/build_bundle.py) --------------


def read_hellaswag_text(path: Path) -> pd.DataFrame:
    """HellaSwag validation as text (klosax/hellaswag_text_data): 6 lines per item,
    ``activity_label: ctx``, the gold label 0-3, then the four endings; bz2 if the name ends in .bz2.

    The text file keeps no ``ind``: an item's id is ``val-`` + its 0-based position (5 digits) in
    the official validation order. Returns the normalized choice table (index = item position)."""
    path = Path(path)
    raw = path.read_bytes()
    text = (bz2.decompress(raw) if path.suffix == ".bz2" else raw).decode("utf-8")
    # Split on "\n" only: str.splitlines would also split on U+2028 etc. inside a line.
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if len(lines) % 6:
        raise BenchmarkError(f"{path}: {len(lines)} lines, not a multiple of 6")
    rows = []
    for i in range(len(lines) // 6):
        context, label, *endings = lines[6 * i : 6 * i + 6]
        rows.append({"id": f"val-{i:05d}", "context": context, "choices": endings,
                     "label": int(label) if label.isdigit() else (label or None)})  # fmt: skip
    return pd.DataFrame(rows, columns=list(COLUMNS["choice"]))


def read_cosmosqa_csv(path: Path) -> pd.DataFrame:
    """Cosmos QA ``valid.csv`` (id, context, question, answer0..3, label), read with the csv module
    (quoted fields hold commas and newlines), mapped like the Hub layout. Returns the normalized
    choice table plus ``question``."""
    path = Path(path)
    with open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    expected = ["id", "context", "question", "answer0", "answer1", "answer2", "answer3", "label"]
    if not rows or list(rows[0]) != expected:
        raise BenchmarkError(f"{path}: expected columns {expected}")
    raw = pd.DataFrame(rows, columns=expected)
    out = map_cosmos_qa(raw, str(path))
    out.insert(2, "question", raw["question"])
    return out


__all__ = [
    "COLUMNS",
    "MAPPERS",
    "PAPER",
    "TASKS",
    "HubPin",
    "TaskSpec",
    "build_tables",
    "get_task",
    "group_keys",
    "group_links",
    "hub_fetch",
    "load_task",
    "map_upstream",
    "read_cosmosqa_csv",
    "read_hellaswag_text",
    "shares_group",
    "split_of",
    "validate",
]
