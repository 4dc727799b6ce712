"""A small, generated toy corpus with planted word relations (text8 format).

Why a toy corpus?
-----------------
The real ``text8`` corpus (100 MB of Wikipedia) takes minutes to train on and
must be downloaded. For offline runs, notebooks and unit tests we want
something that is generated in code, is deterministic, weighs a few hundred
KB, and still lets a word2vec model discover *real* structure in a few
seconds. This module builds such a corpus from sentence templates and ships
its own analogy questions in the format of Google's ``questions-words.txt``.

Format
------
Like text8, the text is only lowercase ``a-z`` words separated by single
spaces, with one leading space and no trailing space and no punctuation or
newlines. Sentence boundaries are therefore invisible, exactly as in text8.

How the relations are planted
-----------------------------
Each relation family is a small grid of words. A word is identified by a
*row* and a *column*:

==========  ==============================================  ===============
family      rows (one per pair)                             columns
==========  ==============================================  ===============
gender      ruler (king), prince, man, boy, father, ...     male / female
capital     france, germany, italy, japan, ...              country / city
past_tense  walk, play, run, see, go, write, eat, ...       present / past
==========  ==============================================  ===============

so ``king`` = (ruler, male), ``queen`` = (ruler, female), ``paris`` =
(france, city), ``ran`` = (run, past).

Every sentence is written *about* one target word, and the words around it
are drawn from two independent sources:

* a **row context**: words tied to the row only, shared by both words of the
  pair. ``king`` and ``queen`` both appear near ``crown``, ``throne``,
  ``palace`` (and after ``royal``, ``mighty``); ``france`` and ``paris`` both
  appear near ``french``, ``wine``, ``cheese``; ``walk`` and ``walked`` both
  appear near ``park``, ``dog``, ``trail``.
* a **column context**: words tied to the column only, shared by every row.
  Every male word appears near ``he``/``his``/``him``/``himself``, every
  female word near ``she``/``her``/``herself``; every country in phrases such
  as "the nation ...", "the ... government", "... exports", every capital in
  "downtown ...", "the capital ...", "the ... mayor"; every present-tense verb
  near ``today``, ``usually``, ``every day``, every past-tense verb near
  ``yesterday``, ``ago``, ``last night``.

Skip-gram word2vec learns a vector from the distribution of a word's context
words. Because a word's contexts are (roughly) the union of its row contexts
and its column contexts, its learned vector is (roughly) a sum
``row_part + column_part``. The difference of two words in the same row is
then the pure column difference, which is the same for every row::

    vec(queen) - vec(king)  ~  female - male  ~  vec(woman) - vec(man)

and so ``vec(queen) - vec(king) + vec(man)`` lands near ``vec(woman)``: the
analogy "king is to queen as man is to woman" is solvable by vector
arithmetic (3CosAdd). The same holds for "france : paris :: japan : tokyo"
and "walk : walked :: eat : ate".

Many templates put a row word right next to the target on one side and a
column word right next to it on the other ("the *royal* king *himself* ...",
"*downtown* paris *cheese* shops ...", "*yesterday* we walked to the
*park*"), so the structure is visible even to the lecture's skip-gram with a
context window of one word, not only to wide windows.

Templates are filled with neutral function words (``the``, ``of``, ``a``,
``and``, ``is`` ...), which become the most frequent words of the corpus, as
in natural text; this makes the corpus usable for testing frequent-word
subsampling too. A small share of sentences are pure "filler" sentences that
mention no relation word at all. Template and context words never include
any relation word (this is checked by the tests), so relation words appear
only as sentence targets, and e.g. ``saw`` is only ever the past of ``see``.
As in text8, the possessive is an ``s`` token ("the king s crown").

Sampling is balanced: the corpus is made of ``_N_ROUNDS`` rounds, and every
round contains exactly one sentence per (family, row, column) cell plus a
few filler sentences, so every relation word occurs exactly ``_N_ROUNDS``
(72) times. Within a round the template and the context words are drawn at
random, and all sentences are shuffled. Everything is driven by
``random.Random(seed)``, never global state, so the text for a given seed is
byte-identical in every process.

What to expect
--------------
About 41.4k words, 223 KB and 456 distinct words (seed 0). The corpus is small, so
word2vec needs many epochs: gensim's ``Word2Vec(sg=1, vector_size=50,
window=5, negative=5, min_count=1, epochs=20)`` on 1000-word chunks trains in
about 2.5 s on one worker and solves about 94-99% of :func:`toy_analogies`
(measured over several corpus and training seeds), while the same words
shuffled (no structure) score below 1%. With ``window=1`` it still solves
about 90-95%. With gensim's default 5 epochs the accuracy is only about 20%.
"""

