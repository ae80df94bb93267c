"""A model card for a trained model dir, and the push to the Hub (`push_to_hub: true`, `hub_model_id`).

The card says what a reader needs to trust or reproduce the model: the base model, the datasets, the recipe,
the measured numbers, and the command that made it. The push goes through huggingface_hub's HfApi: one
create_repo and one upload_folder, the whole client boundary (tests replace HfApi there; no network here).
"""

from __future__ import annotations

import json
from pathlib import Path


def model_card(*, stage: str, model_id: str, base_model: str | None, datasets: list[str], recipe_yaml: str,
               metrics: dict, command: str, summary: str) -> str:
    hub_datasets = [d for d in datasets if "/" in d and not Path(d).exists()]
    front = ["---", "library_name: transformers", "pipeline_tag: text-generation", "tags:", f"- {stage}", "- trl"]
    if base_model and not Path(base_model).exists():
        front.append(f"base_model: {base_model}")
    if hub_datasets:
        front += ["datasets:"] + [f"- {d}" for d in hub_datasets]
    front.append("---")
    shown = {k: v for k, v in metrics.items() if k not in ("reproduce",)}
    return "\n".join(front) + f"""

# {model_id}

{summary}

- Base model: `{base_model or 'trained from scratch'}`
- Data: {', '.join(f'`{d}`' for d in datasets) or '-'}
- Made with: `{command}`

## Measured

```json
{json.dumps(shown, indent=2)}
```

## Recipe

```yaml
{recipe_yaml.strip()}
```

## Use

```python
from transformers import pipeline

chat = pipeline("text-generation", model="{model_id}")
print(chat([{{"role": "user", "content": "Who are you?"}}], max_new_tokens=64)[0]["generated_text"][-1])
```
"""


def push_to_hub(folder: Path, repo_id: str, private: bool = False, commit_message: str = "alignment: upload") -> str:
    """Create the repo (if needed) and upload the model dir with its card; returns the repo's URL."""
    from huggingface_hub import HfApi

    api = HfApi()
    url = api.create_repo(repo_id, private=private, exist_ok=True, repo_type="model")
    api.upload_folder(repo_id=repo_id, folder_path=str(folder), repo_type="model", commit_message=commit_message,
                      ignore_patterns=["checkpoints/*", "work/*", "conversations/*"])
    return str(url)
