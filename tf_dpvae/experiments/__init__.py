"""Experiments: the paper's Table 1 and the tables built the same way.

    protocol.py     what a table trains and evaluates (``Protocol``: configuration overrides plus an
                    ``EvalSettings``), the one definition of a pair (``twin_configs``,
                    ``pair_configs``), the models' names
    request.py      one invocation (``Request``: protocol, regularizers, seeds, output directory) and
                    the checks on its output directory
    results.py      reading a run's results from disk (``extract_values``, ``evaluation_state``,
                    ``collect``), the timing and samples files
    statistics.py   mean ± s.e. over seeds, dp against its twin, the paper's numbers
    markdown.py, render.py   table1.md; table1.csv and table1.json (``write_tables``)
    figures.py      leakage.png and samples_<reg>.png
    hparams.py      the TensorBoard HParams experiment of a table
    cell.py         ``train_and_evaluate_cell``: train, evaluate, write eval/ (TensorFlow)
    table1.py       the runner: ``reproduce_table1``, ``tabulate`` (``--table-only``)

Layer: above ``training``, ``evaluation`` and ``post_hoc`` (a cell joins them), below the
command line (``cli/reproduce.py``), ``explore`` and ``benchmarks/``. Every module but ``cell`` and
the runner's functions imports no TensorFlow, so that the command line checks a request before
TensorFlow loads. The names below are the ones notebooks use.
"""

from tf_dpvae.experiments.protocol import (PAIR, PAPER, POST_HOC, PROTOCOLS, REDUCED, Protocol,
                                           Table1Error, model_name, pair_configs, run_name,
                                           twin_configs)
from tf_dpvae.experiments.results import SAMPLES_FILE, extract_values

__all__ = ["PAIR", "PAPER", "POST_HOC", "PROTOCOLS", "REDUCED", "Protocol", "Table1Error", "model_name",
           "pair_configs", "run_name", "twin_configs", "SAMPLES_FILE", "extract_values"]
