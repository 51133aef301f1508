#!/usr/bin/env bash
# Cold build time, peak memory and binary size of cmd/demo and of a
# same-purpose program built on the root SDK client, each with an empty build
# cache of its own (the shared cache is left alone). The second program has
# a go.mod of its own, pinned to the same SDK versions. Takes about 7 minutes
# and up to 4.5 GB of memory on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for target in ./cmd/demo ./bench/testdata/rootsdk; do
  dir=.; pkg=$target
  if [ "$target" = ./bench/testdata/rootsdk ]; then dir=$target; pkg=.; fi
  cache=$(mktemp -d)
  /usr/bin/time -f "%e s, %M KB peak" -o "$out/time" env GOCACHE="$cache" go -C "$dir" build -o "$out/bin" "$pkg"
  printf '%-26s %s, binary %s bytes\n' "$target" "$(cat "$out/time")" "$(stat -c %s "$out/bin")"
  rm -rf "$cache"
done
