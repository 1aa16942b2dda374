"""MkDocs hook: generate the pages of docs/gen_pages.py before every build, and put the generated
results and command pages into the navigation (their number depends on what results/ holds)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

_GEN = Path(__file__).with_name("gen_pages.py")


def _load():
    spec = importlib.util.spec_from_file_location("tf_dpvae_docs_gen_pages", _GEN)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module   # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def on_config(config, **kwargs):
    pages = _load().generate()
    for section in config["nav"]:
        if not isinstance(section, dict):
            continue
        (title, entries), = section.items()
        if title == "Results":
            section[title] = ["results/index.md"] + [{t: p} for t, p in pages["results"]]
        elif title == "Reference":
            for i, entry in enumerate(entries):
                if isinstance(entry, dict) and "Command line" in entry:
                    entries[i] = {"Command line": ["reference/cli/index.md"]
                                  + [{t: p} for t, p in pages["cli"]]}
    return config
