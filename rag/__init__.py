"""newsrag: local, offline question answering over news articles with cited passages.

Importing ``rag`` is cheap: heavy libraries (torch, faiss, llama.cpp) load only
when a model or an index is first used. The hub is switched off here, before
anything can load a model, so nothing is ever fetched at run time.
"""

import os

os.environ["HF_HUB_OFFLINE"] = "1"  # not setdefault: a stray HF_HUB_OFFLINE=0 must not open the hub
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

__version__ = "0.1.0"
