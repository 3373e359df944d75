#!/usr/bin/env bash
# Throughput, latency, CPU per request and memory of stagepass on the path a
# Backstage deployment runs, next to a plain nginx proxy hop and Apache
# mod_auth_openidc (the peer doing stagepass's job), in one run.
#
#   bench/load.sh                 # Debian: apt-get install nginx wrk apache2
#                                 #   libapache2-mod-auth-openidc curl openssl bc (CALLGRIND: valgrind apache2-utils)
#                                 # npm ci in tests/support/op (the real OpenID Provider)
#   ROUNDS=5 DURATION=10 bench/load.sh
#   BASELINE_BIN=/tmp/stagepass-old bench/load.sh   # also measure an older build
#   PERF_DATA=/tmp/sp.perf bench/load.sh            # also profile stagepass under load
#   CALLGRIND=1 bench/load.sh       # also count the instructions stagepass runs
#                                   #   per signed-in request (valgrind; steady
#                                   #   where a shared VM's timings are not)
#   STRACE=1 bench/load.sh          # also count system calls per request of
#                                   #   stagepass and of the nginx proxy
#   SESSION_STORE=1 bench/load.sh   # stagepass with a Redis session store (revocable
#                                   # sessions), next to the same build cookie-only
#
# Method (numbers are only comparable within one run on one machine):
# - upstream: nginx `return 200` (one worker); the nginx proxy is a second,
#   separate nginx (one worker, keepalive upstream), so it pays the same
#   process switches to reach the upstream as stagepass does;
# - stagepass as Backstage runs it: `emailMatchingUserEntityProfileEmail`
#   against a catalog file, an `auth.keyStore` key (the Backstage token and
#   the assertion are injected on every request), access log at the default
#   level;
# - mod_auth_openidc: `OIDCSessionType client-cookie` (stateless, like
#   stagepass), mpm_event, proxying to the same upstream;
# - hyper-floor (examples/hyper-floor.rs): hyper's HTTP/1 server and client
#   with nothing between them but swapping the cookie for the headers
#   stagepass sends upstream (captured from it): the least any proxy on
#   hyper pays for this request, and so the most it can reach;
# - both signed in at the real OpenID Provider (tests/support/op) through its
#   login form (bench/sign-in.py); the IdP is not contacted during the rounds;
# - upstream, proxies and stagepass pinned together to the last CPU; wrk
#   (-t1 -c50) on CPU 0; rounds alternate the targets; the median is shown;
# - CPU per request: utime+stime of the upstream and the proxy under test
#   (from /proc), divided by the requests served; steadier than req/s on a
#   shared VM.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${ROUNDS:-3}
duration=${DURATION:-5}
connections=${CONNECTIONS:-50}
server_cpu=$(( $(nproc) - 1 ))
load_cpu=0
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true
      nginx -p "$work/up" -c nginx.conf -s stop 2>/dev/null || true
      nginx -p "$work/px" -c nginx.conf -s stop 2>/dev/null || true
      [ -f "$work/apache/httpd.pid" ] && kill "$(cat "$work/apache/httpd.pid")" 2>/dev/null || true
      rm -rf "$work"' EXIT

[ -d tests/support/op/node_modules ] ||
  { echo "the OpenID Provider needs its packages: npm ci --prefix tests/support/op"; exit 1; }
cargo build --release --quiet --locked --bin stagepass --example hyper-floor

