// SPDX-License-Identifier: GPL-2.0
/*
 * rvs's C shim: module parameters (6.12's Rust has none) and netlink policy tables (their
 * designated initialisers and NLA_POLICY_* macros have no Rust equivalent). Declarative data and
 * one-line accessors only; every decision is made in Rust.
 */
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <net/netlink.h>
#include <uapi/linux/ip_vs.h>

#include "shim.h"

static bool ipvs_compat = true;
module_param(ipvs_compat, bool, 0444);
MODULE_PARM_DESC(ipvs_compat,
		 "Speak as ip_vs: generic-netlink family \"IPVS\", /proc/net/ip_vs*, net.ipv4.vs.* "
		 "(default 1). With 0 the family is \"RVS\" and rvs can be loaded beside ip_vs.");

bool rvs_param_ipvs_compat(void)
{
	return ipvs_compat;
}

/* ip_vs_ftp's "ports" (IP_VS_APP_MAX_PORTS of them); none by default, as ip_vs_ftp is not loaded. */
static unsigned short ftp_ports[8];
static unsigned int ftp_ports_count;
module_param_array(ftp_ports, ushort, &ftp_ports_count, 0444);
MODULE_PARM_DESC(ftp_ports,
		 "TCP ports of the FTP application helper for NAT services, as ip_vs_ftp's ports= "
		 "(up to 8, e.g. ftp_ports=21; default none: no FTP helper)");

unsigned int rvs_param_ftp_ports(const unsigned short **ports)
{
	*ports = ftp_ports;
	return ftp_ports_count;
}

static bool sync_resync;
module_param(sync_resync, bool, 0644);
MODULE_PARM_DESC(sync_resync,
		 "Full resync for (re)joining backups (docs/sync.md; default 0): a sync backup that "
		 "starts asks its masters for every connection, and a sync master answers such "
		 "requests. Read when a daemon starts.");

bool rvs_param_sync_resync(void)
{
	return READ_ONCE(sync_resync);
}

/* Verbatim from ip_vs_ctl.c: nested attributes are validated by the per-command parsers. */
const struct nla_policy rvs_cmd_policy[IPVS_CMD_ATTR_MAX + 1] = {
	[IPVS_CMD_ATTR_SERVICE]		= { .type = NLA_NESTED },
	[IPVS_CMD_ATTR_DEST]		= { .type = NLA_NESTED },
	[IPVS_CMD_ATTR_DAEMON]		= { .type = NLA_NESTED },
	[IPVS_CMD_ATTR_TIMEOUT_TCP]	= { .type = NLA_U32 },
	[IPVS_CMD_ATTR_TIMEOUT_TCP_FIN]	= { .type = NLA_U32 },
	[IPVS_CMD_ATTR_TIMEOUT_UDP]	= { .type = NLA_U32 },
};
