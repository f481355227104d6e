"""``benchmark``: one subcommand per pipeline stage (what ``dvc.yaml`` calls), plus tools for researchers.

Params are validated before any heavy import or any write, so a bad ``params.yaml`` costs a second
and leaves nothing behind.
"""

from __future__ import annotations

import argparse
import atexit
import os
import signal
import sys
import threading
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, NoReturn

from benchmark.io import BenchmarkError
from benchmark.profiles import PROFILES

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")  # forked workers would make timing noisy



def _validate(args: argparse.Namespace, params: Any) -> None:
    from benchmark.pipeline import validate

    validate.run(args.params)


def _prepare(args: argparse.Namespace, params: Any) -> None:
    from benchmark.pipeline import prepare

    prepare.run(params)


def _runs(args: argparse.Namespace, params: Any) -> None:
    from benchmark.pipeline import runs

    runs.run(params)


def _images(args: argparse.Namespace, params: Any) -> None:
    from benchmark.pipeline import images

    images.run(params)


def _frozen(args: argparse.Namespace, params: Any) -> None:
    from benchmark.pipeline import frozen

    frozen.run(params)


def _task_states(args: argparse.Namespace, params: Any) -> None:
    from benchmark.pipeline import task_states

    task_states.run(params)


def _train(args: argparse.Namespace, params: Any) -> None:
    n = params.runtime.nproc_per_node
    if n > 1 and "WORLD_SIZE" not in os.environ:
        # Become torchrun (exec: the same pid, so DVC's kill and the parent-death signal reach it), which
        # starts n ranks of this very command; each joins the process group (training.distributed).
        argv = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={n}",
                "-m", "benchmark", "--params", args.params, "train", args.arm]
        sys.stdout.flush()
        sys.stderr.flush()
        os.execv(sys.executable, argv)
    from benchmark.pipeline import train

    train.run(params, args.arm)


def _evaluate(args: argparse.Namespace, params: Any) -> None:
    # One process for every target: identical texts are embedded once, and each process start
    # (torch, transformers, MLflow) costs seconds per stage and run.
    from benchmark.pipeline import evaluate

    evaluate.run(params, args.arm, targets=args.targets, use_cache=not args.no_cache)


def _targets(args: argparse.Namespace, params: Any) -> None:
    from benchmark.targets.registry import TARGETS

    for t in TARGETS.values():
        print(f"{t.name:10} {t.display}: {t.protocol}; {t.dataset.name} ({t.dataset.license}, "
              f"{len(t.dataset.languages)} languages); scores {', '.join(s.name for s in t.scores)} "
              f"(main {t.main_score}); profiles {', '.join(t.profiles)}")


def _analysis(args: argparse.Namespace, params: Any) -> None:
    from benchmark.pipeline import analysis

    analysis.run(params)


def _compare(args: argparse.Namespace, params: Any) -> None:
    from benchmark.report.compare import compare
    from benchmark.tracking import tracking_uri

    table = compare(tracking_uri(params), params.tracking.experiment, args.runs, args.last, args.all)
    print(table.to_string(float_format=lambda v: f"{v:.4f}"))


def _check_reference(args: argparse.Namespace, params: Any) -> None:
    from benchmark import paths
    from benchmark.report import reference

    summary = Path(args.summary)
    if args.write:
        print(f"wrote {reference.write_reference(params.profile, summary, args.items, metrics_dir=paths.METRICS)}")
        return
    table = reference.check(params.profile, summary, paths.DATA, paths.RESULTS, metrics_dir=paths.METRICS)
    reference.print_table(table)
    if (table["status"] != "PASS").any():
        raise SystemExit(1)


def _report(args: argparse.Namespace, params: Any) -> None:
    from benchmark.report import results

    results.run(params)


