#!/usr/bin/env python
"""A minimal Django project whose auth signals and password-reset views become catalog events.

    pip install 'authlog-shipper[django]'
    cd examples/apps/django_app
    python manage.py migrate && python manage.py createsuperuser
    python manage.py check          # lists any problem of AUTHLOG / AUTHLOG_INTEGRATION by key
    python manage.py runserver      # then log in at /accounts/login/

The setup is in mysite/settings.py: "shippers.contrib.django" in INSTALLED_APPS, AUTHLOG (the TOML
named by AUTHLOG_CONFIG, else ../authlog.toml) and AuthlogMiddleware for the password-reset views.
"""

import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
