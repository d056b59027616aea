"""Wrong shapes get an error in the learner's terms, raised before any computation."""

import pytest
import torch

import transformer_course as tc


def test_d_model_not_divisible_by_n_heads():
    with pytest.raises(ValueError, match=r"d_model=10 is not divisible by n_heads=4"):
        tc.MultiHeadAttention(10, 4)


def test_input_last_dim_not_d_model():
    mha = tc.MultiHeadAttention(16, 4)
    with pytest.raises(ValueError, match=r"query has shape \(2, 5, 12\).*d_model=16"):
        mha(torch.randn(2, 5, 12), torch.randn(2, 5, 16), torch.randn(2, 5, 16))
    with pytest.raises(ValueError, match=r"LayerNorm input has shape \(3, 8\).*d_model=6"):
        tc.LayerNorm(6)(torch.randn(3, 8))
    with pytest.raises(ValueError, match=r"feed-forward input .*d_model=8"):
        tc.FeedForward(8, 32)(torch.randn(2, 3, 4))
    with pytest.raises(ValueError, match=r"must be 3-D: \(batch, seq_len, d_model\)"):
        mha(torch.randn(5, 16), torch.randn(5, 16), torch.randn(5, 16))


def test_mask_that_does_not_broadcast():
    mha = tc.MultiHeadAttention(16, 4)
    x = torch.randn(2, 5, 16)
    with pytest.raises(ValueError, match=r"mask has shape \(2, 6\).*k_len axis has size 6, expected 1 or 5"):
        mha(x, x, x, torch.ones(2, 6, dtype=torch.bool))
    with pytest.raises(TypeError, match="bool tensor"):
        mha(x, x, x, torch.ones(5, 5))
    with pytest.raises(ValueError, match=r"batch axis has size 3, expected 1 or 2"):
        mha(x, x, x, torch.ones(3, 1, 1, 5, dtype=torch.bool))


@pytest.mark.parametrize("scores_shape, mask_shape, message", [
    # 2 axes (q_len, k_len): a causal mask for one sequence
    ((5, 5), (4, 5), r"scores are \(5, 5\) \(q_len, k_len\): its q_len axis has size 4, expected 1 or 5"),
    # 3 axes (batch, q_len, k_len), as in notebook 02: the first axis is the batch, not the heads
    ((2, 5, 5), (3, 5, 5), r"\(batch, q_len, k_len\): its batch axis has size 3, expected 1 or 2"),
    ((2, 5, 5), (2, 5, 4), r"its k_len axis has size 4, expected 1 or 5"),
    # 4 axes (batch, n_heads, q_len, k_len)
    ((2, 4, 5, 5), (2, 3, 5, 5), r"\(batch, n_heads, q_len, k_len\): its n_heads axis has size 3, expected 1 or 4"),
    ((2, 4, 5, 5), (3, 1, 1, 5), r"its batch axis has size 3, expected 1 or 2"),
])
def test_mask_error_names_the_right_axis_for_scores_of_any_rank(scores_shape, mask_shape, message):
    with pytest.raises(ValueError, match=message):
        tc.masked_softmax(torch.randn(scores_shape), torch.ones(mask_shape, dtype=torch.bool))


def test_mask_with_more_axes_than_the_scores():
    with pytest.raises(ValueError, match=r"mask has shape \(1, 2, 5, 5\), more axes than the attention scores "
                                         r"\(2, 5, 5\) \(batch, q_len, k_len\)"):
        tc.masked_softmax(torch.randn(2, 5, 5), torch.ones(1, 2, 5, 5, dtype=torch.bool))


def test_queries_and_keys_of_different_widths():
    with pytest.raises(ValueError, match=r"queries have width d_k=8.*keys have width 6"):
        tc.scaled_dot_product_attention(torch.randn(2, 3, 8), torch.randn(2, 4, 6), torch.randn(2, 4, 6))


def test_keys_and_values_of_different_lengths():
    with pytest.raises(ValueError, match=r"keys have length 4.*values have length 5"):
        tc.scaled_dot_product_attention(torch.randn(2, 3, 8), torch.randn(2, 4, 8), torch.randn(2, 5, 8))
    mha = tc.MultiHeadAttention(16, 4)
    with pytest.raises(ValueError, match=r"key has length 4 but value has length 5"):
        mha(torch.randn(2, 3, 16), torch.randn(2, 4, 16), torch.randn(2, 5, 16))


def test_sequence_longer_than_max_len():
    with pytest.raises(ValueError, match=r"length 12 .*max_len=10"):
        tc.SinusoidalPositionalEncoding(8, max_len=10)(torch.randn(1, 12, 8))
    with pytest.raises(ValueError, match=r"length 12 .*max_len=10"):
        tc.LearnedPositionalEmbedding(8, max_len=10)(torch.randn(1, 12, 8))


def test_token_ids_outside_the_vocabulary():
    model = tc.Transformer(tc.ModelConfig(src_vocab_size=10, vocab_size=12, d_model=16, n_heads=2, n_layers=1, d_ff=32))
    src, tgt = torch.tensor([[1, 2, 10]]), torch.tensor([[1, 2]])
    with pytest.raises(ValueError, match=r"source token ids contain id 10, outside the vocabulary of size 10"):
        model(src, tgt)
    with pytest.raises(ValueError, match=r"target token ids contain id -1"):
        model(torch.tensor([[1, 2]]), torch.tensor([[1, -1]]))


def test_other_learner_mistakes():
    with pytest.raises(ValueError, match="positive integer"):
        tc.causal_mask(0)
    with pytest.raises(ValueError, match=r"\(batch, seq_len\)"):
        tc.padding_mask(torch.tensor([1, 2, 0]), 0)
    with pytest.raises(ValueError, match="d_model must be even"):
        tc.sinusoidal_encoding(10, 7)
    with pytest.raises(ValueError, match="activation must be one of"):
        tc.FeedForward(8, 16, activation="tanh")
