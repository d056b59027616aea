"""Notebook 12: the one-file transformer equals the package's, and the battery passes it and names the piece
of each realistic whole-file mistake (each a single edit of the solution file)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import transformer_course as tc
from transformer_course.checks import ExerciseNotDone, blank_page
from transformer_course.task.training import CapstoneConfig

ROOT = Path(__file__).resolve().parent.parent
SOLUTION = ROOT / "notebooks" / "solutions" / "my_transformer.py"
TEXT = SOLUTION.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def my():
    return blank_page.load(SOLUTION)


def _model(my, config):
    return my.Transformer(config.source_vocab_size, config.vocab_size, config.d_model, config.n_heads,
                          config.n_layers, config.d_ff, config.dropout, config.max_len)


def test_the_solution_file_is_short_and_uses_only_torch():
    assert len([line for line in TEXT.splitlines() if line.strip()]) <= 250  # about 300 with blank lines
    imports = [line for line in TEXT.splitlines() if line.startswith(("import ", "from "))]
    assert imports == ["import math", "import torch", "import torch.nn.functional as F", "from torch import nn"]


def test_the_solution_equals_tc_transformer_with_the_same_weights(my, one_thread):
    config = CapstoneConfig().model
    reference = tc.Transformer(config).eval()
    mine = _model(my, config)
    mine.load_state_dict(reference.state_dict())  # the same parameter names, so the same state dict
    mine.eval()
    src, tgt = tc.make_batch([0, 21, 1001, 123_456, 999_999])
    tgt_in = tgt[:, :-1]
    with torch.no_grad():
        expected = reference(src, tgt_in, tc.padding_mask(src, 0), tc.target_mask(tgt_in, 0))
        got = mine(src, tgt_in, my.padding_mask(src, 0), my.target_mask(tgt_in, 0))
    assert (got - expected).abs().max() <= 1e-5
    assert torch.equal(my.greedy_decode(mine, src, 13), tc.greedy_decode(reference, src, 13))


def test_the_solution_trains_exactly_like_the_capstone(my, one_thread):
    """Same seed, same weights (built in the same order), same batches and schedule: the same losses."""
    config = CapstoneConfig()
    train_numbers, _, _ = config.splits()
    torch.manual_seed(0)  # as train_capstone does: seed, build, train (dropout draws from the same stream)
    reference = config.make_model()
    initial = {name: p.clone() for name, p in reference.state_dict().items()}
    optimizer, scheduler = config.make_optimizer(reference)
    batches = tc.batch_iterator(train_numbers, config.batch_size, seed=config.seed, epochs=None)
    expected = [tc.train_step(reference, next(batches), optimizer, scheduler) for _ in range(20)]
    torch.manual_seed(0)
    mine = _model(my, config.model)
    assert all(torch.equal(initial[name], p) for name, p in mine.state_dict().items())
    batches = tc.batch_iterator(train_numbers, config.batch_size, seed=config.seed, epochs=None)
    got = my.train(mine, batches, 20, peak_lr=config.lr, warmup=config.warmup)
    assert max(abs(a - b) for a, b in zip(got, expected)) < 1e-4


def test_the_battery_passes_the_solution(one_thread):
    assert blank_page.first_failure(SOLUTION) is None


def test_no_file_is_not_done_and_strict_mode_fails(tmp_path, capsys, monkeypatch, one_thread):
    monkeypatch.delenv("TRANSFORMER_COURSE_STRICT", raising=False)
    missing = tmp_path / "my_transformer.py"
    my = blank_page.run(missing)
    out = capsys.readouterr().out
    assert out.count("… piece") == len(blank_page.PIECES) and not my.battery_passed
    monkeypatch.setenv("TRANSFORMER_COURSE_STRICT", "1")
    with pytest.raises(ExerciseNotDone, match="piece 1, rules: not done yet"):
        blank_page.run(missing)


def test_create_if_missing_never_overwrites(tmp_path):
    path = tmp_path / "my_transformer.py"
    assert "created" in blank_page.create_if_missing(path)
    assert blank_page.load(path) is not None and path.read_text() == blank_page.HEADER
    path.write_text("x = 1\n")
    assert "left as it is" in blank_page.create_if_missing(path)
    assert path.read_text() == "x = 1\n"


def test_a_half_written_file_checks_what_is_there(tmp_path, one_thread):
    cut = TEXT.index("class PositionalEncoding")
    path = tmp_path / "my_transformer.py"
    path.write_text(TEXT[:cut])
    assert blank_page.first_failure(path) == ("PositionalEncoding", "not done")


# --- whole-file mistakes: each one edit of the solution, and the piece the battery must name ------------

MISTAKES = [
    # (id, [(old, new), ...], piece named, a fragment of the message)
    ("sqrt(d_model) missing", [("return self.lut(tokens) * math.sqrt(self.d_model)", "return self.lut(tokens)")],
     "Embedding", "not multiplied by sqrt(d_model)"),
    ("sqrt(d_model) after the positional encoding",
     [("return self.lut(tokens) * math.sqrt(self.d_model)", "return self.lut(tokens)"),
      ("return self.dropout(x + self.pe[: x.shape[1]])",
       "return self.dropout((x + self.pe[: x.shape[1]]) * math.sqrt(x.shape[-1]))")],
     "Embedding", "before the positional encoding is added"),
    ("shared source/target embedding", [("self.tgt_embed = Embedding(tgt_vocab_size, d_model)",
                                         "self.tgt_embed = self.src_embed")], "Transformer", "share one embedding"),
    ("sin/cos concatenated", [("pe[:, 0::2] = torch.sin(position * div_term)\n        pe[:, 1::2] = torch.cos(",
                               "pe[:, : d_model // 2] = torch.sin(position * div_term)\n"
                               "        pe[:, d_model // 2 :] = torch.cos(")], "PositionalEncoding", "concatenated"),
    ("sin/cos swapped", [("pe[:, 0::2] = torch.sin(position * div_term)\n        pe[:, 1::2] = torch.cos(",
                          "pe[:, 0::2] = torch.cos(position * div_term)\n        pe[:, 1::2] = torch.sin(")],
     "PositionalEncoding", "swapped"),
    ("no 1/sqrt(d_k)", [(" / math.sqrt(q.shape[-1])", "")], "attention", "sqrt(d_k)"),
    ("softmax over the queries", [("weights = torch.softmax(scores, dim=-1)", "weights = torch.softmax(scores, dim=-2)")],
     "attention", "wrong axis"),
    ("attention mask with the wrong polarity", [("scores.masked_fill(~mask,", "scores.masked_fill(mask,")],
     "attention", "polarity"),
    ("heads split with a view and no transpose", [("x.view(B, -1, self.n_heads, self.d_k).transpose(1, 2)",
                                                   "x.view(B, self.n_heads, -1, self.d_k)")],
     "MultiHeadAttention", ""),
    ("no output projection W_O", [("return self.w_o(out)", "return out")], "MultiHeadAttention", "W_O"),
    ("keys from the query", [("split(self.w_k(key))", "split(self.w_k(query))")], "MultiHeadAttention", "key"),
    ("unbiased variance", [("var = ((x - mean) ** 2).mean(dim=-1, keepdim=True)", "var = x.var(dim=-1, keepdim=True)")],
     "LayerNorm", "unbiased"),
    ("eps outside the square root", [("torch.sqrt(var + self.eps)", "(torch.sqrt(var) + self.eps)")], "LayerNorm",
     "eps outside"),
    ("nn.LayerNorm used", [("self.norm = LayerNorm(d_model)", "self.norm = nn.LayerNorm(d_model)")], "rules",
     "nn.LayerNorm"),
    ("imports transformer_course", [("import math\n", "import math\n\nimport transformer_course  # noqa: F401\n")],
     "rules", "imports transformer_course"),
    ("F.scaled_dot_product_attention used", [("return weights @ v, weights  #",
                                              "return F.scaled_dot_product_attention(q, k, v, attn_mask=mask), weights  #")],
     "rules", "scaled_dot_product_attention"),
    ("no ReLU in the feed-forward", [("torch.relu(self.linear1(x))", "self.linear1(x)")], "FeedForward", "no ReLU"),
    ("feed-forward dropout on the output", [("return self.linear2(self.dropout(torch.relu(self.linear1(x))))",
                                             "return self.dropout(self.linear2(torch.relu(self.linear1(x))))")],
     "FeedForward", "dropout"),
    ("post-LN written as pre-LN", [("return self.norm(x + self.dropout(sublayer(x)))",
                                    "return x + self.dropout(sublayer(self.norm(x)))")], "SublayerConnection", "pre-LN"),
    ("no residual connection", [("return self.norm(x + self.dropout(sublayer(x)))",
                                 "return self.norm(self.dropout(sublayer(x)))")], "SublayerConnection", "residual"),
    ("feed-forward before self-attention in the encoder layer",
     [("x = self.attn_sublayer(x, lambda x: self.self_attn(x, x, x, mask))\n        return self.ff_sublayer(x, "
       "self.feed_forward)", "x = self.ff_sublayer(x, self.feed_forward)\n        return self.attn_sublayer(x, "
       "lambda x: self.self_attn(x, x, x, mask))")], "EncoderLayer", ""),
    ("encoder layer ignores the mask", [("self.self_attn(x, x, x, mask))", "self.self_attn(x, x, x))")],
     "EncoderLayer", ""),
    ("one encoder layer repeated", [("nn.ModuleList(EncoderLayer(d_model, n_heads, d_ff, dropout) for _ in "
                                     "range(n_layers))", "nn.ModuleList([EncoderLayer(d_model, n_heads, d_ff, "
                                     "dropout)] * n_layers)")], "Encoder", "same layer object"),
    ("encoder stack drops the mask", [("x = layer(x, mask)", "x = layer(x)")], "Encoder", "mask"),
    ("cross-attention given the target mask", [("self.cross_attn(x, memory, memory, src_mask)",
                                                "self.cross_attn(x, memory, memory, tgt_mask)")],
     "DecoderLayer", "target mask"),
    ("decoder self-attention unmasked", [("self.self_attn(x, x, x, tgt_mask)", "self.self_attn(x, x, x)")],
     "DecoderLayer", ""),
    ("cross-attention keys and values from the decoder", [("self.cross_attn(x, memory, memory, src_mask)",
                                                           "self.cross_attn(x, x, x, src_mask)")],
     "DecoderLayer", "memory"),
    ("decoder stack swaps the masks", [("x = layer(x, memory, src_mask, tgt_mask)",
                                        "x = layer(x, memory, tgt_mask, src_mask)")], "Decoder", "wrong order"),
    ("no positional encoding on the target", [("self.decoder(self.pos_encoding(self.tgt_embed(tgt)), memory",
                                               "self.decoder(self.tgt_embed(tgt), memory")],
     "Transformer", "positional encoding"),
    ("Transformer without the max_len argument", [("dropout=0.1, max_len=13):", "dropout=0.1):"),
                                                  ("PositionalEncoding(d_model, max_len, dropout)",
                                                   "PositionalEncoding(d_model, 13, dropout)")],
     "Transformer", "TypeError"),
    ("no unembedding", [("return self.unembed(x)  # (B, T, V)", "return x  # (B, T, V)")], "Transformer", "unembed"),
    ("causal mask with the wrong polarity", [("return torch.tril(torch.ones(size, size, dtype=torch.bool, "
                                              "device=device))", "return torch.triu(torch.ones(size, size, "
                                              "dtype=torch.bool, device=device), diagonal=1)")],
     "causal_mask", "polarity"),
    ("causal mask off by one", [("return torch.tril(torch.ones(size, size, dtype=torch.bool, device=device))",
                                 "return torch.tril(torch.ones(size, size, dtype=torch.bool, device=device), "
                                 "diagonal=-1)")], "causal_mask", "diagonal"),
    ("causal mask made on the CPU", [("torch.ones(size, size, dtype=torch.bool, device=device)",
                                      "torch.ones(size, size, dtype=torch.bool)")], "causal_mask", "device"),
    ("padding mask on the queries", [("return (tokens != pad_id)[:, None, None, :]",
                                      "return (tokens != pad_id)[:, None, :, None]")], "padding_mask", "queries"),
    ("target mask joined with OR", [("return padding_mask(tgt, pad_id) & causal_mask(",
                                     "return padding_mask(tgt, pad_id) | causal_mask(")], "target_mask", "OR"),
    ("loss counts the padding", [("return (per_token * real).sum() / real.sum()", "return per_token.mean()")],
     "label_smoothing_loss", "padding is counted"),
    ("smoothing summed over the vocabulary", [("smoothing * log_probs.mean(dim=-1)", "smoothing * log_probs.sum(dim=-1)")],
     "label_smoothing_loss", "sum over the vocabulary"),
    ("warm-up that never decays", [("return peak_lr * 0.5 * (1 + math.cos(math.pi * progress))", "return peak_lr")],
     "learning_rate", "never decays"),
    ("warm-up counted from 0", [("return peak_lr * step / warmup", "return peak_lr * (step - 1) / warmup")],
     "learning_rate", "starts from 0"),
    ("Adam without the paper's betas", [("lr=0.0, betas=(0.9, 0.98), eps=1e-9)", "lr=0.0)")], "make_optimizer",
     "betas"),
    ("decoder input not shifted", [("tgt_in, tgt_out = tgt[:, :-1], tgt[:, 1:]", "tgt_in, tgt_out = tgt, tgt")],
     "train_step", "not shifted"),
    ("gradients never zeroed", [("    optimizer.zero_grad()\n", "")], "train_step", "zero_grad"),
    ("gradients not clipped", [("    nn.utils.clip_grad_norm_(model.parameters(), clip_norm)\n", "")],
     "train_step", "clip"),
    ("learning rate never set", [('    for group in optimizer.param_groups:\n        group["lr"] = lr\n', "")],
     "train_step", "learning rate"),
    ("training loop counts steps from 0", [("for step in range(1, max_steps + 1):", "for step in range(max_steps):")],
     "train", "steps"),
    ("greedy decoding keeps writing after <eos>", [(".masked_fill(done, pad_id)", "")], "greedy_decode",
     "keeps writing"),
    ("greedy decoding reads the first position", [("target_mask(ys, pad_id))[:, -1]", "target_mask(ys, pad_id))[:, 0]")],
     "greedy_decode", ""),
    ("greedy decoding in train mode", [("    model.eval()\n", "")], "greedy_decode", "eval"),
    ("greedy decoding stops when one row is done", [("if done.all():", "if done.any():")], "greedy_decode",
     "every row is done"),
]


def _mutated(edits: list[tuple[str, str]]) -> str:
    text = TEXT
    for old, new in edits:
        assert text.count(old) == 1, f"the edit's text occurs {text.count(old)} times: {old!r}"
        text = text.replace(old, new)
    return text


def test_at_least_30_mistakes_and_every_piece_of_the_issue():
    assert len(MISTAKES) >= 30 and len({m[0] for m in MISTAKES}) == len(MISTAKES)


@pytest.mark.parametrize("edits, piece, fragment", [m[1:] for m in MISTAKES], ids=[m[0] for m in MISTAKES])
def test_the_battery_names_the_piece_of_each_mistake(edits, piece, fragment, tmp_path, one_thread):
    path = tmp_path / "my_transformer.py"
    path.write_text(_mutated(edits), encoding="utf-8")
    failure = blank_page.first_failure(path)
    assert failure is not None, "the battery passes a file with this mistake"
    assert failure[0] == piece, failure
    assert failure[1].startswith(f"piece {blank_page.PIECE_NAMES.index(piece) + 1}, {piece}:"), failure[1]
    assert fragment in failure[1], failure[1]


def test_the_learners_pytest_file(tmp_path):
    """notebooks/test_my_transformer.py: all pass on the solution; skipped without a file; strict mode fails."""
    test_file = ROOT / "notebooks" / "test_my_transformer.py"

    def run(path, strict=False):
        env = {**os.environ, blank_page.LEARNER_ENV_VAR: str(path), "TRANSFORMER_COURSE_THREADS": "1"}
        env.pop("TRANSFORMER_COURSE_STRICT", None)
        if strict:
            env["TRANSFORMER_COURSE_STRICT"] = "1"
        done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(test_file)],
                              capture_output=True, text=True, env=env, cwd=ROOT)
        return done.stdout.strip().splitlines()[-1]

    n = len(blank_page.PIECES)
    assert run(SOLUTION).startswith(f"{n} passed")
    assert run(tmp_path / "none.py").startswith(f"{n} skipped")
    assert run(tmp_path / "none.py", strict=True).startswith(f"{n} failed")
    wrong = tmp_path / "my_transformer.py"
    wrong.write_text(_mutated(MISTAKES[2][1]), encoding="utf-8")  # shared embedding: piece 13
    assert run(wrong).startswith(f"1 failed, 12 passed, {n - 13} skipped")
