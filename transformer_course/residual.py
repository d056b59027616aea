"""The residual stream: blocks add their updates to it, and the unembedding turns it into next-token probabilities.

Shapes: the stream is (B, L, d_model); the unembedding W_U is (d_model, V), V = vocab_size.
"""

from __future__ import annotations

import torch
from torch import nn

from .utils import check_last_dim


def softmax(logits: torch.Tensor) -> torch.Tensor:
    """exp(logits) normalised to sum to 1 over the last axis: (..., n) -> (..., n); same as torch.softmax(dim=-1).

    The maximum is subtracted first: softmax does not change, but exp can no longer overflow.
    """
    shifted = logits - logits.max(dim=-1, keepdim=True).values  # (..., n), largest entry is 0
    exp = torch.exp(shifted)
    return exp / exp.sum(dim=-1, keepdim=True)


def next_token_probs(stream: torch.Tensor, W_U: torch.Tensor) -> torch.Tensor:
    """Next-token probabilities at every position: stream (B, L, d_model), W_U (d_model, V) -> (B, L, V),
    each row summing to 1.

    Position t's row is the model's distribution over the token that comes after position t.
    """
    check_last_dim(stream, W_U.shape[0], "the residual stream")
    logits = stream @ W_U  # (B, L, V): one score per vocabulary word
    return softmax(logits)


class ResidualBlock(nn.Module):
    """x + f(x), with f a small two-layer MLP: (B, L, d_model) -> (B, L, d_model).

    f reads the stream and writes an update; the block adds the update to the stream
    instead of replacing it.
    """

    def __init__(self, d_model: int, d_hidden: int) -> None:
        super().__init__()
        self.linear1 = nn.Linear(d_model, d_hidden)
        self.linear2 = nn.Linear(d_hidden, d_model)

    def update(self, x: torch.Tensor) -> torch.Tensor:
        """f(x): what this block writes into the stream, (B, L, d_model)."""
        return self.linear2(torch.relu(self.linear1(x)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.update(x)


class DeepStack(nn.Module):
    """`n_layers` layers x -> tanh(W x + b), each either added to the stream (residual) or replacing it.

    residual=True:  x_{l+1} = x_l + tanh(W_l x_l + b_l)
    residual=False: x_{l+1} =       tanh(W_l x_l + b_l)
    Used to measure how the gradient reaching each layer depends on the residual connections.
    """

    def __init__(self, n_layers: int, d_model: int, residual: bool) -> None:
        super().__init__()
        self.layers = nn.ModuleList(nn.Linear(d_model, d_model) for _ in range(n_layers))
        self.residual = residual

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            update = torch.tanh(layer(x))  # (B, d_model)
            x = x + update if self.residual else update
        return x


def gradient_norms(model: DeepStack, x: torch.Tensor, target: torch.Tensor) -> list[float]:
    """Backpropagate the MSE of model(x) against `target`, both (B, d_model); return ||dL/dW_l|| per layer l."""
    model.zero_grad()
    loss = ((model(x) - target) ** 2).mean()
    loss.backward()
    return [layer.weight.grad.norm().item() for layer in model.layers]
