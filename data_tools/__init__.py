"""Data tools: the synthetic generator, the wide-to-task converter and file writers."""
