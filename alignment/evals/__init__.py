"""Held-out measurements: the corpus against the mini-web's ground truth (ground_truth.py), the base model's
probes (base_model_probes.py) and the assistant's (assistant_probes.py). Later stages add theirs."""
