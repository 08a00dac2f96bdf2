#!/usr/bin/env bash
# The data-plane demo, inside the VM (tests/qemu/vm.sh -- tests/qemu/demo-dp.sh): a client, a
# director holding the VIP 192.0.2.1 and two real servers running nginx, each serving a page
# that names it (the topology of tests/qemu/dp-lib.sh); an rr service on VIP:80 forwarding by
# DR, then NAT, then TUN; 4 HTTP requests each, answered in turn by the two servers, and the
# service's statistics after each method.
#
# The balancer is RVS_DP_TARGET (rvs or ip_vs, default rvs); the admin tool ${RVSADM:-ipvsadm}
# (e.g. RVSADM=target/release/rvsadm). Both also come from tests/qemu/out/dp.env, which
# tests/qemu/dp-run.sh writes on the host:
#   RVS_DP_TARGET=ip_vs tests/qemu/dp-run.sh --demo
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
. tests/qemu/lib.sh
. tests/qemu/dp-lib.sh
adm=${RVSADM:-ipvsadm}
say() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }
run() { say "$*"; "$@"; }

NGINX_DIRS=()
start_nginx() {
    local i d
    for ((i = 1; i <= DP_NRS; i++)); do
        d=$DP_WORK/nginx-rs$i
        mkdir -p "$d/www" "$d/tmp"
        echo "hello from rs$i (${DP_RIPS[i]})" >"$d/www/index.html"
        cat >"$d/nginx.conf" <<CONF
user root;
daemon on;
worker_processes 1;
pid $d/nginx.pid;
error_log $d/error.log;
events { worker_connections 64; }
http {
    access_log $d/access.log;
    client_body_temp_path $d/tmp/body;
    proxy_temp_path $d/tmp/proxy;
    fastcgi_temp_path $d/tmp/fastcgi;
    uwsgi_temp_path $d/tmp/uwsgi;
    scgi_temp_path $d/tmp/scgi;
    server {
        listen 80;
        listen 8080;
        root $d/www;
        default_type text/plain;
    }
}
CONF
        ip netns exec "rs$i" nginx -q -e "$d/error.log" -p "$d" -c "$d/nginx.conf"
        NGINX_DIRS+=("$d")
    done
}
stop_nginx() {
    local d
    for d in "${NGINX_DIRS[@]}"; do
        [ -f "$d/nginx.pid" ] && kill "$(cat "$d/nginx.pid")" 2>/dev/null || true
    done
    NGINX_DIRS=()
}
cleanup() {
    set +e
    stop_nginx
    dp_teardown
    unload_all
}
trap cleanup EXIT

# get URL — one HTTP GET from the client namespace.
get() {
    if command -v curl >/dev/null; then
        ip netns exec client curl -sS --max-time 10 "$1"
    else
        ip netns exec client python3 -c 'import sys, urllib.request
sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=10).read().decode())' "$1"
    fi
}

say "load $RVS_DP_TARGET"
dp_load "$RVS_DP_TARGET"
for method in dr nat tun; do
    DP_NO_SERVERS=1 dp_setup "$method" 4 2
    start_nginx
    printf '\n\033[1m== %s: client %s -> VIP %s -> rs1 %s, rs2 %s\033[0m\n' \
        "$(tr a-z A-Z <<<"$method")" "$DP_CIP" "$DP_VSVC" "${DP_RS[1]}" "${DP_RS[2]}"
    run ip netns exec director "$adm" -A -t "$DP_VSVC" -s rr
    run ip netns exec director "$adm" -a -t "$DP_VSVC" -r "${DP_RS[1]}" "$DP_FLAG"
    run ip netns exec director "$adm" -a -t "$DP_VSVC" -r "${DP_RS[2]}" "$DP_FLAG"
    for n in 1 2 3 4; do
        say "ip netns exec client curl http://$DP_VIP/"
        get "http://$DP_VIP/"
    done
    run ip netns exec director "$adm" -L -n --stats
    stop_nginx
    dp_teardown
done
echo
echo "demo-dp: $RVS_DP_TARGET balanced 4 HTTP requests round-robin over DR, NAT and TUN."
