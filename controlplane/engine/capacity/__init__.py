"""Capacity: the cluster view, resource pools with their repair, namespace quotas and reservations,
and the loops that hold them on the cluster."""
