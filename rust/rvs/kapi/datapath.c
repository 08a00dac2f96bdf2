// SPDX-License-Identifier: GPL-2.0
/*
 * The data path's C shim: declarative tables (netfilter hook ops, rhashtable parameters) and
 * one-line wrappers of macros and inline functions whose constant arguments or bitfields Rust
 * cannot pass (rhashtable's *_fast calls take their parameters by value as compile-time
 * constants; NF_HOOK needs dst_output's address; sk_buff bitfields; conntrack's inline accessors).
 * Every decision is made in Rust (rust/rvs/conn.rs, hooks.rs, xmit.rs, nfct.rs).
 */
#include <linux/icmp.h>
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/percpu.h>
#include <linux/icmpv6.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/netfilter.h>
#include <linux/netfilter_ipv4.h>
#include <linux/random.h>
#include <linux/spinlock.h>
#include <linux/netfilter_ipv6.h>
#include <linux/rhashtable.h>
#include <linux/skbuff.h>
#include <net/dst.h>
#include <net/gso.h>
#include <net/icmp.h>
#include <net/ip.h>
#include <net/ip6_route.h>
#include <net/ip6_fib.h>
#include <net/gre.h>
#include <net/ip6_checksum.h>
#include <net/ip_tunnels.h>
#include <net/udp.h>
#include <net/ipv6.h>
#include <net/netfilter/nf_conntrack.h>
#include <net/netfilter/nf_conntrack_core.h>
#include <net/netfilter/nf_conntrack_zones.h>
#include <net/netfilter/nf_conntrack_expect.h>
#include <net/netfilter/nf_conntrack_seqadj.h>
#include <net/netfilter/nf_nat_helper.h>
#include <net/route.h>
#include <linux/unaligned.h>

#include "datapath.h"

/* Equal 16-byte addresses, compared inline (memcmp would be a call to bcmp). */
static inline bool rvs_eq16(const void *a, const void *b)
{
	return !((get_unaligned((const u64 *)a) ^ get_unaligned((const u64 *)b)) |
		 (get_unaligned((const u64 *)a + 1) ^ get_unaligned((const u64 *)b + 1)));
}

/* rhashtable's key comparison for groups: 0 when equal. */
static int rvs_gkey_cmp(struct rhashtable_compare_arg *arg, const void *obj)
{
	const struct rvs_conn_gkey *k = arg->key;
	const struct rvs_conn_gkey *g = &((const struct rvs_tuple *)obj)->g;

	return !(rvs_eq16(k->addr, g->addr) &&
		 *(const u32 *)&k->port == *(const u32 *)&g->port);
}

static const struct rhashtable_params rvs_conn_params = {
	.key_len = sizeof(struct rvs_conn_gkey),
	.key_offset = offsetof(struct rvs_tuple, g),
	.head_offset = offsetof(struct rvs_tuple, node),
	.obj_cmpfn = rvs_gkey_cmp,
	.nelem_hint = 4096,
	.min_size = 256,
	.automatic_shrinking = true,
};

/* port, af and protocol are compared as one 32-bit word. */
static_assert(sizeof(struct rvs_conn_gkey) == 20);
static_assert(offsetof(struct rvs_conn_gkey, port) == 16);
static_assert(offsetof(struct rvs_tuple, g) % 4 == 0);

int rvs_conntab_init(struct rhltable *ht)
{
	return rhltable_init(ht, &rvs_conn_params);
}

void rvs_conntab_destroy(struct rhltable *ht)
{
	rhltable_destroy(ht);
}

/* The group of a key: an "out" key's destination, else its source. */
static void rvs_gkey_of(const struct rvs_conn_key *key, struct rvs_conn_gkey *g)
{
	bool out = key->dir == RVS_DIR_OUT;

	memcpy(g->addr, out ? key->daddr : key->saddr, sizeof(g->addr));
	g->port = out ? key->dport : key->sport;
	g->af = key->af;
	g->protocol = key->protocol;
}

