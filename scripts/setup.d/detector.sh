#!/usr/bin/env bash
# rekognition-local's offline label model and ffmpeg (detector/model/prepare.sh).
set -euo pipefail
exec bash "$(dirname "$0")/../../detector/model/prepare.sh"
