"""The project as a package: the wheel installs into a fresh virtual environment and runs from any folder."""

import os
import shutil
import subprocess
import sys
import sysconfig

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """A fresh venv with the grec wheel installed (--no-deps); its dependencies come from this venv's
    site-packages through a path line, which does not run this venv's editable install of the repository."""
    work = tmp_path_factory.mktemp("package")
    # A clean copy: setuptools reuses a build/ folder, where modules deleted since would still sit.
    skip = (".*", "build", "*.egg-info", "__pycache__", "data", "pipeline_root", "serving_models", "airflow_home")
    source = str(work / "source")
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(*skip))
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(work / "wheel"),
            source,
        ],
        check=True,
        cwd=work,
    )
    (wheel,) = (work / "wheel").glob("grec-*.whl")
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "pip"), "install", "--quiet", "--no-deps", "--no-index", str(wheel)], check=True)
    site = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    with open(os.path.join(site, "grec_dependencies.pth"), "w") as f:
        f.write(sysconfig.get_paths()["purelib"] + "\n")
    return venv, work


def test_the_wheel_holds_every_package_and_the_shipped_specs(installed):
    venv, work = installed
    code = (
        "import components, models, pipelines, serving, data_tools, benchmarks, grec, schemas, os\n"
        "for m in (components, models, pipelines, serving, data_tools, benchmarks, grec, schemas):\n"
        "    print(m.__file__)\n"
        "print(os.path.getsize(schemas.path('synthetic', 'sample.csv')), schemas.datasets())"
    )
    out = subprocess.run(
        [str(venv / "bin" / "python"), "-c", code], check=True, capture_output=True, text=True, cwd=work
    )
    lines = out.stdout.strip().splitlines()
    assert all(line.startswith(str(venv)) for line in lines[:-1]), lines  # the install, not the repository
    size, datasets = lines[-1].split(" ", 1)
    assert int(size) > 10_000 and datasets == "['aliexpress', 'synthetic', 'synthetic_tasks']"


def test_grec_help_lists_every_subcommand_from_any_folder(installed):
    from grec.cli import BENCHMARKS, COMMANDS

    venv, work = installed
    out = subprocess.run([str(venv / "bin" / "grec"), "--help"], check=True, capture_output=True, text=True, cwd=work)
    for command in [*COMMANDS, "bench"]:
        assert f"\n    {command} " in out.stdout or f"\n    {command}\n" in out.stdout, command
    bench = subprocess.run([str(venv / "bin" / "grec"), "bench"], capture_output=True, text=True, cwd=work)
    assert bench.returncode == 2 and all(name in bench.stdout for name in BENCHMARKS)


def test_grec_run_help_lists_the_registered_models(installed):
    from models.registry import MODEL_NAMES

    venv, work = installed
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    out = subprocess.run(
        [str(venv / "bin" / "grec"), "run", "--help"], check=True, capture_output=True, text=True, cwd=work, env=env
    )
    assert out.stdout.startswith("usage: grec run")
    assert ", ".join(MODEL_NAMES) in " ".join(out.stdout.split())
    assert "dcn_v2" in MODEL_NAMES


def test_the_explicit_package_list_names_every_package_folder():
    """pyproject.toml lists the packages by hand: a new subpackage must be added there, or the wheel lacks it."""
    import re

    with open(os.path.join(REPO, "pyproject.toml")) as f:
        listed = set(re.findall(r'^  "([a-z_.]+)",$', f.read(), re.M))
    found = set()
    for folder, dirs, files in os.walk(REPO):
        dirs[:] = [d for d in dirs if not d.startswith(".") and d not in ("tests", "build", "__pycache__")]
        if "__init__.py" in files and folder != REPO:
            found.add(os.path.relpath(folder, REPO).replace(os.sep, "."))
    assert listed == found


def test_the_dockerfile_installs_the_package_as_documented():
    """The Kubeflow image: TFX's image of the pinned tfx, the package installed under the lock, what the
    build context leaves out (the venvs, run outputs)."""
    import re

    with open(os.path.join(REPO, "requirements.txt")) as f:
        tfx = re.search(r"^tfx==([\d.]+)$", f.read(), re.M).group(1)
    with open(os.path.join(REPO, "Dockerfile")) as f:
        lines = [line.strip() for line in f if line.strip() and not line.startswith("#")]
    assert lines[0] == f"FROM tensorflow/tfx:{tfx}"
    install = next(line for line in lines if line.startswith("RUN"))
    assert "pip install --no-cache-dir -c constraints.txt ." in install
    with open(os.path.join(REPO, ".dockerignore")) as f:
        ignored = set(f.read().split())
    assert {".venv", ".venv-airflow", "data", "pipeline_root", "serving_models"} <= ignored
