"""Benchmark pieces: instances, simple rules, exact optimum, and the command line."""

from __future__ import annotations

import json

import pytest

from matching import evaluate, match, validate
from matching.baselines import RULES, apply_rule, chunk
from matching.instances import CITIES, generate, load_places


def test_instances_are_reproducible_and_realistic():
    first, second = generate(60, 3, "bruxelles"), generate(60, 3, "bruxelles")
    assert first.attendees == second.attendees
    assert generate(60, 4, "bruxelles").attendees != first.attendees
    assert len({a.place_id for a in first.attendees}) > 10
    assert {a.departure_wave for a in first.attendees} >= {"wave-1", "wave-2", "wave-3"}


def test_fallback_places_when_the_gazetteer_is_missing(tmp_path):
    for city in CITIES:
        places, source = load_places(city, tmp_path / "missing.json")
        assert source == "fallback" and len(places) >= 19


def test_chunk_cuts_into_near_equal_runs():
    assert [len(r) for r in chunk(range(7), 4)] == [4, 3]
    assert [len(r) for r in chunk(range(5), 4)] == [3, 2]
    assert chunk([1], 4) == [[1]]


@pytest.mark.parametrize("name", sorted(RULES))
def test_simple_rules_give_valid_groups_that_the_engine_beats(name):
    if name == "kmeans_constrained":  # a bench extra: CI installs only '.[test]'
        pytest.importorskip("k_means_constrained")
    instance = generate(80, 1, "paris")
    groups = apply_rule(name, instance.event, instance.attendees)
    assert validate(instance.event, instance.attendees, groups) == []
    rule_cost = evaluate(instance.event, instance.attendees, groups).total
    assert match(instance.event, instance.attendees).report.total < rule_cost


def test_exact_optimum_is_a_lower_bound_the_engine_reaches_on_a_small_instance():
    pytest.importorskip("ortools")
    from matching.exact import solve_exact

    instance = generate(24, 5, "paris")
    exact = solve_exact(instance.event, instance.attendees, time_limit=30)
    assert exact is not None and exact.optimal
    assert validate(instance.event, instance.attendees, exact.groups) == []
    optimum = evaluate(instance.event, instance.attendees, exact.groups).total
    engine = match(instance.event, instance.attendees).report.total
    assert optimum <= engine + 1e-6
    assert engine <= optimum * 1.03


def test_bench_command_prints_one_json_object_per_instance_and_method(capsys):
    from matching.bench import main

    main(
        [
            "--sizes",
            "20",
            "--seeds",
            "1",
            "--cities",
            "paris",
            "--methods",
            "engine,arrival_chunks",
            "--late-signups",
            "5",
            "--json",
        ]
    )
    every = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    lines = [r for r in every if "summary" not in r]
    summaries = [r for r in every if "summary" in r]
    assert [r["method"] for r in lines] == ["engine", "arrival_chunks"]
    assert [(r["summary"], r["method"]) for r in summaries] == [
        ("paris", "engine"),
        ("paris", "arrival_chunks"),
    ]
    for record in lines:
        for key in (
            "n",
            "seed",
            "method",
            "cost",
            "grouped_share",
            "seconds",
            "peak_mb",
            "optimum_cost",
        ):
            assert key in record
        assert record["valid"]
    assert "late_signup_p95_ms" in lines[0]


def test_gap_to_the_optimum():
    from matching.bench import gap

    assert gap(103.0, 100.0) == pytest.approx(0.03)
    assert gap(0.0, 0.0) == 0.0  # everyone grouped at no cost, as the optimum: no gap
    assert gap(2.0, 0.0) is None  # infinitely worse: the table shows the difference
    assert gap(5.0, None) is None and gap(None, 5.0) is None
