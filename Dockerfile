# Reviewer's replica of the default run: the same lock file and the same run command as the README.
#   docker build -t flores-transfer . && docker run --rm -v "$PWD/mlruns:/work/benchmark/mlruns" flores-transfer
# CPU image for the `mini` profile; the `full` profile's CUDA base comes with that profile.
FROM python:3.11.7-slim-bookworm

# torch==2.13.0 from PyPI is a multi-GB CUDA build on x86_64; the CPU index serves the +cpu wheel.
ENV PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/cpu \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HF_HUB_OFFLINE=1 \
    MLFLOW_DISABLE_TELEMETRY=true

# git: DVC and the run's commit tag need a repository.
RUN apt-get update \
    && apt-get install -y --no-install-recommends git=1:2.39.5-0+deb12u3 \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /work/benchmark
COPY . .
RUN git config --global --add safe.directory /work/benchmark \
    && bash scripts/install.sh

CMD ["bash", "scripts/repro.sh"]
