"""The analyzer: a query matches however the text was typed, in any language."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from archiver.search.analyzer import (
    hashtags,
    mentions,
    normalize,
    terms,
    tokens,
    urls,
)


def finds(text: str, query: str) -> bool:
    """Every query term is among the text's terms (what an AND query asks)."""
    indexed = set(tokens(text))
    wanted = tokens(query, for_query=True)
    return bool(wanted) and all(w in indexed for w in wanted)


# -- Persian and Arabic --------------------------------------------------------------

def test_arabic_yeh_and_kaf_equal_their_persian_forms() -> None:
    assert normalize("كمك") == normalize("کمک") == "کمک"
    assert normalize("اطلاعيه") == normalize("اطلاعیه")
    assert normalize("مدارك") == normalize("مدارک")
    assert normalize("على") == normalize("علی")  # alef maksura


def test_persian_and_arabic_indic_digits_equal_ascii() -> None:
    assert normalize("۱۴۰۳") == normalize("١٤٠٣") == normalize("1403") == "1403"
    assert finds("نوروز ۱۴۰۳ پیشاپیش مبارک", "1403")
    assert finds("تا ٢٨ اسفند ١٤٠٢", "۱۴۰۲")


def test_harakat_superscript_alef_and_tatweel_are_dropped() -> None:
    assert normalize("مُدَرِّسَة") == normalize("مدرسه")
    assert normalize("مـــدرسه") == normalize("مدرسه")
    assert normalize("هٰذا") == normalize("هذا")
    assert finds("کتابِ خوبی است", "كتاب")


def test_teh_marbuta_and_heh_with_hamza_fold_to_heh() -> None:
    assert normalize("همهٔ") == normalize("همۀ") == normalize("همه")
    assert normalize("مدرسة") == normalize("مدرسه")
    assert normalize("أحمد") == normalize("احمد")  # hamza carriers fold to the bare alef


def test_zwnj_word_is_found_typed_with_zwnj_without_it_or_with_a_space() -> None:
    text = "ما هم می\u200cخواهیم داوطلب شویم"
    assert finds(text, "می\u200cخواهیم")  # as written
    assert finds(text, "میخواهیم")  # typed without the ZWNJ
    assert finds(text, "می خواهیم")  # typed with a space
    assert finds(text, "خواهیم")  # a part
    assert normalize("کمک\u200cرسانی") == normalize("کمکرسانی")


def test_zwnj_parts_take_consecutive_positions_so_phrases_match() -> None:
    positions = {(t.text, t.position) for t in terms("مرکز کمک\u200cرسانی سیل")}
    assert {("مرکز", 0), ("کمکرسانی", 1), ("کمک", 1), ("رسانی", 2), ("سیل", 3)} == positions
    query = [(t.text, t.position) for t in terms("کمک\u200cرسانی سیل", for_query=True)]
    assert query == [("کمک", 0), ("رسانی", 1), ("سیل", 2)]


def test_persian_hashtag_with_arabic_letters_is_normalized() -> None:
    assert hashtags("باز است #سيل_ورنفيلد") == ["سیل_ورنفیلد"]
    assert finds("#سيل_ورنفيلد", "سیل ورنفیلد")


# -- Slovenian -----------------------------------------------------------------------

def test_slovenian_accents_and_case_fold() -> None:
    text = "Vse posodobitve objavljamo na naših družabnih omrežjih."
    assert finds(text, "druzabnih")
    assert finds(text, "DRUŽABNIH")
    assert finds(text, "nasih omrezjih")
    assert normalize("Občina") == "obcina"
    assert normalize("ČŠŽ") == normalize("čšž") == "csz"


def test_latin_letters_without_a_decomposition_fold_too() -> None:
    assert normalize("Łódź") == "lodz"
    assert normalize("Straße") == "strasse"
    assert normalize("Øresund") == "oresund"
    assert normalize("Đurđevac") == "durdevac"


# -- Swahili -------------------------------------------------------------------------

def test_swahili_words_are_kept_whole_and_case_folded() -> None:
    text = "Taarifa: Barabara ya Kingfisher imefungwa kutokana na mafuriko. #MafurikoWrenfield"
    assert tokens("Mafuriko mabasi imefungwa") == ["mafuriko", "mabasi", "imefungwa"]
    assert finds(text, "MAFURIKO")
    assert finds(text, "barabara kingfisher")
    assert not finds(text, "mafurik")  # no stemming, no prefix matching by accident
    assert hashtags(text) == ["mafurikowrenfield"]


# -- English, and no English rules applied to other languages ------------------------

def test_no_stemming_in_any_language() -> None:
    assert tokens("floods flooding Floods") == ["floods", "flooding", "floods"]
    assert tokens("poplave poplavah") == ["poplave", "poplavah"]  # Porter would cut both
    assert tokens("news Kiswahili") == ["news", "kiswahili"]
    assert tokens("The a is") == ["the", "a", "is"]  # no stop words either


def test_english_apostrophes_find_the_word_and_its_joined_form() -> None:
    text = "For everyone's safety please don't post phone numbers."
    assert finds(text, "everyone")
    assert finds(text, "everyone's")
    assert finds(text, "dont")
    assert finds(text, "don’t")  # typographic apostrophe


def test_hyphens_and_punctuation_split_words() -> None:
    assert tokens("flood-recovery 11:00–18:00 4.2 m") == [
        "flood", "recovery", "11", "00", "18", "00", "4", "2", "m"]


def test_mentions_hashtags_and_urls_are_extracted_whole() -> None:
    text = ("@city @dana_p@mstdn.example see https://x.com/WrenfieldCity/status/1766. "
            "#WrenfieldFlood #poplave")
    assert mentions(text) == ["city", "dana_p@mstdn.example"]
    assert hashtags(text) == ["wrenfieldflood", "poplave"]
    assert urls(text) == ["https://x.com/WrenfieldCity/status/1766"]
    assert finds(text, "wrenfieldflood") and finds(text, "dana_p")


def test_scripts_without_spaces_are_cut_into_characters() -> None:
    assert tokens("東京タワー") == ["東", "京", "タ", "ワ", "ー"]
    assert finds("今日は東京タワーに行く", "東京")


def test_invisible_format_characters_do_not_split_or_change_words() -> None:
    assert normalize("ab\u00adcd") == "abcd"  # soft hyphen
    assert tokens("\u200fسلام\u200e") == ["سلام"]  # bidirectional marks


# -- properties ----------------------------------------------------------------------

@settings(max_examples=400, deadline=None)
@given(st.text())
def test_normalize_is_idempotent(text: str) -> None:
    once = normalize(text)
    assert normalize(once) == once


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8")))
def test_every_term_is_already_normalized_and_spans_point_into_the_text(text: str) -> None:
    for term in terms(text):
        assert term.text and normalize(term.text) == term.text
        assert 0 <= term.start < term.end <= len(text)


_MIXED = st.text(alphabet="كمكیکييی\u200c\u064e\u0640۱۴٠3abcČčšžŽ _'-", min_size=1)


@settings(max_examples=300, deadline=None)
@given(_MIXED)
def test_normalize_is_idempotent_on_persian_arabic_and_slovenian_mixtures(text: str) -> None:
    assert normalize(normalize(text)) == normalize(text)
