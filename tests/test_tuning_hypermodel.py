"""tuning.hypermodel: the negative ELBO a trial logs."""

from tf_dpvae import tuning


def test_val_nelbo_is_recon_plus_kl_in_the_logs():
    logs = {"recon": 3.0, "kl": 0.5, "loss": 9.0, "val_recon": 2.0, "val_kl": 0.25, "val_loss": 7.0}
    tuning.DerivedMetrics().on_epoch_end(0, logs)
    assert logs["nelbo"] == 3.5 and logs["val_nelbo"] == 2.25 and logs["val_loss"] == 7.0
    assert tuning.get_objective("val_nelbo").direction == "min"
