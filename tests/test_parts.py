"""Parts travel: a part that passes its check is saved to my_parts/, later notebooks load it (or the reference)."""

from __future__ import annotations

import json
import linecache
import math
from pathlib import Path

import pytest
import torch
from torch import nn

import transformer_course as tc
from transformer_course import checks, parts
from transformer_course import tokenizer as bpe
from transformer_course.task.sentences import make_data

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def my_parts(tmp_path, monkeypatch, one_thread):
    """A fresh parts folder inside tmp_path (so anything written beside it would show), strict mode off."""
    folder = tmp_path / "my_parts"
    monkeypatch.setenv(parts.PARTS_DIR_ENV_VAR, str(folder))
    monkeypatch.delenv(checks.STRICT_ENV_VAR, raising=False)
    monkeypatch.chdir(tmp_path)
    return folder


_cells = [0]


def run_cell(source: str, namespace: dict | None = None) -> dict:
    """Run ``source`` the way IPython runs a notebook cell: its text registered in linecache under a made-up name."""
    _cells[0] += 1
    filename = f"/tmp/ipykernel_0/fake_cell_{_cells[0]}.py"
    linecache.cache[filename] = (len(source), None, source.splitlines(keepends=True), filename)
    namespace = {"torch": torch, "nn": nn, "math": math, "tc": tc, **(namespace or {})}
    exec(compile(source, filename, "exec"), namespace)
    return namespace


LAYER_NORM = '''
x = 1  # other code in the same cell is not saved


class LayerNorm(nn.Module):
    """Mine."""

    def __init__(self, d_model: int, eps: float = 1e-5):
        super().__init__()
        self.d_model, self.eps = d_model, eps
        self.weight = nn.Parameter(torch.ones(d_model))
        self.bias = nn.Parameter(torch.zeros(d_model))

    def forward(self, x):
        mean = x.mean(dim=-1, keepdim=True)
        var = x.var(dim=-1, keepdim=True, unbiased=False)
        return (x - mean) / torch.sqrt(var + self.eps) * self.weight + self.bias


y = 2
'''

SPLIT_HEADS = '''
@torch.no_grad()  # a decorator is part of the definition
def split_heads(x, n_heads):
    return x.reshape(x.shape[0], x.shape[1], n_heads, -1).transpose(1, 2)
'''

MULTI_HEAD = '''
class MultiHeadAttention(nn.Module):
    """Mine, and it says so."""

    mine = True

    def __init__(self, d_model, n_heads, dropout=0.0):
        super().__init__()
        self.d_model, self.n_heads, self.d_k = d_model, n_heads, d_model // n_heads
        self.w_q, self.w_k = nn.Linear(d_model, d_model), nn.Linear(d_model, d_model)
        self.w_v, self.w_o = nn.Linear(d_model, d_model), nn.Linear(d_model, d_model)
        self.dropout = nn.Dropout(dropout)
        self.attn_weights = None

    def forward(self, query, key, value, mask=None):
        q = tc.split_heads(self.w_q(query), self.n_heads)
        k = tc.split_heads(self.w_k(key), self.n_heads)
        v = tc.split_heads(self.w_v(value), self.n_heads)
        out, weights = tc.scaled_dot_product_attention(q, k, v, mask, self.dropout)
        self.attn_weights = weights.detach()
        return self.w_o(tc.merge_heads(out))
'''

ENCODER_LAYER = '''
class EncoderLayer(nn.Module):
    def __init__(self, d_model, n_heads, d_ff, dropout=0.0, norm_first=False, activation="relu"):
        super().__init__()
        self.self_attn = MultiHeadAttention(d_model, n_heads, dropout)
        self.feed_forward = FeedForward(d_model, d_ff, dropout, activation)
        self.attn_sublayer = SublayerConnection(d_model, dropout, norm_first)
        self.ff_sublayer = SublayerConnection(d_model, dropout, norm_first)

    def forward(self, x, mask=None):
        x = self.attn_sublayer(x, lambda y: self.self_attn(y, y, y, mask))
        return self.ff_sublayer(x, self.feed_forward)
'''


def files(folder: Path) -> set[str]:
    return {str(p.relative_to(folder.parent)) for p in folder.parent.rglob("*") if p.is_file()}


