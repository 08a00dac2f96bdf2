/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Declarations of the data path's C shim (datapath.c): the netfilter hook table (designated
 * initialisers), the connection table's rhashtable parameters bound into wrappers of the inline
 * rhashtable calls (their parameters must be compile-time constants), and one-line wrappers of
 * macros (timer_setup, NF_HOOK with dst_output, the skb bitfields). No decisions are made here.
 */
#ifndef RVS_DATAPATH_H
#define RVS_DATAPATH_H

#include <linux/netfilter.h>
#include <linux/rhashtable.h>
#include <linux/skbuff.h>
#include <linux/spinlock.h>
#include <linux/timer.h>
#include <linux/workqueue.h>
#include <linux/types.h>
#include <net/ip.h>

struct net;

/*
 * What a connection is found by, in one direction: source address and port, destination address
 * and port of a packet, with family, protocol and direction (in, out, template) so that tuples of
 * different kinds never match each other. 40 bytes, hashed with jhash2.
 */
/* The direction byte of an "out" key (conntab.rs's DIR_OUT). */
#define RVS_DIR_OUT 1

struct rvs_conn_key {
	__u8 saddr[16];
	__u8 daddr[16];
	__be16 sport;
	__be16 dport;
	__u8 af;
	__u8 protocol;
	__u8 dir;
	__u8 pad;
};

/*
 * What the table groups entries by, as ip_vs hashes a connection (ip_vs_conn_hashkey): the
 * client's address and port, with the family and protocol. That is the source of an "in" or
 * template key and the destination of an "out" key, so one hashed node serves both directions
 * and a reply is found in the same bucket as the request. 20 bytes, hashed with jhash2.
 */
struct rvs_conn_gkey {
	__u8 addr[16];
	__be16 port;
	__u8 af;
	__u8 protocol;
} __aligned(4);

/*
 * The hashed part of a connection-table entry: one rhltable node (entries of the same group are
 * listed behind one bucket slot, newest first) and the entry's keys: the "in" (or template) key,
 * whose source is the group, and, if has_out, the "out" key, whose destination is the group and
 * whose source is out_addr/out_port.
 */
struct rvs_tuple {
	struct rhlist_head node;
	struct rvs_conn_gkey g;
	__u8 daddr[16];
	__u8 out_addr[16];
	__be16 dport;
	__be16 out_port;
	__u8 dir;
	__u8 has_out;
	__u8 pad[2];
};

int rvs_conntab_init(struct rhltable *ht);
/* A slab cache for the table's entries (kmem_cache_create, kmem_cache_alloc with GFP_ATOMIC,
 * kmem_cache_free, kmem_cache_destroy). */
struct kmem_cache *rvs_cache_create(const char *name, unsigned int size, unsigned int align);
void *rvs_cache_alloc(struct kmem_cache *c);
void rvs_cache_free(struct kmem_cache *c, void *p);
void rvs_cache_destroy(struct kmem_cache *c);
void rvs_conntab_destroy(struct rhltable *ht);
/* Fills t's keys from key_in and (if not NULL) key_out; -EINVAL if key_in is an "out" key or
 * key_out's destination, family or protocol is not key_in's source's. */
int rvs_tuple_set(struct rvs_tuple *t, const struct rvs_conn_key *key_in,
		  const struct rvs_conn_key *key_out);
/* The first tuple with key `key` (its direction picks which of a tuple's keys is compared),
 * after tuple `after` of the same group if not NULL; NULL when there is none. RCU read side held
 * by the caller. */
struct rvs_tuple *rvs_conntab_lookup(struct rhltable *ht, const struct rvs_conn_key *key,
				     struct rvs_tuple *after);
/* 0 or an allocation error; an entry with the same keys goes behind the new one. */
int rvs_conntab_insert(struct rhltable *ht, struct rvs_tuple *t);
/* 0, or -ENOENT if the tuple is not in the table. */
int rvs_conntab_remove(struct rhltable *ht, struct rvs_tuple *t);
void rvs_conntab_walk_enter(struct rhltable *ht, struct rhashtable_iter *iter);
void rvs_conntab_walk_start(struct rhashtable_iter *iter);
/* The current bucket count, and up to max tuples of bucket hash % count (RCU read side held;
 * during a resize only the old table's buckets are seen). */
