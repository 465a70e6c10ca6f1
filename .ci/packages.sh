#!/usr/bin/env bash
# Builds the .deb (cargo-deb) and .rpm (cargo-generate-rpm) from Cargo.toml's metadata,
# checks what is inside both and the reverse-proxy examples, then installs, upgrades and
# purges the .deb on this machine. Run as root on a CI machine: it creates the kaden
# account and adds zabbix/nagios to group kaden.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive

for tool in cargo-deb cargo-generate-rpm; do
    command -v "$tool" >/dev/null || cargo install --locked "$tool"
done
if ! command -v rpm >/dev/null || ! command -v nginx >/dev/null || ! command -v caddy >/dev/null; then
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends rpm nginx-light caddy >/dev/null
fi

packaging/build-release.sh
if readelf -l target/release/kaden-notify | grep -q 'program interpreter'; then
    echo "target/release/kaden-notify is dynamically linked; packaging/build-release.sh links it statically"
    exit 1
fi
deb=$(cargo deb --no-build --locked | tail -n 1)
cargo generate-rpm
rpm=$(ls -t target/generate-rpm/kaden-*.rpm | head -n 1)
echo "built $deb and $rpm"

expected=(
    /usr/bin/kaden
    /usr/bin/kaden-notify
    /etc/kaden/kaden.yaml
    /etc/default/kaden
    /usr/lib/systemd/system/kaden.service
    /usr/lib/sysusers.d/kaden.conf
    /usr/lib/tmpfiles.d/kaden.conf
    /usr/share/kaden/rules/pronunciation/ja.yaml
    /usr/share/kaden/plugins/zabbix/media_kaden.yaml
    /usr/share/kaden/plugins/zabbix/media_kaden_script.yaml
    /usr/share/kaden/plugins/nagios/kaden.cfg
    /usr/share/kaden/plugins/nagios/kaden-heartbeat.cfg
    /usr/share/kaden/plugins/icinga2/kaden.conf
    /usr/share/kaden/plugins/mackerel/README.md
    /usr/share/kaden/proxy/nginx.conf
    /usr/share/kaden/proxy/Caddyfile
)
fail=0
expect() { # LISTING WHAT PATTERN...
    local listing=$1 what=$2
    shift 2
    for pattern in "$@"; do
        grep -qE "$pattern" <<<"$listing" || { echo "MISSING in $what: $pattern"; fail=1; }
    done
}

deb_list=$(dpkg-deb -c "$deb")
echo "$deb_list"
expect "$deb_list" "$deb" "${expected[@]/#/ \\.}"
# Modes and owners as packed (the group kaden is set by postinst).
expect "$deb_list" "$deb" '^-rw-r----- 0/0 .* \./etc/kaden/kaden\.yaml$' \
    '^-rw------- 0/0 .* \./etc/default/kaden$' '^-rwxr-xr-x 0/0 .* \./usr/bin/kaden$' \
    '^-rwxr-xr-x 0/0 .* \./usr/bin/kaden-notify$'
deb_conffiles=$(dpkg-deb -f "$deb" Package >/dev/null && dpkg-deb --ctrl-tarfile "$deb" | tar -xO ./conffiles)
expect "$deb_conffiles" "$deb conffiles" '^/etc/kaden/kaden\.yaml$' '^/etc/default/kaden$'
expect "$(dpkg-deb --ctrl-tarfile "$deb" | tar -t)" "$deb control" postinst prerm postrm

rpm_list=$(rpm -qlvp "$rpm")
echo "$rpm_list"
expect "$rpm_list" "$rpm" "${expected[@]/%/$}"
expect "$(rpm -qcp "$rpm")" "$rpm config files" '^/etc/kaden/kaden\.yaml$' '^/etc/default/kaden$'
expect "$(rpm -qp --scripts "$rpm")" "$rpm scripts" 'postinstall scriptlet' 'preuninstall scriptlet' 'postuninstall scriptlet'

