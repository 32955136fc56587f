"""Language detection on prompts as users write them (accented, unaccented, English, mixed, names, emoji, numbers)."""

from __future__ import annotations

import pytest

from text2video.prompt import detect_language, guess_language
from text2video.prompt.language import is_vietnamese_syllable

TABLE = [
    # accented Vietnamese
    ("Cô gái nhảy trên núi", "vi"),
    ("Gấu trúc trên mặt nước", "vi"),
    ("Con mèo đang ngủ", "vi"),
    ("chàng trai mặc vest", "vi"),
    ("búp bê", "vi"),
    ("mèo", "vi"),
    # unaccented Vietnamese (typed fast)
    ("co gai nhay tren nui", "vi"),
    ("gau truc tren mat nuoc", "vi"),
    ("mot chu robot dang nhay", "vi"),
    ("con meo", "vi"),
    ("anh hung", "vi"),
    ("CO GAI NHAY TREN NUI", "vi"),
    ("Co Gai Nhay Tren Nui", "vi"),
    # English
    ("a girl dancing on a mountain", "en"),
    ("A panda on the water", "en"),
    ("astronaut riding a horse on the moon, highly detailed", "en"),
    ("a boy and a dog running in a park", "en"),
    ("A cat on a mat", "en"),  # every word is also a Vietnamese syllable: neutral -> English
    ("a man in a hat", "en"),
    ("day", "en"),
    ("ninja", "en"),
    # mixed: translated
    ("Iron man trên bãi biển", "vi"),
    ("Iron man tren bai bien", "vi"),
    ("Spider-Man nhảy hip hop ở Sài Gòn", "vi"),
    ("Superman bay tren bau troi", "vi"),
    ("Mickey Mouse nhay tren bai bien", "vi"),
    # names inside English stay English (Vietnamese place names, accented foreign names)
    ("A girl dancing in Hà Nội", "en"),
    ("Elon Musk dancing on Mars", "en"),
    ("Pokémon Pikachu dancing in a café", "en"),
    ("Batman, Gotham city", "en"),
    ("the Bay Bridge at night", "en"),
    ("Doraemon", "en"),
    # Vietnamese with names
    ("Taylor Swift hat tren san khau", "vi"),
    ("Naruto chay tren mai nha", "vi"),
    # emoji and numbers carry no vote
    ("Người đàn ông mặc áo đỏ nhảy múa 🕺", "vi"),
    ("hai cô gái 20 tuổi nhảy 💃", "vi"),
    ("2 co gai nhay", "vi"),
    ("Iron Man dancing on the beach, 4k 🏖️", "en"),
    ("🐼🐼🐼", "en"),
    ("12345", "en"),
    ("!!! ???", "en"),
    # typical English diffusion prompts (short English words that are also Vietnamese syllables must not tip them)
    ("masterpiece, best quality, 1girl, solo, long hair, dancing", "en"),
    ("a girl singing a song", "en"),
    ("a girl with long hair dancing in the rain", "en"),
    ("a boy playing ping pong", "en"),
    ("a man doing hip hop", "en"),
    ("a man in a red shirt, dancing, full body, studio lighting", "en"),
    ("an old man walking his dog in the park at sunset", "en"),
    ("a man with a hat and a cane", "en"),
    ("Ha Long Bay at sunset", "en"),
    ("Tom and Jerry dancing", "en"),
    # longer unaccented Vietnamese, and mixed slang (translated: Vietnamese words left as they are would be lost)
    ("nguoi phu nu mac ao dai do mua quat", "vi"),
    ("chang trai deo kinh nhay break dance", "vi"),
    ("cau be da bong tren san", "vi"),
    ("Son Tung nhay tren san khau", "vi"),
    ("hot girl nhay tiktok", "vi"),
    ("cô gái, masterpiece, best quality", "vi"),
    ("Một cô gái đang múa ballet trên sân khấu, ánh sáng lung linh", "vi"),
]


@pytest.mark.parametrize("text, expected", TABLE)
def test_detection_table(text, expected):
    guess = guess_language(text)
    assert guess.language == expected, guess.reason
    assert detect_language(text) == expected


def test_table_is_balanced():
    # The table must keep testing both directions (a detector answering one language could not pass).
    languages = [lang for _, lang in TABLE]
    assert languages.count("vi") >= 15 and languages.count("en") >= 15


@pytest.mark.parametrize("word", ["nguyen", "truc", "khuya", "nghieng", "quyen", "gio", "nuoc", "thuong", "xoong",
                                  "tiếng", "Đường", "ươn"])
def test_vietnamese_syllables(word):
    assert is_vietnamese_syllable(word)


@pytest.mark.parametrize("word", ["dancing", "beach", "girl", "mountain", "cafe", "tie", "ce", "ka", "strong", "ba1",
                                  "nge"])
def test_not_vietnamese_syllables(word):
    assert not is_vietnamese_syllable(word)


def test_reason_lists_the_votes():
    guess = guess_language("Iron man trên bãi biển")
    assert "trên" in guess.reason and "Iron" in guess.reason
    assert guess.vi_score > guess.en_score
