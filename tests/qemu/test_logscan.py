"""Unit tests of the VM harness's kernel-log scanner, on real kernel logs.

The samples in samples/ were captured from our test kernel in the VM by capture-samples.sh, with
the rvs_faults fixture provoking each report; they are not hand-written.
"""

import os
import unittest

import logscan

SAMPLES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "samples")


def sample(name):
    with open(os.path.join(SAMPLES, name), encoding="utf-8", errors="replace") as f:
        return f.read()


def kinds(text):
    return [kind for kind, _ in logscan.scan(text)]


class LogScanOnRealLogs(unittest.TestCase):
    def test_clean_boot_log_has_no_report(self):
        self.assertEqual(kinds(sample("clean.log")), [])

    def test_warning(self):
        found = logscan.scan(sample("warning.log"))
        self.assertEqual([k for k, _ in found], ["warning"])
        self.assertIn("WARNING: CPU:", found[0][1])
        self.assertIn("rvs_faults", found[0][1])

    def test_oops(self):
        found = kinds(sample("oops.log"))
        self.assertIn("oops", found)
        self.assertNotIn("lockdep", found)

    def test_lockdep_splat_is_lockdep_not_plain_warning(self):
        found = logscan.scan(sample("lockdep.log"))
        self.assertEqual(found[0][0], "lockdep")
        self.assertIn("possible circular locking dependency detected", found[0][1])
        self.assertNotIn("warning", [k for k, _ in found])

    def test_sleep_in_atomic_is_a_bug(self):
        found = logscan.scan(sample("sleep-in-atomic.log"))
        self.assertEqual(found[0][0], "oops")
        self.assertIn("BUG: sleeping function called from invalid context", found[0][1])

    def test_kmemleak_report(self):
        found = logscan.scan(sample("kmemleak.log"))
        self.assertTrue(found)
        self.assertEqual({k for k, _ in found}, {"kmemleak"})
        self.assertIn("unreferenced object 0x", found[0][1])

    def test_rvs_teardown_leak_is_a_leak(self):
        line = "[  107.047757] rvs: connection table: 0 entries still referenced at teardown"
        self.assertEqual(kinds(line), ["kmemleak"])

    def test_context_excerpt_holds_the_oops_body(self):
        lines = logscan.first_report(sample("oops.log"), 60)
        self.assertEqual(logscan.classify(lines[0]), "oops")
        self.assertTrue(any("RIP:" in line for line in lines))
        self.assertTrue(any("Call Trace:" in line for line in lines))
        self.assertEqual(logscan.first_report(sample("clean.log"), 60), [])

    def test_main_exit_status(self):
        self.assertEqual(logscan.main([os.path.join(SAMPLES, "clean.log")]), 0)
        self.assertEqual(logscan.main([os.path.join(SAMPLES, "warning.log")]), 1)
        # A missing file (no kmemleak in the kernel) is not a report.
        self.assertEqual(logscan.main([os.path.join(SAMPLES, "does-not-exist.log")]), 0)


class LogScanLines(unittest.TestCase):
    def test_ordinary_lines_are_not_reports(self):
        for line in [
            "[    1.000000] rvs: rvs 0.1.0 loaded: IPVS ABI 1.2.1, generic-netlink family IPVS",
            "[    2.000000] IPVS: Registered protocols (TCP, UDP, SCTP, AH, ESP)",
            "[    3.000000] kmemleak: Kernel memory leak detector initialized (mem pool available: 15000)",
            "[    4.000000] Lockdep: ... MAX_LOCKDEP_SUBCLASSES:  8",
        ]:
            self.assertIsNone(logscan.classify(line), line)

    def test_device_held_after_unregistration(self):
        # netdev_wait_allrefs_any()'s message, every 10 s while a reference is held.
        line = ("[  191.204127] unregister_netdevice: waiting for br1 to become free. "
                "Usage count = 2")
        self.assertEqual(logscan.classify(line), "devref")


if __name__ == "__main__":
    unittest.main()
