#!/usr/bin/env bash
# Headless Chromium for the browser tests, from Debian (Playwright's own browser download
# cannot run here), and axe-core from npm for the accessibility checks.
set -euo pipefail
if [ ! -x /usr/bin/chromium ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
fi
cd "$(dirname "$0")/../../services/monitoring"
if [ ! -f node_modules/axe-core/axe.min.js ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
