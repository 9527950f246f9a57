"""The Russian word-forms cache: bounded in bytes, whatever number of words pass through it."""

from __future__ import annotations

import gc
import itertools
import pickle
import weakref
from collections.abc import Iterator

import pytest

from watchers.topics import morph
from watchers.topics.compile import TopicSpec, matcher_of
from watchers.topics.morph import forget_forms, forms_held, give_forms, russian_forms
from watchers.topics.presearch import whole_words

BOUND = 60_000  # bytes: some 30 words' forms


@pytest.fixture
def small_bound(monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    forget_forms()
    monkeypatch.setattr(morph, "FORMS_BYTES", BOUND)
    yield BOUND
    forget_forms()  # none of these words stay for other tests


def _words(count: int) -> list[str]:
    """Distinct made-up words, as a flood of /watch names brings (guessed paradigms)."""
    syllables = ("ка", "ро", "ми", "ту", "не", "ла", "со", "ви")
    made = ("".join(parts) + "ов" for parts in itertools.product(syllables, repeat=3))
    return list(itertools.islice(made, count))


def test_a_flood_of_distinct_words_leaves_the_forms_at_their_bound(small_bound: int) -> None:
    real = ("остров", "договор", "переговоры", "делать")
    expected = {word: set(russian_forms(word)) for word in real}
    assert "островах" in expected["остров"] and "делали" in expected["делать"]
    flood = _words(400)
    first = russian_forms(flood[0])
    for word in flood:
        assert word in russian_forms(word)
        held, size = forms_held()
        assert size <= small_bound
    assert held < len(flood) // 4 and size > small_bound // 2  # at the bound, not emptied
    for word in real:  # dropped by the flood, looked up again: the same forms
        assert russian_forms(word) == expected[word]
    again = russian_forms(flood[0])
    assert again == first and again is not first  # dropped, and looked up again


def test_forms_given_stay_bounded_across_many_gifts(small_bound: int) -> None:
    """The daemon gives every stored word's forms at a start, a parse worker a topic spec's at
    each reload: the oldest given are dropped past the bound, and looked up again if asked."""
    give_forms([("курилоград", frozenset({"курилоград"}))])  # as from a damaged cache
    assert russian_forms("курилоград") == {"курилоград"}
    words = _words(600)
    last = frozenset[str]()
    for start in range(0, len(words), 20):
        batch = words[start : start + 20]
        last = frozenset({batch[-1], f"{batch[-1]}ами"})
        give_forms([(word, frozenset({word, f"{word}ами"})) for word in batch[:-1]])
        give_forms([(batch[-1], last)])
        assert forms_held()[1] <= small_bound
    assert russian_forms(batch[-1]) is last  # the set given itself, not a copy
    assert "курилограде" in russian_forms("курилоград")  # dropped, then looked up


def test_a_workers_reloads_keep_the_forms_within_the_bound(small_bound: int) -> None:
    """Each reload hands a parse worker a spec with its topics' forms (`matcher_of`): forms of
    words no topic names any more stay only while the bound has room for them."""
    words = _words(300)
    for n in range(0, len(words), 10):
        named = words[n : n + 10]
        spec = TopicSpec(
            (("t", " OR ".join(named)),),
            tuple((word, frozenset({word, f"{word}ами"})) for word in named),
        )
        matcher = matcher_of(spec)
        assert forms_held()[1] <= small_bound
        assert [m.topic_id for m in matcher.match({"title": f"О {named[3]}ами"})] == ["t"]
    assert forms_held()[0] < len(words) // 2


def test_whole_words_keeps_no_forms_alive_the_cache_has_dropped(small_bound: int) -> None:
    """`whole_words` is asked of the cache's sets: a cache of its own keyed by them kept
    100,000 sets (~250 MB of dictionary words) alive after the forms cache dropped them."""
    first = russian_forms("остров")
    assert whole_words(first)
    dropped = weakref.ref(first)
    del first
    for word in _words(400):
        whole_words(russian_forms(word))
    gc.collect()
    assert dropped() is None


def test_the_bytes_counted_stay_true_when_kept_strings_grow(small_bound: int) -> None:
    """A kept word's strings grow once their UTF-8 is cached (pickled for a parse worker in a
    topic spec, bound as an SQLite parameter): a drop took off more than was counted at the
    put, and the count drifted under the forms really held, for good."""
    words = _words(200)
    handed = [russian_forms(word) for word in words[:100]]
    pickle.dumps((words[:100], handed))  # as a spec sent to the parse workers
    for word in words[100:]:  # the first hundred dropped
        russian_forms(word)
    held, size = forms_held()
    kept = [(word, russian_forms(word)) for word in words[200 - held :]]
    forget_forms()
    give_forms(kept)
    assert forms_held() == (held, size)
