"""dlcore: the shared library of the course.

Importing ``dlcore`` is cheap: it loads NumPy and nothing heavier. Every
module is imported on its own, e.g. ``from dlcore.layers import Affine``.

Modules, one concept each:

- ``backend``     the NumPy/CuPy switch (``get_array_module``, ``to_gpu``, ``to_cpu``)
- ``perceptron``  logic gates and Rosenblatt's learning rule (chapter 1)
- ``functions``   activations and losses (chapters 2-3)
- ``gradients``   numerical gradients and gradient descent (chapter 3)
- ``graph``       multiply and add nodes of a computational graph (chapter 4)
- ``layers``      layers with forward and backward (chapters 5-7)
- ``optim``       SGD, Momentum, AdaGrad, RMSprop, Adam; schedules (chapter 6)
- ``init``        weight initialisation (chapter 6)
- ``conv``        im2col, col2im and the output-size formula (chapter 7)
- ``residual``    a residual block around any layers (chapter 7)
- ``augment``     shifted and rotated copies of images (chapter 7)
- ``precision``   dynamic loss scaling for mixed precision (chapter 8)
- ``nets``        forward pass, TwoLayerNet, MultiLayerNet, SimpleConvNet,
                  LeNet5, DeepConvNet, ResidualMLP
- ``trainer``     a training loop with a progress bar and a history
- ``datasets``    toy sets, scikit-learn's digits, MNIST
- ``plot``        the figures the chapters draw (imports matplotlib)
- ``glue``        a lesson's numbers and figures kept for the book's text
- ``grading``     helpers the hidden tests use
"""

__version__ = "0.1.0"
