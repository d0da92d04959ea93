"""The demo: the 琼江 compact and five cross-border issues played through realistic paths.

Time is simulated (a frozen clock moved forward between steps) so that
deadlines pass, revisits come due and the timeline reads like months of work.
"""

from __future__ import annotations

import io
import shutil
import sys
from datetime import date, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from rich.console import Console
from sqlmodel import col

from riverchief.bootstrap import App, bootstrap
from riverchief.demo.meetings import play as play_meetings
from riverchief.demo.meetings import show as show_meetings
from riverchief.demo.patrols import play as play_patrols
from riverchief.migrate import upgrade
from riverchief.present import print_bulletin, print_issue, print_issue_list, print_verify
from riverchief.reporting import make_and_file
from riverchief.settings import Settings
from workflow.accounts.signin import set_password
from workflow.core.actors import SYSTEM, Actor, load_actor
from workflow.core.calendar import local_today
from workflow.core.clock import SHANGHAI, FrozenClock
from workflow.core.evidence import add_evidence
from workflow.core.ledger import verify
from workflow.core.models import Bulletin, Person, table_of
from workflow.core.reference import load, parse, parse_text
from workflow.core.services import IssueDraft, apply, report_issue
from workflow.jobs.bulletins import monthly_bulletin
from workflow.jobs.runs import daily_seal, run_job
from workflow.jobs.sweeps import deadline_sweep
from workflow.maps.layers import import_layers, read_layers
from workflow.reading.issues import issue_view, list_issues

DATA = Path(__file__).with_name("qiongjiang.yaml")
START = datetime(2026, 3, 2, 9, 0, tzinfo=SHANGHAI)
# Who keeps the reference data; kept out of qiongjiang.yaml, which holds the field's people only.
ADMIN = """
people:
  - {code: qj-admin, name: 平台管理员, role: admin, organisation: 琼江流域联席会议办公室}
"""
# One password for every demo account, so the pages can be tried at once. A demo only.
DEMO_PASSWORD = "qiongjiang-2026"


class Demo:
    """Plays steps as named people, moving the simulated clock."""

    def __init__(self, app: App, clock: FrozenClock) -> None:
        self.app = app
        self.clock = clock
        with app.reader() as uow:
            self.people: dict[str, Actor] = {}
            for code in (
                "tn-taian",
                "tn-chonglong",
                "tn-yuxi",
                "tn-biekou",
                "tn-office",
                "sn-baima",
                "sn-moxi",
                "zy-longtai",
                "tl-anju",
                "qj-coord",
                "ngo-auditor",
            ):
                self.people[code] = load_actor(uow.session, code)

    def wait(self, days: float = 0, hours: float = 0) -> None:
        """Let simulated time pass."""
        self.clock.advance(days=days, hours=hours)

    def report(self, who: str, **draft: Any) -> str:
        """A chief reports a problem; returns its code."""
        return report_issue(self.app.uow(), self.people[who], IssueDraft(compact="QJ", **draft)).issue_code

    def fire(self, code: str, trigger: str, who: str, **payload: Any) -> None:
        """Someone (or the system) fires a trigger."""
        actor = SYSTEM if who == "system" else self.people[who]
        apply(self.app.uow(), code, trigger, actor, payload)

    def photo(self, code: str, who: str, caption: str, murky: bool) -> None:
        """Attach a made-up site photo, with the time and position a phone would write into it."""
        content = _site_photo(murky, self.clock.now(), 105.703, 30.208)
        add_evidence(
            self.app.uow(),
            code,
            self.people[who],
            content,
            f"{caption}.jpg",
            self.app.settings.data_dir,
            caption=caption,
        )

    def deadline(self, working_days: int) -> str:
        """A plan's deadline this many working days from now."""
        return self.app.calendar.add_working_days(local_today(self.clock.now()), working_days).isoformat()

    def joint_check(self, code: str, reporting: str, receiving: str, items: list[str]) -> None:
        """Both sides verify on site and sign, then the reporting side closes."""
        self.fire(code, "request_verify", reporting, note="申请联合复核验收")
        self.wait(days=1)
        self.fire(code, "pass_check", receiving, checklist=items, note="现场复核，整改到位")
        self.fire(code, "pass_check", reporting, checklist=items, note="同意销号")
        self.fire(code, "close", reporting, note="清单化销号")


