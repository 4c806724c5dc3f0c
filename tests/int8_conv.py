"""An independent numpy int8 convolution with TFLite's arithmetic, for tests.

Used to check bench.quantize's integer arithmetic against the interpreter's
golden outputs: if both agree, the firmware's requantize.h (the same
arithmetic in C) is checked against the same truth on the target.
"""

from __future__ import annotations

import numpy as np

from bench.cases import quantize


def conv_s8(x, w, bias, mult, shift, in_zp, out_zp, stride, pad_h, pad_w, out_h, out_w, groups, depthwise):
    """x [H,W,C_in] int8; w OHWI (conv) or 1HWC (depthwise). Returns int8 [out_h, out_w, C_out]."""
    h, wd, c_in = x.shape
    if depthwise:
        k = w.shape[1]
        c_out = w.shape[3]
    else:
        c_out, k = w.shape[0], w.shape[1]
    xp = np.zeros((h + 2 * k, wd + 2 * k, c_in), np.int64)
    xp[k:k + h, k:k + wd] = x.astype(np.int64) - in_zp  # padding holds (zp - zp) = 0
    acc = np.zeros((out_h, out_w, c_out), np.int64)
    for fy in range(k):
        for fx in range(k):
            ys = k - pad_h + fy + stride * np.arange(out_h)
            xs = k - pad_w + fx + stride * np.arange(out_w)
            patch = xp[np.ix_(ys, xs)]  # [out_h, out_w, C_in]
            if depthwise:
                mult_dm = c_out // c_in
                acc += np.repeat(patch, mult_dm, axis=2) * w[0, fy, fx].astype(np.int64)
            else:
                gc = c_in // groups
                opg = c_out // groups
                for g in range(groups):
                    acc[..., g * opg:(g + 1) * opg] += patch[..., g * gc:(g + 1) * gc] @ \
                        w[g * opg:(g + 1) * opg, fy, fx].astype(np.int64).T
    acc += bias.astype(np.int64)
    out = quantize.requantize(acc.astype(np.int32), mult, shift) + out_zp
    return np.clip(out, -128, 127).astype(np.int8)
