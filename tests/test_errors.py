"""One user-error base class: every bad-input error derives from it, and a command reports it as one
line with exit status 2."""

import pytest

from tf_dpvae.cli.parsing import guarded
from tf_dpvae.errors import UserError


def user_error_classes():
    from tf_dpvae import config, networks, runs
    from tf_dpvae.cli import features
    from tf_dpvae.datasets import base
    from tf_dpvae.evaluation import classifier, frechet, inception, run
    from tf_dpvae.experiments import protocol
    from tf_dpvae.export import savedmodel
    from tf_dpvae.tuning import frechet_objectives as objectives

    return [config.ConfigError, base.DataError, networks.ArchitectureError, runs.RunError,
            savedmodel.ExportError, run.EvaluationError, objectives.ObjectiveError,
            classifier.ClassifierError, inception.InceptionError, frechet.FrechetError,
            protocol.Table1Error, features.FeatureDataError]


def test_every_bad_input_error_is_a_user_error():
    classes = user_error_classes()
    assert len(classes) == 12
    for cls in classes:
        assert issubclass(cls, UserError), cls
        assert issubclass(cls, ValueError), cls   # older callers catch ValueError


def test_failures_that_are_not_bad_input_are_not_user_errors():
    from tf_dpvae import serving_client, training

    assert not issubclass(training.TrainingDiverged, UserError)
    assert not issubclass(serving_client.ServingError, UserError)


@pytest.mark.parametrize("cls", user_error_classes())
def test_a_command_reports_any_user_error_in_one_line_with_status_2(capsys, cls):
    def body():
        raise cls("bad value 'x'; accepted:\n a, b")

    assert guarded("prog", body) == 2
    err = capsys.readouterr().err
    assert err == "prog: error: bad value 'x'; accepted:; a, b\n"
