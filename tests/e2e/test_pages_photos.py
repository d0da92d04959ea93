"""Photos on the pages: a report with a refused photo creates nothing, a bomb is a clear refusal, never a 500.

The /report form and an issue page's photo form both check every photo before
anything is written: a refused one is named with its reason in the person's
language, and nothing is reported, recorded or stored. Should a photo still fail
once the issue exists, the issue page the report goes on to says which one and why.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from PIL import Image
from sqlmodel import col

from tests.factories import REPORTER, World, blank_png
from web.api import create_api
from workflow.accounts.signin import set_password
from workflow.core import evidence
from workflow.core.models import Issue
from workflow.core.uow import UnitOfWork

PASSWORD = "琼江清水长流-2026"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script><rect width="9" height="9"/></svg>'


@pytest.fixture
def data_dir(sqlite_world: World, tmp_path: Path) -> Path:
    """The app's data folder, apart from the database, so every stored file shows up in it."""
    folder = tmp_path / "data"
    folder.mkdir()
    sqlite_world.app.settings.data_dir = folder
    return folder


@pytest.fixture
def client(sqlite_world: World, data_dir: Path) -> Iterator[TestClient]:
    set_password(sqlite_world.app.uow(), REPORTER, PASSWORD)
    with TestClient(create_api(sqlite_world.app)) as test_client:
        answer = test_client.post("/login", data={"person": REPORTER, "password": PASSWORD, "next": "/"})
        assert answer.status_code == 200, answer.text
        yield test_client


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found is not None
    return found.group(1)


def jpeg() -> bytes:
    """A small real JPEG photo."""
    out = io.BytesIO()
    Image.new("RGB", (16, 12), (40, 90, 120)).save(out, "JPEG")
    return out.getvalue()


def files_under(folder: Path) -> set[Path]:
    """Every file below ``folder``."""
    return {p for p in folder.rglob("*") if p.is_file()}


def issue_count(world: World) -> int:
    with world.app.reader() as uow:
        return int(uow.session.execute(sa.select(sa.func.count()).select_from(Issue)).scalar_one())


def newest_issue(world: World) -> str:
    with world.app.reader() as uow:
        return str(uow.session.execute(sa.select(col(Issue.code)).order_by(col(Issue.id).desc())).scalars().first())


def send_report(client: TestClient, photos: list[tuple[str, bytes, str]]) -> httpx.Response:
    """Post the /report form with these photos, as the page's form does."""
    form = client.get("/report")
    return client.post(
        "/report",
        data={
            "csrf_token": csrf_of(form.text),
            "compact": "QJ",
            "category": "domestic_sewage",
            "title": "白马镇段排污口",
            "segment": "qj-baima",
        },
        files=[("photos", photo) for photo in photos],
        follow_redirects=False,
    )


REFUSED = pytest.mark.parametrize(
    ("name", "content", "claimed", "reason"),
    [
        ("outfall.svg", SVG, "image/svg+xml", "只接受 JPEG、PNG、WebP 照片或 PDF 文档"),
        ("river.png", blank_png(20000, 20000), "image/png", "图像超过 80 百万像素的上限"),
        ("river.png", blank_png(9000, 9000), "image/png", "图像超过 80 百万像素的上限"),
    ],
    ids=["svg", "400 MP bomb", "81 MP bomb"],
)


@REFUSED
def test_a_report_with_a_refused_photo_creates_nothing_and_names_the_photo(
    sqlite_world: World, client: TestClient, data_dir: Path, name: str, content: bytes, claimed: str, reason: str
) -> None:
    before = sqlite_world.counts()

    answer = send_report(client, [("good.jpg", jpeg(), "image/jpeg"), (name, content, claimed)])

    assert answer.status_code == 422, answer.text
    html = answer.text
    error = re.search(r'data-testid="error-photos">([^<]*)<', html)
    assert error is not None, html
    assert f"“{name}” 未能上传：{reason}" in error.group(1)
    assert "good.jpg" not in error.group(1)
    assert 'value="白马镇段排污口"' in html  # what was typed is kept
    assert sqlite_world.counts() == before
    assert files_under(data_dir) == set()


