#!/bin/sh
# The production dependencies of every Galaxy program, in one flat node_modules: what the
# image's final stage holds beside dist/, and what test/build/production-install.int.test.ts
# checks. Run from a directory holding the workspace manifests and the lockfile; gives
# <out>/node_modules. (docs/operations.md, The image.)
#
# `pnpm deploy` of the root package installs its `dependencies` (the services and the CLI)
# and theirs, never a devDependency, from the lockfile; the hoisted linker puts every
# package at the top, where dist/<program>/main.js finds it.
set -eu
out="${1:?usage: install-production.sh <out>}"
CI=true pnpm deploy --filter galaxy --prod --frozen-lockfile --config.node-linker=hoisted --reporter=append-only "$out"
# Galaxy's own packages are bundled into dist/: their copies would be dead weight. Type
# declarations are never loaded, though a package may list them as dependencies (protobufjs,
# under OpenTelemetry's exporters, lists @types/node).
rm -rf "$out/node_modules/@galaxy" "$out/node_modules/@types" "$out/node_modules/.bin"