# --- saving -------------------------------------------------------------------------------------


def test_a_class_from_a_cell_that_passes_is_saved_as_readable_python(my_parts, capsys):
    cls = run_cell(LAYER_NORM)["LayerNorm"]
    assert checks.block.check_layer_norm(cls) is cls
    text = (my_parts / "LayerNorm.py").read_text()
    assert "notebook 05_transformer_block" in text and "Generated" in text and "Delete this file" in text
    body = text.split("\n\n", 1)[1]
    assert body.startswith('class LayerNorm(nn.Module):\n    """Mine."""') and "unbiased=False" in body
    assert "x = 1" not in text and "y = 2" not in text  # only the definition, not the rest of the cell
    assert "saved as my_parts/LayerNorm.py" in capsys.readouterr().out


def test_a_function_from_a_cell_is_saved_with_its_decorator(my_parts):
    fn = run_cell(SPLIT_HEADS)["split_heads"]
    checks.multihead.check_split_heads(fn)
    text = (my_parts / "split_heads.py").read_text()
    assert "@torch.no_grad()" in text and "def split_heads(x, n_heads):" in text


def test_a_class_and_a_function_from_a_module_are_saved(my_parts):
    parts.save("LayerNorm", ModuleLayerNorm)
    parts.save("merge_heads", module_merge_heads)
    assert "class ModuleLayerNorm(tc.LayerNorm):" in (my_parts / "LayerNorm.py").read_text()
    assert "def module_merge_heads(x):" in (my_parts / "merge_heads.py").read_text()
    loaded = parts.load("LayerNorm", "merge_heads")  # saved under other names, loaded under the parts' names
    assert loaded.LayerNorm.__name__ == "ModuleLayerNorm" and loaded.merge_heads.__name__ == "module_merge_heads"


class ModuleLayerNorm(tc.LayerNorm):
    """A learner's class written in a plain module (here: this test file)."""

    def forward(self, x):
        return super().forward(x)


def module_merge_heads(x):
    return x.transpose(1, 2).flatten(2)


def test_a_wrong_or_unfinished_part_removes_its_saved_file(my_parts, capsys):
    good = run_cell(LAYER_NORM)["LayerNorm"]
    checks.block.check_layer_norm(good)
    assert (my_parts / "LayerNorm.py").exists()
    wrong = run_cell(LAYER_NORM.replace("unbiased=False", "unbiased=True"))["LayerNorm"]
    with pytest.raises(checks.CheckFailed):
        checks.block.check_layer_norm(wrong)
    assert not (my_parts / "LayerNorm.py").exists()
    assert "removed my_parts/LayerNorm.py" in capsys.readouterr().out
    assert parts.load("LayerNorm").LayerNorm is tc.LayerNorm
    assert "reference (its check failed)" in capsys.readouterr().out

    checks.block.check_layer_norm(good)
    (my_parts / "LayerNorm.py").unlink()  # the learner resets this part
    parts.load("LayerNorm")
    assert "reference (its saved file was deleted)" in capsys.readouterr().out

    checks.block.check_layer_norm(good)
    stub = run_cell("class LayerNorm(nn.Module):\n    def __init__(self, d_model, eps=1e-5):\n"
                    "        raise NotImplementedError\n")["LayerNorm"]
    assert checks.block.check_layer_norm(stub) is tc.LayerNorm
    assert not (my_parts / "LayerNorm.py").exists()
    parts.load("LayerNorm")
    assert "reference (not done)" in capsys.readouterr().out


def test_nothing_is_written_outside_the_parts_folder(my_parts):
    checks.block.check_layer_norm(run_cell(LAYER_NORM)["LayerNorm"])
    checks.multihead.check_split_heads(run_cell(SPLIT_HEADS)["split_heads"])
    checks.warmup.check_chunk_sequence(lambda x, size: x.unflatten(1, (-1, size)))  # not a part: ignored
    parts._on_check_result("../escaped", ModuleLayerNorm, "correct")  # not a part's name: ignored
    parts._on_check_result("LayerNorm", ModuleLayerNorm, "correct")
    assert files(my_parts) <= {"my_parts/LayerNorm.py", "my_parts/split_heads.py", "my_parts/.results.json"}
    with pytest.raises(KeyError):
        parts.part_file("../escaped")


