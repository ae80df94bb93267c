"""Build a chat assistant with the Hugging Face stack: one YAML recipe per stage, run with `accelerate launch`."""

__version__ = "0.1.0"
