"""How a charger's current loads the site's lines, and what its meter values tell."""

from __future__ import annotations

from collections.abc import Sequence

from .model import ChargerConfig, GridType, Line, PhaseCurrents

UNUSED_BELOW_A = 1.0
"""A conductor drawing less than this while another draws `IN_USE_ABOVE_A` is unused."""
IN_USE_ABOVE_A = 3.0


def observed_phases(currents_a: Sequence[float], grid: GridType) -> int | None:
    """Return the phases a car charges on (1 or 3), or None while it draws too little to tell.

    Only a car on the charger's first conductor (TN) or first pair (IT) counts as single-phase;
    anything else is taken as three-phase, which errs towards counting more load.
    """
    if not currents_a or max(currents_a) <= IN_USE_ABOVE_A:
        return None
    used = {index for index, current in enumerate(currents_a) if current >= UNUSED_BELOW_A}
    single = {0, 1} if grid is GridType.IT else {0}
    return 1 if used <= single else 3


def load_lines(
    charger: ChargerConfig, grid: GridType, site_phases: int, car_phases: int
) -> tuple[Line, ...]:
    """Return the site lines that each carry the charger's full current I.

    A single-phase car loads the charger's first conductor on TN and its first two on IT
    (no neutral: the current returns on the second line).
    """
    if site_phases == 1:
        return (Line.L1,)
    if charger.phases == 1 or car_phases == 1:
        wired = charger.wiring[: 2 if grid is GridType.IT else 1]
    else:
        wired = charger.wiring
    return tuple(dict.fromkeys(wired))


def line_currents(
    charger: ChargerConfig,
    grid: GridType,
    site_phases: int,
    currents_a: Sequence[float],
    ceiling_a: float,
) -> PhaseCurrents:
    """Return the charger's measured current per site line, each conductor at most `ceiling_a`.

    Counting less than a charger draws leaves more for the non-EV estimate, the safe side;
    the ceiling keeps a charger that overdraws its limit from hiding that excess in the
    non-EV load.
    """
    conductors = currents_a[: charger.phases]
    per_line = [0.0, 0.0, 0.0]
    if site_phases == 1:
        per_line[0] = sum(min(max(current_a, 0.0), ceiling_a) for current_a in conductors)
    elif grid is GridType.IT and charger.phases == 1 and conductors:
        for line in dict.fromkeys(charger.wiring[:2]):
            per_line[line] += min(max(conductors[0], 0.0), ceiling_a)
    else:
        for line, current_a in zip(charger.wiring, conductors, strict=False):
            per_line[line] += min(max(current_a, 0.0), ceiling_a)
    return (per_line[0], per_line[1], per_line[2])