def _params(args: argparse.Namespace, params: Any) -> None:
    import yaml

    from benchmark import config
    from benchmark.pipeline import validate

    overrides = ([f"profile={args.profile}"] if args.profile else []) + args.overrides
    if args.plan and args.write:
        raise BenchmarkError("params: --plan prints a cost plan and writes nothing; drop --write")
    if args.write:  # refused as `dvc exp run -S` refuses it (benchmark/conf/hydra_plugins): the run list too
        source = " ".join(overrides) or str(config.CONF_DIR)
        validate.check_composed(config.validate(config.compose(overrides), source=source), source)
        config.write_params(args.params, overrides)
        print(f"wrote {args.params}: benchmark/conf composed with {' '.join(overrides) or 'no overrides'}")
        return
    if overrides:
        params = config.validate(config.compose(overrides), source=" ".join(overrides))
    else:
        params = config.load_params(args.params)
    if args.plan:
        from benchmark.determinism import resolve_device
        from benchmark.plan import plan

        device = resolve_device(args.plan_device)
        print(yaml.safe_dump(plan(params, device, args.plan_rows), sort_keys=False, allow_unicode=True), end="")
        return
    print(yaml.safe_dump(params.model_dump(mode="json"), sort_keys=False, allow_unicode=True), end="")


def _eval_flores(args: argparse.Namespace, params: Any) -> None:
    from benchmark.evaluate import evaluate_flores_dir

    evaluate_flores_dir(params, Path(args.flores_dir), split=args.split, first_n=args.first_n,
                        languages=args.languages, prefix=args.prefix, out=Path(args.out))


def _fetch(args: argparse.Namespace, params: Any) -> None:
    import importlib

    from benchmark.data import flores, lock, resolve, sib, tatoeba
    from benchmark.pipeline import pins
    from benchmark.targets import registry

    dest = Path(args.dest)
    mirror = Path(args.mirror) if args.mirror else None
    needs = []
    entries: dict[str, Any] = {}
    if args.profile:  # everything else the profile reads, as the lock names it: refused before any download
        profile = _composed(args.profile, args.overrides)
        pins.check(profile)
        needs = [n for n in pins.needs(profile) if n.kind != "github"]
        # a URL its spec pins by sha256 needs no lock entry; a Hub repository's files are only in the lock
        entries = {n.key: lock.locked(n.key) or (lock.Locked(source=n.where, resolved=n.pinned, when="spec")
                                                  if n.kind == "url" and n.pinned else None) for n in needs}
        unlocked = next((n for n in needs if entries[n.key] is None), None)
        if unlocked is not None:
            raise BenchmarkError(f"{unlocked.key}: pinned but not in the lock; run `benchmark lock --profile "
                                 f"{args.profile}` online once (it records every file's sha256)")
    for name, module in (("flores200", flores), ("sib200", sib), ("tatoeba", tatoeba)):
        module.fetch_upstream(dest / name, mirror / name if mirror else None)
    for need in needs:
        entry = entries[need.key]
        if need.kind == "hf-dataset":  # from the repository it was locked from (`lock --source`)
            need = replace(need, where=entry.source.rsplit("@", 1)[0])
        target = dest / ("hub" if need.kind == "hf-dataset" else "url") / _fetched_name(need)
        print(f"fetching {need.key} -> {target}", file=sys.stderr)
        resolve.fetch(need, entry, target)
    if args.profile:  # what a target reads laid out from what was fetched (XTREME's archives, extracted)
        for target in registry.active(profile.profile):
            if target.fetcher is not None:
                importlib.import_module(target.fetcher).unpack(profile.block(target.name), dest)
    print(f"upstream snapshot verified in {dest}; record it with `dvc commit data.dvc` "
          "and share it with `dvc push data.dvc`")


def _composed(profile: str, overrides: list[str]) -> Any:
    """Profile ``profile``'s preset with Hydra ``overrides``, checked by the schema only: what `lock`
    and `fetch` resolve for, before the run-list checks would refuse the very pins they resolve."""
    from benchmark import config

    return config.validate(config.compose([f"profile={profile}", *overrides]), source=" ".join(overrides) or profile)


