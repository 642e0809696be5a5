"""The reply reader over the labelled corpus (tests/fixtures/replies): the properties customers rely on.

The corpus is replies written as different customers would (slang, typos, emoji, mixed Chinese and
English, long emails). dev.jsonl was written first and tuned on; each heldout*.jsonl round was written
after the last tuning and read once before any fix (docs/replies.md has those first-read figures).
"""

from __future__ import annotations

import re
from functools import cache

import pytest

from bench.replies import Outcome, Reply, Scores, corpus_files, heldout_files, load, score
from dunning.domain.intents import Intent


@cache
def _corpus() -> tuple[Reply, ...]:
    return tuple(reply for path in corpus_files() for reply in load(path))


@cache
def _scores() -> Scores:
    return score(_corpus())


def _described(outcomes: list[Outcome]) -> list[str]:
    return [f"{o.reply.source}:{o.reply.line} {o.reply.text!r} -> {o.got.intent.value} {o.got.promise_date}"
            for o in outcomes]


def test_the_corpus_is_large_varied_and_well_formed() -> None:
    replies = _corpus()
    by_language = {lang: [r for r in replies if r.language == lang] for lang in ("en", "zh")}

    assert len(replies) >= 400
    assert len(heldout_files()) >= 1
    assert all(len(group) >= 150 for group in by_language.values())
    assert {r.intent for r in replies} == set(Intent)  # every intent, OTHER included
    assert len({r.zone for r in replies}) >= 4
    assert len({(r.text, r.zone, r.now) for r in replies}) == len(replies)  # no duplicates


def test_a_stop_is_never_read_as_anything_else() -> None:
    missed = _scores().stop_missed()
    assert _described(missed) == []


def test_a_non_promise_is_never_read_as_a_promise() -> None:
    false_promises = _scores().false_promises()
    assert _described(false_promises) == []


def test_every_stated_date_is_exact() -> None:
    wrong = [o for o in _scores().outcomes if o.reply.promise_date is not None and not o.date_right]
    assert _described(wrong) == []


def test_every_stated_amount_is_exact() -> None:
    wrong = [o for o in _scores().outcomes if o.reply.amount is not None and not o.amount_right]
    assert _described(wrong) == []


@pytest.mark.parametrize("language", ["en", "zh"])
def test_at_least_nine_in_ten_replies_are_read_right_in_each_language(language: str) -> None:
    for path in [*heldout_files(), None]:
        scores = _scores() if path is None else score(load(path))
        right, total = scores.accuracy(language)
        assert total and right / total >= 0.9, (path, language, right, total)


def test_the_ledger_learns_the_rule_never_the_words() -> None:
    # rule ids are fixed vocabulary: no digits (amounts, phone numbers, dates) and no free text
    shape = re.compile(r"^(?:none|keyword(?:-typo)?:\S{1,12}|(?:promise|promise-ask):[a-z]{2}:[a-z-]+\+[a-z:/-]+"
                       r"|[a-z]{2}:[a-z-]+|paid-on-a-past-day)$")
    for outcome in _scores().outcomes:
        for rule in (outcome.got.matched, *outcome.got.evidence):
            assert shape.match(rule) and not any(ch.isdigit() for ch in rule), (outcome.reply.text, rule)
