#!/bin/bash
# Runs deploy/kubernetes/flood-job.yaml and merges its pods' results.
#
#   NETDX_IMAGE=registry/netdx:0.1 deploy/kubernetes/run.sh 10.0.0.5:6379 30000 3000/s 30s 3
#
# Needs kubectl (pointing at the cluster) and envsubst (gettext-base); netdx merge runs here.
set -euo pipefail
export NETDX_TARGET=${1:?target HOST:PORT} NETDX_CONNECTIONS=${2:-10000} NETDX_RATE=${3:-max}
export NETDX_HOLD=${4:-1s} NETDX_AGENTS=${5:-3}
export NETDX_IMAGE=${NETDX_IMAGE:?the image with netdx-flood}
export NETDX_RUN_ID=${NETDX_RUN_ID:-$(date +%s)}
export NETDX_START_AT=$(( $(date +%s) + ${NETDX_START_DELAY:-30} )) # pull and schedule first
here=$(dirname "$0")
out=netdx-k8s-$NETDX_RUN_ID
mkdir -p "$out"
envsubst < "$here/flood-job.yaml" | kubectl apply -f -
job=job/netdx-flood-$NETDX_RUN_ID
kubectl wait --for=condition=complete --timeout=1h "$job" || kubectl wait --for=condition=failed --timeout=10s "$job" || true
for i in $(seq 0 $((NETDX_AGENTS - 1))); do
  pod=$(kubectl get pods -l "job-name=netdx-flood-$NETDX_RUN_ID,batch.kubernetes.io/job-completion-index=$i" -o name)
  kubectl logs "$pod" > "$out/$i.json"
done
netdx merge "$out"/*.json --json > "$out/merged.json"
netdx merge "$out"/*.json
