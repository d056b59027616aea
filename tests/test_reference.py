"""The reference package equals PyTorch's own layers, and keeps its promises about masks and gradients."""

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import transformer_course as tc

ATOL = 1e-5
B, S, T, D, H, FF = 3, 7, 5, 32, 4, 64


def rand(*shape, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g)


def key_padding(batch, length, lengths):
    """(batch, length) bool, True = real token, for sequences of the given lengths."""
    return torch.arange(length)[None, :] < torch.tensor(lengths)[:, None]


# -- scaled dot-product attention, LayerNorm, sinusoids ------------------------------------------

@pytest.mark.parametrize("masked", [False, True])
def test_attention_equals_torch_sdpa(masked):
    q, k, v = rand(2, 4, 6, 8, seed=1), rand(2, 4, 9, 8, seed=2), rand(2, 4, 9, 8, seed=3)
    mask = key_padding(2, 9, [9, 4])[:, None, None, :] if masked else None
    ours, weights = tc.scaled_dot_product_attention(q, k, v, mask)
    theirs = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)  # same bool convention: True = attend
    assert (ours - theirs).abs().max() <= ATOL
    assert torch.allclose(weights.sum(-1), torch.ones(2, 4, 6))
    if masked:
        assert (weights[1, :, :, 4:] == 0).all()


def test_attention_fully_masked_row_gives_zeros_not_nan():
    q, k, v = rand(1, 3, 4, seed=1), rand(1, 5, 4, seed=2), rand(1, 5, 4, seed=3)
    mask = torch.ones(1, 3, 5, dtype=torch.bool)
    mask[0, 1] = False
    out, weights = tc.scaled_dot_product_attention(q, k, v, mask)
    assert not out.isnan().any() and not weights.isnan().any()
    assert (out[0, 1] == 0).all() and (weights[0, 1] == 0).all()


def test_layernorm_equals_torch():
    x = rand(4, 6, D) * 3 + 1
    ref = nn.LayerNorm(D)
    with torch.no_grad():
        ref.weight.copy_(rand(D, seed=5))
        ref.bias.copy_(rand(D, seed=6))
    ours = tc.LayerNorm(D)
    ours.load_state_dict(ref.state_dict())
    assert (ours(x) - ref(x)).abs().max() <= ATOL


