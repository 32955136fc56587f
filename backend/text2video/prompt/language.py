"""Cheap Vietnamese-or-English detection for prompts (no language-ID model).

Each word votes:
- Vietnamese-only marks (đ, horn ơ/ư, breve ă, hook above ả, dot below ạ) or any accent on a word whose letters
  form a valid Vietnamese syllable ("trên", "gái") -> strong Vietnamese (2).
- No accent, a valid Vietnamese syllable that is not a common English word ("co gai nhay tren nui") -> weak
  Vietnamese (1 for frequent syllables, 0.5 for other valid ones).
- A word that cannot be one Vietnamese syllable ("dancing", "beach", "café") -> English (1).
- Words valid in both ("a", "man", "to", "day") are neutral.
Capitalised words inside a sentence are names ("Iron Man", "Hà Nội"): they carry little weight, so an English
prompt that mentions a Vietnamese place stays English and a Vietnamese prompt about "Iron man" is translated.
Numbers and emoji carry no vote. The text is Vietnamese when its non-name words give at least 1 point of Vietnamese
and its Vietnamese score is at least half its English score (mixed text leans to translation: see below).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

# Combining marks after NFD. Hook above, dot below and horn exist in no other Latin-script language we expect.
_HOOK, _DOT_BELOW, _HORN, _BREVE = "\u0309", "\u0323", "\u031b", "\u0306"
_VI_ONLY_MARKS = {_HOOK, _DOT_BELOW, _HORN, _BREVE}
_VI_MARKS = _VI_ONLY_MARKS | {"\u0300", "\u0301", "\u0303", "\u0302"}  # grave, acute, tilde, circumflex

_ONSET = r"(?:ngh|ng|nh|ch|gh|gi|kh|ph|qu|th|tr|[bcdghklmnprstvx])?"
_CODA = r"(?:ch|nh|ng|[cmnpt])"
# Rhymes by vowel cluster (letters without marks): some end the syllable, some may take a final consonant,
# some must (iê, yê, uô/ươ: "tien", "yen", "muon").
_OPEN = r"(?:ieu|yeu|uoi|uou|oai|oay|uay|uya|uyu|oeo|ai|ao|au|ay|eo|eu|ia|iu|oi|ui|uu|ua|ya)"
_CODABLE = r"(?:oa|oe|ue|uy|a|e|i|o|u|y)"
_NEEDS_CODA = r"(?:uye|ie|ye|uo|oo(?=ng))"
_SYLLABLE = re.compile(rf"^({_ONSET})(?:{_OPEN}|{_CODABLE}{_CODA}?|{_NEEDS_CODA}{_CODA})$")

# Frequent syllables of prompts written without accents (each is a valid syllable; a few common English words
# that are also syllables are listed in _ENGLISH and so stay neutral).
_VI_COMMON = set("""
anh chi em ong ba co chu bac me bo con be gai trai nguoi dan nu nam tre gia
dang nhay mua hat chay di dung ngoi nam bay boi leo danh choi cuoi khoc nhin ngam cam deo mac om ve doc viet
tren duoi trong ngoai ben canh giua cua va voi mot hai bon sau tam chin muoi nhieu nhung cac cai chiec
meo cho gau truc ho su tu voi ngua chim rong ran khi tho vit ga lon bo ca cua tom buom ong
nui bien song suoi rung cay hoa troi mua nang gio tuyet dem ngay sang toi chieu nha pho duong thanh lang que
vien san khau truong lop hoc bai cat nuoc dat lua da sieu nhan hiep si chien binh chua hoang vua phu thuy
ao quan vay mu giay dep xinh de thuong yeu vui ve buon gian lung linh ruc ro mau do xanh vang trang hong tim
nau xam rat qua lam hon nhat dang se bi duoc rat phong cach tranh son dau chan dung toan than khuon mat toc dai
ngan nho lanh nong am mat dieu vu kiem sung xe dap may bay tau thuyen ngoi sao trang mat troi canh dong co
nhung khong nhu nay kia day do nao gi sao the thi lai cung deu nua vao ra len xuong qua lai phia truoc sau
""".split())

# Common English words that are also valid Vietnamese syllables: neutral, never Vietnamese evidence.
_ENGLISH = set("""
a an am at be by can cat con cut day den do go ha hat he hen hi him hit ho hot hut i in it la lo ma man map mat
may me men met mom mop my nap net no not nut on pan pen pet pin pit pot ran rat run sat set sit so son sun tan
tap ten than that the them then thin tin tip to top up van vet bay say pay ray hay lay way toy boy guy cute
ban bat bun but cap chat chin chip chop cot cup gun hen hop hug kit lap let lit mad mud nun pat pit tat tot
ton tan tom thick song sung lung rung doc leo len sing king ring thing long bang hang gang hip tech gym
ping pong tong bum chap
""".split())

_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*")
_SENTENCE_END = re.compile(r"[.!?;:\n]\s*$")


def _strip_marks(word: str) -> tuple[str, set[str]]:
    """Lower-case base letters of ``word`` and the set of combining marks it carried (đ counts as a horn-like mark)."""
    marks: set[str] = set()
    base = []
    for char in unicodedata.normalize("NFD", word.lower()):
        if unicodedata.combining(char):
            marks.add(char)
        elif char == "đ":
            base.append("d")
            marks.add(_HORN)  # Vietnamese-only letter
        else:
            base.append(char)
    return "".join(base), marks


def is_vietnamese_syllable(word: str) -> bool:
    """True if ``word`` (accents ignored) has the shape of one Vietnamese syllable ("nguyen", "truc", "khuya")."""
    base, _ = _strip_marks(word)
    match = _SYLLABLE.match(base)
    if not match:
        return False
    onset, rhyme = match.group(1), base[len(match.group(1)):]
    # Spelling rules: c/ng before a/o/u; k/gh/ngh before e/i/y (so "cinema"-like shapes are not Vietnamese).
    if onset in ("c", "ng") and rhyme[:1] in ("e", "i", "y"):
        return False
    if onset in ("k", "gh", "ngh") and rhyme[:1] not in ("e", "i", "y"):
        return False
    return True


@dataclass
class LanguageGuess:
    language: str  # "vi" | "en"
    vi_score: float
    en_score: float
    votes: list[tuple[str, str, float]] = field(default_factory=list)  # (word, "vi"/"en"/"neutral"/"name", weight)

    @property
    def reason(self) -> str:
        vi = [w for w, kind, _ in self.votes if kind == "vi"]
        en = [w for w, kind, _ in self.votes if kind == "en"]
        return (f"Vietnamese score {self.vi_score:g} ({', '.join(vi[:6]) or '-'}) vs English score "
                f"{self.en_score:g} ({', '.join(en[:6]) or '-'})")


def _word_vote(word: str) -> tuple[str, float]:
    base, marks = _strip_marks(word)
    if marks & _VI_ONLY_MARKS:
        return "vi", 2.0
    valid = is_vietnamese_syllable(word)
    if marks & _VI_MARKS:
        # é/à/â also occur in French, Spanish...: only Vietnamese when the letters form a Vietnamese syllable.
        return ("vi", 2.0) if valid else ("en", 1.0)
    if marks:  # other accents (ü, ñ, ç...): a foreign word, not Vietnamese
        return "en", 1.0
    if not valid:
        return "en", 1.0
    if base in _ENGLISH:
        return "neutral", 0.0
    return "vi", 1.0 if base in _VI_COMMON else 0.5


def guess_language(text: str) -> LanguageGuess:
    """Score ``text`` word by word (see the module docstring) and say which language wins."""
    text = unicodedata.normalize("NFC", text)
    matches = list(_WORD.finditer(text))
    # Capitals mark names only when the text also has lower-case words (not a Title Case or ALL CAPS prompt).
    lower_words = sum(1 for m in matches if m.group()[0].islower())
    votes: list[tuple[str, str, float]] = []
    vi_score = en_score = vi_content = 0.0
    for i, m in enumerate(matches):
        word = m.group()
        kind, weight = _word_vote(word)
        sentence_start = i == 0 or bool(_SENTENCE_END.search(text[: m.start()]))
        is_name = lower_words > 0 and not sentence_start and (word[0].isupper() or (len(word) > 1 and word.isupper()))
        if is_name:
            # Names are language-neutral; an accented name still hints at Vietnamese a little.
            weight = 0.5 if kind == "vi" and weight >= 2 else 0.0
            kind = "name"
            vi_score += weight
        elif kind == "vi":
            vi_score += weight
            vi_content += weight
        elif kind == "en":
            en_score += weight
        votes.append((word, kind, weight))
    # Leaving Vietnamese words untranslated loses them (CLIP does not read Vietnamese), while translating an English
    # prompt mostly gives it back reworded: so mixed text leans to translation. Names alone never make it Vietnamese.
    language = "vi" if vi_content >= 1.0 and 2 * vi_score >= en_score else "en"
    return LanguageGuess(language, vi_score, en_score, votes)


def detect_language(text: str) -> str:
    """``"vi"`` or ``"en"`` for a prompt (Vietnamese with or without accents, or English; mixed -> "vi")."""
    return guess_language(text).language
