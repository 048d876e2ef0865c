"""The webhook edge: signing and POSTing case events to the receivers routing.yaml names."""
