# The transcript half of the ipvsadm differential tests (sourced, inside the VM, as root): runs
# the command script tests/qemu/ipvsadm-commands.txt through whatever `ipvsadm` is first in PATH
# (stock ipvsadm, or rvsadm behind a symlink named ipvsadm so messages that print argv[0] match)
# on an emptied table, then saves, flushes, restores and saves again, and restores files with
# comments and with errors. Each command's stdout, stderr and exit status go to the transcript, so
# two transcripts are equal exactly when a user could not tell the two runs apart.
#
# Used by userspace/rvsadm/tests/vm-diff.sh and tests/qemu/scenarios/ctl/four-way.sh.
#
#   ipvsadm_transcript            the whole script
#   IPVSADM_LEAVE_OUT=ERE         skip the script's lines matching ERE
#   IPVSADM_CANON_ORDER=1         sort --nosort listings canonically (see ipvsadm_canon_order)

ipvsadm_commands=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/ipvsadm-commands.txt
ipvsadm_tmp=$(mktemp -d)

# A --nosort listing prints services (and each service's destinations) in the kernel's order.
# ip_vs's order is its service hash, salted with the namespace's address (ip_vs_svc_hashkey), and
# its destination lists are newest first; rvs need not reproduce either. This sorts the listing's
# service blocks, and the destination lines within each block, keeping the header lines on top.
ipvsadm_canon_order() {
    awk '
        /^(TCP|UDP|SCTP|FWM) |^-A / { svc = $0; print "1\t" svc "\t0\t" $0; next }
        svc != "" { print "1\t" svc "\t1\t" $0; next }
        { printf "0\t%06d\t%s\n", NR, $0 }
    ' | LC_ALL=C sort | awk -F '\t' '{ print $NF }'
}

# ipvsadm_step ARGS...: one command's transcript entry. (Under TCG every process costs: stdout
# goes straight to the transcript, and only a non-empty stderr is piped through sed.)
ipvsadm_step() {
    local rc=0
    printf '$ ipvsadm %s\n' "$*"
    if [ "${IPVSADM_CANON_ORDER:-0}" = 1 ] && [[ " $* " == *" --nosort "* ]]; then
        ipvsadm "$@" 2>"$ipvsadm_tmp/e" >"$ipvsadm_tmp/o" || rc=$?
        ipvsadm_canon_order <"$ipvsadm_tmp/o"
    else
        ipvsadm "$@" 2>"$ipvsadm_tmp/e" || rc=$?
    fi
    if [ -s "$ipvsadm_tmp/e" ]; then sed 's/^/stderr: /' "$ipvsadm_tmp/e"; fi
    printf 'rc=%d\n' "$rc"
}

ipvsadm_transcript() {
    ipvsadm -C || true
    ipvsadm --stop-daemon master >/dev/null 2>&1 || true
    ipvsadm --stop-daemon backup >/dev/null 2>&1 || true
    local line rc
    while read -r line; do
        case $line in '' | '#'*) continue ;; esac
        if [ -n "${IPVSADM_LEAVE_OUT:-}" ] && [[ $line =~ $IPVSADM_LEAVE_OUT ]]; then
            continue
        fi
        # shellcheck disable=SC2086
        ipvsadm_step $line
    done <"$ipvsadm_commands"
    # Save, clear, restore from the save, and save again: the two saves must match.
    ipvsadm -S -n >"$ipvsadm_tmp/save" || true
    ipvsadm_step -C
    rc=0
    ipvsadm -R <"$ipvsadm_tmp/save" || rc=$?
    printf 'restore rc=%d\n' "$rc"
    ipvsadm_step -S -n
    rc=0
    printf -- '-A -t 10.0.0.50:80 -s rr\n\n# comment\n' | ipvsadm -R 2>&1 || rc=$?
    printf 'restore with comment rc=%d\n' "$rc"
    rc=0
    printf -- '-A -t 10.0.0.51:80 -s rr\n-A -t 10.0.0.51:80 -s rr\n-a -t 10.0.0.51:80 -r 1.1.1.1 -w x\n-A -t 10.0.0.52:80\n' | ipvsadm -R 2>&1 || rc=$?
    printf 'restore with errors rc=%d\n' "$rc"
    ipvsadm_step -L -n
}
