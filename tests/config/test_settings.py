import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.core import mail

ROOT = Path(__file__).resolve().parents[2]


def run_manage(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return run_python("manage.py", *args, **env)


def run_python(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Python in the project with this environment (and no DEBUG or SECRET_KEY of ours)."""
    clean = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "SECRET_KEY"}}
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


PRODUCTION = {
    "SECRET_KEY": "k3Rv9-pZ0qL7!xW2mN8@tY5#hB4$gF6%dS1^aQ3&eR7*uI9(oP0)lK2_jH4+zC6",
    "ALLOWED_HOSTS": "breachdesk.example.com",
    "CSRF_TRUSTED_ORIGINS": "https://breachdesk.example.com",
    "EMAIL_URL": "smtp+tls://mailer:secret@smtp.example.com:587",
}


def test_deploy_check_is_clean_in_a_production_environment():
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_without_secret_key_refuses_to_start():
    env = {k: v for k, v in PRODUCTION.items() if k != "SECRET_KEY"}
    result = run_manage("check", **env)
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_deploy_check_catches_a_debug_production():
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", DEBUG="true")
    assert result.returncode != 0
    assert "security.W018" in result.stderr  # DEBUG on in deployment


def test_task_queue_retries_only_after_a_task_has_timed_out():
    q = settings.Q_CLUSTER
    assert q["timeout"] < q["retry"]
    assert 1 <= q["max_attempts"] <= 10


def test_task_queue_uses_redis_only_when_redis_url_is_set():
    # The settings a process started with this environment reads (the settings module
    # alone: loading every app as `manage.py shell` does adds nothing to the answer).
    probe = (
        "import config.settings as settings; "
        "print(settings.Q_CLUSTER.get('orm'), settings.Q_CLUSTER.get('redis'))"
    )
    default = run_python("-c", probe, DEBUG="true", REDIS_URL="")
    assert default.stdout.split() == ["default", "None"], default.stderr
    redis = run_python("-c", probe, DEBUG="true", REDIS_URL="redis://127.0.0.1:6379/3")
    assert redis.stdout.split() == ["None", "redis://127.0.0.1:6379/3"], redis.stderr


def test_timeout_not_below_retry_is_refused():
    result = run_manage("check", DEBUG="true", Q_TIMEOUT="900", Q_RETRY="600")
    assert result.returncode != 0
    assert "Q_TIMEOUT must be below Q_RETRY" in result.stderr


def test_every_setting_is_documented_in_env_example():
    documented = {
        line.split("=", 1)[0]
        for line in (ROOT / ".env.example").read_text().splitlines()
        if line and not line.startswith("#")
    }
    source = (ROOT / "config" / "settings.py").read_text()
    read = set(re.findall(r'env(?:\.\w+)?\(\s*"([A-Z_]+)"', source))
    assert read, "no environment variables found in settings.py"
    assert read <= documented, f"undocumented: {sorted(read - documented)}"


@pytest.mark.django_db
def test_default_mail_backend_writes_eml_files(tmp_path, settings):
    settings.EMAIL_BACKEND = "config.mail.EmlFileBackend"
    settings.EMAIL_FILE_PATH = str(tmp_path)
    mail.EmailMessage("Your account", "Body text", to=["someone@example.org"]).send()
    (written,) = tmp_path.glob("*.eml")
    text = written.read_text()
    assert "Subject: Your account" in text
    assert "To: someone@example.org" in text
