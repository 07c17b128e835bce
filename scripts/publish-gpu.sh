#!/usr/bin/env bash
# Makes a self-contained linux-x64 build of the CLI and the benchmarks for a GPU host that has PyTorch
# (no .NET needed there). It carries no libtorch: at run time it uses the host's PyTorch libtorch
# (set MOTIONTUNE_LIBTORCH=/path/to/site-packages/torch/lib, or pass --libtorch).
#
# OpenCV's native library (113 MB) is left out unless WITH_OPENCV=1: sampling, training and the
# benchmarks do not need it; video decoding and the optical-flow metric do.
#
# usage: [WITH_OPENCV=1] [WITH_PLOTS=1] [WITH_MODELS=1] scripts/publish-gpu.sh [output.txz]      (default: .gpu/motiontune-gpu.txz)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-.gpu/motiontune-gpu.txz}
stage=artifacts/gpu-publish
rm -rf "$stage"
for project in src/MotionTune.Cli bench/MotionTune.Bench; do
  dotnet publish "$project" -c Release -r linux-x64 --self-contained -p:TorchBackend=external \
    -p:DebugType=none -p:GenerateDocumentationFile=false -o "$stage/motiontune" --verbosity quiet
done
[ "${WITH_OPENCV:-0}" = 1 ] || rm -f "$stage/motiontune/libOpenCvSharpExtern.so"
# Plots (SkiaSharp, 11 MB) are drawn where the reports are made, not on the GPU host, unless WITH_PLOTS=1.
[ "${WITH_PLOTS:-0}" = 1 ] || rm -f "$stage/motiontune/libSkiaSharp.so" "$stage/motiontune/libHarfBuzzSharp.so"
# The bundled ShapesWorld models (10 MB) are for the CPU demo; the GPU host reads them from the repository if needed.
[ "${WITH_MODELS:-0}" = 1 ] || rm -rf "$stage/motiontune/models"
mkdir -p "$(dirname "$out")"
# xz: about 29 MB against gzip's 38 MB.
tar -C "$stage" -cf - motiontune | xz -T0 -6 > "$out.tmp" && mv "$out.tmp" "$out"
echo "wrote $out ($(du -h "$out" | cut -f1)); on the GPU host: tar xJf $(basename "$out") && MOTIONTUNE_LIBTORCH=<torch/lib> motiontune/motiontune info"
