"""The size and shape of a model, in one small dataclass shared by the encoder-decoder and the decoder-only model.

Training settings (data, optimiser, number of steps) are not here: they live with the task,
in :mod:`transformer_course.task.training`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ModelConfig:
    """Hyper-parameters of a transformer, named as in the paper.

    ``vocab_size`` is the output vocabulary (what the unembedding predicts); an
    encoder-decoder reads its source in ``src_vocab_size`` tokens (``None``: the same
    vocabulary). ``max_len`` is the longest sequence the positional encoding covers,
    counting ``<bos>`` and ``<eos>``.
    """

    vocab_size: int
    src_vocab_size: int | None = None
    d_model: int = 512
    n_heads: int = 8
    n_layers: int = 6                      # encoder layers (and decoder layers unless n_decoder_layers is set)
    n_decoder_layers: int | None = None
    d_ff: int = 2048
    dropout: float = 0.1
    max_len: int = 5000
    norm_first: bool = False               # False: post-LN as in the paper; True: pre-LN
    activation: str = "relu"               # "relu" (the paper) or "gelu"
    final_norm: bool | None = None         # a LayerNorm after each stack; None: only with pre-LN

    def __post_init__(self) -> None:
        for name in ("vocab_size", "d_model", "n_heads", "n_layers", "d_ff", "max_len"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"ModelConfig.{name} must be a positive integer, got {value!r}")
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model={self.d_model} is not divisible by n_heads={self.n_heads}: "
                             f"each head gets d_k = d_model / n_heads dimensions")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.activation not in ("relu", "gelu"):
            raise ValueError(f"activation must be 'relu' or 'gelu', got {self.activation!r}")

    @property
    def d_k(self) -> int:
        """The width of one head: d_model / n_heads (and d_v = d_k)."""
        return self.d_model // self.n_heads

    @property
    def source_vocab_size(self) -> int:
        """The encoder's vocabulary: ``src_vocab_size``, or ``vocab_size`` when they are shared."""
        return self.vocab_size if self.src_vocab_size is None else self.src_vocab_size

    @property
    def decoder_layers(self) -> int:
        """How many decoder layers: ``n_decoder_layers``, or ``n_layers``."""
        return self.n_layers if self.n_decoder_layers is None else self.n_decoder_layers
