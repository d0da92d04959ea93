"""Two servers, two dispatchers and two schedulers on one PostgreSQL database; one of each killed mid-load.

Client threads report issues (with an ``Idempotency-Key``) and walk them step by step (each step with the
version it expects) over HTTP against both ``riverchief serve`` processes, while two ``riverchief dispatch``
processes deliver the notifications to a local webhook, and two ``riverchief scheduler`` processes wait for
the scheduler lock. The active scheduler is caught in the middle of its monthly reports (a table lock the
test holds keeps it there), then one server, one dispatcher and that scheduler are killed with SIGKILL. A
request cut off by the kill is sent again to the surviving server, under the same key or expected version.

Afterwards: the ledger verifies; every acknowledged report and step is in it exactly once, and nothing else
is; every outbox row was delivered through each channel once, and the webhook saw each message once (save
the one the README allows: sent by the killed dispatcher before it could record it); the standby scheduler
took over and finished the interrupted period, and no period of any job was run to its end twice.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import IO, Any

import httpx
import pytest
import sqlalchemy as sa
import yaml

from riverchief.bootstrap import App, bootstrap
from riverchief.demo.play import DATA
from riverchief.settings import Settings
from tests.conftest import drop_postgres_database, fresh_postgres_database
from tests.factories import RECEIVER, RECEIVING_CODE, REPORTER, RIVERCHIEF_CLI, Cli
from tests.integration.test_notifications import Hit, http_server
from workflow.accounts.tokens import create_token
from workflow.core.db import make_engine
from workflow.core.filing import verify_reports
from workflow.core.ledger import verify
from workflow.core.models import Delivery, Event, Issue, JobRun, Outbox, ReportFile, table_of
from workflow.core.reference import load, parse

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

CLIENTS = 3  # threads, each walking its own issues
PROGRESS = 3  # progress steps per issue after the walk to rectifying
PAUSE = 0.05  # seconds between a client's requests: a modest load on a shared machine
KILL_AFTER = 40  # acknowledged steps before the kills
AFTER_KILL = 40  # acknowledged steps after them
LEASE = 10  # seconds: RIVERCHIEF_DISPATCH_LEASE_SECONDS, how long the killed dispatcher's rows stay its own
SECRET = "multiprocess-secret"
WAIT = 60.0  # seconds: the bound on each wait

_issue, _event, _outbox = table_of(Issue), table_of(Event), table_of(Outbox)
_delivery, _job_run, _report = table_of(Delivery), table_of(JobRun), table_of(ReportFile)
LEADS = "active scheduler (pid"  # the log line of a scheduler that took the lock
_COMPLETED = re.compile(r"riverchief\.scheduler: (\w+) (\S+): \{")


@dataclass
class Proc:
    """A ``riverchief`` process with its output in a log file."""

    name: str
    process: subprocess.Popen[str]
    log_path: Path
    log: IO[str]

    def kill(self) -> None:
        os.kill(self.process.pid, signal.SIGKILL)
        assert self.process.wait(timeout=10) == -signal.SIGKILL, self.name

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.log.close()

    def text(self) -> str:
        self.log.flush()
        return self.log_path.read_text(encoding="utf-8", errors="replace")


@dataclass
class Load:
    """What the clients saw: acknowledged reports and steps, requests sent again, and anything unexpected."""

    reports: dict[str, str] = field(default_factory=dict)  # idempotency key -> issue code
    steps: list[tuple[str, int, str]] = field(default_factory=list)  # (issue, version, trigger)
    resent: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    dead: set[str] = field(default_factory=set)  # servers that went away
    lock: threading.Lock = field(default_factory=threading.Lock)

    def acknowledged(self) -> int:
        with self.lock:
            return len(self.steps) + len(self.reports)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _until(what: str, check: Callable[[], bool], bound: float = WAIT) -> None:
    deadline = time.monotonic() + bound
    while not check():
        assert time.monotonic() < deadline, f"waited {bound} s for {what}"
        time.sleep(0.1)


@pytest.fixture
def home(postgres_server: str, postgres_template: str, tmp_path: Path) -> Iterator[tuple[Cli, str]]:
    """The CLI against a fresh PostgreSQL database; (cli, database URL)."""
    url = fresh_postgres_database(postgres_server, postgres_template)
    cli = Cli(tmp_path)
    cli.env = {
        "RIVERCHIEF_DATABASE_URL": url,
        "RIVERCHIEF_WEBHOOK_SECRET": SECRET,
        "RIVERCHIEF_DISPATCH_LEASE_SECONDS": str(LEASE),
    }
    try:
        yield cli, url
    finally:
        drop_postgres_database(url)


def _world(url: str, home: Path, hook: str) -> dict[str, str]:
    """The 琼江 compact with everyone reached by the webhook (and the inbox); the clients' tokens."""
    data = yaml.safe_load(DATA.read_text(encoding="utf-8"))
    for person in data["people"]:
        person.update(channels=["inbox", "webhook"], contacts={"webhook": hook})
    reference = home / "reference.yaml"
    reference.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    wired = bootstrap(Settings(database_url=url, data_dir=home))
    try:
        load(wired.uow(), parse(reference))
        return {p: f"Bearer {create_token(wired.uow(), p, 'multiprocess')[1]}" for p in (REPORTER, RECEIVER)}
    finally:
        wired.engine.dispose()