int rvs_tuple_set(struct rvs_tuple *t, const struct rvs_conn_key *key_in,
		  const struct rvs_conn_key *key_out)
{
	if (key_in->dir == RVS_DIR_OUT)
		return -EINVAL;
	rvs_gkey_of(key_in, &t->g);
	memcpy(t->daddr, key_in->daddr, sizeof(t->daddr));
	t->dport = key_in->dport;
	t->dir = key_in->dir;
	t->has_out = 0;
	memset(t->out_addr, 0, sizeof(t->out_addr));
	t->out_port = 0;
	memset(t->pad, 0, sizeof(t->pad));
	if (key_out) {
		struct rvs_conn_gkey g;

		rvs_gkey_of(key_out, &g);
		if (key_out->dir != RVS_DIR_OUT || memcmp(&g, &t->g, sizeof(g)))
			return -EINVAL;
		memcpy(t->out_addr, key_out->saddr, sizeof(t->out_addr));
		t->out_port = key_out->sport;
		t->has_out = 1;
	}
	return 0;
}

/* Whether t holds key, t being of key's group. */
static bool rvs_tuple_match(const struct rvs_tuple *t, const struct rvs_conn_key *key)
{
	if (key->dir == RVS_DIR_OUT)
		return t->has_out && t->out_port == key->sport && rvs_eq16(t->out_addr, key->saddr);
	return t->dir == key->dir && t->dport == key->dport && rvs_eq16(t->daddr, key->daddr);
}

struct rvs_tuple *rvs_conntab_lookup(struct rhltable *ht, const struct rvs_conn_key *key,
				     struct rvs_tuple *after)
{
	struct rhlist_head *pos;

	if (after) {
		pos = rcu_dereference(after->node.next);
	} else {
		struct rvs_conn_gkey g;

		rvs_gkey_of(key, &g);
		pos = rhltable_lookup(ht, &g, rvs_conn_params);
	}
	for (; pos; pos = rcu_dereference(pos->next)) {
		struct rvs_tuple *t = container_of(pos, struct rvs_tuple, node);

		if (rvs_tuple_match(t, key))
			return t;
	}
	return NULL;
}

int rvs_conntab_insert(struct rhltable *ht, struct rvs_tuple *t)
{
	return rhltable_insert(ht, &t->node, rvs_conn_params);
}

int rvs_conntab_remove(struct rhltable *ht, struct rvs_tuple *t)
{
	return rhltable_remove(ht, &t->node, rvs_conn_params);
}

void rvs_conntab_walk_enter(struct rhltable *ht, struct rhashtable_iter *iter)
{
	rhltable_walk_enter(ht, iter);
}

void rvs_conntab_walk_start(struct rhashtable_iter *iter)
{
	rhashtable_walk_start(iter);
}

unsigned int rvs_conntab_buckets(struct rhltable *ht)
{
	return rht_dereference_rcu(ht->ht.tbl, &ht->ht)->size;
}

unsigned int rvs_conntab_bucket(struct rhltable *ht, unsigned int hash, struct rvs_tuple **out,
				unsigned int max)
{
	struct bucket_table *tbl = rht_dereference_rcu(ht->ht.tbl, &ht->ht);
	struct rhash_head *pos;
	unsigned int n = 0;

	hash &= tbl->size - 1;
	rht_for_each_rcu(pos, tbl, hash) {
		struct rhlist_head *l = container_of(pos, struct rhlist_head, rhead);

		for (; l; l = rcu_dereference(l->next)) {
			if (n == max)
				return n;
			out[n++] = container_of(l, struct rvs_tuple, node);
		}
	}
	return n;
}

bool rvs_timer_pending(const struct timer_list *timer)
{
	return timer_pending(timer);
}

/* ip_vs_ops4 / ip_vs_ops6 (ip_vs_core.c): the same hooks at the same priorities. */
const struct nf_hook_ops rvs_hook_ops4[6] = {
	{ .hook = rvs_hook_out, .pf = NFPROTO_IPV4, .hooknum = NF_INET_LOCAL_IN,
	  .priority = NF_IP_PRI_NAT_SRC - 2 },
	{ .hook = rvs_hook_in, .pf = NFPROTO_IPV4, .hooknum = NF_INET_LOCAL_IN,
	  .priority = NF_IP_PRI_NAT_SRC - 1 },
	{ .hook = rvs_hook_out, .pf = NFPROTO_IPV4, .hooknum = NF_INET_LOCAL_OUT,
	  .priority = NF_IP_PRI_NAT_DST + 1 },
	{ .hook = rvs_hook_in, .pf = NFPROTO_IPV4, .hooknum = NF_INET_LOCAL_OUT,
	  .priority = NF_IP_PRI_NAT_DST + 2 },
	{ .hook = rvs_hook_forward_icmp, .pf = NFPROTO_IPV4, .hooknum = NF_INET_FORWARD,
	  .priority = 99 },
	{ .hook = rvs_hook_out, .pf = NFPROTO_IPV4, .hooknum = NF_INET_FORWARD,
	  .priority = 100 },
};

