#!/bin/sh
# kaden's storm benchmark (benches/storm/), next to Prometheus Alertmanager measured in the
# same run. Installs Alertmanager with apt-get when it is missing (Debian or Ubuntu; root
# or sudo), then runs the bench; it prints figures as it goes and a table of ratios last.
# CI does not run this. About 3 minutes on 2 cores, plus the build.
#
#   bench/run.sh                      # every measure
#   bench/run.sh storm webhooks       # only these: ingest storm growth flapping
#                                     #   alertscript webhooks
set -eu
cd "$(dirname "$0")/.."

if [ ! -x /usr/bin/prometheus-alertmanager ]; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        prometheus-alertmanager
fi

# The statically linked kaden-notify the packages ship, timed next to cargo's default build.
packaging/build-release.sh
cp target/release/kaden-notify target/kaden-notify-static
KADEN_NOTIFY_STATIC="$PWD/target/kaden-notify-static" exec cargo bench --bench storm -- "$@"