def _start(cli: Cli, name: str, *args: str) -> Proc:
    path = cli.home / f"{name}.log"
    log = path.open("w", encoding="utf-8")
    process = subprocess.Popen(
        [str(RIVERCHIEF_CLI), *args],
        cwd=cli.home,
        env=cli.environment(),
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
    )
    return Proc(name, process, path, log)


def _serve(cli: Cli, name: str) -> tuple[Proc, str]:
    port = _free_port()
    proc = _start(cli, name, "serve", "--host", "127.0.0.1", "--port", str(port), "--no-scheduler", "--no-dispatcher")
    return proc, f"http://127.0.0.1:{port}"


def _answers(base: str) -> bool:
    try:
        return httpx.get(f"{base}/api/v1/openapi.json", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


class Client:
    """One client thread's calls: to each live server in turn, a request cut off sent again to the next."""

    def __init__(self, n: int, bases: list[str], auth: dict[str, str], seen: Load) -> None:
        self.n, self.bases, self.auth, self.seen = n, bases, auth, seen
        self.http = httpx.Client(timeout=30)
        self.turn = n

    def post(
        self, path: str, who: str, body: dict[str, Any], headers: dict[str, str] | None = None
    ) -> tuple[httpx.Response, bool]:
        """POST to a live server; on a broken connection, the same request to the next one. (answer, sent again)"""
        deadline = time.monotonic() + WAIT
        again = False
        while True:
            self.turn += 1
            live = [b for b in self.bases if b not in self.seen.dead] or self.bases
            base = live[self.turn % len(live)]
            try:
                answer = self.http.post(
                    f"{base}/api/v1{path}", json=body, headers={"Authorization": self.auth[who], **(headers or {})}
                )
            except httpx.TransportError:
                with self.seen.lock:
                    self.seen.dead.add(base)
                    self.seen.resent.append(path)
                assert time.monotonic() < deadline, f"no server took {path}"
                again = True
                continue
            return answer, again

    def report(self, key: str) -> str | None:
        body = {"title": f"排污口 {key}", "category": "domestic_sewage", "segment": "qj-baima"}
        answer, _ = self.post("/issues", REPORTER, body, {"Idempotency-Key": key})
        if answer.status_code != 201:
            self.problem(f"report {key}: {answer.status_code} {answer.text}")
            return None
        code = str(answer.json()["code"])  # the first answer again, if the first request landed
        with self.seen.lock:
            self.seen.reports[key] = code
        return code

    def step(self, code: str, version: int, trigger: str, who: str, payload: dict[str, Any]) -> bool:
        body = {"trigger": trigger, "payload": payload, "expected_version": version}
        answer, again = self.post(f"/issues/{code}/transitions", who, body)
        landed = answer.status_code == 200
        if answer.status_code == 409 and again:
            # Sent again after a cut-off: a conflict says the first one landed, if the ledger has it.
            timeline = httpx.get(
                f"{self.live()}/api/v1/issues/{code}/timeline", headers={"Authorization": self.auth[who]}, timeout=30
            ).json()
            landed = any(e["seq"] == version + 1 and e["trigger"] == trigger for e in timeline)
        if not landed:
            self.problem(f"{trigger} on {code} at {version}: {answer.status_code} {answer.text}")
            return False
        with self.seen.lock:
            self.seen.steps.append((code, version + 1, trigger))
        return True

    def live(self) -> str:
        return next(b for b in self.bases if b not in self.seen.dead)

    def problem(self, text: str) -> None:
        with self.seen.lock:
            self.seen.problems.append(text)

    def run(self, stop: threading.Event) -> None:
        deadline = (date.today() + timedelta(days=60)).isoformat()
        try:
            for i in range(10_000):
                if stop.is_set():
                    return
                code = self.report(f"mp-{self.n}-{i}")
                if code is None:
                    return
                walk = [
                    ("hand_off", REPORTER, {"receiving": RECEIVING_CODE}),
                    ("accept", RECEIVER, {}),
                    ("start_rectify", RECEIVER, {"plan": "封堵排口", "deadline": deadline}),
                ] + [("progress", RECEIVER, {"note": f"mp-{self.n}-{i}-{p}"}) for p in range(PROGRESS)]
                for version, (trigger, who, payload) in enumerate(walk, start=1):
                    time.sleep(PAUSE)
                    if not self.step(code, version, trigger, who, payload):
                        return
        except Exception as exc:  # the test must hear of it, not lose the thread
            self.problem(f"client {self.n} crashed: {exc!r}")
        finally:
            self.http.close()


def _scalar(engine: sa.Engine, query: Any) -> Any:
    with engine.connect() as conn:
        return conn.execute(query).scalar()


def test_servers_dispatchers_and_schedulers_killed_mid_load_lose_nothing_and_do_nothing_twice(
    home: tuple[Cli, str],
) -> None:
    cli, url = home
    engine = make_engine(url)
    try:
        run = _killed_mid_load(cli, url, engine)
        _lost_nothing_done_nothing_twice(url, cli.home, engine, run.seen)
        _delivered_once(engine, run.hits, run.killed_at)
        _scheduled_once(engine, run.logs, run.period)
    finally:
        engine.dispose()
    assert run.seen.resent, "no request met the killed server: the test did not test sending again"


@dataclass
class Run:
    """What a run left to check: the clients' view, the webhook's calls (those before ``killed_at`` came before
    the kills), the schedulers' logs (active, standby), and the period of the monthly reports the active one
    was killed in."""

    seen: Load
    hits: list[Hit]
    killed_at: int
    logs: dict[str, str]
    period: str


def _killed_mid_load(cli: Cli, url: str, engine: sa.Engine) -> Run:
    """Start the six processes and the clients, kill one of each kind mid-load, go on, let the survivors drain."""
    procs: list[Proc] = []
    stop = threading.Event()
    threads: list[threading.Thread] = []
    seen = Load()
    hold = engine.connect()
    try:
        with http_server() as sink:
            auth = _world(url, cli.home, sink.url("/hook"))
            # Keep the monthly reports from being filed, so the active scheduler is caught in the middle of them.
            hold.begin()
            hold.execute(sa.text("LOCK TABLE report_file IN EXCLUSIVE MODE"))

            (server_a, base_a), (server_b, base_b) = _serve(cli, "serve-a"), _serve(cli, "serve-b")
            dispatchers = [_start(cli, f"dispatch-{x}", "dispatch", "--idle", "0.2") for x in "ab"]
            schedulers = [_start(cli, f"scheduler-{x}", "scheduler", "--poll", "0.5") for x in "ab"]
            procs += [server_a, server_b, *dispatchers, *schedulers]
            _until("a scheduler to lead", lambda: any(LEADS in s.text() for s in schedulers))
            active, standby = sorted(schedulers, key=lambda s: LEADS not in s.text())
            _until("both servers", lambda: _answers(base_a) and _answers(base_b))

            clients = [Client(n, [base_a, base_b], auth, seen) for n in range(CLIENTS)]
            threads = [threading.Thread(target=c.run, args=(stop,), name=f"client-{c.n}") for c in clients]
            for thread in threads:
                thread.start()

            waiting = sa.text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            monthly = sa.select(_job_run.c.period, _job_run.c.status).where(_job_run.c.job == "monthly_reports")
            _until("the monthly reports to wait on the lock", lambda: bool(_scalar(engine, waiting)))
            with engine.connect() as conn:
                period, status = conn.execute(monthly).one()
            assert status == "running"
            _until(f"{KILL_AFTER} acknowledged steps", lambda: seen.acknowledged() >= KILL_AFTER or bool(seen.problems))
            assert not seen.problems, seen.problems[:3]
            _until("the standby to wait for the lock", lambda: "waiting to become" in standby.text())
            assert LEADS not in standby.text(), "the standby led while the other lived"

            for proc in (server_a, dispatchers[0], active):
                proc.kill()
            killed_at = len(sink.hits)  # every webhook call the killed dispatcher made came before this one
            hold.rollback()  # the standby may file the reports now
            acknowledged = seen.acknowledged()

            unfinished = sa.select(sa.func.count()).select_from(_job_run).where(_job_run.c.status != "done")
            _until(
                f"{AFTER_KILL} more steps and the standby's catch-up",
                lambda: (
                    (seen.acknowledged() >= acknowledged + AFTER_KILL and _scalar(engine, unfinished) == 0)
                    or bool(seen.problems)
                ),
            )
            stop.set()
            for thread in threads:
                thread.join(timeout=WAIT)
            assert not seen.problems, seen.problems[:3]
            assert not any(t.is_alive() for t in threads)

            pending = sa.select(sa.func.count()).select_from(_outbox).where(_outbox.c.status != "sent")
            _until("the survivors to drain the outbox", lambda: _scalar(engine, pending) == 0, bound=LEASE + WAIT)
            logs = {"active": active.text(), "standby": standby.text()}
            return Run(seen, list(sink.hits), killed_at, logs, str(period))
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=WAIT)
        hold.close()
        for proc in procs:
            proc.stop()


