"""Search that ignores Vietnamese diacritics and case."""

from __future__ import annotations

import pytest

from docmgmt.domain.textsearch import fold, matches, search_key, tokens


def test_fold_strips_diacritics_maps_d_with_stroke_and_collapses_space() -> None:
    assert fold("  Quyết   định\tsố 15/QĐ-UBND ") == "quyet dinh so 15/qd-ubnd"
    assert fold("ĐƯỜNG Đồng Khởi") == "duong dong khoi"
    assert fold("Hỏa tốc, Thượng khẩn") == "hoa toc, thuong khan"


def test_fold_treats_precomposed_and_decomposed_input_alike() -> None:
    precomposed = "Nghị quyết"
    decomposed = "Nghi\u0323 quye\u0302\u0301t"
    assert precomposed != decomposed
    assert fold(precomposed) == fold(decomposed) == "nghi quyet"


def test_fold_is_idempotent() -> None:
    text = "Thông báo số 12/TB-UBND về việc Đường Lê Lợi"
    assert fold(fold(text)) == fold(text)


def test_tokens_split_codes_on_punctuation() -> None:
    assert tokens("Thông báo số 12/TB-UBND") == ["thong", "bao", "so", "12", "tb", "ubnd"]


@pytest.mark.parametrize(("query", "text"), [
    ("quyet dinh", "Quyết định"),
    ("DUONG", "Đường"),
    ("thong bao so 12", "Thông báo số 12/TB-UBND"),
    ("quyết định", "QUYET DINH"),
    ("dinh quyet", "Quyết định"),        # order-free
    ("quyet d", "Quyết định"),           # the last word may be half typed
    ("tb-ub", "Thông báo số 12/TB-UBND"),  # a code fragment, by substring
    ("uong", "Đường"),                   # substring too: a documented, accepted breadth
    ("", "anything"),                    # no query, no filter
])
def test_matches(query: str, text: str) -> None:
    assert matches(query, text)


@pytest.mark.parametrize(("query", "text"), [
    ("quyet dinh", "Quy chế"),
    ("thong bao so 13", "Thông báo số 12/TB-UBND"),
    ("dinh", "Ban hành kèm theo"),
    ("quyet dinh so 12", "Quyết định số 21"),
])
def test_no_false_match(query: str, text: str) -> None:
    assert not matches(query, text)


def test_search_key_folds_fields_and_keeps_their_boundaries() -> None:
    key = search_key("12/TB-UBND", None, "Về việc sửa Đường Lê Lợi", "", "Sở Giao thông vận tải")
    assert key == "12/tb-ubnd\nve viec sua duong le loi\nso giao thong van tai"
    assert matches("duong le loi", key)
    assert matches("12 giao thong", key)  # tokens may come from different fields
    # A phrase never matches by substring across two fields.
    # "oi" starts no word, so only a substring could match, and it would across a space.
    assert matches("oi so", key.replace("\n", " "))
    assert not matches("oi so", key)