from __future__ import annotations

import os
import pathlib
import random

__all__ = [
    "RELATIONS",
    "toy_text",
    "toy_words",
    "toy_analogies",
    "write_toy_corpus",
    "write_toy_analogies",
]

# ---------------------------------------------------------------------------
# Rows of each family: (column-0 word, column-1 word, row context words)
# ---------------------------------------------------------------------------

_GENDER_ROWS = [
    ("king", "queen", ["crown", "throne", "palace", "kingdom", "court", "reign"]),
    ("prince", "princess", ["castle", "tower", "dragon", "knight", "horse", "sword"]),
    ("man", "woman", ["office", "job", "coffee", "newspaper", "meeting", "suit"]),
    ("boy", "girl", ["school", "playground", "toys", "homework", "bicycle", "teacher"]),
    ("father", "mother", ["parents", "kitchen", "garden", "family", "household", "chores"]),
    ("son", "daughter", ["baby", "born", "childhood", "birthday", "cradle", "nursery"]),
    ("brother", "sister", ["sibling", "cousin", "bedroom", "rivalry", "bunk", "secrets"]),
    ("uncle", "aunt", ["nephew", "niece", "relatives", "holidays", "farm", "visit"]),
    ("husband", "wife", ["marriage", "wedding", "ring", "honeymoon", "anniversary", "vows"]),
    ("actor", "actress", ["stage", "film", "theater", "role", "award", "audience"]),
]

# Gender rows also get adjectives that can stand right before the target word
# ("the royal queen herself ..."), so that even a window of one word sees a
# row-specific context on one side and a column-specific one on the other.
_GENDER_MODIFIERS = {
    "king": ["royal", "mighty", "crowned"],
    "prince": ["charming", "brave", "noble"],
    "man": ["working", "hardworking", "employed"],
    "boy": ["little", "naughty", "playful"],
    "father": ["caring", "strict", "patient"],
    "son": ["newborn", "firstborn", "infant"],
    "brother": ["twin", "older", "younger"],
    "uncle": ["favorite", "visiting", "rich"],
    "husband": ["married", "devoted", "faithful"],
    "actor": ["famous", "talented", "leading"],
}

_CAPITAL_ROWS = [
    ("france", "paris", ["french", "wine", "louvre", "seine", "cheese", "croissants"]),
    ("germany", "berlin", ["german", "beer", "rhine", "sausages", "autobahn", "castles"]),
    ("italy", "rome", ["italian", "pasta", "pizza", "vatican", "colosseum", "espresso"]),
    ("spain", "madrid", ["spanish", "flamenco", "paella", "tapas", "bullfights", "siesta"]),
    ("japan", "tokyo", ["japanese", "sushi", "samurai", "anime", "kimono", "temples"]),
    ("china", "beijing", ["chinese", "dumplings", "tea", "silk", "pandas", "lanterns"]),
    ("russia", "moscow", ["russian", "vodka", "kremlin", "snow", "ballet", "winters"]),
    ("egypt", "cairo", ["egyptian", "pyramids", "nile", "desert", "pharaohs", "camels"]),
    ("greece", "athens", ["greek", "olives", "acropolis", "islands", "philosophy", "ruins"]),
    ("canada", "ottawa", ["canadian", "maple", "hockey", "moose", "forests", "syrup"]),
]

_TENSE_ROWS = [
    ("walk", "walked", ["park", "dog", "path", "slowly", "hills", "trail"]),
    ("play", "played", ["game", "football", "piano", "cards", "chess", "guitar"]),
    ("run", "ran", ["race", "marathon", "track", "fast", "finish", "sprint"]),
    ("see", "saw", ["view", "sunset", "stars", "mountains", "rainbow", "eyes"]),
    ("go", "went", ["trip", "abroad", "journey", "away", "vacation", "station"]),
    ("write", "wrote", ["letter", "poem", "pen", "novel", "essay", "diary"]),
    ("eat", "ate", ["lunch", "bread", "apples", "soup", "breakfast", "sandwich"]),
    ("speak", "spoke", ["language", "speech", "loudly", "words", "accent", "microphone"]),
    ("swim", "swam", ["pool", "river", "water", "beach", "waves", "lake"]),
    ("sing", "sang", ["song", "choir", "voice", "melody", "lyrics", "karaoke"]),
    ("drive", "drove", ["car", "truck", "highway", "road", "gasoline", "parking"]),
    ("fly", "flew", ["plane", "airport", "sky", "kite", "wings", "clouds"]),
]

