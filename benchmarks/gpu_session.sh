#!/usr/bin/env bash
# Every GPU-only check and measurement of this repository in one call of a lent GPU machine (see docs/benchmarks.md).
#
#   bash benchmarks/gpu_session.sh prepare     # here, on the CPU machine: wheels the GPU image lacks, an MVSA-Single
#                                              # subset for the input benchmark, all under .gpu/ (ignored, ~25 MiB)
#   bash benchmarks/gpu_session.sh run         # there (the device tool: carry .gpu/whl and .gpu/data, ~20 MiB;
#                                              # timeout ~580 s); results in $OUT
#
#   bash benchmarks/gpu_session.sh prepare-recipe   # here: issue 5's full-fidelity recipe (configs/mvsa_single_gpu.yaml)
#       needs the offline weights (fp16 copies, .gpu/recipe_a, ~58 MiB) and the 4,511 MVSA-Single images (two halves,
#       .gpu/recipe_b and recipe_c, ~48 MiB each); a carry holds at most 64 MiB, so carry recipe_a and then recipe_b
#       with two calls of any command, then, while the machine stays warm, run `bash benchmarks/gpu_session.sh recipe`
#       carrying recipe_c: the ladder rows in RECIPE_ROWS (default clmlf, late_fusion, text_only) side by side,
#       RECIPE_SEEDS seeds each (3), each row stopped after RECIPE_SECONDS (540); results under $OUT.
#
# `run` does, in order, each step time-boxed so that a slow one cannot starve the rest: the CUDA and Triton tests,
# the train-step benchmark, the input-pipeline benchmark, the loss suite (matmul rate and every CUDA case). Each step
# writes its log and its pytest-benchmark JSON under $OUT; render them with benchmarks/render_results.py.
set -uo pipefail
cd "$(dirname "$0")/.."

WHEELS=(pydantic==2.14.4 pydantic-core==2.50.5 annotated-types==0.8.0 typing-inspection==0.4.5
        pytorch-metric-learning==2.9.0 pytest==9.2.0 iniconfig==2.3.1 pygments==2.21.0 pytest-benchmark==5.3.1
        py-cpuinfo2==10.1.1 pytest-timeout==2.4.0)
SUBSET_TRAIN=600   # the input benchmark reads 512 training posts
SUBSET_EVAL=32

prepare() {
    local data=${CLMLF_DATA_DIR:-../shared/data}
    mkdir -p .gpu/whl .gpu/data/MVSA-single/10-flod-1 .gpu/data/MVSA-single/dataset_image
    grep -qx ".gpu" .git/info/exclude 2>/dev/null || echo ".gpu" >> .git/info/exclude
    pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 --platform manylinux_2_17_x86_64 \
        -d .gpu/whl "${WHEELS[@]}" || return 1
    python3 - "$data/MVSA-single" .gpu/data/MVSA-single "$SUBSET_TRAIN" "$SUBSET_EVAL" <<'EOF'
import json, shutil, sys
from pathlib import Path
source, target, n_train, n_eval = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
ids = set()
for split, n in (("train", n_train), ("dev", n_eval), ("test", n_eval)):
    posts = json.loads((source / "10-flod-1" / f"{split}.json").read_text())[:n]
    (target / "10-flod-1" / f"{split}.json").write_text(json.dumps(posts))
    ids |= {post["id"] for post in posts}
translations = [t for t in json.loads((source / "MVSA-single_translation.json").read_text()) if t["id"] in ids]
(target / "MVSA-single_translation.json").write_text(json.dumps(translations))
for post_id in ids:
    shutil.copy(source / "dataset_image" / f"{post_id}.jpg", target / "dataset_image")
print(f"{len(ids)} posts with their images in {target}")
EOF
    du -sh .gpu
}

