#!/usr/bin/env bash
# Validates the deployment files: the Dockerfile, the compose file, the
# kustomize base and the Helm chart. Installs nothing (deploy/install-validators.sh
# does). Run from anywhere:
#   deploy/validate.sh
# With CI=true a validator that is not installed is a failure; otherwise it is
# skipped with a note. Exits non-zero if anything failed.
#
# Environment:
#   K8S_VERSIONS    Kubernetes versions to validate manifests against
#                   (kubernetes-validate's offline schemas), default "1.30.0 1.35.0".
#   HELM            helm binary (default: helm on PATH, else the one
#                   install-validators.sh puts in $STAGEPASS_TOOLS_DIR).
#   STAGEPASS_BIN   optional: a built stagepass binary; when set, every example
#                   config is also run through `stagepass check`.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2

K8S_VERSIONS=${K8S_VERSIONS:-"1.30.0 1.35.0"}
TOOLS_DIR=${STAGEPASS_TOOLS_DIR:-${HOME:-/root}/.cache/stagepass-deploy-tools}
CHART=helm/stagepass
STRICT=false
[ "${CI:-}" = "true" ] && STRICT=true

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

passed=0 failed=0 skipped=0
failures=()

# check NAME COMMAND...: runs the command, shows its output only on failure.
check() {
  local name=$1; shift
  local log="$work/log"
  if "$@" >"$log" 2>&1; then
    passed=$((passed + 1)); printf 'PASS  %s\n' "$name"
  else
    failed=$((failed + 1)); failures+=("$name"); printf 'FAIL  %s\n' "$name"
    sed 's/^/      /' "$log"
    return 1
  fi
}

# to_file FILE COMMAND...: runs the command with its stdout in FILE.
to_file() { local file=$1; shift; "$@" >"$file"; }

# have TOOL WHAT: true if TOOL is a command; else records a skip (or, in CI, a failure).
have() {
  if command -v "$1" >/dev/null 2>&1; then return 0; fi
  if $STRICT; then
    failed=$((failed + 1)); failures+=("$2 ($1 not installed)")
    printf 'FAIL  %s: %s is not installed (CI=true)\n' "$2" "$1"
  else
    skipped=$((skipped + 1)); printf 'SKIP  %s: %s is not installed\n' "$2" "$1"
  fi
  return 1
}

# expect_failure PATTERN COMMAND...: succeeds if the command fails and its
# output matches PATTERN (grep -E), for negative checks.
expect_failure() {
  local pattern=$1 out; shift
  if out=$("$@" 2>&1); then echo "unexpectedly succeeded"; return 1; fi
  echo "$out"
  grep -qE "$pattern" <<<"$out"
}

echo "== Dockerfile"
if have hadolint "hadolint deploy/Dockerfile"; then
  check "hadolint deploy/Dockerfile" hadolint deploy/Dockerfile
fi

echo "== YAML style"
if have yamllint "yamllint deploy helm"; then
  check "yamllint -c deploy/.yamllint deploy helm" yamllint -c deploy/.yamllint deploy helm
fi

echo "== docker-compose"
if have docker-compose "docker-compose config"; then
  check "docker-compose config -q (env from deploy/compose.env.example)" \
    docker-compose --env-file deploy/compose.env.example -f deploy/docker-compose.yaml config -q
  : >"$work/empty.env"
  check "docker-compose config -q with the Redis override (revocable sessions)" \
    docker-compose --env-file deploy/compose.env.example -f deploy/docker-compose.yaml -f deploy/docker-compose.redis.yaml config -q
  check "docker-compose config refuses to run without the required secrets" \
    expect_failure 'set SESSION_SECRET' docker-compose --env-file "$work/empty.env" -f deploy/docker-compose.yaml config -q
fi

echo "== Kubernetes (kustomize base)"
if have kubectl "kubectl kustomize deploy/kubernetes" \
   && check "kubectl kustomize deploy/kubernetes" \
        to_file "$work/kustomize.yaml" kubectl kustomize deploy/kubernetes; then
  if have kubernetes-validate "kubernetes-validate (kustomize output)"; then
    for v in $K8S_VERSIONS; do
      check "kubernetes-validate --strict -k $v: kustomize output + secret.example.yaml" \
        kubernetes-validate --strict --quiet -k "$v" "$work/kustomize.yaml" deploy/kubernetes/secret.example.yaml
    done
  fi
fi

echo "== Helm chart"
if have check-jsonschema "values.schema.json"; then
  check "check-jsonschema: values.schema.json is a valid JSON Schema" \
    check-jsonschema --check-metaschema $CHART/values.schema.json
  check "check-jsonschema: values.yaml matches values.schema.json" \
    check-jsonschema --schemafile $CHART/values.schema.json $CHART/values.yaml