_ROWS = {
    "gender": _GENDER_ROWS,
    "capital": _CAPITAL_ROWS,
    "past_tense": _TENSE_ROWS,
}

#: Relation families: family name -> list of (a, b) word pairs.
RELATIONS: dict[str, list[tuple[str, str]]] = {
    family: [(a, b) for a, b, _ in rows] for family, rows in _ROWS.items()
}

# ---------------------------------------------------------------------------
# Templates
# ---------------------------------------------------------------------------
# Placeholders: {T} is the target word; {r} is a row-context word (drawn anew
# at each occurrence); other names are column-context slots, filled from
# _COLUMN_SLOTS[family][column][name] (also drawn anew at each occurrence).
# A family's templates are either shared by both columns (then the column
# signal comes from the slots) or given per column (then the template words
# themselves are the column signal).

_GENDER_TEMPLATES = [
    "the {m} {T} wore {his} {r} to the {r}",
    "{he} is the {m} {T} of the {r}",
    "the {m} {T} {self} said that {he} loved the {r}",
    "everyone at the {r} knew the {T} and {his} {r}",
    "the {m} {T} showed {his} {r} to the {r}",
    "the {T} knew that the {r} was no place for {him}",
    "the {m} {T} {self} sat by the {r}",
    "when the {T} came home {he} talked about the {r}",
    "the {T} {self} and {his} {r} were at the {r}",
    "the guests asked the {m} {T} about {his} {r}",
    "{he} was a proud {T} and the {r} was {his} life",
    "the {T} s {r} made {him} smile",
]

_CAPITAL_TEMPLATES = {
    "country": [
        "the nation {T} {r} is famous around the world",
        "the country {T} {r} exports grew this year",
        "across the country {T} {r} is popular",
        "the republic {T} {r} industry employs many people",
        "the {T} government is proud of its {r}",
        "{T} exports {r} to the world",
        "{T} elected a president who loves {r}",
        "the border of {T} is crossed by people who love {r}",
        "every province in {T} has its own {r}",
    ],
    "city": [
        "downtown {T} {r} shops are busy",
        "the capital {T} {r} festival fills the streets",
        "in downtown {T} {r} is served on every street",
        "the city {T} {r} museum opened a new wing",
        "the {T} mayor opened a new {r} museum",
        "the {T} subway takes tourists to the {r}",
        "the capital {T} is famous for its {r}",
        "the streets of {T} are full of {r}",
        "the {T} city council voted on the {r} festival",
    ],
}

_TENSE_TEMPLATES = [
    "{adv} we {T} to the {r}",
    "{adv} i {T} with my {r} {when}",
    "they {T} near the {r} {when}",
    "my friends {T} along with the {r} {when}",
    "{adv} the children {T} by the {r}",
    "we {T} the {r} together {when}",
    "{adv} you {T} because of the {r}",
    "the students {T} after the {r} {when}",
]

_COLUMN_SLOTS = {
    "gender": {
        "male": {"he": ["he"], "his": ["his"], "him": ["him"], "self": ["himself"]},
        "female": {"he": ["she"], "his": ["her"], "him": ["her"], "self": ["herself"]},
    },
    "capital": {"country": {}, "city": {}},
    "past_tense": {
        "present": {
            "adv": ["today", "now", "usually", "often", "always", "sometimes"],
            "when": ["every day", "every morning", "each week", "these days", "right now"],
        },
        "past": {
            "adv": ["yesterday", "once", "earlier", "previously", "then"],
            "when": ["yesterday", "last night", "long ago", "two days ago", "last week"],
        },
    },
}

_COLUMNS = {
    "gender": ("male", "female"),
    "capital": ("country", "city"),
    "past_tense": ("present", "past"),
}


def _templates(family: str, column: str) -> list[str]:
    if family == "gender":
        return _GENDER_TEMPLATES
    if family == "capital":
        return _CAPITAL_TEMPLATES[column]
    return _TENSE_TEMPLATES


