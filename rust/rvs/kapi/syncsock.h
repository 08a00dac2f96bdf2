/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The sync daemon's kernel sockets and threads (ip_vs_sync.c's make_send_sock,
 * make_receive_sock, ip_vs_send_async, ip_vs_receive, kthread_run/kthread_stop): socket options
 * that Rust cannot set (inet_sk bits under lock_sock), waits on a socket's wait queue, and
 * kthread macros. Handles are opaque pointers; every decision is made in rust/rvs/sync.rs.
 */
#ifndef RVS_SYNCSOCK_H
#define RVS_SYNCSOCK_H

#include <linux/types.h>

struct net;

/* The interface called `name` in `net`: its index and MTU; -ENODEV if there is none. */
int rvs_sync_dev(struct net *net, const char *name, int *ifindex, unsigned int *mtu);
/* make_send_sock: UDP socket of family `af` (AF_INET/AF_INET6) multicasting on `ifindex` to
 * group:port, loop off, TTL, IP_PMTUDISC_DONT, SO_SNDBUF when sndbuf > 0, bound to the
 * interface's IPv4 address, connected. 0 or a negative errno; *out is set on success only. */
int rvs_sync_sock_master(struct net *net, int ifindex, int af, const u8 *group, u16 port,
			 u8 ttl, int sndbuf, void **out);
/* make_receive_sock: reuse, SO_RCVBUF when rcvbuf > 0, bound to group:port on `ifindex`,
 * group joined. */
int rvs_sync_sock_backup(struct net *net, int ifindex, int af, const u8 *group, u16 port,
			 int rcvbuf, void **out);
void rvs_sync_sock_release(void *sock);
/* ip_vs_send_async: bytes sent or a negative errno (-EAGAIN when the buffer is full). */
int rvs_sync_send(void *sock, const void *buf, size_t len);
/* Sends one datagram to group:port (family af) without blocking (the backup's resync request). */
int rvs_sync_sendto(void *sock, const void *buf, size_t len, int af, const u8 *group, u16 port);
/* ip_vs_receive: a datagram's length or a negative errno (-EAGAIN when none is queued). */
int rvs_sync_recv(void *sock, void *buf, size_t len);
/* Sleeps until a datagram is queued, the socket is writable (`write`), the thread is asked
 * to stop, or `timeout` jiffies passed. */
void rvs_sync_wait(void *sock, bool write, long timeout);
/* kthread_run(fn, data, "%s", name) holding a task reference; an ERR_PTR on failure. */
void *rvs_kthread_start(int (*fn)(void *), void *data, const char *name);
/* kthread_stop_put. */
int rvs_kthread_stop(void *task);
bool rvs_kthread_should_stop(void);
/* schedule_timeout_interruptible. */
void rvs_kthread_sleep(long timeout);
/* IS_ERR / PTR_ERR of a returned handle. */
long rvs_ptr_err(const void *p);

#endif
