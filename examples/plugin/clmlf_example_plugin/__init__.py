"""An example clmlf plugin package; :mod:`clmlf_example_plugin.plugin` is its entry point."""
