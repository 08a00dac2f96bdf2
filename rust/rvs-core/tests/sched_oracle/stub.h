/* User-space stand-ins for the kernel pieces ip_vs_<sched>.c use, so the schedulers' own
 * source compiles unchanged into a test oracle. */
#ifndef STUB_H
#define STUB_H
#include <stdint.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <stddef.h>
#include <errno.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
typedef uint8_t u8; typedef uint16_t u16; typedef uint32_t u32; typedef uint64_t u64;
typedef int64_t s64; typedef int64_t __s64; typedef int32_t s32; typedef uint32_t __be32; typedef uint16_t __be16;
typedef uint32_t __le32; typedef uint32_t __u32; typedef uint64_t __le64;
#define __rcu
#define __init
#define __exit
#define __net_init
#define __net_exit
#define fallthrough __attribute__((__fallthrough__))
#define unlikely(x) (x)
#define likely(x) (x)
#define HZ 1000
extern unsigned long jiffies;
#define time_after(a,b) ((long)((b) - (a)) < 0)
#define time_before(a,b) time_after(b,a)
#define THIS_MODULE NULL
#define MODULE_LICENSE(x)
#define MODULE_DESCRIPTION(x)
#define MODULE_AUTHOR(x)
#define module_init(x)
#define module_exit(x)
#define GFP_KERNEL 0
#define GFP_ATOMIC 0
#define kmalloc(s, f) malloc(s)
#define kzalloc(s, f) calloc(1, s)
#define kcalloc(n, s, f) calloc(n, s)
#define kfree(p) free(p)
#define kfree_rcu(p, f) free(p)
#define call_rcu(h, fn) fn(h)
#define rcu_barrier()
#define synchronize_rcu()
#define container_of(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))
#define rcu_dereference(p) (p)
#define rcu_dereference_protected(p, c) (p)
#define RCU_INIT_POINTER(p, v) ((p) = (v))
#define IS_ENABLED(x) 0
#define CONFIG_IP_VS_IPV6 1
#define CONFIG_IP_VS_MH_TAB_INDEX 12
#define CONFIG_IP_VS_SH_TAB_BITS 8
#define ARRAY_SIZE(a) (sizeof(a)/sizeof((a)[0]))
typedef struct { int counter; } atomic_t;
typedef struct { int counter; } refcount_t;
#define ATOMIC_INIT(i) { (i) }
#define atomic_read(a) ((a)->counter)
#define atomic_set(a, v) ((a)->counter = (v))
#define atomic_inc(a) ((a)->counter++)
#define atomic_dec(a) ((a)->counter--)
#define refcount_read(a) ((a)->counter)
typedef int spinlock_t;
#define spin_lock_bh(l)
#define spin_unlock_bh(l)
#define spin_lock(l)
#define spin_unlock(l)
#define max(a, b) ((a) > (b) ? (a) : (b))
#define min(a, b) ((a) < (b) ? (a) : (b))
static inline u32 rol32(u32 w, unsigned s) { return (w << (s & 31)) | (w >> ((-s) & 31)); }
static inline u64 rol64(u64 w, unsigned s) { return (w << (s & 63)) | (w >> ((-s) & 63)); }
static inline int fls(unsigned x) { return x ? 32 - __builtin_clz(x) : 0; }
static inline unsigned long gcd(unsigned long a, unsigned long b) { while (b) { unsigned long t = a % b; a = b; b = t; } return a; }
#define GOLDEN_RATIO_32 0x61C88647
static inline u32 hash_32(u32 val, unsigned int bits) { return (val * GOLDEN_RATIO_32) >> (32 - bits); }
/* hsiphash on a 64-bit kernel: SipHash-1-3, as lib/siphash.c */
typedef struct { unsigned long key[2]; } hsiphash_key_t;
u32 hsiphash(const void *data, size_t len, const hsiphash_key_t *key);
/* bitmaps */
#define BITS_PER_LONG 64
static inline unsigned long *bitmap_zalloc(unsigned n, int f) { return calloc((n + 63) / 64, 8); }
#define bitmap_free(p) free(p)
static inline int test_bit(unsigned n, const unsigned long *b) { return (b[n / 64] >> (n % 64)) & 1; }
static inline void __set_bit(unsigned n, unsigned long *b) { b[n / 64] |= 1UL << (n % 64); }
u32 get_random_u32_below(u32 ceil);
/* lists */
struct list_head { struct list_head *next, *prev; };
#define LIST_HEAD_INIT(name) { &(name), &(name) }
static inline void INIT_LIST_HEAD(struct list_head *l) { l->next = l; l->prev = l; }
static inline void list_add_rcu(struct list_head *n, struct list_head *h) { n->next = h->next; n->prev = h; h->next->prev = n; h->next = n; }
#define list_add list_add_rcu
static inline void list_del_rcu(struct list_head *e) { e->prev->next = e->next; e->next->prev = e->prev; }
static inline int list_empty(const struct list_head *h) { return h->next == h; }
#define list_entry(ptr, type, member) container_of(ptr, type, member)
#define list_first_entry(ptr, type, member) list_entry((ptr)->next, type, member)
#define list_next_entry(pos, member) list_entry((pos)->member.next, typeof(*(pos)), member)
#define list_entry_is_head(pos, head, member) (&pos->member == (head))
#define list_for_each_entry(pos, head, member) \
	for (pos = list_first_entry(head, typeof(*pos), member); !list_entry_is_head(pos, head, member); pos = list_next_entry(pos, member))
