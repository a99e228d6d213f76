#!/usr/bin/env bash
# Validates the alert rules with promtool (Debian's prometheus package), installing it if missing.
set -euo pipefail
cd "$(dirname "$0")"
if ! command -v promtool >/dev/null 2>&1; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prometheus >/dev/null
fi
promtool check rules alerts.yml
promtool test rules alerts_test.yml
