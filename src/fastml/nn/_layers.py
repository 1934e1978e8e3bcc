"""Layers, the network that chains them, and the optimizers, over either kernel backend.

``K`` is a kernel module, ``_kernels_cpu`` or ``_kernels_cuda``: both expose the same drivers,
so every layer is written once. All parameters of a network live in one flat buffer (weights
first, the only entries the L2 penalty applies to), and so do their gradients: an optimizer step
is then a single kernel call, whatever the number of layers.
"""
import numpy as np


class Layer:
    """A layer: ``forward`` keeps what ``backward`` needs; parameters are views into the
    network's flat buffers, assigned by ``Network``."""

    # (name, shape, decayed) of each parameter
    def parameter_specs(self):
        return []

    def output_shape(self, input_shape):
        return input_shape

    def _buffer(self, K, name, shape, dtype):
        """A work array reused across batches of the same shape (allocations are costly on
        the GPU and fault pages in on the CPU)."""
        cache = self.__dict__.setdefault("_buffers", {})
        key = (name, shape, np.dtype(dtype).str)
        if key not in cache:
            cache[key] = K.empty(shape, dtype)
        return cache[key]


class Dense(Layer):
    def __init__(self, n_in, n_out, activation):
        self.n_in, self.n_out, self.activation = n_in, n_out, activation

    def parameter_specs(self):
        return [("weight", (self.n_in, self.n_out), True), ("bias", (self.n_out,), False)]

    def output_shape(self, input_shape):
        return (self.n_out,)

    def forward(self, K, x, training):
        y = self._buffer(K, "y", (x.shape[0], self.n_out), x.dtype)
        K.matmul(x, self.weight, y)
        K.add_bias_activation(y, self.bias, self.activation)
        self._x, self._y = x, y
        return y

    def backward(self, K, grad_y, need_grad_x):
        K.activation_grad(grad_y, self._y, self.activation)
        K.matmul(self._x, grad_y, self.grad_weight, trans_a=True)
        K.bias_grad(grad_y, self.grad_bias)
        if not need_grad_x:
            return None
        grad_x = self._buffer(K, "grad_x", self._x.shape, grad_y.dtype)
        return K.matmul(grad_y, self.weight, grad_x, trans_b=True)


def conv_output_size(size, kernel, stride, padding):
    return (size + 2 * padding - kernel) // stride + 1


class Conv2d(Layer):
    """Convolution with stride 1 and zero padding, then the bias and the activation."""

    def __init__(self, in_channels, filters, kernel_size, padding, activation, bias=True):
        self.in_channels, self.filters = in_channels, filters
        self.kernel = (kernel_size, kernel_size)
        self.padding = (padding, padding)
        self.stride = (1, 1)
        self.activation, self.has_bias = activation, bias

    def parameter_specs(self):
        specs = [("weight", (self.filters, self.in_channels, *self.kernel), True)]
        if self.has_bias:
            specs.append(("bias", (self.filters,), False))
        return specs

    def output_shape(self, input_shape):
        _, H, W = input_shape
        return (self.filters,
                conv_output_size(H, self.kernel[0], 1, self.padding[0]),
                conv_output_size(W, self.kernel[1], 1, self.padding[1]))

    def forward(self, K, x, training):
        y = self._buffer(K, "y", (x.shape[0], *self.output_shape(x.shape[1:])), x.dtype)
        K.conv2d(x, self.weight, self.stride, self.padding, y,
                 self.bias if self.has_bias else None, self.activation)
        self._x, self._y = x, y
        return y

    def backward(self, K, grad_y, need_grad_x):
        K.activation_grad(grad_y, self._y, self.activation)
        grad_x = self._buffer(K, "grad_x", self._x.shape, grad_y.dtype) if need_grad_x else None
        K.conv2d_grad(grad_y, self._x, self.weight, self.stride, self.padding, grad_x,
                      self.grad_weight, self.grad_bias if self.has_bias else None)
        return grad_x


