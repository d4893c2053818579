# Two commands do all the setup on a fresh machine:
#   make demo   installs on first use, then runs the main job on the embedded default
#   make test   installs on first use, then runs the test suite
PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.livesiam-installed
DETECTOR_DIR := $(VENV)/share/livesiam/detector

.PHONY: setup demo test teacher bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml tools/install_detector.py
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[test]"
	$(PY) tools/install_detector.py --dest $(DETECTOR_DIR)
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/livesiam demo --out demo-out

test: $(STAMP)
	$(PY) -m pytest -q -ra

# Optional: the dlib teacher for distillation and the reference benchmark.
teacher: $(STAMP)
	$(PY) -m pip install -q -e ".[teacher]"
	$(PY) -m pip install -q --no-deps face_recognition==1.3.0

clean:
	rm -rf $(VENV) demo-out
