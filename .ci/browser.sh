#!/usr/bin/env bash
# The status page in a real browser: Debian's chromium driven through chromium-driver.
# A Japanese font, so the screenshots (target/browser/*.png) are readable.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v chromedriver >/dev/null || ! fc-list :lang=ja | grep -q .; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium chromium-driver fonts-ipafont-gothic >/dev/null
fi
cargo test --locked --test browser -- --ignored
echo "Screenshots: target/browser/index.png target/browser/incident.png"
