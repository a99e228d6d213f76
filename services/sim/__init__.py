"""The region simulator: a client that feeds the four services a realistic Gooi en Vechtstreek over HTTP."""
