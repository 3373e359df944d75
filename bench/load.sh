#!/usr/bin/env bash
# Load and memory figures for the README. Needs: nginx, wrk, curl (Debian).
#
# What it measures, on one machine, with the load generator pinned to its own
# core (taskset) so it does not steal from the servers:
#   1. requests/s and latency for a 1 KiB page, nginx direct vs. through stagepass
#      with a signed-in session (ratios matter; absolute numbers depend on the box)
#   2. stagepass's peak RSS (VmHWM) before and after a 1 GiB upload and a
#      1 GiB download pass through it: flat memory means no buffering.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; nginx -p "$work" -c nginx.conf -s stop 2>/dev/null || true; rm -rf "$work"' EXIT
duration=${DURATION:-10}
connections=${CONNECTIONS:-32}
ncpu=$(nproc)
server_cpus=0
load_cpus=$((ncpu - 1))

cargo build --release --quiet --bin stagepass --example mint-session

# nginx workers run as an unprivileged user: let them read the files.
chmod 755 "$work"
mkdir -p "$work/www" "$work/logs"
head -c 1024 /dev/urandom > "$work/www/1k"
truncate -s 1G "$work/www/1g"
chmod 644 "$work/www/"*
cat > "$work/nginx.conf" <<NGINX
worker_processes 1;
error_log $work/logs/error.log warn;
pid $work/nginx.pid;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $work/body;
  proxy_temp_path $work/proxy;
  fastcgi_temp_path $work/fastcgi;
  uwsgi_temp_path $work/uwsgi;
  scgi_temp_path $work/scgi;
  server {
    listen 127.0.0.1:18080;
    root $work/www;
    # nginx reads and discards the body before answering.
    location /upload { client_max_body_size 0; return 204; }
  }
  upstream origin { server 127.0.0.1:18080; keepalive 64; }
  server {
    listen 127.0.0.1:18082;
    location / { proxy_pass http://origin; proxy_http_version 1.1; proxy_set_header Connection ""; }
  }
}
NGINX
taskset -c $server_cpus nginx -p "$work" -c nginx.conf

export SESSION_SECRET=load-test-secret-load-test-secret-0123456789
cat > "$work/stagepass.yaml" <<YAML
stagepass:
  listen: 127.0.0.1:18000
  publicUrl: http://127.0.0.1:18000
  upstream: http://127.0.0.1:18080
  provider: load
  admin: { listen: 127.0.0.1:18090 }
auth:
  environment: development
  session:
    secret: \${SESSION_SECRET}
  providers:
    load:
      development:
        metadataUrl: http://127.0.0.1:18099/.well-known/openid-configuration
        clientId: load
        clientSecret: load
YAML
STAGEPASS_LOG=warn taskset -c $server_cpus target/release/stagepass --config "$work/stagepass.yaml" > "$work/logs/stagepass.log" 2>&1 &
sp_pid=$!
for _ in $(seq 50); do curl -fs -o /dev/null http://127.0.0.1:18090/healthz && break; sleep 0.1; done
cookie=$(target/release/examples/mint-session --config "$work/stagepass.yaml" load-test)
# Every figure below is for 200 responses: refuse to measure anything else.
curl -fs -o /dev/null http://127.0.0.1:18080/1k
curl -fs -o /dev/null -H "Cookie: $cookie" http://127.0.0.1:18000/1k

run_wrk() { taskset -c $load_cpus wrk -t1 -c"$connections" -d"${duration}s" --latency "$@"; }
echo "== 1 KiB page, ${connections} connections, ${duration}s, server on CPU ${server_cpus}, wrk on CPU ${load_cpus}"
echo "-- nginx direct"
run_wrk http://127.0.0.1:18080/1k | grep -E "Requests/sec|50%|99%|Non-2xx|Socket errors"
echo "-- nginx as a reverse proxy in front of itself (a plain proxy hop, for comparison)"
run_wrk http://127.0.0.1:18082/1k | grep -E "Requests/sec|50%|99%|Non-2xx|Socket errors"
echo "-- through stagepass (signed in)"
run_wrk -H "Cookie: $cookie" http://127.0.0.1:18000/1k | grep -E "Requests/sec|50%|99%|Non-2xx|Socket errors"

hwm() { grep VmHWM "/proc/$sp_pid/status" | awk '{print $2" "$3}'; }
rss() { grep VmRSS "/proc/$sp_pid/status" | awk '{print $2" "$3}'; }
echo "== memory: peak RSS (VmHWM) of stagepass"
echo "after load test: $(hwm)"
# -T - streams stdin with chunked encoding; curl never holds the body either.
head -c 1073741824 /dev/zero | curl -fs -o /dev/null -H "Cookie: $cookie" -H "Expect:" -X POST -T - http://127.0.0.1:18000/upload \
  -w "1 GiB upload: HTTP %{http_code} in %{time_total}s\n"
echo "after 1 GiB upload: $(hwm)"
curl -fs -o /dev/null -H "Cookie: $cookie" http://127.0.0.1:18000/1g -w "1 GiB download: %{size_download} bytes in %{time_total}s\n"
echo "after 1 GiB download: $(hwm) (current RSS $(rss))"
