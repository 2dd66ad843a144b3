"""pipeline.terraform: provider installation, non-interactive environment, timed runs."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pipeline import terraform as tf

needs_terraform = pytest.mark.skipif(shutil.which("terraform") is None, reason="terraform is not on PATH")


@pytest.fixture
def no_default_mirror(monkeypatch, tmp_path):
    """Pretend this machine has no /opt/tf-plugins."""
    monkeypatch.setattr(tf, "DEFAULT_MIRROR", tmp_path / "absent")
    monkeypatch.delenv(tf.MIRROR_VARIABLE, raising=False)


def test_named_mirror_is_the_only_source_of_registry_providers(monkeypatch, tmp_path):
    monkeypatch.setenv(tf.MIRROR_VARIABLE, str(tmp_path))
    config = Path(tf.terraform_env()["TF_CLI_CONFIG_FILE"]).read_text()
    assert f'path    = "{tmp_path.resolve()}"' in config
    assert 'exclude = ["registry.terraform.io/*/*"]' in config


def test_empty_mirror_variable_forces_the_registry(monkeypatch):
    monkeypatch.setenv(tf.MIRROR_VARIABLE, "")
    assert tf.provider_mirror() is None


def test_a_named_mirror_that_does_not_exist_is_an_error(monkeypatch, tmp_path):
    monkeypatch.setenv(tf.MIRROR_VARIABLE, str(tmp_path / "missing"))
    with pytest.raises(FileNotFoundError, match="TF_PROVIDER_MIRROR"):
        tf.terraform_env()


def test_default_mirror_is_used_when_present(monkeypatch, tmp_path):
    monkeypatch.delenv(tf.MIRROR_VARIABLE, raising=False)
    monkeypatch.setattr(tf, "DEFAULT_MIRROR", tmp_path)
    assert tf.provider_mirror() == tmp_path


def test_without_a_mirror_an_existing_user_cli_config_is_kept(no_default_mirror, monkeypatch, tmp_path):
    user_config = tmp_path / "user.tfrc"
    user_config.write_text('credentials "app.terraform.io" {}\n')
    monkeypatch.setenv("TF_CLI_CONFIG_FILE", str(user_config))
    assert tf.terraform_env()["TF_CLI_CONFIG_FILE"] == str(user_config)


def test_without_a_mirror_a_preset_missing_cli_config_is_replaced(no_default_mirror, monkeypatch, tmp_path):
    monkeypatch.setenv("TF_CLI_CONFIG_FILE", str(tmp_path / "nope.tfrc"))
    path = Path(tf.terraform_env()["TF_CLI_CONFIG_FILE"])
    assert path.is_file()
    assert "provider_installation" not in path.read_text()


def test_environment_never_prompts_and_extra_values_win():
    env = tf.terraform_env({"TF_LOG": "WARN", "TF_INPUT": "0"})
    assert (env["TF_IN_AUTOMATION"], env["TF_INPUT"], env["CHECKPOINT_DISABLE"]) == ("1", "0", "1")
    assert env["TF_LOG"] == "WARN"


@needs_terraform
def test_run_prints_the_command_and_its_duration(tmp_path, capsys):
    (tmp_path / "main.tf").write_text('resource "terraform_data" "x" { input = 1 }\n')
    tf.terraform(["init", "-backend=false", "-no-color"], tmp_path, capture=True)
    err = capsys.readouterr().err
    assert "$ terraform init -backend=false -no-color" in err
    assert "terraform init exited 0 after" in err


@needs_terraform
def test_capture_returns_stdout(tmp_path):
    result = tf.terraform(["version", "-json"], tmp_path, capture=True)
    assert '"terraform_version"' in result.stdout


@needs_terraform
def test_failure_raises_unless_check_is_off(tmp_path):
    (tmp_path / "main.tf").write_text("this is not HCL {")
    with pytest.raises(tf.TerraformError, match="exit code 1"):
        tf.terraform(["validate", "-no-color"], tmp_path)
    assert tf.terraform(["validate", "-no-color"], tmp_path, check=False).returncode == 1


@needs_terraform
@pytest.mark.slow
def test_aws_provider_installs_offline_from_the_mirror(tmp_path):
    if tf.provider_mirror() is None:
        pytest.skip("no provider mirror on this machine (set TF_PROVIDER_MIRROR)")
    (tmp_path / "main.tf.json").write_text(
        '{"terraform": {"required_providers": {"aws": {"source": "hashicorp/aws", "version": "5.100.0"}}}}'
    )
    tf.terraform(["init", "-backend=false", "-no-color"], tmp_path, capture=True)
    assert (tmp_path / ".terraform/providers/registry.terraform.io/hashicorp/aws/5.100.0").is_dir()
