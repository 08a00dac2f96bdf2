/* Drives the kernel's scheduler code through a scenario read from stdin, echoing each line and
 * appending "=> <index>" to every "sched" line. */
#include "stub.h"
#include <stdio.h>
unsigned long jiffies;
static u32 rng;
u32 get_random_u32_below(u32 ceil) { rng ^= rng << 13; rng ^= rng >> 17; rng ^= rng << 5; return rng % ceil; }
/* hsiphash, 64-bit lib/siphash.c (4- and n-byte inputs via the unaligned path) */
#define SIPROUND do { v0 += v1; v1 = rol64(v1, 13); v1 ^= v0; v0 = rol64(v0, 32); v2 += v3; v3 = rol64(v3, 16); v3 ^= v2; v0 += v3; v3 = rol64(v3, 21); v3 ^= v0; v2 += v1; v1 = rol64(v1, 17); v1 ^= v2; v2 = rol64(v2, 32); } while (0)
u32 hsiphash(const void *data, size_t len, const hsiphash_key_t *key) {
	u64 v0 = 0x736f6d6570736575ULL ^ key->key[0], v1 = 0x646f72616e646f6dULL ^ key->key[1];
	u64 v2 = 0x6c7967656e657261ULL ^ key->key[0], v3 = 0x7465646279746573ULL ^ key->key[1];
	u64 b = ((u64)len) << 56, m; const u8 *p = data; size_t i;
	for (i = 0; i + 8 <= len; i += 8) { memcpy(&m, p + i, 8); v3 ^= m; SIPROUND; v0 ^= m; }
	for (size_t j = 0; i + j < len; j++) b |= ((u64)p[i + j]) << (8 * j);
	v3 ^= b; SIPROUND; v0 ^= b; v2 ^= 0xff; SIPROUND; SIPROUND; SIPROUND;
	return (v0 ^ v1) ^ (v2 ^ v3);
}
#define S(n) struct ip_vs_scheduler *sched_##n(void);
S(rr) S(wrr) S(lc) S(wlc) S(sed) S(nq) S(fo) S(ovf) S(dh) S(sh) S(mh) S(twos) S(lblc) S(lblcr)
void tick_lblc(struct ip_vs_service *svc); void tick_lblcr(struct ip_vs_service *svc);
static struct ip_vs_scheduler *by_name(const char *n) {
#define C(x) if (!strcmp(n, #x)) return sched_##x();
	C(rr) C(wrr) C(lc) C(wlc) C(sed) C(nq) C(fo) C(ovf) C(dh) C(sh) C(mh) C(twos) C(lblc) C(lblcr)
	return NULL;
}
static void parse_addr(const char *hex, union nf_inet_addr *a) {
	u8 *b = (u8 *)a; int n = strlen(hex) / 2; memset(a, 0, 16);
	for (int i = 0; i < n && i < 16; i++) { unsigned v; sscanf(hex + 2 * i, "%2x", &v); b[i] = v; }
}
static struct ip_vs_dest *nth(struct ip_vs_service *svc, int idx) {
	struct list_head *p = svc->destinations.next; while (idx-- > 0) p = p->next; return list_entry(p, struct ip_vs_dest, n_list);
}
static int index_of(struct ip_vs_service *svc, struct ip_vs_dest *d) {
	int i = 0; struct ip_vs_dest *x; list_for_each_entry(x, &svc->destinations, n_list) { if (x == d) return i; i++; } return -2; /* not in the list (trash) */
}
int main(void) {
	char line[512], name[32], a1[40], a2[40];
	struct ip_vs_service svc; struct ip_vs_scheduler *s = NULL;
	while (fgets(line, sizeof line, stdin)) {
		line[strcspn(line, "\n")] = 0;
		printf("%s", line);
		int idx, port, w, act, tot, ov, af, proto, inv, sp, dp; unsigned flags, seed; unsigned long j;
		if (sscanf(line, "begin %31s %d %u %u", name, &af, &flags, &seed) == 4) {
			s = by_name(name); memset(&svc, 0, sizeof svc); INIT_LIST_HEAD(&svc.destinations);
			svc.af = af; svc.flags = flags; rng = seed | 1; jiffies = 0;
			if (s->init_service) s->init_service(&svc);
		} else if (sscanf(line, "add %d %32s %d %d %d %d %d", &idx, a1, &port, &w, &act, &tot, &ov) == 7) {
			struct ip_vs_dest *d = calloc(1, sizeof *d);
			d->af = svc.af; parse_addr(a1, &d->addr); d->port = htons(port);
			atomic_set(&d->last_weight, w); atomic_set(&d->weight, w);
			atomic_set(&d->activeconns, act); atomic_set(&d->totalconns, tot); d->flags = ov ? IP_VS_DEST_F_OVERLOAD : 0;
			d->cflags |= IP_VS_DEST_CF_AVAILABLE;
			struct list_head *prev = idx == 0 ? &svc.destinations : &nth(&svc, idx - 1)->n_list;
			list_add_rcu(&d->n_list, prev); svc.num_dests++;
			if (s->add_dest) s->add_dest(&svc, d);
		} else if (sscanf(line, "upd %d %d", &idx, &w) == 2) {
			struct ip_vs_dest *d = nth(&svc, idx);
			if (w != 0) atomic_set(&d->last_weight, w);
			atomic_set(&d->weight, w);
			if (s->upd_dest) s->upd_dest(&svc, d);
		} else if (sscanf(line, "conns %d %d %d %d", &idx, &act, &tot, &ov) == 4) {
			struct ip_vs_dest *d = nth(&svc, idx);
			atomic_set(&d->activeconns, act); atomic_set(&d->totalconns, tot); d->flags = ov ? IP_VS_DEST_F_OVERLOAD : 0;
		} else if (sscanf(line, "del %d", &idx) == 1) {
			struct ip_vs_dest *d = nth(&svc, idx);
			d->cflags &= ~IP_VS_DEST_CF_AVAILABLE; list_del_rcu(&d->n_list); svc.num_dests--;
			if (s->del_dest) s->del_dest(&svc, d);
			/* the trash keeps it alive; never freed here */
		} else if (sscanf(line, "jiffies %lu", &j) == 1) {
			jiffies = j;
		} else if (!strcmp(line, "tick")) {
			if (!strcmp(s->name, "lblc")) tick_lblc(&svc); else if (!strcmp(s->name, "lblcr")) tick_lblcr(&svc);
		} else if (sscanf(line, "sched %d %d %32s %32s %d %d", &proto, &inv, a1, a2, &sp, &dp) == 6) {
			struct ip_vs_iphdr iph = { .protocol = proto, .hdr_flags = inv ? IP_VS_HDR_INVERSE : 0 };
			struct sk_buff skb = { .ports = { htons(sp), htons(dp) }, .has_ports = 1 };
			parse_addr(a1, &iph.saddr); parse_addr(a2, &iph.daddr);
			struct ip_vs_dest *d = s->schedule(&svc, &skb, &iph);
			printf(" => %d", d ? index_of(&svc, d) : -1);
		}
		printf("\n");
	}
	return 0;
}
