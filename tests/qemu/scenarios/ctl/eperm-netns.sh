# Only CAP_NET_ADMIN over the initial user namespace drives IPVS: without it every command, each
# mutation and each GET alike, is refused with EPERM and changes nothing. And every network
# namespace has its own IPVS: ipvsadm's services in one are invisible in the others, a flush in
# one leaves the others alone, a new namespace starts empty, and deleting a namespace that still
# holds services is clean. RVS_TARGET selects the module under test: rvs (default) or ip_vs.
# timeout: 400
. tests/qemu/lib.sh
target=${RVS_TARGET:-rvs}
unload_all
cleanup() {
    for ns in a b c; do ip netns del "$ns" 2>/dev/null || true; done
    ipvsadm -C 2>/dev/null || true
    unload_all
}
trap cleanup EXIT
if [ "$target" = ip_vs ]; then modprobe ip_vs; else insmod "$RVS_KO" ipvs_compat=1; fi

# Root's table, which no unprivileged command may touch.
ipvsadm -A -t 10.0.0.1:80 -s rr
ipvsadm -a -t 10.0.0.1:80 -r 192.168.1.1:80 -m -w 2
before=$(ipvsadm -S -n)

# One well-formed request per command (a dump where the command has only a dump); prints
# "COMMAND OUTCOME" per request.
probe=$(cat <<'PY'
import sys
sys.path.insert(0, "tests/qemu")
import nlfuzz as n

svc = [n.u16(n.SVC_AF, 2), n.u16(n.SVC_PROTOCOL, 6), n.addr(n.SVC_ADDR, 2, "10.0.0.1"), n.be16(n.SVC_PORT, 80)]
full = svc + [n.string(n.SVC_SCHED_NAME, "wlc"), n.a(n.SVC_FLAGS, bytes(4) + b"\xff" * 4), n.u32(n.SVC_TIMEOUT, 0),
              n.u32(n.SVC_NETMASK, 0xFFFFFFFF)]
dest = [n.addr(n.D_ADDR, 2, "192.168.1.1"), n.be16(n.D_PORT, 80), n.u32(n.D_FWD_METHOD, 0), n.u32(n.D_WEIGHT, 5),
        n.u32(n.D_U_THRESH, 0), n.u32(n.D_L_THRESH, 0)]
S = lambda attrs: n.a(n.A_SERVICE, attrs)  # noqa: E731
D = lambda attrs: n.a(n.A_DEST, attrs)  # noqa: E731
dump = n.NLM_F_REQUEST | n.NLM_F_DUMP
requests = [
    ("NEW_SERVICE", [S(full)], None), ("SET_SERVICE", [S(full)], None), ("DEL_SERVICE", [S(svc)], None),
    ("NEW_DEST", [S(svc), D(dest)], None), ("SET_DEST", [S(svc), D(dest)], None),
    ("DEL_DEST", [S(svc), D(dest[:2])], None),
    ("NEW_DAEMON", [n.a(n.A_DAEMON, [n.u32(n.DM_STATE, 1), n.string(n.DM_MCAST_IFN, "lo"), n.u32(n.DM_SYNC_ID, 1)])], None),
    ("DEL_DAEMON", [n.a(n.A_DAEMON, [n.u32(n.DM_STATE, 1)])], None),
    ("SET_CONFIG", [n.u32(n.A_TIMEOUT_TCP, 1000)], None), ("ZERO", [], None), ("FLUSH", [], None),
    ("GET_SERVICE", [S(svc)], None), ("GET_SERVICE", [], dump), ("GET_DEST", [S(svc)], dump),
    ("GET_DAEMON", [], dump), ("GET_CONFIG", [], None), ("GET_INFO", [], None),
    ("GET_DEST", [S(svc)], None), ("SET_INFO", [], None),
]
conn = n.Conn("IPVS")
for name, attrs, flags in requests:
    msg = n.Msg(n.CMD[name], attrs) if flags is None else n.Msg(n.CMD[name], attrs, flags)
    (outcome,) = conn.exchange([msg])
    print(f"{name}{'(dump)' if flags else ''} {outcome}")
PY
)

# The answer a process without CAP_NET_ADMIN gets. GET_DEST has no doit and SET_INFO is no
# request: generic netlink looks the operation up before it checks permissions.
want="NEW_SERVICE EPERM
SET_SERVICE EPERM
DEL_SERVICE EPERM
NEW_DEST EPERM
SET_DEST EPERM
DEL_DEST EPERM
NEW_DAEMON EPERM
DEL_DAEMON EPERM
SET_CONFIG EPERM
ZERO EPERM
FLUSH EPERM
GET_SERVICE EPERM
GET_SERVICE(dump) EPERM
GET_DEST(dump) EPERM
GET_DAEMON(dump) EPERM
GET_CONFIG EPERM
GET_INFO EPERM
GET_DEST EOPNOTSUPP
SET_INFO EOPNOTSUPP"