unsigned int rvs_conntab_buckets(struct rhltable *ht);
unsigned int rvs_conntab_bucket(struct rhltable *ht, unsigned int hash, struct rvs_tuple **out,
				unsigned int max);
/* timer_pending(). */
bool rvs_timer_pending(const struct timer_list *timer);

/* The hook functions (Rust) and ip_vs's hook table, per family. */
unsigned int rvs_hook_in(void *priv, struct sk_buff *skb, const struct nf_hook_state *state);
unsigned int rvs_hook_out(void *priv, struct sk_buff *skb, const struct nf_hook_state *state);
unsigned int rvs_hook_forward_icmp(void *priv, struct sk_buff *skb,
				   const struct nf_hook_state *state);
extern const struct nf_hook_ops rvs_hook_ops4[6];
extern const struct nf_hook_ops rvs_hook_ops6[6];
static const unsigned int RVS_HOOK_OPS_COUNT = 6;

void rvs_timer_setup(struct timer_list *timer, void (*fn)(struct timer_list *));

/* Delayed work on system_long_wq (ip_vs's defense_work): INIT_DELAYED_WORK, queue_delayed_work,
 * cancel_delayed_work_sync (which also stops a work that requeues itself), to_delayed_work. */
void rvs_delayed_work_init(struct delayed_work *w, void (*fn)(struct work_struct *));
void rvs_delayed_work_queue(struct delayed_work *w, unsigned long delay);
void rvs_delayed_work_cancel_sync(struct delayed_work *w);
struct delayed_work *rvs_to_delayed_work(struct work_struct *w);

/* What ip_vs_send_or_cont does to a packet it handled, in one call; its flags: */
static const unsigned int RVS_SEND_NOTRACK = 1;	/* ip_vs_notrack() */
static const unsigned int RVS_SEND_ORPHAN = 2;	/* ip_vs_drop_early_demux_sk() */
/* skb->ipvs_property = 1, then what the flags ask for. */
void rvs_skb_mark_handled(struct sk_buff *skb, unsigned int flags);
/*
 * rvs_skb_mark_handled(), skb->ignore_df = 1, skb_forward_csum + skb_clear_tstamp when it came
 * in on a device, then NF_HOOK(pf, NF_INET_LOCAL_OUT, net, NULL, skb, NULL, skb_dst(skb)->dev,
 * dst_output).
 */
int rvs_send_local_out(int pf, struct net *net, struct sk_buff *skb, unsigned int flags);

/* ip_vs_notrack(). */
void rvs_skb_notrack(struct sk_buff *skb);

/*
 * The packet's conntrack, as ip_vs_nfct.c looks at it: 0 without one (none, or untracked), else
 * RVS_CT_PRESENT with the other RVS_CT_* bits that hold, and *protonum set to its protocol.
 */
static const unsigned int RVS_CT_PRESENT = 1;
static const unsigned int RVS_CT_CONFIRMED = 2;
static const unsigned int RVS_CT_DYING = 4;
/* CTINFO2DIR(ctinfo) == IP_CT_DIR_REPLY. */
static const unsigned int RVS_CT_REPLY = 8;
unsigned int rvs_skb_ct_state(const struct sk_buff *skb, __u8 *protonum);
/*
 * nf_conntrack_alter_reply() of the packet's conntrack with its reply tuple's source (src) or
 * destination address set to addr (16 bytes, as union nf_inet_addr), and the port too when
 * set_port.
 */
void rvs_skb_ct_alter_reply(struct sk_buff *skb, bool src, const __u8 *addr, __be16 port,
			    bool set_port);
/*
 * ip_vs_update_conntrack's "applications may adjust TCP seqs": the sequence-adjustment extension
 * on the packet's unconfirmed conntrack entry; false only when it could not be added.
 */
bool rvs_skb_ct_seqadj_add(struct sk_buff *skb);
/*
 * nf_nat_mangle_tcp_packet() with the packet's conntrack entry (the FTP helper): match_len bytes
 * at match_off of the TCP payload become rep. 1 done, 0 no conntrack entry, -1 failed.
 */
