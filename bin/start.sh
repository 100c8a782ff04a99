#!/bin/sh
# The image's entry point: node with the heap flags of the program it runs, then bin/service.mjs,
# which picks the program (its first argument, else GALAXY_SERVICE). The flags are those
# scripts/program-args.ts gives `make up` (test/build/deployment-files.test.ts keeps the two in
# step): a young generation of 2 MB semi-spaces, audit's of 8, and an old generation that grows
# 30 % past what survived. NODE_OPTIONS stays the operator's.
case "${1:-$GALAXY_SERVICE}" in
  audit) semi_space=8 ;;
  *) semi_space=2 ;;
esac
exec node "--max-semi-space-size=$semi_space" --heap-growing-percent=30 bin/service.mjs "$@"
