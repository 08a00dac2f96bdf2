// SPDX-License-Identifier: GPL-2.0
/*
 * The sync daemon's sockets and threads: the socket set-up of ip_vs_sync.c (make_send_sock,
 * make_receive_sock and their set_* helpers, 6.12.117) transcribed, because it writes inet_sk
 * fields under lock_sock and calls macros; plus kthread and wait-queue macros. Which sockets
 * exist, with what settings, and what goes through them is decided in rust/rvs/sync.rs.
 */
#include <linux/err.h>
#include <linux/in.h>
#include <linux/in6.h>
#include <linux/igmp.h>
#include <linux/inetdevice.h>
#include <linux/kthread.h>
#include <linux/net.h>
#include <linux/netdevice.h>
#include <linux/rtnetlink.h>
#include <linux/sched.h>
#include <linux/sched/task.h>
#include <linux/skbuff.h>
#include <linux/udp.h>
#include <linux/wait.h>
#include <net/inet_sock.h>
#include <net/ipv6.h>
#include <net/addrconf.h>
#include <net/sock.h>
#include <net/udp.h>

#include "syncsock.h"

int rvs_sync_dev(struct net *net, const char *name, int *ifindex, unsigned int *mtu)
{
	struct net_device *dev;

	rcu_read_lock();
	dev = dev_get_by_name_rcu(net, name);
	if (dev) {
		*ifindex = dev->ifindex;
		*mtu = READ_ONCE(dev->mtu);
	}
	rcu_read_unlock();
	return dev ? 0 : -ENODEV;
}

/* set_sock_size */
static void set_sock_size(struct sock *sk, int mode, int val)
{
	lock_sock(sk);
	if (mode) {
		val = clamp_t(int, val, (SOCK_MIN_SNDBUF + 1) / 2, READ_ONCE(sysctl_wmem_max));
		sk->sk_sndbuf = val * 2;
		sk->sk_userlocks |= SOCK_SNDBUF_LOCK;
	} else {
		val = clamp_t(int, val, (SOCK_MIN_RCVBUF + 1) / 2, READ_ONCE(sysctl_rmem_max));
		sk->sk_rcvbuf = val * 2;
		sk->sk_userlocks |= SOCK_RCVBUF_LOCK;
	}
	release_sock(sk);
}

static int set_sockaddr(struct sockaddr_storage *ss, int af, const u8 *group, u16 port)
{
	memset(ss, 0, sizeof(*ss));
	if (af == AF_INET6) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		memcpy(&sin6->sin6_addr, group, sizeof(sin6->sin6_addr));
		return sizeof(*sin6);
	} else {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		memcpy(&sin->sin_addr, group, sizeof(sin->sin_addr));
		return sizeof(*sin);
	}
}

int rvs_sync_sock_master(struct net *net, int ifindex, int af, const u8 *group, u16 port,
			 u8 ttl, int sndbuf, void **out)
{
	struct sockaddr_storage ss;
	struct net_device *dev;
	struct socket *sock;
	struct sock *sk;
	int salen, ret;

	dev = dev_get_by_index(net, ifindex);
	if (!dev)
		return -ENODEV;
	ret = sock_create_kern(net, af, SOCK_DGRAM, IPPROTO_UDP, &sock);
	if (ret < 0)
		goto out_dev;
	sk = sock->sk;
	/* set_mcast_if, set_mcast_loop(0), set_mcast_ttl, set_mcast_pmtudisc(DONT) */
	lock_sock(sk);
	inet_sk(sk)->mc_index = dev->ifindex;
	inet_assign_bit(MC_LOOP, sk, 0);
	WRITE_ONCE(inet_sk(sk)->mc_ttl, ttl);
	WRITE_ONCE(inet_sk(sk)->pmtudisc, IP_PMTUDISC_DONT);
#if IS_ENABLED(CONFIG_IPV6)
	if (af == AF_INET6) {
		struct ipv6_pinfo *np = inet6_sk(sk);

		WRITE_ONCE(np->mcast_oif, dev->ifindex);
		inet6_assign_bit(MC6_LOOP, sk, 0);
		WRITE_ONCE(np->mcast_hops, ttl);
		WRITE_ONCE(np->pmtudisc, IP_PMTUDISC_DONT);
	}
#endif
	release_sock(sk);
	if (sndbuf > 0)
		set_sock_size(sk, 1, sndbuf);
	if (af == AF_INET) {
		/* bind_mcastif_addr */
		struct sockaddr_in sin = { .sin_family = AF_INET };

		sin.sin_addr.s_addr = inet_select_addr(dev, 0, RT_SCOPE_UNIVERSE);
		if (!sin.sin_addr.s_addr)
			pr_err("rvs: you probably need to specify an IP address on the multicast interface\n");
		ret = kernel_bind(sock, (struct sockaddr *)&sin, sizeof(sin));
		if (ret < 0)
			goto out_sock;
	}
	salen = set_sockaddr(&ss, af, group, port);
	ret = kernel_connect(sock, (struct sockaddr *)&ss, salen, 0);
	if (ret < 0)
		goto out_sock;
	dev_put(dev);
	*out = sock;
	return 0;
out_sock:
	sock_release(sock);
out_dev:
	dev_put(dev);
	return ret;
}

