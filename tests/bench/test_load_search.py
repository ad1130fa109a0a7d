"""The load run's search for the highest rate within budget: which rate it tries next,
and how it judges a phase (pure functions; the smoke run drives them on a server)."""

from bench.load_intake import Posted
from bench.load_search import Phase, next_probe, within_budget


def test_nothing_judged_or_nothing_held_and_nothing_between_ends_the_search() -> None:
    assert next_probe({}) is None
    assert next_probe({1.0: False}) is None  # nothing between 0 and 1 call/s


def test_while_everything_held_it_doubles_the_highest() -> None:
    assert next_probe({50.0: True}) == 100.0
    assert next_probe({50.0: True, 100.0: True}) == 200.0


def test_between_a_rate_that_held_and_one_that_did_not_it_halves_the_gap() -> None:
    assert next_probe({50.0: False}) == 25.0
    assert next_probe({50.0: False, 25.0: True}) == 40.0  # 37.5 to the nearest 5
    assert next_probe({50.0: False, 25.0: True, 40.0: False}) == 35.0  # 32.5: a half rounds up
    assert next_probe({50.0: False, 25.0: True, 40.0: False, 35.0: False}) == 30.0
    # 10 apart or fewer: to the nearest call/s, until nothing lies between.
    assert next_probe({30.0: True, 35.0: False}) == 33.0
    assert next_probe({30.0: True, 32.0: False}) == 31.0
    assert next_probe({30.0: True, 31.0: False}) is None


def test_a_rate_that_failed_below_one_that_held_does_not_bound_the_search() -> None:
    # runs vary: 20 missed once, 30 held; the search goes on above 30
    assert next_probe({20.0: False, 30.0: True, 50.0: False}) == 40.0
    assert next_probe({20.0: False, 30.0: True}) == 60.0


def _phase(*posted: Posted) -> Phase:
    return Phase("probe", 10.0, list(posted), cpu=0.5, loop_cpu=0.4)


def test_a_phase_holds_only_with_every_call_answered_every_offer_arrived_and_p99_in_budget() -> (
    None
):
    fast = Posted(1.000, 1.010, 201, ["a"])
    seen = {"a": 1.012}  # 12 ms after the POST
    assert within_budget(_phase(fast), seen)
    assert not within_budget(_phase(fast), {"a": 1.030})  # 30 ms: over 25
    assert not within_budget(_phase(fast), {})  # the offer never arrived
    assert not within_budget(_phase(fast, Posted(1.1, 1.2, 0)), seen)  # a call unanswered
    assert not within_budget(_phase(Posted(1.0, 1.01, 201, [])), {})  # no offer to time