class Pool2d(Layer):
    """Max or average pooling over non-overlapping windows of kernel = (rows, cols)."""

    def __init__(self, kind, kernel):
        self.kind, self.kernel, self.stride = kind, kernel, kernel

    def output_shape(self, input_shape):
        C, H, W = input_shape
        return (C, conv_output_size(H, self.kernel[0], self.stride[0], 0),
                conv_output_size(W, self.kernel[1], self.stride[1], 0))

    def forward(self, K, x, training):
        shape = (x.shape[0], *self.output_shape(x.shape[1:]))
        y = self._buffer(K, "y", shape, x.dtype)
        if self.kind == "max":
            self._argmax = self._buffer(K, "argmax", shape, np.int32)
            K.max_pool2d(x, self.kernel, self.stride, y, self._argmax)
        else:
            K.avg_pool2d(x, self.kernel, self.stride, y)
        self._x_shape = x.shape
        return y

    def backward(self, K, grad_y, need_grad_x):
        grad_x = self._buffer(K, "grad_x", self._x_shape, grad_y.dtype)
        if self.kind == "max":
            K.max_pool2d_grad(grad_y, self._argmax, grad_x)
        else:
            K.avg_pool2d_grad(grad_y, self.kernel, self.stride, grad_x)
        return grad_x


class BatchNorm(Layer):
    """Batch normalisation per channel (4-D) or feature (2-D), then the activation.
    Training normalises with the batch statistics and updates running averages (momentum 0.1,
    unbiased variance, as torch); inference uses the running averages."""

    momentum = 0.1
    eps = 1e-5

    def __init__(self, channels, activation):
        self.channels, self.activation = channels, activation
        self.running_mean = np.zeros(channels)
        self.running_var = np.ones(channels)

    def parameter_specs(self):
        return [("gamma", (self.channels,), False), ("beta", (self.channels,), False)]

    def forward(self, K, x, training):
        y = self._buffer(K, "y", x.shape, x.dtype)
        if training:
            mean = self._buffer(K, "mean", (self.channels,), np.float64)
            inv_std = self._buffer(K, "inv_std", (self.channels,), np.float64)
            K.batch_norm(x, self.gamma, self.beta, self.eps, y, mean, inv_std)
            self._update_running(K, x, mean, inv_std)
            self._x, self._mean, self._inv_std = x, mean, inv_std
        else:
            K.batch_norm_fixed(x, self.gamma, self.beta, K.to_device(self.running_mean),
                               K.to_device(self.running_var), self.eps, y)
        K.add_bias_activation(y, None, self.activation)
        self._y = y
        return y

    def _update_running(self, K, x, mean, inv_std):
        count = x.size // self.channels
        batch_mean = K.to_host(mean)
        batch_var = (1.0 / K.to_host(inv_std) ** 2 - self.eps) * count / max(count - 1, 1)
        self.running_mean += self.momentum * (batch_mean - self.running_mean)
        self.running_var += self.momentum * (batch_var - self.running_var)

    def backward(self, K, grad_y, need_grad_x):
        K.activation_grad(grad_y, self._y, self.activation)
        grad_x = self._buffer(K, "grad_x", self._x.shape, grad_y.dtype)
        K.batch_norm_grad(grad_y, self._x, self.gamma, self._mean, self._inv_std, grad_x,
                          self.grad_gamma, self.grad_beta)
        return grad_x


class Dropout(Layer):
    """Inverted dropout: kept units are scaled by 1 / (1 - p) in training, so inference is the
    identity. Masks are drawn on the host from the estimator's random state, so a fit is the
    same on any device."""

    def __init__(self, p, random_state):
        self.p, self.random_state = p, random_state

    def forward(self, K, x, training):
        if not training or self.p == 0:
            self._mask = None
            return x
        self._mask = K.to_device(self.random_state.uniform(size=x.shape) >= self.p)
        # A copy: the previous layer's backward needs its own output unchanged.
        y = self._buffer(K, "y", x.shape, x.dtype)
        K.copy_into(y, x)
        K.apply_dropout(y, self._mask, 1.0 / (1.0 - self.p))
        return y

    def backward(self, K, grad_y, need_grad_x):
        if self._mask is not None:
            K.apply_dropout(grad_y, self._mask, 1.0 / (1.0 - self.p))
        return grad_y


class Flatten(Layer):
    def output_shape(self, input_shape):
        return (int(np.prod(input_shape)),)

    def forward(self, K, x, training):
        self._x_shape = x.shape
        return x.reshape(x.shape[0], -1)

    def backward(self, K, grad_y, need_grad_x):
        return grad_y.reshape(self._x_shape)


