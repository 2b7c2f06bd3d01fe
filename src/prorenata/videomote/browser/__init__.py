"""Views, templates and static resources."""
