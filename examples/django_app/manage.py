#!/usr/bin/env python
"""Django's command line for the example project: ``python manage.py runserver``.

pip install -e ".[django]"
TEXIN_API_KEY=... python examples/django_app/manage.py runserver
python examples/django_app/manage.py send_sms_csv contacts.csv --template "Hi {name}"
"""

from __future__ import annotations

import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "texin_demo.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
