"""Reads what a `make load` run left (Locust's CSV statistics, the mix's answers and accounts),
checks the table, writes report.md and report.json beside them and prints the report.

    python3 dev/load/report.py <run folder> --endpoint http://127.0.0.1:8000 --table accounts-local

Exit 1 when the run broke a promise: any 5xx, any answer the contract does not give that flow
(Locust failures), or an account lost, duplicated or unclaimed in the table.
"""

from __future__ import annotations

import argparse
import csv
import json
import pathlib
import platform
import os
import sys
import time
from collections import defaultdict

# dev/, for local_table (this runs as dev/load/report.py).
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))
import local_table  # noqa: E402


def read_stats(folder: pathlib.Path) -> tuple[list[dict], dict]:
    rows = list(csv.DictReader((folder / "locust_stats.csv").open()))
    routes = [row for row in rows if row["Name"] != "Aggregated"]
    (total,) = [row for row in rows if row["Name"] == "Aggregated"]
    return routes, total


def table_items(endpoint: str, table: str, prefix: str) -> tuple[dict, dict]:
    """This run's user items (email -> [ids]) and email claims (email -> user id): the
    addresses the mix made, all starting with `prefix`."""
    users: dict[str, list[str]] = defaultdict(list)
    claims: dict[str, str] = {}
    for item in local_table.scan(endpoint, table):
        pk, sk = item["pk"], item["sk"]
        if pk.startswith("USER#") and sk == "USER" and item.get("email", "").startswith(prefix):
            users[item["email"]].append(item["id"])
        elif pk.startswith(f"EMAIL#{prefix}") and sk == "EMAIL":
            claims[pk.removeprefix("EMAIL#")] = item["user_id"]
    return users, claims


def check_accounts(accounts: dict[str, str], users: dict, claims: dict, uncertain: list[str] = ()) -> dict:
    """`accounts`: every address answered 201, with its id; `uncertain`: addresses whose sign-up
    answer was lost (5xx, no answer), which may exist or not, once."""
    lost = sorted(email for email in accounts if email not in users)
    duplicated = sorted(email for email, ids in users.items() if len(ids) > 1)
    unexpected = sorted(email for email in users if email not in accounts and email not in uncertain)
    unclaimed = sorted(email for email, ids in users.items() if claims.get(email) not in ids)
    wrong = sorted(email for email, owner in accounts.items() if email in users and owner not in users[email])
    return {
        "created": len(accounts), "in_table": sum(len(ids) for ids in users.values()),
        "claims": len(claims), "lost": lost, "duplicated": duplicated,
        "unexpected": unexpected, "unclaimed": unclaimed, "wrong_id": wrong,
        "uncertain": len(uncertain),
    }


def ms(value: str) -> str:
    return "-" if value in ("", "N/A") else f"{float(value):.0f}"


def render(meta: dict, routes: list[dict], total: dict, answers: list[dict], accounts: dict) -> str:
    lines = [
        f"# Load run {meta['run']}: {meta['seconds']} s, {meta['users']} simulated people",
        "",
        f"Against {meta['host']} on {meta['machine']}, {meta['date']}.",
        "",
        f"**{float(total['Requests/s']):.1f} requests/s** overall, {total['Request Count']} requests, "
        f"{total['Failure Count']} outside the contract.",
        "",
        "| Route | Requests | Per second | p50 ms | p95 ms | p99 ms | Max ms |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for row in sorted(routes, key=lambda r: -int(r["Request Count"])):
        lines.append(
            f"| `{row['Name']}` | {row['Request Count']} | {float(row['Requests/s']):.1f} | {ms(row['50%'])} "
            f"| {ms(row['95%'])} | {ms(row['99%'])} | {ms(row['Max Response Time'])} |"
        )
    lines += ["", "Every answer that was not 2xx, by route, status and code:", "",
              "| Route | Status | Code | Count |", "|---|---:|---|---:|"]
    others = [a for a in answers if not 200 <= a["status"] < 300]
    lines += [f"| `{a['route']}` | {a['status']} | `{a['code'] or '-'}` | {a['count']} |" for a in others]
    if not others:
        lines.append("| (none) | | | |")
    server_errors = sum(a["count"] for a in answers if a["status"] >= 500)
    lines += [
        "",
        f"Server errors (5xx): **{server_errors}**. Table check: {accounts['created']} accounts "
        f"created (201), {accounts['in_table']} user items and {accounts['claims']} email claims "
        f"of this run in the table; lost {len(accounts['lost'])}, duplicated "
        f"{len(accounts['duplicated'])}, unexpected {len(accounts['unexpected'])}, unclaimed "
        f"{len(accounts['unclaimed'])}, wrong id {len(accounts['wrong_id'])}"
        + (f"; {accounts['uncertain']} sign-ups whose answer was lost (allowed to exist once)" if accounts["uncertain"] else "")
        + ".",
    ]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("folder", type=pathlib.Path)
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--table", required=True)
    parser.add_argument("--host", required=True)
    parser.add_argument("--seconds", type=int, required=True)
    parser.add_argument("--users", type=int, required=True)
    args = parser.parse_args()

    routes, total = read_stats(args.folder)
    answers = json.loads((args.folder / "answers.json").read_text())
    created = json.loads((args.folder / "accounts.json").read_text())
    users, claims = table_items(args.endpoint, args.table, created["prefix"])
    accounts = check_accounts(created["accounts"], users, claims, created.get("uncertain", []))
    meta = {
        "run": created["run"], "seconds": args.seconds, "users": args.users, "host": args.host,
        "machine": f"{os.cpu_count()} CPUs, {platform.machine()}, {platform.system()}",
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }
    report = render(meta, routes, total, answers["answers"], accounts)
    cpu = args.folder / "cpu.txt"
    if cpu.is_file():  # dev/load/cpu.py's line, when the run measured its processes
        meta["cpu"] = cpu.read_text().strip()
        report += f"\nCPU while measured: {meta['cpu']}.\n"
    (args.folder / "report.md").write_text(report)
    (args.folder / "report.json").write_text(json.dumps(
        {"meta": meta, "routes": routes, "total": total, "answers": answers["answers"], "accounts": accounts},
        indent=1))
    print(report)

    broken = []
    if any(a["status"] >= 500 for a in answers["answers"]):
        broken.append("server errors")
    if int(total["Failure Count"]):
        broken.append(f"{total['Failure Count']} answers outside the contract (Locust failures)")
    for problem in ("lost", "duplicated", "unexpected", "unclaimed", "wrong_id"):
        if accounts[problem]:
            broken.append(f"{problem} accounts: {accounts[problem][:5]}")
    if not accounts["created"]:
        broken.append("no account was created")
    if broken:
        print("LOAD RUN BROKE A PROMISE: " + "; ".join(broken), file=sys.stderr)
        return 1
    print(f"report: {args.folder / 'report.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
