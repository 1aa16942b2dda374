"""Image data sources behind ``tf_dpvae.data.load``.

``base``    the ``Splits`` container, ``DataError`` and the shared image preprocessing
``idx``     the real Fashion-MNIST from IDX files (Debian's ``dataset-fashion-mnist``), offline
``tfds_source`` any TensorFlow Datasets image data set (mnist, svhn_cropped, celeb_a, ...), failing fast
            when it is not prepared instead of retrying the network
``local``   a user's own images: ``npz:PATH`` archives and ``folder:PATH`` directories
``dsprites`` the procedural dSprites (``dsprites_procedural``): DeepMind's factor grid, our renderer
``factors`` ground-truth factor sources (sample factors, observe any combination) for the
            disentanglement metrics

Import direction: these modules import ``config`` and ``base`` only, never the model or training.
"""