int rvs_skb_nat_mangle_tcp(struct sk_buff *skb, unsigned int protoff, unsigned int match_off,
			   unsigned int match_len, const char *rep, unsigned int rep_len);
/* What rvs_ftp_expected() answers: which end of the new entry's reply tuple to change. */
static const int RVS_EXPECT_NONE = 0;
static const int RVS_EXPECT_REPLY_DST = 1;
static const int RVS_EXPECT_REPLY_SRC = 2;
/*
 * ip_vs_nfct_expect_related(): an expectation, on the packet's conntrack entry, of a connection
 * saddr:sport (0: any port) -> daddr:dport of protonum, whose new entry rvs_ftp_expected() fixes.
 */
void rvs_skb_ct_expect_related(struct sk_buff *skb, const __u8 *saddr, const __u8 *daddr,
			       __u8 protonum, __be16 sport, __be16 dport);
/* Removes every expectation rvs made and waits until no callback of ours runs (unload). */
void rvs_ct_expect_cleanup(void);
/* nf_ct_netns_get() / nf_ct_netns_put(): conntrack's hooks in net for family af. */
int rvs_ct_netns_get(struct net *net, __u16 af);
void rvs_ct_netns_put(struct net *net, __u16 af);
/* nf_conntrack_confirm(skb) == NF_ACCEPT (else NF_DROP: the packet must be freed). */
bool rvs_skb_ct_confirm(struct sk_buff *skb);
/*
 * nf_conntrack_find_get() of the original tuple saddr:sport -> daddr:dport (zone 0), then
 * nf_ct_kill() and nf_ct_put() of what it found (ip_vs_conn_drop_conntrack).
 */
void rvs_ct_kill_tuple(struct net *net, __u16 l3num, __u8 protonum, const __u8 *saddr,
		       __be16 sport, const __u8 *daddr, __be16 dport);

/* sk_buff bitfields and small accessors. */
void rvs_skb_set_ipvs_property(struct sk_buff *skb);
unsigned int rvs_skb_ip_summed(const struct sk_buff *skb);
void rvs_skb_set_ip_summed(struct sk_buff *skb, unsigned int v);
void rvs_skb_set_ignore_df(struct sk_buff *skb);
bool rvs_skb_dev_is_loopback_or_none(const struct sk_buff *skb);
/* The skb's route is IPv4 and local (RTCF_LOCAL) / an input route. */
bool rvs_skb_rt4_is_local(const struct sk_buff *skb);
bool rvs_skb_rt_is_input(const struct sk_buff *skb);
/* The skb's route is IPv6 and local (its device is loopback). */
bool rvs_skb_rt6_is_local(const struct sk_buff *skb);
/* skb_is_gso(skb) && skb_is_gso_sctp(skb): an SCTP packet to be segmented (GSO_BY_FRAGS). */
bool rvs_skb_is_gso_sctp(const struct sk_buff *skb);
/* ip_vs_drop_early_demux_sk(). */
void rvs_skb_orphan_if_dev(struct sk_buff *skb);
/* ip_vs_tunnel_xmit_prepare() without conntrack confirmation. */
void rvs_skb_tunnel_prepare(struct sk_buff *skb);
/* skb_headroom < n || skb_cloned: the tunnel header needs a new buffer. */
bool rvs_skb_needs_headroom(const struct sk_buff *skb, unsigned int n);
/* Replaces *skb by a copy with n bytes of headroom (ip_vs_prepare_tunneled_skb's part). */
int rvs_skb_realloc_headroom(struct sk_buff **skb, unsigned int n);
/* After pushing an outer IP header: reset the network header, clear IPCB/IP6CB. */
void rvs_skb_push_outer(struct sk_buff *skb, unsigned int len, bool ipv6);
void rvs_skb_set_inner(struct sk_buff *skb, __u8 inner_proto);
/* ip_select_ident() of the new outer IPv4 header. */
void rvs_ip_select_ident(struct net *net, struct sk_buff *skb);

/* Routes. Returns a referenced dst or NULL; *saddr gets the source chosen. */
struct dst_entry *rvs_route4(struct net *net, __be32 daddr, bool known_nh, bool connect,
			     __be32 *saddr, bool *local);
