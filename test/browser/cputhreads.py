#!/usr/bin/env python3
"""CPU per thread of Chromium and swarmgate while the browser benchmark runs
(docs/decisions.md 64): where this machine's cores go during a download.

    test/browser/cputhreads.py [DELAY SPAN N] &
    test/browser/run.sh --bench --clip CLIP --runs 1 --only none

It waits for the benchmark's gateway (its data directory is gw-bench-*),
sleeps DELAY s (default 1), then prints every SPAN s (default 1), N times
(default 9), the total CPU of those processes and the busiest threads, as
percent of one core, each named process kind:thread (renderer, gpu,
util for the network service, browser, gw for the gateway, seed).
"""
import os
import sys
import time


def kind(comm, cmd):
    if comm == "swarmgate":
        return "gw" if "gw-bench" in cmd else "seed"
    for k, name in (("type=renderer", "renderer"), ("type=gpu", "gpu"), ("type=utility", "util")):
        if k in cmd:
            return name
    return "browser"


def snap():
    out = {}
    for p in filter(str.isdigit, os.listdir("/proc")):
        try:
            comm = open(f"/proc/{p}/comm").read().strip()
            if comm not in ("chromium", "swarmgate"):
                continue
            k = kind(comm, open(f"/proc/{p}/cmdline").read())
            for t in os.listdir(f"/proc/{p}/task"):
                st = open(f"/proc/{p}/task/{t}/stat").read()
                name = open(f"/proc/{p}/task/{t}/comm").read().strip()
                f = st[st.rindex(")") + 2:].split()
                out[(p, t)] = (k + ":" + name, int(f[11]) + int(f[12]))
        except OSError:
            pass  # gone meanwhile
    return out


def bench_running():
    for p in filter(str.isdigit, os.listdir("/proc")):
        try:
            if "gw-bench" in open(f"/proc/{p}/cmdline").read():
                return True
        except OSError:
            pass
    return False


def main():
    delay, span, n = (float(a) for a in (sys.argv[1:4] + ["1", "1", "9"][len(sys.argv[1:4]):]))
    for _ in range(6000):  # at most 10 minutes
        if bench_running():
            break
        time.sleep(0.1)
    t0 = time.time()
    time.sleep(delay)
    hz = os.sysconf("SC_CLK_TCK")
    prev, pt = snap(), time.time()
    for _ in range(int(n)):
        time.sleep(span)
        cur, ct = snap(), time.time()
        by = {}
        for key, (name, ticks) in cur.items():
            if key in prev:
                by[name] = by.get(name, 0) + ticks - prev[key][1]
        pct = lambda ticks: 100 * ticks / hz / (ct - pt)
        top = sorted(by.items(), key=lambda x: -x[1])[:12]
        print(f"t={ct - t0:.1f}s total {pct(sum(by.values())):.0f}%  " +
              "  ".join(f"{k} {pct(v):.0f}%" for k, v in top if v > 0), flush=True)
        prev, pt = cur, ct


if __name__ == "__main__":
    main()