def test_sinusoidal_encoding_matches_the_papers_formula():
    max_len, d_model = 50, 16
    pe = tc.sinusoidal_encoding(max_len, d_model)
    for pos in (0, 1, 7, 49):
        for i in range(d_model // 2):
            angle = pos / 10000 ** (2 * i / d_model)
            assert pe[pos, 2 * i].item() == pytest.approx(math.sin(angle), abs=1e-5)
            assert pe[pos, 2 * i + 1].item() == pytest.approx(math.cos(angle), abs=1e-5)
    x = rand(2, 10, d_model)
    assert torch.equal(tc.SinusoidalPositionalEncoding(d_model, max_len)(x), x + pe[:10])


def test_learned_positional_embedding_adds_one_vector_per_position():
    pe = tc.LearnedPositionalEmbedding(8, max_len=10)
    x = torch.zeros(2, 4, 8)
    out = pe(x)
    assert torch.equal(out[0], pe.embedding.weight[:4]) and torch.equal(out[1], out[0])


# -- multi-head attention against torch.nn.MultiheadAttention ------------------------------------

@pytest.mark.parametrize("mask_kind", [None, "causal", "padding", "both"])
@pytest.mark.parametrize("cross", [False, True])
def test_multihead_attention_equals_torch(mask_kind, cross):
    torch.manual_seed(0)
    ref = nn.MultiheadAttention(D, H, batch_first=True)
    ours = tc.MultiHeadAttention.from_torch(ref)
    x = rand(B, T, D, seed=1)
    mem = rand(B, S, D, seed=2) if cross else x
    k_len = mem.shape[1]
    keep = key_padding(B, k_len, [k_len, k_len - 2, 3])
    causal = tc.causal_mask(T) if not cross else torch.ones(T, k_len, dtype=torch.bool)
    mask, attn_mask, kpm = None, None, None
    if mask_kind in ("causal", "both"):
        mask, attn_mask = causal, ~causal  # torch: True = NOT allowed
    if mask_kind in ("padding", "both"):
        pad = keep[:, None, None, :]
        mask = pad if mask is None else mask & pad
        kpm = ~keep
    out = ours(x, mem, mem, mask)
    ref_out, ref_w = ref(x, mem, mem, key_padding_mask=kpm, attn_mask=attn_mask, average_attn_weights=False)
    assert out.shape == (B, T, D)
    assert (out - ref_out).abs().max() <= ATOL
    assert (ours.attn_weights - ref_w).abs().max() <= ATOL
    assert ours.attn_weights.shape == (B, H, T, k_len)


# -- encoder and decoder layers, stacks, the full model ------------------------------------------

LAYER_SETTINGS = [(nf, act) for nf in (False, True) for act in ("relu", "gelu")]


@pytest.mark.parametrize("norm_first,activation", LAYER_SETTINGS)
@pytest.mark.parametrize("masked", [False, True])
def test_encoder_layer_equals_torch(norm_first, activation, masked):
    torch.manual_seed(1)
    ref = nn.TransformerEncoderLayer(D, H, FF, dropout=0.0, activation=activation,
                                     batch_first=True, norm_first=norm_first).train()  # train(): no fast path
    ours = tc.EncoderLayer.from_torch(ref)
    x = rand(B, S, D, seed=3)
    keep = key_padding(B, S, [S, 4, 1])
    mask = keep[:, None, None, :] if masked else None
    out = ours(x, mask)
    ref_out = ref(x, src_key_padding_mask=~keep if masked else None)
    assert (out - ref_out).abs().max() <= ATOL


@pytest.mark.parametrize("norm_first,activation", LAYER_SETTINGS)
@pytest.mark.parametrize("masked", [False, True])
def test_decoder_layer_equals_torch(norm_first, activation, masked):
    torch.manual_seed(2)
    ref = nn.TransformerDecoderLayer(D, H, FF, dropout=0.0, activation=activation,
                                     batch_first=True, norm_first=norm_first).train()
    ours = tc.DecoderLayer.from_torch(ref)
    x, mem = rand(B, T, D, seed=4), rand(B, S, D, seed=5)
    src_keep, tgt_keep = key_padding(B, S, [S, 2, 5]), key_padding(B, T, [T, T, 2])
    if masked:
        src_mask = src_keep[:, None, None, :]
        tgt_mask = tgt_keep[:, None, None, :] & tc.causal_mask(T)
        ref_out = ref(x, mem, tgt_mask=~tc.causal_mask(T), tgt_key_padding_mask=~tgt_keep,
                      memory_key_padding_mask=~src_keep)
    else:
        src_mask = tgt_mask = None
        ref_out = ref(x, mem)
    assert (ours(x, mem, src_mask, tgt_mask) - ref_out).abs().max() <= ATOL


@pytest.mark.parametrize("norm_first", [False, True])
def test_full_model_equals_torch_transformer(norm_first):
    """Our Transformer with nn.Transformer's encoder and decoder equals embeddings + nn.Transformer + projection."""
    torch.manual_seed(3)
    ref = nn.Transformer(D, H, 2, 2, FF, dropout=0.0, batch_first=True, norm_first=norm_first).train()
    ours = tc.Transformer(tc.ModelConfig(src_vocab_size=11, vocab_size=13, d_model=D, n_heads=H, n_layers=2, d_ff=FF, dropout=0.0,
                          norm_first=norm_first, final_norm=True))
    ours.encoder = tc.Encoder.from_torch(ref.encoder)
    ours.decoder = tc.Decoder.from_torch(ref.decoder)
    src = torch.tensor([[3, 4, 5, 6, 7, 8], [3, 4, 5, 0, 0, 0]])
    tgt = torch.tensor([[1, 5, 6, 7], [1, 8, 0, 0]])
    logits = ours(src, tgt, tc.padding_mask(src, 0), tc.target_mask(tgt, 0))
    src_x = ours.pos_encoding(ours.src_embed(src))
    tgt_x = ours.pos_encoding(ours.tgt_embed(tgt))
    ref_h = ref(src_x, tgt_x, tgt_mask=~tc.causal_mask(4), src_key_padding_mask=src == 0,
                tgt_key_padding_mask=tgt == 0, memory_key_padding_mask=src == 0)
    assert logits.shape == (2, 4, 13)
    assert (logits - ours.unembed(ref_h)).abs().max() <= ATOL


def test_encode_decode_steps_equal_forward():
    torch.manual_seed(4)
    model = tc.Transformer(tc.ModelConfig(src_vocab_size=11, vocab_size=13, d_model=D, n_heads=H, n_layers=2, d_ff=FF, dropout=0.0))
    src, tgt = torch.randint(1, 11, (2, 6)), torch.randint(1, 13, (2, 4))
    src_mask, tgt_mask = tc.padding_mask(src, 0), tc.target_mask(tgt, 0)
    memory = model.encode(src, src_mask)
    assert memory.shape == (2, 6, D)
    assert torch.allclose(model.decode(tgt, memory, src_mask, tgt_mask), model(src, tgt, src_mask, tgt_mask))


# -- promises: gradients, causality, masks -------------------------------------------------------

def test_gradients_reach_every_parameter():
    torch.manual_seed(5)
    model = tc.Transformer(tc.ModelConfig(src_vocab_size=11, vocab_size=13, d_model=D, n_heads=H, n_layers=2, d_ff=FF, dropout=0.1))
    src, tgt = torch.randint(1, 11, (2, 6)), torch.randint(1, 13, (2, 4))
    logits = model(src, tgt, tc.padding_mask(src, 0), tc.target_mask(tgt, 0))
    F.cross_entropy(logits.flatten(0, 1), tgt.flatten()).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, f"no gradient reaches {name}"


def test_causal_mask_hides_the_future():
    torch.manual_seed(6)
    model = tc.Transformer(tc.ModelConfig(src_vocab_size=11, vocab_size=13, d_model=D, n_heads=H, n_layers=2, d_ff=FF, dropout=0.0)).eval()
    src = torch.randint(1, 11, (1, 6))
    tgt = torch.randint(1, 13, (1, 5))
    changed = tgt.clone()
    changed[0, 3] = (tgt[0, 3] % 12) + 1  # a different later token
    out_a = model(src, tgt, None, tc.target_mask(tgt, 0))
    out_b = model(src, changed, None, tc.target_mask(changed, 0))
    assert torch.allclose(out_a[0, :3], out_b[0, :3], atol=1e-6), "positions before 3 saw token 3"
    assert not torch.allclose(out_a[0, 3:], out_b[0, 3:]), "position 3 onwards should see the change"


def test_mask_helpers():
    assert torch.equal(tc.causal_mask(3), torch.tensor([[1, 0, 0], [1, 1, 0], [1, 1, 1]], dtype=torch.bool))
    tokens = torch.tensor([[5, 6, 0], [7, 0, 0]])
    assert tc.padding_mask(tokens, 0).shape == (2, 1, 1, 3)
    assert tc.padding_mask(tokens, 0)[1, 0, 0].tolist() == [True, False, False]
    tm = tc.target_mask(tokens, 0)
    assert tm.shape == (2, 1, 3, 3)
    assert tm[0, 0].tolist() == [[True, False, False], [True, True, False], [True, True, False]]


def test_get_device_honours_the_environment(monkeypatch):
    monkeypatch.setenv("TRANSFORMER_COURSE_DEVICE", "cpu")
    assert tc.get_device() == torch.device("cpu")
    monkeypatch.setenv("TRANSFORMER_COURSE_DEVICE", "not-a-device")
    with pytest.raises(ValueError, match="not-a-device"):
        tc.get_device()
    monkeypatch.delenv("TRANSFORMER_COURSE_DEVICE")
    expected = "cuda" if torch.cuda.is_available() else ("mps" if torch.backends.mps.is_available() else "cpu")
    assert tc.get_device().type == expected


def test_seed_everything_repeats():
    tc.seed_everything(7)
    a = torch.randn(3)
    tc.seed_everything(7)
    assert torch.equal(a, torch.randn(3))


def test_benchmarks_torch_transformer_is_the_same_model_as_ours():
    """The capstone benchmark compares like with like: with the same weights, TorchTransformer == ours."""
    from tools.bench import TorchTransformer, same_weights_as

    torch.manual_seed(7)
    theirs = TorchTransformer(11, 13, d_model=D, n_heads=H, n_layers=2, d_ff=FF, dropout=0.0, max_len=20).train()
    ours = tc.Transformer(tc.ModelConfig(src_vocab_size=11, vocab_size=13, d_model=D, n_heads=H, n_layers=2, d_ff=FF, dropout=0.0, max_len=20))
    assert sum(p.numel() for p in ours.parameters()) == sum(p.numel() for p in theirs.parameters())
    ours = same_weights_as(theirs, ours)
    src = torch.tensor([[3, 4, 5, 6, 7, 8], [3, 4, 5, 0, 0, 0]])
    tgt = torch.tensor([[1, 5, 6, 7], [1, 8, 0, 0]])
    masks = (tc.padding_mask(src, 0), tc.target_mask(tgt, 0))
    assert (ours(src, tgt, *masks) - theirs(src, tgt, *masks)).abs().max() <= ATOL
