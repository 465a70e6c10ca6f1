#!/usr/bin/env bash
# Starts a private Zabbix 6.0 (Debian's zabbix-server-pgsql + zabbix-frontend-php) in DIR:
# a PostgreSQL cluster on PGPORT, the server (trapper on ZBXPORT) and the frontend under
# PHP's built-in server on WEBPORT. Used by tests/e2e_zabbix.rs; needs root.
set -euo pipefail
DIR=$1 PGPORT=$2 ZBXPORT=$3 WEBPORT=$4
PG=/usr/lib/postgresql/$(ls /usr/lib/postgresql | sort -n | tail -1)/bin
install -d -o postgres -g postgres "$DIR/pg"
su postgres -s /bin/sh -c "$PG/initdb -D $DIR/pg/data -A trust -U postgres" >/dev/null
su postgres -s /bin/sh -c "$PG/pg_ctl -D $DIR/pg/data -o '-p $PGPORT -k $DIR/pg -c listen_addresses=127.0.0.1 -c fsync=off' -l $DIR/pg/log -w start" >/dev/null
PSQL="psql -q -h 127.0.0.1 -p $PGPORT -U postgres"
$PSQL -c "CREATE DATABASE zabbix" >/dev/null
for part in schema images data; do
  zcat /usr/share/zabbix-server-pgsql/$part.sql.gz | $PSQL -v ON_ERROR_STOP=1 zabbix >/dev/null
done
mkdir -p "$DIR/alertscripts"
cat > "$DIR/zabbix_server.conf" <<CONF
ListenPort=$ZBXPORT
DBHost=127.0.0.1
DBPort=$PGPORT
DBName=zabbix
DBUser=postgres
LogFile=$DIR/zabbix_server.log
PidFile=$DIR/zabbix_server.pid
SocketDir=$DIR
AlertScriptsPath=$DIR/alertscripts
AllowRoot=1
StartPollers=1
StartPollersUnreachable=1
StartTrappers=2
StartPingers=0
StartDiscoverers=0
StartHTTPPollers=0
CacheUpdateFrequency=1
StartAlerters=1
CONF
zabbix_server -c "$DIR/zabbix_server.conf"
cat > /etc/zabbix/zabbix.conf.php <<PHP
<?php
\$DB['TYPE'] = 'POSTGRESQL';
\$DB['SERVER'] = '127.0.0.1';
\$DB['PORT'] = '$PGPORT';
\$DB['DATABASE'] = 'zabbix';
\$DB['USER'] = 'postgres';
\$DB['PASSWORD'] = '';
\$DB['SCHEMA'] = '';
\$DB['ENCRYPTION'] = false;
\$DB['DOUBLE_IEEE754'] = true;
\$ZBX_SERVER = '127.0.0.1';
\$ZBX_SERVER_PORT = '$ZBXPORT';
\$ZBX_SERVER_NAME = 'kaden-e2e';
\$IMAGE_FORMAT_DEFAULT = IMAGE_FORMAT_PNG;
PHP
nohup php -S 127.0.0.1:$WEBPORT -t /usr/share/zabbix >"$DIR/php.log" 2>&1 &
echo $! > "$DIR/php.pid"
