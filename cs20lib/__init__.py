"""cs20lib: the helpers behind the cs20-word2vec notebooks.

Stanford CS20's lecture "word2vec, structuring TensorFlow models, managing experiments, autodiff",
on today's TensorFlow. One module per idea (``docs/architecture.md`` has the map):

* :mod:`cs20lib.corpus`     text8 (downloaded and verified) or any text8-format file
* :mod:`cs20lib.toy_corpus` a small generated corpus with planted analogies
* :mod:`cs20lib.vocab`      the lecture's vocabulary (UNK = 0, most common words next)
* :mod:`cs20lib.skipgram`   skip-gram pairs and batches, vectorised, deterministic, resumable

Importing ``cs20lib`` does not import TensorFlow; the modules that need it import it themselves.
"""

from .corpus import TEXT8, Corpus, CorpusError, load_corpus, read_words
from .skipgram import SkipGramStream, batch_gen, skipgram_pairs
from .vocab import UNK, Vocabulary

__version__ = "0.1.0"

__all__ = [
    "TEXT8",
    "UNK",
    "Corpus",
    "CorpusError",
    "SkipGramStream",
    "Vocabulary",
    "__version__",
    "batch_gen",
    "load_corpus",
    "read_words",
    "skipgram_pairs",
]
