"""Options load from YAML over their defaults; anything unknown or mistyped is refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from livesiam.config import Config, load_config
from livesiam.errors import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "options.yaml"
    path.write_text(text)
    return path


def test_no_file_gives_the_documented_defaults() -> None:
    config = load_config()

    assert config == Config()
    assert config.detect.model == "short"
    assert config.detect.min_confidence == 0.5
    assert config.align.size == 112
    assert config.match.threshold == "best"
    assert config.templates.policy == "confident"
    assert config.templates.max_exemplars == 16
    assert config.templates.learned_reach == 0.15
    assert config.capture.folder_fps == 30.0
    assert config.capture.realtime is True


def test_defaults_are_not_shared_between_configs() -> None:
    first = load_config()
    first.detect.model = "full"

    assert load_config().detect.model == "short"


def test_file_overrides_only_the_keys_it_names(tmp_path: Path) -> None:
    path = write(tmp_path, """
detect:
  model: full
  min_face_px: 32
templates:
  policy: none
capture:
  realtime: false
""")

    config = load_config(path)

    assert config.detect.model == "full"
    assert config.detect.min_face_px == 32
    assert config.detect.min_confidence == 0.5
    assert config.templates.policy == "none"
    assert config.templates.learn_margin == 0.15
    assert config.capture.realtime is False
    assert config.embed == Config().embed


def test_numbers_take_the_type_of_their_default(tmp_path: Path) -> None:
    path = write(tmp_path, "capture: {folder_fps: 25}\ndetect: {min_face_px: 24.0}\n")

    config = load_config(path)

    assert config.capture.folder_fps == 25.0
    assert isinstance(config.capture.folder_fps, float)
    assert config.detect.min_face_px == 24
    assert isinstance(config.detect.min_face_px, int)


def test_a_numeric_threshold_is_kept_as_text_for_the_manifest_to_read(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "match: {threshold: 0.7}\n"))

    assert config.match.threshold == "0.7"


def test_empty_file_gives_the_defaults(tmp_path: Path) -> None:
    assert load_config(write(tmp_path, "")) == Config()


def test_unknown_section_is_refused_and_the_known_ones_are_listed(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown section 'tracking'.*detect"):
        load_config(write(tmp_path, "tracking: {iou: 0.3}\n"))


def test_unknown_key_is_refused_and_the_known_ones_are_listed(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown option 'min_conf'.*min_confidence"):
        load_config(write(tmp_path, "detect: {min_conf: 0.3}\n"))


@pytest.mark.parametrize("text, complaint", [
    ("detect: {min_confidence: high}\n", "expected a number"),
    ("detect: {min_face_px: true}\n", "expected a number"),
    ("capture: {realtime: 1}\n", "expected true or false"),
    ("capture: {realtime: 'no'}\n", "expected true or false"),
    ("detect: {model: [short, full]}\n", "expected text"),
    ("match: {threshold: }\n", "expected text"),
    ("templates: {policy: {name: none}}\n", "expected text"),
])
def test_value_of_the_wrong_type_is_refused(tmp_path: Path, text: str, complaint: str) -> None:
    with pytest.raises(ConfigError, match=complaint):
        load_config(write(tmp_path, text))


def test_section_that_is_not_a_mapping_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="section 'detect' must be a mapping"):
        load_config(write(tmp_path, "detect: full\n"))


def test_file_that_is_not_a_mapping_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="mapping of sections"):
        load_config(write(tmp_path, "- detect\n- match\n"))


def test_invalid_yaml_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(write(tmp_path, "detect: {model: short\n"))


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "absent.yaml")


def test_shipped_default_config_states_the_defaults():
    """configs/default.yaml documents every option with its default value, and stays true."""
    import dataclasses

    import yaml

    from livesiam.config import Config

    path = Path(__file__).resolve().parents[1] / "configs" / "default.yaml"
    written = yaml.safe_load(path.read_text())
    defaults = Config()
    for section in dataclasses.fields(defaults):
        options = dataclasses.asdict(getattr(defaults, section.name))
        assert written.get(section.name) == options, f"section {section.name} differs"
