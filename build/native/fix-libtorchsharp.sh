#!/usr/bin/env bash
# Makes copies of TorchSharp's libLibTorchSharp.so loadable where the host's libstdc++ lacks
# GLIBCXX_3.4.32 (Debian 12 has 3.4.30). The library needs that version for one symbol,
# std::ios_base_library_init(): we mark the requirement weak and add a shim library defining the
# symbol as a DT_NEEDED of the copy. Idempotent; does nothing on hosts with a newer libstdc++.
#
# usage: fix-libtorchsharp.sh <path/to/libLibTorchSharp.so>...
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
version=GLIBCXX_3.4.32
shim_name=libmotiontune_iosinit.so

libstdcxx=$(ldconfig -p 2>/dev/null | awk '/libstdc\+\+\.so\.6 .*x86-64/ {print $NF; exit}')
if [ -z "$libstdcxx" ]; then libstdcxx=$(g++ -print-file-name=libstdc++.so.6 2>/dev/null || true); fi
if [ -n "$libstdcxx" ] && grep -q "$version" "$libstdcxx"; then exit 0; fi

for tool in g++ gcc patchelf; do
  command -v "$tool" >/dev/null || { echo "fix-libtorchsharp: '$tool' is required (apt-get install g++ patchelf)" >&2; exit 1; }
done

# Build the two helpers once per checkout; the lock keeps parallel project builds from racing.
obj="$here/obj"
mkdir -p "$obj"
exec 9>"$obj/.lock"
flock 9
if [ ! -x "$obj/weaken_verneed" ] || [ "$here/weaken_verneed.c" -nt "$obj/weaken_verneed" ]; then
  gcc -O2 -o "$obj/weaken_verneed.tmp" "$here/weaken_verneed.c" && mv "$obj/weaken_verneed.tmp" "$obj/weaken_verneed"
fi
if [ ! -f "$obj/$shim_name" ] || [ "$here/ios_base_shim.cpp" -nt "$obj/$shim_name" ]; then
  g++ -O2 -shared -fPIC -o "$obj/$shim_name.tmp" "$here/ios_base_shim.cpp" && mv "$obj/$shim_name.tmp" "$obj/$shim_name"
fi

for lib in "$@"; do
  [ -f "$lib" ] || continue
  dir=$(dirname "$lib")
  # Replaced by rename, never rewritten in place: a running app has the old copy mapped.
  if ! cmp -s "$obj/$shim_name" "$dir/$shim_name"; then
    cp -f "$obj/$shim_name" "$dir/$shim_name.motiontune-tmp" && mv -f "$dir/$shim_name.motiontune-tmp" "$dir/$shim_name"
  fi
  if patchelf --print-needed "$lib" | grep -qx "$shim_name"; then continue; fi
  tmp="$lib.motiontune-tmp"
  cp -f "$lib" "$tmp"
  "$obj/weaken_verneed" "$tmp" "$version"
  patchelf --add-needed "$shim_name" "$tmp"
  mv -f "$tmp" "$lib"
  echo "fix-libtorchsharp: patched $lib"
done