def _lock(args: argparse.Namespace, params: Any) -> None:
    from benchmark.data import lock, resolve
    from benchmark.pipeline import pins

    if args.overrides:
        params = _composed(params.profile, args.overrides)
    needs = pins.needs(params)
    entries = dict(lock.LOCK)
    sources = dict(_source(value) for value in args.source)
    unknown = [f"--update {key}" for key in args.update if key not in {n.key for n in needs}] + [
        f"--source {key}" for key, _ in sources.items()
        if key not in {n.key for n in needs if n.kind == "hf-dataset"}]
    if unknown:
        kind = "a Hub" if unknown[0].startswith("--source") else "an"
        raise BenchmarkError(f"{unknown[0]}: not {kind} upstream of profile {params.profile} "
                             f"(`benchmark lock --check --profile {params.profile}` lists them)")
    needs = [replace(n, where=sources[n.key][0], ref=sources[n.key][1]) if n.key in sources else n for n in needs]
    if not args.check:
        for need in needs:
            wanted = need.key in args.update or (need.key not in entries and (
                need.pinned is None or need.kind == "hf-dataset"))  # a pinned repository: record its files
            if wanted and need.where:
                print(f"resolving {need.key} ...", file=sys.stderr)
                entries[need.key] = resolve.resolve(need)
                lock.write(entries)  # each one kept at once: an interrupted lock loses nothing resolved
    missing = [n for n in needs if n.pinned is None and n.key not in entries]
    for need in needs:
        print(need.line(entries.get(need.key)))
    if missing:
        raise BenchmarkError(f"{len(missing)} upstream(s) of profile {params.profile} have no immutable identity"
                             + ("; resolve them online with `benchmark lock`" if args.check else
                                "; the ones left cannot be resolved from the Hub or a URL (see their lines)"))


def _source(value: str) -> tuple[str, tuple[str, str]]:
    """``--source KEY=ORG/REPO[@BRANCH]``: the Hub repository a key is resolved from instead of its spec's
    (a mirror, or a lab's own licensed copy where no public one exists: CCGbank)."""
    key, sep, repo = value.partition("=")
    name, _, ref = repo.partition("@")
    if not sep or name.count("/") != 1 or not all(name.split("/")):
        raise BenchmarkError(f"--source {value}: expected KEY=ORG/REPO[@BRANCH], e.g. "
                             "hf-dataset:none/ccgbank=my-lab/ccgbank")
    return key, (name, ref or "main")


def _fetched_name(need: Any) -> str:
    """Where a fetched upstream lies under ``data/full``: a repository by the name in its lock key (its
    copy's own name where a lab's copy stands in: ``none/ccgbank``), a URL by its file name."""
    from benchmark.data.resolve import url_file

    return need.key.split(":", 1)[1] if need.kind == "hf-dataset" else url_file(need.where)


def _pin_model(args: argparse.Namespace, params: Any) -> None:
    from benchmark.models import pretrained

    folder = Path(args.folder)
    if not folder.is_dir():
        raise BenchmarkError(f"{folder}: not a directory")
    print(pretrained.dir_pin(folder))


class _Parser(argparse.ArgumentParser):
    """argparse with a one-line refusal (argparse's own prints the whole usage block first)."""

    def error(self, message: str) -> NoReturn:
        print(f"{self.prog}: error: {message} (`{self.prog} --help` lists the options)", file=sys.stderr)
        sys.exit(2)


