"""alignment/muon.py: the Newton-Schulz step, which parameters get Muon, training and resuming like any optimizer."""

from __future__ import annotations

import copy

import torch

from alignment.muon import MuonWithAdamW, muon_parameter_names, orthogonalise


def _micro_llama():
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    return LlamaForCausalLM(LlamaConfig(vocab_size=64, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                        intermediate_size=48, max_position_embeddings=32, tie_word_embeddings=True))


def test_orthogonalise_flattens_the_singular_values():
    torch.manual_seed(0)
    for shape in ((32, 48), (48, 32)):
        matrix = torch.randn(*shape)
        assert torch.linalg.svdvals(matrix).max() > 4 * torch.linalg.svdvals(matrix).min()
        singular = torch.linalg.svdvals(orthogonalise(matrix, steps=5, dtype=torch.float32))
        assert orthogonalise(matrix, 5, torch.float32).shape == shape
        # Keller Jordan's quintic leaves them in roughly [0.7, 1.2], not exactly 1 (alignment/muon.py)
        assert 0.6 < singular.min() and singular.max() < 1.25


def test_hidden_matrices_get_muon_embeddings_and_norms_adamw():
    model = _micro_llama()
    names = muon_parameter_names(model)
    assert names and all(".layers." in n and n.endswith(".weight") for n in names)
    assert not any("embed" in n or "norm" in n for n in names)
    optimizer = MuonWithAdamW(model, lr=1e-2, weight_decay=0.1)
    muon = [g for g in optimizer.param_groups if g["muon"]]
    assert sum(len(g["params"]) for g in muon) == len(names)
    no_decay = [g for g in optimizer.param_groups if g["weight_decay"] == 0.0]
    assert all(p.ndim == 1 for g in no_decay for p in g["params"])  # norm weights only


def _steps(model, optimizer, batches):
    losses = []
    for ids in batches:
        loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        losses.append(loss.item())
    return losses


def test_it_learns_and_resumes_from_its_state_dict():
    torch.manual_seed(1)
    batch = torch.randint(0, 64, (4, 16))
    model = _micro_llama()
    optimizer = MuonWithAdamW(model, lr=1e-2, weight_decay=0.0)
    losses = _steps(model, optimizer, [batch] * 20)
    assert losses[-1] < 0.5 * losses[0]  # memorises one batch

    # a checkpoint (model + optimizer state) continues exactly as the uninterrupted run
    resumed_model = copy.deepcopy(model)
    resumed = MuonWithAdamW(resumed_model, lr=1e-2, weight_decay=0.0)
    resumed.load_state_dict(copy.deepcopy(optimizer.state_dict()))
    more = torch.randint(0, 64, (4, 16))
    assert _steps(model, optimizer, [more] * 3) == _steps(resumed_model, resumed, [more] * 3)
