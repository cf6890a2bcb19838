#!/usr/bin/env bash
# Builds src/core/image/libwebp.wasm: libwebp 1.2.4's lossy decoder (the version Debian 12's PIL
# links) plus clip_edge_webp.c's row-streaming interface, for wasm32-wasi, with Debian's toolchain.
#
#   sudo apt-get install clang-14 lld-14 wasi-libc libclang-rt-14-dev-wasm32
#   npm run codecs:build -- [--webp path/to/libwebp_1.2.4.orig.tar.gz]
#
# The source is Debian's orig tarball of libwebp 1.2.4 (= the upstream release), checked by sha256;
# without an argument it is fetched with `apt-get source --download-only libwebp` (needs a deb-src
# line for bookworm). The output is committed, so users and CI never build it.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out="$root/src/core/image/libwebp.wasm"
sha256=7bf5a8a28cc69bcfa8cb214f2c3095703c6b73ac5fba4d5480c205331d9494df
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

tarball="${1:-}"
if [ -z "$tarball" ]; then
  (cd "$work" && apt-get source --download-only libwebp >/dev/null)
  tarball="$work/libwebp_1.2.4.orig.tar.gz"
fi
echo "$sha256  $tarball" | sha256sum --check --quiet
tar -xzf "$tarball" -C "$work"
src="$work/libwebp-1.2.4"

files=("$src"/src/dec/*.c)
for s in alpha_processing cpu dec dec_clip_tables filters lossless rescaler upsampling yuv; do files+=("$src/src/dsp/$s.c"); done
for s in bit_reader_utils color_cache_utils filters_utils huffman_utils quant_levels_dec_utils random_utils rescaler_utils thread_utils utils; do
  files+=("$src/src/utils/$s.c")
done

clang-14 --target=wasm32-wasi --sysroot=/usr -O2 -DNDEBUG -I"$src" -I"$src/src" \
  -ffile-prefix-map="$work"=. -ffile-prefix-map="$here"=. \
  -nostartfiles -Wl,--no-entry -Wl,--strip-all -Wl,-z,stack-size=262144 \
  -o "$out" "$here/clip_edge_webp.c" "${files[@]}"
echo "codecs: wrote ${out#"$root"/} ($(stat -c %s "$out") bytes, sha256 $(sha256sum "$out" | cut -c1-16)…)"
