"""The API bench still runs end to end: two clients for a moment against riverchief and the floor, on SQLite.

Not a timing test: it checks that both servers start, answer every request, and that riverchief did what
it answered (every accepted POST moved its issue one version), so the bench cannot rot unnoticed.
"""

import io

from rich.console import Console

from bench.api import parse_args, run_database


def test_two_clients_get_answers_from_both_servers_and_every_accepted_post_moved_its_issue() -> None:
    args = parse_args(
        [
            *("--db", "sqlite", "--clients", "2", "--own", "1", "--issues", "20"),
            *("--seconds", "0.5", "--rounds", "1", "--warmup", "0", "--workloads", "get", "post"),
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
    accepted = workloads["post"]["riverchief"]["ok"]["post"]
    assert result["checked"] == {"issues_checked": 2, "versions_moved": accepted}
    # The floor answers GETs with a body riverchief gave, so both sides send about as many bytes.
    rc_bytes = workloads["get"]["riverchief"]["kinds"]["get"]["mean_body_bytes"]
    floor_bytes = workloads["get"]["floor"]["kinds"]["get"]["mean_body_bytes"]
    assert abs(rc_bytes - floor_bytes) < 0.25 * rc_bytes
