"""A small, generated toy corpus with planted word relations, in text8 format, and its analogy questions.

For offline runs, notebooks and unit tests: generated in code, deterministic (``random.Random(seed)``,
never global state), a few hundred KB, and still structured enough for word2vec to learn analogies in
seconds. Like text8 it is lowercase ``a-z`` words separated by single spaces, without punctuation or
sentence boundaries.

Three relation families are planted as grids of words, a row and a column per word:

==========  ==============================================  ===============
family      rows (one per pair)                             columns
==========  ==============================================  ===============
gender      ruler (king), prince, man, boy, father, ...     male / female
capital     france, germany, italy, japan, ...              country / city
past_tense  walk, play, run, see, go, write, eat, ...       present / past
==========  ==============================================  ===============

Each sentence is about one target word and surrounds it with words of its row (``crown``, ``throne``
for king and queen; ``wine``, ``cheese`` for france and paris) and words of its column (``he``/``his``
for every male word, ``yesterday``/``ago`` for every past tense), often right next to it so that a
window of one word sees them. A word's skip-gram vector is then roughly ``row_part + column_part``,
so ``vec(queen) - vec(king) + vec(man)`` lands near ``vec(woman)`` (3CosAdd), and likewise
"france : paris :: japan : tokyo" and "walk : walked :: eat : ate". Template words never include a
relation word (the tests check it), the function words (``the``, ``of``, ...) are the most frequent
words as in natural text, and every relation word occurs exactly ``_N_ROUNDS`` times. How well
word2vec solves :func:`toy_analogies` is measured in the tests and notebooks, not stated here.
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
RELATIONS: dict[str, list[tuple[str, str]]] = {family: [(a, b) for a, b, _ in rows] for family, rows in _ROWS.items()}

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
    "weather",
    "town",
    "market",
    "bridge",
    "window",
    "table",
    "pond",
    "barn",
    "village",
    "chair",
    "box",
    "door",
    "wall",
    "letterbox",
    "clock",
    "lamp",
    "fence",
    "square",
    "hall",
    "room",
]
_FILLER_ADJS = [
    "quiet",
    "small",
    "large",
    "warm",
    "cold",
    "green",
    "windy",
    "muddy",
    "bright",
    "dark",
    "strange",
    "simple",
    "narrow",
    "round",
    "plain",
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
