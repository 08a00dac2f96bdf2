// SPDX-License-Identifier: GPL-2.0
/*
 * rvs's sysctl table: ip_vs's vs_vars[] (net/netfilter/ipvs/ip_vs_ctl.c, 6.12.117) plus the
 * lblc_expiration/lblcr_expiration entries ip_vs_lblc and ip_vs_lblcr add, registered per network
 * namespace. The table is declarative; each entry's .data is the offset of its field in struct
 * rvs_vs_vars until registration rebases it onto the namespace's copy. The custom handlers
 * reproduce ip_vs's validation and errno exactly; where ip_vs also reacts to a write (defense
 * levels, estimator reload) rvs stores the value and the reaction comes with the feature.
 */
#include <linux/cpumask.h>
#include <linux/log2.h>
#include <linux/mutex.h>
#include <linux/sched.h>
#include <linux/sched/isolation.h>
#include <linux/sched/prio.h>
#include <linux/slab.h>
#include <linux/mm.h>
#include <linux/sysctl.h>
#include <linux/user_namespace.h>
#include <net/net_namespace.h>

#include "sysctl.h"

/* A namespace's values and what the handlers need beside them (ip_vs keeps both in netns_ipvs). */
struct rvs_sysctl {
	struct rvs_vs_vars vars;
	struct mutex sync_mutex;	/* sync_threshold pair, as ipvs->sync_mutex */
	struct mutex est_mutex;		/* est_* and run_estimation, as ipvs->est_mutex */
	cpumask_var_t est_cpulist;	/* valid once est_cpulist_valid */
	int est_cpulist_valid;
	struct ctl_table *table;
	struct ctl_table_header *header;
};

/* ip_vs's defaults (ip_vs_control_net_init_sysctl, __ip_vs_lblc_init, __ip_vs_lblcr_init). */
static const struct rvs_vs_vars rvs_vs_vars_defaults = {
	.amemthresh = 1024,
	.am_droprate = 10,
	.snat_reroute = 1,
	.sync_ver = 1,			/* DEFAULT_SYNC_VER */
	.sync_ports = 1,
	.sync_threshold = { 3, 50 },	/* DEFAULT_SYNC_THRESHOLD, DEFAULT_SYNC_PERIOD */
	.sync_refresh_period = 0,	/* DEFAULT_SYNC_REFRESH_PERIOD */
	.sync_retries = 0,		/* DEFAULT_SYNC_RETRIES */
	.pmtu_disc = 1,
	.conn_reuse_mode = 1,
	.run_estimation = 1,
	.est_nice = 0,			/* IPVS_EST_NICE */
	.lblc_expiration = 24 * 60 * 60 * HZ,	/* DEFAULT_EXPIRATION */
	.lblcr_expiration = 24 * 60 * 60 * HZ,
	/* sync_qlen_max depends on memory: set at registration. */
};

static struct rvs_sysctl *rvs_sysctl_of(const struct ctl_table *table)
{
	return table->extra2;
}

/* Mirrors proc_do_defense_mode: 0..3, else EINVAL (update_defense_level comes with defense). */
static int rvs_proc_do_defense_mode(const struct ctl_table *table, int write,
				    void *buffer, size_t *lenp, loff_t *ppos)
{
	int *valp = table->data;
	int val = READ_ONCE(*valp);
	int rc;
	struct ctl_table tmp = {
		.data = &val,
		.maxlen = sizeof(int),
		.mode = table->mode,
	};

	rc = proc_dointvec(&tmp, write, buffer, lenp, ppos);
	if (write && (*valp != val)) {
		if (val < 0 || val > 3)
			rc = -EINVAL;
		else
			WRITE_ONCE(*valp, val);
	}
	return rc;
}

/* Mirrors proc_do_sync_threshold: both >= 0 and threshold < period unless period is 0. */
static int rvs_proc_do_sync_threshold(const struct ctl_table *table, int write,
				      void *buffer, size_t *lenp, loff_t *ppos)
{
	struct rvs_sysctl *s = rvs_sysctl_of(table);
	int *valp = table->data;
	int val[2];
	int rc;
	struct ctl_table tmp = {
		.data = &val,
		.maxlen = table->maxlen,
		.mode = table->mode,
	};

	mutex_lock(&s->sync_mutex);
	memcpy(val, valp, sizeof(val));
	rc = proc_dointvec(&tmp, write, buffer, lenp, ppos);
	if (write) {
		if (val[0] < 0 || val[1] < 0 ||
		    (val[0] >= val[1] && val[1])) {
			rc = -EINVAL;
		} else {
			WRITE_ONCE(valp[0], val[0]);
			WRITE_ONCE(valp[1], val[1]);
		}
	}
	mutex_unlock(&s->sync_mutex);
	return rc;
}

