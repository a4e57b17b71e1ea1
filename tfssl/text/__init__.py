"""tfssl.text."""

from tfssl.text.masking import MLMMasker, num_mask_slots  # noqa: F401
from tfssl.text.packing import (  # noqa: F401
    encode_texts, pack_documents, tokenize_documents, unpack_documents)
from tfssl.text.vocab import (  # noqa: F401
    SPECIAL_TOKENS, cached_vocabulary, load_vocabulary, make_tokenizer, save_vocabulary,
    train_vocabulary)
