"""The sync examples against the emulator: the Django project and the Celery task."""

from __future__ import annotations

import importlib
import importlib.util
import re
import sys
from collections.abc import Iterator
from io import StringIO
from pathlib import Path
from types import ModuleType

import pytest
import redis

from texin_async import OutcomeUnknownError
from texin_async.testing import Fault, TexinEmulator

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
NUMBER = "254712345678"


# -- Django ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def django_project() -> Iterator[None]:
    """The example project importable, with the settings it needs configured here."""
    import django
    from django.conf import settings

    sys.path.insert(0, str(EXAMPLES / "django_app"))
    if not settings.configured:
        settings.configure(
            ROOT_URLCONF="texin_demo.urls",
            INSTALLED_APPS=["texin_demo"],
            CACHES={"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}},
            ALLOWED_HOSTS=["testserver"],
            TEXIN_RATE_LIMIT="100/60",
        )
        django.setup()
    yield
    sys.path.remove(str(EXAMPLES / "django_app"))


@pytest.fixture
def django_sms(django_project: None, texin_env: None) -> Iterator[ModuleType]:
    """The project's sms module; its process-wide client is closed after the test."""
    sms = importlib.import_module("texin_demo.sms")
    yield sms
    if sms.client.cache_info().currsize:
        sms.client().close()
    sms.client.cache_clear()


def sent_code(emulator: TexinEmulator, message_id: str) -> str:
    """The six-digit code in the SMS the emulator recorded."""
    found = re.search(r"\d{6}", emulator.messages[message_id].text)
    assert found is not None
    return found.group()


def test_django_view_texts_a_code_that_verifies_once(
    django_sms: ModuleType, texin_emulator: TexinEmulator, texin_api_key: str
) -> None:
    """POST /otp/ texts a code; POST /otp/verify/ accepts it once."""
    from django.test import Client

    http = Client()
    response = http.post("/otp/", {"phone": "0712345678"})
    assert response.status_code == 200
    code = sent_code(texin_emulator, response.json()["message_id"])
    assert texin_emulator.processed(texin_api_key) == {NUMBER: 1}
    verify = {"phone": "+254 712 345 678", "code": code}
    assert http.post("/otp/verify/", verify).json() == {"verified": True}
    assert http.post("/otp/verify/", verify).status_code == 400


def test_django_view_maps_errors_and_keeps_a_maybe_sent_code(
    django_sms: ModuleType, texin_emulator: TexinEmulator
) -> None:
    """A bad number is 400; a lost answer 502 'may have been sent', its code still valid."""
    from django.test import Client

    http = Client()
    assert http.post("/otp/", {"phone": "0800 000"}).status_code == 400
    texin_emulator.faults.schedule(Fault.DROP_AFTER, endpoint="send_sms")
    lost = http.post("/otp/", {"phone": "0712345678"})
    assert lost.status_code == 502
    assert "may have been sent" in lost.json()["hint"]
    (record,) = texin_emulator.messages.values()
    code = sent_code(texin_emulator, record.message_id)
    assert http.post("/otp/verify/", {"phone": "0712345678", "code": code}).status_code == 200


def test_django_command_runs_a_resumable_batch(
    django_sms: ModuleType, texin_emulator: TexinEmulator, texin_api_key: str, tmp_path: Path
) -> None:
    """send_sms_csv sends each row once with a progress bar; run again, it resumes."""
    from django.core.management import call_command

    source = tmp_path / "contacts.csv"
    rows = [f"07{10_000_000 + i:08d},Name{i}" for i in range(29)] + ["0800 000,Bad"]
    source.write_text("phone,name\n" + "\n".join(rows) + "\n", encoding="utf-8")

    def run() -> tuple[str, str]:
        out, err = StringIO(), StringIO()
        call_command("send_sms_csv", str(source), "--template", "Hi {name}", stdout=out, stderr=err)
        return out.getvalue(), err.getvalue()

    out, err = run()
    assert f"[{'#' * 30}] 30/30 sent 29 invalid 1" in out
    assert "29 sent, 1 invalid, 0 failed, 0 unknown (0 from the journal" in out
    assert "row 30: invalid" in err
    sent = texin_emulator.processed(texin_api_key)
    assert len(sent) == 29
    again, _ = run()
    assert "(30 from the journal" in again
    assert texin_emulator.processed(texin_api_key) == sent


# -- Celery ----------------------------------------------------------------------------------


@pytest.fixture
def celery_app(
    redis_url: str, texin_env: None, monkeypatch: pytest.MonkeyPatch
) -> Iterator[ModuleType]:
    """examples/celery_app.py on the session's (emptied) Redis, tasks run eagerly; its
    client closed after."""
    monkeypatch.setenv("TEXIN_REDIS_URL", redis_url)
    spec = importlib.util.spec_from_file_location("examples_celery_app", EXAMPLES / "celery_app.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.app.conf.update(task_always_eager=True, task_eager_propagates=True)
    yield module
    module.close_client()


def test_celery_task_sends_through_the_redis_limiter(
    celery_app: ModuleType, redis_url: str, texin_emulator: TexinEmulator, texin_api_key: str
) -> None:
    """send_sms.delay sends once, drawing its slot from the budget kept in Redis."""
    result = celery_app.send_sms.delay("0712345678", "Hi").get()
    assert result["message_id"] in texin_emulator.messages
    assert texin_emulator.processed(texin_api_key) == {NUMBER: 1}
    with redis.Redis.from_url(redis_url) as plain:
        assert plain.keys("texin:rl:*")


def test_celery_task_never_resends_a_maybe_sent_sms(
    celery_app: ModuleType, texin_emulator: TexinEmulator, texin_api_key: str
) -> None:
    """A lost answer fails the task at once: no retry, the SMS processed once."""
    texin_emulator.faults.schedule(Fault.DROP_AFTER, endpoint="send_sms")
    with pytest.raises(OutcomeUnknownError):
        celery_app.send_sms.delay("0712345678", "Hi")
    assert texin_emulator.processed(texin_api_key) == {NUMBER: 1}
    assert sum(texin_emulator.requests().values()) == 1