#define list_for_each_entry_rcu(pos, head, member) list_for_each_entry(pos, head, member)
#define list_for_each_entry_continue(pos, head, member) \
	for (pos = list_next_entry(pos, member); !list_entry_is_head(pos, head, member); pos = list_next_entry(pos, member))
#define list_for_each_entry_continue_rcu list_for_each_entry_continue
#define list_for_each_entry_safe(pos, n, head, member) \
	for (pos = list_first_entry(head, typeof(*pos), member), n = list_next_entry(pos, member); !list_entry_is_head(pos, head, member); pos = n, n = list_next_entry(n, member))
struct hlist_node { struct hlist_node *next, **pprev; };
struct hlist_head { struct hlist_node *first; };
#define INIT_HLIST_HEAD(h) ((h)->first = NULL)
static inline void hlist_add_head_rcu(struct hlist_node *n, struct hlist_head *h) { n->next = h->first; if (h->first) h->first->pprev = &n->next; h->first = n; n->pprev = &h->first; }
static inline void hlist_del_rcu(struct hlist_node *n) { *n->pprev = n->next; if (n->next) n->next->pprev = n->pprev; }
#define hlist_entry_safe(ptr, type, member) ({ typeof(ptr) ____ptr = (ptr); ____ptr ? container_of(____ptr, type, member) : NULL; })
#define hlist_for_each_entry(pos, head, member) \
	for (pos = hlist_entry_safe((head)->first, typeof(*(pos)), member); pos; pos = hlist_entry_safe((pos)->member.next, typeof(*(pos)), member))
#define hlist_for_each_entry_rcu hlist_for_each_entry
#define hlist_for_each_entry_safe(pos, n, head, member) \
	for (pos = hlist_entry_safe((head)->first, typeof(*pos), member); pos && ({ n = pos->member.next; 1; }); pos = hlist_entry_safe(n, typeof(*pos), member))