/* Mirrors proc_do_sync_ports: a power of 2, else EINVAL. */
static int rvs_proc_do_sync_ports(const struct ctl_table *table, int write,
				  void *buffer, size_t *lenp, loff_t *ppos)
{
	int *valp = table->data;
	int val = READ_ONCE(*valp);
	int rc;
	struct ctl_table tmp = {
		.data = &val,
		.maxlen = sizeof(int),
		.mode = table->mode,
	};

	rc = proc_dointvec(&tmp, write, buffer, lenp, ppos);
	if (write && (*valp != val)) {
		if (val < 1 || !is_power_of_2(val))
			rc = -EINVAL;
		else
			WRITE_ONCE(*valp, val);
	}
	return rc;
}

/* Mirrors ipvs_proc_est_cpumask_set, less the estimator reload. */
static int rvs_proc_est_cpumask_set(const struct ctl_table *table, void *buffer)
{
	struct rvs_sysctl *s = rvs_sysctl_of(table);
	cpumask_var_t newmask;
	int ret;

	if (!zalloc_cpumask_var(&newmask, GFP_KERNEL))
		return -ENOMEM;

	ret = cpulist_parse(buffer, newmask);
	if (ret)
		goto out;

	mutex_lock(&s->est_mutex);
	if (!s->est_cpulist_valid) {
		if (!zalloc_cpumask_var(&s->est_cpulist, GFP_KERNEL)) {
			ret = -ENOMEM;
			goto unlock;
		}
		s->est_cpulist_valid = 1;
	}
	cpumask_and(newmask, newmask, &current->cpus_mask);
	cpumask_copy(s->est_cpulist, newmask);
unlock:
	mutex_unlock(&s->est_mutex);
out:
	free_cpumask_var(newmask);
	return ret;
}

/* est_cpulist as ip_vs reads it (sysctl_est_cpulist): the housekeeping CPUs until written. */
static const struct cpumask *rvs_est_cpulist(struct rvs_sysctl *s)
{
	lockdep_assert_held(&s->est_mutex);
	if (s->est_cpulist_valid)
		return s->est_cpulist;
	return housekeeping_cpumask(HK_TYPE_KTHREAD);
}

/* Mirrors ipvs_proc_est_cpumask_get. */
static int rvs_proc_est_cpumask_get(const struct ctl_table *table, void *buffer, size_t size)
{
	struct rvs_sysctl *s = rvs_sysctl_of(table);
	int ret;

	mutex_lock(&s->est_mutex);
	ret = scnprintf(buffer, size, "%*pbl\n", cpumask_pr_args(rvs_est_cpulist(s)));
	mutex_unlock(&s->est_mutex);
	return ret;
}

/* Mirrors ipvs_proc_est_cpulist. */
static int rvs_proc_est_cpulist(const struct ctl_table *table, int write,
				void *buffer, size_t *lenp, loff_t *ppos)
{
	int ret;

	/* Ignore both read and write(append) if *ppos not 0 */
	if (*ppos || !*lenp) {
		*lenp = 0;
		return 0;
	}
	if (write) {
		/* proc_sys_call_handler() appends terminator */
		ret = rvs_proc_est_cpumask_set(table, buffer);
		if (ret >= 0)
			*ppos += *lenp;
	} else {
		/* proc_sys_call_handler() allocates 1 byte for terminator */
		ret = rvs_proc_est_cpumask_get(table, buffer, *lenp + 1);
		if (ret >= 0) {
			*lenp = ret;
			*ppos += *lenp;
			ret = 0;
		}
	}
	return ret;
}

/* Mirrors ipvs_proc_est_nice: MIN_NICE..MAX_NICE, else EINVAL (less the estimator reload). */
static int rvs_proc_est_nice(const struct ctl_table *table, int write,
			     void *buffer, size_t *lenp, loff_t *ppos)
{
	struct rvs_sysctl *s = rvs_sysctl_of(table);
	int *valp = table->data;
	int val = READ_ONCE(*valp);
	int ret;
	struct ctl_table tmp_table = {
		.data = &val,
		.maxlen = sizeof(int),
		.mode = table->mode,
	};

	ret = proc_dointvec(&tmp_table, write, buffer, lenp, ppos);
	if (write && ret >= 0) {
		if (val < MIN_NICE || val > MAX_NICE) {
			ret = -EINVAL;
		} else {
			mutex_lock(&s->est_mutex);
			WRITE_ONCE(*valp, val);
			mutex_unlock(&s->est_mutex);
		}
	}
	return ret;
}

