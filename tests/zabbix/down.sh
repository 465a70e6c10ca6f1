#!/usr/bin/env bash
# Stops what up.sh started in DIR.
DIR=$1
[ -f "$DIR/php.pid" ] && kill "$(cat "$DIR/php.pid")" 2>/dev/null
[ -f "$DIR/zabbix_server.pid" ] && kill "$(cat "$DIR/zabbix_server.pid")" 2>/dev/null
PG=/usr/lib/postgresql/$(ls /usr/lib/postgresql | sort -n | tail -1)/bin
su postgres -s /bin/sh -c "$PG/pg_ctl -D $DIR/pg/data -m fast stop" >/dev/null 2>&1
exit 0
