#!/usr/bin/env bash
# The one build command for the transformer binary. Used by developers, CI,
# scripts/container-smoke.sh and the Dockerfile alike.
#
#   VERSION  version string stamped into the binary (default: dev)
#   COMMIT   commit stamped into the binary        (default: unknown)
#   OUT      output path, relative to the repo root or absolute
#            (default: bin/transformer)
#
# Runs from the repository root wherever it is called from.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

# -pgo=auto: build with cmd/transformer/default.pgo (scripts/pgo-profile.sh).
CGO_ENABLED=0 go build -trimpath -pgo=auto \
	-ldflags "-s -w -X main.version=${VERSION:-dev} -X main.commit=${COMMIT:-unknown}" \
	-o "${OUT:-bin/transformer}" ./cmd/transformer