def _site_photo(murky: bool, when: datetime, lon: float, lat: float) -> bytes:
    """A small drawn picture of a riverbank, as a JPEG with EXIF time and GPS."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (640, 400), (196, 218, 232))
    draw = ImageDraw.Draw(image)
    draw.polygon([(0, 230), (640, 190), (640, 400), (0, 400)], fill=(94, 84, 60) if murky else (64, 118, 150))
    draw.polygon([(0, 120), (260, 170), (240, 240), (0, 260)], fill=(92, 128, 72))
    draw.rectangle([(250, 170), (290, 215)], fill=(110, 110, 110))
    if murky:
        draw.polygon([(290, 200), (420, 300), (380, 320), (280, 215)], fill=(70, 60, 40))
    exif = Image.Exif()
    exif[0x0132] = when.astimezone(SHANGHAI).strftime("%Y:%m:%d %H:%M:%S")

    def dms(value: float) -> tuple[float, float, float]:
        minutes = (value % 1) * 60
        return float(int(value)), float(int(minutes)), round((minutes % 1) * 60, 2)

    exif[0x8825] = {1: "N", 2: dms(lat), 3: "E", 4: dms(lon)}
    out = io.BytesIO()
    image.save(out, "JPEG", quality=82, exif=exif.tobytes())
    return out.getvalue()


def plain_handoff(d: Demo) -> str:
    """Swap patrol finds an outfall on the neighbour's bank: hand-off, acceptance, rectification, closure."""
    code = d.report(
        "tn-taian",
        title="白马镇段右岸生活污水直排",
        category="domestic_sewage",
        segment="qj-baima",
        place="琼江白马镇段右岸，白马场镇下游约300米",
        lon=105.703,
        lat=30.208,
        description="交叉互巡中发现一处生活污水排口，污水直排琼江，有异味。",
    )
    d.photo(code, "tn-taian", "排口现场（整改前）", murky=True)
    d.wait(hours=2)
    d.fire(code, "hand_off", "tn-taian", receiving="510904101", note="请白马镇核实并整改")
    d.wait(days=1)
    d.fire(code, "accept", "sn-baima", note="已受理，安排现场核查")
    d.wait(days=1)
    d.fire(code, "start_rectify", "sn-baima", plan="封堵排口，污水接入场镇管网", deadline=d.deadline(10))
    d.wait(days=5)
    d.fire(code, "progress", "sn-baima", note="管网接驳完成60%", percent=60)
    d.wait(days=6)
    d.photo(code, "sn-baima", "排口封堵后（整改后）", murky=False)
    d.fire(code, "report_done", "sn-baima", summary="排口已封堵，污水已接入管网")
    d.wait(days=2)
    d.joint_check(code, "tn-taian", "sn-baima", ["photos", "site_check", "outfall_closed"])
    return code


def dispute_to_joint_meeting(d: Demo) -> str:
    """The receiving side disputes; negotiation stalls; a joint meeting settles it."""
    code = d.report(
        "tn-chonglong",
        title="龙台镇段上游养殖场粪污入河",
        category="livestock",
        segment="qj-longtai",
        difficulty="hard",
        place="琼江龙台镇段左岸养殖场",
        lon=105.556,
        lat=30.083,
        description="琼江崇龛镇入境断面水体发黑，上游约2公里处养殖场粪污疑似入河。",
    )
    d.wait(hours=3)
    d.fire(code, "hand_off", "tn-chonglong", receiving="512021101")
    d.wait(days=2)
    d.fire(code, "dispute", "zy-longtai", reason="该养殖场跨界经营，粪污处理设施位于潼南一侧，责任需商定")
    d.wait(days=4)
    d.fire(
        code,
        "convene",
        "qj-coord",
        level="district",
        agenda="龙台—崇龛跨界养殖污染责任划分",
        meeting_date=d.deadline(3),
    )
    d.wait(days=5)
    d.fire(
        code,
        "resolve",
        "qj-coord",
        resolution="龙台镇牵头整改，崇龛镇配合监测",
        plan="养殖场粪污设施改造，建设沉淀池",
        deadline=d.deadline(20),
    )
    d.wait(days=18)
    d.fire(code, "report_done", "zy-longtai", summary="沉淀池建成投用，粪污资源化利用")
    d.wait(days=2)
    d.joint_check(code, "tn-chonglong", "zy-longtai", ["photos", "site_check", "manure_handled", "no_discharge"])
    return code


def overdue_to_dispatch(d: Demo) -> str:
    """A hand-off nobody accepts in time is dispatched by the compact."""
    code = d.report(
        "tn-yuxi",
        title="安居镇段岸边垃圾堆放",
        category="solid_waste",
        segment="qj-anju",
        place="琼江安居镇段右岸码头旁",
        lon=105.921,
        lat=30.184,
    )
    d.wait(hours=1)
    d.fire(code, "hand_off", "tn-yuxi", receiving="500151101")
    d.wait(days=7)  # three working days pass without acceptance: the deadline sweep escalates
    deadline_sweep(d.app.uow, d.clock.now())
    d.wait(days=1)
    d.fire(code, "start_rectify", "tl-anju", plan="组织清运并设置警示牌", deadline=d.deadline(7))
    d.wait(days=6)
    d.fire(code, "report_done", "tl-anju", summary="垃圾已清运，设立警示牌2块")
    d.wait(days=1)
    d.joint_check(code, "tn-yuxi", "tl-anju", ["photos", "site_check", "waste_cleared"])
    return code


