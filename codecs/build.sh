#!/usr/bin/env bash
# npm run codecs:build [-- LIBJPEG_TURBO_TARBALL LIBWEBP_TARBALL]: rebuilds the two codec wasm files
# this package ships (src/core/image/libjpeg-turbo.wasm, src/core/image/libwebp.wasm); see
# codecs/libjpeg-turbo/README.md for the toolchain (Debian 12: clang-14, lld-14, wasi-libc).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
bash "$here/libjpeg-turbo/build.sh" "${1:-}"
bash "$here/libwebp/build.sh" "${2:-}"