struct rcu_head { int dummy; };
/* timers: the oracle runs the handler when told */
struct timer_list { void (*fn)(struct timer_list *); };
#define timer_setup(t, f, fl) ((t)->fn = (f))
#define mod_timer(t, e) 0
#define timer_shutdown_sync(t)
#define from_timer(var, t, field) container_of(t, typeof(*var), field)
struct net; struct pernet_operations { int (*init)(struct net *); void (*exit)(struct net *); };
/* ip_vs */
union nf_inet_addr { __u32 all[4]; __be32 ip; __be32 ip6[4]; };
#define IP_VS_DEST_F_OVERLOAD 0x0002
#define IP_VS_DEST_CF_AVAILABLE 0x0001
#define IP_VS_SVC_F_SCHED1 0x0008
#define IP_VS_SVC_F_SCHED2 0x0010
#define IP_VS_SVC_F_SCHED_SH_FALLBACK IP_VS_SVC_F_SCHED1
#define IP_VS_SVC_F_SCHED_SH_PORT IP_VS_SVC_F_SCHED2
#define IP_VS_HDR_INVERSE 1
struct ip_vs_dest {
	struct list_head n_list; u16 af; union nf_inet_addr addr; __be16 port;
	volatile unsigned int flags; unsigned int cflags;
	atomic_t weight, last_weight, activeconns, totalconns, persistconns; refcount_t refcnt;
};
struct ip_vs_service {
	struct list_head destinations; u16 af; unsigned flags; int num_dests; void *sched_data;
	spinlock_t sched_lock;
};
struct sk_buff { u16 ports[2]; int has_ports; };
struct ip_vs_iphdr { int len; u16 protocol; int hdr_flags; union nf_inet_addr saddr, daddr; };
struct ip_vs_scheduler {
	struct list_head n_list; char *name; atomic_t refcnt; void *module;
	int (*init_service)(struct ip_vs_service *svc);
	void (*done_service)(struct ip_vs_service *svc);
	int (*add_dest)(struct ip_vs_service *svc, struct ip_vs_dest *dest);
	int (*del_dest)(struct ip_vs_service *svc, struct ip_vs_dest *dest);
	int (*upd_dest)(struct ip_vs_service *svc, struct ip_vs_dest *dest);
	struct ip_vs_dest *(*schedule)(struct ip_vs_service *svc, const struct sk_buff *skb, struct ip_vs_iphdr *iph);
};
static inline int register_ip_vs_scheduler(struct ip_vs_scheduler *s) { return 0; }
static inline int unregister_ip_vs_scheduler(struct ip_vs_scheduler *s) { return 0; }
static inline int register_pernet_subsys(struct pernet_operations *o) { return 0; }
static inline void unregister_pernet_subsys(struct pernet_operations *o) { }
static inline bool ip_vs_iph_inverse(const struct ip_vs_iphdr *iph) { return !!(iph->hdr_flags & IP_VS_HDR_INVERSE); }
static inline void *skb_header_pointer(const struct sk_buff *skb, int off, int len, void *buf) { return skb->has_ports ? (void *)skb->ports : NULL; }
static inline int ip_vs_dest_conn_overhead(struct ip_vs_dest *dest) { return (atomic_read(&dest->activeconns) << 8) + atomic_read(&dest->totalconns); }
static inline int ip_vs_dest_inactconns(const struct ip_vs_dest *dest) { return max(atomic_read(&dest->totalconns) - atomic_read(&dest->activeconns), 0); }
static inline void ip_vs_dest_hold(struct ip_vs_dest *d) { }
static inline void ip_vs_dest_put(struct ip_vs_dest *d) { }
static inline void ip_vs_dest_put_and_free(struct ip_vs_dest *d) { }
static inline int ip_vs_addr_equal(int af, const union nf_inet_addr *a, const union nf_inet_addr *b) { return af == AF_INET6 ? !memcmp(a, b, 16) : a->ip == b->ip; }
static inline void ip_vs_addr_copy(int af, union nf_inet_addr *dst, const union nf_inet_addr *src) { if (af == AF_INET6) memcpy(dst, src, 16); else dst->ip = src->ip; }
#define ip_vs_scheduler_err(svc, msg)
#define IP_VS_DBG(...)
#define IP_VS_DBG_BUF(...)
#define IP_VS_DBG_ADDR(...) 0
#define pr_info(...)
#define pr_err(...)
#endif