const struct nf_hook_ops rvs_hook_ops6[6] = {
	{ .hook = rvs_hook_out, .pf = NFPROTO_IPV6, .hooknum = NF_INET_LOCAL_IN,
	  .priority = NF_IP6_PRI_NAT_SRC - 2 },
	{ .hook = rvs_hook_in, .pf = NFPROTO_IPV6, .hooknum = NF_INET_LOCAL_IN,
	  .priority = NF_IP6_PRI_NAT_SRC - 1 },
	{ .hook = rvs_hook_out, .pf = NFPROTO_IPV6, .hooknum = NF_INET_LOCAL_OUT,
	  .priority = NF_IP6_PRI_NAT_DST + 1 },
	{ .hook = rvs_hook_in, .pf = NFPROTO_IPV6, .hooknum = NF_INET_LOCAL_OUT,
	  .priority = NF_IP6_PRI_NAT_DST + 2 },
	{ .hook = rvs_hook_forward_icmp, .pf = NFPROTO_IPV6, .hooknum = NF_INET_FORWARD,
	  .priority = 99 },
	{ .hook = rvs_hook_out, .pf = NFPROTO_IPV6, .hooknum = NF_INET_FORWARD,
	  .priority = 100 },
};

void rvs_timer_setup(struct timer_list *timer, void (*fn)(struct timer_list *))
{
	timer_setup(timer, fn, 0);
}

void rvs_skb_notrack(struct sk_buff *skb)
{
	enum ip_conntrack_info ctinfo;
	struct nf_conn *ct = nf_ct_get(skb, &ctinfo);

	if (ct) {
		nf_conntrack_put(&ct->ct_general);
		nf_ct_set(skb, NULL, IP_CT_UNTRACKED);
	}
}

void rvs_skb_mark_handled(struct sk_buff *skb, unsigned int flags)
{
	skb->ipvs_property = 1;
	if (flags & RVS_SEND_NOTRACK)
		rvs_skb_notrack(skb);
	if (flags & RVS_SEND_ORPHAN)
		rvs_skb_orphan_if_dev(skb);
}

/* What a packet leaving for a real server needs first: its checksum and timestamp as forwarded. */
static void rvs_skb_prepare_forward(struct sk_buff *skb)
{
	skb_forward_csum(skb);
	if (skb->dev)
		skb_clear_tstamp(skb);
}

int rvs_send_local_out(int pf, struct net *net, struct sk_buff *skb, unsigned int flags)
{
	rvs_skb_mark_handled(skb, flags);
	skb->ignore_df = 1;
	rvs_skb_prepare_forward(skb);
	return NF_HOOK(pf, NF_INET_LOCAL_OUT, net, NULL, skb, NULL, skb_dst(skb)->dev,
		       dst_output);
}

unsigned int rvs_skb_ct_state(const struct sk_buff *skb, __u8 *protonum)
{
	enum ip_conntrack_info ctinfo;
	struct nf_conn *ct = nf_ct_get(skb, &ctinfo);
	unsigned int state = RVS_CT_PRESENT;

	if (!ct)
		return 0;
	if (nf_ct_is_confirmed(ct))
		state |= RVS_CT_CONFIRMED;
	if (nf_ct_is_dying(ct))
		state |= RVS_CT_DYING;
	if (CTINFO2DIR(ctinfo) == IP_CT_DIR_REPLY)
		state |= RVS_CT_REPLY;
	*protonum = nf_ct_protonum(ct);
	return state;
}

void rvs_skb_ct_alter_reply(struct sk_buff *skb, bool src, const __u8 *addr, __be16 port,
			    bool set_port)
{
	enum ip_conntrack_info ctinfo;
	struct nf_conn *ct = nf_ct_get(skb, &ctinfo);
	struct nf_conntrack_tuple new_tuple;

	if (!ct)
		return;
	new_tuple = ct->tuplehash[IP_CT_DIR_REPLY].tuple;
	if (src) {
		memcpy(&new_tuple.src.u3, addr, sizeof(new_tuple.src.u3));
		if (set_port)
			new_tuple.src.u.tcp.port = port;
	} else {
		memcpy(&new_tuple.dst.u3, addr, sizeof(new_tuple.dst.u3));
		if (set_port)
			new_tuple.dst.u.tcp.port = port;
	}
	nf_conntrack_alter_reply(ct, &new_tuple);
}

