"""Content fingerprints: same text, same print, whatever the case, markup or spacing."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from watchers.fingerprint import content_fingerprint

TEXT = " ".join(f"word{n}" for n in range(30))


def test_same_words_same_print_and_short_text_none() -> None:
    assert content_fingerprint(TEXT) == content_fingerprint(TEXT.upper().replace(" ", "  "))
    assert content_fingerprint(TEXT) != content_fingerprint(TEXT.replace("word7", "other"))
    assert content_fingerprint("Read more on our site.") is None
    assert content_fingerprint(" ".join(["same"] * 50)) is None  # repetitive: not specific


@given(
    st.lists(
        st.text(alphabet="abcdefghijklmnop", min_size=3, max_size=8),
        min_size=25,
        max_size=40,
        unique=True,
    )
)
def test_a_changed_word_changes_the_print(tokens: list[str]) -> None:
    changed = [*tokens[:5], tokens[5] + "x", *tokens[6:]]
    assert content_fingerprint(" ".join(tokens)) != content_fingerprint(" ".join(changed))
