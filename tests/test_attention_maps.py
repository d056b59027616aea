"""attention_maps: shapes, tokens, rows that are distributions, and the same weights as step-by-step decoding."""

import pytest
import torch

import transformer_course as tc
from transformer_course.task.interpret import attention_maps
from transformer_course.task.number_words import DE_VOCAB, EN_VOCAB, MAX_TGT_LEN, make_batch


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return tc.Transformer(tc.ModelConfig(src_vocab_size=len(EN_VOCAB), vocab_size=len(DE_VOCAB), d_model=16, n_heads=2, n_layers=2, d_ff=32,
                          dropout=0.1, max_len=MAX_TGT_LEN + 3, n_decoder_layers=1))


@pytest.mark.parametrize("number", [0, 21, 45_678])
def test_shapes_and_tokens(model, number):
    maps = attention_maps(model, number)
    S, T = len(maps["source"]), len(maps["output"])
    assert maps["source"] == tc.english_tokens(number)
    assert maps["decoder_input"][0] == "<bos>" and maps["decoder_input"][1:] == maps["output"][:-1]
    expected = tc.greedy_decode(model, make_batch([number])[0])[0].tolist()
    assert [DE_VOCAB.stoi[t] for t in maps["output"]] == [i for i in expected[1:] if i != 0]
    assert maps["encoder_self"].shape == (2, 2, S, S)
    assert maps["decoder_self"].shape == (1, 2, T, T)
    assert maps["cross"].shape == (1, 2, T, S)
    for name in ("encoder_self", "decoder_self", "cross"):
        assert torch.allclose(maps[name].sum(-1), torch.ones(maps[name].shape[:-1]), atol=1e-5)
    assert (maps["decoder_self"].triu(1) == 0).all()  # causal: no weight on the future


def test_the_model_mode_is_kept(model):
    model.train()
    attention_maps(model, 7)
    assert model.training
    model.eval()


def test_same_weights_as_step_by_step_decoding(model):
    """The last row of one forward pass per step equals the row of the single pass (the causal mask)."""
    maps = attention_maps(model, 321)
    src, _ = make_batch([321])
    ids = [DE_VOCAB.stoi[t] for t in maps["decoder_input"]]
    model.eval()
    with torch.no_grad():
        for t in range(1, len(ids) + 1):
            tgt = torch.tensor([ids[:t]])
            model(src, tgt, tc.padding_mask(src, 0), tc.target_mask(tgt, 0))
            step_row = model.decoder.layers[0].cross_attn.attn_weights[0, :, -1]  # (heads, S)
            assert torch.allclose(step_row, maps["cross"][0, :, t - 1], atol=1e-5)