def test_the_reference_is_never_saved_as_yours(my_parts, capsys):
    """A copy of the reference made by the package (here: the reference SublayerConnection rebuilt on the
    learner's LayerNorm) is not the reference object, so its check runs and passes; it is still not saved."""
    checks.block.check_layer_norm(run_cell(LAYER_NORM)["LayerNorm"])
    rebuilt = parts.load("SublayerConnection", quiet=True).SublayerConnection
    assert rebuilt is not tc.SublayerConnection and rebuilt.__module__ == "transformer_course.block"
    capsys.readouterr()
    assert checks.block.check_sublayer_connection(rebuilt) is rebuilt  # the check ran: not "not done"
    out = capsys.readouterr().out
    assert "correct" in out and "saved" not in out
    assert not (my_parts / "SublayerConnection.py").exists()


SPLIT_HEADS_WITH_HELPERS = '''
import einops as ein
from einops import rearrange as re_arrange

N_AXES = 4


def _heads_first(x):
    return x.transpose(1, 2)


def split_heads(x, n_heads):
    assert x.dim() + 1 == N_AXES
    return _heads_first(re_arrange(x, "b l (h d) -> b l h d", h=n_heads))


def merge_heads(x):
    return ein.rearrange(_heads_first(x), "b l h d -> b l (h d)")
'''


def test_a_part_is_saved_with_the_helpers_imports_and_constants_it_uses_from_its_cell(my_parts, capsys):
    cell = run_cell(SPLIT_HEADS_WITH_HELPERS)
    checks.multihead.check_split_heads(cell["split_heads"])
    checks.multihead.check_merge_heads(cell["merge_heads"])
    text = (my_parts / "split_heads.py").read_text()
    assert "def _heads_first(x):" in text and "N_AXES = 4" in text
    assert "from einops.einops import rearrange as re_arrange" in text
    assert "import einops as ein" in (my_parts / "merge_heads.py").read_text()
    capsys.readouterr()
    loaded = parts.load("split_heads", "merge_heads")  # in a fresh namespace, as the next notebook would
    out = capsys.readouterr().out
    assert loaded.split_heads is not tc.split_heads and loaded.merge_heads is not tc.merge_heads, out
    assert "reference" not in out


@pytest.mark.parametrize("helper, kind", [
    ("_heads_first = lambda x: x.transpose(1, 2)\n", "whose source cannot be found"),
    ("_heads_first = torch.nn.Identity()\n", "(Identity), which is defined outside it"),
])
def test_a_part_whose_helper_cannot_be_saved_is_refused_naming_the_helper(my_parts, capsys, helper, kind):
    cell = run_cell(helper + "\n\ndef split_heads(x, n_heads):\n"
                    "    return x.reshape(x.shape[0], x.shape[1], n_heads, -1).transpose(1, 2)"
                    " if _heads_first is not None else None\n")
    checks.multihead.check_split_heads(cell["split_heads"])
    out = capsys.readouterr().out
    assert "correct" in out and "split_heads uses `_heads_first`" in out and kind in out, out
    assert "move `_heads_first` inside split_heads" in out
    assert not (my_parts / "split_heads.py").exists()
    assert parts.load("split_heads").split_heads is tc.split_heads


def test_not_saving_pauses_saving_and_ends_with_its_block(my_parts):
    cls = run_cell(LAYER_NORM)["LayerNorm"]
    with parts.not_saving():
        checks.block.check_layer_norm(cls)
    assert not (my_parts / "LayerNorm.py").exists()
    checks.block.check_layer_norm(cls)
    assert (my_parts / "LayerNorm.py").exists()


def test_outside_a_notebook_nothing_is_saved_unless_a_folder_is_set(tmp_path, monkeypatch, one_thread):
    monkeypatch.delenv(parts.PARTS_DIR_ENV_VAR, raising=False)
    monkeypatch.chdir(tmp_path)
    checks.block.check_layer_norm(run_cell(LAYER_NORM)["LayerNorm"])
    assert list(tmp_path.iterdir()) == []


