# IPVS_CMD_GET_INFO through generic netlink, from a small independent client: rvs answers with
# IPVS's version and its connection-table size, in every namespace, and only to CAP_NET_ADMIN.
# timeout: 180
. tests/qemu/lib.sh
unload_all
insmod "$RVS_KO"
trap 'ip netns del client 2>/dev/null || true; rmmod rvs 2>/dev/null || true' EXIT

answer=$(python3 "$GENL_INFO" IPVS)
expect_eq "GET_INFO answer" "$answer" "family=IPVS version=1.2.1 conn_tab_size=4096"

# Generic netlink is netnsok: a fresh namespace gets its own answer.
ip netns add client
answer=$(ip netns exec client python3 "$GENL_INFO" IPVS)
expect_eq "GET_INFO answer in namespace client" "$answer" "family=IPVS version=1.2.1 conn_tab_size=4096"

# Like every IPVS command, GET_INFO needs CAP_NET_ADMIN.
answer=$(setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all --bounding-set=-all \
    python3 "$GENL_INFO" IPVS) && fail "unprivileged GET_INFO succeeded: $answer"
expect_eq "unprivileged GET_INFO" "$answer" "error: EPERM"

# A command rvs does not implement yet is refused the way generic netlink refuses unknown ones.
answer=$(python3 - <<'PY'
import socket, struct, sys
sys.path.insert(0, "tests/qemu")
import genl_info as g
s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, g.NETLINK_GENERIC)
s.bind((0, 0))
_, ctrl = g.request(s, g.GENL_ID_CTRL, g.CTRL_CMD_GETFAMILY, g.attr(g.CTRL_ATTR_FAMILY_NAME, b"IPVS\0"))
fid = struct.unpack("=H", ctrl[g.CTRL_ATTR_FAMILY_ID][:2])[0]
try:
    g.request(s, fid, 14, seq=3)  # IPVS_CMD_SET_INFO: never a request, in ip_vs either
    print("answered")
except OSError as e:
    import errno
    # 95 has two names in Python's table (ENOTSUP, EOPNOTSUPP); IPVS's is EOPNOTSUPP.
    print("EOPNOTSUPP" if e.errno == errno.EOPNOTSUPP else errno.errorcode[e.errno])
PY
)
expect_eq "IPVS_CMD_SET_INFO as a request" "$answer" "EOPNOTSUPP"

ip netns del client
rmmod rvs

# Unloading takes the family away. (Checked on RVS: asking the controller for IPVS would make the
# kernel autoload ip_vs, whose module alias names that family.)
insmod "$RVS_KO" ipvs_compat=0
answer=$(python3 "$GENL_INFO" RVS)
expect_eq "GET_INFO on RVS" "$answer" "family=RVS version=1.2.1 conn_tab_size=4096"
rmmod rvs
answer=$(python3 "$GENL_INFO" RVS || true)
expect_eq "GET_INFO on RVS after rmmod" "$answer" "family RVS not found"
