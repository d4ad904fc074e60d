"""Text classification building blocks: tokenizers, corpora, models, BERT.

Tokenizers that need no download (`build_vocabulary`, `byte_vocabulary`,
`encode`, `decode`) map texts to {"ids": int32 [N, L], "lengths": int32 [N]},
the input of every model here. Readers (`read_imdb`, `read_text_csv`) return
texts and NumPy labels as a `TextData`; `keep_fraction` draws the
imbalanced subsamples. The models (`BiLSTMClassifier`,
`TransformerClassifier`, `BertClassifier`, `SentencePairModel`) follow
`ltjax.models`: `model.apply(variables, inputs, train=...)` returns
`(logits float32 [B, C], features float32 [B, D])`, with the head a
`ltjax.models.Head` at `params["head"]`. `load_bert_safetensors` reads a
Hugging Face BERT checkpoint into `BertEncoder` params, with a NumPy reader of
the safetensors format (`read_safetensors`, `write_safetensors`).

  vocab = text.build_vocabulary(train.texts, max_size=20000)
  ids, lengths = text.encode(train.texts, vocab, max_length=256)
  model = text.BiLSTMClassifier(num_classes=2, vocab_size=len(vocab))
  variables = model.init(rng, {"ids": ids[:1], "lengths": lengths[:1]},
                         train=False)

`inputs_from_ids(ids)` rebuilds that dict from the padded ids alone (the
lengths are the non-padding counts), which is how the training engine feeds
a `ltjax.data.TokenSplit` to the models registered in `ltjax.models`
("bilstm", "text_transformer", and "bilstm_pair" / "text_transformer_pair"
(`BiLSTMPairClassifier`, `TransformerPairClassifier`) for text pairs).
"""

from ltjax.text._bert import BERT_POOLINGS
from ltjax.text._bert import bert_config_from_hf
from ltjax.text._bert import bert_params_from_tensors
from ltjax.text._bert import BertClassifier
from ltjax.text._bert import BertConfig
from ltjax.text._bert import BertEncoder
from ltjax.text._bert import BertLayer
from ltjax.text._bert import load_bert_safetensors
from ltjax.text._models import BiLSTMClassifier
from ltjax.text._models import BiLSTMEncoder
from ltjax.text._models import BiLSTMPairClassifier
from ltjax.text._models import encode_pair
from ltjax.text._models import EncoderBlock
from ltjax.text._models import inputs_from_ids
from ltjax.text._models import masked_pool
from ltjax.text._models import pair_features
from ltjax.text._models import POOLINGS
from ltjax.text._models import SentencePairModel
from ltjax.text._models import text_inputs
from ltjax.text._models import TransformerClassifier
from ltjax.text._models import TransformerEncoder
from ltjax.text._models import TransformerPairClassifier
from ltjax.text._models import valid_mask
from ltjax.text._safetensors import read_safetensors
from ltjax.text._safetensors import read_safetensors_metadata
from ltjax.text._safetensors import write_safetensors
from ltjax.text._sources import IMDB_CLASSES
from ltjax.text._sources import keep_fraction
from ltjax.text._sources import MissingColumnError
from ltjax.text._sources import read_imdb
from ltjax.text._sources import read_text_csv
from ltjax.text._sources import select_classes
from ltjax.text._sources import take
from ltjax.text._sources import TextData
from ltjax.text._tokenize import build_vocabulary
from ltjax.text._tokenize import byte_vocabulary
from ltjax.text._tokenize import decode
from ltjax.text._tokenize import decode_tokens
from ltjax.text._tokenize import encode
from ltjax.text._tokenize import PAD_ID
from ltjax.text._tokenize import tokenize
from ltjax.text._tokenize import UNK_ID
from ltjax.text._tokenize import vocabulary_from_json
from ltjax.text._tokenize import vocabulary_to_json
from ltjax.text._tokenize import Vocabulary
from ltjax.text._tokenize import WORD_PATTERN
from ltjax.text._word_vectors import read_word_vectors

__all__ = (
    "BERT_POOLINGS",
    "BertClassifier",
    "BertConfig",
    "BertEncoder",
    "BertLayer",
    "BiLSTMClassifier",
    "BiLSTMEncoder",
    "BiLSTMPairClassifier",
    "EncoderBlock",
    "IMDB_CLASSES",
    "MissingColumnError",
    "PAD_ID",
    "POOLINGS",
    "SentencePairModel",
    "TextData",
    "TransformerClassifier",
    "TransformerPairClassifier",
    "TransformerEncoder",
    "UNK_ID",
    "Vocabulary",
    "WORD_PATTERN",
    "bert_config_from_hf",
    "bert_params_from_tensors",
    "build_vocabulary",
    "byte_vocabulary",
    "decode",
    "decode_tokens",
    "encode",
    "encode_pair",
    "inputs_from_ids",
    "keep_fraction",
    "load_bert_safetensors",
    "masked_pool",
    "pair_features",
    "read_imdb",
    "read_safetensors",
    "read_safetensors_metadata",
    "read_text_csv",
    "read_word_vectors",
    "select_classes",
    "take",
    "text_inputs",
    "tokenize",
    "valid_mask",
    "vocabulary_from_json",
    "vocabulary_to_json",
    "write_safetensors",
)