def test_a_refused_photo_on_the_report_page_is_named_in_english_too(
    sqlite_world: World, client: TestClient, data_dir: Path
) -> None:
    client.cookies.set("rc_lang", "en")
    answer = send_report(client, [("river.png", blank_png(20000, 20000), "image/png")])
    assert answer.status_code == 422
    assert "“river.png” was not uploaded: the image is over the limit of 80 megapixels" in answer.text
    assert issue_count(sqlite_world) == 0


def test_a_report_with_good_photos_creates_the_issue_with_them(
    sqlite_world: World, client: TestClient, data_dir: Path
) -> None:
    answer = send_report(client, [("a.jpg", jpeg(), "image/jpeg"), ("b.png", blank_png(40, 30), "image/png")])

    assert answer.status_code == 303, answer.text
    code = newest_issue(sqlite_world)
    assert answer.headers["location"] == f"/issues/{code}?done=report"
    assert [e.trigger for e in sqlite_world.events(code)] == ["report", "add_evidence", "add_evidence"]
    assert len(files_under(data_dir)) == 2
    page = client.get(answer.headers["location"])
    assert page.text.count("/attachments/") >= 2
    assert "未能添加" not in page.text


def _stale(monkeypatch: pytest.MonkeyPatch) -> None:
    real = evidence.current_version

    def one_behind(uow: UnitOfWork, issue: int | str) -> tuple[int, int]:
        issue_id, version = real(uow, issue)
        return issue_id, version - 1  # someone else's step landed in between

    monkeypatch.setattr(evidence, "current_version", one_behind)


@pytest.mark.parametrize(
    ("trouble", "why"),
    [("stale", "该问题同时被他人更新"), ("disk", "文件未能保存")],
    ids=["someone else's step", "the store cannot be written"],
)
def test_a_photo_that_fails_once_the_issue_exists_is_named_on_the_issue_page(
    sqlite_world: World,
    client: TestClient,
    data_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    trouble: str,
    why: str,
) -> None:
    if trouble == "stale":
        _stale(monkeypatch)
    else:
        (data_dir / "attachments").write_bytes(b"")  # a file where the folder should be

    answer = send_report(client, [("outfall.jpg", jpeg(), "image/jpeg")])

    assert answer.status_code == 303, answer.text
    code = newest_issue(sqlite_world)
    assert [e.trigger for e in sqlite_world.events(code)] == ["report"]
    page = client.get(answer.headers["location"])
    assert page.status_code == 200
    flash = re.search(r'data-testid="photos-refused"[^>]*>(.*?)</', page.text, re.S)
    assert flash is not None, page.text
    assert "“outfall.jpg”" in flash.group(1)
    assert why in flash.group(1)
    assert files_under(data_dir) <= {data_dir / "attachments"}  # at most the file the test put in the way


@REFUSED
def test_photos_refused_on_the_issue_page_are_named_and_none_is_kept(
    sqlite_world: World, client: TestClient, data_dir: Path, name: str, content: bytes, claimed: str, reason: str
) -> None:
    code = sqlite_world.report()
    before = sqlite_world.counts()
    page = client.get(f"/issues/{code}")

    answer = client.post(
        f"/issues/{code}/photos",
        data={"csrf_token": csrf_of(page.text)},
        files=[("photos", ("good.jpg", jpeg(), "image/jpeg")), ("photos", (name, content, claimed))],
        follow_redirects=False,
    )

    assert answer.status_code == 422, answer.text
    assert f"“{name}” 未能上传：{reason}" in answer.text
    assert sqlite_world.counts() == before
    assert files_under(data_dir) == set()