def _lost_nothing_done_nothing_twice(url: str, data_dir: Path, engine: sa.Engine, seen: Load) -> None:
    """The ledger verifies, and it holds exactly the acknowledged reports and steps."""
    wired: App = bootstrap(Settings(database_url=url, data_dir=data_dir))
    try:
        with wired.reader() as uow:
            report = verify(uow.session)
            assert report.ok, [str(f) for f in report.findings]
            assert verify_reports(uow.connection, data_dir) == []
    finally:
        wired.engine.dispose()
    with engine.connect() as conn:
        issues = {r.code: r for r in conn.execute(sa.select(_issue.c.id, _issue.c.code, _issue.c.title))}
        events = conn.execute(
            sa.select(_issue.c.code, _event.c.seq, _event.c.trigger).join(_issue, _issue.c.id == _event.c.issue_id)
        ).all()
    titles = Counter(r.title for r in issues.values())
    assert max(titles.values()) == 1, [t for t, n in titles.items() if n > 1]
    assert {f"排污口 {key}": code for key, code in seen.reports.items()} == {r.title: c for c, r in issues.items()}
    landed = Counter((code, seq, trigger) for code, seq, trigger in events)
    acknowledged = Counter(seen.steps) + Counter((code, 1, "report") for code in seen.reports.values())
    assert landed == acknowledged


