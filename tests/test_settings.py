"""configure() and environment variables: clear errors for bad values."""

from __future__ import annotations

import pytest

from yolo_clearml_patch import ConfigurationError, configure
from yolo_clearml_patch.base import settings


@pytest.fixture(autouse=True)
def _reset():
    yield
    settings.reset()


def test_unknown_setting_names_the_valid_ones():
    with pytest.raises(TypeError, match=r"unknown setting\(s\) \['offlien'\].*'offline'"):
        configure(offlien="1")


@pytest.mark.parametrize(("value", "stored"), [("auto", "auto"), (True, "1"), ("0", "0"), ("off", "0")])
def test_offline_values(value, stored):
    configure(offline=value)
    assert settings.offline() == stored


def test_bad_offline_value_is_rejected():
    with pytest.raises(ConfigurationError, match="expected auto, 1 or 0"):
        configure(offline="sometimes")


def test_offline_env_var_malformed_names_variable(monkeypatch):
    monkeypatch.setenv("YOLO_CLEARML_OFFLINE", "perhaps")
    with pytest.raises(ConfigurationError, match="YOLO_CLEARML_OFFLINE='perhaps'.*auto, 1 or 0"):
        settings.offline()


def test_configure_wins_over_environment(monkeypatch):
    monkeypatch.setenv("YOLO_CLEARML_PATCH_STRICT", "1")
    configure(strict=False)
    assert settings.strict() is False


def test_tags_must_be_strings():
    with pytest.raises(ConfigurationError, match="list of strings"):
        configure(tags="Ultralytics")


def test_worst_images_count(monkeypatch):
    assert settings.worst_images() == 8  # the default
    monkeypatch.setenv("YOLO_CLEARML_WORST_IMAGES", " 0 ")
    assert settings.worst_images() == 0  # off
    for bad in ("-1", "2.5", "eight"):
        monkeypatch.setenv("YOLO_CLEARML_WORST_IMAGES", bad)
        with pytest.raises(ConfigurationError, match=f"YOLO_CLEARML_WORST_IMAGES='{bad}'.*whole number, 0 or more"):
            settings.worst_images()
    configure(worst_images=3)  # wins over the (bad) environment
    assert settings.worst_images() == 3
    for bad in (True, 2.5, -1):
        with pytest.raises(ConfigurationError, match=r"configure\(worst_images=...\)"):
            configure(worst_images=bad)