def failed_check(d: Demo) -> str:
    """The joint check fails; rectification is reopened and passes the second time."""
    code = d.report(
        "sn-moxi",
        title="别口镇段工业废水排放",
        category="industrial_discharge",
        segment="mx-biekou",
        place="磨溪河别口镇段，工业园区排口",
        lon=105.803,
        lat=30.238,
    )
    d.fire(code, "hand_off", "sn-moxi", receiving="500152104")
    d.wait(days=1)
    d.fire(code, "accept", "tn-biekou")
    d.fire(code, "start_rectify", "tn-biekou", plan="责令企业停产整治，排口加装在线监测", deadline=d.deadline(10))
    d.wait(days=12)
    d.fire(code, "report_done", "tn-biekou", summary="企业已整改，在线监测安装完成")
    d.fire(code, "request_verify", "sn-moxi")
    d.wait(days=1)
    d.fire(code, "fail_check", "sn-moxi", reason="取样COD仍超标", deadline=d.deadline(10))
    d.wait(days=10)
    d.fire(code, "report_done", "tn-biekou", summary="污水处理设施提标改造，复测达标")
    d.wait(days=1)
    d.joint_check(code, "sn-moxi", "tn-biekou", ["photos", "site_check", "permit_checked", "water_sampled"])
    return code


def revisit_rebound_archive(d: Demo, code: str) -> str:
    """The third party revisits a closed issue, finds a rebound, and after the second closure archives it."""
    d.wait(days=30)
    d.fire(code, "start_revisit", "ngo-auditor", note="30日回头看")
    d.fire(code, "rebound", "ngo-auditor", finding="排口附近新设暗管，雨天仍有污水溢流")
    d.wait(days=9)
    d.fire(code, "report_done", "sn-baima", summary="暗管拆除，雨污分流改造完成")
    d.wait(days=1)
    d.joint_check(code, "tn-taian", "sn-baima", ["photos", "site_check", "outfall_closed"])
    d.wait(days=90)
    d.fire(code, "start_revisit", "ngo-auditor", note="90日回头看")
    d.photo(code, "ngo-auditor", "90日回头看现场", murky=False)
    d.fire(code, "no_rebound", "ngo-auditor", finding="现场无排口，水质清澈，未反弹")
    d.fire(code, "archive", "qj-coord", note="回访未反弹，归档")
    return code


def dismissed(d: Demo) -> str:
    """A report that turns out unfounded is dismissed with its reason."""
    code = d.report("tn-taian", title="太安镇段疑似油污", category="other", segment="qj-taian")
    d.fire(code, "investigate", "tn-taian", note="现场核查")
    d.fire(code, "dismiss", "tn-taian", reason="经核查为水生植物腐烂形成的浮膜，非油污")
    return code


