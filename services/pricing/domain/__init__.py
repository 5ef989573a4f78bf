"""The pricing domain: pure rules, no database, no HTTP."""
