"""cs20lib: the helpers behind the cs20-word2vec notebooks.

Stanford CS20's lecture "word2vec, structuring TensorFlow models, managing experiments, autodiff",
on today's TensorFlow. One module per idea; ``docs/architecture.md`` has the map. The data side: :mod:`cs20lib.corpus`,
:mod:`cs20lib.toy_corpus`, :mod:`cs20lib.vocab`, :mod:`cs20lib.skipgram`; the models:
:mod:`cs20lib.tf1_model` (the lecture's graph), :mod:`cs20lib.tf2_model` and :mod:`cs20lib.training`, scaled out
by :mod:`cs20lib.distributed` on :mod:`cs20lib.cluster`;
around them :mod:`cs20lib.config`, :mod:`cs20lib.runs`, :mod:`cs20lib.evaluation`,
:mod:`cs20lib.projector`, :mod:`cs20lib.tsne`, :mod:`cs20lib.experiment` and :mod:`cs20lib.notebook`.

Importing ``cs20lib`` does not import TensorFlow; the modules that need it import it themselves.
"""

from .corpus import Corpus, CorpusError, load_corpus, read_words
from .download import TEXT8
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
