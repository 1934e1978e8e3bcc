"""Weight initializers: Xavier (Glorot) and Kaiming (He), uniform and normal.

Fans follow the weight's layout: a dense weight (n_in, n_out) has fan_in = n_in and
fan_out = n_out; a convolution filter bank (F, C, KH, KW) has fan_in = C*KH*KW and
fan_out = F*KH*KW.
"""
import numpy as np
from sklearn.utils import check_random_state

__all__ = ["fans", "xavier_uniform", "xavier_normal", "kaiming_uniform", "kaiming_normal"]


def fans(shape):
    """(fan_in, fan_out) of a dense (n_in, n_out) or convolution (F, C, KH, KW) weight."""
    if len(shape) == 2:
        return shape[0], shape[1]
    if len(shape) == 4:
        field = shape[2] * shape[3]
        return shape[1] * field, shape[0] * field
    raise ValueError(f"weights are 2-D (n_in, n_out) or 4-D (F, C, KH, KW), got shape {shape}")


def _draw(shape, random_state, dtype, uniform, scale):
    """Uniform on [-scale, scale] or normal with standard deviation scale."""
    rng = check_random_state(random_state)
    values = (rng.uniform(-scale, scale, size=shape) if uniform
              else rng.normal(0.0, scale, size=shape))
    return values.astype(dtype, copy=False)


def xavier_uniform(shape, random_state=None, gain=1.0, dtype=np.float64):
    """Uniform on +-gain*sqrt(6 / (fan_in + fan_out)): keeps activations' variance through
    tanh or logistic layers (Glorot and Bengio, 2010)."""
    fan_in, fan_out = fans(shape)
    return _draw(shape, random_state, dtype, True, gain * np.sqrt(6.0 / (fan_in + fan_out)))


def xavier_normal(shape, random_state=None, gain=1.0, dtype=np.float64):
    """Normal with std gain*sqrt(2 / (fan_in + fan_out))."""
    fan_in, fan_out = fans(shape)
    return _draw(shape, random_state, dtype, False, gain * np.sqrt(2.0 / (fan_in + fan_out)))


def kaiming_uniform(shape, random_state=None, dtype=np.float64):
    """Uniform on +-sqrt(6 / fan_in): keeps activations' variance through ReLU layers
    (He et al., 2015)."""
    fan_in, _ = fans(shape)
    return _draw(shape, random_state, dtype, True, np.sqrt(6.0 / fan_in))


def kaiming_normal(shape, random_state=None, dtype=np.float64):
    """Normal with std sqrt(2 / fan_in)."""
    fan_in, _ = fans(shape)
    return _draw(shape, random_state, dtype, False, np.sqrt(2.0 / fan_in))