bool rvs_skb_ct_seqadj_add(struct sk_buff *skb)
{
	enum ip_conntrack_info ctinfo;
	struct nf_conn *ct = nf_ct_get(skb, &ctinfo);

	if (!ct || nf_ct_is_confirmed(ct) || nfct_seqadj(ct))
		return true;
	return nfct_seqadj_ext_add(ct) != NULL;
}

int rvs_skb_nat_mangle_tcp(struct sk_buff *skb, unsigned int protoff, unsigned int match_off,
			   unsigned int match_len, const char *rep, unsigned int rep_len)
{
	enum ip_conntrack_info ctinfo;
	struct nf_conn *ct = nf_ct_get(skb, &ctinfo);

	if (!ct)
		return 0;
	/* nf_ct_seqadj_set() WARNs without the extension: refuse instead. */
	if (rep_len != match_len && !nfct_seqadj(ct))
		return -1;
	if (!nf_nat_mangle_tcp_packet(skb, ct, ctinfo, protoff, match_off, match_len, rep,
				      rep_len))
		return -1;
	if (skb->ip_summed == CHECKSUM_COMPLETE)
		skb->ip_summed = CHECKSUM_UNNECESSARY;
	return 1;
}

/* In Rust (rust/rvs/ftp.rs): which IPVS connection an expected conntrack entry belongs to. */
int rvs_ftp_expected(struct net *net, __u16 l3num, __u8 protonum, const __u8 *saddr,
		     __be16 sport, const __u8 *daddr, __be16 dport, __u8 *addr, __be16 *port);

/* ip_vs_nfct_expect_callback: init_conntrack() calls it, under RCU, for a new entry that an
 * expectation of ours matched. */
static void rvs_expectfn(struct nf_conn *ct, struct nf_conntrack_expect *exp)
{
	struct nf_conntrack_tuple *orig = &ct->tuplehash[IP_CT_DIR_ORIGINAL].tuple;
	struct nf_conntrack_tuple new_reply = ct->tuplehash[IP_CT_DIR_REPLY].tuple;
	union nf_inet_addr addr = {};
	__be16 port = 0;
	int which;

	which = rvs_ftp_expected(nf_ct_net(ct), exp->tuple.src.l3num, orig->dst.protonum,
				 (const __u8 *)&orig->src.u3, orig->src.u.tcp.port,
				 (const __u8 *)&orig->dst.u3, orig->dst.u.tcp.port,
				 (__u8 *)&addr, &port);
	if (which == RVS_EXPECT_REPLY_DST) {
		new_reply.dst.u3 = addr;
		new_reply.dst.u.tcp.port = port;
	} else if (which == RVS_EXPECT_REPLY_SRC) {
		new_reply.src.u3 = addr;
		new_reply.src.u.tcp.port = port;
	} else {
		return;
	}
	nf_conntrack_alter_reply(ct, &new_reply);
}

void rvs_skb_ct_expect_related(struct sk_buff *skb, const __u8 *saddr, const __u8 *daddr,
			       __u8 protonum, __be16 sport, __be16 dport)
{
	enum ip_conntrack_info ctinfo;
	struct nf_conn *ct = nf_ct_get(skb, &ctinfo);
	struct nf_conntrack_expect *exp;

	if (!ct)
		return;
	exp = nf_ct_expect_alloc(ct);
	if (!exp)
		return;
	nf_ct_expect_init(exp, NF_CT_EXPECT_CLASS_DEFAULT, nf_ct_l3num(ct),
			  (const union nf_inet_addr *)saddr, (const union nf_inet_addr *)daddr,
			  protonum, sport ? &sport : NULL, &dport);
	exp->expectfn = rvs_expectfn;
	nf_ct_expect_related(exp, 0);
	nf_ct_expect_put(exp);
}

static bool rvs_expect_is_ours(struct nf_conntrack_expect *exp, void *data)
{
	return exp->expectfn == rvs_expectfn;
}

void rvs_ct_expect_cleanup(void)
{
	nf_ct_expect_iterate_destroy(rvs_expect_is_ours, NULL);
	/* A callback that init_conntrack() already took from the table runs under RCU. */
	synchronize_rcu();
}

int rvs_ct_netns_get(struct net *net, __u16 af)
{
	return nf_ct_netns_get(net, af);
}

void rvs_ct_netns_put(struct net *net, __u16 af)
{
	nf_ct_netns_put(net, af);
}

