#!/usr/bin/env bash
# Pins deploy/Dockerfile's base image by digest: resolves python:<PYTHON_TAG> to the digest of its
# multi-platform index and writes it into `ARG PYTHON_DIGEST=`. Needs a registry and one of
# crane, skopeo or docker buildx. Run it when PYTHON_TAG changes, and commit the result.
set -euo pipefail
DOCKERFILE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/Dockerfile"
TAG="$(sed -n 's/^ARG PYTHON_TAG=\(.*\)$/\1/p' "$DOCKERFILE")"
[[ -n "$TAG" ]] || { echo "no ARG PYTHON_TAG in $DOCKERFILE" >&2; exit 1; }
IMAGE="docker.io/library/python:$TAG"

if command -v crane >/dev/null; then
    digest="$(crane digest "$IMAGE")"
elif command -v skopeo >/dev/null; then
    # The raw manifest is the index; its sha256 is the digest a pull by tag resolves to.
    digest="sha256:$(skopeo inspect --raw "docker://$IMAGE" | sha256sum | cut -d' ' -f1)"
elif command -v docker >/dev/null && docker buildx version >/dev/null 2>&1; then
    digest="$(docker buildx imagetools inspect "$IMAGE" --format '{{json .Manifest}}' \
              | sed -n 's/.*"digest":"\(sha256:[0-9a-f]\{64\}\)".*/\1/p' | head -n 1)"
else
    echo "none of crane, skopeo or docker buildx found: cannot resolve $IMAGE" >&2
    exit 1
fi
[[ "$digest" =~ ^sha256:[0-9a-f]{64}$ ]] || { echo "unexpected digest for $IMAGE: '$digest'" >&2; exit 1; }

sed -i "s/^ARG PYTHON_DIGEST=.*$/ARG PYTHON_DIGEST=@$digest/" "$DOCKERFILE"
echo "pinned python:$TAG@$digest in $DOCKERFILE"
