#!/usr/bin/env bash
# Emulate another CPU's instruction set on this one, for every library that picks its kernels by CPU:
# what a reviewer's AVX2 laptop computes, reproduced on an AVX-512 server. Source it before Python starts:
#   source scripts/isa.sh avx2      # torch's ATen and oneDNN, MKL (torch's BLAS), OpenBLAS (numpy,
#                                   # scipy, scikit-learn) and numpy's own SIMD loops all at AVX2
#   source scripts/isa.sh default   # each library's own choice again
# Which kernels actually run is tagged on every MLflow run (cpu.kernels) and printed by
#   python -c 'from benchmark.tracking import cpu_kernels; print(cpu_kernels())'
case "${1:-}" in
  avx2)
    export ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 MKL_ENABLE_INSTRUCTIONS=AVX2 \
           OPENBLAS_CORETYPE=Haswell NPY_DISABLE_CPU_FEATURES="X86_V4 AVX512_ICL AVX512_SPR" ;;
  default)
    unset ATEN_CPU_CAPABILITY ONEDNN_MAX_CPU_ISA MKL_ENABLE_INSTRUCTIONS OPENBLAS_CORETYPE NPY_DISABLE_CPU_FEATURES ;;
  *)
    echo "isa.sh: unknown instruction set '${1:-}' (avx2 or default)" >&2
    return 2 2>/dev/null || exit 2 ;;
esac
