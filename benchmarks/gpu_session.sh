#!/usr/bin/env bash
# The first GPU session's measurements, in one command that fits 9 minutes.
#
#   bash benchmarks/gpu_session.sh            # on the device machine
#   bash benchmarks/gpu_session.sh --toy      # tiny, on a CPU (the test)
#
# Prepared here first (benchmarks/README.md, "GPU session"):
#   .venv/bin/python -m benchmarks.gpu_prepare --data_root=../shared/data
# writes .gpu_wheels/ (ml_collections, tensorboardX: what the device image
# lacks) and .gpu_data/cifar10_jpeg/cifar10_jpeg.tar.gz, both git-ignored;
# the `run` call carries them: carry [".gpu_wheels", ".gpu_data"] (and
# ".gpu_resume" when resuming part c, below). Run from the repo root.
#
# Parts, in this order, each under its own `timeout` (seconds on the H100,
# the whole script <= LTJAX_GPU_TOTAL_S = 540 s = 9 min; none measured yet,
# so the budgets are guesses with room for XLA's GPU compilation, 20-40 s a
# program; LTJAX_GPU_{A,B,D}_S override them):
#   setup  ~15   install the carried wheels (pip --target, never jax), record
#                nvidia-smi, versions, date, commit into env.txt
#   (a)    120   feed: host-fed step vs data on the device, one step and
#                97 steps (an epoch) per call (time_to_accuracy --mode=feed;
#                three programs to compile)
#   (b)    90    train-step throughput on the same GPU: ltjax f32 and bf16
#                against PyTorch f32, channels_last, AMP (bf16 autocast),
#                AMP + channels_last (step_speed --sections=step); without
#                torch, "torch not installed" is recorded and ltjax alone runs
#   (d)    165   the fast recipe's time to 77 % test balanced accuracy on
#                CIFAR-10-LT: a ladder of lengths 80, 160 epochs
#                (LTJAX_GPU_D_LENGTHS), about 10 evaluations each, stopping
#                at the first run that reaches it (benchmarks.gpu_tta)
#   (c)    rest  (about 110 s) the 200-epoch LDAM-DRW and LA recipes on
#                CIFAR-10-LT, 3 replicas each (num_replicas=3), two campaign
#                runners side by side on the GPU (40 % of its memory each)
#   wrap   ~40   stopping (c) cleanly, the archive, the summary
# Part (c) will NOT finish in one session: at its timeout the runners get
# SIGTERM, the runs checkpoint (keep_checkpoints=1) and stop, and their
# workdirs (checkpoints, history, logs) are archived to
# $OUT/resume/workdirs.tar.gz.part-NN (<= 15 MiB each). A later session
# copies those parts into a git-ignored .gpu_resume/ of the checkout, carries
# it, and this script unpacks it before (c): the runs resume where they
# stopped (the same plan lines, data path .gpu_data/..., workdir root).
#
# $OUT receives (<= 8 files): summary.md (numbers, environment, command),
# gpu.jsonl (store lines of the finished runs, benchmarks.store format),
# logs/{a_feed,b_step,c_campaign,d_tta}.log, resume/workdirs.tar.gz.part-*
# (if more than 2 parts are needed, the logs go into one logs.tar.gz).
#
# Environment: OUT (default /tmp/ltjax_gpu_out), LTJAX_GPU_TOY=1 (= --toy),
# LTJAX_GPU_WORK (scratch and workdirs, default /tmp/ltjax_gpu),
# LTJAX_GPU_DATA (.gpu_data), LTJAX_GPU_WHEELS (.gpu_wheels),
# LTJAX_GPU_RESUME (.gpu_resume), LTJAX_GPU_TOTAL_S, PYTHON (python3),
# LTJAX_GPU_PARTS (default abdc; e.g. "c": a session that only resumes the
# 200-epoch runs, which then get the whole budget).
# --toy: every part at toy size (batch 16, one or two steps, target accuracy
# 0) with budgets for a slow CPU; data from
# `python -m benchmarks.gpu_prepare --toy --nowheels --data_out=DIR`.

set -uo pipefail
cd "$(dirname "$0")/.." || exit 2

TOY=${LTJAX_GPU_TOY:-0}
for arg in "$@"; do
  case $arg in
    --toy) TOY=1 ;;
    *) echo "gpu_session.sh: unknown argument $arg (only --toy)" >&2; exit 2 ;;
  esac
