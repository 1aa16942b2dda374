"""The one base class of bad input from the user (no imports).

Every error that a user can fix by changing an argument, a file or a setting derives from
``UserError``: a bad configuration value, a data set that cannot be loaded, a directory that is not a
run, a classifier or Inception file that does not fit, ... The commands (``tf_dpvae.cli``) print its
message as one line, ``PROG: error: MESSAGE``, and exit with status 2; the message names the bad value
and what is accepted. Anything else is a bug or a failure of the run (e.g. ``TrainingDiverged``, exit 1)
and is not a ``UserError``.

It subclasses ``ValueError`` so that code written against the library's older ``ValueError``
subclasses keeps catching them.
"""


class UserError(ValueError):
    """Bad input from the user; the message names the bad value and what is accepted."""
