"""How long a ``riverchief`` command takes as a whole process, as a person at a terminal waits for it.

Run: ``.venv/bin/python -m bench.startup [--runs 10] [--people 60] [--rounds 3] [--code DIR] [--output FILE]``

In a temporary folder it sets up a SQLite database (``init``, the 琼江 compact of the demo, ``--people`` more
chiefs of 太安镇 and one reported issue), then times, each as a fresh process with the console script beside
this interpreter:

* ``riverchief --help``, ``--runs`` times;
* ``riverchief issue show CODE``, ``--runs`` times;
* tokens for ``--people`` people: one ``token create P1 … Pn --out FILE`` process, against one
  ``token create P`` process per person, ``--rounds`` times each (a command without the batch form is noted
  as not available).

It prints the medians (and the fastest and slowest run) with the machine and its load average before and
after, and writes every run to ``--output``. ``--code`` measures another checkout's ``riverchief`` (put first
on the commands' PYTHONPATH), e.g. an export of an older commit to compare with.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "riverchief" / "demo" / "qiongjiang.yaml"
CLI = Path(sys.executable).parent / "riverchief"


def environment(home: Path, code: Path) -> dict[str, str]:
    """This folder's database and settings only, ``code``'s riverchief; no terminal size (the output is piped)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RIVERCHIEF_") and k not in ("COLUMNS", "LINES")}
    env.update(
        RIVERCHIEF_DATABASE_URL=f"sqlite:///{home / 'startup.db'}",
        RIVERCHIEF_DATA_DIR=str(home),
        PYTHONPATH=os.pathsep.join([str(code), *filter(None, [os.environ.get("PYTHONPATH")])]),
    )
    return env


def run(env: dict[str, str], home: Path, *args: str) -> str:
    """Run one command that must succeed; its stdout."""
    done = subprocess.run([str(CLI), *args], cwd=home, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"riverchief {' '.join(args)} exited {done.returncode}:\n{done.stderr}")
    return done.stdout


def timed(env: dict[str, str], home: Path, *commands: Sequence[str]) -> tuple[float, float]:
    """Wall seconds of whole processes running ``commands`` one after another, and the CPU seconds (user and
    system) they took: the CPU figure changes far less than the wall time with what else the machine runs."""
    began, used = time.perf_counter(), _children_cpu()
    for args in commands:
        run(env, home, *args)
    return time.perf_counter() - began, _children_cpu() - used


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def people(count: int) -> list[str]:
    """The codes of the bench's extra people."""
    return [f"bench-{n:03d}" for n in range(1, count + 1)]


def set_up(env: dict[str, str], home: Path, count: int) -> str:
    """The database, the compact, ``count`` more people and one issue; the issue's code."""
    run(env, home, "init")
    run(env, home, "load", str(DEMO))
    lines = ["people:"] + [
        f'  - {{code: {code}, name: 巡河员{code[-3:]}, role: chief, jurisdiction: "500152102"}}'
        for code in people(count)
    ]
    extra = home / "people.yaml"
    extra.write_text("\n".join(lines) + "\n", encoding="utf-8")
    run(env, home, "load", str(extra))
    reported = run(
        env, home, "issue", "new", "--as", "tn-taian", "--title", "启动计时", "--category", "domestic_sewage"
    )
    return reported.split(":", 1)[0]


def figures(runs: Sequence[tuple[float, float]]) -> dict[str, Any]:
    """Median, fastest and slowest wall time of a series of runs, the median CPU time, and the runs."""
    wall = [w for w, _ in runs]
    return {
        "median_s": statistics.median(wall),
        "min_s": min(wall),
        "max_s": max(wall),
        "cpu_median_s": statistics.median(c for _, c in runs),
        "runs_s": wall,
        "cpu_s": [c for _, c in runs],
    }


def batch_available(env: dict[str, str], home: Path) -> bool:
    """Whether this version's ``token create`` takes several people and ``--out``."""
    shown = run(env, home, "token", "create", "--help")
    return "--out" in shown


def measure(args: argparse.Namespace, home: Path) -> dict[str, Any]:
    """Every lane's runs."""
    env = environment(home, args.code.resolve())
    code = set_up(env, home, args.people)
    codes = people(args.people)
    results: dict[str, Any] = {
        "help": figures([timed(env, home, ["--help"]) for _ in range(args.runs)]),
        "issue_show": figures([timed(env, home, ["issue", "show", code]) for _ in range(args.runs)]),
    }
    one_each = [["token", "create", person] for person in codes]
    results["tokens_separate"] = figures([timed(env, home, *one_each) for _ in range(args.rounds)])
    if batch_available(env, home):
        out = home / "tokens.txt"
        batch = ["token", "create", *codes, "--out", str(out), "--force"]
        results["tokens_batch"] = figures([timed(env, home, batch) for _ in range(args.rounds)])
    else:
        results["tokens_batch"] = None
    return results


def machine() -> dict[str, Any]:
    """What ran the bench, and how busy it was."""
    return {
        "cpus": os.cpu_count(),
        "processor": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "load_average": os.getloadavg(),
    }


def commit(code: Path) -> str:
    """The git commit measured, with a + when files differ from it; the folder's name outside a checkout."""
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=code, capture_output=True, text=True)
    if head.returncode != 0:
        return code.name
    dirty = subprocess.run(["git", "status", "--porcelain"], cwd=code, capture_output=True, text=True)
    return head.stdout.strip() + ("+" if dirty.stdout.strip() else "")


def report(results: dict[str, Any], args: argparse.Namespace) -> None:
    """The medians as a Markdown table."""
    rows = [
        ("`riverchief --help`", results["help"], args.runs),
        ("`riverchief issue show CODE`", results["issue_show"], args.runs),
        (f"{args.people} tokens, one process each", results["tokens_separate"], args.rounds),
        (f"{args.people} tokens, one `token create … --out`", results["tokens_batch"], args.rounds),
    ]
    print("| command | runs | median s | fastest s | slowest s | median CPU s |")
    print("|---|--:|--:|--:|--:|--:|")
    for name, got, runs in rows:
        if got is None:
            print(f"| {name} | — | not available | | | |")
        else:
            print(
                f"| {name} | {runs} | {got['median_s']:.3f} | {got['min_s']:.3f} | {got['max_s']:.3f} "
                f"| {got['cpu_median_s']:.3f} |"
            )


def main(argv: Sequence[str] | None = None) -> None:
    """Set up, measure, print and write."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10, help="runs of --help and of issue show")
    parser.add_argument("--people", type=int, default=60, help="people to create tokens for")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of each token lane")
    parser.add_argument("--code", type=Path, default=ROOT, help="the checkout whose riverchief is measured")
    parser.add_argument("--output", type=Path, default=ROOT / "bench" / "startup.json")
    args = parser.parse_args(argv)
    before = machine()
    with tempfile.TemporaryDirectory(prefix="riverchief-startup-") as folder:
        results = measure(args, Path(folder))
    after = machine()
    document = {"commit": commit(args.code), "machine": before, "load_average_after": after["load_average"], **results}
    args.output.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
    print(f"commit {document['commit']}, {before['cpus']} CPUs, {before['processor']}, Python {before['python']}")
    print(f"load average before {before['load_average']}, after {after['load_average']}")
    report(results, args)


if __name__ == "__main__":
    main()
