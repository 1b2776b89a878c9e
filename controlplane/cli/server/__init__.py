"""Commands that run a control plane in this process: serve and demo."""