class Network:
    """Layers in sequence over one flat parameter buffer and one flat gradient buffer.

    ``params`` is a host array in the layout of ``parameter_layout`` (weights first); it is
    copied to the backend once.
    """

    def __init__(self, layers, K, params, dtype):
        self.layers, self.K = layers, K
        self.layout = parameter_layout(layers)
        self.n_decayed = sum(int(np.prod(shape)) for _, _, shape, decayed in self.layout
                             if decayed)
        self.params = K.to_device(np.asarray(params, dtype=dtype))
        self.grads = K.zeros(self.params.shape, dtype)
        for (layer, name, shape, _), start, stop in _spans(self.layout):
            setattr(layer, name, self.params[start:stop].reshape(shape))
            setattr(layer, "grad_" + name, self.grads[start:stop].reshape(shape))

    def forward(self, x, training=False):
        for layer in self.layers:
            x = layer.forward(self.K, x, training)
        return x

    def backward(self, grad_out):
        """Fill ``grads`` from the loss gradient for the network's output."""
        grad = grad_out
        for position in range(len(self.layers) - 1, -1, -1):
            grad = self.layers[position].backward(self.K, grad, position > 0)

    def host_params(self):
        return np.array(self.K.to_host(self.params), copy=True)

    def _norms(self):
        return [layer for layer in self.layers if isinstance(layer, BatchNorm)]

    def snapshot(self):
        """Host copies of the parameters and of the batch-norm running statistics."""
        return self.host_params(), [(layer.running_mean.copy(), layer.running_var.copy())
                                    for layer in self._norms()]

    def restore(self, snapshot):
        params, statistics = snapshot
        self.K.copy_into(self.params, params)
        for layer, (mean, var) in zip(self._norms(), statistics):
            layer.running_mean, layer.running_var = mean.copy(), var.copy()


def parameter_layout(layers):
    """(layer, name, shape, decayed) of every parameter, the decayed (weights) first."""
    specs = [(layer, name, shape, decayed) for layer in layers
             for name, shape, decayed in layer.parameter_specs()]
    return [spec for spec in specs if spec[3]] + [spec for spec in specs if not spec[3]]


def _spans(layout):
    start = 0
    for spec in layout:
        stop = start + int(np.prod(spec[2]))
        yield spec, start, stop
        start = stop


def split_params(layout, flat):
    """Views of the flat host buffer, one per parameter, in layout order."""
    return [flat[start:stop].reshape(spec[2]) for spec, start, stop in _spans(layout)]


class Optimizer:
    """State in flat arrays shaped like the parameters, kept on the backend."""

    def __init__(self, K, n_params, dtype, n_slots):
        self.slots = [K.zeros((n_params,), dtype) for _ in range(n_slots)]
        self.t = 0  # steps taken

    def state(self, K):
        return {"t": self.t, "slots": [np.array(K.to_host(slot)) for slot in self.slots]}

    def load_state(self, K, state):
        self.t = state["t"]
        # copies: training updates the slots in place, the saved state must stay as it was
        self.slots = [K.to_device(np.array(slot)) for slot in state["slots"]]


class SGD(Optimizer):
    def __init__(self, K, n_params, dtype, momentum, nesterov):
        super().__init__(K, n_params, dtype, 1)
        self.momentum, self.nesterov = momentum, nesterov

    def step(self, net, lr, decay):
        self.t += 1
        net.K.sgd(net.params, net.grads, self.slots[0], lr, self.momentum, self.nesterov,
                  decay, net.n_decayed)


class Adagrad(Optimizer):
    eps = 1e-10

    def __init__(self, K, n_params, dtype):
        super().__init__(K, n_params, dtype, 1)

    def step(self, net, lr, decay):
        self.t += 1
        net.K.adagrad(net.params, net.grads, self.slots[0], lr, self.eps, decay, net.n_decayed)


class Adam(Optimizer):
    def __init__(self, K, n_params, dtype, beta_1, beta_2, epsilon):
        super().__init__(K, n_params, dtype, 2)
        self.beta_1, self.beta_2, self.epsilon = beta_1, beta_2, epsilon

    def step(self, net, lr, decay):
        self.t += 1
        step_size = adam_step_size(lr, self.beta_1, self.beta_2, self.t)
        net.K.adam(net.params, net.grads, self.slots[0], self.slots[1], step_size, self.beta_1,
                   self.beta_2, self.epsilon, decay, net.n_decayed)


def adam_step_size(lr, beta_1, beta_2, t):
    """Adam's learning rate at step t (1-based) with both bias corrections folded in."""
    return lr * np.sqrt(1 - beta_2 ** t) / (1 - beta_1 ** t)