bool rvs_skb_ct_confirm(struct sk_buff *skb)
{
	return nf_conntrack_confirm(skb) == NF_ACCEPT;
}

void rvs_ct_kill_tuple(struct net *net, __u16 l3num, __u8 protonum, const __u8 *saddr,
		       __be16 sport, const __u8 *daddr, __be16 dport)
{
	struct nf_conntrack_tuple_hash *h;
	struct nf_conntrack_tuple tuple = {
		.dst = { .protonum = protonum, .dir = IP_CT_DIR_ORIGINAL },
	};
	struct nf_conn *ct;

	memcpy(&tuple.src.u3, saddr, sizeof(tuple.src.u3));
	tuple.src.u.all = sport;
	tuple.src.l3num = l3num;
	memcpy(&tuple.dst.u3, daddr, sizeof(tuple.dst.u3));
	tuple.dst.u.all = dport;
	h = nf_conntrack_find_get(net, &nf_ct_zone_dflt, &tuple);
	if (!h)
		return;
	ct = nf_ct_tuplehash_to_ctrack(h);
	nf_ct_kill(ct);
	nf_ct_put(ct);
}

void rvs_skb_set_ipvs_property(struct sk_buff *skb)
{
	skb->ipvs_property = 1;
}

unsigned int rvs_skb_ip_summed(const struct sk_buff *skb)
{
	return skb->ip_summed;
}

void rvs_skb_set_ip_summed(struct sk_buff *skb, unsigned int v)
{
	skb->ip_summed = v;
}

void rvs_skb_set_ignore_df(struct sk_buff *skb)
{
	skb->ignore_df = 1;
}

bool rvs_skb_dev_is_loopback_or_none(const struct sk_buff *skb)
{
	return !skb->dev || skb->dev->flags & IFF_LOOPBACK;
}

bool rvs_skb_rt4_is_local(const struct sk_buff *skb)
{
	return skb_rtable(skb)->rt_flags & RTCF_LOCAL;
}

bool rvs_skb_rt_is_input(const struct sk_buff *skb)
{
	return rt_is_input_route(skb_rtable(skb));
}

bool rvs_skb_rt6_is_local(const struct sk_buff *skb)
{
	struct dst_entry *dst = skb_dst(skb);

	return dst->dev && dst->dev->flags & IFF_LOOPBACK;
}

bool rvs_skb_is_gso_sctp(const struct sk_buff *skb)
{
	return skb_is_gso(skb) && skb_is_gso_sctp(skb);
}

void rvs_skb_orphan_if_dev(struct sk_buff *skb)
{
	if (skb->dev)
		skb_orphan(skb);
}

void rvs_skb_tunnel_prepare(struct sk_buff *skb)
{
	skb->ipvs_property = 1;
	nf_reset_ct(skb);
	rvs_skb_prepare_forward(skb);
}

bool rvs_skb_needs_headroom(const struct sk_buff *skb, unsigned int n)
{
	return skb_headroom(skb) < n || skb_cloned(skb);
}

int rvs_skb_realloc_headroom(struct sk_buff **skb, unsigned int n)
{
	struct sk_buff *new_skb = skb_realloc_headroom(*skb, n);

	if (!new_skb)
		return -ENOMEM;
	if ((*skb)->sk)
		skb_set_owner_w(new_skb, (*skb)->sk);
	consume_skb(*skb);
	*skb = new_skb;
	return 0;
}

void rvs_skb_push_outer(struct sk_buff *skb, unsigned int len, bool ipv6)
{
	skb_push(skb, len);
	skb_reset_network_header(skb);
	if (ipv6)
		memset(IP6CB(skb), 0, sizeof(*IP6CB(skb)));
	else
		memset(&(IPCB(skb)->opt), 0, sizeof(IPCB(skb)->opt));
}

void rvs_skb_set_inner(struct sk_buff *skb, __u8 inner_proto)
{
	skb->transport_header = skb->network_header;
	skb_set_inner_ipproto(skb, inner_proto);
	skb_set_inner_mac_header(skb, skb_inner_network_offset(skb));
}

void rvs_ip_select_ident(struct net *net, struct sk_buff *skb)
{
	ip_select_ident(net, skb, NULL);
}

