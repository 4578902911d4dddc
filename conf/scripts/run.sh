#!/bin/sh
# `make run`: a private PostgreSQL (unless DATABASE_URL is set), the schema,
# nginx with the hookd module on 127.0.0.1:$PORT, and demo credentials.
# Ctrl-C stops everything. A second run reuses the cluster and the keys.
set -eu

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
RUN="$ROOT/.run"
PORT=${PORT:-8080}
PGPORT=${PGPORT:-54329}
PG_BIN=/usr/lib/postgresql/15/bin
HOOKD="$ROOT/build/hookd"
export HOOKD_SECRET_KEY_FILE="${HOOKD_SECRET_KEY_FILE:-$RUN/secret.key}"

mkdir -p "$RUN/nginx"

as_pg() {
    if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

PG_STARTED=""
NGINX_PID=""
HOOKD_PID=""

stop() {
    trap - INT TERM EXIT
    echo
    echo "hookd: stopping"
    [ -n "$NGINX_PID" ] && kill -QUIT "$NGINX_PID" 2>/dev/null && wait "$NGINX_PID" 2>/dev/null || true
    [ -n "$HOOKD_PID" ] && kill -TERM "$HOOKD_PID" 2>/dev/null && wait "$HOOKD_PID" 2>/dev/null || true
    [ -n "$PG_STARTED" ] && as_pg "$PG_BIN/pg_ctl" -D "$RUN/pg/data" -m fast -w stop >/dev/null || true
    exit 0
}
trap stop INT TERM EXIT

if [ -z "${DATABASE_URL:-}" ]; then
    PGUSER=$( [ "$(id -u)" -eq 0 ] && echo postgres || id -un )
    if [ ! -d "$RUN/pg/data" ]; then
        echo "hookd: creating a PostgreSQL cluster in $RUN/pg"
        mkdir -p "$RUN/pg"
        [ "$(id -u)" -eq 0 ] && chown postgres "$RUN/pg" && chmod 755 "$RUN"
        as_pg "$PG_BIN/initdb" -D "$RUN/pg/data" -A trust -U "$PGUSER" >/dev/null
        cat >> "$RUN/pg/data/postgresql.conf" <<CONF
port = $PGPORT
listen_addresses = '127.0.0.1'
unix_socket_directories = '$RUN/pg'
max_connections = 200
CONF
    fi
    if ! as_pg "$PG_BIN/pg_ctl" -D "$RUN/pg/data" status >/dev/null 2>&1; then
        as_pg "$PG_BIN/pg_ctl" -D "$RUN/pg/data" -l "$RUN/pg/log" -w start >/dev/null
        PG_STARTED=1
    fi
    as_pg "$PG_BIN/psql" -h 127.0.0.1 -p "$PGPORT" -U "$PGUSER" -d postgres -tAc \
        "SELECT 1 FROM pg_database WHERE datname = 'hookd'" | grep -q 1 \
        || as_pg "$PG_BIN/createdb" -h 127.0.0.1 -p "$PGPORT" -U "$PGUSER" hookd
    DATABASE_URL="host=127.0.0.1 port=$PGPORT dbname=hookd user=$PGUSER"
fi
export DATABASE_URL

"$HOOKD" migrate >/dev/null

if [ ! -s "$RUN/demo.env" ]; then
    "$HOOKD" apps create demo >/dev/null 2>&1 || true
    INGEST=$("$HOOKD" keys create --app demo --scope ingest | sed 's/.*"key":"\([^"]*\)".*/\1/')
    ADMIN=$("$HOOKD" keys create --app demo --scope admin | sed 's/.*"key":"\([^"]*\)".*/\1/')
    printf 'INGEST_KEY=%s\nADMIN_KEY=%s\n' "$INGEST" "$ADMIN" > "$RUN/demo.env"
    chmod 600 "$RUN/demo.env"
fi
. "$RUN/demo.env"

# the master key that seals endpoint secrets (nginx's admin API and hookd)
if [ ! -s "$HOOKD_SECRET_KEY_FILE" ]; then
    (umask 077; od -An -N32 -tx1 /dev/urandom | tr -d ' \n' > "$HOOKD_SECRET_KEY_FILE")
fi

sed -e "s|@MODULE@|$ROOT/build/ngx_http_hookd_module.so|" -e "s|@DIR@|$RUN|g" \
    -e "s|@ROOT@|$ROOT|g" \
    -e "s|@PORT@|$PORT|" -e "s|@DATABASE@|$DATABASE_URL|" \
    -e "s|@SECRET_KEY@|$HOOKD_SECRET_KEY_FILE|" \
    "$ROOT/conf/nginx.run.conf" > "$RUN/nginx/nginx.conf"

# a local demo: deliveries to this machine's loopback are allowed
cat > "$RUN/hookd.conf" <<CONF
database = $DATABASE_URL
secret_key_file = $HOOKD_SECRET_KEY_FILE
allow_network = 127.0.0.1/32
allow_network = ::1/128
CONF
"$HOOKD" run --config "$RUN/hookd.conf" 2>> "$RUN/hookd.log" &
HOOKD_PID=$!

/usr/sbin/nginx -p "$RUN/nginx" -c "$RUN/nginx/nginx.conf" -e "$RUN/nginx/error.log" &
NGINX_PID=$!
sleep 0.5
kill -0 "$NGINX_PID" 2>/dev/null || { tail -5 "$RUN/nginx/error.log"; exit 1; }
kill -0 "$HOOKD_PID" 2>/dev/null || { tail -5 "$RUN/hookd.log"; exit 1; }

cat <<MSG

hookd is running.
  ingest:      POST http://127.0.0.1:$PORT/v1/events
  dashboard:   http://127.0.0.1:$PORT/ui/
  log in:      http://127.0.0.1:$PORT/ui/#/login?key=$ADMIN_KEY
  admin API:   http://127.0.0.1:$PORT/v1/apps (docs/openapi.yaml)
  sources:     POST http://127.0.0.1:$PORT/in/<source id> (docs/sources.md)
  database:    $DATABASE_URL
  application: demo
  ingest key:  $INGEST_KEY
  admin key:   $ADMIN_KEY      (manages the demo application)
  delivery:    hookd run --config $RUN/hookd.conf (loopback allowed for the demo)
  logs:        $RUN/nginx/error.log, $RUN/hookd.log

Try:
  curl -i http://127.0.0.1:$PORT/v1/events \\
       -H 'Authorization: Bearer $INGEST_KEY' \\
       -H 'Content-Type: application/json' \\
       -d '{"event_type": "invoice.paid", "payload": {"amount": 42}}'

Add an endpoint to deliver to (e.g. a local receiver: python3 -m http.server 9000 answers 501, a failed attempt you can see):
  curl -s http://127.0.0.1:$PORT/v1/apps/demo/endpoints \\
       -H 'Authorization: Bearer $ADMIN_KEY' -H 'Content-Type: application/json' \\
       -d '{"url": "http://127.0.0.1:9000/hook", "event_types": ["invoice.*"]}'
Then watch the deliveries:
  curl -s 'http://127.0.0.1:$PORT/v1/apps/demo/deliveries?limit=5' -H 'Authorization: Bearer $ADMIN_KEY'
  psql '$DATABASE_URL' -c 'SELECT status, attempt_count, last_error FROM hookd.deliveries ORDER BY created_at DESC LIMIT 5'

Ctrl-C stops everything.
MSG

wait "$NGINX_PID"
