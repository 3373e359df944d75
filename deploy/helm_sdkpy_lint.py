#!/usr/bin/env python3
"""Lint a Helm chart with Helm's own Go lint code, from PyPI helm-sdkpy.

helm-sdkpy's Python API needs Python >= 3.12, but the package carries Helm's Go
library as a plain shared object, so this script loads that library with ctypes
from any Python 3 and calls its lint entry point directly. Install it with:

    pip install --no-deps --ignore-requires-python -r deploy/requirements-helm-sdkpy.txt

Usage: helm_sdkpy_lint.py CHART_DIR [VALUES_FILE ...]

The library's lint takes no values argument: it lints with the chart's own
values.yaml. For each VALUES_FILE the chart is copied to a temporary directory
whose values.yaml is the chart's values.yaml deep-merged with that file (maps
merge, everything else is replaced, as Helm does; Helm's "null deletes a key"
is not reproduced), and that copy is linted too.

Severities are Helm's: 1 INFO, 2 WARNING, 3 ERROR. Like `helm lint --strict`,
any WARNING or ERROR fails. The library returns messages without their text
(Go errors serialize as {}), so only severity and file are printed; run real
`helm lint` for the wording.
"""

import ctypes
import importlib.util
import json
import os
import platform
import shutil
import sys
import tempfile

import yaml

SEVERITY = {0: "UNKNOWN", 1: "INFO", 2: "WARNING", 3: "ERROR"}


def load_library():
    spec = importlib.util.find_spec("helm_sdkpy")  # locates, does not import
    if spec is None or not spec.submodule_search_locations:
        sys.exit("helm_sdkpy_lint: PyPI package helm-sdkpy is not installed "
                 "(pip install --no-deps --ignore-requires-python -r deploy/requirements-helm-sdkpy.txt)")
    arch = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(
        platform.machine().lower(), platform.machine().lower())
    path = os.path.join(spec.submodule_search_locations[0], "_lib", f"linux-{arch}", "libhelm_sdkpy.so")
    if not os.path.exists(path):
        sys.exit(f"helm_sdkpy_lint: no helm-sdkpy library for this platform at {path}")
    lib = ctypes.CDLL(path)
    lib.helm_sdkpy_version_string.restype = ctypes.c_void_p
    lib.helm_sdkpy_last_error.restype = ctypes.c_void_p
    lib.helm_sdkpy_config_create.argtypes = [
        ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p,
        ctypes.POINTER(ctypes.c_ulonglong)]
    lib.helm_sdkpy_lint.argtypes = [ctypes.c_ulonglong, ctypes.c_char_p, ctypes.POINTER(ctypes.c_void_p)]
    lib.helm_sdkpy_free.argtypes = [ctypes.c_void_p]
    return lib


def take_string(lib, pointer):
    if not pointer:
        return ""
    text = ctypes.string_at(pointer).decode("utf-8", "replace")
    lib.helm_sdkpy_free(pointer)
    return text


def last_error(lib):
    pointer = lib.helm_sdkpy_last_error()
    return ctypes.string_at(pointer).decode("utf-8", "replace") if pointer else "(no message)"


def deep_merge(base, override):
    if isinstance(base, dict) and isinstance(override, dict):
        merged = dict(base)
        for key, value in override.items():
            merged[key] = deep_merge(base[key], value) if key in base else value
        return merged
    return override


def lint(lib, handle, chart_dir, label):
    out = ctypes.c_void_p()
    rc = lib.helm_sdkpy_lint(handle, chart_dir.encode(), ctypes.byref(out))
    if rc != 0:
        print(f"  {label}: lint call failed: {last_error(lib)}")
        return False
    result = json.loads(take_string(lib, out.value) or "{}")
    messages = result.get("Messages") or []
    worst = max((m.get("Severity", 0) for m in messages), default=0)
    for m in messages:
        print(f"  {label}: [{SEVERITY.get(m.get('Severity'), m.get('Severity'))}] {m.get('Path')}")
    # "Errors" holds the WARNING and ERROR messages again, textless; the
    # severities above decide.
    ok = worst < 2
    print(f"  {label}: {'passed' if ok else 'FAILED'} ({len(messages)} message(s), "
          f"worst {SEVERITY.get(worst, worst)})")
    return ok


def main(argv):
    if len(argv) < 2:
        sys.exit(__doc__)
    chart = os.path.abspath(argv[1])
    lib = load_library()
    print(f"  library: {ctypes.string_at(lib.helm_sdkpy_version_string()).decode()}")
    handle = ctypes.c_ulonglong()
    if lib.helm_sdkpy_config_create(b"default", None, None, b"{}", ctypes.byref(handle)) != 0:
        sys.exit(f"helm_sdkpy_lint: cannot create a Helm configuration: {last_error(lib)}")

    ok = lint(lib, handle, chart, "values.yaml")
    with open(os.path.join(chart, "values.yaml")) as f:
        base_values = yaml.safe_load(f) or {}
    for values_file in argv[2:]:
        with open(values_file) as f:
            override = yaml.safe_load(f) or {}
        with tempfile.TemporaryDirectory() as tmp:
            copy = os.path.join(tmp, os.path.basename(chart))
            shutil.copytree(chart, copy)
            with open(os.path.join(copy, "values.yaml"), "w") as f:
                yaml.safe_dump(deep_merge(base_values, override), f, sort_keys=False)
            ok = lint(lib, handle, copy, f"values.yaml + {os.path.relpath(values_file)}") and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
