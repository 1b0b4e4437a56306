#!/usr/bin/env python3
"""Time commands interleaved: each round runs every command once, in a fresh random order, so that a
machine whose speed drifts (a shared VM) slows them all alike, unlike hyperfine's one block per command.

Usage: interleave.py ROUNDS NAME=COMMAND...   (COMMAND is split on spaces; stdout/stderr discarded)
Prints each command's median and quartiles in ms and, when one is named `true`, what each adds to it.
SETTLE_MS=N waits N ms after each command, outside the timing: what a command leaves running after it
exits (exec's endpoint process ending) then finishes before the next command starts, instead of
slowing whichever command comes next.
"""
import os
import random
import statistics
import subprocess
import sys
import time


def main():
    rounds = int(sys.argv[1])
    commands = [argument.split("=", 1) for argument in sys.argv[2:]]
    times = {name: [] for name, _ in commands}
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    settle = int(os.environ.get("SETTLE_MS", "0")) / 1000
    for _ in range(10):  # warm-up: page cache, keyring, moto
        for _, command in commands:
            subprocess.run(command.split(), **quiet)
    for _ in range(rounds):
        order = commands[:]
        random.shuffle(order)
        for name, command in order:
            start = time.perf_counter_ns()
            subprocess.run(command.split(), **quiet)
            times[name].append((time.perf_counter_ns() - start) / 1e6)
            if settle:
                time.sleep(settle)
    medians = {name: statistics.median(t) for name, t in times.items()}
    width = max(len(name) for name in times)
    title = f"interleaved ({rounds} rounds{f', {settle * 1000:.0f} ms apart' if settle else ''})"
    print(f"{title:{width}}  median      p25      p75")
    for name, t in times.items():
        q1, _, q3 = statistics.quantiles(t, n=4)
        print(f"{name:{width}}  {medians[name]:6.3f}ms {q1:6.3f}ms {q3:6.3f}ms")
    if "true" in medians:
        for name, median in medians.items():
            if name != "true":
                print(f"{name:{width}}  adds {median - medians['true']:6.3f} ms to true")


if __name__ == "__main__":
    main()
