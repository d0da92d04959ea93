"""The shared fixtures work end to end on every dialect."""

from tests.factories import World, walk_to


def test_an_issue_walks_the_whole_happy_path_to_archived(world: World) -> None:
    code = world.report()
    walk_to(world, code, "archive")
    issue = world.issue(code)
    assert issue.state == "archived"
    assert issue.version == len(world.events(code)) == 13
