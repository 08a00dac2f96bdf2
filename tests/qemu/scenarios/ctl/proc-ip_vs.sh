# Dashboards and scripts that read /proc/net/ip_vs see the same text from rvs as from ip_vs for
# the same rules: every service kind (TCP, UDP with one-packet scheduling, SCTP, IPv6, fwmark),
# persistence with netmasks, every forwarding method, IPv6 real servers. ip_vs prints services in
# its hash order (salted per namespace), so service blocks are compared in sorted order; the lines
# themselves and the order of real servers inside a block must match exactly.
# timeout: 300
. tests/qemu/lib.sh
unload_all
work=$(mktemp -d)
trap 'unload_all; rm -rf "$work"' EXIT
ip link set lo up

cat >"$work/rules" <<'RULES'
-A -t 10.0.0.1:80 -s wrr -p 300 -M 255.255.255.0
-a -t 10.0.0.1:80 -r 192.168.1.2:8080 -m -w 2
-a -t 10.0.0.1:80 -r 192.168.1.3:80 -g -w 0 -x 100 -y 10
-a -t 10.0.0.1:80 -r 192.168.1.4:80 -i -w 5 --tun-type gue --tun-port 6080
-a -t 10.0.0.1:80 -r [2001:db8::9]:80 -i -w 1
-A -u 10.0.0.1:53 -s sh -o -b sh-port
-a -u 10.0.0.1:53 -r 10.1.1.1:53 -m -w 65535
-A --sctp-service 10.0.0.2:3868 -s rr
-a --sctp-service 10.0.0.2:3868 -r 10.3.3.3:3868 -g
-A -t [2001:db8::1]:443 -s lc -p 60 -M 64
-a -t [2001:db8::1]:443 -r [2001:db8::a]:443 -m -w 3
-A -u [2001:db8::1]:53 -s rr -o
-A -f 7 -s wlc -p 120
-a -f 7 -r 10.2.2.2:0 -g
-A -f 8 -6 -s mh -b mh-port
-a -f 8 -6 -r [2001:db8::5]:0 -g
-A -t 10.0.0.9:0 -s rr -p
RULES

# blocks FILE: one line per service block (lines joined by '|'), sorted.
blocks() {
    awk 'NR <= 3 { print "HEADER " $0; next }
         /^  ->/ { block = block "|" $0; next }
         { if (block != "") print block; block = $0 }
         END { if (block != "") print block }' "$1" | sort
}

capture() {
    ipvsadm -R <"$work/rules" || fail "$1: restoring the rules failed"
    cat /proc/net/ip_vs >"$work/$1.proc"
    ipvsadm -C
}

modprobe ip_vs
capture ip_vs
unload_all
insmod "$RVS_KO"
capture rvs

echo "--- /proc/net/ip_vs under rvs"
cat "$work/rvs.proc"
expect_eq "service lines" "$(grep -vc '^  ->' "$work/rvs.proc")" "$(grep -vc '^  ->' "$work/ip_vs.proc")"
if ! diff -u <(blocks "$work/ip_vs.proc") <(blocks "$work/rvs.proc"); then
    echo "--- /proc/net/ip_vs under ip_vs"
    cat "$work/ip_vs.proc"
    fail "/proc/net/ip_vs differs from ip_vs's (blocks above)"
fi
ok "/proc/net/ip_vs matches ip_vs's, $(wc -l <"$work/rvs.proc") lines"
