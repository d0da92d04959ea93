"""Evidence uploads a client should not be able to abuse: too big, the wrong kind, or a name that climbs out.

Each refusal leaves no trace: no file in the attachment store or anywhere else,
no attachment row, no ledger event, whether the file itself is refused or the step
that would record it. (The configurable limit is covered in
test_api_issues.py, the service's own checks in tests/integration/test_evidence.py.)
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from riverchief.demo.play import DATA
from riverchief.settings import Settings
from tests.factories import REPORTER, Cli, World, blank_png
from web.api import create_api
from workflow.accounts.tokens import create_token
from workflow.core import evidence
from workflow.core.evidence import store_path
from workflow.core.uow import UnitOfWork


@pytest.fixture
def root(sqlite_world: World, tmp_path: Path) -> Path:
    """A folder holding only the data folder, so anything written beside the store shows up in it."""
    root = tmp_path / "root"
    (root / "data").mkdir(parents=True)
    sqlite_world.app.settings.data_dir = root / "data"
    return root


@pytest.fixture
def client(sqlite_world: World, root: Path) -> Iterator[TestClient]:
    with TestClient(create_api(sqlite_world.app)) as test_client:
        yield test_client


@pytest.fixture
def headers(sqlite_world: World) -> dict[str, str]:
    return {"Authorization": f"Bearer {create_token(sqlite_world.app.uow(), REPORTER, 'uploads')[1]}"}


def files_under(folder: Path) -> set[Path]:
    """Every file below ``folder``."""
    return {p for p in folder.rglob("*") if p.is_file()}


def jpeg() -> bytes:
    """A small real JPEG photo."""
    out = io.BytesIO()
    Image.new("RGB", (16, 12), (40, 90, 120)).save(out, "JPEG")
    return out.getvalue()


def gif() -> bytes:
    """A real GIF: an image, but not one of the kinds evidence takes."""
    out = io.BytesIO()
    Image.new("RGB", (4, 4), (200, 10, 10)).save(out, "GIF")
    return out.getvalue()


def test_a_file_one_byte_over_the_default_20_mb_gets_413_and_nothing_is_kept(
    sqlite_world: World, client: TestClient, headers: dict[str, str], root: Path
) -> None:
    limit = Settings.model_fields["upload_max_bytes"].default
    assert limit == 20 * 1024 * 1024
    assert sqlite_world.app.settings.upload_max_bytes == limit
    code = sqlite_world.report()
    before = sqlite_world.counts()

    photo = jpeg()
    over = client.post(
        f"/api/v1/issues/{code}/attachments",
        files={"file": ("big.jpg", photo + b"\0" * (limit + 1 - len(photo)), "image/jpeg")},
        headers=headers,
    )

    assert over.status_code == 413, over.text
    assert [f["field"] for f in over.json()["fields"]] == ["file"]
    assert sqlite_world.counts() == before
    assert [e.trigger for e in sqlite_world.events(code)] == ["report"]
    assert files_under(root) == set()


@pytest.mark.parametrize(
    ("name", "content", "claimed"),
    [
        ("photo.jpg", "水面漂浮物很多，见附件。\n".encode(), "image/jpeg"),
        ("photo.jpg", b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>", "image/jpeg"),
        ("page.html", b"<html><body onload='alert(1)'>evidence</body></html>", "text/html"),
        (
            "outfall.svg",
            b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script><rect width="9" height="9"/></svg>',
            "image/svg+xml",
        ),
        ("photo.png", gif(), "image/png"),
        ("report.pdf", b"MZ\x90\x00" + b"\0" * 60 + b"%PDF-1.7", "application/pdf"),
        ("photo.webp", b"RIFF\x10\x00\x00\x00WAVEfmt ", "image/webp"),
    ],
    ids=[
        "text named photo.jpg",
        "html named photo.jpg",
        "html",
        "svg with script",
        "gif",
        "pdf magic late",
        "riff wav",
    ],
)
def test_a_file_of_the_wrong_kind_gets_415_whatever_its_name_and_nothing_is_kept(
    sqlite_world: World,
    client: TestClient,
    headers: dict[str, str],
    root: Path,
    name: str,
    content: bytes,
    claimed: str,
) -> None:
    code = sqlite_world.report()
    before = sqlite_world.counts()

    refused = client.post(
        f"/api/v1/issues/{code}/attachments", files={"file": (name, content, claimed)}, headers=headers
    )

    assert refused.status_code == 415, refused.text
    assert [f["field"] for f in refused.json()["fields"]] == ["file"]
    assert sqlite_world.counts() == before
    assert [e.trigger for e in sqlite_world.events(code)] == ["report"]
    assert files_under(root) == set()


@pytest.mark.parametrize(
    "name",
    [
        "../../{marker}.jpg",
        "../../../../../../../../tmp/{marker}.jpg",
        "/tmp/{marker}.jpg",
        "..\\..\\{marker}.jpg",
        "attachments/../../{marker}.jpg",
        "{marker}\x00.jpg",
        "..%2F..%2F{marker}.jpg",
    ],
    ids=["dot-dot", "deep dot-dot to /tmp", "absolute", "backslashes", "inside then out", "nul", "encoded"],
)
def test_a_name_that_climbs_out_of_the_store_stores_nothing_outside_it(
    sqlite_world: World, client: TestClient, headers: dict[str, str], root: Path, name: str
) -> None:
    marker = f"escape-{uuid.uuid4().hex[:8]}"
    code = sqlite_world.report()
    photo = jpeg()
    data_dir = sqlite_world.app.settings.data_dir

    answer = client.post(
        f"/api/v1/issues/{code}/attachments",
        files={"file": (name.format(marker=marker), photo, "image/jpeg")},
        headers=headers,
    )

    assert answer.status_code in (201, 422), answer.text
    stored = files_under(root)
    if answer.status_code == 201:
        sha = answer.json()["sha256"]
        assert stored == {store_path(data_dir, sha)}  # the content's hash names the file, never the client
        assert store_path(data_dir, sha).read_bytes() == photo
        recorded = sqlite_world.events(code)[-1].payload["filename"]
        assert Path(recorded).name == recorded not in ("", ".", "..")  # a bare name, never a path
        assert "\\" not in recorded  # nor a path written with the other separator
        assert "\x00" not in recorded
    else:
        assert stored == set()
        assert [e.trigger for e in sqlite_world.events(code)] == ["report"]
    assert not list(root.parent.rglob(f"*{marker}*"))  # the test's whole folder, the database's too
    for place in (Path("/tmp"), Path.cwd(), Path.cwd().parent):
        assert not list(place.glob(f"*{marker}*")), place


@pytest.mark.parametrize(("width", "height"), [(20000, 20000), (9000, 9000)], ids=["400 MP", "81 MP"])
def test_a_decompression_bomb_gets_422_naming_the_file_and_nothing_is_kept(
    sqlite_world: World, client: TestClient, headers: dict[str, str], root: Path, width: int, height: int
) -> None:
    code = sqlite_world.report()
    before = sqlite_world.counts()

    refused = client.post(
        f"/api/v1/issues/{code}/attachments",
        files={"file": ("river.png", blank_png(width, height), "image/png")},
        headers=headers,
    )

    assert refused.status_code == 422, refused.text
    ((field,),) = [(f["field"],) for f in refused.json()["fields"]]
    assert field == "file"
    assert "80 megapixels" in refused.json()["detail"]
    assert sqlite_world.counts() == before
    assert [e.trigger for e in sqlite_world.events(code)] == ["report"]
    assert files_under(root) == set()


def test_a_step_refused_for_who_sends_it_keeps_no_file(sqlite_world: World, client: TestClient, root: Path) -> None:
    code = sqlite_world.report()
    bystander = {"Authorization": f"Bearer {create_token(sqlite_world.app.uow(), 'tl-anju', 'uploads')[1]}"}
    before = sqlite_world.counts()

    refused = client.post(
        f"/api/v1/issues/{code}/attachments", files={"file": ("a.jpg", jpeg(), "image/jpeg")}, headers=bystander
    )

    assert refused.status_code == 403, refused.text  # a member of the compact, but neither side of the issue
    assert sqlite_world.counts() == before
    assert files_under(root) == set()


def test_a_step_refused_as_stale_keeps_no_file(
    sqlite_world: World, client: TestClient, headers: dict[str, str], root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code = sqlite_world.report()
    before = sqlite_world.counts()
    real = evidence.current_version

    def one_behind(uow: UnitOfWork, issue: int | str) -> tuple[int, int]:
        issue_id, version = real(uow, issue)
        return issue_id, version - 1  # someone else's step landed in between

    monkeypatch.setattr(evidence, "current_version", one_behind)
    refused = client.post(
        f"/api/v1/issues/{code}/attachments", files={"file": ("a.jpg", jpeg(), "image/jpeg")}, headers=headers
    )

    assert refused.status_code == 409, refused.text
    assert sqlite_world.counts() == before
    assert files_under(root) == set()


def test_the_cli_refuses_a_decompression_bomb_in_one_line_naming_the_file(tmp_path: Path) -> None:
    cli = Cli(tmp_path)
    cli.ok("init")
    cli.ok("load", str(DATA))
    code = cli.ok("issue", "new", "--as", REPORTER, "--title", "白马镇段排污口", "--category", "domestic_sewage")
    code = code.split(":")[0].strip()
    bomb = tmp_path / "river.png"
    bomb.write_bytes(blank_png(20000, 20000))

    refused = cli("issue", "attach", code, str(bomb), "--as", REPORTER)

    assert refused.returncode == 3, refused.stderr
    assert "Traceback" not in refused.stderr
    (line,) = refused.stderr.strip().splitlines()
    assert line.startswith("error: file: ")
    assert "80 megapixels" in line
    assert not (tmp_path / "attachments").exists()
