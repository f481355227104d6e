#!/usr/bin/env bash
# Build the image and check it: the `smoke` pipeline runs inside it with no network, and its numbers
# are held against the smoke goldens of tests/reference/ with the tolerances tests/test_smoke_golden.py
# declares (and against tests/reference/smoke_reference.csv through `benchmark check-reference`
# once such a table exists). Prints the image size, the build and run times, and exactly one final
# line: `container check: PASS (...)` (exit 0) or `container check: FAIL (<reason>)` (exit 1).
#
#   bash scripts/container_check.sh                                   # registry + PyPI reachable
#   sudo bash scripts/base_image.sh                                   # no registry: a local base
#   bash scripts/container_check.sh --base localhost/debian-python:3.11-bookworm --wheelhouse wheelhouse
#
# Options (or the environment variables in brackets):
#   --engine NAME      podman or docker [CONTAINER_ENGINE]; default podman if installed, else docker
#   --wheelhouse DIR   a folder inside the repository holding requirements.lock's wheels
#                      [WHEELHOUSE]; built with --build-arg WHEELHOUSE=DIR, i.e. pip --no-index
#   --base IMAGE       the Dockerfile's BASE_IMAGE [BASE_IMAGE]; default the Dockerfile's own
#   --tag TAG          the image built [IMAGE_TAG]; default localhost/flores-transfer:check
#   --arms LIST        smoke runs, comma-separated [SMOKE_ARMS]; default baseline,coco-contrastive:
#                      the smoke preset's own list (baseline alone) stops at the analysis stage ("no
#                      two arms to compare"). The baseline is held against the *_matches_golden tables
#                      (one item per rate), trained runs against the *_trained ones (two items).
#   --logs DIR         keep the build log, the run log and the run's metrics/ and results/ there
#                      [CHECK_LOGS]; default a new folder under ${TMPDIR:-/tmp}
#   --isa NAME         run the smoke pipeline as on a CPU with that instruction set [CHECK_ISA]:
#                      avx2 (scripts/isa.sh's variables, passed into the container) or default
#   --no-build         check an image already built under --tag
# Podman gets --ulimit nofile/nproc at most 16384 and never above this shell's limits (a container
# may not raise them where the engine lacks CAP_SYS_RESOURCE); CONTAINER_ULIMITS replaces those flags.
set -uo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
ENGINE=${CONTAINER_ENGINE:-}
WHEELHOUSE=${WHEELHOUSE:-}
BASE_IMAGE=${BASE_IMAGE:-}
TAG=${IMAGE_TAG:-localhost/flores-transfer:check}
ARMS=${SMOKE_ARMS:-}
LOGS=${CHECK_LOGS:-}
BUILD=1
ISA=${CHECK_ISA:-default}

AUTO_LOGS=0
fail() {  # one line; a log folder this run made and left empty goes too
  if [ "$AUTO_LOGS" = 1 ]; then rmdir "$LOGS/out" "$LOGS" 2>/dev/null; fi
  echo "container check: FAIL ($*)"; exit 1
}
while [ $# -gt 0 ]; do
  case "$1" in
    --engine) ENGINE=${2:-}; shift 2 || fail "--engine needs a value" ;;
    --wheelhouse) WHEELHOUSE=${2:-}; shift 2 || fail "--wheelhouse needs a value" ;;
    --base) BASE_IMAGE=${2:-}; shift 2 || fail "--base needs a value" ;;
    --tag) TAG=${2:-}; shift 2 || fail "--tag needs a value" ;;
    --arms) ARMS=${2:-}; shift 2 || fail "--arms needs a value" ;;
    --logs) LOGS=${2:-}; shift 2 || fail "--logs needs a value" ;;
    --isa) ISA=${2:-}; shift 2 || fail "--isa needs a value" ;;
    --no-build) BUILD=0; shift ;;
    -h|--help) sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) fail "unknown option $1 (see --help)" ;;
  esac
