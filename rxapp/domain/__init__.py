"""Domain core: rules as plain Python, no Reflex and no I/O."""
