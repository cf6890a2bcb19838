#!/usr/bin/env bash
# Builds src/core/image/libjpeg-turbo.wasm: libjpeg-turbo 2.1.5's decoder (the version Debian 12's
# PIL links) plus clip_edge_jpeg.c's scanline interface, for wasm32-wasi, with Debian's toolchain.
#
#   sudo apt-get install clang-14 lld-14 wasi-libc libclang-rt-14-dev-wasm32
#   npm run codecs:build [-- path/to/libjpeg-turbo_2.1.5.orig.tar.gz]
#
# The source is Debian's orig tarball of libjpeg-turbo 2.1.5 (= the upstream release), checked by
# sha256; without an argument it is fetched with `apt-get source --download-only libjpeg-turbo`
# (needs a deb-src line for bookworm). The output is committed, so users and CI never build it.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out="$root/src/core/image/libjpeg-turbo.wasm"
sha256=254f3642b04e309fee775123133c6464181addc150499561020312ec61c1bf7c
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

tarball="${1:-}"
if [ -z "$tarball" ]; then
  (cd "$work" && apt-get source --download-only libjpeg-turbo=1:2.1.5-2 >/dev/null 2>&1 || apt-get source --download-only libjpeg-turbo >/dev/null)
  tarball="$work/libjpeg-turbo_2.1.5.orig.tar.gz"
fi
echo "$sha256  $tarball" | sha256sum --check --quiet
tar -xzf "$tarball" -C "$work"
src="$work/libjpeg-turbo-2.1.5"
cp "$here/jconfig.h" "$here/jconfigint.h" "$src/"
sed 's/@COPYRIGHT_YEAR@/1991-2023/' "$src/jversion.h.in" >"$src/jversion.h"

sources="jaricom jcomapi jdapimin jdapistd jdarith jdcoefct jdcolor jddctmgr jdhuff jdinput jdmainct
  jdmarker jdmaster jdmerge jdphuff jdpostct jdsample jerror jidctflt jidctfst jidctint jidctred
  jmemmgr jmemnobs jquant1 jquant2 jutils jsimd_none"
files=()
for s in $sources; do files+=("$src/$s.c"); done

clang-14 --target=wasm32-wasi --sysroot=/usr -O2 -DNO_GETENV -DNO_PUTENV -I"$src" \
  -ffile-prefix-map="$work"=. -ffile-prefix-map="$here"=. \
  -nostartfiles -Wl,--no-entry -Wl,--strip-all -Wl,-z,stack-size=262144 \
  -o "$out" "$here/clip_edge_jpeg.c" "${files[@]}"
echo "codecs: wrote ${out#"$root"/} ($(stat -c %s "$out") bytes, sha256 $(sha256sum "$out" | cut -c1-16)…)"
