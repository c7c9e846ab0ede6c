"""The trading engine: the loop, strategies, exit rules and ghost scoring."""
