"""tousu: mine Chinese customer complaints (command-line entry point)."""
