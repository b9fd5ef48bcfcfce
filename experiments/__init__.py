"""The CLI, configs, training, evaluation, benchmark and ablation."""
