"""The example Django project (see ../manage.py)."""
