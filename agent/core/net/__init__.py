"""The network side of the core (pure): interfaces, the network facts, and the netplan repair."""
