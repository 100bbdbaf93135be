"""autocomplete: email sentence completion with SimpleRNN, LSTM and GRU.

The package is built in one-way layers; a module imports only modules of its
own layer or earlier ones (`tests/test_layers.py` checks it):

    tokens and artifacts  tokens, textprep, model_names, artifacts, corpus
    engines               model, losses, keras_step, fastpath, decoding, decoding_defaults,
                          logprobs, cache, callbacks
    evaluation            evaluate
    training              train
    report                report
    service               serve
    command line          commands, cli

Importing the package never imports TensorFlow; only the modules that need it do.
"""

__version__ = "0.1.0"