got=$(setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all --bounding-set=-all python3 -c "$probe")
echo "$got" | sed 's/^/  nobody: /'
expect_eq "every command from an unprivileged user" "$got" "$want"

# Root of a user namespace holds CAP_NET_ADMIN over its own network namespace only: IPVS still
# refuses it, since it asks for the capability over the initial user namespace.
if unshare -U -r true 2>/dev/null; then
    got=$(unshare -U -r -n python3 -c "$probe")
    echo "$got" | sed 's/^/  userns root: /'
    expect_eq "every command from root of a user namespace" "$got" "$want"
else
    echo "skip: this kernel has no user namespaces (unshare -U fails), the userns case is not run"
fi
expect_eq "root's table after the refused commands" "$(ipvsadm -S -n)" "$before"

# Namespaces: a and b each get their own table. Each is a director with a route to its real
# servers (IPVS refuses a destination whose address the namespace's FIB cannot type, see c below).
director() {  # director NAME SUBNET
    ip netns add "$1"
    ip -n "$1" link set lo up
    ip -n "$1" addr add "10.0.$2.254/24" dev lo
}
director a 1
director b 2
ip netns exec a ipvsadm -A -t 10.0.0.1:80 -s rr
ip netns exec a ipvsadm -a -t 10.0.0.1:80 -r 10.0.1.1:80 -m
ip netns exec a ipvsadm -A -u 10.0.0.1:53 -s wlc
ip netns exec a ipvsadm -A -f 7 -s sh
ip netns exec a ipvsadm -a -f 7 -r 10.0.1.2:0 -g -w 3
ip netns exec b ipvsadm -A -t 10.0.0.2:443 -s lc
ip netns exec b ipvsadm -a -t 10.0.0.2:443 -r 10.0.2.1:443 -m
in_a=$(ip netns exec a ipvsadm -S -n)
in_b=$(ip netns exec b ipvsadm -S -n)
expect_eq "services in a" "$in_a" "-A -t 10.0.0.1:80 -s rr
-a -t 10.0.0.1:80 -r 10.0.1.1:80 -m -w 1
-A -u 10.0.0.1:53 -s wlc
-A -f 7 -s sh
-a -f 7 -r 10.0.1.2:0 -g -w 3"
expect_eq "services in b" "$in_b" "-A -t 10.0.0.2:443 -s lc
-a -t 10.0.0.2:443 -r 10.0.2.1:443 -m -w 1"
expect_eq "services in the initial namespace" "$(ipvsadm -S -n)" "$before"

# A namespace created after services exist elsewhere starts empty.
ip netns add c
expect_eq "services in the new namespace c" "$(ip netns exec c ipvsadm -S -n)" ""
# c has no IPv4 route at all: inet_addr_type() finds no FIB table and calls every address a
# broadcast one, so ip_vs refuses the destination with EINVAL.
ip netns exec c ipvsadm -A -t 10.0.0.9:80 -s rr
answer=$(ip netns exec c ipvsadm -a -t 10.0.0.9:80 -r 10.0.9.1:80 -m 2>&1) && fail "destination added in c: $answer"
expect_eq "destination in a namespace without routes" "$answer" \
    "Invalid operation.  Possibly wrong module version, address not unicast, ..."
ip netns exec c ipvsadm -C

# A flush in b empties b only.
ip netns exec b ipvsadm -C
expect_eq "services in b after its flush" "$(ip netns exec b ipvsadm -S -n)" ""
expect_eq "services in a after b's flush" "$(ip netns exec a ipvsadm -S -n)" "$in_a"
expect_eq "services in the initial namespace after b's flush" "$(ipvsadm -S -n)" "$before"

# Deleting a namespace that still holds services and destinations frees them (the runner's
# kmemleak scan and the module unload below would say otherwise); the others keep theirs.
ip netns del a
ok "namespace a deleted with 3 services and 2 destinations in it"
expect_eq "services in the initial namespace after a is gone" "$(ipvsadm -S -n)" "$before"
ip netns exec b ipvsadm -A -t 10.0.0.1:80 -s rr
expect_eq "b can add the service a had" "$(ip netns exec b ipvsadm -S -n)" "-A -t 10.0.0.1:80 -s rr"
ip netns del b
ip netns del c
ipvsadm -C
unload_all
if module_loaded rvs || module_loaded ip_vs; then fail "$target did not unload after the namespaces went"; fi
ok "$target unloaded after the namespaces were deleted"
