"""The auditor's revisit form as a browser without script uses it: the finding, photos that say when and where they
were taken, the outcome in the ledger; a refused outcome keeps what was written and records nothing."""

from __future__ import annotations

import hashlib
import html
import io
import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from tests.factories import AUDITOR, COORDINATOR, RECEIVER, REPORTER, World, jpeg_with_gps, walk_to
from web.api import create_api
from workflow.accounts.signin import set_password
from workflow.core.evidence import store_path

PASSWORD = "琼江清水长流-2026"
# Taken at 10:15 on 2 March 2026, Beijing time, at 30°12'28.8"N 105°42'10.8"E.
ON_SITE = jpeg_with_gps((30.0, 12.0, 28.8), (105.0, 42.0, 10.8), "2026:03:02 10:15:00")
FINDING = "排口保持封堵，<b>水体清澈</b>"


def plain_png() -> bytes:
    """A photo whose file says nothing of when or where it was taken."""
    out = io.BytesIO()
    Image.new("RGB", (40, 30), (90, 120, 40)).save(out, "PNG")
    return out.getvalue()


@pytest.fixture
def client(sqlite_world: World) -> Iterator[TestClient]:
    for person in (AUDITOR, COORDINATOR, REPORTER):
        set_password(sqlite_world.app.uow(), person, PASSWORD)
    with TestClient(create_api(sqlite_world.app)) as test_client:
        sign_in(test_client, AUDITOR)
        yield test_client


def sign_in(client: TestClient, person: str) -> None:
    answer = client.post("/login", data={"person": person, "password": PASSWORD, "next": "/"}, follow_redirects=False)
    assert answer.status_code == 303


def revisiting(world: World) -> str:
    """An issue closed, its revisit started by the auditor."""
    code = world.report()
    walk_to(world, code, "start_revisit")
    return code


def form_of(page: str) -> dict[str, str]:
    """The revisit form's hidden fields as the page drew them."""
    form = re.search(r'<section class="card revisit".*?</section>', page, re.S)
    assert form is not None, "no revisit form on the page"
    return dict(re.findall(r'type="hidden" name="([a-z_]+)" value="([^"]*)"', form.group(0)))


def post(client: TestClient, code: str, fields: dict[str, str], photos: list[tuple[str, bytes]] = ()) -> object:
    files = [("photos", (name, content, "application/octet-stream")) for name, content in photos]
    return client.post(f"/issues/{code}/revisit", data=fields, files=files or None, follow_redirects=False)


def test_the_issue_page_offers_the_revisit_form_instead_of_two_generic_outcome_forms(
    sqlite_world: World, client: TestClient
) -> None:
    code = revisiting(sqlite_world)
    page = client.get(f"/issues/{code}").text
    assert 'data-testid="revisit"' in page
    assert re.findall(r'<details class="action" data-trigger="([a-z_]+)"', page) == []
    assert 'data-testid="no-actions"' not in page
    outcomes = re.findall(r'name="outcome" value="([a-z_]+)"', page)
    assert outcomes == ["no_rebound", "rebound"]
    assert 'enctype="multipart/form-data"' in page
    # The other side's people see no revisit form.
    sign_in(client, REPORTER)
    assert 'data-testid="revisit"' not in client.get(f"/issues/{code}").text


def test_photos_uploaded_first_say_when_and_where_they_were_taken(sqlite_world: World, client: TestClient) -> None:
    code = revisiting(sqlite_world)
    fields = form_of(client.get(f"/issues/{code}").text)
    answer = post(
        client,
        code,
        {**fields, "finding": FINDING, "step": "photos"},
        [("排口.jpg", ON_SITE), ("截图.png", plain_png())],
    )
    assert answer.status_code == 200
    facts = re.findall(r'data-testid="photo-facts">([^<]+)<', answer.text)
    assert facts == ["拍摄于 2026-03-02 10:15 · 30.2080°N 105.7030°E", "照片无拍摄时间/位置"]
    assert answer.text.count('<ul class="shots"') == 1
    # The issue's own photo list says the place the same way, not as bare numbers.
    assert re.findall(r'data-testid="photo-place">([^<]+)<', answer.text) == ["30.2080°N 105.7030°E"]
    assert f"/api/v1/issues/{code}/attachments/{hashlib.sha256(ON_SITE).hexdigest()}" in answer.text
    # What was written is kept (escaped) while the photos are checked; nothing is decided yet.
    assert html.escape(FINDING, quote=False) in answer.text
    assert sqlite_world.issue(code).state == "du.revisiting"
    # Sending it again (a reload) adds nothing.
    again = post(client, code, {**fields, "finding": FINDING, "step": "photos"}, [("排口.jpg", ON_SITE)])
    assert again.status_code == 200
    assert [e.trigger for e in sqlite_world.events(code)].count("add_evidence") == 2