nginx_conf() { # dir, server block
  mkdir -p "$1/logs"
  cat > "$1/nginx.conf" <<NGINX
worker_processes 1;
error_log $1/logs/error.log warn;
pid $1/nginx.pid;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $1/body; proxy_temp_path $1/proxy; fastcgi_temp_path $1/fastcgi;
  uwsgi_temp_path $1/uwsgi; scgi_temp_path $1/scgi;
  $2
}
NGINX
}
chmod 755 "$work"
nginx_conf "$work/up" 'server { listen 127.0.0.1:18080; location / { return 200 "ok"; } }'
nginx_conf "$work/px" 'upstream origin { server 127.0.0.1:18080; keepalive 64; }
  server { listen 127.0.0.1:18082; location / { proxy_pass http://origin; proxy_http_version 1.1; proxy_set_header Connection ""; } }'
taskset -c "$server_cpu" nginx -p "$work/up" -c nginx.conf
taskset -c "$server_cpu" nginx -p "$work/px" -c nginx.conf

# The real OpenID Provider, on CPU 0 with wrk: it only serves the two sign-ins.
mkfifo "$work/op.out"
taskset -c "$load_cpu" node tests/support/op/server.mjs --port 0 --exit-on-stdin-close false \
  --redirect-uri http://127.0.0.1:18000/api/auth/load/handler/frame \
  --redirect-uri http://127.0.0.1:18084/redirect_uri > "$work/op.out" 2> "$work/op.log" &
exec 3< "$work/op.out"
read -r -u 3 ready || { echo "the OpenID Provider did not start:"; cat "$work/op.log"; exit 1; }
issuer=$(echo "${ready#READY }" | python3 -c 'import json,sys; print(json.load(sys.stdin)["issuer"])')

openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$work/key.pem" 2>/dev/null
openssl pkey -in "$work/key.pem" -pubout -out "$work/pub.pem"
sed 's/name: alice/name: load-test/; s/alice@example.com/load-test@example.com/' \
  tests/support/backstage/catalog.yaml > "$work/catalog.yaml"
export SESSION_SECRET=load-test-secret-load-test-secret-0123456789
session_store=
[ -z "${SESSION_STORE:-}" ] || session_store='sessions: { store: { redis: { url: "redis://127.0.0.1:18379" } } }'
cat > "$work/stagepass.yaml" <<YAML
stagepass:
  listen: 127.0.0.1:18000
  publicUrl: http://127.0.0.1:18000
  upstream: http://127.0.0.1:18080
  provider: load
  admin: { listen: 127.0.0.1:18090 }
  catalog: { file: $work/catalog.yaml }
  $session_store
auth:
  environment: development
  session:
    secret: \${SESSION_SECRET}
  keyStore:
    provider: static
    static:
      keys:
        - { publicKeyFile: $work/pub.pem, privateKeyFile: $work/key.pem, keyId: load, algorithm: ES256 }
  providers:
    load:
      development:
        metadataUrl: $issuer/.well-known/openid-configuration
        clientId: stagepass
        clientSecret: stagepass-test-secret
        signIn:
          resolvers:
            - resolver: emailMatchingUserEntityProfileEmail
YAML
if [ -n "${SESSION_STORE:-}" ]; then
  # The store under test; its own CPU time is not counted (Redis is idle
  # on the request path: revocation checks are in memory).
  redis-server --port 18379 --bind 127.0.0.1 --save '' --appendonly no > "$work/redis.log" 2>&1 &
  for _ in $(seq 50); do redis-cli -p 18379 ping > /dev/null 2>&1 && break; sleep 0.1; done
  # The comparison: the same build, cookie-only (the session's id is ignored).
  BASELINE_BIN=${BASELINE_BIN:-target/release/stagepass}
fi
taskset -c "$server_cpu" target/release/stagepass --config "$work/stagepass.yaml" > "$work/stagepass.log" 2>&1 &
sp_pid=$!
for _ in $(seq 50); do curl -fs -o /dev/null http://127.0.0.1:18090/readyz && break; sleep 0.1; done
curl -fs -o /dev/null http://127.0.0.1:18090/readyz || { echo "stagepass is not ready:"; cat "$work/stagepass.log"; exit 1; }
cookie=$(bench/sign-in.py http://127.0.0.1:18000/x load-test@example.com)

# Apache mod_auth_openidc with stateless client-cookie sessions.
mkdir -p "$work/apache"
modules=/usr/lib/apache2/modules
cat > "$work/apache/httpd.conf" <<APACHE
ServerRoot $work/apache
ServerName 127.0.0.1
Listen 127.0.0.1:18084
PidFile $work/apache/httpd.pid
ErrorLog $work/apache/error.log
LogLevel warn
User www-data
Group www-data
LoadModule mpm_event_module $modules/mod_mpm_event.so
LoadModule authz_core_module $modules/mod_authz_core.so
LoadModule authn_core_module $modules/mod_authn_core.so
LoadModule authz_user_module $modules/mod_authz_user.so
LoadModule proxy_module $modules/mod_proxy.so
LoadModule proxy_http_module $modules/mod_proxy_http.so
LoadModule auth_openidc_module $modules/mod_auth_openidc.so
OIDCProviderMetadataURL $issuer/.well-known/openid-configuration
OIDCClientID stagepass
OIDCClientSecret stagepass-test-secret
OIDCRedirectURI http://127.0.0.1:18084/redirect_uri
OIDCCryptoPassphrase load-test-passphrase-0123456789
OIDCSessionType client-cookie
OIDCPKCEMethod S256
OIDCScope "openid email profile"
ProxyPass /redirect_uri !
ProxyPass / http://127.0.0.1:18080/ keepalive=On
<Location />
  AuthType openid-connect
  Require valid-user
</Location>
APACHE
taskset -c "$server_cpu" apache2 -f "$work/apache/httpd.conf" -k start ||
  { cat "$work/apache/error.log"; exit 1; }
for _ in $(seq 50); do [ -f "$work/apache/httpd.pid" ] && break; sleep 0.1; done
apache_cookie=$(bench/sign-in.py http://127.0.0.1:18084/x load-test@example.com)
apache_pids=$(pgrep -f "apache2 -f $work/apache/httpd.conf" | tr '\n' ' ')
# Every figure below is for 200 responses with the identity injected.
code=$(curl -s -o /dev/null -w "%{http_code}" -H "Cookie: $cookie" http://127.0.0.1:18000/x)
[ "$code" = 200 ] || { echo "stagepass answered $code"; tail -5 "$work/stagepass.log"; exit 1; }

# The hyper floor (examples/hyper-floor.rs): hyper's HTTP/1 server and
# client and nothing else, sending the upstream the very headers stagepass
# sends it. They are captured once: the same config and cookie, pointed at a
# one-shot listener that keeps the request head.
sed 's/listen: 127.0.0.1:18000/listen: 127.0.0.1:18003/; s/18090/18093/; s#upstream: http://127.0.0.1:18080#upstream: http://127.0.0.1:18098#; /sessions: { store/d' \
  "$work/stagepass.yaml" > "$work/capture.yaml"
python3 - "$work/upstream-head.txt" > "$work/capture.out" <<'PY' &
import socket, sys
server = socket.create_server(("127.0.0.1", 18098))
print("listening", flush=True)
conn, _ = server.accept()
head = b""
while b"\r\n\r\n" not in head:
    head += conn.recv(65536)
open(sys.argv[1], "wb").write(head.split(b"\r\n\r\n")[0])
conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
PY
capture_pid=$!
for _ in $(seq 50); do grep -q listening "$work/capture.out" 2>/dev/null && break; sleep 0.1; done
target/release/stagepass --config "$work/capture.yaml" > "$work/capture.log" 2>&1 &
capture_sp=$!
for _ in $(seq 50); do curl -fs -o /dev/null http://127.0.0.1:18093/readyz && break; sleep 0.1; done
# As wrk sends it: no User-Agent, no Accept.
curl -fs -o /dev/null -H "User-Agent:" -H "Accept:" -H "Cookie: $cookie" http://127.0.0.1:18003/x ||
  { echo "capturing stagepass's upstream head failed"; cat "$work/capture.log"; exit 1; }
wait "$capture_pid"; kill "$capture_sp"
tail -n +2 "$work/upstream-head.txt" | tr -d '\r' > "$work/floor-headers.txt"
taskset -c "$server_cpu" target/release/examples/hyper-floor 127.0.0.1:18010 127.0.0.1:18080 \
  "$work/floor-headers.txt" > "$work/floor.log" 2>&1 &
floor_pid=$!
for _ in $(seq 50); do curl -fs -o /dev/null http://127.0.0.1:18010/x && break; sleep 0.1; done
echo "the upstream's request head behind stagepass and the floor: $(wc -c < "$work/upstream-head.txt") bytes"

baseline_pid=
if [ -n "${BASELINE_BIN:-}" ]; then
  # Same publicUrl (the session is bound to it), other ports.
  sed 's/listen: 127.0.0.1:18000/listen: 127.0.0.1:18001/; s/18090/18091/; /sessions: { store/d' "$work/stagepass.yaml" > "$work/baseline.yaml"
  taskset -c "$server_cpu" "$BASELINE_BIN" --config "$work/baseline.yaml" > "$work/baseline.log" 2>&1 &
  baseline_pid=$!
  for _ in $(seq 50); do curl -fs -o /dev/null http://127.0.0.1:18091/healthz && break; sleep 0.1; done
  # Builds before the sealed format 2 need their own cookie (BASELINE_COOKIE).
  baseline_cookie=${BASELINE_COOKIE:-$cookie}
fi

up_pid=$(pgrep -P "$(cat "$work/up/nginx.pid")")
px_pid=$(pgrep -P "$(cat "$work/px/nginx.pid")")
ticks() { local t=0 s; for p in "$@"; do for s in /proc/"$p"/task/*/stat; do
  t=$((t + $(awk '{print $14 + $15}' "$s"))); done; done; echo "$t"; }
hz=$(getconf CLK_TCK)

declare -A rps p99 cpu
measure() { # name url pids... -- wrk args...
  local name=$1 url=$2; shift 2
  local pids=() args=()
  while [ "$1" != -- ]; do pids+=("$1"); shift; done; shift; args=("$@")
  local before after out
  before=$(ticks "${pids[@]}")
  out=$(taskset -c "$load_cpu" wrk -t1 -c"$connections" -d"${duration}s" --latency "${args[@]}" "$url")
  after=$(ticks "${pids[@]}")
  if echo "$out" | grep -q "Non-2xx"; then echo "$name: non-2xx answers"; echo "$out"; exit 1; fi
  local reqs; reqs=$(echo "$out" | awk '/requests in/{print $1}')
  rps[$name]+="$(echo "$out" | awk '/Requests\/sec/{print $2}') "
  p99[$name]+="$(echo "$out" | awk '/ 99%/{print $2}' | sed 's/us$/e-3/; s/ms$//; s/s$/e3/') "
  cpu[$name]+="$(echo "($after - $before) * 1000000 / $hz / $reqs" | bc -l) "
}
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {printf "%.1f", a[int((NR+1)/2)]}'; }

counters() { curl -fs http://127.0.0.1:18090/metrics |
  grep -E '^stagepass_(catalog_lookups|tokens_signed|unknown_key_ids|idp_errors|upstream_errors)' || true; }
counters_before=$(counters)
# Every target first serves 2 s unmeasured: connections, caches and the
# allocator's heap are warm in every measured round, not only the later ones.
warm() { taskset -c "$load_cpu" wrk -t1 -c"$connections" -d2s "$@" > /dev/null; }
warm http://127.0.0.1:18080/x
warm http://127.0.0.1:18082/x
warm -H "Cookie: $cookie" http://127.0.0.1:18000/x
warm -H "Cookie: $cookie" http://127.0.0.1:18010/x
warm -H "Cookie: $apache_cookie" http://127.0.0.1:18084/x
[ -z "$baseline_pid" ] || warm -H "Cookie: $baseline_cookie" http://127.0.0.1:18001/x
echo "== $rounds rounds x ${duration}s, wrk -t1 -c$connections on CPU $load_cpu, servers on CPU $server_cpu, cookie ${#cookie} bytes"
for _ in $(seq "$rounds"); do
  measure upstream http://127.0.0.1:18080/x "$up_pid" --
  measure nginx-proxy http://127.0.0.1:18082/x "$up_pid" "$px_pid" --
  measure stagepass http://127.0.0.1:18000/x "$up_pid" "$sp_pid" -- -H "Cookie: $cookie"
  measure hyper-floor http://127.0.0.1:18010/x "$up_pid" "$floor_pid" -- -H "Cookie: $cookie"
  # shellcheck disable=SC2086 # one pid per word
  measure mod_auth_openidc http://127.0.0.1:18084/x "$up_pid" $apache_pids -- -H "Cookie: $apache_cookie"
  if [ -n "$baseline_pid" ]; then
    measure baseline http://127.0.0.1:18001/x "$up_pid" "$baseline_pid" -- -H "Cookie: $baseline_cookie"
  fi
done
printf "%-16s %12s %10s %14s\n" target "req/s" "p99 ms" "CPU us/req"
for t in upstream nginx-proxy stagepass hyper-floor mod_auth_openidc ${baseline_pid:+baseline}; do
  printf "%-16s %12s %10s %14s\n" "$t" "$(echo "${rps[$t]}" | median)" "$(echo "${p99[$t]}" | median)" "$(echo "${cpu[$t]}" | median)"
done
sp=$(echo "${rps[stagepass]}" | median); ng=$(echo "${rps[nginx-proxy]}" | median)
ma=$(echo "${rps[mod_auth_openidc]}" | median)
ratio() { printf "%.2f" "$(echo "$1 / $2" | bc -l)"; }
echo "stagepass / nginx-proxy throughput: $(ratio "$sp" "$ng")x," \
  "p99 $(ratio "$(echo "${p99[stagepass]}" | median)" "$(echo "${p99[nginx-proxy]}" | median)")x"
echo "stagepass / mod_auth_openidc throughput: $(ratio "$sp" "$ma")x"
fl=$(echo "${rps[hyper-floor]}" | median)
echo "hyper-floor / nginx-proxy throughput: $(ratio "$fl" "$ng")x (the most a proxy on hyper reaches here)"
echo "stagepass / hyper-floor throughput: $(ratio "$sp" "$fl")x, CPU per request above the floor:" \
  "$(printf "%.1f" "$(echo "$(echo "${cpu[stagepass]}" | median) - $(echo "${cpu[hyper-floor]}" | median)" | bc -l)") us"

if [ -n "${PERF_DATA:-}" ]; then
  echo "== profiling stagepass for ${duration}s under the same load into $PERF_DATA"
  perf record -q -F 2000 --call-graph dwarf,16384 -o "$PERF_DATA" -p "$sp_pid" -- sleep "$duration" &
  perf_pid=$!
  taskset -c "$load_cpu" wrk -t1 -c"$connections" -d"${duration}s" -H "Cookie: $cookie" http://127.0.0.1:18000/x > /dev/null
  wait "$perf_pid"
fi

syscalls() { # name url pid -- wrk args: system calls per request, by call
  local name=$1 url=$2 pid=$3; shift 4
  strace -c -f -q -o "$work/strace.$name" -p "$pid" &
  local strace_pid=$!
  sleep 0.5 # strace attaches
  local reqs; reqs=$(taskset -c "$load_cpu" wrk -t1 -c"$connections" -d2s "$@" "$url" | awk '/requests in/{print $1}')
  kill -INT "$strace_pid"; wait "$strace_pid" || true
  echo "$name: $reqs requests"
  awk -v n="$reqs" '$NF ~ /^[a-z_0-9]+$/ && $4 ~ /^[0-9]+$/ && $NF != "total" {
      printf "  %-16s %6.2f per request\n", $NF, $4 / n; sum += $4 }
    END { printf "  %-16s %6.2f per request\n", "all", sum / n }' "$work/strace.$name"
}
if [ -n "${STRACE:-}" ]; then
  echo "== system calls per request (strace -c -f, 2 s of the same load)"
  syscalls nginx-proxy http://127.0.0.1:18082/x "$px_pid" --
  syscalls stagepass http://127.0.0.1:18000/x "$sp_pid" -- -H "Cookie: $cookie"
fi

if [ -n "${CALLGRIND:-}" ]; then
  # User-space instructions only (no kernel, no waiting): the same build and
  # config on other ports under callgrind, warmed up, then counted over a
  # fixed number of keep-alive requests.
  echo "== instructions per signed-in request (callgrind, user space)"
  sed 's/listen: 127.0.0.1:18000/listen: 127.0.0.1:18005/; s/18090/18095/; /sessions: { store/d' \
    "$work/stagepass.yaml" > "$work/callgrind.yaml"
  taskset -c "$server_cpu" valgrind --tool=callgrind --callgrind-out-file="$work/callgrind.out" \
    target/release/stagepass --config "$work/callgrind.yaml" > "$work/callgrind.log" 2>&1 &
  vg_pid=$!
  for _ in $(seq 100); do curl -fs -o /dev/null http://127.0.0.1:18095/readyz && break; sleep 0.3; done
  ab -q -k -n 500 -c 10 -H "Cookie: $cookie" http://127.0.0.1:18005/x > /dev/null
  callgrind_control -z "$vg_pid" > /dev/null 2>&1
  n=3000
  ab -q -k -n "$n" -c 10 -H "Cookie: $cookie" http://127.0.0.1:18005/x | grep -q "Non-2xx" &&
    { echo "callgrind: non-2xx answers"; exit 1; }
  callgrind_control -d "$vg_pid" > /dev/null 2>&1
  kill "$vg_pid"; wait "$vg_pid" 2>/dev/null || true
  ir=$(awk '/^summary:/{print $2}' "$work/callgrind.out.1")
  echo "stagepass: $((ir / n)) instructions per request ($n requests)"
  echo "  top functions (inclusive): callgrind_annotate --inclusive=yes <file>; the file is kept as /tmp/stagepass.callgrind"
  cp "$work/callgrind.out.1" /tmp/stagepass.callgrind
  taskset -c "$server_cpu" valgrind --tool=callgrind --callgrind-out-file="$work/floor.callgrind" \
    target/release/examples/hyper-floor 127.0.0.1:18011 127.0.0.1:18080 "$work/floor-headers.txt" \
    > "$work/floor-callgrind.log" 2>&1 &
  vg_pid=$!
  for _ in $(seq 100); do curl -fs -o /dev/null http://127.0.0.1:18011/x && break; sleep 0.3; done
  ab -q -k -n 500 -c 10 -H "Cookie: $cookie" http://127.0.0.1:18011/x > /dev/null
  callgrind_control -z "$vg_pid" > /dev/null 2>&1
  ab -q -k -n "$n" -c 10 -H "Cookie: $cookie" http://127.0.0.1:18011/x > /dev/null
  callgrind_control -d "$vg_pid" > /dev/null 2>&1
  kill "$vg_pid"; wait "$vg_pid" 2>/dev/null || true
  echo "hyper-floor: $(( $(awk '/^summary:/{print $2}' "$work/floor.callgrind.1") / n )) instructions per request"
fi

echo "== /metrics counters that must stay flat on the hot path (before the rounds, then after)"
paste <(echo "$counters_before") <(counters)
curl -fs http://127.0.0.1:18090/metrics | grep -E '^stagepass_requests_total' || true

hwm() { awk '/VmHWM/{print $2" "$3}' "/proc/$sp_pid/status"; }
# RSS, and its two parts: anonymous (heap, stacks: what connections cost)
# and file-backed (the binary's own pages, shared with the page cache).
rss() { awk '/VmRSS|RssAnon|RssFile/{printf "%s %s %s  ", $1, $2, $3}' "/proc/$sp_pid/status"; }
echo "== memory with 1,000 idle keep-alive connections (each served one request first)"
echo "before: RSS $(rss)"
ulimit -n 4096
python3 - "$cookie" "$sp_pid" <<'PY'
import socket, sys
cookie, pid = sys.argv[1], sys.argv[2]
req = f"GET /x HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: {cookie}\r\n\r\n".encode()
conns = []
for _ in range(1000):
    s = socket.create_connection(("127.0.0.1", 18000))
    s.sendall(req)
    assert s.recv(65536).startswith(b"HTTP/1.1 200"), "not served"
    conns.append(s)
status = {l.split(":")[0]: l.split()[1] for l in open(f"/proc/{pid}/status")
          if l.startswith(("VmRSS", "RssAnon", "RssFile"))}
print(f"with 1,000 idle connections open: VmRSS {status['VmRSS']} kB"
      f"  (RssAnon {status['RssAnon']} kB, RssFile {status['RssFile']} kB)")
PY
echo "== memory: peak RSS (VmHWM) of stagepass"
echo "after the load test: $(hwm)"
upload() { # url [curl args]: seconds to stream 1 GiB up
  local url=$1; shift
  head -c 1073741824 /dev/zero | taskset -c "$load_cpu" curl -fs -o /dev/null -H "Expect:" -X POST -T - \
    "$@" "$url" -w "%{time_total}" || echo failed
}
direct=$(upload http://127.0.0.1:18080/upload)
through=$(upload http://127.0.0.1:18000/upload -H "Cookie: $cookie")
echo "1 GiB upload: direct to the upstream ${direct}s, through stagepass ${through}s:" \
  "$(echo "$direct / $through" | bc -l | xargs printf "%.2f")x the direct throughput"
echo "after a 1 GiB upload: $(hwm)"

echo "== start-up: from exec to /readyz 200 (the IdP is local), 5 starts, each figure"
sed 's/listen: 127.0.0.1:18000/listen: 127.0.0.1:18002/; s/18090/18092/' "$work/stagepass.yaml" > "$work/startup.yaml"
python3 - target/release/stagepass "$work/startup.yaml" <<'PY'
import socket, subprocess, sys, time
def ready():
    try:
        with socket.create_connection(("127.0.0.1", 18092), timeout=1) as s:
            s.sendall(b"GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            return s.recv(64).startswith(b"HTTP/1.1 200")
    except OSError:
        return False
times = []
for _ in range(5):
    started = time.monotonic()
    child = subprocess.Popen([sys.argv[1], "--config", sys.argv[2]], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while not ready():
        if time.monotonic() - started > 10:
            sys.exit("not ready within 10 s")
        time.sleep(0.0005)
    times.append((time.monotonic() - started) * 1000)
    child.terminate(); child.wait()
print("start-up to /readyz 200: " + ", ".join(f"{t:.0f}" for t in times) + " ms")
PY
