"""netha's shipped templates, ``<platform>/<operation>.j2``.

This folder is installed as the package ``netha._templates`` (see ``[tool.setuptools.package-dir]`` in
pyproject.toml), so that wheel, sdist and editable installs all find it through
``importlib.resources.files("netha._templates")``. It holds no code.
"""
