"""The API bench still runs end to end: two clients for a moment against riverchief and the floor, on SQLite.

Not a timing test: it checks that both servers start, answer every request, and that riverchief did what
it answered (every accepted POST moved its issue one version), so the bench cannot rot unnoticed.
"""

import io
import random

from rich.console import Console

from bench.api import parse_args, run_database


def fell_due(clients: int, per_second: float, seconds: float, runs: int) -> list[int]:
    """The requests the bench's open loop falls due in each of ``runs`` runs (seed 1), as its clients draw them."""
    streams = [random.Random(f"1-{i}-arrivals") for i in range(clients)]
    counts = []
    for _ in range(runs):
        count = 0
        for stream in streams:
            due = stream.expovariate(per_second / clients)
            while due < seconds:
                count += 1
                due += stream.expovariate(per_second / clients)
        counts.append(count)
    return counts


def test_two_clients_get_answers_from_both_servers_and_every_accepted_post_moved_its_issue() -> None:
    args = parse_args(
        [
            *("--db", "sqlite", "--clients", "2", "--own", "1", "--issues", "20"),
            *("--seconds", "0.5", "--rounds", "1", "--warmup", "0", "--workloads", "get", "post"),
            *("--rates", "40"),
        ]
    )
    result = run_database("sqlite", args, Console(file=io.StringIO()))

    workloads = {w["workload"]: w for w in result["workloads"]}
    assert set(workloads) == {"get", "post"}
    for name, workload in workloads.items():
        for target in ("riverchief", "floor"):
            figures = workload[target]
            assert figures["requests_per_s"] > 0, (name, target)
            assert figures["errors"] == {}, (name, target)
            assert figures["conflicts"] == 0, (name, target)
            assert figures["ok"] == {name: figures["requests"]}, (name, target)
            assert 0 < figures["p50_ms"] <= figures["p99_ms"], (name, target)
        assert workload["ratio"]["throughput"] > 0
    # The open loop sends what fell due, no more and no fewer: each client's gaps are its own seeded stream,
    # drawn again after every request, so the count is known however fast the server answered.
    offered = {w["workload"]: w for w in result["offered"]}
    assert [w["workload"] for w in result["offered"]] == ["get", "post"]
    due = fell_due(clients=2, per_second=40, seconds=0.5, runs=2)
    for (name, workload), expected in zip(offered.items(), due, strict=True):
        assert workload["offered_per_s"] == 40
        for target in ("riverchief", "floor"):
            figures = workload[target]
            assert figures["requests"] == expected > 0, (name, target)
            assert figures["errors"] == {}, (name, target)
            assert figures["ok"] == {name: figures["requests"]}, (name, target)
    accepted = workloads["post"]["riverchief"]["ok"]["post"] + offered["post"]["riverchief"]["ok"]["post"]
    assert result["checked"] == {"issues_checked": 2, "versions_moved": accepted}
    # The floor answers GETs with a body riverchief gave, so both sides send about as many bytes.
    rc_bytes = workloads["get"]["riverchief"]["kinds"]["get"]["mean_body_bytes"]
    floor_bytes = workloads["get"]["floor"]["kinds"]["get"]["mean_body_bytes"]
    assert abs(rc_bytes - floor_bytes) < 0.25 * rc_bytes