# Neutral filler sentences (no relation words): "the {n} was {a} and ..." etc.
_FILLER_TEMPLATES = [
    "it was a {a} {n} in the {n}",
    "the {n} of the {n} was {a}",
    "there is a {a} {n} on the {n}",
    "this {n} is {a} and that {n} is {a}",
    "a {n} from the {n} was left in the {n}",
    "as for the {n} it is {a} as ever",
    "the {a} {n} and the {a} {n}",
]
_FILLER_NOUNS = [
    "weather", "town", "market", "bridge", "window", "table", "pond",
    "barn", "village", "chair", "box", "door", "wall", "letterbox",
    "clock", "lamp", "fence", "square", "hall", "room",
]
_FILLER_ADJS = [
    "quiet", "small", "large", "warm", "cold", "green", "windy", "muddy",
    "bright", "dark", "strange", "simple", "narrow", "round", "plain",
]

#: Number of rounds; each round has one sentence per (family, row, column).
_N_ROUNDS = 72
#: Filler sentences per round (on top of the 64 relation sentences).
_N_FILLER_PER_ROUND = 6


def _fill(template: str, slots: dict[str, list[str]], rng: random.Random) -> str:
    """Replace every ``{name}`` in *template* with a random choice from slots[name]."""
    out = []
    for token in template.split(" "):
        if token.startswith("{") and token.endswith("}"):
            out.append(rng.choice(slots[token[1:-1]]))
        else:
            out.append(token)
    return " ".join(out)


def _sentences(seed: int) -> list[str]:
    rng = random.Random(seed)
    sentences: list[str] = []
    for _ in range(_N_ROUNDS):
        for family, rows in _ROWS.items():
            for row in rows:
                context = row[2]
                for col_index, column in enumerate(_COLUMNS[family]):
                    slots = dict(_COLUMN_SLOTS[family][column])
                    slots["T"] = [row[col_index]]
                    slots["r"] = context
                    if family == "gender":
                        slots["m"] = _GENDER_MODIFIERS[row[0]]
                    template = rng.choice(_templates(family, column))
                    sentences.append(_fill(template, slots, rng))
        filler_slots = {"n": _FILLER_NOUNS, "a": _FILLER_ADJS}
        for _ in range(_N_FILLER_PER_ROUND):
            sentences.append(_fill(rng.choice(_FILLER_TEMPLATES), filler_slots, rng))
    rng.shuffle(sentences)
    return sentences


def toy_text(seed: int = 0) -> str:
    """Return the toy corpus for *seed* as one text8-format string.

    The string starts with a single space and consists of lowercase ``a-z``
    words separated by single spaces (about 41.4k words, about 223 KB).
    Same seed -> byte-identical text; different seeds -> different text.
    """
    return " " + " ".join(_sentences(int(seed)))


def toy_words(seed: int = 0) -> list[str]:
    """Return the toy corpus as a list of words (``toy_text(seed).split()``)."""
    return toy_text(seed).split()


def toy_analogies() -> str:
    """Return the analogy questions in Google ``questions-words.txt`` format.

    For each family in :data:`RELATIONS` there is a header line
    ``": <family>"`` followed by one line ``"a b c d"`` for every ordered pair
    of distinct pairs ``(a, b)``, ``(c, d)`` of that family, meaning
    "a is to b as c is to d". A family with n pairs has n*(n-1) questions.
    """
    lines = []
    for family, pairs in RELATIONS.items():
        lines.append(f": {family}")
        for i, (a, b) in enumerate(pairs):
            for j, (c, d) in enumerate(pairs):
                if i != j:
                    lines.append(f"{a} {b} {c} {d}")
    return "\n".join(lines) + "\n"


def write_toy_corpus(path: str | os.PathLike, seed: int = 0) -> pathlib.Path:
    """Write ``toy_text(seed)`` to *path* as a plain ASCII file; return the Path."""
    path = pathlib.Path(path)
    path.write_text(toy_text(seed), encoding="ascii")
    return path


def write_toy_analogies(path: str | os.PathLike) -> pathlib.Path:
    """Write ``toy_analogies()`` to *path* as a plain ASCII file; return the Path."""
    path = pathlib.Path(path)
    path.write_text(toy_analogies(), encoding="ascii")
    return path
