"""The device side of a dialogue turn in ``EdgeRoute/MultiTurn-v0``, shared by its default
path and its stateful-world path (``envs.stateful_step``): the device's costs of a turn given
the history and what the device holds (with ``cost_models.device_memory``'s window rule past
its KV capacity), and the turn's quality on each side."""

from __future__ import annotations

from typing import Any


class DeviceTurnCosts:
    """Mixin of :class:`envs.multi_turn.MultiTurnEnv` (reads its ``data``, ``_roof``,
    ``_fresh``, ``_pred_out_list``, ``device_capacity_tokens`` and ``_authors``)."""

    data: Any
    _roof: Any
    _fresh: list
    _pred_out_list: Any
    _authors: Any
    device_capacity_tokens: int

    def device_costs(self, H: int, cd: int, r: int) -> tuple[float, float, float, float, int]:
        """Device costs of turn row ``r`` after ``H`` history tokens of which the device holds
        ``cd``: (prefill, decode, predicted decode, prefill as if the history were cached,
        recomputed tokens); past the KV capacity, :meth:`_device_window`'s window rule."""
        d = self.data
        L, out_d = d.prompt_tokens[r], d.output_tokens[0][r]
        cap, pred_d = self.device_capacity_tokens, self._pred_out_list[0][r]
        if H + L + out_d > cap:
            # Past the device's KV capacity: it keeps and recomputes a window of history
            # (cost_models.device_memory.device_turn).
            return self._device_window(H, L, out_d, cap, pred_d)
        if H == 0:  # first turn: nothing cached, costs precomputed per row
            pf_d, dec_d, dec_d_pred = self._fresh[r][:3]
            return pf_d, dec_d, dec_d_pred, pf_d, 0
        roof_d = self._roof[0]
        ctx = H + L
        pf_d = roof_d.prefill_s(H - cd + L, cd)
        base_pf_d = pf_d if cd == H else roof_d.prefill_s(L, H)
        return pf_d, roof_d.decode_s(ctx, out_d), roof_d.decode_s(ctx, pred_d), base_pf_d, H - cd

    def turn_quality(self, r: int) -> tuple[float, float]:
        """Quality of turn row ``r`` on (device, edge): the trace's, or on mt_eval the one
        given whose answers form the history (``envs.traces.mt_eval_quality``)."""
        q_small, q_large = self.data.quality[0][r], self.data.quality[1][r]
        authors = self._authors
        if authors.kappa:
            return authors.quality(0, q_small, q_large), authors.quality(1, q_small, q_large)
        return q_small, q_large

    def _device_window(
        self, H: int, L: int, out: int, cap: int, pred: float
    ) -> tuple[float, float, float, float, int]:
        """Device costs past the KV capacity: ``cost_models.device_memory.device_turn``'s
        window (the most recent ``cap - L - out`` history tokens, recomputed; a prompt that
        alone does not fit keeps its last ``cap - out`` tokens), on the scalar roofline.
        Returns (prefill, decode, predicted decode, prefill as if the window were cached,
        recomputed tokens)."""
        kept = cap - L - out if cap > L + out else 0
        new = L if cap - out >= L else (cap - out if cap > out else 0)
        roof = self._roof[0]
        ctx = kept + new
        return (
            roof.prefill_s(ctx, 0), roof.decode_s(ctx, out), roof.decode_s(ctx, pred),
            roof.prefill_s(new, kept), kept,
        )  # fmt: skip
