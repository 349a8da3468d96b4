"""The one adapter around ansible-runner that baseline and migrate share."""