struct dst_entry *rvs_route4(struct net *net, __be32 daddr, bool known_nh, bool connect,
			     __be32 *saddr, bool *local)
{
	struct flowi4 fl4;
	struct rtable *rt;

	memset(&fl4, 0, sizeof(fl4));
	fl4.daddr = daddr;
	fl4.flowi4_flags = known_nh ? FLOWI_FLAG_KNOWN_NH : 0;
	rt = ip_route_output_key(net, &fl4);
	if (IS_ERR(rt))
		return NULL;
	/* IP_VS_RT_MODE_CONNECT: bind the route to the source address it chose. */
	if (connect && fl4.saddr) {
		ip_rt_put(rt);
		flowi4_update_output(&fl4, 0, daddr, fl4.saddr);
		rt = ip_route_output_key(net, &fl4);
		if (IS_ERR(rt))
			return NULL;
	}
	*saddr = fl4.saddr;
	*local = rt->rt_flags & RTCF_LOCAL;
	return &rt->dst;
}

struct dst_entry *rvs_route6(struct net *net, const struct in6_addr *daddr, bool known_nh,
			     struct in6_addr *saddr, bool want_saddr, bool *local)
{
	struct dst_entry *dst;
	struct flowi6 fl6 = {
		.daddr = *daddr,
	};

	if (known_nh)
		fl6.flowi6_flags = FLOWI_FLAG_KNOWN_NH;
	dst = ip6_route_output(net, NULL, &fl6);
	if (dst->error) {
		dst_release(dst);
		return NULL;
	}
	if (want_saddr && ipv6_addr_any(&fl6.saddr) &&
	    ipv6_dev_get_saddr(net, ip6_dst_idev(dst)->dev, &fl6.daddr, 0, &fl6.saddr) < 0) {
		dst_release(dst);
		return NULL;
	}
	*saddr = fl6.saddr;
	*local = dst->dev && dst->dev->flags & IFF_LOOPBACK;
	return dst;
}

unsigned int rvs_dst_mtu(const struct dst_entry *dst)
{
	return dst_mtu(dst);
}

void rvs_dst_release(struct dst_entry *dst)
{
	dst_release(dst);
}

const struct rvs_dest_dst *rvs_dest_dst_get(struct rvs_dest_dst **slot, unsigned int *mtu)
{
	struct rvs_dest_dst *d = rcu_dereference(*(struct rvs_dest_dst __rcu **)slot);
	struct dst_entry *dst;

	if (!d)
		return NULL;
	dst = d->dst;
	if (dst->obsolete && !dst->ops->check(dst, d->cookie))
		return NULL;
	*mtu = dst_mtu(dst);
	return d;
}

static void rvs_dest_dst_free(struct rcu_head *head)
{
	struct rvs_dest_dst *d = container_of(head, struct rvs_dest_dst, rcu);

	dst_release(d->dst);
	kfree(d);
}

void rvs_dest_dst_set(struct rvs_dest_dst **slot, struct dst_entry *dst, bool local,
		      const __u8 *saddr, bool ipv6)
{
	struct rvs_dest_dst *new = NULL, *old;

	/* "It is forbidden to attach dest->dest_dst if device is going down." */
	if (dst && !(dst->dev && !netif_running(dst->dev))) {
		new = kmalloc(sizeof(*new), GFP_ATOMIC);
		if (new) {
			dst_hold(dst);
			new->dst = dst;
			new->cookie = ipv6 ? rt6_get_cookie(container_of(dst, struct rt6_info, dst))
					   : 0;
			new->local = local;
			memcpy(new->saddr, saddr, sizeof(new->saddr));
		}
	}
	/* A full barrier: the new entry is initialised before readers can see it. */
	old = xchg(slot, new);
	if (old)
		call_rcu(&old->rcu, rvs_dest_dst_free);
}

void rvs_dest_dst_forget_dev(struct rvs_dest_dst **slot, const struct net_device *dev)
{
	struct rvs_dest_dst __rcu **s = (struct rvs_dest_dst __rcu **)slot;
	struct rvs_dest_dst *d;

	rcu_read_lock();
	d = rcu_dereference(*s);
	/*
	 * d cannot be freed and reused while we are in the read section, so the exchange takes
	 * out exactly the entry we checked (a packet may have cached another one since).
	 */
	if (d && READ_ONCE(d->dst->dev) == dev && cmpxchg(slot, d, NULL) == d)
		call_rcu(&d->rcu, rvs_dest_dst_free);
	rcu_read_unlock();
}

struct net_device *rvs_netdev_down(unsigned long event, void *ptr, struct net **net)
{
	struct net_device *dev;

