# Two commands for a newcomer:  `make demo` (install + annotate a sample video)  and  `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
SHARED ?= ../shared
export FACEMASK_MODELS_DIR ?= $(abspath $(SHARED)/models)
DEMO_VIDEO ?= $(SHARED)/videos/mask_putting_on_4people_diazoniclabs.mp4
DEMO_OUT ?= output/demo.mp4

.PHONY: demo test install install-dev browser clean

$(BIN)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements.txt
	touch $@

$(BIN)/.installed-dev: $(BIN)/.installed requirements-dev.txt
	$(BIN)/pip install -q -r requirements-dev.txt
	touch $@

install: $(BIN)/.installed
install-dev: $(BIN)/.installed-dev

# Headless Chromium for the web GUI tests (Debian's package; Playwright drives it).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium >/dev/null; \
	  else sudo apt-get update -qq && sudo apt-get install -y -qq chromium >/dev/null; fi; }

demo: install
	$(BIN)/python inference_video.py --config configs/config-x86.json \
	  --input_video_path $(DEMO_VIDEO) --output_video $(DEMO_OUT)

test: install-dev browser
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) output .pytest_cache
