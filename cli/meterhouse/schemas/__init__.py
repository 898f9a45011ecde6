"""Pandera models and contract definitions for what comes in and what goes out."""
