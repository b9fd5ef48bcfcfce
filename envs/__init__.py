"""Gymnasium environments for edge/device LLM routing, and the traces they replay."""
