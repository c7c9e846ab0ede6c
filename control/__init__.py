"""The control plane: commands through Redis, their validation, execution and results."""
