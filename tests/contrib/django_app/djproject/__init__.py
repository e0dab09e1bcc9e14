"""A minimal Django project for the integration's tests: django.contrib.auth's views, one signal and one view of its own."""
