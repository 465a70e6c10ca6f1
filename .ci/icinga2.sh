#!/usr/bin/env bash
# End to end against a real Icinga 2 (Debian's icinga2-bin). The suite starts its own
# Icinga with a private config, certificates and REST API on loopback; Icinga needs root
# to drop to user nagios.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v icinga2 >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends icinga2-bin icinga2-common >/dev/null
fi
cargo test --locked --test e2e_icinga2 -- --ignored
