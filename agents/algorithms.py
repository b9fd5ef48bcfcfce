"""Which stable-baselines3 algorithm class trains and loads a given PPO policy name.

``ppo.policy`` in a PPO YAML picks the algorithm: ``MlpPolicy`` is SB3's ``PPO``;
``MlpLstmPolicy`` is sb3-contrib's ``RecurrentPPO`` (an LSTM in front of the actor and the
critic), for the partially observed multi-turn environments, where the observation shows the
pending turn and the cache state but not what the dialogue will still ask. Both take the same
constructor arguments (``RecurrentPPO`` adds the LSTM's ``policy_kwargs``), so one YAML schema,
one validator (``experiments.ppo_checks``) and one training loop (``experiments.train``) serve
both; ``run.yaml`` records the policy name, so :class:`agents.ppo.PPOPolicy` loads the right
class and, for the recurrent one, carries the LSTM state through an episode.
"""

from __future__ import annotations

from typing import Any

from cost_models.errors import require

#: Allowed ``ppo.policy`` names -> (module, class) of the algorithm.
POLICY_ALGORITHMS: dict[str, tuple[str, str]] = {
    "MlpPolicy": ("stable_baselines3", "PPO"),
    "MlpLstmPolicy": ("sb3_contrib", "RecurrentPPO"),
}
#: ``policy_kwargs`` keys only the recurrent policy takes (sb3-contrib
#: ``RecurrentActorCriticPolicy``).
LSTM_POLICY_KWARGS: tuple[str, ...] = (
    "lstm_hidden_size",
    "n_lstm_layers",
    "shared_lstm",
    "enable_critic_lstm",
)


def is_recurrent(policy: str) -> bool:
    """True for the policy names whose model carries a hidden state."""
    return policy == "MlpLstmPolicy"


def algorithm_class(policy: str) -> Any:
    """The SB3 / sb3-contrib class that trains ``policy`` (imported lazily: torch is slow)."""
    require(
        policy in POLICY_ALGORITHMS,
        f"ppo.policy={policy!r} is not allowed; allowed: {sorted(POLICY_ALGORITHMS)}",
    )
    module, name = POLICY_ALGORITHMS[policy]
    return getattr(__import__(module, fromlist=[name]), name)
