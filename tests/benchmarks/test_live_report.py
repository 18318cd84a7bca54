"""The live benchmark's pure parts: statistics and rendering (no Home Assistant is started)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from benchmarks.live.report import plot, reaction_figures, render_markdown
from benchmarks.live.run import building_a, fuse_a, scale_shares
from benchmarks.live.stats import Summary, cpu_percent, percentile


@pytest.mark.parametrize(
    ("values", "q", "expected"),
    [
        ([5.0], 50, 5.0),
        ([1.0, 2.0, 3.0, 4.0], 50, 2.5),
        ([4.0, 1.0, 3.0, 2.0], 0, 1.0),
        ([4.0, 1.0, 3.0, 2.0], 100, 4.0),
        (list(range(101)), 99, 99.0),
        ([0.0, 10.0], 99, 9.9),
    ],
)
def test_percentile_interpolates_between_ranks(
    values: list[float], q: float, expected: float
) -> None:
    assert percentile(values, q) == pytest.approx(expected)


def test_percentile_of_nothing_is_nan_and_bounds_are_checked() -> None:
    assert math.isnan(percentile([], 50))
    with pytest.raises(ValueError, match=r"0\.\.100"):
        percentile([1.0], 101)


def test_summary_and_its_json_form() -> None:
    summary = Summary.of([1.0, 2.0, 3.0, 10.0])
    assert (summary.count, summary.p50, summary.max, summary.mean) == (4, 2.5, 10.0, 4.0)
    assert Summary.of([]).as_dict() == {
        "count": 0,
        "p50": None,
        "p99": None,
        "max": None,
        "mean": None,
    }


def test_cpu_percent_of_one_core() -> None:
    # 100 ticks per second: 150 ticks in 3 s is half a core.
    assert cpu_percent(1000, 1150, 3.0, 100) == pytest.approx(50.0)
    assert math.isnan(cpu_percent(0, 10, 0.0, 100))


@pytest.mark.parametrize("n", [10, 50, 200])
def test_reaction_sites_change_every_limit(n: int) -> None:
    # Both building loads fit under the fuse and leave the two shares the steps move between.
    for share in (9.0, 12.0):
        building = building_a(n, share)
        assert building > 0
        assert (fuse_a(n) - 2.0 - building) / n == pytest.approx(share + 1 / n)


@pytest.mark.parametrize("n", [50, 200, 500])
def test_scale_sites_stay_above_the_minimum(n: int) -> None:
    high, low = scale_shares(n)
    assert fuse_a(n) <= 4000
    assert 6.0 <= low < high <= 12.0


def _steps() -> list[dict[str, Any]]:
    return [
        {"direction": "down", "reaction_ms": 900.0, "first_read_ms": 400.0, "changed": 3,
         "wrong_direction": 0},
        {"direction": "up", "reaction_ms": 1100.0, "first_read_ms": 500.0, "changed": 3,
         "wrong_direction": 0},
        {"direction": "down", "reaction_ms": None, "first_read_ms": 300.0, "changed": 2,
         "wrong_direction": 1},
    ]  # fmt: skip


def test_reaction_figures_split_the_reaction_at_the_meter_read() -> None:
    figures = reaction_figures(_steps())
    assert figures["steps"] == 3
    assert figures["incomplete"] == 1
    assert figures["wrong_direction"] == 1
    assert figures["reaction_ms"]["p50"] == pytest.approx(1000.0)
    assert figures["down_ms"]["count"] == 1
    assert figures["poll_wait_ms"]["p50"] == pytest.approx(400.0)
    assert figures["after_read_ms"]["p50"] == pytest.approx(550.0)


def _results() -> dict[str, Any]:
    summary = Summary.of([1.0, 2.0]).as_dict()
    scale = {
        "window_s": 60.0,
        "cycles_per_s": 1.0,
        "compute_ms": summary,
        "listeners_ms": summary,
        "sending_ms": summary,
        "trigger_ms": summary,
        "lag_ms": summary,
        "cpu_percent": 12.5,
        "rss_mb": 300.0,
        "report_rtt_ms": summary,
        "errors": 0,
    }
    return {
        "environment": {
            "date": "2026-11-22 09:00 UTC",
            "homeassistant": "2026.10.4",
            "ocpp": "2.1.0",
            "pymodbus": "3.13.1",
            "python": "3.14.2",
            "cpus": 2,
            "cpu_model": "Test CPU",
        },
        "quick": False,
        "reaction": {"10": reaction_figures(_steps())},
        "scale": {"50": scale, "200": scale | {"cpu_percent": 40.0}},
        "sessions": [
            {
                "n": 10,
                "provision_s": 1.5,
                "add_charger_ms": [10.0, 12.0],
                "connect_s": 9.0,
                "add_while_running": {
                    "chargers": 10,
                    "sent_a_new_limit": 10,
                    "lowest_limit_a": 8.5,
                },
                "ha_warnings": ["2026-11-22 08:00:00.000 WARNING (MainThread) [x] something"],
            }
        ],
        "reaction_samples": {"10": [900.0, 1100.0]},
    }


def test_markdown_has_a_row_per_n() -> None:
    text = render_markdown(_results())
    assert "| 10 | 3 | 1000 | " in text
    assert "\n| 50 | 60 | 1.00 |" in text
    assert "\n| 200 | 60 | 1.00 |" in text
    assert "| 10 of 10 | 8.5 |" in text
    assert "- `WARNING (MainThread) [x] something`" in text


def test_plot_writes_a_png(tmp_path: Path) -> None:
    results = _results()
    plot(results, results["reaction_samples"], tmp_path / "live.png")
    assert (tmp_path / "live.png").read_bytes()[:4] == b"\x89PNG"