def _fresh(database: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{database}{suffix}").unlink(missing_ok=True)


def run(console: Console, database: Path, *, file_reports: bool = True, meetings: bool = True) -> bool:
    """Build a fresh demo database, play the scenarios, print timelines and the ledger check.

    ``meetings=False`` leaves out the year of joint meetings, for the report tests written against the five
    issues alone.
    """
    database = database.resolve()
    _fresh(database)
    shutil.rmtree(database.parent / "mail", ignore_errors=True)
    shutil.rmtree(database.parent / "reports", ignore_errors=True)
    shutil.rmtree(database.parent / "attachments", ignore_errors=True)
    clock = FrozenClock(START)
    app = bootstrap(Settings(database_url=f"sqlite:///{database}", data_dir=database.parent), clock=clock)
    upgrade(app.engine)
    counts = load(app.uow(), parse(DATA))
    load(app.uow(), parse_text(ADMIN, "yaml", "demo admin"))
    layers = import_layers(app.uow(), read_layers(DATA.parent, "qiongjiang"))
    with app.reader() as uow:
        people = list(uow.connection.execute(sa.select(table_of(Person).c.code)).scalars())
    for person in people:
        set_password(app.uow(), person, DEMO_PASSWORD)
    console.rule("琼江流域跨界河流联防联控 · demo")
    console.print(f"database {database}; loaded " + ", ".join(f"{n} {k}" for k, n in counts.items()))
    console.print("map layers (一张图): " + ", ".join(f"{n} {k}" for k, n in layers.items()))
    d = Demo(app, clock)
    codes, ends = [], []
    # The issues run side by side, each starting a few days after the last, as they do in the field.
    for i, scenario in enumerate(
        (plain_handoff, dispute_to_joint_meeting, overdue_to_dispatch, failed_check, dismissed)
    ):
        clock.set(START + timedelta(days=3 * i))
        codes.append(scenario(d))
        ends.append(clock.now())
    clock.set(ends[0])
    revisit_rebound_archive(d, codes[0])
    clock.set(max(clock.now(), *ends))
    play_patrols(app, clock, console)
    held: dict[str, Any] = play_meetings(app, clock) if meetings else {"meetings": [], "bulletins": []}
    _run_scheduled_jobs(app, local_today(START), local_today(clock.now()))
    if meetings:
        show_meetings(app, console, held)
    with app.reader() as uow:
        played = list(list_issues(uow.session, now=clock.now(), compact="QJ"))
        # The first issue's timeline in full (it goes the whole way, rebound and all); the others by one command.
        console.print()
        print_issue(console, issue_view(uow.session, codes[0]))
        others = sorted(i.code for i in played if i.code != codes[0])
        if others:
            shown = f"{command(database)} issue show {' '.join(others)}"
            console.print(
                f"\n其余 {len(others)} 个问题的台账 the other timelines: {shown}",
                soft_wrap=True,  # whole, to be copied as it is
            )
        console.print()
        print_issue_list(console, played)
        bulletins = list(
            uow.session.execute(
                sa.select(Bulletin).where(col(Bulletin.kind) == "monthly").order_by(col(Bulletin.period))
            ).scalars()
        )
        for bulletin in {id(b): b for b in (bulletins[0], bulletins[-1])}.values():  # the busiest month, then the last
            print_bulletin(console, bulletin)
    console.print()
    for kind, options in (
        ()
        if not file_reports
        else (
            ("followup", {"issue": codes[0]}),
            ("bulletin", {"period": "2026-03"}),
            ("minutes", {"period": "2026-03"}),
            *(("minutes", {"meeting": m.code}) for m in held["meetings"]),
            *(("progress", {"period": issued.period}) for issued in held["bulletins"]),
            ("ledger", {"fmt": "xlsx"}),
        )
    ):
        filed = make_and_file(app, kind, **options)
        console.print(f"报告 {kind}: {filed.path}  sha256 {filed.sha256[:16]}…")
    outcomes = app.dispatcher().drain()
    mail = sorted((database.parent / "mail").glob("*.eml")) if (database.parent / "mail").exists() else []
    console.print(
        f"\n通知 notifications: {outcomes.get('sent', 0)} delivered to in-app inboxes, "
        f"{len(mail)} emails written to {database.parent / 'mail'} (no SMTP server configured)"
    )
    with app.reader() as uow:
        report = verify(uow.session)
    print_verify(console, report)
    for line in look_further(database, codes[0]):
        console.print(line, soft_wrap=True)  # whole, to be copied as they are
    return report.ok


def command(database: Path) -> str:
    """This install's riverchief on the demo's database, as a command that works as printed from here."""
    cli = Path(sys.executable).parent / "riverchief"
    try:
        shown = f"{cli.relative_to(Path.cwd())}"
    except ValueError:
        shown = str(cli)
    env = f"RIVERCHIEF_DATABASE_URL=sqlite:///{database.resolve()} RIVERCHIEF_DATA_DIR={database.resolve().parent}"
    return f"{env} {shown}"


def look_further(database: Path, code: str) -> list[str]:
    """What to try next, as commands that work as printed from here (this install's riverchief, the demo's data)."""
    return [
        f"\nLook further: {command(database)} issue show {code}",
        f"              {command(database)} inbox sn-baima",
        f"Pages:        make serve-demo, then http://localhost:8000/ as sn-baima, tn-taian, qj-coord, ngo-auditor "
        f"or qj-admin, password {DEMO_PASSWORD} (demo only)",
    ]


def _run_scheduled_jobs(app: App, first: date, last: date) -> None:
    """What the scheduler would have done over the simulated months: daily seals and monthly bulletins."""
    now = app.clock.now()
    day = first
    while day < last:
        period = day.isoformat()
        run_job(app.uow, "daily_seal", period, now, partial(daily_seal, app.uow, now, period))
        if (day + timedelta(days=1)).day == 1:
            month = f"{day.year}-{day.month:02d}"
            run_job(app.uow, "monthly_bulletin", month, now, partial(monthly_bulletin, app.uow, now, month))
        day += timedelta(days=1)
