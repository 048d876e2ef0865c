"""Settings (environment, `.env`) and the routing file: its schema, checks and loading."""