/* Mirrors ipvs_proc_run_estimation: any integer (less the estimator reload). */
static int rvs_proc_run_estimation(const struct ctl_table *table, int write,
				   void *buffer, size_t *lenp, loff_t *ppos)
{
	struct rvs_sysctl *s = rvs_sysctl_of(table);
	int *valp = table->data;
	int val = READ_ONCE(*valp);
	int ret;
	struct ctl_table tmp_table = {
		.data = &val,
		.maxlen = sizeof(int),
		.mode = table->mode,
	};

	ret = proc_dointvec(&tmp_table, write, buffer, lenp, ppos);
	if (write && ret >= 0) {
		mutex_lock(&s->est_mutex);
		WRITE_ONCE(*valp, val);
		mutex_unlock(&s->est_mutex);
	}
	return ret;
}

#define VAR(field) ((void *)offsetof(struct rvs_vs_vars, field))
#define INT_ENTRY(name, handler) {					\
		.procname = #name, .data = VAR(name), .maxlen = sizeof(int),	\
		.mode = 0644, .proc_handler = handler,			\
	}

/*
 * ip_vs's vs_vars[] in its order, then lblc_expiration and lblcr_expiration, which unprivileged
 * namespaces do not get (they must stay last). ip_vs has conntrack with CONFIG_IP_VS_NFCT, which
 * needs conntrack; debug_level (CONFIG_IP_VS_DEBUG, a global) rvs does not have.
 */
static const struct ctl_table rvs_vs_vars_table[] = {
	INT_ENTRY(amemthresh, proc_dointvec),
	INT_ENTRY(am_droprate, proc_dointvec),
	INT_ENTRY(drop_entry, rvs_proc_do_defense_mode),
	INT_ENTRY(drop_packet, rvs_proc_do_defense_mode),
#if IS_ENABLED(CONFIG_NF_CONNTRACK)
	INT_ENTRY(conntrack, proc_dointvec),
#endif
	INT_ENTRY(secure_tcp, rvs_proc_do_defense_mode),
	INT_ENTRY(snat_reroute, proc_dointvec),
	{
		.procname = "sync_version", .data = VAR(sync_ver), .maxlen = sizeof(int),
		.mode = 0644, .proc_handler = proc_dointvec_minmax,
		.extra1 = SYSCTL_ZERO, .extra2 = SYSCTL_ONE,
	},
	INT_ENTRY(sync_ports, rvs_proc_do_sync_ports),
	INT_ENTRY(sync_persist_mode, proc_dointvec),
	{
		.procname = "sync_qlen_max", .data = VAR(sync_qlen_max),
		.maxlen = sizeof(unsigned long), .mode = 0644,
		.proc_handler = proc_doulongvec_minmax,
	},
	INT_ENTRY(sync_sock_size, proc_dointvec),
	INT_ENTRY(cache_bypass, proc_dointvec),
	INT_ENTRY(expire_nodest_conn, proc_dointvec),
	INT_ENTRY(sloppy_tcp, proc_dointvec),
	INT_ENTRY(sloppy_sctp, proc_dointvec),
	INT_ENTRY(expire_quiescent_template, proc_dointvec),
	{
		.procname = "sync_threshold", .data = VAR(sync_threshold),
		.maxlen = sizeof(((struct rvs_vs_vars *)0)->sync_threshold), .mode = 0644,
		.proc_handler = rvs_proc_do_sync_threshold,
	},
	INT_ENTRY(sync_refresh_period, proc_dointvec_jiffies),
	{
		.procname = "sync_retries", .data = VAR(sync_retries), .maxlen = sizeof(int),
		.mode = 0644, .proc_handler = proc_dointvec_minmax,
		.extra1 = SYSCTL_ZERO, .extra2 = SYSCTL_THREE,
	},
	INT_ENTRY(nat_icmp_send, proc_dointvec),
	INT_ENTRY(pmtu_disc, proc_dointvec),
	INT_ENTRY(backup_only, proc_dointvec),
	INT_ENTRY(conn_reuse_mode, proc_dointvec),
	INT_ENTRY(schedule_icmp, proc_dointvec),
	INT_ENTRY(ignore_tunneled, proc_dointvec),
	INT_ENTRY(run_estimation, rvs_proc_run_estimation),
	{
		/* .data is unused: the mask lives in struct rvs_sysctl. */
		.procname = "est_cpulist", .maxlen = NR_CPUS, .mode = 0644,
		.proc_handler = rvs_proc_est_cpulist,
	},
	INT_ENTRY(est_nice, rvs_proc_est_nice),
	INT_ENTRY(lblc_expiration, proc_dointvec_jiffies),
	INT_ENTRY(lblcr_expiration, proc_dointvec_jiffies),
};

