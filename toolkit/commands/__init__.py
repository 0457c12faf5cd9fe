"""Command groups of the ``dsa`` CLI, one module per group; ``toolkit.cli`` assembles them."""
