"""``benchmark``: one subcommand per pipeline stage (what ``dvc.yaml`` calls), plus tools for researchers."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from benchmark.io import BenchmarkError

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")  # forked workers would make timing noisy


def _params(args: argparse.Namespace):
    from benchmark.config import load_params

    overrides = {"profile": args.profile} if getattr(args, "profile", None) else None
    return load_params(args.params, overrides)


def _cmd_prepare(args: argparse.Namespace) -> None:
    params = _params(args)
    from benchmark.pipeline import prepare

    prepare.run(params)


def _cmd_embed(args: argparse.Namespace) -> None:
    params = _params(args)
    from benchmark.pipeline import embed

    embed.run(params, args.arm, use_cache=not args.no_cache)


def _cmd_retrieval(args: argparse.Namespace) -> None:
    params = _params(args)
    from benchmark.pipeline import retrieval

    retrieval.run(params, args.arm)


def _cmd_sib(args: argparse.Namespace) -> None:
    params = _params(args)
    from benchmark.pipeline import sib

    sib.run(params, args.arm)


def _cmd_report(args: argparse.Namespace) -> None:
    params = _params(args)
    from benchmark.report import results

    results.run(params)


def _cmd_params(args: argparse.Namespace) -> None:
    import yaml

    print(yaml.safe_dump(_params(args).model_dump(mode="json"), sort_keys=False, allow_unicode=True), end="")


def _cmd_eval_flores(args: argparse.Namespace) -> None:
    params = _params(args)
    from benchmark.evaluate import evaluate_flores_dir

    evaluate_flores_dir(params, Path(args.flores_dir), split=args.split, first_n=args.first_n,
                        languages=args.languages, prefix=args.prefix, out=Path(args.out))


def _cmd_fetch(args: argparse.Namespace) -> None:
    from benchmark.data import flores, sib

    dest = Path(args.dest)
    mirror = Path(args.mirror) if args.mirror else None
    flores.fetch_upstream(dest / "flores200", mirror / "flores200" if mirror else None)
    sib.fetch_upstream(dest / "sib200", mirror / "sib200" if mirror else None)
    print(f"upstream snapshot verified in {dest}; track it with `dvc add {dest}` and share with `dvc push`")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="benchmark", description=__doc__)
    parser.add_argument("--params", default="params.yaml", help="params file (default: params.yaml)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, func, help_: str, arm: bool = False) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_, description=help_)
        p.set_defaults(func=func)
        if arm:
            p.add_argument("arm", help="arm name (see params.yaml: arms)")
        return p

    add("prepare", _cmd_prepare, "stage: verify the bundled data and materialise it in data/")
    add("embed", _cmd_embed, "stage: embed every evaluation text with an arm's encoder", arm=True).add_argument(
        "--no-cache", action="store_true", help="recompute instead of reading the embedding cache")
    add("retrieval", _cmd_retrieval, "stage: FLORES-200 xsim retrieval against eng_Latn", arm=True)
    add("sib", _cmd_sib, "stage: SIB-200 zero-shot probe accuracy", arm=True)
    add("report", _cmd_report, "stage: results tables, plots and summary")
    p = add("params", _cmd_params, "print the resolved params (profile preset + params.yaml)")
    p.add_argument("--profile", choices=["tiny", "smoke", "mini", "full"], help="override the profile")

    p = add("eval-flores", _cmd_eval_flores,
            "evaluate the configured encoder on a FLORES-200 directory in the official layout")
    p.add_argument("flores_dir", help="directory holding {dev,devtest}/<lang>.{dev,devtest}")
    p.add_argument("--split", default="devtest", choices=["dev", "devtest"])
    p.add_argument("--first-n", type=int, default=None, help="use only the first N lines of each file")
    p.add_argument("--languages", nargs="+", default=None, help="language codes (default: every file found)")
    p.add_argument("--prefix", default=None, help="e5 prefix, e.g. 'query: ' (default: params encoder.prefix)")
    p.add_argument("--profile", choices=["tiny", "smoke", "mini", "full"], help="override the profile")
    p.add_argument("--out", default="results/flores_eval.csv", help="per-language CSV to write")

    p = add("fetch", _cmd_fetch, "full profile: download the pinned upstream FLORES-200/SIB-200 and verify sha256")
    p.add_argument("--dest", default="data/full")
    p.add_argument("--mirror", help="copy from a local mirror laid out as <mirror>/{flores200,sib200}/ "
                   "(e.g. ../shared/data) instead of downloading; same sha256 checks")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except BenchmarkError as err:
        print(f"benchmark: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