int rvs_sync_sock_backup(struct net *net, int ifindex, int af, const u8 *group, u16 port,
			 int rcvbuf, void **out)
{
	struct sockaddr_storage ss;
	struct socket *sock;
	struct sock *sk;
	int salen, ret;

	ret = sock_create_kern(net, af, SOCK_DGRAM, IPPROTO_UDP, &sock);
	if (ret < 0)
		return ret;
	sk = sock->sk;
	sk->sk_reuse = SK_CAN_REUSE;
	if (rcvbuf > 0)
		set_sock_size(sk, 0, rcvbuf);
	salen = set_sockaddr(&ss, af, group, port);
	sk->sk_bound_dev_if = ifindex;
	ret = kernel_bind(sock, (struct sockaddr *)&ss, salen);
	if (ret < 0)
		goto out_sock;
	/* join_mcast_group / join_mcast_group6, under RTNL as in start_sync_thread */
	rtnl_lock();
	lock_sock(sk);
	if (af == AF_INET6) {
#if IS_ENABLED(CONFIG_IPV6)
		ret = ipv6_sock_mc_join(sk, ifindex, (const struct in6_addr *)group);
#else
		ret = -EAFNOSUPPORT;
#endif
	} else {
		struct ip_mreqn mreq = { .imr_ifindex = ifindex };

		memcpy(&mreq.imr_multiaddr, group, sizeof(mreq.imr_multiaddr));
		ret = ip_mc_join_group(sk, &mreq);
	}
	release_sock(sk);
	rtnl_unlock();
	if (ret < 0)
		goto out_sock;
	*out = sock;
	return 0;
out_sock:
	sock_release(sock);
	return ret;
}

void rvs_sync_sock_release(void *sock)
{
	sock_release(sock);
}

int rvs_sync_send(void *sock, const void *buf, size_t len)
{
	struct msghdr msg = { .msg_flags = MSG_DONTWAIT | MSG_NOSIGNAL };
	struct kvec iov = { .iov_base = (void *)buf, .iov_len = len };

	return kernel_sendmsg(sock, &msg, &iov, 1, len);
}

int rvs_sync_sendto(void *sock, const void *buf, size_t len, int af, const u8 *group, u16 port)
{
	struct sockaddr_storage ss;
	struct msghdr msg = { .msg_flags = MSG_DONTWAIT | MSG_NOSIGNAL };
	struct kvec iov = { .iov_base = (void *)buf, .iov_len = len };

	msg.msg_namelen = set_sockaddr(&ss, af, group, port);
	msg.msg_name = &ss;
	return kernel_sendmsg(sock, &msg, &iov, 1, len);
}

int rvs_sync_recv(void *sock, void *buf, size_t len)
{
	struct msghdr msg = { NULL, };
	struct kvec iov = { buf, len };

	iov_iter_kvec(&msg.msg_iter, ITER_DEST, &iov, 1, len);
	return sock_recvmsg(sock, &msg, MSG_DONTWAIT);
}

void rvs_sync_wait(void *s, bool write, long timeout)
{
	struct socket *sock = s;
	struct sock *sk = sock->sk;

	if (write)
		wait_event_interruptible_timeout(*sk_sleep(sk),
						 sock_writeable(sk) || kthread_should_stop(),
						 timeout);
	else
		wait_event_interruptible_timeout(*sk_sleep(sk),
			!skb_queue_empty_lockless(&sk->sk_receive_queue) ||
			!skb_queue_empty_lockless(&udp_sk(sk)->reader_queue) ||
			kthread_should_stop(),
			timeout);
}

void *rvs_kthread_start(int (*fn)(void *), void *data, const char *name)
{
	struct task_struct *t = kthread_create(fn, data, "%s", name);

	if (IS_ERR(t))
		return t;
	get_task_struct(t);
	wake_up_process(t);
	return t;
}

int rvs_kthread_stop(void *task)
{
	return kthread_stop_put(task);
}

bool rvs_kthread_should_stop(void)
{
	return kthread_should_stop();
}

void rvs_kthread_sleep(long timeout)
{
	schedule_timeout_interruptible(timeout);
}

long rvs_ptr_err(const void *p)
{
	return IS_ERR(p) ? PTR_ERR(p) : 0;
}