def test_the_outcome_is_recorded_after_its_photos_with_the_finding(sqlite_world: World, client: TestClient) -> None:
    code = revisiting(sqlite_world)
    before = sqlite_world.issue(code).version
    fields = form_of(client.get(f"/issues/{code}").text)
    answer = post(
        client, code, {**fields, "finding": FINDING, "outcome": "no_rebound", "step": "outcome"}, [("a.jpg", ON_SITE)]
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/issues/{code}?done=no_rebound"
    events = sqlite_world.events(code)
    assert [(e.seq, e.trigger) for e in events[-2:]] == [(before + 1, "add_evidence"), (before + 2, "no_rebound")]
    assert events[-1].payload == {"finding": FINDING}
    assert sqlite_world.issue(code).state == "du.closed"
    # The page after it: done, the finding in the timeline, and no form left.
    shown = client.get(answer.headers["location"]).text
    assert "已提交：回访未反弹" in shown
    assert html.escape(FINDING, quote=False) in shown
    assert 'data-testid="revisit"' not in shown


def test_a_rebound_goes_back_to_rectification_by_the_deadline_given(sqlite_world: World, client: TestClient) -> None:
    code = revisiting(sqlite_world)
    fields = form_of(client.get(f"/issues/{code}").text)
    deadline = sqlite_world.deadline(5)
    answer = post(
        client,
        code,
        {**fields, "finding": "排口又有污水", "outcome": "rebound", "deadline": deadline, "step": "outcome"},
    )
    assert answer.status_code == 303
    issue = sqlite_world.issue(code)
    assert issue.state == "ban.rectifying"
    assert issue.rectify_deadline.isoformat() == deadline
    assert sqlite_world.events(code)[-1].payload == {"finding": "排口又有污水", "deadline": deadline}


def test_a_missing_finding_is_named_and_nothing_is_recorded_not_even_the_photos(
    sqlite_world: World, client: TestClient
) -> None:
    code = revisiting(sqlite_world)
    fields = form_of(client.get(f"/issues/{code}").text)
    counts = sqlite_world.counts()
    answer = post(client, code, {**fields, "finding": "  ", "outcome": "no_rebound"}, [("a.jpg", ON_SITE)])
    assert answer.status_code == 422
    assert re.search(r'data-testid="error-finding">必填<', answer.text)
    flash = re.search(r'data-testid="flash">([^<]+)<', answer.text)
    assert flash is not None
    assert "请修改回访情况：必填" in flash.group(1)
    assert "所选照片未上传，请重新选择" in flash.group(1)
    assert 'id="revisit-finding" name="finding"' in answer.text
    assert 'value="no_rebound" required checked' in answer.text  # the outcome chosen is kept too
    assert sqlite_world.counts() == counts
    assert not store_path(sqlite_world.app.settings.data_dir, hashlib.sha256(ON_SITE).hexdigest()).exists()
    assert sqlite_world.issue(code).state == "du.revisiting"


def test_no_outcome_chosen_is_named_with_the_finding_kept(sqlite_world: World, client: TestClient) -> None:
    code = revisiting(sqlite_world)
    fields = form_of(client.get(f"/issues/{code}").text)
    answer = post(client, code, {**fields, "finding": FINDING})
    assert answer.status_code == 422
    assert re.search(r'data-testid="error-outcome">请选择未反弹或反弹<', answer.text)
    assert html.escape(FINDING, quote=False) + "</textarea>" in answer.text
    assert 'data-testid="error-finding"' not in answer.text


def test_a_stale_version_is_refused_with_the_finding_kept_and_nothing_recorded(
    sqlite_world: World, client: TestClient
) -> None:
    code = revisiting(sqlite_world)
    fields = form_of(client.get(f"/issues/{code}").text)
    # Someone else adds a photo after the page was drawn.
    sign_in(client, COORDINATOR)
    page = client.get(f"/issues/{code}").text
    added = client.post(
        f"/issues/{code}/photos",
        data={"csrf_token": re.findall(r'name="csrf_token" value="([^"]+)"', page)[0]},
        files=[("photos", ("b.png", plain_png(), "image/png"))],
        follow_redirects=False,
    )
    assert added.status_code == 303
    sign_in(client, AUDITOR)
    fields["csrf_token"] = form_of(client.get(f"/issues/{code}").text)["csrf_token"]
    counts = sqlite_world.counts()
    answer = post(client, code, {**fields, "finding": FINDING, "outcome": "no_rebound"}, [("a.jpg", ON_SITE)])
    assert answer.status_code == 409
    assert "该问题已被他人更新" in answer.text
    assert html.escape(FINDING, quote=False) + "</textarea>" in answer.text
    assert form_of(answer.text)["expected_version"] == str(sqlite_world.issue(code).version)
    assert sqlite_world.counts() == counts
    assert sqlite_world.issue(code).state == "du.revisiting"


def test_a_revisit_someone_else_recorded_says_the_finding_back(sqlite_world: World, client: TestClient) -> None:
    code = revisiting(sqlite_world)
    fields = form_of(client.get(f"/issues/{code}").text)
    sqlite_world.fire(code, "no_rebound", AUDITOR, finding="已回访")
    answer = post(client, code, {**fields, "finding": FINDING, "outcome": "no_rebound"})
    assert answer.status_code == 409
    assert "您填写的回访情况未保存：" + html.escape(FINDING, quote=False) in answer.text


def test_a_past_deadline_is_refused_in_the_pages_language(sqlite_world: World, client: TestClient) -> None:
    code = revisiting(sqlite_world)
    fields = form_of(client.get(f"/issues/{code}").text)
    data = {**fields, "finding": "反弹", "outcome": "rebound", "deadline": "2026-01-05"}
    answer = post(client, code, data)
    assert answer.status_code == 422
    assert re.search(r'data-testid="error-deadline">2026-01-05 已过（今天是 2026-03-\d\d）<', answer.text)
    client.get("/lang/en")
    answer = post(client, code, data)
    assert re.search(r'data-testid="error-deadline">2026-01-05 is in the past \(today is 2026-03-\d\d\)<', answer.text)
    assert "Please correct New rectification deadline: 2026-01-05 is in the past" in answer.text
    # The form itself is in English too: no Chinese but what the auditor wrote.
    section = re.search(r'<section class="card revisit".*?</section>', answer.text, re.S)
    assert section is not None
    words = re.sub(r"<textarea[^>]*>.*?</textarea>|<[^>]+>", " ", section.group(0), flags=re.S)
    assert re.findall(r"[\u4e00-\u9fff]+", words) == []
    assert "Record the outcome" in words


def test_an_archive_refused_by_its_guard_says_why_in_the_pages_language(
    sqlite_world: World, client: TestClient
) -> None:
    code = sqlite_world.report()
    walk_to(sqlite_world, code, "no_rebound")
    sign_in(client, COORDINATOR)
    page = client.get(f"/issues/{code}").text
    assert 'data-trigger="archive"' in page
    # Before the archive is sent, another revisit finds a rebound and the issue is closed again.
    sqlite_world.fire(code, "start_revisit", AUDITOR)
    sqlite_world.fire(code, "rebound", AUDITOR, finding="反弹")
    sqlite_world.fire(code, "report_done", RECEIVER, summary="再次封堵")
    sqlite_world.fire(code, "request_verify", REPORTER)
    for side in (RECEIVER, REPORTER):
        sqlite_world.fire(code, "pass_check", side, checklist=["photos", "site_check", "outfall_closed"])
    sqlite_world.fire(code, "close", REPORTER)
    version = str(sqlite_world.issue(code).version)
    data = {"csrf_token": re.findall(r'name="csrf_token" value="([^"]+)"', page)[0], "trigger": "archive"}
    answer = client.post(f"/issues/{code}/act", data={**data, "expected_version": version})
    assert answer.status_code == 422
    flash = re.search(r'data-testid="flash">([^<]+)<', answer.text)
    assert flash is not None
    assert flash.group(1) == "暂不能归档：须先完成一次未发现反弹的回头看"
    client.get("/lang/en")
    answer = client.post(f"/issues/{code}/act", data={**data, "expected_version": version})
    flash = re.search(r'data-testid="flash">([^<]+)<', answer.text)
    assert flash is not None
    assert "because archiving needs a revisit that found no rebound" in flash.group(1)
    assert "回头看" not in flash.group(1)
