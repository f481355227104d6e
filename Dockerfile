# Reviewer's replica of the default run: the same lock file and the same run command as the README.
#   docker build -t flores-transfer . && docker run --rm -v "$PWD/mlruns:/work/benchmark/mlruns" flores-transfer
# Without a registry or PyPI (docs/container.md): a local base image (scripts/base_image.sh) and a
# wheelhouse folder in the build context, installed from with pip --no-index --find-links:
#   podman build --build-arg BASE_IMAGE=localhost/debian-python:3.11-bookworm \
#     --build-arg WHEELHOUSE=wheelhouse -t flores-transfer .
# scripts/container_check.sh builds it and checks the `smoke` pipeline inside it offline.
# A CPU image by default (the `mini` profile). The GPU route (`full`, docs/container.md "On a GPU"):
#   docker build --build-arg TORCH_INDEX= -t flores-transfer:cuda .
#   docker run --rm --gpus all flores-transfer:cuda bash -c 'source scripts/install.sh && python scripts/gpu_check.py'
# TORCH_INDEX empty: torch==2.13.0 from PyPI, its CUDA build (CUDA libraries in the wheels; the host
# needs only the NVIDIA driver and container toolkit), the same requirements.lock otherwise.
ARG BASE_IMAGE=python:3.11.7-slim-bookworm

FROM ${BASE_IMAGE} AS base
# torch==2.13.0 from PyPI is a multi-GB CUDA build on x86_64; the CPU index serves the +cpu wheel.
ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu
ENV PIP_EXTRA_INDEX_URL=${TORCH_INDEX} \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HF_HUB_OFFLINE=1 \
    MLFLOW_DISABLE_TELEMETRY=true
# git: DVC and the run's commit tag need a repository. Installed only where the base lacks it (the
# official image does; scripts/base_image.sh's has it, so that route needs no Debian mirror). Pinned to
# bookworm's 2.39 series, not one Debian revision: a security update (the mirror keeps only the newest
# revision) must not break the build, and git's behaviour for DVC is the same across the series.
RUN if ! command -v git >/dev/null; then \
      apt-get update \
      && apt-get install -y --no-install-recommends 'git=1:2.39.*' \
      && rm -rf /var/lib/apt/lists/*; \
    fi

# Install stage: the whole context, the wheelhouse included when WHEELHOUSE names one.
FROM base AS install
# A folder inside the build context holding requirements.lock's wheels (and pip's); empty: the indexes.
ARG WHEELHOUSE=
WORKDIR /work/benchmark
COPY . .
# The check first: a missing or incomplete wheelhouse, or unreachable indexes, stop here in one line.
RUN python3 scripts/wheelhouse_check.py --wheelhouse "$WHEELHOUSE" \
    && if [ -n "$WHEELHOUSE" ]; then export PIP_NO_INDEX=1 PIP_FIND_LINKS="$PWD/$WHEELHOUSE"; fi \
    && bash scripts/install.sh \
    && rm -rf -- "${WHEELHOUSE:-wheelhouse}" wheelhouse

# The image: the tree and its .venv, without the wheelhouse or pip's cache.
FROM base
WORKDIR /work/benchmark
COPY --from=install /work/benchmark /work/benchmark
RUN git config --global --add safe.directory /work/benchmark

CMD ["bash", "scripts/repro.sh"]