# --- loading ------------------------------------------------------------------------------------


def test_a_fresh_clone_gets_the_reference_everywhere(my_parts, capsys):
    loaded = parts.load(*parts.MODEL_PARTS)
    for name in parts.MODEL_PARTS:
        assert getattr(loaded, name) is getattr(tc, name)
    out = capsys.readouterr().out
    assert "yours" not in out and "reference (not run yet)" in out
    assert not my_parts.exists()


def test_load_prints_part_notebook_and_whose(my_parts, capsys):
    checks.block.check_layer_norm(run_cell(LAYER_NORM)["LayerNorm"])
    capsys.readouterr()
    loaded = parts.load("SublayerConnection")
    rows = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()[2:]}
    assert set(rows) == {"LayerNorm", "SublayerConnection"}
    assert rows["LayerNorm"].split()[1:] == ["05", "yours"]
    assert "reference (not run yet), built on your LayerNorm" in rows["SublayerConnection"]
    layer = loaded.SublayerConnection(8)
    assert layer.norm.__class__.__doc__ == "Mine."  # the reference sub-layer, made with the learner's LayerNorm


def test_earlier_parts_are_injected_into_a_later_part(my_parts, capsys):
    checks.multihead.check_multi_head_attention(run_cell(MULTI_HEAD)["MultiHeadAttention"])
    cell = run_cell(ENCODER_LAYER, {"MultiHeadAttention": tc.MultiHeadAttention, "FeedForward": tc.FeedForward,
                                    "SublayerConnection": tc.SublayerConnection})
    checks.block.check_encoder_layer(cell["EncoderLayer"])
    capsys.readouterr()
    loaded = parts.load("EncoderLayer", "Encoder")
    assert getattr(loaded.EncoderLayer(8, 2, 16).self_attn, "mine", False)   # the learner's attention inside
    encoder = loaded.Encoder(2, 8, 2, 16)
    assert all(getattr(layer.self_attn, "mine", False) for layer in encoder.layers)
    out = capsys.readouterr().out
    assert "MultiHeadAttention" in out
    assert "\nEncoder             06        reference (no exercise), built on your EncoderLayer\n" in out


def test_the_reference_model_is_assembled_from_the_learners_parts(my_parts, capsys):
    """Notebook 07 with the assembly exercise not done: the reference Transformer, made of the learner's layers."""
    checks.multihead.check_multi_head_attention(run_cell(MULTI_HEAD)["MultiHeadAttention"])
    capsys.readouterr()
    model = parts.load("Transformer").Transformer(tc.ModelConfig(vocab_size=9, d_model=8, n_heads=2, n_layers=1,
                                                                 d_ff=16))
    attentions = [model.encoder.layers[0].self_attn, model.decoder.layers[0].self_attn,
                  model.decoder.layers[0].cross_attn]
    assert all(getattr(a, "mine", False) for a in attentions)
    assert "Transformer                   07        reference (not run yet), built on your MultiHeadAttention" in \
        capsys.readouterr().out


def test_a_reference_built_on_the_learners_parts_is_the_package_class_with_them_passed_in(my_parts, capsys):
    """No second copy of the package's code (it was once run again by exec in a patched namespace): the class
    is the package's, its parts passed in as arguments, and a seed gives the weights and logits tc.Transformer has."""
    checks.multihead.check_multi_head_attention(run_cell(MULTI_HEAD)["MultiHeadAttention"])
    loaded = parts.load("Transformer", "Encoder", "EncoderLayer", quiet=True)
    assert issubclass(loaded.Transformer, tc.Transformer) and loaded.Transformer is not tc.Transformer
    assert issubclass(loaded.Encoder, tc.Encoder) and issubclass(loaded.EncoderLayer, tc.EncoderLayer)
    assert loaded.Transformer.__name__ == "Transformer" and loaded.Transformer.__doc__ == tc.Transformer.__doc__
    config = tc.ModelConfig(vocab_size=11, src_vocab_size=13, d_model=16, n_heads=2, n_layers=2, d_ff=32)
    torch.manual_seed(0)
    mine = loaded.Transformer(config).eval()  # called as the notebooks call it
    torch.manual_seed(0)
    reference = tc.Transformer(config).eval()
    assert isinstance(mine.encoder, tc.Encoder) and getattr(mine.decoder.layers[1].cross_attn, "mine", False)
    assert list(mine.state_dict()) == list(reference.state_dict())
    assert all(torch.equal(a, b) for a, b in zip(mine.state_dict().values(), reference.state_dict().values()))
    src, tgt = torch.randint(3, 13, (2, 5)), torch.randint(3, 11, (2, 4))
    masks = tc.padding_mask(src, 0), tc.target_mask(tgt, 0)
    assert torch.equal(mine(src, tgt, *masks), reference(src, tgt, *masks))


