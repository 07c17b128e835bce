#!/usr/bin/env bash
# Installs the system packages MotionTune needs on Debian/Ubuntu (idempotent):
#   patchelf + g++  make TorchSharp's native library load where libstdc++ is older than GCC 13's
#   ffmpeg          video encoding (mp4/gif)
#   libgtk-3-0 ...  shared libraries of OpenCV's official linux-x64 runtime
#   libfontconfig1  text in plots (SkiaSharp)
set -euo pipefail
packages=(patchelf g++ ffmpeg libgtk-3-0 libfontconfig1 libgomp1 libdrm2 libatomic1)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "setup: installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
command -v dotnet >/dev/null || { echo "setup: the .NET 10 SDK is required (https://dot.net)"; exit 1; }
dotnet restore MotionTune.sln --verbosity quiet