# The shipped config validates with the shipped rules, wherever the package's files are.
root=$(mktemp -d)
trap '[ -f "$root/proxy/nginx.pid" ] && kill "$(cat "$root/proxy/nginx.pid")"; rm -rf "$root"' EXIT
dpkg-deb -x "$deb" "$root"
sed -e "s#/usr/share/kaden/#$root/usr/share/kaden/#g" -e "s#/var/lib/kaden/#$root/state/#g" \
    "$root/etc/kaden/kaden.yaml" >"$root/kaden.yaml"
"$root/usr/bin/kaden" check-config -c "$root/kaden.yaml"

# The reverse-proxy examples: nginx's, run as shipped (own certificate, ports and log
# directory), publishes /twilio/ and /webhooks/ (502: passed on, no kaden behind it) and
# nothing else (404), and keeps the query string (Mackerel's token) out of its log.
proxy=$root/proxy
mkdir -p "$proxy/logs"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$proxy/key.pem" -out "$proxy/cert.pem" \
    -subj /CN=kaden.example.com -days 1 2>/dev/null
sed -e "s#/etc/letsencrypt/live/kaden.example.com/fullchain.pem#$proxy/cert.pem#" \
    -e "s#/etc/letsencrypt/live/kaden.example.com/privkey.pem#$proxy/key.pem#" \
    -e "s#/var/log/nginx/#$proxy/logs/#" -e "s#listen 443 #listen 127.0.0.1:28443 #" \
    -e "s#listen 80;#listen 127.0.0.1:28080;#" -e "/listen \[::\]/d" \
    -e "s#127.0.0.1:8480#127.0.0.1:9#" "$root/usr/share/kaden/proxy/nginx.conf" >"$proxy/site.conf"
printf 'pid %s/nginx.pid;\nerror_log %s/logs/error.log;\nevents {}\nhttp { access_log off; include %s/site.conf; }\n' \
    "$proxy" "$proxy" "$proxy" >"$proxy/nginx.conf"