fi

ci_values=("$CHART"/ci/*-values.yaml)
if python3 -c 'import importlib.util, sys; sys.exit(importlib.util.find_spec("helm_sdkpy") is None)' 2>/dev/null; then
  check "helm lint via helm-sdkpy (Helm's Go lint; values.yaml and each ci/*-values.yaml)" \
    python3 deploy/helm_sdkpy_lint.py $CHART "${ci_values[@]}"
elif $STRICT; then
  failed=$((failed + 1)); failures+=("helm-sdkpy lint (not installed)")
  echo "FAIL  helm lint via helm-sdkpy: PyPI helm-sdkpy is not installed (CI=true)"
else
  skipped=$((skipped + 1)); echo "SKIP  helm lint via helm-sdkpy: PyPI helm-sdkpy is not installed"
fi

helm_bin=${HELM:-}
if [ -z "$helm_bin" ]; then
  if command -v helm >/dev/null 2>&1; then helm_bin=helm
  elif [ -x "$TOOLS_DIR/helm" ]; then helm_bin="$TOOLS_DIR/helm"; fi
fi
if [ -n "$helm_bin" ] || have helm "helm lint/template"; then
  for values in "" "${ci_values[@]}"; do
    label=${values:-values.yaml}
    args=(); [ -n "$values" ] && args=(-f "$values")
    check "helm lint --strict ($label)" "$helm_bin" lint --strict $CHART "${args[@]}"
    out="$work/helm-$(basename "${values:-default}" .yaml).yaml"
    if check "helm template ($label)" \
         to_file "$out" "$helm_bin" template stagepass $CHART --namespace stagepass "${args[@]}" \
         && have kubernetes-validate "kubernetes-validate (helm output)"; then
      for v in $K8S_VERSIONS; do
        # ServiceMonitor is a CRD: kubernetes-validate has no schema for it and only warns.
        check "kubernetes-validate --strict -k $v: helm template ($label)" \
          kubernetes-validate --strict --quiet -k "$v" "$out"
      done
    fi
  done
  check "helm template rejects an unknown value (values.schema.json is enforced)" \
    expect_failure "additional properties 'no-such-value' not allowed" \
      "$helm_bin" template stagepass $CHART --set no-such-value=1
fi

if [ -n "${STAGEPASS_BIN:-}" ]; then
  echo "== stagepass check (STAGEPASS_BIN=$STAGEPASS_BIN)"
  python3 - "$work" "$work"/helm-*.yaml <<'PY'
import os, sys, yaml
work = sys.argv[1]
for path in sys.argv[2:]:
    for doc in yaml.safe_load_all(open(path)):
        if doc and doc.get("kind") == "ConfigMap" and "config.yaml" in doc.get("data", {}):
            name = os.path.basename(path)[:-5]
            open(os.path.join(work, f"config-{name}.yaml"), "w").write(doc["data"]["config.yaml"])
PY
  # Stand-in values for every ${VAR} the example configs use.
  export SESSION_SECRET=validate-only-0123456789abcdef0123456789abcdef SESSION_SECRET_PREVIOUS=validate-only-fedcba9876543210fedcba9876543210
  export CATALOG_TOKEN=validate-only-catalog-token AUTH_MY_CLIENT_ID=id AUTH_MY_CLIENT_SECRET=secret AUTH_CORPORATE_CLIENT_ID=id AUTH_CORPORATE_CLIENT_SECRET=secret
  export STAGEPASS_PUBLIC_URL=http://localhost:7000 AUTH_MY_METADATA_URL=https://idp.example.com/.well-known/openid-configuration
  for config in deploy/kubernetes/stagepass.yaml deploy/compose/stagepass.yaml "$work"/config-*.yaml; do
    # This one names TLS files that exist only inside the pod (a mounted Secret).
    case "$config" in *all-features*) continue ;; esac
    check "stagepass check --config ${config#"$work"/}" "$STAGEPASS_BIN" check --config "$config"
  done
  check "stagepass check with the compose Redis override" \
    "$STAGEPASS_BIN" check --config deploy/compose/stagepass.yaml --config deploy/compose/sessions-redis.yaml
fi

echo
echo "deploy/validate.sh: $passed checks passed, $failed failed, $skipped skipped"
if [ "$failed" -gt 0 ]; then
  printf '  failed: %s\n' "${failures[@]}"
  exit 1
fi
if [ "$skipped" -gt 0 ]; then
  echo "  (some validators are not installed: deploy/install-validators.sh installs them)"
fi
