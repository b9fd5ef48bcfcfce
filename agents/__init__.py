"""Routing policies behind one interface: analytic, static baselines, oracle, PPO."""
