"""The demo's building load and car timetable: pure functions of the time of day."""

import pytest

from demo.building import APPLIANCES, DemoClock, building_load, heat_pump_on
from demo.schedule import VISITS, _within, visit_at
from demo.site import CHARGERS, demo_site, site_lines

FUSE_A = demo_site().fuse_a


def test_clock_compresses_a_day() -> None:
    clock = DemoClock(day_s=1200, start_h=16)
    assert clock.hour(0) == 16
    assert clock.hour(300) == pytest.approx(22)
    assert clock.hour(600) == pytest.approx(4)
    assert clock.hour(1200) == pytest.approx(16)


def test_building_load_stays_under_the_fuse_and_moves() -> None:
    loads = [building_load(minute / 60) for minute in range(24 * 60)]
    assert all(0 < current < FUSE_A - 10 for load in loads for current in load)
    # Steps large enough to move the chargers' limits.
    for phase in range(3):
        currents = [load[phase] for load in loads]
        assert max(currents) - min(currents) >= 8
    assert building_load(3.0) == building_load(27.0)


def test_dinner_hob_is_a_step_on_l1_and_l2() -> None:
    before, during = building_load(17.5), building_load(17.7)
    assert during[0] - before[0] >= 7
    assert during[1] - before[1] >= 5
    assert abs(during[2] - before[2]) < 1
    assert any(a.name == "hob (dinner)" and a.on(17.7) for a in APPLIANCES)


def test_heat_pump_cycles_more_at_night() -> None:
    def share(start_h: float) -> float:
        minutes = [start_h + m / 60 for m in range(180)]
        return sum(heat_pump_on(h) for h in minutes) / len(minutes)

    assert 0 < share(15.0) < share(3.0) < 1


def test_wrapping_windows() -> None:
    assert _within(23.0, 22.0, 6.0)
    assert _within(1.0, 22.0, 6.0)
    assert not _within(12.0, 22.0, 6.0)
    assert _within(6.5, 6.0, 7.0)


def test_timetable_fits_the_chargers() -> None:
    added = {c.charge_point_id: c for c in CHARGERS}
    for visit in VISITS:
        charger = added[visit.charge_point_id]
        assert visit.phases <= 3
        assert charger.spec.phases == 3 or visit.phases == 1
    # Never two cars on one charge point at once.
    for cp_id in added:
        for minute in range(24 * 60):
            hour = minute / 60
            present = [v for v in VISITS if v.charge_point_id == cp_id and v.present(hour)]
            assert len(present) <= 1, (cp_id, hour)


def test_demo_starts_busy() -> None:
    """A newcomer sees cars within the first simulated hour, and more through the evening."""
    first_hour = {v.charge_point_id for v in VISITS if v.present(16.6)}
    assert len(first_hour) >= 3
    evening = {v.charge_point_id for v in VISITS if v.present(18.1)}
    assert len(evening) >= 4


def test_full_car_stops_drawing() -> None:
    visit = next(v for v in VISITS if v.full_h is not None and v.arrive_h > v.full_h)
    assert visit_at(VISITS, visit.charge_point_id, visit.arrive_h + 0.1) is visit
    assert visit.car_now(visit.arrive_h + 0.1).max_a == visit.max_a
    assert not visit.full(visit.arrive_h + 0.1)
    assert visit.full(visit.full_h + 0.1)
    assert visit.car_now(visit.full_h + 0.1).currents(16.0) == [0.0, 0.0, 0.0]
    assert visit_at(VISITS, visit.charge_point_id, visit.leave_h + 0.01) is not visit


def test_meter_adds_chargers_on_their_wired_lines() -> None:
    by_id = {c.charge_point_id: c for c in CHARGERS}
    rotated, single = by_id["DEMO-GARAGE"], by_id["DEMO-VISITOR"]
    assert rotated.lines == (1, 2, 0)
    assert single.lines == (1,)
    lines = site_lines((1.0, 1.0, 1.0), [(rotated, [10.0, 10.0, 0.0]), (single, [16.0, 0, 0])])
    assert lines == (1.0, 27.0, 11.0)
