"""Shared pieces of the tuning tests (``test_tuning_*.py``, ``test_cli_tune.py``): the tiny search
space and the tags TensorBoard finds. The base configuration file they search from is conftest's
``base_file`` fixture, and the command's exit status its ``exit_code``."""

from tensorboard.backend.event_processing import event_accumulator

# Two hyperparameters, one of each kind, so the search is tiny but exercises Float and Choice.
SPACE = ["--only-given", "--range", "beta=0.5:5:log", "--values", "flow_units=8,16"]


def tags(directory, plugin=None):
    """Scalar/tensor tags in the event files of ``directory`` (not its subdirectories)."""
    acc = event_accumulator.EventAccumulator(directory, size_guidance={"tensors": 0})
    acc.Reload()
    if plugin:
        return set(acc.PluginTagToContent(plugin))
    return set(acc.Tags()["tensors"])