	if (event != NETDEV_DOWN)
		return NULL;
	dev = netdev_notifier_info_to_dev(ptr);
	*net = dev_net(dev);
	return dev;
}

void rvs_skb_set_dst_noref(struct sk_buff *skb, struct dst_entry *dst)
{
	skb_dst_drop(skb);
	skb_dst_set_noref(skb, dst);
}

void rvs_skb_set_dst(struct sk_buff *skb, struct dst_entry *dst)
{
	skb_dst_drop(skb);
	skb_dst_set(skb, dst);
}

unsigned int rvs_dst_dev_headroom(const struct dst_entry *dst)
{
	return LL_RESERVED_SPACE(dst->dev);
}

int rvs_route_me_harder(struct net *net, struct sk_buff *skb, bool ipv6)
{
	if (ipv6) {
		struct dst_entry *dst = skb_dst(skb);

		if (dst->dev && !(dst->dev->flags & IFF_LOOPBACK) &&
		    ip6_route_me_harder(net, skb->sk, skb) != 0)
			return 1;
	} else {
		if ((skb_rtable(skb)->rt_flags & RTCF_LOCAL) == 0 &&
		    ip_route_me_harder(net, skb->sk, skb, RTN_LOCAL) != 0)
			return 1;
	}
	return 0;
}

void rvs_icmp_send(struct sk_buff *skb, int type, int code, __be32 info)
{
	icmp_send(skb, type, code, info);
}

void rvs_icmpv6_send(struct net *net, struct sk_buff *skb, __u8 type, __u8 code, __u32 info)
{
	if (!skb->dev)
		skb->dev = net->loopback_dev;
	icmpv6_send(skb, type, code, info);
}

unsigned long rvs_jiffies(void)
{
	return jiffies;
}

void rvs_spin_lock_bh(spinlock_t *lock)
{
	spin_lock_bh(lock);
}

void rvs_spin_unlock_bh(spinlock_t *lock)
{
	spin_unlock_bh(lock);
}

__u32 rvs_random_below(__u32 n)
{
	return get_random_u32_below(n);
}

bool rvs_skb_exceeds_mtu(const struct sk_buff *skb, unsigned int mtu, bool ipv6)
{
	if (ipv6 && IP6CB(skb)->frag_max_size)
		return IP6CB(skb)->frag_max_size > mtu;
	if (skb->len <= mtu)
		return false;
	if (skb_is_gso(skb) && skb_gso_validate_network_len(skb, mtu))
		return false;
	return true;
}

__be16 rvs_udp_flow_src_port(struct net *net, struct sk_buff *skb)
{
	return udp_flow_src_port(net, skb, 0, 0, false);
}

__u8 *rvs_skb_push_transport(struct sk_buff *skb, unsigned int len)
{
	skb_push(skb, len);
	skb_reset_transport_header(skb);
	return skb->data;
}

void rvs_udp_set_csum(bool nocheck, struct sk_buff *skb, const __u8 *saddr, const __u8 *daddr,
		      bool ipv6)
{
	if (ipv6)
		udp6_set_csum(nocheck, skb, (const struct in6_addr *)saddr,
			      (const struct in6_addr *)daddr, skb->len);
	else
		udp_set_csum(nocheck, skb, *(const __be32 *)saddr, *(const __be32 *)daddr,
			     skb->len);
}

unsigned int rvs_gre_hlen(bool csum)
{
	IP_TUNNEL_DECLARE_FLAGS(tflags) = { };

	if (csum)
		__set_bit(IP_TUNNEL_CSUM_BIT, tflags);
	return gre_calc_hlen(tflags);
}

void rvs_gre_encap(struct sk_buff *skb, bool csum, bool inner_ipv6)
{
	IP_TUNNEL_DECLARE_FLAGS(tflags) = { };

	if (csum)
		__set_bit(IP_TUNNEL_CSUM_BIT, tflags);
	gre_build_header(skb, gre_calc_hlen(tflags), tflags,
			 inner_ipv6 ? htons(ETH_P_IPV6) : htons(ETH_P_IP), 0, 0);
}

unsigned long rvs_avail_pages(void)
{
	struct sysinfo i;

	si_meminfo(&i);
	return i.freeram + i.bufferram;
}

bool rvs_addr_is_unicast(struct net *net, bool ipv6, const __u8 *addr)
{
	__be32 a4;

	if (ipv6)
		return ipv6_addr_type((const struct in6_addr *)addr) & IPV6_ADDR_UNICAST;
	memcpy(&a4, addr, sizeof(a4));
	return inet_addr_type(net, a4) == RTN_UNICAST;
}

