"""Scaling policies and the autoscaling simulator (pure: no clock, I/O, Ray or gRPC).

- `policies`: per-agent scaling policies (target tracking, step, scheduled, predictive) and
  limits; `cron`: the cron matcher of scheduled capacity;
- `engine`: `decide(observed, policy, state, now) -> (ScalingDecision, EngineState)`;
- `capacity`: replicas for a rate at a target utilisation, Erlang C for a wait SLO;
- `simulator`: discrete-event replay of a load trace through an autoscaled replica pool, with
  `simulation_inputs` (settings, the controller's interface), `arrivals` (the seeded requests),
  `replica_pools` (the ready replicas) and `simulation_results` (what a run achieved);
- `strategies`: the simulator's reactive / predictive / static-peak / oracle controllers;
- `baseline_forecast`: a seasonal-naive stand-in for when `scheduler.forecasting` is absent.
"""

from models.scaling import (
    PredictiveScaling,
    ScaleLimit,
    ScalingPolicy,
    ScalingStep,
    ScheduledCapacity,
    StepScaling,
    TargetTracking,
)
from scheduler.scaling.engine import EngineState, ScalingObservation, decide

__all__ = [
    "EngineState",
    "PredictiveScaling",
    "ScaleLimit",
    "ScalingObservation",
    "ScalingPolicy",
    "ScalingStep",
    "ScheduledCapacity",
    "StepScaling",
    "TargetTracking",
    "decide",
]
