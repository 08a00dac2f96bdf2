import os, random, sys
TICKS = float(os.environ.get('TICKS', '0'))
SCHEDS = ['rr','wrr','lc','wlc','sed','nq','fo','ovf','dh','sh','mh','twos','lblc','lblcr']
def addr(rng, af, pool=None):
    if af == 2:
        return '%08x' % rng.choice(pool) if pool else '%08x' % rng.getrandbits(32)
    return ''.join('%02x' % rng.getrandbits(8) for _ in range(16)) if not pool else ('2001db80' + '0'*16 + '%08x' % rng.choice(pool))
def scenario(rng, sched, big=False):
    af = 10 if rng.random() < 0.25 else 2
    flags = rng.choice([0, 8, 16, 24]) if sched in ('sh','mh') else 0
    out = ['begin %s %d %d %d' % (sched, af, flags, rng.getrandbits(31))]
    n = 0
    used = set()
    clients = [rng.getrandbits(32) for _ in range(rng.choice([3, 8, 40]))]
    wchoices = rng.choice([[0,1,2,3,5], [1,1,1], [0,1,100,255,1000,65535], [2,4,6,8], [0,7,13,250000]])
    j = 0
    nops = (60 if not big else 400) * int(os.environ.get('LONG', '1'))
    target = rng.choice([3, 6, 12, 30]) if not big else rng.choice([150, 300])
    def newdest():
        while True:
            a = addr(rng, af)
            p = rng.choice([80, 443, 8080])
            if (a, p) not in used:
                used.add((a, p)); return a, p
    def counts():
        act = rng.choice([0, 0, 1, 2, 3, 5, 8, 50, 9000000, 2147483647]) if rng.random() < 0.05 else rng.randint(0, 6)
        tot = act + rng.randint(0, 10)
        if tot > 2147483647: tot = 2147483647
        return act, tot, 1 if rng.random() < 0.12 else 0
    for _ in range(nops):
        r = rng.random()
        if (n < target and r < 0.35) or n == 0 and r < 0.8:
            a, p = newdest(); act, tot, ov = counts()
            out.append('add %d %s %d %d %d %d %d' % (rng.randint(0, n) if rng.random() < 0.3 else 0, a, p, rng.choice(wchoices), act, tot, ov)); n += 1
        elif r < 0.40 and n > 0:
            out.append('del %d' % rng.randrange(n)); n -= 1
        elif r < 0.48 and n > 0:
            out.append('upd %d %d' % (rng.randrange(n), rng.choice(wchoices)))
        elif r < 0.62 and n > 0:
            act, tot, ov = counts(); out.append('conns %d %d %d %d' % (rng.randrange(n), act, tot, ov))
        elif r < 0.66 + TICKS and sched in ('lblc', 'lblcr'):
            j += rng.choice([1000, 60000, 400000, 90000000]); out.append('jiffies %d' % j)
        elif r < 0.70 + 2 * TICKS and sched in ('lblc', 'lblcr'):
            out.append('tick')
        else:
            proto = rng.choice([6, 17, 132, 1])
            out.append('sched %d %d %s %s %d %d' % (proto, 1 if rng.random() < 0.1 else 0, addr(rng, af, clients), addr(rng, af, clients), rng.randint(0, 65535), rng.choice([80, 443])))
    out.append('end')
    return out
rng = random.Random(int(sys.argv[1]) if len(sys.argv) > 1 else 1)
for s in SCHEDS:
    for k in range(int(sys.argv[2]) if len(sys.argv) > 2 else 20):
        print('\n'.join(scenario(rng, s)))
    if s in ('mh', 'sh', 'dh', 'wrr'):
        for k in range(2):
            print('\n'.join(scenario(rng, s, big=True)))