nginx -t -q -p "$proxy" -c "$proxy/nginx.conf"
nginx -p "$proxy" -c "$proxy/nginx.conf"
for path in /twilio/voice /webhooks/zabbix '/webhooks/mackerel?token=not-in-logs' \
    /api/v1/incidents /metrics /sim/calls /healthz / /incidents/1 /login; do
    code=$(curl -sk -o /dev/null -w '%{http_code}' -X POST "https://127.0.0.1:28443$path" || true)
    case "$path" in
        /twilio/* | /webhooks/*) want=502 ;;
        *) want=404 ;;
    esac
    [ "$code" = "$want" ] || { echo "proxy: POST $path answered $code, not $want"; fail=1; }
done
kill "$(cat "$proxy/nginx.pid")" && rm -f "$proxy/nginx.pid"
grep -q not-in-logs "$proxy/logs/kaden.access.log" && { echo "proxy: the query string was logged"; fail=1; }
caddy adapt --config "$root/usr/share/kaden/proxy/Caddyfile" --adapter caddyfile --validate >/dev/null

# Install, as an admin would: account, directories, group members, permissions.
dpkg -i "$deb"
getent passwd kaden >/dev/null || { echo "no user kaden"; fail=1; }
# The unit as systemd reads it, and its sandbox (exposure 0 = locked down .. 10 = none).
systemd-analyze verify /usr/lib/systemd/system/kaden.service
systemd-analyze security --offline=true --threshold=20 /usr/lib/systemd/system/kaden.service | tail -n 1
perms() { stat -c '%a %U:%G' "$1"; }
[ "$(perms /etc/kaden/kaden.yaml)" = "640 root:kaden" ] || { echo "kaden.yaml: $(perms /etc/kaden/kaden.yaml)"; fail=1; }
[ "$(perms /etc/default/kaden)" = "600 root:root" ] || { echo "/etc/default/kaden: $(perms /etc/default/kaden)"; fail=1; }
[ "$(perms /var/lib/kaden)" = "750 kaden:kaden" ] || { echo "/var/lib/kaden: $(perms /var/lib/kaden)"; fail=1; }
[ "$(perms /var/lib/kaden/spool)" = "2770 kaden:kaden" ] || { echo "spool: $(perms /var/lib/kaden/spool)"; fail=1; }
runuser -u kaden -- /usr/bin/kaden check-config -c /etc/kaden/kaden.yaml
if [ -d /var/lib/nagios4/rw ]; then
    id -nG kaden | tr ' ' '\n' | grep -qx nagios || { echo "kaden is not in group nagios"; fail=1; }
fi
for user in zabbix nagios; do
    if getent passwd "$user" >/dev/null; then
        id -nG "$user" | tr ' ' '\n' | grep -qx kaden || { echo "$user is not in group kaden"; fail=1; }
        # A member of group kaden leaves a file the daemon (user kaden) can take.
        runuser -u "$user" -- sh -c 'echo {} > /var/lib/kaden/spool/.probe' &&
            [ "$(stat -c %G /var/lib/kaden/spool/.probe)" = kaden ] &&
            runuser -u kaden -- rm /var/lib/kaden/spool/.probe ||
            { echo "$user cannot spool for kaden"; fail=1; }
        runuser -u "$user" -- cat /etc/default/kaden 2>/dev/null && { echo "$user reads the secrets"; fail=1; }
    fi
done
# The service as its unit starts it (this machine runs no systemd): user kaden, the
# environment file, the unit's own ExecStart. The monitoring system's user, a member of
# group kaden that can read no secret, then delivers an alert through the notification
# command the shipped plugins run.
start=$(sed -n 's/^ExecStart=//p' /usr/lib/systemd/system/kaden.service)
env_args=$(grep -E '^[A-Za-z_][A-Za-z0-9_]*=' /etc/default/kaden || true)
# shellcheck disable=SC2086 # the unit's command line and the env file split as systemd splits them
runuser -u kaden -- env $env_args $start >"$root/service.log" 2>&1 &
for _ in $(seq 100); do curl -sf http://127.0.0.1:8480/healthz >/dev/null && break; sleep 0.1; done
curl -sf http://127.0.0.1:8480/healthz >/dev/null || { echo "the packaged service does not answer"; cat "$root/service.log"; fail=1; }
monitor=""
for user in zabbix nagios; do getent passwd "$user" >/dev/null && monitor=$user && break; done
if [ -n "$monitor" ]; then
    runuser -u "$monitor" -- /usr/bin/kaden-notify zabbix-alert -c /etc/kaden/kaden.yaml kaden "PROBLEM" \
        "$(printf 'event_id: 4242\nevent_value: 1\nhost_name: packaged-host')" ||
        { echo "$monitor could not hand an alert to the packaged service"; fail=1; }
    curl -sf http://127.0.0.1:8480/api/v1/incidents | grep -q packaged-host ||
        { echo "the alert from $monitor did not arrive"; fail=1; }
else
    echo "no zabbix or nagios user on this machine: the notification command is not tried"
fi
pkill -u kaden -f 'kaden --log-format json serve' || true
for _ in $(seq 50); do pgrep -u kaden -f 'kaden --log-format json serve' >/dev/null || break; sleep 0.1; done

# An upgrade (the same package again) keeps the admin's edits to the conffiles.
echo "# edited by the admin" >>/etc/kaden/kaden.yaml
dpkg -i "$deb"
grep -q "edited by the admin" /etc/kaden/kaden.yaml || { echo "upgrade lost an edit to kaden.yaml"; fail=1; }
[ "$(perms /etc/kaden/kaden.yaml)" = "640 root:kaden" ] || { echo "after upgrade kaden.yaml: $(perms /etc/kaden/kaden.yaml)"; fail=1; }
dpkg --purge kaden
[ ! -e /usr/bin/kaden ] && [ ! -e /usr/bin/kaden-notify ] && [ ! -e /var/lib/kaden ] && [ ! -e /etc/kaden/kaden.yaml ] ||
    { echo "purge left files behind"; fail=1; }

[ "$fail" = 0 ] && echo "packages OK: $deb $rpm"
exit "$fail"