struct dst_entry *rvs_route6(struct net *net, const struct in6_addr *daddr, bool known_nh,
			     struct in6_addr *saddr, bool want_saddr, bool *local);
unsigned int rvs_dst_mtu(const struct dst_entry *dst);
/*
 * A destination's cached route (ip_vs's struct ip_vs_dest_dst): a referenced dst, the cookie its
 * check takes (IPv6's fib serial number), and what the lookup found.
 */
struct rvs_dest_dst {
	struct dst_entry *dst;
	__u32 cookie;
	bool local;
	__u8 saddr[16];
	struct rcu_head rcu;
};
/*
 * __ip_vs_dst_check(), under RCU: the route cached in *slot if it is still valid, with its
 * dst_mtu() in *mtu, else NULL.
 */
const struct rvs_dest_dst *rvs_dest_dst_get(struct rvs_dest_dst **slot, unsigned int *mtu);
/*
 * __ip_vs_dst_set(): caches dst in *slot (with a reference of its own; nothing when dst is NULL,
 * memory is short, or its device is going down) in place of what was there, which is released
 * after a grace period. Any context.
 */
void rvs_dest_dst_set(struct rvs_dest_dst **slot, struct dst_entry *dst, bool local,
		      const __u8 *saddr, bool ipv6);
/*
 * ip_vs_forget_dev(): forgets the route cached in *slot if it goes out through dev, so that the
 * device can be unregistered. Any context.
 */
void rvs_dest_dst_forget_dev(struct rvs_dest_dst **slot, const struct net_device *dev);
/*
 * A netdevice notifier's event as ip_vs_dst_event() takes it: for NETDEV_DOWN, the device going
 * down (and its namespace in *net); NULL for every other event.
 */
struct net_device *rvs_netdev_down(unsigned long event, void *ptr, struct net **net);
/* skb_dst_drop() + skb_dst_set_noref(): a cached route, valid for the RCU read section. */
void rvs_skb_set_dst_noref(struct sk_buff *skb, struct dst_entry *dst);
/* ip_vs_addr_is_unicast(): IPv4 by inet_addr_type (RTN_UNICAST), IPv6 by ipv6_addr_type. */
bool rvs_addr_is_unicast(struct net *net, bool ipv6, const __u8 *addr);
void rvs_dst_release(struct dst_entry *dst);
/* skb_dst_drop + skb_dst_set (takes the reference). */
void rvs_skb_set_dst(struct sk_buff *skb, struct dst_entry *dst);
unsigned int rvs_dst_dev_headroom(const struct dst_entry *dst);
/* ip_vs_route_me_harder() for the given family (0 ok). */
int rvs_route_me_harder(struct net *net, struct sk_buff *skb, bool ipv6);

void rvs_icmp_send(struct sk_buff *skb, int type, int code, __be32 info);
void rvs_icmpv6_send(struct net *net, struct sk_buff *skb, __u8 type, __u8 code, __u32 info);

unsigned long rvs_jiffies(void);

/* ip_vs_exceeds_mtu() (GSO-aware); for IPv6 also IP6CB frag_max_size (__mtu_check_toobig_v6). */
bool rvs_skb_exceeds_mtu(const struct sk_buff *skb, unsigned int mtu, bool ipv6);
/* The GSO types of IP-in-IPv4 and IP-in-IPv6 encapsulation. */
static const unsigned int RVS_SKB_GSO_IPXIP4 = SKB_GSO_IPXIP4;
static const unsigned int RVS_SKB_GSO_IPXIP6 = SKB_GSO_IPXIP6;
static const unsigned int RVS_SKB_GSO_UDP_TUNNEL = SKB_GSO_UDP_TUNNEL;
static const unsigned int RVS_SKB_GSO_UDP_TUNNEL_CSUM = SKB_GSO_UDP_TUNNEL_CSUM;
static const unsigned int RVS_SKB_GSO_GRE = SKB_GSO_GRE;
static const unsigned int RVS_SKB_GSO_GRE_CSUM = SKB_GSO_GRE_CSUM;
static const unsigned int RVS_SKB_GSO_TUNNEL_REMCSUM = SKB_GSO_TUNNEL_REMCSUM;
/* skb_checksum_start_offset(), skb->csum_offset, skb_is_gso(), skb->encapsulation = 0. */
int rvs_skb_checksum_start_offset(const struct sk_buff *skb);
__u16 rvs_skb_csum_offset(const struct sk_buff *skb);
bool rvs_skb_is_gso(const struct sk_buff *skb);
void rvs_skb_clear_encapsulation(struct sk_buff *skb);

