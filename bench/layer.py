"""The shared layer's size as shipped, and each handler's cold import in a Lambda-like process.

Size: the layer is built as `sam build` builds it (layers/shared/python/Makefile, arm64
wheels, no bytecode) and zipped as Lambda stores it; beside it, the same pins installed
with their dependencies, as the python builder did before: that is the X-Ray SDK's
botocore and its dependencies shipped a second time.

Cold import: one fresh interpreter per run with only what Lambda puts on sys.path (the
function's folder, the layer, the runtime's boto3), the function's environment from
template.yaml, tracing on as deployed (Tracing: Active), and no bytecode written, since
/opt is read-only in Lambda: the layer ships no bytecode, so Python compiles what it
imports on every cold start. The figure is the median time of `import app`, interpreter
start-up excluded, over ten processes; a second column gives the same with the layer
compiled beforehand, to show what bytecode built for the runtime's Python would save.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import TextIO

ROOT = Path(__file__).resolve().parent.parent
LAYER_SOURCE = ROOT / "layers" / "shared" / "python"
LAYER_GOAL_ZIPPED_MB = 8.0
COLD_IMPORT_RUNS = 10
# What the python3.13 runtime puts on sys.path beside the function: boto3 and its dependencies.
RUNTIME_PACKAGES = {"boto3", "botocore", "s3transfer", "jmespath", "python-dateutil", "six"}

IMPORT_APP = """
import sys, time
sys.path[:0] = sys.argv[1:]
started = time.perf_counter()
import app
print(time.perf_counter() - started)
"""


def pip(*arguments: str) -> None:
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *arguments], check=True)


def megabytes(folder: Path) -> tuple[float, float]:
    """(unpacked, zipped) in MB: the zip is deflate level 9, as `sam build` and Lambda store a layer."""
    unpacked = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
    archive = folder.parent / f"{folder.parent.name}.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zipped:
        for file in sorted(folder.rglob("*")):
            zipped.write(file, Path("python") / file.relative_to(folder))
    return unpacked / 1e6, archive.stat().st_size / 1e6


def build_as_shipped(out: Path) -> Path:
    subprocess.run(
        ["make", "--no-print-directory", "-C", str(LAYER_SOURCE), "build-SharedLayer", f"ARTIFACTS_DIR={out}"],
        check=True,
        env={**os.environ, "PIP": f"{sys.executable} -m pip"},
    )
    return out / "python"


def build_with_dependencies(out: Path) -> Path:
    platform = ["--platform", "manylinux2014_aarch64", "--implementation", "cp", "--python-version", "3.13"]
    pip(
        "--no-compile",
        "--only-binary=:all:",
        *platform,
        "--target",
        str(out / "python"),
        "-r",
        str(LAYER_SOURCE / "requirements.txt"),
    )
    return out / "python"


def runtime_pins() -> list[str]:
    pinned = (line.split("#")[0].strip() for line in (ROOT / "requirements-dev.txt").read_text().splitlines())
    return [line for line in pinned if line.split("==")[0] in RUNTIME_PACKAGES]


def lambda_like_paths(work: Path) -> tuple[Path, Path]:
    """(layer, runtime) for this machine's Python: the layer's pins without bytecode; boto3 compiled, as the runtime ships it."""
    layer, runtime = work / "opt-python", work / "var-runtime"
    pip("--no-deps", "--no-compile", "--target", str(layer), "-r", str(LAYER_SOURCE / "requirements.txt"))
    for package in ("messaging_partner", "handler_support"):
        shutil.copytree(LAYER_SOURCE / package, layer / package, ignore=shutil.ignore_patterns("__pycache__"))
    pip("--no-deps", "--target", str(runtime), *runtime_pins())
    return layer, runtime


def function_environments() -> dict[str, tuple[Path, dict[str, str]]]:
    from local.template import Resolver, Template

    template = Template()
    resolver = Resolver(
        template.parameter_defaults() | {"TikTokAppId": "bench-app"}, lambda name, attribute: f"bench-{name}-{attribute}"
    )
    found = {}
    for spec in template.functions():
        environment = {
            name: str(resolver.resolve(value)) for name, value in template.function_environment(spec.logical_id).items()
        }
        found[spec.logical_id] = (spec.module_path.parent, environment)
    return found


def cold_import_seconds(function_dir: Path, environment: dict[str, str], layer: Path, runtime: Path) -> list[float]:
    lambda_environment = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LAMBDA_TASK_ROOT": str(function_dir),
        "AWS_LAMBDA_FUNCTION_NAME": function_dir.name,
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_SESSION_TOKEN": "bench",
        **environment,
    }
    runs = []
    for _ in range(COLD_IMPORT_RUNS):
        finished = subprocess.run(
            [sys.executable, "-I", "-S", "-B", "-c", IMPORT_APP, str(function_dir), str(layer), str(runtime)],
            capture_output=True,
            text=True,
            env=lambda_environment,
            cwd=function_dir,
            check=False,
        )
        if finished.returncode:
            raise SystemExit(f"importing {function_dir.name}/app.py failed:\n{finished.stderr[-2000:]}")
        runs.append(float(finished.stdout.split()[-1]))
    return runs


def bench_layer(report: TextIO) -> None:
    with tempfile.TemporaryDirectory(prefix="layer-bench-") as scratch:
        work = Path(scratch)
        shipped = megabytes(build_as_shipped(work / "shipped"))
        before = megabytes(build_with_dependencies(work / "with-dependencies"))
        print("\nShared layer (python3.13 arm64, as sam build makes it)", file=report)
        print(f"  before (pins with their dependencies)  {before[0]:5.1f} MB   {before[1]:5.1f} MB zipped", file=report)
        print(f"  as shipped (no runtime boto3/botocore) {shipped[0]:5.1f} MB   {shipped[1]:5.1f} MB zipped", file=report)
        verdict = "met" if shipped[1] < LAYER_GOAL_ZIPPED_MB else "MISSED"
        print(f"  goal: under {LAYER_GOAL_ZIPPED_MB:.0f} MB zipped: {verdict}", file=report)

        layer, runtime = lambda_like_paths(work / "lambda")
        version = ".".join(map(str, sys.version_info[:3]))
        print(
            f"\nCold import of each handler (Python {version}, fresh process, median of {COLD_IMPORT_RUNS}, tracing on)",
            file=report,
        )
        print(f"  {'':24} {'as shipped':>12} {'layer with bytecode':>22}", file=report)
        functions = function_environments()
        as_shipped = {name: cold_import_seconds(path, env, layer, runtime) for name, (path, env) in functions.items()}
        # The same layer with bytecode for this Python: what compiling at build time would save.
        subprocess.run([sys.executable, "-m", "compileall", "-q", "-j0", str(layer)], check=True)
        compiled = {name: cold_import_seconds(path, env, layer, runtime) for name, (path, env) in functions.items()}
        for name in functions:
            shipped_ms, compiled_ms = (statistics.median(runs[name]) * 1000 for runs in (as_shipped, compiled))
            print(f"  {name:24} {shipped_ms:9.0f} ms {compiled_ms:19.0f} ms", file=report)