struct rvs_pcpu_stats *rvs_pcpu_stats_alloc(void)
{
	return (struct rvs_pcpu_stats __force *)alloc_percpu(struct rvs_pcpu_stats);
}

void rvs_pcpu_stats_free(struct rvs_pcpu_stats *s)
{
	free_percpu((struct rvs_pcpu_stats __percpu __force *)s);
}

void rvs_pcpu_stats_add(struct rvs_pcpu_stats *s, unsigned int i, unsigned int j, __u64 v)
{
	struct rvs_pcpu_stats __percpu *p = (struct rvs_pcpu_stats __percpu __force *)s;

	this_cpu_inc(p->cnt[i]);
	this_cpu_add(p->cnt[j], v);
}

void rvs_pcpu_stats_add3(struct rvs_pcpu_stats *a, struct rvs_pcpu_stats *b,
			 struct rvs_pcpu_stats *c, unsigned int i, unsigned int j, __u64 v)
{
	rvs_pcpu_stats_add(a, i, j, v);
	rvs_pcpu_stats_add(b, i, j, v);
	rvs_pcpu_stats_add(c, i, j, v);
}

void rvs_pcpu_stats_read(const struct rvs_pcpu_stats *s, unsigned int cpu, __u64 out[5])
{
	struct rvs_pcpu_stats __percpu *p = (struct rvs_pcpu_stats __percpu __force *)s;
	const struct rvs_pcpu_stats *c = per_cpu_ptr(p, cpu);
	int k;

	for (k = 0; k < 5; k++)
		out[k] = READ_ONCE(c->cnt[k]);
}

unsigned int rvs_next_possible_cpu(int prev)
{
	return cpumask_next(prev, cpu_possible_mask);
}

unsigned int rvs_nr_cpu_ids(void)
{
	return nr_cpu_ids;
}

int rvs_ip_gather_frags(struct net *net, struct sk_buff *skb, __u32 user)
{
	int err;

	local_bh_disable();
	err = ip_defrag(net, skb, user);
	local_bh_enable();
	if (!err)
		ip_send_check(ip_hdr(skb));
	return err;
}

int rvs_skb_pull_to_ipv4(struct sk_buff *skb, unsigned int off, unsigned int hlen)
{
	if (!pskb_pull(skb, off))
		return -1;
	skb_reset_network_header(skb);
	memset(&IPCB(skb)->opt, 0, sizeof(IPCB(skb)->opt));
	if (!pskb_may_pull(skb, hlen))
		return -1;
	skb_set_transport_header(skb, hlen);
	return 0;
}

void rvs_ipv4_update_pmtu(struct sk_buff *skb, struct net *net, __u32 mtu)
{
	ipv4_update_pmtu(skb, net, mtu, 0, 0);
}

int rvs_skb_checksum_start_offset(const struct sk_buff *skb)
{
	return skb_checksum_start_offset(skb);
}

__u16 rvs_skb_csum_offset(const struct sk_buff *skb)
{
	return skb->csum_offset;
}

bool rvs_skb_is_gso(const struct sk_buff *skb)
{
	return skb_is_gso(skb);
}

void rvs_skb_clear_encapsulation(struct sk_buff *skb)
{
	skb->encapsulation = 0;
}

void rvs_delayed_work_init(struct delayed_work *w, void (*fn)(struct work_struct *))
{
	INIT_DELAYED_WORK(w, fn);
}

void rvs_delayed_work_queue(struct delayed_work *w, unsigned long delay)
{
	queue_delayed_work(system_long_wq, w, delay);
}

void rvs_delayed_work_cancel_sync(struct delayed_work *w)
{
	cancel_delayed_work_sync(w);
}

struct delayed_work *rvs_to_delayed_work(struct work_struct *w)
{
	return to_delayed_work(w);
}

struct kmem_cache *rvs_cache_create(const char *name, unsigned int size, unsigned int align)
{
	return kmem_cache_create(name, size, align, 0, NULL);
}

void *rvs_cache_alloc(struct kmem_cache *c)
{
	return kmem_cache_alloc(c, GFP_ATOMIC);
}

void rvs_cache_free(struct kmem_cache *c, void *p)
{
	kmem_cache_free(c, p);
}

void rvs_cache_destroy(struct kmem_cache *c)
{
	kmem_cache_destroy(c);
}