def _fingerprint(model: nn.Module) -> str:
    digest = __import__("hashlib").sha256()
    for name, tensor in model.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().numpy().tobytes())
    return digest.hexdigest()[:16]


@pytest.mark.parametrize("norm_first, fingerprint", [(False, "78628322ddeeed25"), (True, "e96e5d844495eb1f")])
def test_a_seeded_transformer_has_the_weights_it_had_before_the_parts_became_arguments(norm_first, fingerprint):
    """The state-dict names and the order in which parameters are made (and drawn) are unchanged: the
    fingerprints were taken from tc.Transformer before its parts became keyword arguments (weight
    initialisation on the CPU draws the same numbers on every machine)."""
    config = tc.ModelConfig(vocab_size=11, src_vocab_size=13, d_model=16, n_heads=2, n_layers=2, d_ff=32,
                            norm_first=norm_first)
    torch.manual_seed(0)
    assert _fingerprint(tc.Transformer(config)) == fingerprint


def test_every_part_a_reference_uses_is_an_argument():
    """What the reference's code names of the earlier parts is exactly what can be passed in (and nothing is
    built from a part's source any more)."""
    for name in parts.PARTS:
        reference = parts.reference_of(name)
        named = parts._deps(name, __import__("inspect").getsource(reference))
        assert set(parts.part_arguments(reference)) == set(named), name
    assert parts.part_arguments(tc.Encoder) == {"EncoderLayer": "layer_cls", "LayerNorm": "norm_cls"}
    assert "getsource" not in Path(parts.__file__).read_text()


def test_a_stack_is_made_of_the_layer_class_it_is_given():
    class Mine(tc.EncoderLayer):
        pass

    class MyNorm(tc.LayerNorm):
        pass

    encoder = tc.Encoder(2, 8, 2, 16, norm_first=True, layer_cls=Mine, norm_cls=MyNorm)
    assert all(type(layer) is Mine for layer in encoder.layers) and type(encoder.norm) is MyNorm

    class MyAttention(tc.MultiHeadAttention):
        pass

    decoder = tc.Decoder(1, 8, 2, 16, layer_cls=parts.built_on(tc.DecoderLayer, {"attention_cls": MyAttention}))
    assert type(decoder.layers[0].cross_attn) is MyAttention and type(decoder.layers[0].feed_forward) is tc.FeedForward


@pytest.mark.parametrize("text, reason", [
    ("class LayerNorm(nn.Module:\n", "could not be loaded: SyntaxError"),
    ("class LayerNorm(UnknownBase):\n    pass\n", "could not be loaded: NameError"),
    ("LayerNorm = 3\n", "failed its check again"),
    (LAYER_NORM.replace("unbiased=False", "unbiased=True"), "failed its check again: LayerNorm:"),
])
def test_a_saved_part_that_does_not_load_or_pass_gives_the_reference_and_says_why(my_parts, capsys, text, reason):
    my_parts.mkdir()
    (my_parts / "LayerNorm.py").write_text(text)
    assert parts.load("LayerNorm").LayerNorm is tc.LayerNorm
    assert reason in capsys.readouterr().out


def test_strict_mode_names_the_notebook_to_run(my_parts, monkeypatch):
    monkeypatch.setenv(checks.STRICT_ENV_VAR, "1")
    with pytest.raises(checks.ExerciseNotDone, match="MultiHeadAttention: not run yet — run notebook "
                                                     "03_multi_head_attention"):
        parts.load("MultiHeadAttention")


