// SPDX-License-Identifier: GPL-2.0
/*
 * rvs_faults: a test fixture that makes the kernel report a fault on load, so that the VM
 * harness's log scanner is exercised on real kernel output.
 *
 *   insmod rvs_faults.ko fault=warn     a WARNING with a backtrace
 *   insmod rvs_faults.ko fault=oops     a NULL dereference: Oops (insmod is killed)
 *   insmod rvs_faults.ko fault=lockdep  an AB-BA lock order: lockdep's circular dependency splat
 *   insmod rvs_faults.ko fault=leak     an unreferenced allocation kmemleak reports after a scan
 *   insmod rvs_faults.ko fault=sleep    a sleeping call in atomic context (DEBUG_ATOMIC_SLEEP)
 */
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/string.h>

static char *fault = "none";
module_param(fault, charp, 0444);
MODULE_PARM_DESC(fault, "warn, oops, lockdep, leak or sleep");

static DEFINE_SPINLOCK(lock_a);
static DEFINE_SPINLOCK(lock_b);
static DEFINE_MUTEX(mutex);
static void *leaked;
static int *volatile null_ptr;

static int __init rvs_faults_init(void)
{
	if (!strcmp(fault, "warn")) {
		WARN(1, "rvs_faults: deliberate warning\n");
	} else if (!strcmp(fault, "oops")) {
		*null_ptr = 1;
	} else if (!strcmp(fault, "lockdep")) {
		spin_lock(&lock_a);
		spin_lock(&lock_b);
		spin_unlock(&lock_b);
		spin_unlock(&lock_a);
		spin_lock(&lock_b);
		spin_lock(&lock_a);
		spin_unlock(&lock_a);
		spin_unlock(&lock_b);
	} else if (!strcmp(fault, "leak")) {
		leaked = kmalloc(96, GFP_KERNEL);
		/* Forget the only reference, so kmemleak finds the object unreferenced. */
		leaked = NULL;
	} else if (!strcmp(fault, "sleep")) {
		/* mutex_lock() may sleep: DEBUG_ATOMIC_SLEEP reports it under a spinlock. */
		spin_lock(&lock_a);
		mutex_lock(&mutex);
		mutex_unlock(&mutex);
		spin_unlock(&lock_a);
	}
	return 0;
}

static void __exit rvs_faults_exit(void)
{
}

module_init(rvs_faults_init);
module_exit(rvs_faults_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("rvs test fixture: provokes kernel fault reports");
