"""Routing a point on made-up polygons: the jurisdiction, the sides near a border, the segment and its bank."""

import math

import numpy as np
import pytest
import shapely
from shapely.affinity import affine_transform

from bench.routing import make_map
from workflow.core.errors import ValidationFailed
from workflow.maps.router import Area, Line, Router, metres_per_degree

# Two districts side by side and a third to the north-east, 0.1° a side near 30°N:
#
#   30.10 +----------+----------+
#         |    |     |    N     |
#         | W1 | W2  +----------+ 30.05   (three meet at 105.10, 30.05)
#         |    |     |    E     |
#   30.00 +----------+----------+
#      105.00 105.05 105.10   105.20
#
# W is divided into the townships W1 and W2; the river runs south along the W2 / E border.
W = Area("500152", "潼南区", shapely.box(105.00, 30.00, 105.10, 30.10), "/500000/500152/")
W1 = Area("500152101", "崇龛镇", shapely.box(105.00, 30.00, 105.05, 30.10), "/500000/500152/500152101/")
W2 = Area("500152102", "太安镇", shapely.box(105.05, 30.00, 105.10, 30.10), "/500000/500152/500152102/")
E = Area("510904", "安居区", shapely.box(105.10, 30.00, 105.20, 30.05), "/510000/510900/510904/")
N = Area("512021", "安岳县", shapely.box(105.10, 30.05, 105.20, 30.10), "/510000/512000/512021/")
AREAS = [W, W1, W2, E, N]
BORDER_RIVER = Line("qj-border", "琼江界河段", [[105.10, 30.04], [105.10, 30.00]])  # drawn downstream: south
KX, KY = metres_per_degree(30.02)


def east(lon: float, metres: float) -> float:
    """The longitude ``metres`` east of ``lon`` near 30.02°N."""
    return lon + metres / KX


def router(border_m: float = 200.0, segment_max_m: float = 2000.0) -> Router:
    """The five areas and the border river."""
    return Router(AREAS, [BORDER_RIVER], border_m=border_m, segment_max_m=segment_max_m)


def test_a_degree_has_the_length_of_the_standard_tables_at_30_degrees() -> None:
    per_lon, per_lat = metres_per_degree(30.0)
    assert per_lon == pytest.approx(96_486, abs=2)
    assert per_lat == pytest.approx(110_852, abs=2)


def test_a_point_inside_goes_to_the_deepest_jurisdiction_and_only_to_it() -> None:
    routed = router().route(105.02, 30.07)
    assert routed.jurisdiction == W1.code
    assert routed.sides == (W1.code,)


def test_the_parent_is_chosen_where_no_child_polygon_is_drawn() -> None:
    routed = Router([W, W1, E]).route(105.07, 30.07)
    assert routed.jurisdiction == W.code
    assert routed.sides == (W.code,)


def test_a_point_far_from_every_segment_has_no_segment_and_no_bank() -> None:
    routed = router().route(105.02, 30.07)  # about 7.7 km west of the river
    assert (routed.segment, routed.bank, routed.distance_m) == (None, None, None)


def test_a_point_on_a_shared_border_has_both_sides_and_a_deterministic_jurisdiction() -> None:
    on_border = (105.05, 30.07)
    forward = router().route(*on_border)
    backward = Router(list(reversed(AREAS)), [BORDER_RIVER]).route(*on_border)
    assert set(forward.sides) == {W1.code, W2.code}
    # Same depth on both sides: the lower division code.
    assert forward.jurisdiction == backward.jurisdiction == W1.code
    assert forward.sides == backward.sides == (W1.code, W2.code)


def test_on_a_border_between_trees_the_deeper_side_wins() -> None:
    routed = router().route(105.10, 30.02)  # on W2 (township) | E (district)
    assert routed.jurisdiction == W2.code
    assert routed.sides == (W2.code, E.code)


def test_a_point_in_the_border_river_gets_both_sides_within_border_m() -> None:
    east_bank = router().route(east(105.10, 50), 30.02)
    west_bank = router().route(east(105.10, -50), 30.02)
    assert east_bank.jurisdiction == E.code
    assert east_bank.sides == (E.code, W2.code)
    assert west_bank.jurisdiction == W2.code
    assert west_bank.sides == (W2.code, E.code)
    assert east_bank.segment == west_bank.segment == "qj-border"
    assert east_bank.distance_m == pytest.approx(50, abs=0.01)


def test_beyond_border_m_only_the_own_side_remains() -> None:
    point = (east(105.10, 300), 30.02)
    assert router().route(*point).sides == (E.code,)
    assert router(border_m=400).route(*point).sides == (E.code, W2.code)


def test_near_the_corner_of_three_jurisdictions_all_three_are_sides() -> None:
    routed = router().route(east(105.10, 30), 30.05 + 30 / KY)  # 30 m into N from the corner
    assert routed.jurisdiction == N.code
    assert routed.sides[0] == N.code
    assert set(routed.sides) == {N.code, E.code, W2.code}


