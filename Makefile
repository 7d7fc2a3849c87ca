# Two commands for a newcomer:  `make demo` (install + annotate a sample video)  and  `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
SHARED ?= ../shared
# The local model mirror: found only through this variable (the package never guesses a path).
export FACEMASK_MODELS_DIR ?= $(abspath $(SHARED)/models)
DEMO_VIDEO ?= $(SHARED)/videos/mask_putting_on_4people_diazoniclabs.mp4
DEMO_OUT ?= output/demo.mp4

.PHONY: demo test lint install install-dev browser services rabbitmq mosquitto lock clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# The base install: inference only (no TensorFlow, matplotlib, pycocotools, onnxruntime).
$(BIN)/.installed: pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/pip install -q -c constraints.txt -e .
	touch $@

# Every extra the tests use, the test tools and the linters.
$(BIN)/.installed-dev: pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/pip install -q -c constraints.txt -e '.[dev]'
	$(BIN)/pip check
	touch $@

install: $(BIN)/.installed
install-dev: $(BIN)/.installed-dev

# Headless Chromium for the web GUI tests (Debian's package; Playwright drives it).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium >/dev/null; \
	  else sudo apt-get update -qq && sudo apt-get install -y -qq chromium >/dev/null; fi; }

# A real RTSP server for the web app's camera tests: GStreamer's gst-rtsp-server through the
# system Python's python3-gi (tests/rtsp_server.py), serving a sample clip without re-encoding.
SERVICES_PACKAGES := python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-good gstreamer1.0-plugins-bad
services:
	@/usr/bin/python3 -c "import gi; gi.require_version('GstRtspServer', '1.0')" >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq $(SERVICES_PACKAGES) >/dev/null; \
	  else sudo apt-get update -qq && sudo apt-get install -y -qq $(SERVICES_PACKAGES) >/dev/null; fi; }

# --- RabbitMQ for tests/test_broker.py (Debian's package). The tests start their own node on
# loopback ports in a temp folder; the system service the package may start is stopped.
rabbitmq:
	@[ -x /usr/lib/rabbitmq/bin/rabbitmq-server ] || command -v rabbitmq-server >/dev/null 2>&1 || { \
	  S=$$([ "$$(id -u)" = 0 ] || echo sudo); $$S apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$S apt-get install -y -qq rabbitmq-server >/dev/null; \
	  $$S service rabbitmq-server stop >/dev/null 2>&1 || $$S systemctl stop rabbitmq-server epmd.socket epmd >/dev/null 2>&1 || true; }
# --- end RabbitMQ

demo: install
	$(BIN)/facemask video --config configs/config-x86.json \
	  --input_video_path $(DEMO_VIDEO) --output_video $(DEMO_OUT)

lint: install-dev
	$(BIN)/ruff check facemask tests scripts
	$(BIN)/mypy
	$(BIN)/hadolint docker/Dockerfile.*

# --- MQTT broker for the MQTT tests (Debian's mosquitto; the tests start their own on a loopback port).
mosquitto:
	@command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq mosquitto >/dev/null; \
	  else sudo apt-get update -qq && sudo apt-get install -y -qq mosquitto >/dev/null; fi; }
# --- end mosquitto

test: install-dev browser services rabbitmq mosquitto lint
	$(BIN)/python -m pytest

# Re-pin constraints.txt from a fresh environment (after changing a dependency in pyproject.toml).
lock:
	rm -rf /tmp/facemask-lock && $(PYTHON) -m venv /tmp/facemask-lock
	/tmp/facemask-lock/bin/pip install -q -e '.[dev]'
	/tmp/facemask-lock/bin/pip check
	{ sed -n '1,3p' constraints.txt; /tmp/facemask-lock/bin/pip freeze --exclude-editable | grep -v '^facemask'; } > constraints.txt.new
	mv constraints.txt.new constraints.txt

clean:
	rm -rf $(VENV) output .pytest_cache .mypy_cache .ruff_cache
