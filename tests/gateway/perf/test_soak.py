"""gateway/perf/soak.py: when memory per worker counts as flat, and its arguments."""

from __future__ import annotations

import pytest

from gateway.perf import soak


def test_growth_is_the_highest_sample_after_warm_up_over_the_sample_that_ends_it():
    assert soak.memory_growth([400.0, 500.0, 505.0, 510.0, 502.0], warm_up=2) == 2.0


def test_a_leak_after_warm_up_shows_as_growth_above_five_percent():
    assert soak.memory_growth([300.0, 400.0, 410.0, 425.0, 440.0], warm_up=2) == 10.0


def test_warm_up_growth_does_not_count():
    assert soak.memory_growth([100.0, 400.0, 399.0], warm_up=2) == -0.25


def test_growth_needs_a_sample_after_the_warm_up():
    with pytest.raises(ValueError, match="need more than the 3 warm-up"):
        soak.memory_growth([1.0, 2.0, 3.0], warm_up=3)


def test_defaults_are_thirty_minutes_at_sixty_percent_with_five_minutes_of_warm_up():
    args = soak.parse_args([])
    assert (args.minutes, args.fraction, args.warm_up_minutes, args.max_growth) == (30, 0.6, 5, 5.0)
    assert args.latency == "realistic"
    assert soak.parse_args(["--minutes", "3"]).warm_up_minutes == 1


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--minutes", "1"], "--minutes: at least 2"),
        (["--minutes", "3", "--warm-up-minutes", "3"], "--warm-up-minutes: must be within 1..2"),
        (["--fraction", "1.5"], "--fraction: must be within"),
        (["--rate", "0"], "--rate: must be above 0"),
    ],
)
def test_bad_arguments_are_refused_by_name(argv, message, capsys):
    with pytest.raises(SystemExit):
        soak.parse_args(argv)
    assert message in capsys.readouterr().err
