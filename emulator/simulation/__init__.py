"""A discrete-event simulation of the whole pipeline in simulated time."""