prepare_recipe() {  # the recipe's weights (fp16 copies) and images, in three carries of at most 64 MiB each
    local data=${CLMLF_DATA_DIR:-../shared/data}
    [ -d .gpu/whl ] || prepare || return 1
    rm -rf .gpu/recipe_a .gpu/recipe_b .gpu/recipe_c
    mkdir -p .gpu/recipe_a/data/MVSA-single .gpu/recipe_b/images .gpu/recipe_c/images
    cp -r .gpu/whl .gpu/recipe_a/whl
    cp -r "$data/MVSA-single/10-flod-1" "$data/MVSA-single/MVSA-single_translation.json" .gpu/recipe_a/data/MVSA-single/
    python3 benchmarks/pack_recipe.py .gpu/recipe_a/pkgs || return 1
    local images=("$data"/MVSA-single/dataset_image/*.jpg) half
    half=$(( ${#images[@]} / 2 ))
    cp "${images[@]:0:half}" .gpu/recipe_b/images/
    cp "${images[@]:half}" .gpu/recipe_c/images/
    du -sh .gpu/recipe_a .gpu/recipe_b .gpu/recipe_c
}

recipe() {  # needs .gpu/recipe_a and recipe_b on the machine (carried by earlier calls while it stays warm) and recipe_c
    OUT=${OUT:?run on the device machine, where \$OUT is set}
    local deps=/tmp/clmlf-deps data=/tmp/clmlf-data seeds=${RECIPE_SEEDS:-3} seconds=${RECIPE_SECONDS:-540}
    pip install --quiet --no-index --no-deps --target "$deps" .gpu/recipe_a/whl/*.whl > "$OUT/install.log" 2>&1
    rm -rf "$data" && mkdir -p "$data/MVSA-single/dataset_image"
    cp -r .gpu/recipe_a/data/MVSA-single/* "$data/MVSA-single/"
    ln -s "$PWD"/.gpu/recipe_b/images/*.jpg "$PWD"/.gpu/recipe_c/images/*.jpg "$data/MVSA-single/dataset_image/"
    export PYTHONPATH="$PWD:$PWD/.gpu/recipe_a/pkgs:$deps" CLMLF_DATA_DIR="$data" HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
    for row in ${RECIPE_ROWS:-clmlf late_fusion text_only}; do  # side by side: one small model leaves the GPU mostly idle
        timeout -s INT -k 30 "$seconds" python -m clmlf ablate configs/mvsa_single_gpu.yaml --rows "$row" --seeds "$seeds" \
            --out "$OUT/$row" --no-progress --set data.num_workers=4 > "$OUT/$row.log" 2>&1 &
    done
    wait
}

step() {  # step NAME SECONDS COMMAND...: run one time-boxed step, log under $OUT
    local name=$1 seconds=$2
    shift 2
    local started=$SECONDS
    timeout -s INT -k 20 "$seconds" "$@" > "$OUT/$name.log" 2>&1  # Ctrl-C first: pytest still writes what it measured
    echo "$name: exit $? after $((SECONDS - started)) s" | tee -a "$OUT/steps.txt"
}

run() {
    OUT=${OUT:?run on the device machine, where \$OUT is set}
    local deps=/tmp/clmlf-deps
    pip install --quiet --no-index --no-deps --target "$deps" .gpu/whl/*.whl > "$OUT/install.log" 2>&1
    export PYTHONPATH="$PWD:$deps" CLMLF_DATA_DIR="$PWD/.gpu/data" HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
    { nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv; nproc; python -c \
        "import torch, triton, transformers; print(torch.__version__, triton.__version__, transformers.__version__)"; } > "$OUT/machine.txt" 2>&1
    local bench=(python -m pytest -p no:cacheprovider -q)
    step tests 120 "${bench[@]}" tests/losses/test_loss_triton_cuda.py tests/losses/test_loss_unit_rows.py tests/losses/test_loss_api.py
    step train_step 240 "${bench[@]}" benchmarks/test_train_step.py -k cuda --benchmark-json="$OUT/gpu_train_step.json"
    step input 60 "${bench[@]}" benchmarks/test_input_pipeline.py --benchmark-json="$OUT/gpu_input.json"
    step loss 130 "${bench[@]}" benchmarks/test_loss_speed.py -k "matmul or (cuda and not chunked)" --benchmark-json="$OUT/gpu_loss.json"
}

case "${1:-}" in
    prepare) prepare ;;
    run) run ;;
    prepare-recipe) prepare_recipe ;;
    recipe) recipe ;;
    *) echo "usage: bash benchmarks/gpu_session.sh prepare|run|prepare-recipe|recipe" >&2; exit 2 ;;
esac
