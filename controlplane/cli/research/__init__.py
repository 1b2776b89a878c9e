"""Offline research tools run in this process without a control plane: benchmarks, load
forecasting, model training and the autoscaling simulator."""