def _whole_number(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="benchmark", description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="params.yaml", help="params file (default: params.yaml)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, func: Callable[..., None], help_: str, *, arm: bool = False,
            profile: bool = False, needs_params: bool = True) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_, description=help_)
        p.set_defaults(func=func, needs_params=needs_params)
        if arm:
            p.add_argument("arm", help="run name (params.yaml: arms), e.g. coco-contrastive or coco-contrastive.s1")
        if profile:
            p.add_argument("--profile", choices=PROFILES,
                           help="use this profile's preset (benchmark/conf) instead of params.yaml")
        return p

    add("validate", _validate, "stage: check every key of params.yaml before any stage runs", needs_params=False)
    add("prepare", _prepare, "stage: verify the bundled data and materialise it in data/")
    add("runs", _runs, "stage: each run's arm spec and training seed, one file per run")
    add("images", _images, "stage: image-encoder features of every bundled COCO image (the visual prefix)")
    add("frozen", _frozen, "stage: hidden states of the frozen lower layers for every evaluation text")
    add("task-states", _task_states, "stage: hidden states of the frozen lower layers for the textual runs' rows")
    add("train", _train, "stage: intermediate training of one run (an arm, or <arm>.s<k> for seed k)", arm=True)
    p = add("evaluate", _evaluate, "stage: one run on every target of the profile (benchmark targets), "
            "one embedding pass", arm=True)
    p.add_argument("--targets", nargs="+", default=None, metavar="TARGET",
                   help="only these targets (default: every target the profile evaluates)")
    p.add_argument("--no-cache", action="store_true", help="recompute instead of reading the embedding cache")
    add("targets", _targets, "list the evaluation targets (the registry) and what each measures", needs_params=False)
    add("analysis", _analysis, "stage: margins between arms with bootstrap CIs, tests and language groups")
    add("report", _report, "stage: results tables, plots, summary and results/REPORT.md")
    p = add("compare", _compare, "print runs side by side from MLflow (default: the last two finished pipeline runs)")
    p.add_argument("runs", nargs="*", help="parent (pipeline) MLflow run ids, unique prefixes or DVC experiment names, "
                   "e.g. of two `dvc exp run`s")
    p.add_argument("--last", type=_whole_number, default=2, help="without run ids: the last N finished pipeline runs")
    p.add_argument("--all", action="store_true",
                   help="with --last: count failed, killed and running pipeline runs too (marked)")
    p = add("check-reference", _check_reference,
            "compare a run's results with the reference tables (tests/reference/); exit 1 on a failure",
            profile=True)
    p.add_argument("--summary", default="results/summary.json", help="the run's results/summary.json")
    p.add_argument("--write", action="store_true", help="freeze --summary as the profile's reference (on purpose)")
    p.add_argument("--items", type=_whole_number, default=204, help="with --write: items per language (tolerance 1/items)")
    p = add("params", _params, "print params.yaml checked, or benchmark/conf composed with overrides; --write "
            "writes that composition to params.yaml (what `dvc exp run -S` does)", profile=True, needs_params=False)
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE",
                   help="Hydra overrides as for `dvc exp run -S`, e.g. profile=smoke encoder.batch_size=64")
    p.add_argument("--write", action="store_true", help="write the composition to params.yaml")
    p.add_argument("--plan", action="store_true", help="print what the params will cost instead: runs, steps, "
                   "tokens, GPU-hours from one measured step of XLM-R large (random weights; minutes on a CPU)")
    p.add_argument("--plan-device", default="auto", help="device to time the step on (default: cuda if present)")
    p.add_argument("--plan-rows", type=_whole_number, default=None,
                   help="rows of the timed step (default: training.batch_size on CUDA, 4 on CPU)")

    p = add("eval-flores", _eval_flores,
            "evaluate the configured encoder on a FLORES-200 directory in the official layout", profile=True)
    p.add_argument("flores_dir", help="directory holding {dev,devtest}/<lang>.{dev,devtest}")
    p.add_argument("--split", default="devtest", choices=["dev", "devtest"])
    p.add_argument("--first-n", type=_whole_number, default=None,
                   help="use only the first N lines of each file (2 <= N <= its line count)")
    p.add_argument("--languages", nargs="+", default=None,
                   help="FLORES-200 codes such as fra_Latn, each file required (default: every file found; "
                   "the pivot always)")
    p.add_argument("--prefix", default=None, help="e5 prefix, e.g. 'query: ' (default: params encoder.prefix)")
    p.add_argument("--out", default="results/flores_eval.csv", help="per-language CSV to write")

    p = add("pin-model", _pin_model, "print the pin (sha256 over its files) of a local save_pretrained "
            "directory, for encoder.revision / image.revision", needs_params=False)
    p.add_argument("folder", help="a directory written by save_pretrained")
    p = add("lock", _lock, "online, once: resolve every upstream the profile reads to an immutable identity "
            "(Hub commit and file sha256s, URL sha256) into benchmark/data/lock.json; --check lists them "
            "offline and fails if any is unresolved", profile=True)
    p.add_argument("--check", action="store_true", help="resolve nothing: list the upstreams, fail if one is unresolved")
    p.add_argument("--update", action="append", default=[], metavar="KEY",
                   help="resolve KEY again (a locked pin never moves otherwise); repeatable")
    p.add_argument("--source", action="append", default=[], metavar="KEY=ORG/REPO[@BRANCH]",
                   help="resolve Hub upstream KEY from this repository (a mirror, or your licensed copy where "
                   "none is public: hf-dataset:none/ccgbank); repeatable")
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="Hydra overrides of the profile, as for "
                   "`benchmark params` (e.g. arms=[baseline,cosmosqa])")
    p = add("fetch", _fetch, "full profile: download the pinned upstream FLORES-200/SIB-200/Tatoeba, verify sha256; "
            "with --profile also every upstream the lock names for that profile", needs_params=False)
    p.add_argument("--profile", choices=PROFILES, help="also fetch what this profile reads, as locked")
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="Hydra overrides of --profile")
    p.add_argument("--dest", default="data/full")
    p.add_argument("--mirror", help="copy from a local mirror laid out as <mirror>/{flores200,sib200,tatoeba}/ "
                   "(e.g. ../shared/data) instead of downloading; same sha256 checks")
    return parser


