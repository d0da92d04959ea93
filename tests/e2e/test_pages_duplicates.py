"""The issue page and duplicates: the originals it may repeat are offered to those who may merge it, and a merge
is shown on both issues."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.e2e.test_pages import client, csrf_of, sign_in  # noqa: F401 (the fixture)
from tests.factories import COORDINATOR, REPORTER, World

LON, LAT = 105.700, 30.204


def test_the_page_offers_nearby_originals_merges_through_its_form_and_links_both_issues(
    sqlite_world: World,
    client: TestClient,  # noqa: F811
) -> None:
    world = sqlite_world
    original = world.report(REPORTER, title="白马镇码头<b>排污口</b>", lon=LON, lat=LAT)
    other_kind = world.report(REPORTER, title="养殖场", category="livestock", lon=LON, lat=LAT)
    duplicate = world.report(REPORTER, title="码头旁排污口", lon=LON + 0.001, lat=LAT)

    sign_in(client, "tl-anju")  # a member of the compact but neither side: may read, may not merge
    page = client.get(f"/issues/{duplicate}").text
    assert 'data-trigger="mark_duplicate"' not in page
    assert 'data-testid="duplicate-candidates"' not in page

    sign_in(client, COORDINATOR)
    page = client.get(f"/issues/{duplicate}").text
    assert 'data-trigger="mark_duplicate"' in page
    candidates = page.split('data-testid="duplicate-candidates"', 1)[1].split("</section>", 1)[0]
    assert f'data-fill="{original}"' in candidates
    assert other_kind not in candidates
    assert f"/issues/{duplicate}" not in candidates
    assert "&lt;b&gt;排污口&lt;/b&gt;" in candidates  # the title escaped

    version = world.issue(duplicate).version
    form = {"csrf_token": csrf_of(page), "trigger": "mark_duplicate", "expected_version": str(version)}
    refused = client.post(f"/issues/{duplicate}/act", data=form | {"of": duplicate, "reason": "同一排口"})
    assert refused.status_code == 422
    assert 'data-testid="error-of"' in refused.text

    done = client.post(
        f"/issues/{duplicate}/act", data=form | {"of": original, "reason": "同一排口"}, follow_redirects=False
    )
    assert done.status_code == 303, done.text
    merged = client.get(f"/issues/{duplicate}").text
    assert "重复上报，原问题" in merged
    assert f'href="/issues/{original}"' in merged.split('data-testid="duplicate-of"', 1)[1].split("</p>", 1)[0]
    first = client.get(f"/issues/{original}").text
    listed = first.split('data-testid="duplicates"', 1)[1].split("</section>", 1)[0]
    assert f'href="/issues/{duplicate}"' in listed
    assert 'data-trigger="duplicate_linked"' in first  # the timeline records it
    assert 'data-trigger="duplicate_linked"' not in first.split('id="h-photos"', 1)[0]  # never offered as an action