/* GUE (ipvs_gue_encap): the flow's UDP source port (udp_flow_src_port). */
__be16 rvs_udp_flow_src_port(struct net *net, struct sk_buff *skb);
/* skb_push(len) + skb_reset_transport_header; returns the pushed bytes. */
__u8 *rvs_skb_push_transport(struct sk_buff *skb, unsigned int len);
/* udp_set_csum / udp6_set_csum over the whole UDP datagram at the transport header. */
void rvs_udp_set_csum(bool nocheck, struct sk_buff *skb, const __u8 *saddr, const __u8 *daddr,
		      bool ipv6);
/* GRE (ipvs_gre_encap): the header length with or without checksum, and building it. */
unsigned int rvs_gre_hlen(bool csum);
void rvs_gre_encap(struct sk_buff *skb, bool csum, bool inner_ipv6);

/* spin_lock_bh / spin_unlock_bh. */
void rvs_spin_lock_bh(spinlock_t *lock);
void rvs_spin_unlock_bh(spinlock_t *lock);

/* si_meminfo(): free + buffer RAM in pages (update_defense_level's availmem). */
unsigned long rvs_avail_pages(void);

/* Per-CPU traffic counters (ip_vs's ip_vs_cpu_stats): conns, inpkts, outpkts, inbytes, outbytes.
 * Writers add on their own CPU with this_cpu_add (safe against preemption and interrupts);
 * readers sum every possible CPU's copy. */
struct rvs_pcpu_stats {
	__u64 cnt[5];
};
struct rvs_pcpu_stats *rvs_pcpu_stats_alloc(void);
void rvs_pcpu_stats_free(struct rvs_pcpu_stats *s);
/* cnt[i] += 1, cnt[j] += v on this CPU. */
void rvs_pcpu_stats_add(struct rvs_pcpu_stats *s, unsigned int i, unsigned int j, __u64 v);
/* rvs_pcpu_stats_add on a, b and c at once (a packet's destination, service and namespace). */
void rvs_pcpu_stats_add3(struct rvs_pcpu_stats *a, struct rvs_pcpu_stats *b,
			 struct rvs_pcpu_stats *c, unsigned int i, unsigned int j, __u64 v);
/* CPU cpu's counters. */
void rvs_pcpu_stats_read(const struct rvs_pcpu_stats *s, unsigned int cpu, __u64 out[5]);
/* The next possible CPU after prev (-1 for the first), or nr_cpu_ids at the end. */
unsigned int rvs_next_possible_cpu(int prev);
unsigned int rvs_nr_cpu_ids(void);

/* ip_vs_in_icmp's tunnel case: pskb_pull(off), reset the network header there, clear the IPv4
 * control block's options, make hlen bytes linear and set the transport header after them.
 * 0, or -1 if the packet is too short. */
int rvs_skb_pull_to_ipv4(struct sk_buff *skb, unsigned int off, unsigned int hlen);
/* ipv4_update_pmtu() for the IPv4 header at the network header. */
void rvs_ipv4_update_pmtu(struct sk_buff *skb, struct net *net, __u32 mtu);

/* ip_vs_gather_frags(): ip_defrag with BHs off, then ip_send_check. 0: the skb is the whole
 * datagram now; otherwise it was queued or freed (NF_STOLEN). */
int rvs_ip_gather_frags(struct net *net, struct sk_buff *skb, __u32 user);
/* ip_vs_defrag_user()'s values. */
static const __u32 RVS_IP_DEFRAG_VS_IN = IP_DEFRAG_VS_IN;
static const __u32 RVS_IP_DEFRAG_VS_OUT = IP_DEFRAG_VS_OUT;
static const __u32 RVS_IP_DEFRAG_VS_FWD = IP_DEFRAG_VS_FWD;

/* get_random_u32_below(). */
__u32 rvs_random_below(__u32 n);

#endif /* RVS_DATAPATH_H */