def _exit_now(code: int) -> None:
    """Exit without tearing down every module: Python's own shutdown spends 1-2 s per stage taking
    torch, transformers, pandas ... apart again, and ``dvc repro`` waits for it. By now the command's
    files are written and closed; what an exit must still do is done here first: wait for
    non-daemon threads, run the ``atexit`` handlers (logging, finalizers), flush stdout/stderr."""
    for thread in threading.enumerate():
        if thread is not threading.main_thread() and not thread.daemon:
            thread.join()
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe (``benchmark params | head``): nothing to flush to
            pass
    os._exit(code)


class Terminated(KeyboardInterrupt):
    """SIGTERM (from ``dvc``, a scheduler, ``kill``) raised like Ctrl-C, so the stage unwinds and
    ends its MLflow runs KILLED instead of leaving them RUNNING."""


def _terminate(signum: int, frame: Any) -> None:
    signal.signal(signum, signal.SIG_DFL)  # a second SIGTERM kills at once, should unwinding hang
    raise Terminated(signum)


def _end_with_dvc() -> None:
    """A stage DVC started ends when DVC does. DVC runs each ``cmd`` as ``$SHELL -c 'benchmark ...'``,
    which execs it, so DVC is the parent: if DVC is killed alone, the kernel sends SIGTERM here
    (Linux's parent-death signal) and the stage unwinds as for any SIGTERM, instead of training on
    as an orphan that a rerun would then find holding the checkpoint lock. Not set outside DVC
    (``DVC_STAGE`` is DVC's own variable), so ``nohup benchmark ...`` outlives its shell as usual."""
    if sys.platform != "linux" or "DVC_STAGE" not in os.environ:
        return
    import ctypes

    parent = os.getppid()
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    if os.getppid() != parent:  # DVC died before the signal was armed
        os.kill(os.getpid(), signal.SIGTERM)


_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def main(argv: list[str] | None = None) -> int:
    """Run one command; as the program itself (``argv`` from the command line) it also exits."""
    if argv is None:  # in-process callers (tests) keep their own signal handling
        signal.signal(signal.SIGTERM, _terminate)
    try:
        if argv is None:
            _end_with_dvc()
        code = _main(argv)
    except Terminated:
        print("benchmark: terminated (SIGTERM)", file=sys.stderr)
        code = 128 + signal.SIGTERM
    if argv is None:
        _exit_now(code)
    return code


def _main(argv: list[str] | None) -> int:
    args = build_parser().parse_args(argv)
    try:
        params = None
        if args.needs_params:
            from benchmark import config

            profile = getattr(args, "profile", None)
            params = config.resolve({"profile": profile}) if profile else config.load_params(args.params)
            if getattr(args, "arm", None) is not None and args.arm not in params.arms:
                raise BenchmarkError(f"run {args.arm!r} is not in {args.params}: arms ({', '.join(params.arms)})")
        args.func(args, params)
    except BenchmarkError as err:
        print(f"benchmark: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