def test_loading_does_not_print_check_results_or_save_again(my_parts, capsys):
    checks.block.check_layer_norm(run_cell(LAYER_NORM)["LayerNorm"])
    (my_parts / "LayerNorm.py").write_text((my_parts / "LayerNorm.py").read_text() + "# my note\n")
    capsys.readouterr()
    parts.load("LayerNorm")
    out = capsys.readouterr().out
    assert "correct" not in out and "saved" not in out
    assert (my_parts / "LayerNorm.py").read_text().endswith("# my note\n")


def test_every_part_has_a_reference_and_every_exercise_a_check():
    for name, part in parts.PARTS.items():
        assert parts.reference_of(name).__name__ == (part.exercise or name)
        if part.check is not None:
            assert callable(parts.check_function(name))
        assert (ROOT / "notebooks" / "src" / f"{part.notebook}.py").exists()


# --- the whole way: the solution code of notebooks 03-07, saved and loaded back -------------------


def solution_cell(notebook: str, name: str) -> str:
    """The code cell of the solution notebook that defines ``name``."""
    nb = json.loads((ROOT / "notebooks" / "solutions" / f"{notebook}.ipynb").read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        text = "".join(cell["source"])
        if cell["cell_type"] == "code" and (f"\nclass {name}(" in f"\n{text}" or f"\ndef {name}(" in f"\n{text}"):
            return text
    raise LookupError(f"no cell defines {name} in {notebook}")


def test_the_solutions_travel_into_a_model_made_only_of_them(my_parts, monkeypatch, capsys):
    """Each solution part passes its check and is saved; strict load then gives a model with no reference part.

    Made of the solution parts, the model starts from the same weights as ``tc.Transformer`` with the
    same seed and computes the same logits.
    """
    namespace = {"F": torch.nn.functional, "rearrange": __import__("einops").rearrange}
    for name in parts.MODEL_PARTS:
        part = parts.PARTS[name]
        if part.name == "Transformer":
            namespace.update(vars(parts.load("SinusoidalPositionalEncoding", "Encoder", "Decoder", quiet=True)))
        if part.check is None:
            continue
        defined = run_cell(solution_cell(part.notebook, name), namespace)[name]
        namespace[name] = parts.check_function(name)(defined)
        assert namespace[name] is defined
    monkeypatch.setenv(checks.STRICT_ENV_VAR, "1")
    capsys.readouterr()
    loaded = parts.load("Transformer")
    table = capsys.readouterr().out
    rows = table.splitlines()[2:]
    assert sum(row.endswith("yours") for row in rows) == 10, table
    assert all(row.endswith("yours") or "reference (no exercise), built on your" in row for row in rows), table

    config = tc.ModelConfig(vocab_size=13, src_vocab_size=11, d_model=16, n_heads=2, n_layers=2, d_ff=32)
    torch.manual_seed(0)
    mine = loaded.Transformer(config).eval()
    torch.manual_seed(0)
    reference = tc.Transformer(config).eval()
    assert [p.shape for p in mine.parameters()] == [p.shape for p in reference.parameters()]
    assert all(torch.equal(a, b) for a, b in zip(mine.parameters(), reference.parameters()))
    src, tgt = torch.randint(3, 11, (2, 5)), torch.randint(3, 13, (2, 4))
    masks = tc.padding_mask(src, 0), tc.target_mask(tgt, 0)
    torch.testing.assert_close(mine(src, tgt, *masks), reference(src, tgt, *masks))
    assert all(layer.self_attn.attn_weights is not None for layer in mine.encoder.layers)  # maps can be drawn


# --- notebook 10's tokenizer functions travel to notebook 11's pieces ----------------------------

TOKENIZER_EXERCISES = ["to_bytes", "from_bytes", "count_pairs", "merge", "train", "encode", "decode",
                       "encode_with_specials"]


def tokenizer_solutions(wrong_train: bool = False) -> dict:
    """Notebook 10's solution cells run as a learner runs them, each through its check (the checks save)."""
    namespace = {"ref": bpe}
    for name in TOKENIZER_EXERCISES:
        source = solution_cell("10_tokens", name)
        if wrong_train and name == "train":
            source = source.replace("-p[0], -p[1]", "p[0], p[1]")   # ties broken by the largest pair
            assert "p[0], p[1]))" in source
        defined = run_cell(source, namespace)[name]
        check = getattr(checks.tokens, f"check_{name}")
        if wrong_train and name == "train":
            with pytest.raises(checks.CheckFailed):
                check(defined)
            namespace[name] = bpe.train
            continue
        namespace[name] = check(defined)
        assert namespace[name] is defined
    return namespace


def pieces_made_with(monkeypatch) -> dict:
    """The functions PieceTokenizers.learners trains and encodes with (it builds its tokenizers through trained)."""
    from transformer_course.task import sentence_pieces as sp

    used = {}
    original = sp.PieceTokenizers.trained.__func__

    def spy(cls, sentences, en_size, de_size, **fns):
        used.update(fns)
        return original(cls, sentences, en_size, de_size, **fns)

    monkeypatch.setattr(sp.PieceTokenizers, "trained", classmethod(spy))
    sentences = make_data(n_train=60, n_val=0, n_test=2).train
    reference = original(sp.PieceTokenizers, sentences, 300, 320)
    made = sp.PieceTokenizers.learners(sentences, 300, 320)
    assert made.merges() == reference.merges()
    assert made.en.decode(made.en.encode("<bos>the dog")) == "<bos>the dog"
    return used


def test_tokenizer_parts_do_not_take_other_names():
    assert set(parts.TOKENIZER_PARTS) <= set(parts.PARTS) and not set(parts.TOKENIZER_PARTS) & set(parts.MODEL_PARTS)
    assert all(name.startswith("bpe_") for name in parts.TOKENIZER_PARTS)
    assert parts._BY_EXERCISE["train"] == "bpe_train" and "train" not in parts.PARTS


def test_the_learners_tokenizer_functions_are_saved_and_make_notebook_11s_pieces(my_parts, monkeypatch, capsys):
    tokenizer_solutions()
    assert sorted(p.name for p in my_parts.glob("*.py")) == sorted(f"{n}.py" for n in parts.TOKENIZER_PARTS)
    capsys.readouterr()
    monkeypatch.setenv(checks.STRICT_ENV_VAR, "1")
    used = pieces_made_with(monkeypatch)
    table = capsys.readouterr().out
    rows = {line.split()[0]: line for line in table.splitlines()[2:]}
    assert set(rows) == set(parts.TOKENIZER_PARTS), table
    assert all(row.split()[1:] == ["10", "yours"] for row in rows.values()), table
    keyword = {"bpe_train": "train_fn", "bpe_encode_with_specials": "encode_fn", "bpe_decode": "decode_fn"}
    for name, argument in keyword.items():
        assert used[argument].__code__.co_filename == str(my_parts / f"{name}.py"), name


def test_a_tokenizer_function_not_done_or_wrong_falls_back_to_the_reference(my_parts, monkeypatch, capsys):
    used = pieces_made_with(monkeypatch)          # nothing run: the reference everywhere
    assert used == {"train_fn": bpe.train, "encode_fn": bpe.encode_with_specials,
                    "decode_fn": bpe.decode}
    assert capsys.readouterr().out.count("reference (not run yet)") == 3
    tokenizer_solutions(wrong_train=True)         # train's check fails; the others pass and are saved
    assert not (my_parts / "bpe_train.py").exists() and (my_parts / "bpe_decode.py").exists()
    capsys.readouterr()
    used = pieces_made_with(monkeypatch)
    rows = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()[2:]}
    assert used["train_fn"] is bpe.train and "reference (its check failed)" in rows["bpe_train"]
    assert used["decode_fn"].__code__.co_filename == str(my_parts / "bpe_decode.py")
    assert rows["bpe_decode"].endswith("yours")


def test_strict_mode_requires_notebook_10s_tokenizer(my_parts, monkeypatch):
    from transformer_course.task.sentence_pieces import PieceTokenizers

    monkeypatch.setenv(checks.STRICT_ENV_VAR, "1")
    with pytest.raises(checks.ExerciseNotDone, match="bpe_train: not run yet — run notebook 10_tokens"):
        PieceTokenizers.learners([], 300, 300)
