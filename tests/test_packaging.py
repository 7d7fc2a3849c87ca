"""pyproject.toml, constraints.txt, the Dockerfiles and their docs agree with each other."""

from __future__ import annotations

import re
import tomllib

import pytest
from packaging.requirements import Requirement

from facemask.config import AppConfig, load_config, resolve_config_path
from tests.conftest import REPO

PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
DOCKERFILES = sorted((REPO / "docker").glob("Dockerfile.*"))
HARDWARE_EXTRAS = ("gpu", "jetson", "edgetpu")  # not in the test environment: they need their hardware


def _pins(path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, version = line.split("==")
            pins[re.sub(r"[-_.]+", "-", name).lower()] = version
    return pins


def _requirements(*extras: str) -> list[Requirement]:
    reqs = [Requirement(r) for r in PYPROJECT["project"]["dependencies"]]
    for extra in extras:
        reqs += [Requirement(r) for r in PYPROJECT["project"]["optional-dependencies"][extra]]
    return [r for r in reqs if r.name != "facemask"]


def _check(reqs: list[Requirement], pins: dict[str, str], where: str) -> None:
    for req in reqs:
        name = re.sub(r"[-_.]+", "-", req.name).lower()
        assert name in pins, f"{req.name} is not pinned in {where}"
        assert req.specifier.contains(pins[name], prereleases=True), f"{where} pins {name}=={pins[name]}, outside {req}"


def test_every_dependency_of_the_test_environment_is_pinned_within_its_range():
    extras = [e for e in PYPROJECT["project"]["optional-dependencies"] if e not in HARDWARE_EXTRAS]
    _check(_requirements(*extras), _pins(REPO / "constraints.txt"), "constraints.txt")


def test_the_jetson_pins_fit_the_jetson_extras():
    _check(_requirements("web", "jetson"), _pins(REPO / "docker" / "constraints-jetson.txt"), "docker/constraints-jetson.txt")


def test_base_install_has_no_heavy_dependencies():
    names = {r.name.lower() for r in _requirements()}
    assert not names & {"tensorflow", "tensorflow-cpu", "matplotlib", "pycocotools", "onnxruntime", "flask"}


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_images_install_the_package_with_extras_at_pinned_versions(dockerfile):
    text = dockerfile.read_text()
    assert "requirements" not in text and "grep" not in text
    installs = re.findall(r"pip install ([^\n]*(?:\\\n[^\n]*)*)", text)
    assert installs, "no pip install"
    for line in installs:
        assert re.search(r"-c (docker/)?constraints(-jetson)?\.txt", line), line
        assert re.search(r'"\.\[([a-z,]+|\$\{EXTRAS\})\]"', line), line
    assert re.search(r"^EXPOSE 5000$", text, re.M) and "app.host=0.0.0.0" in text
    assert AppConfig().port == 5000


def test_gpu_image_onnxruntime_matches_its_cuda_base():
    text = (REPO / "docker" / "Dockerfile.x86-gpu").read_text()
    cuda_major = int(re.search(r"^FROM nvidia/cuda:(\d+)\.", text, re.M).group(1))
    version = re.search(r"ORT_GPU_VERSION=([\d.]+)", text).group(1)
    gpu = _requirements("gpu")[-1]
    assert gpu.name == "onnxruntime-gpu" and gpu.specifier.contains(version)
    # onnxruntime-gpu on PyPI: CUDA 12 builds up to 1.26, CUDA 13 from 1.27
    assert cuda_major == (12 if tuple(map(int, version.split(".")[:2])) < (1, 27) else 13)


def test_jetson_doc_publishes_the_port_the_app_listens_on():
    doc = (REPO / "docs" / "jetson.md").read_text()
    ports = re.findall(r"-p (\d+):(\d+)", doc)
    assert ports and all(int(inside) == AppConfig().port for _, inside in ports)
    assert "pycuda" not in doc  # TensorRT engines run through cuda-python (facemask.runtimes.tensorrt)


def test_packaged_configs_are_found_from_any_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no configs/ here
    assert resolve_config_path("configs/config-x86.json").is_file()
    assert load_config("configs/config-edgetpu.json").platform == "edgetpu"
    assert load_config(None).platform == "x86"