done

env -i bash -c "source '$REPO/scripts/isa.sh' '$ISA'" 2>/dev/null || fail "--isa $ISA: expected avx2 or default"

# --- the engine ---------------------------------------------------------------------------------
if [ -z "$ENGINE" ]; then
  if command -v podman >/dev/null; then ENGINE=podman
  elif command -v docker >/dev/null; then ENGINE=docker
  else fail "neither podman nor docker is installed (or set CONTAINER_ENGINE)"; fi
fi
command -v "$ENGINE" >/dev/null || fail "container engine $ENGINE not found"
"$ENGINE" info >/dev/null 2>&1 || fail "$ENGINE cannot reach a container engine ($ENGINE info fails)"
LIMITS=()
if [ -n "${CONTAINER_ULIMITS+set}" ]; then
  read -r -a LIMITS <<<"$CONTAINER_ULIMITS"
elif [ "$(basename "$ENGINE")" = podman ]; then
  cap() { local v; v=$1; for l in "${@:2}"; do [ "$l" = unlimited ] || [ "$l" -ge "$v" ] || v=$l; done; echo "$v"; }
  nofile=$(cap 16384 "$(ulimit -Sn)" "$(ulimit -Hn)"); nproc=$(cap 16384 "$(ulimit -Su)" "$(ulimit -Hu)")
  LIMITS=(--ulimit "nofile=$nofile:$nofile" --ulimit "nproc=$nproc:$nproc")
fi

if [ -z "$LOGS" ]; then LOGS=$(mktemp -d "${TMPDIR:-/tmp}/container_check.XXXXXX") && AUTO_LOGS=1
else mkdir -p "$LOGS" || fail "cannot create --logs $LOGS"; fi
LOGS=$(cd "$LOGS" && pwd)

# --- inputs, checked before the engine runs anything --------------------------------------------
BUILD_ARGS=()
if [ -n "$WHEELHOUSE" ]; then
  # The build reads it from the context (the repository): a path relative to the repository.
  abs=$(realpath -m -- "$WHEELHOUSE")
  case "$abs/" in
    "$REPO"/?*) rel=${abs#"$REPO"/} ;;
    *) fail "wheelhouse $WHEELHOUSE is not inside the build context $REPO: put it there (e.g. $REPO/wheelhouse, git-ignored)" ;;
  esac
  why=$(python3 "$REPO/scripts/wheelhouse_check.py" --context "$REPO" --wheelhouse "$rel" 2>&1 >/dev/null) \
    || fail "${why#wheelhouse_check: }"
  BUILD_ARGS+=(--build-arg "WHEELHOUSE=$rel")
fi
if [ -n "$BASE_IMAGE" ]; then
  if [ "$BUILD" = 1 ] && ! "$ENGINE" image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
    fail "base image $BASE_IMAGE not found in $ENGINE: make it with scripts/base_image.sh --tag $BASE_IMAGE"
  fi
  BUILD_ARGS+=(--build-arg "BASE_IMAGE=$BASE_IMAGE")
fi
ARMS=${ARMS:-baseline,coco-contrastive}
case "$ARMS" in *[!A-Za-z0-9.,_-]*|,*|*,|*,,*) fail "--arms $ARMS: run names separated by commas, e.g. baseline,coco-contrastive" ;; esac
OVERRIDES=(profile=smoke "arms=[$ARMS]")
RUN_ARMS=$ARMS

# --- build --------------------------------------------------------------------------------------
build_s=0
if [ "$BUILD" = 1 ]; then
  echo "container check: building $TAG with $ENGINE${BUILD_ARGS:+ (${BUILD_ARGS[*]})}; log $LOGS/build.log"
  start=$(date +%s)
  "$ENGINE" build --force-rm "${LIMITS[@]}" "${BUILD_ARGS[@]}" -t "$TAG" "$REPO" >"$LOGS/build.log" 2>&1
  rc=$?
  build_s=$(( $(date +%s) - start ))
  if [ $rc -ne 0 ]; then
    tail -n 15 "$LOGS/build.log"
    why=$(grep -m1 '^wheelhouse_check: ' "$LOGS/build.log" | sed 's/^wheelhouse_check: //')
    [ -n "$why" ] || why=$(grep -v '^\s*$' "$LOGS/build.log" | tail -n 1)
    fail "build failed after ${build_s} s: $why (log: $LOGS/build.log)"
  fi
