"""The currents chargers fall back to by themselves when nothing controls them."""

from __future__ import annotations

from custom_components.ev_load_balancer.balancing.fallback import fallback_currents

from .helpers import L1, L2, charger, group, site


def test_every_charger_keeps_the_failsafe_current_where_the_fuse_holds_them_all() -> None:
    config = site(*(charger(f"cp{i}") for i in range(3)), fuse_a=25.0, failsafe_a=6.0)
    # 3 x 6 A = 18 A of the 25 - 2 A the site keeps free.
    assert fallback_currents(config) == {"cp0": 6.0, "cp1": 6.0, "cp2": 6.0}


def test_more_chargers_than_the_fuse_holds_leave_the_rest_at_zero() -> None:
    chargers = [charger(f"cp{i:02}") for i in range(50)]
    chargers[30] = charger("cp30", priority=1)
    config = site(*chargers, fuse_a=63.0, failsafe_a=6.0)
    fallback = fallback_currents(config)
    # (63 - 2) / 6: ten chargers, the one of higher priority first, then by id.
    assert [key for key, amps in fallback.items() if amps == 6.0] == [
        "cp30",
        *(f"cp{i:02}" for i in range(9)),
    ]
    assert sum(fallback.values()) == 60.0


def test_wiring_and_groups_decide_who_fits() -> None:
    config = site(
        charger("a", phases=1, wiring=(L1,)),
        charger("b", phases=1, wiring=(L1,), group="carport"),
        charger("c", phases=1, wiring=(L2,), group="carport"),
        groups=(group("carport", 10.0),),
        fuse_a=10.0,
        failsafe_a=6.0,
    )
    # The site keeps 8 A on L1: a fits, b not; c is alone on L2 and its circuit holds 6 A.
    assert fallback_currents(config) == {"a": 6.0, "b": 0.0, "c": 6.0}


def test_a_charger_that_cannot_run_at_the_failsafe_current_falls_back_to_zero() -> None:
    config = site(
        charger("a", min_a=8.0), charger("b", enabled=False), charger("c"), failsafe_a=6.0
    )
    assert fallback_currents(config) == {"a": 0.0, "b": 0.0, "c": 6.0}
