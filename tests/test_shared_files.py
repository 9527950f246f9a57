"""Tests that read ../shared: absent, they skip with the reason printed, or fail under CI."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import SHARED, shared


def test_a_present_file_is_its_path() -> None:
    if not SHARED.is_dir():
        pytest.skip(f"{SHARED} is absent")
    assert shared("corpus") == SHARED / "corpus"


def test_absent_skips_with_the_folder_in_the_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match=str(tmp_path / "corpus")):
        shared("corpus", root=tmp_path)


@pytest.mark.parametrize("value", ["true", "1", "yes"])
def test_absent_under_ci_fails_naming_the_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("CI", value)
    with pytest.raises(pytest.fail.Exception, match=f"{tmp_path / 'corpus'} is absent"):
        shared("corpus", root=tmp_path)


def test_ci_false_still_skips(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "false")
    with pytest.raises(pytest.skip.Exception):
        shared("corpus", root=tmp_path)
