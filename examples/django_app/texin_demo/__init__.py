"""A Django project that sends SMS with texin_async's SyncTexinClient.

- ``sms.py``: the process's one client, made on first use (so after gunicorn's or
  Celery's fork), closed when the process exits.
- ``views.py``: ``POST /otp/`` texts a one-time code, ``POST /otp/verify/`` checks it.
- ``management/commands/send_sms_csv.py``: a resumable batch from a CSV, with a progress bar.

No database: codes live in Django's cache.
"""
