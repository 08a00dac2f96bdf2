# The FTP helper over NAT (ip_vs_ftp; rvs with ftp_ports=21): a real FTP server (pyftpdlib) on
# the real server's port 21 behind a NAT service on the VIP's port 21, and ftplib clients.
# - Without the helper, the server's PASV reply reaches the client naming the real server.
# - With it, over one control connection: two PASV transfers (the reply names the VIP, which is
#   shorter than the real server's address, so conntrack must shift the sequence numbers of
#   everything after it: the second transfer and QUIT only work if it does), an EPSV transfer,
#   then an active PORT and an active EPRT transfer, whose data connections come from the VIP's
#   port 20 (the entry the helper made for the real server's connection back). Every file
#   arrives intact, /proc/net/ip_vs_app lists the helper with its control connection, and
#   `ipvsadm -L -c -n` lists the data connections to the real server's port 20 and passive port.
# - IPv6 (EPSV and EPRT, as ftplib uses them there), without checksum offload: both transfers.
# Balancer: RVS_DP_TARGET (rvs|ip_vs; see tests/qemu/dp-lib.sh).
# timeout: 300
. tests/qemu/lib.sh
. tests/qemu/dp-lib.sh
trap dp_exit EXIT

FTP=$RVS_ROOT/tests/qemu/ftp.py

# ftp_server — the FTP server in rs1 on its real address, serving $DP_WORK/root/data.bin.
ftp_server() {
    mkdir -p "$DP_WORK/root"
    head -c 300000 /dev/urandom >"$DP_WORK/root/data.bin"
    SHA=$(sha256sum "$DP_WORK/root/data.bin" | cut -d' ' -f1)
    rm -f "$DP_WORK/ftp-ready"
    # Debian's pyftpdlib is in the system interpreter's dist-packages.
    ip netns exec rs1 /usr/bin/python3 "$FTP" serve --addr "${DP_RIPS[1]}" --root "$DP_WORK/root" \
        --ready-file "$DP_WORK/ftp-ready" >"$DP_WORK/rs1.log" 2>&1 &
    DP_PIDS+=($!)
    local i
    for ((i = 0; i < 300; i++)); do
        [ -e "$DP_WORK/ftp-ready" ] && return 0
        sleep 0.2
    done
    cat "$DP_WORK/rs1.log" >&2
    fail "the FTP server did not start"
}

# ftp_service — the NAT service VIP:21 -> RIP:21.
ftp_service() {
    local o=-t
    dpd ipvsadm -A $o "$(dp_hostport "$DP_VIP" 21)" -s rr
    dpd ipvsadm -a $o "$(dp_hostport "$DP_VIP" 21)" -r "$(dp_hostport "${DP_RIPS[1]}" 21)" -m
}

# ftp_client MODE... — runs the client; its output in $OUT.
ftp_client() {
    OUT=$(ip netns exec client "${DP_PY[@]}" "$FTP" client --host "$DP_VIP" --file data.bin "$@" 2>&1)
    echo "$OUT"
}

# check_transfer LABEL MODE [PORT] — the line of MODE (the Nth such line with LABEL's "#N")
# shows the file intact, from the VIP (and from PORT if given).
check_transfer() {
    local label=$1 mode=$2 port=${3:-} nth=${4:-1} line
    line=$(awk -v m="$mode" -v n="$nth" '$1 == m && ++k == n' <<<"$OUT")
    local sha host pport
    read -r _ sha host pport _ <<<"$line"
    expect_eq "$label: data" "${sha:-none}" "$SHA"
    expect_eq "$label: data connection's peer" "${host:-none}" "$DP_VIP"
    [ -z "$port" ] || expect_eq "$label: data connection's peer port" "${pport:-none}" "$port"
}

# --- IPv4 ---
DP_NO_SERVERS=1 dp_setup nat 4 1
ftp_server

dp_load "$RVS_DP_TARGET"
ftp_service
ftp_client nohelper
reply=$(awk '$1 == "nohelper"' <<<"$OUT")
case "$reply" in
    *"(172,16,0,11,"*) ok "no helper: the PASV reply names the real server: $reply" ;;
    *) fail "no helper: PASV reply '$reply' does not name the real server 172,16,0,11" ;;
esac

# ip_vs's services in the director hold its scheduler modules: flushed before it reloads.
dpd ipvsadm -C
dp_load "$RVS_DP_TARGET" ftp
ftp_service
ftp_client pasv pasv epsv port eprt
case "$(awk '$1 == "pasv"' <<<"$OUT" | head -1)" in
    *"(192,0,2,1,"*) ok "PASV reply names the VIP" ;;
    *) fail "PASV reply does not name the VIP 192,0,2,1: $OUT" ;;
esac
check_transfer "PASV 1" pasv "" 1
check_transfer "PASV 2 (after the sequence shift)" pasv "" 2
check_transfer "EPSV" epsv
check_transfer "PORT" port 20
check_transfer "EPRT" eprt 20
quit=$(awk '$1 == "quit" {print $2}' <<<"$OUT")
expect_eq "QUIT's reply code" "${quit:-none}" 221

app=$(dpd cat /proc/net/ip_vs_app)
echo "$app"
expect_eq "/proc/net/ip_vs_app header" "$(head -1 <<<"$app")" "prot port    usecnt name"
expect_eq "/proc/net/ip_vs_app: the helper on TCP 21, used by the control connection" \
    "$(awk 'NR == 2 {print $1, $2, $3, $4}' <<<"$app")" "TCP 21 1 ftp"

conns=$(dpd ipvsadm -L -c -n)
echo "$conns"
grep -Eq " 192\.0\.2\.1:20 +172\.16\.0\.11:20\$" <<<"$conns" ||
    fail "no active data connection VIP:20 -> RIP:20 in ipvsadm -L -c -n"
grep -Eq " 192\.0\.2\.1:(5000[0-9]) +172\.16\.0\.11:\1\$" <<<"$conns" ||
    fail "no passive data connection VIP:5000x -> RIP:5000x in ipvsadm -L -c -n"
ok "ipvsadm -L -c -n lists the data connections"
dp_teardown

# --- IPv6: EPSV and EPRT, with checksums in software ---
# No checksum offload on the links (the senders sum every segment, the director's receivers
# vouch for nothing): the director sees CHECKSUM_NONE packets, whose TCP checksum the helper
# verifies itself before reading them (tcp_csum_check) and conntrack's mangling recomputes.
DP_NO_SERVERS=1 dp_setup nat 6 1
in_ns client ethtool -K c-dir tx off rx off >/dev/null
in_ns rs1 ethtool -K rs1-d tx off rx off >/dev/null
in_ns director ethtool -K dir-c tx off rx off >/dev/null
in_ns director ethtool -K dir-rs1 tx off rx off >/dev/null
ftp_server
ftp_service
ftp_client pasv port
check_transfer "IPv6 EPSV" pasv
check_transfer "IPv6 EPRT" port 20
quit=$(awk '$1 == "quit" {print $2}' <<<"$OUT")
expect_eq "IPv6: QUIT's reply code" "${quit:-none}" 221
dp_teardown
dp_finish