def test_the_bank_is_taken_facing_downstream() -> None:
    point = (east(105.10, 50), 30.02)  # east of a river flowing south: its left bank
    assert router().route(*point).bank == "left_bank"
    assert router().route(east(105.10, -50), 30.02).bank == "right_bank"
    upstream = Line("qj-border", "琼江界河段", list(reversed(BORDER_RIVER.coords)))  # drawn north instead
    assert Router(AREAS, [upstream]).route(*point).bank == "right_bank"


def test_the_bank_is_right_outside_a_bend_and_at_its_vertex() -> None:
    # Flowing east, then turning left to the north at (105.01, 30.20).
    bend = Router([], [Line("bend", "弯道", [[105.00, 30.20], [105.01, 30.20], [105.01, 30.21]])])
    outside = bend.route(105.01 + 20 / KX, 30.20 - 20 / KY)  # south-east of the vertex: nearest is the vertex
    inside = bend.route(105.01 - 20 / KX, 30.20 + 30 / KY)
    assert outside.bank == "right_bank"
    assert outside.distance_m == pytest.approx(math.hypot(20, 20), rel=1e-3)
    assert inside.bank == "left_bank"


def test_the_segment_must_lie_within_segment_max_m() -> None:
    point = (east(105.10, 1500), 30.02)
    assert router().route(*point).distance_m == pytest.approx(1500, abs=0.1)
    assert router(segment_max_m=1000).route(*point).segment is None


def test_the_nearest_of_two_segments_is_chosen() -> None:
    other = Line("other", "支流", [[east(105.10, 120), 30.04], [east(105.10, 120), 30.00]])
    routed = Router(AREAS, [BORDER_RIVER, other]).route(east(105.10, 80), 30.02)
    assert (routed.segment, routed.bank) == ("other", "right_bank")
    assert routed.distance_m == pytest.approx(40, abs=0.01)


def test_two_segments_equally_near_at_their_shared_vertex_give_the_lower_code() -> None:
    upstream = Line("qj-b", "上游段", [[105.00, 30.30], [105.01, 30.30]])  # flowing east
    downstream = Line("qj-a", "下游段", [[105.01, 30.30], [105.02, 30.30]])
    north_of_the_vertex = (105.01, 30.30 + 40 / KY)
    for order in ([upstream, downstream], [downstream, upstream]):
        routed = Router([], order).route(*north_of_the_vertex)
        assert (routed.segment, routed.bank) == ("qj-a", "left_bank")
        assert routed.distance_m == pytest.approx(40, abs=0.01)


def test_a_point_in_a_gap_just_outside_goes_to_the_nearest_within_border_m() -> None:
    south = 30.00 - 100 / KY
    assert router().route(105.02, south).jurisdiction == W1.code
    assert router().route(105.02, 30.00 - 500 / KY).jurisdiction is None
    assert router().route(105.02, 30.00 - 500 / KY).sides == ()


def test_a_sensitive_area_within_border_m_is_flagged() -> None:
    intake = Area("intake-1", "取水口", shapely.Point(105.03, 30.05))
    mapped = Router(AREAS, [BORDER_RIVER], [intake])
    assert mapped.route(105.03, 30.05 + 150 / KY).sensitive == ("intake-1",)
    assert mapped.route(105.03, 30.05 + 250 / KY).sensitive == ()


def test_an_empty_map_routes_nowhere() -> None:
    routed = Router([]).route(105.0, 30.0)
    assert (routed.jurisdiction, routed.segment, routed.sides) == (None, None, ())


@pytest.mark.parametrize(("lon", "lat", "field"), [(200.0, 30.0, "lon"), (105.0, 95.0, "lat"), (math.nan, 30, "lon")])
def test_a_position_off_the_globe_is_refused(lon: float, lat: float, field: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        router().route(lon, lat)
    assert refused.value.field == field


def test_on_a_tessellation_the_router_agrees_with_brute_force_on_every_point() -> None:
    areas, _ = make_map(cells=120, parents=8, segments=0, seed=3)
    mapped = Router(areas, border_m=2000)
    rng = np.random.default_rng(5)
    for lon, lat in rng.uniform((103.0, 28.0), (108.0, 33.0), (300, 2)).tolist():
        routed = mapped.route(lon, lat)
        kx, ky = metres_per_degree(lat)
        # Every polygon projected whole onto the tangent plane at the point, no index, no clipping.
        plane = [kx, 0, 0, ky, -lon * kx, -lat * ky]
        metres = {a.code: affine_transform(a.geometry, plane).distance(shapely.Point(0, 0)) for a in areas}
        holding = [a for a in areas if metres[a.code] == 0.0]
        assert routed.jurisdiction == max(holding, key=lambda a: a.path.count("/")).code
        near = [a for a in areas if metres[a.code] <= 2000]
        leaves = {a.code for a in near if not any(b.path != a.path and b.path.startswith(a.path) for b in near)}
        assert set(routed.sides) == leaves
        assert routed.sides[0] == routed.jurisdiction
