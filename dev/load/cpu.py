"""CPU used by groups of processes over a load run, as shares of one core: what limits the run.

    python dev/load/cpu.py snapshot OUT.json dynamodb=PID moto=PID api=PID
    python dev/load/cpu.py report BEFORE.json AFTER.json   # a Markdown line per group

A group is a process and everything below it (the API: the emulator and its function
instances). `other` is the rest of the machine's busy time (Locust, the mail poller, whatever
else runs), from /proc/stat. Linux only (/proc).
"""

from __future__ import annotations

import json
import os
import pathlib
import sys
import time

TICKS = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, CPU seconds of the process itself and its reaped children)."""
    try:
        text = pathlib.Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()
    utime, stime, cutime, cstime = (int(value) for value in fields[11:15])
    return int(fields[1]), (utime + stime + cutime + cstime) / TICKS


def tree_seconds(root: int) -> float:
    stats = {int(p.name): _stat(int(p.name)) for p in pathlib.Path("/proc").iterdir() if p.name.isdigit()}
    children: dict[int, list[int]] = {}
    for pid, stat in stats.items():
        if stat:
            children.setdefault(stat[0], []).append(pid)
    total, stack = 0.0, [root]
    while stack:
        pid = stack.pop()
        stat = stats.get(pid)
        if stat:
            total += stat[1]
        stack.extend(children.get(pid, []))
    return total


def machine_busy_seconds() -> float:
    fields = [int(v) for v in pathlib.Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle, iowait
    return (sum(fields[:8]) - idle) / TICKS


def snapshot(groups: dict[str, int]) -> dict:
    return {"wall": time.monotonic(), "machine": machine_busy_seconds(),
            "groups": {name: tree_seconds(pid) for name, pid in groups.items()}}  # fmt: skip


def shares(before: dict, after: dict) -> dict[str, float]:
    wall = after["wall"] - before["wall"]
    used = {name: (after["groups"][name] - before["groups"][name]) / wall for name in before["groups"]}
    used["other"] = max(0.0, (after["machine"] - before["machine"]) / wall - sum(used.values()))
    return used


def main() -> int:
    command, *rest = sys.argv[1:]
    if command == "snapshot":
        out, *pairs = rest
        groups = {name: int(pid) for name, pid in (pair.split("=", 1) for pair in pairs)}
        pathlib.Path(out).write_text(json.dumps(snapshot(groups)))
    elif command == "report":
        before, after = (json.loads(pathlib.Path(p).read_text()) for p in rest)
        used = shares(before, after)
        print(", ".join(f"{name} {share:.2f}" for name, share in used.items())
              + f" of a core ({os.cpu_count()} cores)")
    else:
        raise SystemExit(__doc__)
    return 0


if __name__ == "__main__":
    sys.exit(main())
