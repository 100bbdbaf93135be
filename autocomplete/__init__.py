"""autocomplete: email sentence completion with SimpleRNN, LSTM and GRU.

The package follows the data flow: corpus -> textprep -> model -> train ->
artifacts -> completion / report / serve. Importing it never imports
TensorFlow; only the modules that need it do.
"""

__version__ = "0.1.0"