fi
size=$("$ENGINE" image inspect --format '{{.Size}}' "$TAG" 2>/dev/null) || fail "image $TAG not found (build it, or drop --no-build)"
size_mb=$(( size / 1000000 ))
echo "container check: image $TAG: $size_mb MB; build $([ "$BUILD" = 1 ] && echo "${build_s} s" || echo skipped)"

# --- the smoke pipeline inside the image, offline -------------------------------------------------
# The goldens' tolerances are tests/test_smoke_golden.py's (the drift measured between two instruction
# sets, plus one item): an untrained baseline's per-language rates two items (2/50), a trained run's
# three, the baseline's means two items over nine languages, held-out evidence 0.03; np.isclose as
# pytest-regressions applies them.
read -r -d '' INSIDE <<'EOF'
set -euo pipefail
source scripts/install.sh >/dev/null
arms=$1; shift
benchmark params --write "$@"
dvc repro
python - "$arms" <<'PY'
import json, re, sys
from pathlib import Path
import numpy as np, pandas as pd
ITEM, REF, failed, checked, notes = 1 / 50, Path("tests/reference"), [], 0, []
def compare(label, actual, expected, atol, key):
    global checked
    before = len(failed)
    expected = expected.drop(columns=[c for c in expected.columns if c.startswith("Unnamed") or c == "run"])
    if set(actual[key]) != set(expected[key]):
        failed.append(f"{label}: {key}s {sorted(set(actual[key]) ^ set(expected[key]))} differ"); return
    merged = expected.merge(actual, on=key, suffixes=("_expected", ""))
    for col in expected.columns.drop(key):
        exp, act = merged[f"{col}_expected"], merged[col]
        if pd.api.types.is_numeric_dtype(exp):
            bad = ~np.isclose(act.astype(float), exp.astype(float), atol=atol)
        else:
            bad = act.astype(str) != exp.astype(str)
        checked += len(exp)
        failed.extend(f"{label} {merged[key][i]} {col}: {act[i]} vs golden {exp[i]} (atol {atol:.4f})" for i in np.flatnonzero(bad))
    print(f"golden {label}: {len(merged)} rows, {len(failed) - before} values outside atol {atol:.4f}")
for run in sys.argv[1].split(","):
    for target in ("retrieval", "sib", "tatoeba"):
        actual = pd.read_csv(f"metrics/evaluate/{run}/{target}.per_language.csv")
        if run == "baseline":
            compare(f"{target} {run}", actual, pd.read_csv(REF / f"test_smoke_{target}_matches_golden.csv"), 2 * ITEM + 1e-9, "language")
        else:
            golden = pd.read_csv(REF / f"test_smoke_{target}_trained.csv")
            if (golden["run"] == run).any():
                compare(f"{target} {run}", actual, golden[golden["run"] == run], 3 * ITEM + 1e-9, "language")
            else:
                notes.append(f"{target} {run}: no golden rows")
    if run == "baseline":
        retrieval = json.loads(Path("metrics/evaluate/baseline/retrieval.json").read_text())
        sib = json.loads(Path("metrics/evaluate/baseline/sib.json").read_text())
        got = {k: v for k, v in retrieval.items() if k.startswith("mean_")}
        got |= {f"sib_{k}": sib[k] for k in ("mean_accuracy", "english_dev_accuracy", "english_test_accuracy")}
        golden = pd.read_csv(REF / "test_smoke_summary_matches_golden.csv").drop(columns="Unnamed: 0").iloc[0]
        compare("summary baseline", pd.DataFrame([{"k": 0, **{c: got.get(c, np.nan) for c in golden.index}}]),
                pd.DataFrame([{"k": 0, **golden.to_dict()}]), 2 * ITEM / 9 + 1e-9, "k")
    else:
        metrics = json.loads(Path(f"metrics/train/{run}.json").read_text())
        golden = pd.read_csv(REF / "test_smoke_evidence_matches_golden.csv").iloc[0]
        want = {c[len(run) + 1:]: v for c, v in golden.items()
                if c.startswith(f"{run}.") and not re.match(r"s\d+\.", c[len(run) + 1:])}
        got = {**metrics.get("evidence", {}), "examples": metrics["budget"]["examples"]}
        compare(f"evidence {run}", pd.DataFrame([{"k": 0, **{c: got.get(c, np.nan) for c in want}}]),
                pd.DataFrame([{"k": 0, **want}]), 0.03, "k")