done
OUT=${OUT:-/tmp/ltjax_gpu_out}
WORK=${LTJAX_GPU_WORK:-/tmp/ltjax_gpu}
DATA=${LTJAX_GPU_DATA:-.gpu_data}
WHEELS=${LTJAX_GPU_WHEELS:-.gpu_wheels}
RESUME=${LTJAX_GPU_RESUME:-.gpu_resume}
PY=${PYTHON:-python3}
PARTS=${LTJAX_GPU_PARTS:-abdc}
export PYTHONUNBUFFERED=1

if [ "$TOY" = 1 ]; then
  TOTAL=${LTJAX_GPU_TOTAL_S:-1500}
  A_BUDGET=300; B_BUDGET=240; D_BUDGET=300; WRAP=30
  A_FLAGS=(--steps=1 --rounds=1 --chunk=1 --batch_size=16)
  B_FLAGS=(--steps=1 --rounds=1 --batch_size=16 --step_dtypes=float32)
  # 2 steps of batch 16 (max_steps), 2 validation images per class.
  TOY_OVERRIDES="batch_size=16 max_steps=2 data.val_per_class=2"
  TOY_OVERRIDES+=" eval_batch_size=32"
  D_FLAGS=(--lengths=1 --evals=1 --target=0.0
           --overrides="${TOY_OVERRIDES// /,}")
  C_SUFFIX=":1"; C_EXTRA=" $TOY_OVERRIDES"
else
  TOTAL=${LTJAX_GPU_TOTAL_S:-540}
  A_BUDGET=${LTJAX_GPU_A_S:-120}; B_BUDGET=${LTJAX_GPU_B_S:-90}
  D_BUDGET=${LTJAX_GPU_D_S:-165}; WRAP=25
  A_FLAGS=(--steps=194 --rounds=3 --chunk=97)
  B_FLAGS=(--steps=50 --rounds=5 --step_dtypes=float32,bfloat16)
  D_FLAGS=(--lengths="${LTJAX_GPU_D_LENGTHS:-80,160}" --evals=10
           --target=0.77)
  C_SUFFIX=""; C_EXTRA=""
fi
TORCH_VARIANTS=f32,f32_channels_last,amp,amp_channels_last
CAMPAIGN=(--store="$OUT/gpu.jsonl" --workdir_root="$WORK/campaign"
          --data_root="$DATA" --nice=0)
STORE_ROOT=$WORK/campaign/gpu   # <workdir_root>/<store name>

START=$(date +%s)
mkdir -p "$OUT/logs" "$WORK/plans"
rm -f "$WORK"/{parts.tsv,feed.json,step.json,torch.txt,tta.json,resume.txt} \
  "$WORK"/c_*.log
elapsed() { echo $(( $(date +%s) - START )); }

# run_part NAME BUDGET COMMAND...: the command under `timeout`, its output in
# $OUT/logs/NAME.log, a row of parts.tsv (name, budget, seconds, exit, note).
# After the budget, SIGTERM to the part's process group; KILL_AFTER seconds
# later, SIGKILL. A part whose letter is not in LTJAX_GPU_PARTS is skipped.
run_part() {
  local name=$1 budget=$2; shift 2
  local log=$OUT/logs/$name.log t0 rc note
  if [[ $PARTS != *${name:0:1}* ]]; then
    printf '%s\t%s\t0\t-\tskipped (LTJAX_GPU_PARTS=%s)\n' "$name" "$budget" \
      "$PARTS" >>"$WORK/parts.tsv"
    return 0
  fi
  t0=$(date +%s)
  echo "# $(date -u +%FT%TZ) budget ${budget}s: $*" >>"$log"
  timeout -s TERM -k "${KILL_AFTER:-30}" "$budget" "$@" >>"$log" 2>&1
  rc=$?
  case $rc in
    0) note=ok ;;
    124|137) note=${TIMEOUT_NOTE:-out of time} ;;
    *) note=failed ;;
  esac
  printf '%s\t%s\t%s\t%s\t%s\n' "$name" "$budget" "$(( $(date +%s) - t0 ))" \
    "$rc" "$note" >>"$WORK/parts.tsv"
  echo "[$name] exit $rc after $(( $(date +%s) - t0 )) s ($note)"
}

