#!/usr/bin/env python3
"""dream's and PyTorch's figures from one scripts/bench run, side by side (the lines both printed under the same
name and unit; "(engine)" and "(pytorch)" name the same figure), with how many times faster dream is.
Prints nothing when PyTorch did not run.  Usage: bench-compare.py DREAM_LINES PYTORCH_LINES"""
import re, sys

def figures(path):
    found = {}
    try:
        lines = open(path).read().splitlines()
    except FileNotFoundError:
        return found
    for line in lines:
        m = re.match(r"^(.*?)\s+(-?[0-9.]+) (ms|GFLOP/s)$", line)
        if m:
            name = re.sub(r" \((engine|pytorch)\)$", "", m.group(1).strip())
            found[name] = (float(m.group(2)), m.group(3))
    return found

def main():
    ours, theirs = figures(sys.argv[1]), figures(sys.argv[2])
    both = [name for name in ours if name in theirs and ours[name][1] == theirs[name][1]]
    if not both:
        return
    print("== side by side (dream, PyTorch; × = how many times faster dream is)")
    for name in both:
        (a, unit), (b, _) = ours[name], theirs[name]
        if a <= 0 or b <= 0:
            continue
        faster = a / b if unit == "GFLOP/s" else b / a
        print(f"{name:<44}{a:10.2f} {b:10.2f} {unit:<8}{faster:6.2f}×")

main()
