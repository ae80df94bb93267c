"""A reward model's scores: what it reads (the conversation through the end of its last turn, as PPO hands it a
prompt and a reply that stops there) and the score head's output at that last token. The reward stage trains and
measures with these; the ppo stage's audits score with them."""

from __future__ import annotations


def query_ids(tokenizer, messages: list[dict]) -> list[int]:
    """A prompt's ids as PPO's queries are: the chat template with the generation prompt."""
    return tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True,
                                         return_dict=True)["input_ids"]


def scored_ids(tokenizer, conversation: list[dict], turn_ends: set[int]) -> list[int]:
    """The token ids the reward model reads: the conversation through the end of its last turn (what the template
    writes after it dropped), as PPO hands it a prompt and a reply that stops at the end of the turn."""
    ids = tokenizer.apply_chat_template(conversation, tokenize=True, return_dict=True)["input_ids"]
    last = max((i for i, t in enumerate(ids) if t in turn_ends), default=len(ids) - 1)
    return ids[:last + 1]


def reward_scores(model, tokenizer, conversations: list[list[dict]], batch_size: int = 64) -> list[float]:
    """The reward model's score of each whole conversation given as text (a reply no policy sampled here: the
    template renders it through the end of its turn, scored_ids)."""
    from alignment.chat_setup import end_of_turn_ids

    turn_ends = end_of_turn_ids(tokenizer)
    return scores_of_ids(model, tokenizer.pad_token_id, [scored_ids(tokenizer, c, turn_ends) for c in conversations],
                         batch_size)


def scores_of_ids(model, pad_token_id: int, sequences: list[list[int]], batch_size: int = 64) -> list[float]:
    """The score head's output at each sequence's last token (right padding)."""
    import torch

    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    scores = []
    with torch.no_grad():
        for start in range(0, len(sequences), batch_size):
            ids = sequences[start:start + batch_size]
            width = max(len(i) for i in ids)
            input_ids = torch.tensor([i + [pad_token_id] * (width - len(i)) for i in ids], device=device)
            mask = torch.tensor([[1] * len(i) + [0] * (width - len(i)) for i in ids], device=device)
            scores += model(input_ids=input_ids, attention_mask=mask).logits[:, 0].float().tolist()
    model.train(was_training)
    return scores