# --- setup -------------------------------------------------------------------
if compgen -G "$WHEELS/*.whl" >/dev/null; then
  # --target: the device's own jax / jaxlib (CUDA) stay as they are.
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir \
    --upgrade --target "$WORK/site" "$WHEELS"/*.whl || exit 1
  export PYTHONPATH=$WORK/site${PYTHONPATH:+:$PYTHONPATH}
  echo "installed: $(cd "$WHEELS" && ls ./*.whl | tr '\n' ' ')"
else
  echo "no wheels in $WHEELS: using the installed packages"
fi
if ! "$PY" -c "import ml_collections, tensorboardX" 2>"$OUT/logs/setup.err"
then
  cat "$OUT/logs/setup.err"
  echo "ml_collections / tensorboardX missing: run benchmarks.gpu_prepare" \
       "and carry .gpu_wheels" >&2
  exit 1
fi
rm -f "$OUT/logs/setup.err"
if [ ! -f "$DATA/cifar10_jpeg/cifar10_jpeg.tar.gz" ]; then
  echo "no $DATA/cifar10_jpeg/cifar10_jpeg.tar.gz: run benchmarks.gpu_prepare" \
       "and carry .gpu_data" >&2
  exit 1
fi
COMMAND="bash benchmarks/gpu_session.sh $*"
{
  echo "date: $(date -u +%FT%TZ)"
  echo "command: $COMMAND (toy=$TOY, budget ${TOTAL}s)"
  echo "host: $(hostname), $(nproc) CPUs"
  echo "commit: $(git rev-parse --short=10 HEAD 2>/dev/null || echo 'no git')"
  if command -v nvidia-smi >/dev/null; then
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
  else
    echo "nvidia-smi: not found"
  fi
  "$PY" - <<'EOF'
import importlib.metadata as md, sys
print("python", sys.version.split()[0])
for name in ("jax", "jaxlib", "flax", "optax", "orbax-checkpoint", "numpy",
             "ml_collections", "tensorboardX", "torch"):
  try:
    print(name, md.version(name))
  except md.PackageNotFoundError:
    print(name, "not installed")
import jax
print("jax devices:", jax.devices())
EOF
} >"$WORK/env.txt" 2>&1
cat "$WORK/env.txt"
if ! "$PY" -c "import torch" 2>/dev/null; then
  echo "torch not installed: part b times ltjax alone" >"$WORK/torch.txt"
fi

# --- (a) feed ----------------------------------------------------------------
run_part a_feed "$A_BUDGET" "$PY" -m benchmarks.time_to_accuracy --mode=feed \
  --data_path="$DATA/cifar10_jpeg/cifar10_jpeg.tar.gz" "${A_FLAGS[@]}" \
  --out="$WORK/feed.json"

# --- (b) train step: ltjax vs PyTorch ----------------------------------------
if [ -f "$WORK/torch.txt" ]; then
  [[ $PARTS == *b* ]] && cat "$WORK/torch.txt" >>"$OUT/logs/b_step.log"
  B_TORCH=(--notorch)
else
  B_TORCH=(--torch --torch_variants="$TORCH_VARIANTS")
fi
XLA_PYTHON_CLIENT_MEM_FRACTION=0.5 run_part b_step "$B_BUDGET" \
  "$PY" -m benchmarks.step_speed --sections=step "${B_FLAGS[@]}" \
  "${B_TORCH[@]}" --out="$WORK/step.json"

# --- (d) the fast recipe's time to the target --------------------------------
run_part d_tta "$D_BUDGET" "$PY" -m benchmarks.gpu_tta "${D_FLAGS[@]}" \
  --budget_s=$(( D_BUDGET - 30 )) --grace_s=20 \
  --data_root="$DATA" --store="$OUT/gpu.jsonl" \
  --workdir_root="$WORK/campaign" --out="$WORK/tta.json" \
  --campaign_flag=--extra_flag=--config.keep_checkpoints=1

# --- (c) 200 epochs of LDAM-DRW and LA, 3 replicas each ----------------------
if compgen -G "$RESUME/workdirs.tar.gz.part-*" >/dev/null; then
  mkdir -p "$WORK/campaign"
  cat "$RESUME"/workdirs.tar.gz.part-* | tar xzf - -C "$WORK/campaign" \
    && echo "resumed from $RESUME" | tee -a "$OUT/logs/c_campaign.log"
fi
# Two runners side by side, each into its own file (no pipe: a pipe's
# reader killed by the timeout would break the runner while its run saves).
part_c() {
  local pids=() method plan
  for method in ldam_drw logit_adjusted; do
    plan=$WORK/plans/c_$method.txt
    echo "cifar10_lt/$method$C_SUFFIX 0 num_replicas=3$C_EXTRA" >"$plan"
    # The timeout's SIGTERM reaches the runner and its run, which saves a
    # checkpoint at its next step and exits 3; the runner waits for it.
    XLA_PYTHON_CLIENT_MEM_FRACTION=0.4 "$PY" -m benchmarks.campaign \
      --plan="$plan" "${CAMPAIGN[@]}" --checkpoint_minutes=30 \
      --extra_flag=--config.keep_checkpoints=1 \
      --extra_flag=--config.checkpoint_every_minutes=2 \
      >"$WORK/c_$method.log" 2>&1 &
    pids+=($!)
  done
  local rc=0 pid
  for pid in "${pids[@]}"; do wait "$pid" || rc=$?; done
  return $rc
}
export WORK C_SUFFIX C_EXTRA PY
# Stopping takes a step and a checkpoint (seconds); 15 s are kept for it.
C_BUDGET=$(( TOTAL - $(elapsed) - WRAP - 15 ))
if [ "$C_BUDGET" -ge 30 ]; then
  CAMPAIGN_TEXT=$(printf '%q ' "${CAMPAIGN[@]}")
  KILL_AFTER=60 TIMEOUT_NOTE="stopped at its budget: runs checkpointed" \
    run_part c_campaign "$C_BUDGET" bash -c \
    "CAMPAIGN=($CAMPAIGN_TEXT); $(declare -f part_c); part_c"
  for method in ldam_drw logit_adjusted; do
    if [ -f "$WORK/c_$method.log" ]; then
      sed "s/^/[$method] /" "$WORK/c_$method.log" >>"$OUT/logs/c_campaign.log"
    fi
  done
else
  printf 'c_campaign\t%s\t0\t-\tskipped: no time left\n' "$C_BUDGET" \
    >>"$WORK/parts.tsv"
fi

# --- wrap-up: archive for resuming, summary ----------------------------------
mkdir -p "$OUT/resume"
rm -f "$OUT"/resume/workdirs.tar.gz.part-*
workdirs=()
if [ -d "$STORE_ROOT/cifar10_lt" ]; then
  while IFS= read -r dir; do workdirs+=("${dir#"$WORK/campaign/"}"); done < <(
    find "$STORE_ROOT/cifar10_lt" -mindepth 1 -maxdepth 1 -type d \
      \( -name 'ldam_drw*num_replicas=3*' \
         -o -name 'logit_adjusted*num_replicas=3*' \))
fi
if [ ${#workdirs[@]} -gt 0 ]; then
  # Left out: the replicas' own final checkpoints, and the stacked
  # checkpoint of a finished run (nothing to resume; its results are in
  # replica_<k>/ and the store). An unfinished run keeps its checkpoint.
  excludes=(--exclude='replica_*/checkpoints')
  for wd in "${workdirs[@]}"; do
    if [ "$(ls "$WORK/campaign/$wd"/replica_*/metrics.json 2>/dev/null \
           | wc -l)" = 3 ]; then
      excludes+=(--exclude="$wd/checkpoints")
    fi
  done
  tar czf - -C "$WORK/campaign" "${excludes[@]}" "${workdirs[@]}" \
    | split -b 15m -d - "$OUT/resume/workdirs.tar.gz.part-"
  parts=$(ls "$OUT"/resume/workdirs.tar.gz.part-* | wc -l)
  size=$(cat "$OUT"/resume/workdirs.tar.gz.part-* | wc -c)
  {
    echo "Workdirs archived for resuming: ${workdirs[*]}"
    echo "($parts part(s), $size bytes, \$OUT/resume/workdirs.tar.gz.part-*)."
    echo "Resume: copy the parts into .gpu_resume/ of the checkout, carry it,"
    echo "run this script again (the runs continue from their checkpoints)."
    for wd in "${workdirs[@]}"; do
      last=$(tail -n 1 "$WORK/campaign/$wd/history.jsonl" 2>/dev/null \
             | "$PY" -c "import json, sys
r = json.loads(sys.stdin.read() or '{}')
print('epoch', r.get('epoch'), 'test balanced',
      r.get('test', {}).get('balanced'))" 2>/dev/null)
      echo "- $wd: last evaluation: ${last:-none}"
    done
  } >"$WORK/resume.txt"
  if [ "$parts" -gt 2 ]; then
    # More than 8 files would come back: the logs become one archive.
    tar czf "$OUT/logs.tar.gz" -C "$OUT" logs && rm -r "$OUT/logs"
    echo "(the part logs are in \$OUT/logs.tar.gz)" >>"$WORK/resume.txt"
  fi
else
  echo "No part-c workdir to archive." >"$WORK/resume.txt"
fi
rmdir "$OUT/resume" 2>/dev/null
"$PY" -m benchmarks.gpu_summary --work="$WORK" --out="$OUT" \
  --command="$COMMAND" >/dev/null
echo "done in $(elapsed) s; summary: $OUT/summary.md"
cat "$WORK/parts.tsv"
