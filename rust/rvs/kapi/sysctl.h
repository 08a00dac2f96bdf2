/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The per-namespace sysctl values of rvs (`net.ipv4.vs.*`, or `net.rvs.*` beside ip_vs): the
 * `sysctl_*` fields of ip_vs's `struct netns_ipvs`, and the calls that register and unregister
 * their table. kapi/sysctl.rs reads the fields (READ_ONCE); only the table's handlers write them.
 */
#ifndef RVS_SYSCTL_H
#define RVS_SYSCTL_H

#include <linux/types.h>

struct net;

/* Same names, types and units as ip_vs's netns_ipvs->sysctl_* fields. */
struct rvs_vs_vars {
	int amemthresh;
	int am_droprate;
	int drop_entry;
	int drop_packet;
	int conntrack;
	int secure_tcp;
	int snat_reroute;
	int sync_ver;
	int sync_ports;
	int sync_persist_mode;
	unsigned long sync_qlen_max;
	int sync_sock_size;
	int cache_bypass;
	int expire_nodest_conn;
	int sloppy_tcp;
	int sloppy_sctp;
	int expire_quiescent_template;
	int sync_threshold[2];		/* threshold, period */
	unsigned int sync_refresh_period; /* jiffies */
	int sync_retries;
	int nat_icmp_send;
	int pmtu_disc;
	int backup_only;
	int conn_reuse_mode;
	int schedule_icmp;
	int ignore_tunneled;
	int run_estimation;
	int est_nice;
	int lblc_expiration;		/* jiffies; ip_vs_lblc's table */
	int lblcr_expiration;		/* jiffies; ip_vs_lblcr's table */
};

/*
 * Allocates a namespace's values with ip_vs's defaults and registers their table under `path`
 * ("net/ipv4/vs" or "net/rvs") in `net`. On success *out holds the values until
 * rvs_sysctl_unregister(*out).
 */
int rvs_sysctl_register(struct net *net, const char *path, struct rvs_vs_vars **out);

/* Unregisters the table (waiting for running handlers) and frees the values. */
void rvs_sysctl_unregister(struct rvs_vs_vars *vars);

/* est_cpulist: whether `cpu` is in it, and how many CPUs it holds. */
bool rvs_sysctl_est_cpu_allowed(struct rvs_vs_vars *vars, unsigned int cpu);
unsigned int rvs_sysctl_est_cpus(struct rvs_vs_vars *vars);

#endif /* RVS_SYSCTL_H */