for note in notes:
    print(f"golden {note} (not checked)")
for line in failed[:20]:
    print(f"golden FAIL {line}")
print(f"golden: {checked} values checked, {len(failed)} outside tolerance")
sys.exit(1 if failed else 0)
PY
if [ -f tests/reference/smoke_reference.csv ]; then
  benchmark check-reference --profile smoke
else
  echo "check-reference: tests/reference/smoke_reference.csv does not exist: the goldens above are smoke's reference"
fi
EOF

name="container-check-$$"
trap '"$ENGINE" rm -f "$name" >/dev/null 2>&1' EXIT
trap 'exit 130' INT TERM
mkdir -p "$LOGS/out"
printf '%s\n' "$INSIDE" >"$LOGS/out/smoke.sh"
echo "container check: smoke pipeline in $TAG (--network none, runs: $RUN_ARMS); log $LOGS/run.log"
# The emulated instruction set: scripts/isa.sh's variables, read here and set inside the container.
ISA_ENV=()
while IFS='=' read -r key value; do
  [ -n "$key" ] && ISA_ENV+=(-e "$key=$value")
done < <(env -i bash -c "source '$REPO/scripts/isa.sh' '$ISA' && env" 2>/dev/null \
         | grep -E '^(ATEN_CPU_CAPABILITY|ONEDNN_MAX_CPU_ISA|MKL_ENABLE_INSTRUCTIONS|OPENBLAS_CORETYPE|NPY_DISABLE_CPU_FEATURES)=')
echo "container check: instruction set $ISA${ISA_ENV[*]:+ (${ISA_ENV[*]})}"
start=$(date +%s)
# shellcheck disable=SC2016  # $0..$@ expand inside the container
"$ENGINE" run --rm --name "$name" --network none "${LIMITS[@]}" "${ISA_ENV[@]}" -v "$LOGS/out:/out" "$TAG" \
  bash -c 'bash /out/smoke.sh "$@"; rc=$?; cp -r metrics results dvc.lock params.yaml /out/ 2>/dev/null; exit $rc' \
  container-check "$RUN_ARMS" "${OVERRIDES[@]}" 2>&1 | tee "$LOGS/run.log"
rc=${PIPESTATUS[0]}
run_s=$(( $(date +%s) - start ))
echo "container check: smoke run ${run_s} s (exit $rc); outputs in $LOGS/out"
summary=$(grep -m1 '^golden: ' "$LOGS/run.log")
if [ "$rc" -ne 0 ]; then
  why=${summary:-$(grep -v '^\s*$' "$LOGS/run.log" | tail -n 1)}
  fail "smoke run in $TAG failed after ${run_s} s: $why (log: $LOGS/run.log)"
fi
echo "container check: PASS (isa $ISA; image $TAG $size_mb MB, build $([ "$BUILD" = 1 ] && echo "${build_s} s" || echo skipped), smoke ${run_s} s offline; ${summary#golden: })"
