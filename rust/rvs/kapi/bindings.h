/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The C headers rvs's bindings are generated from (bindgen, at build time, with the kernel's own
 * flags; see Kbuild). Only kapi/ uses the result.
 */
#include <linux/module.h>
#include <linux/skbuff.h>
#include <net/net_namespace.h>
#include <net/netns/generic.h>
#include <net/genetlink.h>
#include <net/netlink.h>
#include <uapi/linux/ip_vs.h>

#include "shim.h"
#include "sysctl.h"
#include <linux/proc_fs.h>
#include <linux/rcupdate.h>
#include <linux/seq_file.h>
#include <linux/seq_file_net.h>
#include <linux/socket.h>
#include <net/addrconf.h>
#include <net/ip_fib.h>
#include <net/ipv6.h>
#include <net/route.h>
#include <linux/notifier.h>
#include <net/ip.h>
#include <net/ip_tunnels.h>
#include <net/netfilter/ipv6/nf_defrag_ipv6.h>
#include "datapath.h"
#include "syncsock.h"
