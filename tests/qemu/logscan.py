#!/usr/bin/env python3
"""Finds kernel reports in a scenario's kernel log: Oops/BUG, WARNING, lockdep, kmemleak (and
rvs's own report of connection-table entries left at teardown), and a device whose
unregistration waits for a reference nobody gives back.

The VM harness fails a scenario when its kernel log holds any of them, whatever the scenario's
own verdict. Usage: logscan.py [--context N] LOG [LOG...]; prints one line per report (kind, then
the line that announced it) and exits 1 if there is any, 0 otherwise. With --context N it prints
instead the first report and the N log lines that follow it (the RIP and call trace of an oops),
so that a failure seen only on a CI console can still be read.
"""

import re
import sys

# Lockdep (and RCU-lockdep) reports are announced as WARNINGs; they are told apart by their title.
LOCKDEP = re.compile(
    r"WARNING: (possible circular locking dependency detected"
    r"|possible recursive locking detected"
    r"|inconsistent lock state"
    r"|suspicious RCU usage"
    r"|possible irq lock inversion dependency detected"
    r"|HARDIRQ-safe -> HARDIRQ-unsafe lock order detected"
    r"|SOFTIRQ-safe -> SOFTIRQ-unsafe lock order detected"
    r"|bad unlock balance detected"
    r"|held lock freed"
    r"|lock held when returning to user space"
    r"|.*lock held.*"
    r"|Nested lock was not taken"
    r"|bad contention detected)"
)
OOPS = re.compile(
    r"(Oops: |Oops\[|BUG: |kernel BUG at |general protection fault|Kernel panic"
    r"|Unable to handle kernel|watchdog: BUG: soft lockup|INFO: task .* blocked for more than"
    r"|rcu: INFO: .* detected stalls|invalid opcode: )"
)
WARNING = re.compile(r"(WARNING: |------------\[ cut here \]------------|ODEBUG: |UBSAN: )")
# netdev_wait_allrefs_any(): something (a cached route, say) still holds an unregistered device;
# the unregistration, and every namespace operation behind it, waits for ever.
DEVREF = re.compile(r"unregister_netdevice: waiting for \S+ to become free")
# rvs's own report of connection-table entries it could not free at teardown: leaked, and an
# entry's timer left armed fires into the unloaded module.
RVSLEAK = re.compile(r"connection table: \d+ entries still referenced at teardown")
KMEMLEAK = re.compile(r"(unreferenced object 0x[0-9a-f]+|kmemleak: \d+ new suspected memory leaks)")


def classify(line):
    """The kind of report a log line announces, or None."""
    if LOCKDEP.search(line):
        return "lockdep"
    if KMEMLEAK.search(line) or RVSLEAK.search(line):
        return "kmemleak"
    if OOPS.search(line):
        return "oops"
    if DEVREF.search(line):
        return "devref"
    if WARNING.search(line):
        # The "cut here" line precedes the WARNING line itself: report the WARNING line only.
        if "cut here" in line:
            return None
        return "warning"
    return None


def scan(text):
    """All (kind, line) reports in a log, in order."""
    found = []
    for raw in text.splitlines():
        # dmesg/console prefixes ("[   12.345678] ") are kept in the report for context.
        line = raw.rstrip()
        kind = classify(line)
        if kind:
            found.append((kind, line.strip()))
    return found


def first_report(text, context):
    """The first report's line and the `context` lines after it, or an empty list."""
    lines = text.splitlines()
    for i, raw in enumerate(lines):
        if classify(raw.rstrip()):
            return [line.rstrip() for line in lines[i : i + 1 + context]]
    return []


def main(args):
    context = None
    if args[:1] == ["--context"]:
        context = int(args[1])
        args = args[2:]
    found = []
    excerpt = []
    for path in args:
        try:
            with open(path, encoding="utf-8", errors="replace") as f:
                text = f.read()
        except FileNotFoundError:
            continue
        found += scan(text)
        if context is not None and not excerpt:
            excerpt = first_report(text, context)
    if context is not None:
        for line in excerpt:
            print(line)
    else:
        for kind, line in found:
            print(f"{kind}: {line}")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
