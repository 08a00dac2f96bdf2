/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Declarations of rvs's C shim: what Rust-for-Linux 6.12 cannot express (module parameters, netlink
 * policy initialisers) and macros bindgen cannot translate. No logic lives here.
 */
#ifndef RVS_SHIM_H
#define RVS_SHIM_H

#include <linux/gfp_types.h>
#include <linux/jiffies.h>
#include <linux/rtnetlink.h>
#include <linux/types.h>
#include <net/netlink.h>
#include <uapi/linux/ip_vs.h>

/* Value of the `ipvs_compat` module parameter (read-only after load). */
bool rvs_param_ipvs_compat(void);
/* The `ftp_ports` module parameter: *ports gets the array, the result is how many were given. */
unsigned int rvs_param_ftp_ports(const unsigned short **ports);
/* Value of the `sync_resync` module parameter (writable at run time). */
bool rvs_param_sync_resync(void);

/* ip_vs_cmd_policy: the top-level attribute policy of the IPVS family. */
extern const struct nla_policy rvs_cmd_policy[IPVS_CMD_ATTR_MAX + 1];

/* Macros bindgen cannot evaluate, as constants. */
static const size_t RVS_NLMSG_DEFAULT_SIZE = NLMSG_DEFAULT_SIZE;
static const gfp_t RVS_GFP_KERNEL = GFP_KERNEL;
static const unsigned int RVS_CMD_ATTR_MAX = IPVS_CMD_ATTR_MAX;
static const unsigned int RVS_HZ = HZ;
static const unsigned int RVS_RTN_LOCAL = RTN_LOCAL;
static const unsigned int RVS_RTN_UNICAST = RTN_UNICAST;

#endif /* RVS_SHIM_H */
