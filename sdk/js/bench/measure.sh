#!/usr/bin/env bash
# Proxy figures for a JS mini-service's engine cost, without an Islet host:
# the core module of the component (SpiderMonkey + the service) in Wasmtime
# (wasmtime-py from PyPI): cold compile, cached load, instantiate.
#   sdk/js/bench/measure.sh [COMPONENT.wasm]   (default: builds tests/js-guests/js-hello)
# The host's own figures (instantiate + call over HTTP, memory per plugin)
# come from: cargo test -p islet-tests --test e2e js_hello_figures -- --ignored --nocapture
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
sdk="$here/.."
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
component="${1:-}"
if [ -z "$component" ]; then
  component="$work/js-hello.wasm"
  node "$sdk/bin/islet-js-build.js" "$sdk/../../tests/js-guests/js-hello" --out "$component"
fi
maps=()
for i in identity storage log payment notification types; do
  maps+=(--map "islet:platform/$i@0.1.0=./host.js#$i")
done
"$sdk/node_modules/.bin/jco" transpile "$component" -o "$work/js" --name service --no-typescript --quiet "${maps[@]}"
python3 -m venv "$work/venv"
"$work/venv/bin/pip" install -q wasmtime==50.0.1
"$work/venv/bin/python" "$here/core_module.py" "$work/js/service.core.wasm"