def _delivered_once(engine: sa.Engine, hits: list[Hit], killed_at: int) -> None:
    """Each outbox row delivered once through each channel; the webhook saw each message once, but one the
    killed dispatcher sent and could not record (the README's promise), which came again after the kill."""
    with engine.connect() as conn:
        rows = conn.execute(sa.select(_outbox.c.id, _outbox.c.status)).all()
        deliveries = conn.execute(
            sa.select(_delivery.c.outbox_id, _delivery.c.channel, _delivery.c.idempotency_key)
        ).all()
    assert rows
    assert {r.status for r in rows} == {"sent"}
    assert Counter((d.outbox_id, d.channel) for d in deliveries) == Counter(
        {(r.id, channel): 1 for r in rows for channel in ("inbox", "webhook")}
    )
    sent = Counter(hit.headers["Idempotency-Key"] for hit in hits)
    assert set(sent) == {d.idempotency_key for d in deliveries if d.channel == "webhook"}
    twice = {key: n for key, n in sent.items() if n > 1}
    assert len(twice) <= 1, twice
    assert set(twice.values()) <= {2}, twice
    for key in twice:
        where = [i for i, hit in enumerate(hits) if hit.headers["Idempotency-Key"] == key]
        assert where[0] < killed_at <= where[1], f"{key} sent twice, not across the kill: {where} / {killed_at}"
        first, again = (hits[i].json() for i in where)
        assert (again["key"], again["occurred_at"]) == (first["key"], first["occurred_at"])  # the same message


def _scheduled_once(engine: sa.Engine, logs: dict[str, str], period: str) -> None:
    """The standby took over, finished the interrupted monthly reports, and no period of a job ran to its end twice."""
    assert LEADS in logs["standby"]
    completed = Counter(m.groups() for text in logs.values() for m in _COMPLETED.finditer(text))
    assert completed
    assert max(completed.values()) == 1, [k for k, n in completed.items() if n > 1]
    finished_by_standby = {m.groups() for m in _COMPLETED.finditer(logs["standby"])}
    assert ("monthly_reports", period) in finished_by_standby
    assert ("monthly_reports", period) not in {m.groups() for m in _COMPLETED.finditer(logs["active"])}
    with engine.connect() as conn:
        runs = conn.execute(sa.select(_job_run.c.job, _job_run.c.period, _job_run.c.status)).all()
        filed = Counter(
            (r.kind, r.compact_id, r.period)
            for r in conn.execute(sa.select(_report.c.kind, _report.c.compact_id, _report.c.period))
        )
    assert {r.status for r in runs} == {"done"}
    assert any(kind == "bulletin" and p == period for kind, _, p in filed), filed
    assert max(filed.values()) == 1, filed
