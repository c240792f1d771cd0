#!/usr/bin/env bash
# Regenerates internal/wit/ from wit/plugin.wit with `wit-bindgen go`
# (cargo install wit-bindgen-cli --version 0.61.1), and copies the runtime
# package the bindings need (go.bytecodealliance.org/pkg's wit/runtime and
# the wit/types it uses, Apache-2.0) from the wit-bindgen-go crate's
# sources, with import paths moved under this module: the Go module proxy
# is not needed to build a plugin.
#
# The generated `main` package's exports become package `exports`, and
# `export_wit_world` (which the generator leaves to the developer) is the
# SDK's: it forwards `handle` to the handler the SDK installs.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
module="github.com/hookgate/hookgate/guest-sdk/go/internal/wit"
version="0.61.1"
wit-bindgen --version | grep -q " $version" || {
  echo "needs wit-bindgen $version: cargo install wit-bindgen-cli --version $version" >&2
  exit 1
}
pkg="$(ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/wit-bindgen-go-$version/src/pkg | head -1)"
[ -d "$pkg/wit/runtime" ] || {
  echo "the wit-bindgen-go $version crate's sources are not in the cargo registry" >&2
  exit 1
}
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
(cd "$scratch" && wit-bindgen go -w plugin "$root/wit/plugin.wit" >/dev/null 2>&1)

out="$here/internal/wit"
keep="$(mktemp -d)"
cp "$out/export_wit_world/handle.go" "$keep/" 2>/dev/null || true
rm -rf "$out"
mkdir -p "$out/exports" "$out/runtime" "$out/types" "$out/export_wit_world"
for dir in "$scratch"/*/; do
  cp -r "$dir" "$out/"
done
cp "$scratch/wit_exports.go" "$out/exports/exports.go"
cp "$pkg/wit/runtime/runtime.go" "$pkg/wit/runtime/empty.s" "$out/runtime/"
cp "$pkg/wit/types"/{option,result,tuple,unit}.go "$out/types/"
cp "$pkg/LICENSE" "$out/LICENSE-go.bytecodealliance.org-pkg"
cp "$keep/handle.go" "$out/export_wit_world/" 2>/dev/null || true
rm -rf "$keep"

find "$out" -name '*.go' -print0 | xargs -0 sed -i \
  -e "s#\"wit_component/#\"$module/#g" \
  -e "s#\"go.bytecodealliance.org/pkg/wit/#\"$module/#g" \
  -e 's#^package main$#package exports#' \
  -e 's#^func main() {}$##'
gofmt -w "$out"
echo "regenerated $out"