/* Entries ip_vs's per-scheduler tables hide from namespaces of unprivileged user namespaces. */
#define RVS_SCHED_ENTRIES 2

/* Entries ip_vs makes read-only in namespaces of unprivileged user namespaces. */
static bool rvs_sysctl_admin_only(const struct ctl_table *entry)
{
	static const char *const names[] = {
		"sync_qlen_max", "sync_sock_size", "run_estimation", "est_cpulist", "est_nice",
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(names); i++)
		if (!strcmp(entry->procname, names[i]))
			return true;
	return false;
}

/* The handlers that find their namespace's state in extra2, as ip_vs's find netns_ipvs there. */
static bool rvs_sysctl_needs_state(const struct ctl_table *entry)
{
	return entry->proc_handler == rvs_proc_do_sync_threshold ||
	       entry->proc_handler == rvs_proc_est_cpulist ||
	       entry->proc_handler == rvs_proc_est_nice ||
	       entry->proc_handler == rvs_proc_run_estimation;
}

/* Mirrors ip_vs_control_net_init_sysctl (and the lblc/lblcr per-netns init). */
int rvs_sysctl_register(struct net *net, const char *path, struct rvs_vs_vars **out)
{
	size_t size = ARRAY_SIZE(rvs_vs_vars_table);
	bool unpriv = net->user_ns != &init_user_ns;
	struct rvs_sysctl *s;
	size_t i;

	s = kzalloc(sizeof(*s), GFP_KERNEL);
	if (!s)
		return -ENOMEM;
	s->table = kmemdup(rvs_vs_vars_table, sizeof(rvs_vs_vars_table), GFP_KERNEL);
	if (!s->table) {
		kfree(s);
		return -ENOMEM;
	}
	mutex_init(&s->sync_mutex);
	mutex_init(&s->est_mutex);
	s->vars = rvs_vs_vars_defaults;
	s->vars.sync_qlen_max = nr_free_buffer_pages() / 32;

	for (i = 0; i < size; i++) {
		struct ctl_table *entry = &s->table[i];

		if (entry->proc_handler == rvs_proc_est_cpulist)
			entry->data = &s->est_cpulist;
		else
			entry->data = (char *)&s->vars + (uintptr_t)entry->data;
		if (rvs_sysctl_needs_state(entry))
			entry->extra2 = s;
		if (unpriv && rvs_sysctl_admin_only(entry))
			entry->mode = 0444;
	}
	if (unpriv)
		size -= RVS_SCHED_ENTRIES;

	s->header = register_net_sysctl_sz(net, path, s->table, size);
	if (!s->header) {
		mutex_destroy(&s->est_mutex);
		mutex_destroy(&s->sync_mutex);
		kfree(s->table);
		kfree(s);
		return -ENOMEM;
	}
	*out = &s->vars;
	return 0;
}

/* Mirrors ip_vs_control_net_cleanup_sysctl's table part. */
void rvs_sysctl_unregister(struct rvs_vs_vars *vars)
{
	struct rvs_sysctl *s = container_of(vars, struct rvs_sysctl, vars);

	unregister_net_sysctl_table(s->header);
	if (s->est_cpulist_valid)
		free_cpumask_var(s->est_cpulist);
	mutex_destroy(&s->est_mutex);
	mutex_destroy(&s->sync_mutex);
	kfree(s->table);
	kfree(s);
}

bool rvs_sysctl_est_cpu_allowed(struct rvs_vs_vars *vars, unsigned int cpu)
{
	struct rvs_sysctl *s = container_of(vars, struct rvs_sysctl, vars);
	bool allowed;

	mutex_lock(&s->est_mutex);
	allowed = cpu < nr_cpu_ids && cpumask_test_cpu(cpu, rvs_est_cpulist(s));
	mutex_unlock(&s->est_mutex);
	return allowed;
}

unsigned int rvs_sysctl_est_cpus(struct rvs_vs_vars *vars)
{
	struct rvs_sysctl *s = container_of(vars, struct rvs_sysctl, vars);
	unsigned int n;

	mutex_lock(&s->est_mutex);
	n = cpumask_weight(rvs_est_cpulist(s));
	mutex_unlock(&s->est_mutex);
	return n;
}
